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
	"os"
	"path/filepath"
	"strings"
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
