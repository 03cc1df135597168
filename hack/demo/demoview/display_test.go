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

package demoview

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFormatLine(t *testing.T) {
	tr := NewTracker(1500, time.Minute, time.Second)
	first := at(0, 0, 0, Workers{Desired: 1, Ready: 1}, 0, 0)
	tr.Observe(first)
	s := Sample{
		At: t0.Add(12 * time.Second),
		Queues: []QueueSample{
			{Name: "critical", Pending: 100, Active: 8, Latency: 3 * time.Second, LatencyKnown: true},
			{Name: "low", Pending: 720, Active: 32, Latency: 5100 * time.Millisecond, LatencyKnown: true},
		},
		Workers:  Workers{Desired: 10, Replicas: 10, Ready: 7},
		Enqueued: 1500,
		Ledger:   LedgerCount{Done: 680},
	}
	tr.Observe(s)
	got := FormatLine(s, tr)
	want := "03:04:17    12.0s      820      40     5.1s       10    10      7  680/1500"
	if got != want {
		t.Errorf("FormatLine =\n%q\nwant\n%q", got, want)
	}
	// The columns line up under the header.
	for _, col := range []string{"PENDING", "ACTIVE", "LATENCY", "DESIRED", "PODS", "READY"} {
		end := strings.Index(lineHeader, col) + len(col)
		if got[end-1] == ' ' {
			t.Errorf("column %s is not right-aligned under its header:\n%s\n%s", col, lineHeader, got)
		}
	}

	s.RedisErr = errors.New("connection refused")
	s.KubeErr = errors.New("timeout")
	s.Enqueued = 300
	got = FormatLine(s, tr)
	for _, w := range []string{"?", "(enqueued 300)", "redis: connection refused", "kubernetes: timeout"} {
		if !strings.Contains(got, w) {
			t.Errorf("FormatLine with errors lacks %q: %q", w, got)
		}
	}
}

func TestLinesPrintsOncePerInterval(t *testing.T) {
	var out strings.Builder
	l := NewLines(&out, time.Second)
	tr := NewTracker(10, time.Minute, time.Second)
	// Samples late by a little still get one line per second: the lines
	// follow the seconds since the start, not the time since the last line.
	for _, sec := range []float64{0, 0.25, 0.5, 0.75, 1.05, 1.3, 1.55} {
		s := at(sec, 1, 0, Workers{Desired: 1, Ready: 1}, 10, 0)
		tr.Observe(s)
		l.Show(s, tr)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != lineHeader {
		t.Fatalf("got %d lines, want the header and two (at 0s and 1s):\n%s", len(lines), out.String())
	}
	// Close prints the last sample, which the interval held back.
	l.Close()
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[3], "03:04:06") {
		t.Fatalf("after Close: want the sample at 1.55s last:\n%s", out.String())
	}
	l.Close()
	if n := len(strings.Split(strings.TrimSpace(out.String()), "\n")); n != 4 {
		t.Errorf("a second Close printed again: %d lines", n)
	}

	// A sample at 1.95s and one at 2.05s: each second keeps its line.
	out.Reset()
	l = NewLines(&out, time.Second)
	for _, sec := range []float64{0, 0.95, 1.95, 2.05, 3.1} {
		s := at(sec, 1, 0, Workers{}, 10, 0)
		tr.Observe(s)
		l.Show(s, tr)
	}
	if n := strings.Count(out.String(), "\n"); n != 5 {
		t.Errorf("got %d lines for samples in 4 seconds, want the header and 4:\n%s", n, out.String())
	}
}

func TestTableRedrawsInPlace(t *testing.T) {
	var out strings.Builder
	tb := NewTable(&out, "QueueWorker default/email")
	tr := NewTracker(1500, time.Minute, time.Second)
	s := at(0, 3, 1, Workers{Desired: 1, Replicas: 1, Ready: 1}, 1500, 750)
	tr.Observe(s)
	tb.Show(s, tr)
	firstDrawing := out.String()
	if strings.Contains(firstDrawing, "\x1b[") {
		t.Errorf("the first drawing moves the cursor: %q", firstDrawing)
	}
	n := strings.Count(firstDrawing, "\n")
	tb.Show(s, tr)
	second := strings.TrimPrefix(out.String(), firstDrawing)
	if want := "\r\x1b[" + strconv.Itoa(n) + "A\x1b[J"; !strings.HasPrefix(second, want) {
		t.Errorf("the second drawing starts %q, want %q (back %d lines, clear)", second[:min(len(second), 12)], want, n)
	}
	for _, w := range []string{"QUEUE", "q ", "total", "desired 1, pods 1, ready 1", "750/1500", "[###############...............]  50%"} {
		if !strings.Contains(firstDrawing, w) {
			t.Errorf("table lacks %q:\n%s", w, firstDrawing)
		}
	}
}

func TestTableLinesFitTheTerminal(t *testing.T) {
	tr := NewTracker(10, time.Minute, time.Second)
	s := at(0, 1, 0, Workers{}, 10, 0)
	s.Queues[0].Name = strings.Repeat("long-queue-name", 4)
	s.KubeErr = errors.New(strings.Repeat("the API server says no ", 10))
	tr.Observe(s)
	for _, l := range TableLines(s, tr, "title") {
		if n := len([]rune(l)); n > tableWidth {
			t.Errorf("line of %d columns, over %d: %q", n, tableWidth, l)
		}
	}
}

func TestFmtLatency(t *testing.T) {
	tests := []struct {
		name   string
		queues []QueueSample
		want   string
	}{
		{"nothing pending", []QueueSample{{Active: 3}}, "-"},
		{"oldest of all queues", []QueueSample{
			{Pending: 1, Latency: time.Second, LatencyKnown: true},
			{Pending: 1, Latency: 2 * time.Second, LatencyKnown: true},
		}, "2.0s"},
		// A queue whose oldest task was put back has no age; the others
		// still tell.
		{"one queue unknown", []QueueSample{
			{Pending: 1, Latency: time.Second, LatencyKnown: true},
			{Pending: 4},
		}, "1.0s"},
		{"all unknown", []QueueSample{{Pending: 4}}, "?"},
	}
	for _, tt := range tests {
		if got := fmtLatency(Sample{Queues: tt.queues}); got != tt.want {
			t.Errorf("%s: fmtLatency = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFmtElapsed(t *testing.T) {
	for in, want := range map[time.Duration]string{
		0:                        "0.0s",
		999 * time.Millisecond:   "0.9s",
		time.Second:              "1.0s",
		12345 * time.Millisecond: "12.3s",
	} {
		if got := fmtElapsed(in); got != want {
			t.Errorf("fmtElapsed(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestFmtDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0.0s"},
		{849 * time.Millisecond, "0.8s"},
		{59900 * time.Millisecond, "59.9s"},
		{time.Minute, "1m00s"},
		{125 * time.Second, "2m05s"},
	}
	for _, tt := range tests {
		if got := fmtDuration(tt.in); got != tt.want {
			t.Errorf("fmtDuration(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		done, total int
		want        string
	}{
		{0, 10, "[....] " + "  0%"},
		{5, 10, "[##..]  50%"},
		{10, 10, "[####] 100%"},
		{12, 10, "[####] 100%"},
		{1, 0, ""},
	}
	for _, tt := range tests {
		if got := progressBar(tt.done, tt.total, 4); got != tt.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tt.done, tt.total, got, tt.want)
		}
	}
}
