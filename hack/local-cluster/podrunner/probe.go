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
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeTarget resolves a probe's port to the loopback address the process
// serves it on: a rewritten address when the runner gave one out, else the
// port itself on 127.0.0.1.
func probeTarget(c *corev1.Container, addrs Addresses, port intstr.IntOrString) (string, error) {
	var n int32
	if port.Type == intstr.String {
		for _, p := range c.Ports {
			if p.Name == port.StrVal {
				n = p.ContainerPort
			}
		}
		if n == 0 {
			return "", fmt.Errorf("container has no port named %q", port.StrVal)
		}
	} else {
		n = port.IntVal
	}
	if addr, ok := addrs[n]; ok {
		return addr, nil
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(n))), nil
}

// execContext is how an exec probe runs: as a local process with the
// container's environment, in its pod's directory, with the paths and
// ports of its command rewritten as the container's own.
type execContext struct {
	env     []string
	dir     string
	mounts  Mounts
	addrs   Addresses
	program Program // the image's, with its other programs
}

// execArgv maps an exec probe's command to a local one: an entrypoint of
// the image (its program's or one of its other programs') runs that
// program's binary, any other command is looked up on this machine's PATH
// (the Redis image's sh, grep and redis-cli are the host's); mount paths
// and moved ports are rewritten in every element.
func (ex *execContext) execArgv(command []string) []string {
	argv := make([]string, len(command))
	for i, a := range command {
		argv[i] = RewritePorts(ex.mounts.Rewrite(a), ex.addrs)
	}
	if len(argv) == 0 {
		return argv
	}
	for _, p := range append([]Program{ex.program}, ex.program.Others...) {
		if p.Entrypoint != "" && (argv[0] == p.Entrypoint || argv[0] == "."+p.Entrypoint) {
			argv[0] = p.Binary
			break
		}
	}
	return argv
}

// portFlagRE finds a port given to a client after -p or --port, and
// hostPortRE one after a loopback host: the forms exec probes use to reach
// their own container.
var (
	portFlagRE = regexp.MustCompile(`(^|\s)(-p|--port)(\s+|=)([0-9]+)\b`)
	hostPortRE = regexp.MustCompile(`\b(127\.0\.0\.1|localhost):([0-9]+)\b`)
)

// RewritePorts replaces a container port in s that the runner moved by the
// port its process listens on: "-p 6379", "--port=6379" and
// "127.0.0.1:6379" (or localhost) become the moved port, or the moved
// address for the last form. Other numbers stay.
func RewritePorts(s string, addrs Addresses) string {
	if len(addrs) == 0 {
		return s
	}
	moved := func(port string) (string, bool) {
		n, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return "", false
		}
		addr, ok := addrs[int32(n)]
		return addr, ok
	}
	s = portFlagRE.ReplaceAllStringFunc(s, func(m string) string {
		g := portFlagRE.FindStringSubmatch(m)
		addr, ok := moved(g[4])
		if !ok {
			return m
		}
		_, port, _ := net.SplitHostPort(addr)
		return g[1] + g[2] + g[3] + port
	})
	return hostPortRE.ReplaceAllStringFunc(s, func(m string) string {
		g := hostPortRE.FindStringSubmatch(m)
		if addr, ok := moved(g[2]); ok {
			return addr
		}
		return m
	})
}

// probeOnce runs one check of an httpGet, tcpSocket or exec probe. gRPC
// probes cannot run and always pass; supported is false for them, and for
// exec probes without an execContext.
func probeOnce(ctx context.Context, p *corev1.Probe, c *corev1.Container, addrs Addresses, ex *execContext) (ok, supported bool, err error) {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil && ex != nil:
		argv := ex.execArgv(p.Exec.Command)
		if len(argv) == 0 {
			return false, true, fmt.Errorf("exec probe has no command")
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env, cmd.Dir = ex.env, ex.dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		// A child the command leaves behind ("cmd &") holds the output
		// pipe: the exit code decides, not the child, which goes with the
		// command's process group.
		cmd.WaitDelay = 100 * time.Millisecond
		out, err := cmd.CombinedOutput()
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return false, true, fmt.Errorf("exec probe timed out after %s", timeout)
			}
			return false, true, fmt.Errorf("exec probe failed: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return true, true, nil
	case p.HTTPGet != nil:
		addr, err := probeTarget(c, addrs, p.HTTPGet.Port)
		if err != nil {
			return false, true, err
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: addr, Path: p.HTTPGet.Path}
		if u.Path == "" {
			u.Path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return false, true, err
		}
		for _, h := range p.HTTPGet.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		// The kubelet does not verify a probe's certificate either.
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet does
			DisableKeepAlives: true,
		}}
		resp, err := client.Do(req)
		if err != nil {
			return false, true, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return false, true, fmt.Errorf("HTTP probe failed with status %d", resp.StatusCode)
		}
		return true, true, nil
	case p.TCPSocket != nil:
		addr, err := probeTarget(c, addrs, p.TCPSocket.Port)
		if err != nil {
			return false, true, err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, true, err
		}
		_ = conn.Close()
		return true, true, nil
	}
	return true, false, nil
}

// probeResult is what the prober of one process reports.
type probeResult int

const (
	probeReady    probeResult = iota // readiness passed (or there is no readiness probe)
	probeNotReady                    // readiness failed failureThreshold times in a row
	probeKill                        // liveness or startup failed failureThreshold times in a row
)

// probeDefaults fills in the API's defaults, for probes of objects that
// never went through the API server's defaulting.
func probeDefaults(p corev1.Probe) corev1.Probe {
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = 3
	}
	return p
}

// runProbes probes a running process as the kubelet does until ctx ends:
// the startup probe first, then readiness and liveness, each on its own
// period. report is called on every change of readiness and on a failed
// liveness or startup probe (after which probing stops).
func runProbes(ctx context.Context, c *corev1.Container, addrs Addresses, ex *execContext, report func(probeResult, string)) {
	check := func(p *corev1.Probe) (bool, string) {
		ok, _, err := probeOnce(ctx, p, c, addrs, ex)
		if err != nil {
			return ok, err.Error()
		}
		return ok, ""
	}
	if c.StartupProbe != nil && !startupPassed(ctx, probeDefaults(*c.StartupProbe), check, report) {
		return
	}
	if c.ReadinessProbe == nil {
		report(probeReady, "")
	}
	if c.ReadinessProbe == nil && c.LivenessProbe == nil {
		return
	}

	now := time.Now()
	var readiness, liveness *probeState
	if c.ReadinessProbe != nil {
		readiness = newProbeState(*c.ReadinessProbe, now)
	}
	if c.LivenessProbe != nil {
		liveness = newProbeState(*c.LivenessProbe, now)
	}
	ready := false
	for {
		next := time.Time{}
		for _, s := range []*probeState{readiness, liveness} {
			if s != nil && (next.IsZero() || s.next.Before(next)) {
				next = s.next
			}
		}
		if !sleep(ctx, time.Until(next)) {
			return
		}
		now := time.Now()
		if s := readiness; s.due(now) {
			ok, msg := check(&s.probe)
			switch s.record(ok) {
			case passed:
				if !ready {
					ready = true
					report(probeReady, "")
				}
			case failed:
				if ready {
					ready = false
					report(probeNotReady, "readiness probe failed: "+msg)
				}
			}
		}
		if s := liveness; s.due(now) {
			if ok, msg := check(&s.probe); s.record(ok) == failed {
				report(probeKill, "liveness probe failed: "+msg)
				return
			}
		}
	}
}

// startupPassed runs a startup probe until it succeeds (true) or fails
// failureThreshold times in a row, which it reports (false).
func startupPassed(ctx context.Context, p corev1.Probe, check func(*corev1.Probe) (bool, string), report func(probeResult, string)) bool {
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return false
	}
	for failures := int32(0); ; {
		ok, msg := check(&p)
		if ok {
			return true
		}
		if failures++; failures >= p.FailureThreshold {
			report(probeKill, "startup probe failed: "+msg)
			return false
		}
		if !sleep(ctx, time.Duration(p.PeriodSeconds)*time.Second) {
			return false
		}
	}
}

// sleep waits d, or less when ctx ends first (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// probeState counts the results of one periodic probe.
type probeState struct {
	probe     corev1.Probe
	next      time.Time
	successes int32
	failures  int32
}

// The verdicts of probeState.record.
const (
	undecided = iota
	passed    // successThreshold successes in a row
	failed    // failureThreshold failures in a row
)

func newProbeState(p corev1.Probe, now time.Time) *probeState {
	p = probeDefaults(p)
	return &probeState{probe: p, next: now.Add(time.Duration(p.InitialDelaySeconds) * time.Second)}
}

// due reports whether the probe is to run at now, and schedules the next run.
func (s *probeState) due(now time.Time) bool {
	if s == nil || now.Before(s.next) {
		return false
	}
	s.next = now.Add(time.Duration(s.probe.PeriodSeconds) * time.Second)
	return true
}

// record counts one result and says whether a threshold is reached.
func (s *probeState) record(ok bool) int {
	if ok {
		s.successes, s.failures = s.successes+1, 0
		if s.successes >= s.probe.SuccessThreshold {
			return passed
		}
		return undecided
	}
	s.successes, s.failures = 0, s.failures+1
	if s.failures >= s.probe.FailureThreshold {
		return failed
	}
	return undecided
}
