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
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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
		{"exec cannot run here and passes",
			&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, supported, err := probeOnce(context.Background(), tt.probe, c, addrs)
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
