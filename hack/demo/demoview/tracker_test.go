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
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// at builds a sample at t0+sec seconds: pending and active in one queue,
// the replicas, the burst tasks enqueued and the ledger.
func at(sec float64, pending, active int64, w Workers, enqueued, done int) Sample {
	return Sample{
		At:       t0.Add(time.Duration(sec * float64(time.Second))),
		Queues:   []QueueSample{{Name: "q", Pending: pending, Active: active}},
		Workers:  w,
		Enqueued: enqueued,
		Ledger:   LedgerCount{Done: done},
	}
}

func observe(tr *Tracker, samples ...Sample) {
	for _, s := range samples {
		tr.Observe(s)
	}
}

func TestTrackerCompletedRun(t *testing.T) {
	tr := NewTracker(100, 30*time.Second, 10*time.Second)
	observe(tr,
		at(0, 0, 0, Workers{Desired: 1, Replicas: 1, Ready: 1}, 0, 0),
		at(0.25, 90, 4, Workers{Desired: 1, Replicas: 1, Ready: 1}, 100, 6),
		at(0.5, 80, 4, Workers{Desired: 10, Replicas: 1, Ready: 1}, 100, 16),
		at(1.75, 40, 30, Workers{Desired: 10, Replicas: 10, Ready: 4}, 100, 30),
		at(3, 0, 20, Workers{Desired: 10, Replicas: 10, Ready: 10}, 100, 80),
	)
	if _, done := tr.Done(); done {
		t.Fatal("done before the ledger is complete")
	}
	// The ledger is complete while two tasks are still in active: asynq
	// removes them a moment after the handler returned.
	tr.Observe(at(3.5, 0, 2, Workers{Desired: 10, Replicas: 10, Ready: 10}, 100, 100))
	if _, done := tr.Done(); done {
		t.Fatal("done while tasks are active and the drain time has not passed")
	}
	tr.Observe(at(3.75, 0, 0, Workers{Desired: 10, Replicas: 10, Ready: 10}, 100, 100))
	outcome, done := tr.Done()
	if !done || outcome != Completed {
		t.Fatalf("Done() = %v, %v; want Completed", outcome, done)
	}
	s := tr.Summary(outcome)
	want := Summary{
		Outcome: Completed, Tasks: 100, Enqueued: 100, Completed: 100,
		Duration:      3500 * time.Millisecond,
		Start:         Workers{Desired: 1, Replicas: 1, Ready: 1},
		Peak:          Workers{Desired: 10, Replicas: 10, Ready: 10},
		ScaledUp:      true,
		FirstScaleUp:  500 * time.Millisecond,
		ScaledTo:      10,
		FirstNewReady: 1750 * time.Millisecond,
		MaxBacklog:    94,
	}
	if s != want {
		t.Errorf("Summary =\n%+v\nwant\n%+v", s, want)
	}
	if !s.OK() {
		t.Error("OK() = false for a run where every task completed once")
	}
}

func TestTrackerDrainsOtherTasks(t *testing.T) {
	// Tasks that are not the burst's stay in the queue (no worker for
	// them, say): the run still ends, drain after the ledger is complete.
	tr := NewTracker(10, 30*time.Second, 10*time.Second)
	w := Workers{Desired: 1, Ready: 1}
	observe(tr, at(0, 5, 0, w, 0, 0), at(1, 5, 0, w, 10, 10), at(10.9, 5, 0, w, 10, 10))
	if _, done := tr.Done(); done {
		t.Fatal("done before the drain time")
	}
	tr.Observe(at(11, 5, 0, w, 10, 10))
	if outcome, done := tr.Done(); !done || outcome != Completed {
		t.Fatalf("Done() = %v, %v; want Completed once the drain time has passed", outcome, done)
	}
}

func TestTrackerLostTasks(t *testing.T) {
	tr := NewTracker(10, 30*time.Second, 10*time.Second)
	w := Workers{Desired: 1, Ready: 1}
	observe(tr, at(0, 0, 0, w, 0, 0), at(1, 10, 0, w, 10, 0), at(2, 0, 0, w, 10, 7))
	// Empty queues, but three tasks never reached the ledger.
	tr.Observe(at(31.9, 0, 0, w, 10, 7))
	if _, done := tr.Done(); done {
		t.Fatal("done before the settle time")
	}
	tr.Observe(at(32, 0, 0, w, 10, 7))
	outcome, done := tr.Done()
	if !done || outcome != Incomplete {
		t.Fatalf("Done() = %v, %v; want Incomplete", outcome, done)
	}
	s := tr.Summary(outcome)
	if s.Lost != 3 || s.Completed != 7 || s.OK() {
		t.Errorf("Summary = %+v; want 3 lost, 7 completed, not OK", s)
	}
	if s.ScaledUp {
		t.Error("ScaledUp without a change of desired replicas")
	}
}

func TestTrackerIdleResetsWhenWorkReturns(t *testing.T) {
	// A retry due later empties pending and active but is still work: the
	// queues are not idle while it waits.
	tr := NewTracker(2, 5*time.Second, time.Second)
	w := Workers{Desired: 1, Ready: 1}
	retry := at(1, 0, 0, w, 2, 1)
	retry.Queues[0].Retry = 1
	observe(tr, at(0, 2, 0, w, 2, 0), retry)
	retry.At = t0.Add(10 * time.Second)
	tr.Observe(retry)
	if _, done := tr.Done(); done {
		t.Fatal("done while a retry is waiting")
	}
	observe(tr, at(11, 0, 1, w, 2, 1), at(12, 0, 0, w, 2, 2))
	if outcome, done := tr.Done(); !done || outcome != Completed {
		t.Fatalf("Done() = %v, %v; want Completed", outcome, done)
	}
}

func TestTrackerDuplicatesAndFailures(t *testing.T) {
	tr := NewTracker(4, time.Minute, time.Second)
	w := Workers{Desired: 2, Ready: 2}
	tr.Observe(at(0, 4, 0, w, 4, 0))

	// Failed reads keep the last good values and count how long they fail.
	bad := Sample{At: t0.Add(2 * time.Second), RedisErr: errors.New("down"), KubeErr: errors.New("down"), Enqueued: 4}
	tr.Observe(bad)
	bad.At = t0.Add(5 * time.Second)
	tr.Observe(bad)
	if r, k := tr.Failing(); r != 3*time.Second || k != 3*time.Second {
		t.Errorf("Failing() = %s, %s; want 3s, 3s", r, k)
	}
	if tr.ledger.Done != 0 || tr.Peak().Ready != 2 {
		t.Errorf("failed reads changed the ledger (%+v) or the peak (%+v)", tr.ledger, tr.Peak())
	}

	s := at(6, 0, 0, w, 4, 4)
	s.Ledger.Duplicated = 1
	tr.Observe(s)
	if r, k := tr.Failing(); r != 0 || k != 0 {
		t.Errorf("Failing() = %s, %s after a good read; want 0, 0", r, k)
	}
	outcome, done := tr.Done()
	if !done || outcome != Completed {
		t.Fatalf("Done() = %v, %v; want Completed", outcome, done)
	}
	if sum := tr.Summary(outcome); sum.Duplicated != 1 || sum.OK() {
		t.Errorf("Summary = %+v; want 1 duplicated, not OK", sum)
	}
}

func TestSummaryUnfinished(t *testing.T) {
	tr := NewTracker(10, time.Minute, time.Second)
	w := Workers{Desired: 1, Ready: 1}
	observe(tr, at(0, 0, 0, w, 0, 0), at(5, 6, 1, w, 10, 3))
	s := tr.Summary(TimedOut)
	if s.Unfinished != 7 || s.Lost != 0 || s.Duration != 5*time.Second || s.OK() {
		t.Errorf("Summary = %+v; want 7 unfinished, none lost, 5s, not OK", s)
	}
}

func TestSummaryWrite(t *testing.T) {
	b := Burst{Queues: []string{"critical", "default", "low"}, Count: 1500, Duration: 200 * time.Millisecond}
	tests := []struct {
		name string
		s    Summary
		want []string
	}{
		{
			name: "completed",
			s: Summary{Outcome: Completed, Tasks: 1500, Enqueued: 1500, Completed: 1500,
				Duration: 15 * time.Second, Start: Workers{Desired: 1, Ready: 1}, Peak: Workers{Desired: 10, Ready: 10},
				ScaledUp: true, FirstScaleUp: 800 * time.Millisecond, ScaledTo: 10, FirstNewReady: 2 * time.Second,
				MaxLatency: 9500 * time.Millisecond, MaxBacklog: 1500},
			want: []string{
				"SUMMARY (completed)",
				"1500 demo:sleep tasks of 200ms over critical, default, low: 1500 enqueued, 1500 completed",
				"15.0s from the first enqueue to the last completion (100 tasks/s)",
				"1 ready at the start, peak 10 ready (desired peaked at 10)",
				"desired 1 -> 10 after 0.8s; first added worker ready after 2.0s",
				"waited at most 9.5s; the backlog peaked at 1500",
				"0 lost, 0 duplicated: every task completed exactly once",
			},
		},
		{
			name: "lost",
			s:    Summary{Outcome: Incomplete, Tasks: 10, Enqueued: 10, Completed: 8, Lost: 2, Duration: time.Minute},
			want: []string{
				"SUMMARY (incomplete)",
				"1m00s, stopped before every task completed",
				"none: the autoscaler kept 0 replicas",
				"2 lost, 0 duplicated: NOT every task completed exactly once",
			},
		},
		{
			name: "timed out",
			s:    Summary{Outcome: TimedOut, Tasks: 10, Enqueued: 10, Completed: 4, Unfinished: 6, ScaledUp: true, ScaledTo: 3},
			want: []string{"SUMMARY (timed out)", "no added worker became ready", "6 still queued or running"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			tt.s.Write(&out, b)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestBurstSplit(t *testing.T) {
	tests := []struct {
		queues []string
		count  int
		want   []int
	}{
		{[]string{"a", "b", "c"}, 1500, []int{500, 500, 500}},
		{[]string{"a", "b", "c"}, 1501, []int{501, 500, 500}},
		{[]string{"a", "b", "c"}, 2, []int{1, 1, 0}},
		{[]string{"a"}, 7, []int{7}},
		{nil, 7, []int{}},
	}
	for _, tt := range tests {
		got := Burst{Queues: tt.queues, Count: tt.count}.Split()
		if len(got) != len(tt.want) {
			t.Errorf("Split(%v, %d) = %v, want %v", tt.queues, tt.count, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("Split(%v, %d) = %v, want %v", tt.queues, tt.count, got, tt.want)
				break
			}
		}
	}
}
