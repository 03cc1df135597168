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
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRewriteAddresses(t *testing.T) {
	manager := DefaultImages("m", "w", "")[ManagerRepository].Addresses
	worker := DefaultImages("m", "w", "")[WorkerRepository].Addresses
	tests := []struct {
		name      string
		settings  []AddressSetting
		args      []string
		env       []EnvVar
		wantArgs  []string
		wantEnv   []EnvVar
		wantAddrs Addresses
		wantErr   string
	}{
		{name: "manager flags in both forms",
			settings:  manager,
			args:      []string{"--metrics-bind-address=:8443", "--leader-elect", "--health-probe-bind-address", ":8081"},
			wantArgs:  []string{"--metrics-bind-address=127.0.0.1:18443", "--leader-elect", "--health-probe-bind-address", "127.0.0.1:18081"},
			wantAddrs: Addresses{8443: "127.0.0.1:18443", 8081: "127.0.0.1:18081"}},
		{name: "single dash and a host",
			settings:  manager,
			args:      []string{"-health-probe-bind-address=0.0.0.0:9090"},
			wantArgs:  []string{"-health-probe-bind-address=127.0.0.1:19090"},
			wantAddrs: Addresses{9090: "127.0.0.1:19090"}},
		{name: "absent flags: the probe default moves, metrics stay off",
			settings:  manager,
			args:      []string{"--leader-elect"},
			wantArgs:  []string{"--health-probe-bind-address=127.0.0.1:18081", "--leader-elect"},
			wantAddrs: Addresses{8081: "127.0.0.1:18081"}},
		{name: "disabled and kernel-chosen addresses are left alone",
			settings:  manager,
			args:      []string{"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"},
			wantArgs:  []string{"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"},
			wantAddrs: Addresses{}},
		{name: "nothing after --",
			settings:  manager,
			args:      []string{"--health-probe-bind-address=:8081", "--", "--metrics-bind-address=:8443"},
			wantArgs:  []string{"--health-probe-bind-address=127.0.0.1:18081", "--", "--metrics-bind-address=:8443"},
			wantAddrs: Addresses{8081: "127.0.0.1:18081"}},
		{name: "a flag that only shares a prefix",
			settings:  []AddressSetting{{Flag: "metrics-bind-address"}},
			args:      []string{"--metrics-bind-address-extra=:1"},
			wantArgs:  []string{"--metrics-bind-address-extra=:1"},
			wantAddrs: Addresses{}},
		{name: "worker env",
			settings:  worker,
			args:      []string{"--log-level", "debug"},
			env:       []EnvVar{{Name: "QUEUEWORKER_QUEUES", Value: "default=1"}, {Name: "QUEUEWORKER_HTTP_ADDR", Value: ":8080"}},
			wantArgs:  []string{"--log-level", "debug"},
			wantEnv:   []EnvVar{{Name: "QUEUEWORKER_QUEUES", Value: "default=1"}, {Name: "QUEUEWORKER_HTTP_ADDR", Value: "127.0.0.1:18080"}},
			wantAddrs: Addresses{8080: "127.0.0.1:18080"}},
		{name: "worker env absent: the worker reports it, not the runner",
			settings:  worker,
			env:       []EnvVar{{Name: "QUEUEWORKER_QUEUES", Value: "default=1"}},
			wantEnv:   []EnvVar{{Name: "QUEUEWORKER_QUEUES", Value: "default=1"}},
			wantAddrs: Addresses{}},
		{name: "env absent with a default",
			settings:  []AddressSetting{{Env: "HTTP_ADDR", Default: ":3000"}},
			wantEnv:   []EnvVar{{Name: "HTTP_ADDR", Value: "127.0.0.1:13000"}},
			wantAddrs: Addresses{3000: "127.0.0.1:13000"}},
		{name: "flag without value", settings: manager, args: []string{"--health-probe-bind-address"},
			wantErr: "flag health-probe-bind-address has no value"},
		{name: "not an address", settings: worker, env: []EnvVar{{Name: "QUEUEWORKER_HTTP_ADDR", Value: "8080"}},
			wantErr: "env QUEUEWORKER_HTTP_ADDR: listen address \"8080\""},
		{name: "port not a number", settings: manager, args: []string{"--health-probe-bind-address=:http"},
			wantErr: "port is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 10000 above the port asked for, so each test knows what to expect.
			alloc := func(port int32) (string, error) { return fmt.Sprintf("127.0.0.1:%d", port+10000), nil }
			args, env, addrs, err := RewriteAddresses(tt.settings, tt.args, tt.env, alloc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(args, tt.wantArgs) {
				t.Errorf("args = %q, want %q", args, tt.wantArgs)
			}
			if !slices.Equal(env, tt.wantEnv) {
				t.Errorf("env = %v, want %v", env, tt.wantEnv)
			}
			if !maps.Equal(addrs, tt.wantAddrs) {
				t.Errorf("addresses = %v, want %v", addrs, tt.wantAddrs)
			}
		})
	}
}

func TestRewriteAddressesLeavesInputAlone(t *testing.T) {
	args := []string{"--health-probe-bind-address=:8081"}
	env := []EnvVar{{Name: "QUEUEWORKER_HTTP_ADDR", Value: ":8080"}}
	settings := []AddressSetting{{Flag: "health-probe-bind-address"}, {Env: "QUEUEWORKER_HTTP_ADDR"}}
	if _, _, _, err := RewriteAddresses(settings, args, env, func(int32) (string, error) { return "127.0.0.1:1", nil }); err != nil {
		t.Fatal(err)
	}
	if args[0] != "--health-probe-bind-address=:8081" || env[0].Value != ":8080" {
		t.Errorf("inputs changed: %q %v", args, env)
	}
}

func TestLocalAddress(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		AnnotationAddresses: EncodeAddresses(map[string]Addresses{
			"manager": {8081: "127.0.0.1:40001", 8443: "127.0.0.1:40002"},
			"worker":  {8080: "127.0.0.1:40003"},
		}),
	}}}
	if want := `{"manager":{"8081":"127.0.0.1:40001","8443":"127.0.0.1:40002"},"worker":{"8080":"127.0.0.1:40003"}}`; pod.Annotations[AnnotationAddresses] != want {
		t.Errorf("annotation = %s, want %s", pod.Annotations[AnnotationAddresses], want)
	}
	tests := []struct {
		container string
		port      int32
		want      string
	}{
		{"manager", 8081, "127.0.0.1:40001"},
		{"manager", 8443, "127.0.0.1:40002"},
		{"worker", 8080, "127.0.0.1:40003"},
		{"worker", 8081, ""},
		{"other", 8080, ""},
	}
	for _, tt := range tests {
		got, ok := LocalAddress(pod, tt.container, tt.port)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("LocalAddress(%s, %d) = %q, %v; want %q", tt.container, tt.port, got, ok, tt.want)
		}
	}
	if _, ok := LocalAddress(&corev1.Pod{}, "worker", 8080); ok {
		t.Error("found an address on a pod without the annotation")
	}
}
