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

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGoMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2 := write("v2", "268435456\n")
	unlimited := write("unlimited", "max\n")
	v1Unlimited := write("v1", "9223372036854771712\n")
	garbage := write("garbage", "lots\n")
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name  string
		files []string
		want  int64
	}{
		{name: "cgroup v2 limit", files: []string{v2}, want: 241591910},
		{name: "the first file that exists", files: []string{missing, v2}, want: 241591910},
		{name: "cgroup v2 without a limit", files: []string{unlimited, v2}, want: 0},
		{name: "cgroup v1 without a limit", files: []string{v1Unlimited}, want: 0},
		{name: "not a number", files: []string{garbage}, want: 0},
		{name: "no cgroup", files: []string{missing}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := goMemoryLimit(tt.files, 0.9); got != tt.want {
				t.Errorf("goMemoryLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCheckLeaderElection: the timings client-go accepts, and no other.
func TestCheckLeaderElection(t *testing.T) {
	tests := []struct {
		lease, renew, retry time.Duration
		ok                  bool
	}{
		{15 * time.Second, 10 * time.Second, 2 * time.Second, true},
		{4 * time.Second, 2500 * time.Millisecond, 2 * time.Second, true},
		{4 * time.Second, 2 * time.Second, 1800 * time.Millisecond, false}, // 2s ≤ 1.2 × 1.8s
		{4 * time.Second, 2400 * time.Millisecond, 2 * time.Second, false}, // exactly 1.2 ×
		{10 * time.Second, 10 * time.Second, 2 * time.Second, false},
		{15 * time.Second, 10 * time.Second, 0, false},
	}
	for _, tt := range tests {
		if err := checkLeaderElection(tt.lease, tt.renew, tt.retry); (err == nil) != tt.ok {
			t.Errorf("checkLeaderElection(%v, %v, %v) = %v, want ok %v", tt.lease, tt.renew, tt.retry, err, tt.ok)
		}
	}
}
