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
	"fmt"
	"io"
	"strings"
	"time"
)

// Outcome is how a run ended.
type Outcome int

// The outcomes of a run.
const (
	// Completed: every task of the burst is in the ledger.
	Completed Outcome = iota
	// Incomplete: the queues stayed empty for the settle time while tasks
	// of the burst were missing from the ledger: they were lost.
	Incomplete
	// TimedOut: the run took longer than its timeout.
	TimedOut
	// Interrupted: the run was cancelled (Ctrl-C).
	Interrupted
)

func (o Outcome) String() string {
	switch o {
	case Completed:
		return "completed"
	case Incomplete:
		return "incomplete"
	case TimedOut:
		return "timed out"
	default:
		return "interrupted"
	}
}

// Tracker follows a run through its samples and knows when it is over.
// Times come from the samples, never from the clock.
type Tracker struct {
	total  int
	settle time.Duration
	drain  time.Duration

	start   time.Time
	started bool
	last    Sample
	// ledger and enqueued are the last values read: a failed read leaves
	// them as they were.
	ledger   LedgerCount
	enqueued int

	haveBase      bool
	base          Workers
	peak          Workers
	firstScaleUp  time.Time
	scaledTo      int32
	firstNewReady time.Time
	maxLatency    time.Duration
	maxBacklog    int64

	completeAt time.Time
	idleSince  time.Time

	redisFailingSince time.Time
	kubeFailingSince  time.Time
}

// NewTracker follows a burst of total tasks. settle is how long the queues
// must stay empty, with tasks of the burst missing from the ledger, before
// those tasks count as lost; drain is how long to wait, once every task is
// in the ledger, for tasks that are not the burst's to leave the queues.
func NewTracker(total int, settle, drain time.Duration) *Tracker {
	return &Tracker{total: total, settle: settle, drain: drain}
}

// Observe takes one sample into account. The first sample starts the run
// and gives the replicas the scale-up is measured from.
func (t *Tracker) Observe(s Sample) {
	if !t.started {
		t.start, t.started = s.At, true
	}
	t.last = s
	t.enqueued = max(t.enqueued, s.Enqueued)

	if s.KubeErr != nil {
		if t.kubeFailingSince.IsZero() {
			t.kubeFailingSince = s.At
		}
	} else {
		t.kubeFailingSince = time.Time{}
		w := s.Workers
		if !t.haveBase {
			t.base, t.haveBase = w, true
		}
		if t.firstScaleUp.IsZero() && w.Desired > t.base.Desired {
			t.firstScaleUp, t.scaledTo = s.At, w.Desired
		}
		if t.firstNewReady.IsZero() && w.Ready > t.base.Ready {
			t.firstNewReady = s.At
		}
		t.peak.Desired = max(t.peak.Desired, w.Desired)
		t.peak.Replicas = max(t.peak.Replicas, w.Replicas)
		t.peak.Ready = max(t.peak.Ready, w.Ready)
	}

	if s.RedisErr != nil {
		if t.redisFailingSince.IsZero() {
			t.redisFailingSince = s.At
		}
		return
	}
	t.redisFailingSince = time.Time{}
	t.ledger = s.Ledger
	latency, _ := s.Latency()
	t.maxLatency = max(t.maxLatency, latency)
	t.maxBacklog = max(t.maxBacklog, s.Backlog())
	allIn := t.enqueued >= t.total
	if allIn && t.ledger.Done >= t.total && t.completeAt.IsZero() {
		t.completeAt = s.At
	}
	if allIn && s.Backlog() == 0 {
		if t.idleSince.IsZero() {
			t.idleSince = s.At
		}
	} else {
		t.idleSince = time.Time{}
	}
}

// Done reports whether the run is over at the last sample, and how.
func (t *Tracker) Done() (Outcome, bool) {
	at := t.last.At
	switch {
	case !t.completeAt.IsZero() && (!t.idleSince.IsZero() || at.Sub(t.completeAt) >= t.drain):
		return Completed, true
	case !t.idleSince.IsZero() && t.ledger.Done < t.total && at.Sub(t.idleSince) >= t.settle:
		return Incomplete, true
	}
	return 0, false
}

// Failing returns how long Redis and the API server have been unreadable
// at the last sample; zero when the last read worked.
func (t *Tracker) Failing() (redisFor, kubeFor time.Duration) {
	if !t.redisFailingSince.IsZero() {
		redisFor = t.last.At.Sub(t.redisFailingSince)
	}
	if !t.kubeFailingSince.IsZero() {
		kubeFor = t.last.At.Sub(t.kubeFailingSince)
	}
	return redisFor, kubeFor
}

// Elapsed is the time from the first sample to s.
func (t *Tracker) Elapsed(s Sample) time.Duration { return s.At.Sub(t.start) }

// Total is the size of the burst.
func (t *Tracker) Total() int { return t.total }

// Peak returns the highest replica counts seen so far.
func (t *Tracker) Peak() Workers { return t.peak }

// FirstScaleUp returns how long after the start the autoscaler first asked
// for more replicas than at the start; ok is false until it has.
func (t *Tracker) FirstScaleUp() (after time.Duration, ok bool) {
	if t.firstScaleUp.IsZero() {
		return 0, false
	}
	return t.firstScaleUp.Sub(t.start), true
}

// Summary is the outcome of a run.
type Summary struct {
	Outcome Outcome
	// Tasks is the size of the burst; Enqueued how many of them made it
	// into Redis.
	Tasks, Enqueued int
	// Completed counts tasks of the burst in the ledger; Duplicated those
	// in it more than once.
	Completed, Duplicated int
	// Lost counts enqueued tasks missing from the ledger once the queues
	// were empty; Unfinished those still queued or running when the run
	// stopped early.
	Lost, Unfinished int
	// Duration runs from the start to the last completion, or to the end
	// of the run when not every task completed.
	Duration time.Duration
	// Start, Peak: the replicas at the start, and the highest seen.
	Start, Peak Workers
	// ScaledUp is true when the autoscaler asked for more replicas than at
	// the start: first after FirstScaleUp, to ScaledTo.
	ScaledUp     bool
	FirstScaleUp time.Duration
	ScaledTo     int32
	// FirstNewReady is when the first added worker became ready; zero
	// when none did.
	FirstNewReady time.Duration
	// MaxLatency is the longest wait of a pending task seen; MaxBacklog
	// the highest pending + active + retry.
	MaxLatency time.Duration
	MaxBacklog int64
}

// Summary sums up the run; outcome is what ended it.
func (t *Tracker) Summary(outcome Outcome) Summary {
	s := Summary{
		Outcome:    outcome,
		Tasks:      t.total,
		Enqueued:   t.enqueued,
		Completed:  t.ledger.Done,
		Duplicated: t.ledger.Duplicated,
		Start:      t.base,
		Peak:       t.peak,
		MaxLatency: t.maxLatency,
		MaxBacklog: t.maxBacklog,
		Duration:   t.last.At.Sub(t.start),
	}
	if !t.completeAt.IsZero() {
		s.Duration = t.completeAt.Sub(t.start)
	}
	missing := max(t.enqueued-t.ledger.Done, 0)
	if outcome == Incomplete {
		s.Lost = missing
	} else if outcome != Completed {
		s.Unfinished = missing
	}
	if !t.firstScaleUp.IsZero() {
		s.ScaledUp, s.FirstScaleUp, s.ScaledTo = true, t.firstScaleUp.Sub(t.start), t.scaledTo
	}
	if !t.firstNewReady.IsZero() {
		s.FirstNewReady = t.firstNewReady.Sub(t.start)
	}
	return s
}

// OK is true when every task of the burst completed exactly once.
func (s Summary) OK() bool {
	return s.Outcome == Completed && s.Lost == 0 && s.Duplicated == 0 && s.Completed == s.Tasks
}

// Write prints the summary for people; b describes the burst.
func (s Summary) Write(w io.Writer, b Burst) {
	var out strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&out, "  %-10s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&out, "SUMMARY (%s)\n", s.Outcome)
	line("tasks", "%d demo:sleep tasks of %s over %s: %d enqueued, %d completed",
		s.Tasks, b.Duration, strings.Join(b.Queues, ", "), s.Enqueued, s.Completed)
	rate := ""
	if secs := s.Duration.Seconds(); secs > 0 && s.Completed > 0 {
		rate = fmt.Sprintf(" (%.0f tasks/s)", float64(s.Completed)/secs)
	}
	if s.Outcome == Completed {
		line("duration", "%s from the first enqueue to the last completion%s", fmtDuration(s.Duration), rate)
	} else {
		line("duration", "%s, stopped before every task completed%s", fmtDuration(s.Duration), rate)
	}
	line("replicas", "%d ready at the start, peak %d ready (desired peaked at %d)", s.Start.Ready, s.Peak.Ready, s.Peak.Desired)
	switch {
	case s.ScaledUp && s.FirstNewReady > 0:
		line("scale-up", "desired %d -> %d after %s; first added worker ready after %s",
			s.Start.Desired, s.ScaledTo, fmtDuration(s.FirstScaleUp), fmtDuration(s.FirstNewReady))
	case s.ScaledUp:
		line("scale-up", "desired %d -> %d after %s; no added worker became ready",
			s.Start.Desired, s.ScaledTo, fmtDuration(s.FirstScaleUp))
	default:
		line("scale-up", "none: the autoscaler kept %d replicas", s.Start.Desired)
	}
	line("latency", "the oldest pending task waited at most %s; the backlog peaked at %d",
		fmtDuration(s.MaxLatency), s.MaxBacklog)
	switch s.Outcome {
	case Completed, Incomplete:
		verdict := "every task completed exactly once"
		if s.Lost > 0 || s.Duplicated > 0 {
			verdict = "NOT every task completed exactly once"
		}
		line("ledger", "%d lost, %d duplicated: %s", s.Lost, s.Duplicated, verdict)
	default:
		line("ledger", "%d duplicated so far; %d still queued or running when the run stopped", s.Duplicated, s.Unfinished)
	}
	_, _ = io.WriteString(w, out.String())
}
