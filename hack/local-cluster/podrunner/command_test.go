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
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		name, in, want string
	}{
		{"no reference", "plain", "plain"},
		{"defined", "$(A)", "alpha"},
		{"embedded twice", "x-$(A)-$(B)-y", "x-alpha-beta-y"},
		{"defined as empty", "[$(EMPTY)]", "[]"},
		{"undefined kept", "$(NOPE)", "$(NOPE)"},
		{"escaped", "$$(A)", "$(A)"},
		{"escaped dollar alone", "a$$b", "a$b"},
		{"lone dollar kept", "cost $5", "cost $5"},
		{"trailing dollar kept", "end$", "end$"},
		{"unterminated kept, rest read on", "$(A $(B)", "$(A $(B)"},
		{"name runs to the first closing paren", "$($(A)", "$($(A)"},
		{"empty name kept", "$()", "$()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, lookup); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	p := Program{Binary: "/local/bin/manager", Entrypoint: "/manager"}
	env := []EnvVar{{Name: "LEVEL", Value: "debug"}, {Name: "NS", Value: "apps"}}
	tests := []struct {
		name    string
		command []string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "image entrypoint, no args", want: []string{"/local/bin/manager"}},
		{name: "args only", args: []string{"--leader-elect", "--zap-log-level=$(LEVEL)"},
			want: []string{"/local/bin/manager", "--leader-elect", "--zap-log-level=debug"}},
		{name: "entrypoint as command", command: []string{"/manager"}, args: []string{"--watch-namespaces", "$(NS)"},
			want: []string{"/local/bin/manager", "--watch-namespaces", "apps"}},
		{name: "command carries flags before args", command: []string{"/manager", "--leader-elect"}, args: []string{"-v"},
			want: []string{"/local/bin/manager", "--leader-elect", "-v"}},
		{name: "relative to the image's workdir", command: []string{"./manager"}, want: []string{"/local/bin/manager"}},
		{name: "undefined reference kept", args: []string{"$(UNSET)"}, want: []string{"/local/bin/manager", "$(UNSET)"}},
		{name: "another program", command: []string{"/bin/sh", "-c", "manager"}, wantErr: "not the image's entrypoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Command(p, &corev1.Container{Command: tt.command, Args: tt.args}, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("argv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRepository(t *testing.T) {
	tests := []struct{ image, want string }{
		{"queueworker-worker:dev", "queueworker-worker"},
		{"queueworker-operator", "queueworker-operator"},
		{"ghcr.io/org/queueworker-operator:v1.2.3", "queueworker-operator"},
		{"localhost:5000/queueworker-worker:dev", "queueworker-worker"},
		{"registry.example/queueworker-worker@sha256:0123abcd", "queueworker-worker"},
		{"registry.example/queueworker-worker:dev@sha256:0123abcd", "queueworker-worker"},
		{"redis:7.2", "redis"},
	}
	for _, tt := range tests {
		if got := Repository(tt.image); got != tt.want {
			t.Errorf("Repository(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

func TestImagesLookup(t *testing.T) {
	im := DefaultImages("/b/manager", "/b/worker", "/b/dashboard")
	tests := []struct {
		image   string
		wantBin string
	}{
		{"queueworker-operator:dev", "/b/manager"},
		{"ghcr.io/x/queueworker-worker:1.0", "/b/worker"},
		{"queueworker-operator-bundle:dev", ""},
		{"my-queueworker-worker:dev", ""},
		{"busybox", ""},
	}
	for _, tt := range tests {
		p, ok := im.Lookup(tt.image)
		if ok != (tt.wantBin != "") || p.Binary != tt.wantBin {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.image, p.Binary, ok, tt.wantBin)
		}
	}
}

// TestProgramFor: a container of the operator image runs the dashboard
// binary when its command is /dashboard, the manager otherwise; without a
// dashboard build, /dashboard is refused like any command the image lacks.
func TestProgramFor(t *testing.T) {
	tests := []struct {
		name, dashboardBin string
		command            []string
		wantBin, wantErr   string
	}{
		{name: "no command", dashboardBin: "/b/dashboard", wantBin: "/b/manager"},
		{name: "manager", dashboardBin: "/b/dashboard", command: []string{"/manager"}, wantBin: "/b/manager"},
		{name: "dashboard", dashboardBin: "/b/dashboard", command: []string{"/dashboard"}, wantBin: "/b/dashboard"},
		{name: "relative dashboard", dashboardBin: "/b/dashboard", command: []string{"./dashboard"}, wantBin: "/b/dashboard"},
		{name: "no dashboard build", command: []string{"/dashboard"}, wantErr: `command "/dashboard" is not the image's entrypoint "/manager"`},
		{name: "other command", dashboardBin: "/b/dashboard", command: []string{"/bin/sh"},
			wantErr: `command "/bin/sh" is none of the image's entrypoints "/manager", "/dashboard"`},
		// The kubelet expands $(VAR) in the command before it runs it.
		{name: "dashboard from a variable", dashboardBin: "/b/dashboard", command: []string{"$(PROGRAM)"}, wantBin: "/b/dashboard"},
		{name: "escaped reference", dashboardBin: "/b/dashboard", command: []string{"$$(PROGRAM)"},
			wantErr: `command "$(PROGRAM)" is none of the image's entrypoints`},
	}
	env := []EnvVar{{Name: "PROGRAM", Value: "/dashboard"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := DefaultImages("/b/manager", "/b/worker", tt.dashboardBin).Lookup("queueworker-operator:dev")
			c := &corev1.Container{Command: tt.command, Args: []string{"--read-only=true"}}
			argv, err := Command(p.For(c, env), c, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Command = %q, %v; want error %q", argv, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{tt.wantBin, "--read-only=true"}; !slices.Equal(argv, want) {
				t.Errorf("Command = %q, want %q", argv, want)
			}
		})
	}
}
