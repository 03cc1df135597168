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
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/queueworker/queueworker-operator/test/redistest"
)

func TestProbeOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte("ok"))
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()

	// The container asked for 8080 (named "http") and 9090; the runner
	// moved 8080 to the test server and 9090 to a port nobody listens on.
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	addrs := Addresses{8080: srv.Listener.Addr().String(), 9090: closedAddr}
	_, srvPort, _ := net.SplitHostPort(srv.Listener.Addr().String())
	direct, _ := strconv.Atoi(srvPort)

	httpGet := func(path string, port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}}
	}
	tcp := func(port intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
	}
	tests := []struct {
		name          string
		probe         *corev1.Probe
		wantOK        bool
		wantSupported bool
	}{
		{"http by port name", httpGet("/healthz", intstr.FromString("http")), true, true},
		{"http by number", httpGet("/healthz", intstr.FromInt32(8080)), true, true},
		{"http redirect counts as success", httpGet("/moved", intstr.FromInt32(8080)), true, true},
		{"http 503", httpGet("/readyz", intstr.FromInt32(8080)), false, true},
		{"http nobody listens", httpGet("/healthz", intstr.FromInt32(9090)), false, true},
		{"http unknown port name", httpGet("/healthz", intstr.FromString("nope")), false, true},
		{"port not rewritten is probed as is", httpGet("/healthz", intstr.FromInt(direct)), true, true},
		{"tcp open", tcp(intstr.FromString("http")), true, true},
		{"tcp closed", tcp(intstr.FromInt32(9090)), false, true},
		{"exec without an exec context passes",
			&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, supported, err := probeOnce(context.Background(), tt.probe, c, addrs, nil)
			if ok != tt.wantOK || supported != tt.wantSupported {
				t.Errorf("probeOnce = ok %v, supported %v (err %v); want ok %v, supported %v", ok, supported, err, tt.wantOK, tt.wantSupported)
			}
			if !ok && err == nil {
				t.Error("a failed probe gave no reason")
			}
		})
	}
}

func TestProbeStateRecord(t *testing.T) {
	tests := []struct {
		name    string
		probe   corev1.Probe
		results []bool
		want    []int
	}{
		{"defaults: one success passes, three failures fail", corev1.Probe{},
			[]bool{true, false, false, false, false, true},
			[]int{passed, undecided, undecided, failed, failed, passed}},
		{"successThreshold 2", corev1.Probe{SuccessThreshold: 2, FailureThreshold: 1},
			[]bool{true, false, true, true, true},
			[]int{undecided, failed, undecided, passed, passed}},
		{"a success resets the failures", corev1.Probe{FailureThreshold: 2},
			[]bool{false, true, false, false},
			[]int{undecided, passed, undecided, failed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newProbeState(tt.probe, time.Now())
			for i, ok := range tt.results {
				if got := s.record(ok); got != tt.want[i] {
					t.Errorf("result %d (%v): verdict %d, want %d", i, ok, got, tt.want[i])
				}
			}
		})
	}
}

func TestProbeStateDue(t *testing.T) {
	start := time.Unix(1000, 0)
	s := newProbeState(corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2}, start)
	for _, tt := range []struct {
		after time.Duration
		want  bool
	}{
		{4 * time.Second, false}, // within the initial delay
		{5 * time.Second, true},  // runs, next in 2s
		{6 * time.Second, false},
		{7 * time.Second, true},
	} {
		if got := s.due(start.Add(tt.after)); got != tt.want {
			t.Errorf("due after %s = %v, want %v", tt.after, got, tt.want)
		}
	}
	var none *probeState
	if none.due(start) {
		t.Error("an absent probe is due")
	}
}

func TestRewritePorts(t *testing.T) {
	addrs := Addresses{6379: "127.0.0.1:40001", 8080: "127.0.0.1:40002"}
	tests := []struct{ name, in, want string }{
		{"-p", "redis-cli -h 127.0.0.1 -p 6379 ping", "redis-cli -h 127.0.0.1 -p 40001 ping"},
		{"--port=", "client --port=6379", "client --port=40001"},
		{"--port and spaces", "client --port  8080", "client --port  40002"},
		{"host:port", "curl http://127.0.0.1:8080/healthz", "curl http://127.0.0.1:40002/healthz"},
		{"localhost:port", "nc localhost:6379", "nc 127.0.0.1:40001"},
		{"port not moved", "redis-cli -p 6380", "redis-cli -p 6380"},
		{"other host", "redis-cli -h 10.0.0.1:6379", "redis-cli -h 10.0.0.1:6379"},
		{"longer number", "redis-cli -p 63790", "redis-cli -p 63790"},
		{"part of a word", "x-p 6379", "x-p 6379"},
		{"-p first", "-p 6379", "-p 40001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RewritePorts(tt.in, addrs); got != tt.want {
				t.Errorf("RewritePorts(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestExecProbe runs the managed Redis's probe command
// (internal/resources.redisPingProbe) as a local process against a real
// redis-server on a moved port, with its password from the environment.
func TestExecProbe(t *testing.T) {
	srv, err := redistest.Start("requirepass s3cret")
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	defer func() { _ = srv.Close() }()
	dir := t.TempDir()
	script := `REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p 6379 ping | grep -qE '^PONG$'`
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", script}}}}
	addrs := Addresses{6379: srv.Addr}
	env := []string{"PATH=" + os.Getenv("PATH"), "REDIS_PASSWORD=s3cret"}
	c := &corev1.Container{Name: "redis"}

	ok, supported, err := probeOnce(context.Background(), probe, c, addrs, &execContext{env: env, dir: dir, addrs: addrs})
	if !ok || !supported {
		t.Errorf("probe of a running server: ok %v, supported %v, err %v; want it to pass", ok, supported, err)
	}
	wrong := []string{"PATH=" + os.Getenv("PATH"), "REDIS_PASSWORD=wrong"}
	ok, _, err = probeOnce(context.Background(), probe, c, addrs, &execContext{env: wrong, dir: dir, addrs: addrs})
	if ok || err == nil {
		t.Errorf("probe with a wrong password: ok %v, err %v; want it to fail with a reason", ok, err)
	}
	_ = srv.Stop()
	ok, _, err = probeOnce(context.Background(), probe, c, addrs, &execContext{env: env, dir: dir, addrs: addrs})
	if ok || err == nil {
		t.Errorf("probe of a stopped server: ok %v, err %v; want it to fail", ok, err)
	}

	slow := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "30"}}}}
	start := time.Now()
	ok, _, err = probeOnce(context.Background(), slow, c, addrs, &execContext{env: env, dir: dir})
	if ok || err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("probe that outlives its timeout: ok %v, err %v; want a time-out", ok, err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("a timed-out probe was not killed: it took %s", time.Since(start))
	}
}

// TestExecProbeLeftoverChild runs exec probes whose shell leaves a child
// behind that holds the output pipe: the probe still ends by its timeout,
// decided by the shell's exit code, and the child does not outlive it.
func TestExecProbeLeftoverChild(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH")}
	c := &corev1.Container{Name: "redis"}
	for _, tc := range []struct {
		name   string
		script string
		wantOK bool
	}{
		{"the shell exits 0", "sleep 30 & echo $! > child.pid; exit 0", true},
		{"the shell exits 1", "sleep 30 & echo $! > child.pid; exit 1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", tc.script}}}}
			start := time.Now()
			ok, _, err := probeOnce(context.Background(), probe, c, nil, &execContext{env: env, dir: dir})
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the probe took %s: it waited for the child, not for the shell", took)
			}
			if ok != tc.wantOK {
				t.Errorf("ok %v, err %v; want %v", ok, err, tc.wantOK)
			}
			b, rerr := os.ReadFile(filepath.Join(dir, "child.pid"))
			if rerr != nil {
				t.Fatalf("reading the child's pid: %v", rerr)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			deadline := time.Now().Add(10 * time.Second)
			for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if syscall.Kill(pid, 0) == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the probe's child %d still runs after the probe", pid)
			}
		})
	}
}

// TestExecArgvEntrypoints: an exec probe may run any program of the
// container's image, as it could in the image itself: the operator image
// holds /manager and /dashboard, whichever the container runs.
func TestExecArgvEntrypoints(t *testing.T) {
	ex := &execContext{program: DefaultImages("/b/manager", "/b/worker", "/b/dashboard")[ManagerRepository]}
	tests := []struct{ command, want []string }{
		{[]string{"/manager", "--help"}, []string{"/b/manager", "--help"}},
		{[]string{"/dashboard", "--help"}, []string{"/b/dashboard", "--help"}},
		{[]string{"./dashboard"}, []string{"/b/dashboard"}},
		{[]string{"/bin/sh", "-c", "/dashboard"}, []string{"/bin/sh", "-c", "/dashboard"}},
	}
	for _, tt := range tests {
		if got := ex.execArgv(tt.command); !slices.Equal(got, tt.want) {
			t.Errorf("execArgv(%q) = %q, want %q", tt.command, got, tt.want)
		}
	}
}
