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

package benchscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Operator is cmd/manager run as a local process with the admin
// kubeconfig, with the flags the chart gives it (leader election in the
// benchmark's namespace, passwordless external Redis allowed) and plain
// HTTP metrics on a loopback port, which the harness scrapes.
type Operator struct {
	// Bin is the manager binary.
	Bin string
	// Kubeconfig is the kubeconfig it runs with.
	Kubeconfig string
	// Namespace holds its leader election lease.
	Namespace string
	// LogPath collects its output over every start.
	LogPath string
	// LeaderElect passes --leader-elect, as the chart does.
	LeaderElect bool
	// ExtraArgs are more flags, after the harness's own.
	ExtraArgs []string
	// ExtraEnv are more NAME=value variables, after the harness's own.
	ExtraEnv []string
	// Pprof serves the Go profiler on a loopback port (Profile).
	Pprof bool

	metricsAddr string
	pprofAddr   string
	cmd         *exec.Cmd
	done        chan struct{}
	log         *os.File
}

// BuildManager builds ./cmd/manager of the repository root into dir.
func BuildManager(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/manager: %w", err)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// Start runs the manager and returns once the process exists; the harness
// times what follows from this instant.
func (o *Operator) Start() error {
	if o.cmd != nil {
		return errors.New("the operator is already running")
	}
	metrics, err := freeAddr()
	if err != nil {
		return err
	}
	probe, err := freeAddr()
	if err != nil {
		return err
	}
	o.metricsAddr = metrics
	if o.log == nil {
		if o.log, err = os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
	}
	args := []string{
		"--health-probe-bind-address=" + probe,
		"--metrics-bind-address=" + metrics,
		"--metrics-secure=false",
		"--allow-passwordless-external-redis",
		"--zap-log-level=info",
	}
	if o.LeaderElect {
		args = append(args, "--leader-elect", "--leader-election-namespace="+o.Namespace)
	}
	if o.Pprof {
		if o.pprofAddr, err = freeAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof-bind-address="+o.pprofAddr)
	}
	args = append(args, o.ExtraArgs...)
	_, _ = fmt.Fprintf(o.log, "\n=== %s starting %s %v\n", time.Now().UTC().Format(time.RFC3339), o.Bin, args)
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+o.Kubeconfig), o.ExtraEnv...)
	cmd.Stdout = o.log
	cmd.Stderr = o.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", o.Bin, err)
	}
	o.cmd = cmd
	done := make(chan struct{})
	o.done = done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return nil
}

// Pid is the running manager's process id.
func (o *Operator) Pid() int {
	if o.cmd == nil {
		return 0
	}
	return o.cmd.Process.Pid
}

// Exited tells whether the process has ended.
func (o *Operator) Exited() bool {
	if o.done == nil {
		return true
	}
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL, as a crash or an OOM kill would, and waits for the
// process to end.
func (o *Operator) Kill() error {
	if o.cmd == nil {
		return nil
	}
	err := o.cmd.Process.Signal(syscall.SIGKILL)
	<-o.done
	o.cmd = nil
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Stop ends the manager with SIGTERM, then SIGKILL after grace, and closes
// its log.
func (o *Operator) Stop(grace time.Duration) {
	if o.cmd != nil {
		_ = o.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-o.done:
		case <-time.After(grace):
			_ = o.cmd.Process.Signal(syscall.SIGKILL)
			<-o.done
		}
		o.cmd = nil
	}
	if o.log != nil {
		_ = o.log.Close()
		o.log = nil
	}
}

// Metrics returns the manager's metrics in the Prometheus text format.
func (o *Operator) Metrics(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.metricsAddr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Profile fetches a profile of the running manager from its pprof endpoint
// (Pprof) into path: "profile", the CPU over d, in the background, so that
// the harness goes on meanwhile; "heap" at once. A failure is logged, not
// returned: a profile is an aid, not a measurement.
func (o *Operator) Profile(ctx context.Context, kind string, d time.Duration, path string) {
	if o.pprofAddr == "" {
		return
	}
	url := fmt.Sprintf("http://%s/debug/pprof/%s", o.pprofAddr, kind)
	if kind == "profile" {
		url += fmt.Sprintf("?seconds=%d", max(int(d.Seconds()), 1))
	}
	fetch := func() {
		// The profiler may not listen yet right after the start.
		var err error
		for range 20 {
			if err = download(ctx, url, path); err == nil {
				logf("wrote %s", path)
				return
			}
			sleep(ctx, 100*time.Millisecond)
		}
		logf("profile %s: %v", path, err)
	}
	if kind == "profile" {
		go fetch()
		return
	}
	fetch()
}

// download writes the body of a GET of url to path.
func download(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
