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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b-c"
	for name, want := range map[string]string{
		"worker-7d9f-abcde":             "worker-7d9f-abcde",
		long:                            strings.Repeat("a", 62),
		strings.Repeat("x", 61) + ".-z": strings.Repeat("x", 61),
	} {
		if got := PodHostname(name); got != want {
			t.Errorf("PodHostname(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestProcessHostname: a process started for a pod reads the pod's name as
// its host name, as asynq's servers do through os.Hostname, and the
// machine's host name is left alone. Without CAP_SYS_ADMIN the process
// still runs, under the machine's name, and says so.
func TestProcessHostname(t *testing.T) {
	machine, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	done := make(chan struct{})
	p, err := newSpawner().start([]string{"/bin/sh", "-c", "echo host=$(cat /proc/sys/kernel/hostname)"},
		[]string{"PATH=" + os.Getenv("PATH")}, dir, logPath, "worker-abc-12345", "", func(*process) { close(done) })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit")
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	want := "host=" + machine
	if p.ownHostname {
		want = "host=worker-abc-12345"
	} else if os.Geteuid() == 0 {
		t.Errorf("running as root, yet the process got no UTS namespace of its own: %s", out)
	}
	if !strings.Contains(string(out), want+"\n") {
		t.Errorf("log %q, want a line %q", out, want)
	}
	if now, _ := os.Hostname(); now != machine {
		t.Errorf("the machine's host name changed from %q to %q", machine, now)
	}
}

// TestProcessHosts: with a hosts file, the process reads it as /etc/hosts
// (a bind mount in a mount namespace of its own), and the machine's
// /etc/hosts is left alone.
func TestProcessHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a mount namespace needs CAP_SYS_ADMIN")
	}
	machine, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.1.2.3 jobs-redis.apps.svc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log")
	done := make(chan struct{})
	_, err = newSpawner().start([]string{"/bin/sh", "-c", "echo hosts=$(cat /etc/hosts); echo host=$(cat /proc/sys/kernel/hostname)"},
		[]string{"PATH=" + os.Getenv("PATH")}, dir, logPath, "redis-0", hosts, func(*process) { close(done) })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit")
	}
	out, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hosts=127.1.2.3 jobs-redis.apps.svc\n", "host=redis-0\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("log %q, want a line %q", out, want)
		}
	}
	if now, _ := os.ReadFile("/etc/hosts"); string(now) != string(machine) {
		t.Errorf("the machine's /etc/hosts changed:\n%s", now)
	}
}

func TestCheckStateDir(t *testing.T) {
	for _, tt := range []struct {
		dir string
		ok  bool
	}{
		{"/home/dev/.cache/queueworker-operator/local-cluster", true},
		{"/tmp/e2e-hx_1.2+x@y", true},
		{"relative/dir", false},
		{"", false},
		{"/home/dev/My Cache/local-cluster", false},
		{"/tmp/a\tb", false},
		{"/tmp/it's", false},
		{"/tmp/$HOME", false},
		{"/tmp/a#b", false},
		{"/tmp/a;b", false},
	} {
		if err := CheckStateDir(tt.dir); (err == nil) != tt.ok {
			t.Errorf("CheckStateDir(%q) = %v, want ok %v", tt.dir, err, tt.ok)
		}
	}
}

// TestRedisImageStaysInForeground runs redis-server as the runner does for
// a container whose args ask it to detach: the runner's flags keep it the
// process the runner watches, so stopping that process stops the server.
func TestRedisImageStaysInForeground(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	prog := RedisImage(bin)
	argv := append([]string{prog.Binary, "--daemonize", "yes", "--dir", dir, "--pidfile", filepath.Join(dir, "redis.pid")},
		prog.ListenFlags("127.0.0.1", port)...)
	argv = append(argv, prog.Flags...)
	p, err := newSpawner().start(argv, []string{"PATH=" + os.Getenv("PATH")}, dir, filepath.Join(dir, "redis.log"), "", "", func(*process) {})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server does not listen at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.exited() {
		t.Errorf("the process the runner watches exited while its server runs: it detached")
	}
	p.stop(5 * time.Second)
	<-p.done
	if c, err := net.Dial("tcp", addr); err == nil {
		_ = c.Close()
		if b, err := os.ReadFile(filepath.Join(dir, "redis.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		t.Errorf("redis-server still listens at %s after its process was stopped", addr)
	}
}
