/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package podrunner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one run of a container's program. Its own process group holds
// it and whatever it starts, so signals reach them all.
type process struct {
	pid     int
	started time.Time
	done    chan struct{} // closed when the process has exited
	// ownHostname tells that the process runs in its own UTS namespace
	// under its pod's host name.
	ownHostname bool

	mu        sync.Mutex
	exitCode  int
	signaled  string // the signal that ended it, if one did
	finished  time.Time
	killTimer *time.Timer
	killAt    time.Time
	terminate bool // SIGTERM sent
}

// spawner starts processes from one goroutine locked to its OS thread: the
// kernel sends a child its parent-death signal when the thread that forked
// it exits, and a thread that never exits ties the children to the runner's
// life, not to a thread's.
type spawner struct {
	requests chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{requests: make(chan spawnRequest)}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the runner
		for r := range s.requests {
			r.errc <- r.cmd.Start()
		}
	}()
	return s
}

// setHostname is the shell that gives a process in its own UTS namespace
// its host name before it becomes the container's program: $0 is the
// name, "$@" the program and its arguments. exec keeps the pid, so the
// process group and the signals are the program's.
const setHostname = `printf '%s' "$0" > /proc/sys/kernel/hostname && exec "$@"`

// setHostnameAndHosts also binds $1 over /etc/hosts, in a mount namespace
// of the process's own whose mounts propagate nowhere.
const setHostnameAndHosts = `printf '%s' "$0" > /proc/sys/kernel/hostname && ` +
	`mount --make-rprivate / && mount --bind "$1" /etc/hosts && shift && exec "$@"`

// PodHostname is the host name a pod's containers see, the kubelet's rule
// for a pod without spec.hostname: its name, cut to 63 characters, without
// trailing '-' or '.'.
func PodHostname(podName string) string {
	if len(podName) > 63 {
		podName = podName[:63]
	}
	return strings.TrimRight(podName, "-.")
}

// start runs argv with exactly env, in dir, with stdout and stderr appended
// to logPath. onExit runs once the process has exited.
//
// A non-empty hostname runs the process in a UTS namespace of its own with
// that host name, as a container has its pod's: programs that name
// themselves by os.Hostname() (asynq's servers do) tell pods apart. That
// takes CAP_SYS_ADMIN; without it the process shares the machine's host
// name, and ownHostname on the result says which happened. With hostname
// and a hosts file, the process also sees that file as /etc/hosts, in a
// mount namespace of its own.
func (s *spawner) start(argv, env []string, dir, logPath, hostname, hosts string, onExit func(*process)) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	now := time.Now()
	_, _ = fmt.Fprintf(logf, "=== %s podrunner: starting %s\n", now.UTC().Format(time.RFC3339), strings.Join(argv, " "))
	command := func(uts bool) *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...)
		if uts && hosts != "" {
			cmd = exec.Command("/bin/sh", append([]string{"-c", setHostnameAndHosts, hostname, hosts}, argv...)...)
		} else if uts {
			cmd = exec.Command("/bin/sh", append([]string{"-c", setHostname, hostname}, argv...)...)
		}
		cmd.Env = env
		cmd.Dir = dir
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if uts {
			cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUTS
			if hosts != "" {
				cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNS
			}
		}
		return cmd
	}
	uts := hostname != ""
	cmd := command(uts)
	errc := make(chan error, 1)
	s.requests <- spawnRequest{cmd: cmd, errc: errc}
	err = <-errc
	if uts && errors.Is(err, syscall.EPERM) {
		// No CAP_SYS_ADMIN: the program runs, under the machine's name.
		_, _ = fmt.Fprintf(logf, "=== podrunner: no UTS namespace (%v); the host name is the machine's\n", err)
		uts = false
		cmd = command(false)
		s.requests <- spawnRequest{cmd: cmd, errc: errc}
		err = <-errc
	}
	if err != nil {
		_, _ = fmt.Fprintf(logf, "=== podrunner: %v\n", err)
		_ = logf.Close()
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, started: now, ownHostname: uts, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.finished = time.Now()
		p.exitCode = 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			p.exitCode = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.signaled = ws.Signal().String()
				p.exitCode = 128 + int(ws.Signal())
			}
		}
		if p.killTimer != nil {
			p.killTimer.Stop()
		}
		p.mu.Unlock()
		// Whatever the process left in its group goes with it.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		_, _ = fmt.Fprintf(logf, "=== %s podrunner: exited with code %d%s\n", p.finished.UTC().Format(time.RFC3339), p.exitCode, p.describeSignal())
		_ = logf.Close()
		close(p.done)
		onExit(p)
	}()
	return p, nil
}

func (p *process) describeSignal() string {
	if p.signaled == "" {
		return ""
	}
	return " (" + p.signaled + ")"
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exit returns the exit code and the time the process ended.
func (p *process) exit() (code int, finished time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode, p.finished
}

// stop sends SIGTERM (once) and SIGKILL when grace has passed; a later call
// with a shorter grace brings the SIGKILL forward, as a second deletion with
// a shorter grace period does on a node.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.terminate {
		p.terminate = true
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	}
	at := time.Now().Add(grace)
	if p.killTimer != nil && !at.Before(p.killAt) {
		return
	}
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	p.killAt = at
	p.killTimer = time.AfterFunc(grace, func() { _ = syscall.Kill(-p.pid, syscall.SIGKILL) })
}

// killGroup sends SIGKILL to the process group led by pid, or to pid alone
// when it leads none.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err == nil {
		return nil
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}
