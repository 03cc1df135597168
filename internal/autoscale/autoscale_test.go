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

package autoscale

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

var (
	t0         = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	errRefused = errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// queue is a queue that is not paused, with pending and active tasks.
func queue(pending, active int64) QueueStats {
	return QueueStats{Name: "default", Pending: pending, Active: active}
}

func seen(queues ...QueueStats) Observation { return Observation{Queues: queues} }

func failed() Observation { return Observation{Err: errRefused} }

// in is the Input of most cases: concurrency 4, decided at t0.
func in(spec v1.Autoscaling, current int32, obs Observation) Input {
	return Input{Now: t0, Spec: spec, Concurrency: 4, CurrentReplicas: current, Observation: obs}
}

// with returns in changed by f, to keep table rows on one idea each.
func with(i Input, f func(*Input)) Input {
	f(&i)
	return i
}

func recs(rs ...Recommendation) State { return State{Recommendations: rs} }

func rec(ago time.Duration, n int32) Recommendation {
	return Recommendation{Time: t0.Add(-ago), Replicas: n}
}

func events(es ...ScaleEvent) State { return State{ScaleEvents: es} }

func event(ago time.Duration, delta int32) ScaleEvent {
	return ScaleEvent{Time: t0.Add(-ago), Delta: delta}
}

type want struct {
	replicas int32
	rule     Rule
}

type decideCase struct {
	name string
	in   Input
	want want
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.in)
			if got.DesiredReplicas != c.want.replicas || got.Rule != c.want.rule {
				t.Errorf("Decide = %d by %s, want %d by %s\nreason: %s",
					got.DesiredReplicas, got.Rule, c.want.replicas, c.want.rule, got.Reason)
			}
			if got.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestSettingsFor(t *testing.T) {
	cases := []struct {
		name        string
		spec        v1.Autoscaling
		concurrency int32
		want        Settings
	}{
		{
			name:        "defaults mirror the CRD",
			spec:        v1.Autoscaling{MaxReplicas: 10},
			concurrency: 8,
			want: Settings{
				MinReplicas: 1, MaxReplicas: 10, PollInterval: time.Second,
				Concurrency: 8, TargetBacklogPerReplica: 8,
				ScaleToZeroDelay: 5 * time.Minute,
				ScaleUp:          DirectionSettings{Period: 15 * time.Second},
				ScaleDown:        DirectionSettings{StabilizationWindow: 5 * time.Minute, Period: 15 * time.Second},
				FailureThreshold: 3,
			},
		},
		{
			name: "every field set",
			spec: v1.Autoscaling{
				MinReplicas: ptr.To[int32](0), MaxReplicas: 50, PollInterval: dur(2 * time.Second),
				TargetBacklogPerReplica: ptr.To[int32](20), TargetLatency: dur(30 * time.Second),
				ActivationBacklog: ptr.To[int32](5), ScaleToZeroDelay: dur(time.Minute),
				ScaleUp:      &v1.ScalingRules{StabilizationWindow: dur(10 * time.Second), MaxStep: ptr.To[int32](4), Period: dur(time.Minute)},
				ScaleDown:    &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](1)}},
				OnRedisError: &v1.OnRedisError{FailureThreshold: 5, FallbackReplicas: ptr.To[int32](2)},
			},
			concurrency: 4,
			want: Settings{
				MinReplicas: 0, MaxReplicas: 50, PollInterval: 2 * time.Second,
				Concurrency: 4, TargetBacklogPerReplica: 20, TargetLatency: 30 * time.Second,
				ActivationBacklog: 5, ScaleToZeroDelay: time.Minute,
				ScaleUp:          DirectionSettings{StabilizationWindow: 10 * time.Second, MaxStep: 4, Period: time.Minute},
				ScaleDown:        DirectionSettings{MaxStep: 1, Period: 15 * time.Second},
				FailureThreshold: 5, FallbackReplicas: ptr.To[int32](2),
			},
		},
		{
			name: "values the CRD rejects are brought into range",
			spec: v1.Autoscaling{
				MinReplicas: ptr.To[int32](9), MaxReplicas: 3, PollInterval: dur(-time.Second),
				TargetBacklogPerReplica: ptr.To[int32](0), TargetLatency: dur(-time.Second),
				ActivationBacklog: ptr.To[int32](-1), ScaleToZeroDelay: dur(-time.Second),
				ScaleUp:      &v1.ScalingRules{StabilizationWindow: dur(-time.Second), MaxStep: ptr.To[int32](0), Period: dur(0)},
				OnRedisError: &v1.OnRedisError{FailureThreshold: -2},
			},
			concurrency: 0,
			want: Settings{
				MinReplicas: 3, MaxReplicas: 3, PollInterval: time.Second,
				Concurrency: 4, TargetBacklogPerReplica: 4,
				ScaleUp:          DirectionSettings{MaxStep: 1, Period: 15 * time.Second},
				ScaleDown:        DirectionSettings{StabilizationWindow: 5 * time.Minute, Period: 15 * time.Second},
				FailureThreshold: 3,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SettingsFor(c.spec, c.concurrency); !reflect.DeepEqual(got, c.want) {
				t.Errorf("SettingsFor =\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

func TestDecideBacklog(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 10}
	runDecide(t, []decideCase{
		{"no backlog stays at min", in(spec, 1, seen(queue(0, 0))), want{1, RuleMinReplicas}},
		{"no queues stays at min", in(spec, 1, seen()), want{1, RuleMinReplicas}},
		{"backlog exactly the target", in(spec, 1, seen(queue(4, 0))), want{1, RuleBacklog}},
		{"backlog one above the target", in(spec, 1, seen(queue(5, 0))), want{2, RuleBacklog}},
		{"backlog counts pending, active, scheduled and retry tasks",
			in(spec, 1, seen(QueueStats{Pending: 4, Active: 2, Scheduled: 2, Retry: 1})), want{3, RuleBacklog}},
		{"backlog counts aggregating tasks",
			in(spec, 1, seen(QueueStats{Pending: 4, Aggregating: 5})), want{3, RuleBacklog}},
		{"aggregating tasks alone are backlog",
			in(spec, 1, seen(QueueStats{Aggregating: 8})), want{2, RuleBacklog}},
		{"backlog sums the queues",
			in(spec, 1, seen(QueueStats{Name: "a", Pending: 6}, QueueStats{Name: "b", Pending: 6})), want{3, RuleBacklog}},
		{"paused queues are not backlog",
			in(spec, 1, seen(QueueStats{Name: "a", Pending: 4},
				QueueStats{Name: "b", Pending: 100, Scheduled: 9, Retry: 9, Aggregating: 9, Paused: true})),
			want{1, RuleBacklog}},
		{"target defaults to the concurrency",
			with(in(spec, 1, seen(queue(25, 0))), func(i *Input) { i.Concurrency = 10 }), want{3, RuleBacklog}},
		{"zero concurrency reads as the default 4",
			with(in(spec, 1, seen(queue(9, 0))), func(i *Input) { i.Concurrency = 0 }), want{3, RuleBacklog}},
		{"targetBacklogPerReplica overrides the concurrency",
			with(in(v1.Autoscaling{MaxReplicas: 10, TargetBacklogPerReplica: ptr.To[int32](2)}, 1, seen(queue(5, 0))),
				func(i *Input) { i.Concurrency = 10 }), want{3, RuleBacklog}},
		{"backlog filling max exactly", in(spec, 1, seen(queue(40, 0))), want{10, RuleBacklog}},
		{"clamped at max", in(spec, 1, seen(queue(41, 0))), want{10, RuleMaxReplicas}},
		{"raised to min", in(v1.Autoscaling{MinReplicas: ptr.To[int32](3), MaxReplicas: 10}, 3, seen(queue(4, 0))),
			want{3, RuleMinReplicas}},
		{"one to N in one step", in(spec, 1, seen(queue(36, 0))), want{9, RuleBacklog}},
		{"negative counts read as zero",
			in(spec, 1, seen(QueueStats{Pending: -50, Active: -3, Scheduled: -1, Retry: -1, Aggregating: -1})),
			want{1, RuleMinReplicas}},
		{"saturating sums stay within max",
			in(spec, 1, seen(queue(math.MaxInt64, 0), queue(math.MaxInt64, math.MaxInt64))), want{10, RuleMaxReplicas}},
	})
}

func TestDecideActiveFloor(t *testing.T) {
	wide := v1.Autoscaling{MaxReplicas: 20, TargetBacklogPerReplica: ptr.To[int32](100)}
	noWindow := v1.Autoscaling{MaxReplicas: 20, ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0)}}}
	runDecide(t, []decideCase{
		{"running tasks beat a lower backlog recommendation", in(wide, 10, seen(queue(0, 40))), want{10, RuleActiveFloor}},
		{"floor rounds up", in(wide, 2, seen(queue(0, 5))), want{2, RuleActiveFloor}},
		{"running tasks of a paused queue keep their slots",
			in(noWindow, 3, seen(QueueStats{Name: "paused", Pending: 50, Active: 8, Paused: true})), want{2, RuleActiveFloor}},
		{"floor equal to the backlog recommendation reads as backlog", in(noWindow, 2, seen(queue(0, 8))), want{2, RuleBacklog}},
		{"floor above max is capped",
			in(v1.Autoscaling{MaxReplicas: 5, TargetBacklogPerReplica: ptr.To[int32](100)}, 5, seen(queue(0, 40))),
			want{5, RuleMaxReplicas}},
	})
}

func TestDecideLatency(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 20, TargetLatency: dur(10 * time.Second)}
	aged := func(pending int64, age time.Duration) Observation {
		return seen(QueueStats{Name: "critical", Pending: pending, OldestPendingAge: age})
	}
	runDecide(t, []decideCase{
		{"oldest task over target scales by the ratio", in(spec, 2, aged(1, 25*time.Second)), want{5, RuleLatency}},
		{"ratio rounds up", in(spec, 3, aged(1, 11*time.Second)), want{4, RuleLatency}},
		{"a nanosecond over the target adds a replica", in(spec, 3, aged(1, 10*time.Second+1)), want{4, RuleLatency}},
		{"at the target exactly the backlog decides", in(spec, 3, aged(12, 10*time.Second)), want{3, RuleBacklog}},
		{"below the target the backlog decides", in(spec, 5, aged(40, time.Second)), want{10, RuleBacklog}},
		{"ratio lower than the backlog never lowers it", in(spec, 2, aged(40, 15*time.Second)), want{10, RuleBacklog}},
		{"a paused queue's age is ignored",
			in(spec, 1, seen(QueueStats{Name: "paused", Pending: 5, OldestPendingAge: time.Hour, Paused: true}, queue(1, 0))),
			want{1, RuleBacklog}},
		{"ready replicas are the base",
			with(in(spec, 4, aged(1, 30*time.Second)), func(i *Input) { i.ReadyReplicas = ptr.To[int32](2) }), want{6, RuleLatency}},
		{"unknown ready replicas use the current count", in(spec, 4, aged(1, 30*time.Second)), want{12, RuleLatency}},
		{"ready above current uses the current count",
			with(in(spec, 4, aged(1, 30*time.Second)), func(i *Input) { i.ReadyReplicas = ptr.To[int32](9) }), want{12, RuleLatency}},
		{"no ready replica leaves the backlog to decide",
			with(in(spec, 4, aged(16, time.Hour)), func(i *Input) { i.ReadyReplicas = ptr.To[int32](0) }), want{4, RuleBacklog}},
		{"latency clamped at max", in(spec, 10, aged(1, time.Hour)), want{20, RuleMaxReplicas}},
		{"latency rule off without targetLatency", in(v1.Autoscaling{MaxReplicas: 20}, 1, aged(1, time.Hour)), want{1, RuleBacklog}},
	})
}

func TestDecideActivation(t *testing.T) {
	spec := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5)}
	runDecide(t, []decideCase{
		{"empty stays at zero", in(spec, 0, seen(queue(0, 0))), want{0, RuleActivation}},
		{"backlog at activation stays at zero", in(spec, 0, seen(queue(5, 0))), want{0, RuleActivation}},
		{"one above activation wakes", in(spec, 0, seen(queue(6, 0))), want{2, RuleBacklog}},
		{"default activation wakes on the first task",
			in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}, 0, seen(queue(1, 0))), want{1, RuleBacklog}},
		{"paused backlog does not wake",
			in(spec, 0, seen(QueueStats{Pending: 100, Paused: true})), want{0, RuleActivation}},
		{"aggregating tasks at activation stay at zero", in(spec, 0, seen(QueueStats{Aggregating: 5})), want{0, RuleActivation}},
		{"aggregating tasks one above activation wake", in(spec, 0, seen(QueueStats{Aggregating: 6})), want{2, RuleBacklog}},
		{"paused aggregating tasks do not wake",
			in(spec, 0, seen(QueueStats{Aggregating: 100, Paused: true})), want{0, RuleActivation}},
		{"waking beats a scale-up window that remembers zero",
			with(in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5),
				ScaleUp: &v1.ScalingRules{StabilizationWindow: dur(time.Minute)}}, 0, seen(queue(6, 0))),
				func(i *Input) { i.State = recs(rec(30*time.Second, 0)) }),
			want{1, RuleActivation}},
		{"waking beats a used-up step",
			with(in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
				ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](1)}}, 0, seen(queue(6, 0))),
				func(i *Input) { i.State = events(event(5*time.Second, 1)) }),
			want{1, RuleActivation}},
		{"activation applies only at zero", in(spec, 1, seen(queue(3, 0))), want{1, RuleBacklog}},
		{"min above zero ignores activation",
			in(v1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5)}, 0, seen(queue(0, 0))),
			want{2, RuleMinReplicas}},
	})
}

// TestDecideWakeOnWait: at zero, a task that has waited targetLatency (or
// scaleToZeroDelay without one) wakes the workers under the activation
// backlog, pending or due; paused queues and a young task do not.
func TestDecideWakeOnWait(t *testing.T) {
	latency := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5),
		TargetLatency: dur(30 * time.Second)}
	delay := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5),
		ScaleToZeroDelay: dur(2 * time.Minute)}
	pending := func(age time.Duration) Observation {
		return seen(QueueStats{Name: "mail", Pending: 3, OldestPendingAge: age})
	}
	due := func(age time.Duration) Observation {
		return seen(QueueStats{Name: "mail", Scheduled: 1, Retry: 1, OldestDueAge: age})
	}
	runDecide(t, []decideCase{
		{"pending just below targetLatency stays", in(latency, 0, pending(30*time.Second-time.Millisecond)), want{0, RuleActivation}},
		{"pending at targetLatency wakes", in(latency, 0, pending(30*time.Second)), want{1, RuleActivation}},
		{"pending just above targetLatency wakes", in(latency, 0, pending(30*time.Second+time.Millisecond)), want{1, RuleActivation}},
		{"pending a day old wakes", in(latency, 0, pending(24*time.Hour)), want{1, RuleActivation}},
		{"overdue just below targetLatency stays", in(latency, 0, due(30*time.Second-time.Millisecond)), want{0, RuleActivation}},
		{"overdue at targetLatency wakes", in(latency, 0, due(30*time.Second)), want{1, RuleActivation}},
		{"overdue just above targetLatency wakes", in(latency, 0, due(30*time.Second+time.Millisecond)), want{1, RuleActivation}},
		{"without targetLatency, just below scaleToZeroDelay stays", in(delay, 0, pending(2*time.Minute-time.Millisecond)),
			want{0, RuleActivation}},
		{"without targetLatency, at scaleToZeroDelay wakes", in(delay, 0, pending(2*time.Minute)), want{1, RuleActivation}},
		{"without targetLatency, just above scaleToZeroDelay wakes", in(delay, 0, due(2*time.Minute+time.Millisecond)),
			want{1, RuleActivation}},
		{"the default scaleToZeroDelay", in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
			ActivationBacklog: ptr.To[int32](5)}, 0, due(5*time.Minute)), want{1, RuleActivation}},
		{"a paused queue does not wake",
			in(latency, 0, seen(QueueStats{Name: "mail", Pending: 3, Paused: true, OldestPendingAge: time.Hour, OldestDueAge: time.Hour})),
			want{0, RuleActivation}},
		{"an empty queue does not wake at a zero delay",
			in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ScaleToZeroDelay: dur(0)}, 0, seen(queue(0, 0))),
			want{0, RuleActivation}},
		{"a woken count keeps the backlog's recommendation",
			in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](20),
				TargetBacklogPerReplica: ptr.To[int32](2), TargetLatency: dur(time.Second)}, 0,
				seen(QueueStats{Name: "mail", Pending: 6, OldestPendingAge: time.Minute})),
			want{3, RuleActivation}},
	})
}

// TestDecideOrphans: tasks whose worker died run nowhere. They are neither
// backlog nor running, so they ask for no workers by number; but with
// minReplicas 0 one worker wakes for them, or stays, since only the
// recoverer inside a worker gives them back to their queue.
func TestDecideOrphans(t *testing.T) {
	noWindow := &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0)}}
	one := v1.Autoscaling{MaxReplicas: 20, ScaleDown: noWindow}
	zero := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 20, ActivationBacklog: ptr.To[int32](5),
		ScaleToZeroDelay: dur(time.Minute), ScaleDown: noWindow}
	orphans := func(n int64) QueueStats { return QueueStats{Name: "crash", Orphaned: n} }
	idleFor := func(i Input, d time.Duration) Input {
		i.State.LastActiveTime = t0.Add(-d)
		return i
	}
	runDecide(t, []decideCase{
		{"orphans are not backlog", in(one, 10, seen(orphans(40))), want{1, RuleMinReplicas}},
		{"orphans are not running tasks",
			in(one, 10, seen(QueueStats{Name: "crash", Active: 4, Orphaned: 40})), want{1, RuleBacklog}},
		{"the same tasks alive are backlog",
			in(one, 10, seen(QueueStats{Name: "crash", Active: 44})), want{11, RuleBacklog}},
		{"orphans of a paused queue hold no slots",
			in(one, 10, seen(QueueStats{Name: "crash", Paused: true, Orphaned: 40})), want{1, RuleMinReplicas}},
		{"running tasks of a paused queue hold their slots",
			in(one, 10, seen(QueueStats{Name: "crash", Paused: true, Active: 40})), want{10, RuleActiveFloor}},
		{"at zero, none stays at zero", in(zero, 0, seen(orphans(0))), want{0, RuleActivation}},
		{"at zero, one wakes one", in(zero, 0, seen(orphans(1))), want{1, RuleRecoverOrphans}},
		{"at zero, a hundred wake one", in(zero, 0, seen(orphans(100))), want{1, RuleRecoverOrphans}},
		{"at zero, in a paused queue", in(zero, 0, seen(QueueStats{Name: "crash", Orphaned: 1, Paused: true})),
			want{1, RuleRecoverOrphans}},
		{"at zero, below the activation backlog",
			in(zero, 0, seen(QueueStats{Name: "crash", Pending: 5, Orphaned: 1})), want{1, RuleRecoverOrphans}},
		{"at zero, above the activation backlog the backlog decides",
			in(zero, 0, seen(QueueStats{Name: "crash", Pending: 12, Orphaned: 1})), want{3, RuleBacklog}},
		{"at zero, waking beats a used-up step",
			with(in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
				ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](1)}}, 0, seen(orphans(3))),
				func(i *Input) { i.State = events(event(5*time.Second, 1)) }),
			want{1, RuleRecoverOrphans}},
		{"at zero, waking beats a scale-up window that remembers zero",
			with(in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
				ScaleUp: &v1.ScalingRules{StabilizationWindow: dur(time.Minute)}}, 0, seen(orphans(3))),
				func(i *Input) { i.State = recs(rec(30*time.Second, 0)) }),
			want{1, RuleRecoverOrphans}},
		{"max zero stays at zero", in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 0}, 0, seen(orphans(3))),
			want{0, RuleBacklog}},
		{"min above zero is enough", in(v1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10}, 0, seen(orphans(3))),
			want{2, RuleMinReplicas}},
		{"idle past the delay, none goes to zero", idleFor(in(zero, 1, seen(orphans(0))), time.Minute),
			want{0, RuleScaleToZero}},
		{"idle past the delay, one holds one", idleFor(in(zero, 1, seen(orphans(1))), time.Minute),
			want{1, RuleRecoverOrphans}},
		{"idle within the delay, one holds one", idleFor(in(zero, 1, seen(orphans(1))), time.Second),
			want{1, RuleRecoverOrphans}},
		{"idle at three, down to one", idleFor(in(zero, 3, seen(orphans(1))), time.Hour), want{1, RuleRecoverOrphans}},
		{"a step limit on the way down decides first",
			idleFor(in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 20, ScaleToZeroDelay: dur(time.Minute),
				ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](1)}}}, 3, seen(orphans(1))), time.Hour),
			want{2, RuleStepLimit}},
	})

	t.Run("orphans are not work for the scale-to-zero delay", func(t *testing.T) {
		i := idleFor(in(zero, 1, seen(orphans(5))), 10*time.Second)
		d := Decide(i)
		if !d.State.LastActiveTime.Equal(i.State.LastActiveTime) || d.Backlog != 0 {
			t.Errorf("last active %v, backlog %d; want %v and 0", d.State.LastActiveTime, d.Backlog, i.State.LastActiveTime)
		}
		if !strings.Contains(d.Reason, "5 orphaned tasks (queue crash)") {
			t.Errorf("reason %q does not name the orphans and their queue", d.Reason)
		}
	})
}

func TestDecideScaleToZero(t *testing.T) {
	spec := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}
	idle := func(current int32, lastActive, lastError time.Duration) Input {
		i := in(spec, current, seen(queue(0, 0)))
		i.State.LastActiveTime = t0.Add(-lastActive)
		if lastError > 0 {
			i.State.LastErrorTime = t0.Add(-lastError)
		}
		return i
	}
	runDecide(t, []decideCase{
		{"one tick before the delay holds one", idle(1, 5*time.Minute-time.Second, 0), want{1, RuleScaleToZeroDelay}},
		{"at the delay goes to zero", idle(1, 5*time.Minute, 0), want{0, RuleScaleToZero}},
		{"after the delay goes to zero", idle(1, time.Hour, 0), want{0, RuleScaleToZero}},
		{"several replicas go to zero after the delay", idle(5, 5*time.Minute, 0), want{0, RuleScaleToZero}},
		{"several replicas keep one before the delay", idle(5, time.Minute, 0), want{1, RuleScaleToZeroDelay}},
		{"custom delay, one tick before",
			with(idle(1, 29*time.Second, 0), func(i *Input) { i.Spec.ScaleToZeroDelay = dur(30 * time.Second) }),
			want{1, RuleScaleToZeroDelay}},
		{"custom delay, at it",
			with(idle(1, 30*time.Second, 0), func(i *Input) { i.Spec.ScaleToZeroDelay = dur(30 * time.Second) }),
			want{0, RuleScaleToZero}},
		{"a fresh state holds one", in(spec, 1, seen(queue(0, 0))), want{1, RuleScaleToZeroDelay}},
		{"a failed read restarts the delay", idle(1, time.Hour, time.Minute), want{1, RuleScaleToZeroDelay}},
		{"a failed read older than the delay does not", idle(1, time.Hour, 5*time.Minute), want{0, RuleScaleToZero}},
		{"aggregating tasks are work",
			with(idle(1, time.Hour, 0), func(i *Input) { i.Observation = seen(QueueStats{Aggregating: 1}) }),
			want{1, RuleBacklog}},
		{"a running task in a paused queue is work",
			with(idle(1, time.Hour, 0), func(i *Input) { i.Observation = seen(QueueStats{Active: 1, Paused: true}) }),
			want{1, RuleActiveFloor}},
		{"min one never goes to zero",
			with(idle(1, time.Hour, 0), func(i *Input) { i.Spec.MinReplicas = nil }), want{1, RuleMinReplicas}},
		{"a scale-down window longer than the delay holds",
			with(idle(1, time.Hour, 0), func(i *Input) {
				i.Spec.ScaleDown = &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(10 * time.Minute)}}
				i.State.Recommendations = []Recommendation{rec(6*time.Minute, 3)}
			}),
			want{1, RuleStabilization}},
		{"a step limit still applies",
			with(idle(5, time.Hour, 0), func(i *Input) {
				i.Spec.ScaleDown = &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{MaxStep: ptr.To[int32](2)}}
			}),
			want{3, RuleStepLimit}},
	})
}

func TestDecideLastActiveTime(t *testing.T) {
	spec := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}
	earlier := t0.Add(-time.Hour)
	cases := []struct {
		name string
		in   Input
		want time.Time
	}{
		{"backlog is work", with(in(spec, 1, seen(queue(1, 0))), func(i *Input) { i.State.LastActiveTime = earlier }), t0},
		{"a running task is work", with(in(spec, 1, seen(queue(0, 1))), func(i *Input) { i.State.LastActiveTime = earlier }), t0},
		{"a running task of a paused queue is work",
			with(in(spec, 1, seen(QueueStats{Active: 1, Paused: true})), func(i *Input) { i.State.LastActiveTime = earlier }), t0},
		{"paused pending tasks are not work",
			with(in(spec, 1, seen(QueueStats{Pending: 9, Paused: true})), func(i *Input) { i.State.LastActiveTime = earlier }), earlier},
		{"no work keeps the time", with(in(spec, 1, seen(queue(0, 0))), func(i *Input) { i.State.LastActiveTime = earlier }), earlier},
		{"the first observation starts it", in(spec, 1, seen(queue(0, 0))), t0},
		{"a failed read keeps it", with(in(spec, 1, failed()), func(i *Input) { i.State.LastActiveTime = earlier }), earlier},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.in).State.LastActiveTime; !got.Equal(c.want) {
				t.Errorf("LastActiveTime = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecideStabilization(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 20}
	window := func(d time.Duration) v1.Autoscaling {
		return v1.Autoscaling{MaxReplicas: 20, ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(d)}}}
	}
	upWindow := v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{StabilizationWindow: dur(time.Minute)}}
	withState := func(i Input, st State) Input { i.State = st; return i }
	runDecide(t, []decideCase{
		{"scale-down window holds the highest recommendation",
			withState(in(spec, 8, seen(queue(8, 0))), recs(rec(time.Minute, 8))), want{8, RuleStabilization}},
		{"the highest, not the latest",
			withState(in(spec, 8, seen(queue(8, 0))), recs(rec(4*time.Minute, 6), rec(time.Minute, 3))), want{6, RuleStabilization}},
		{"a second inside the default window holds",
			withState(in(spec, 8, seen(queue(8, 0))), recs(rec(5*time.Minute-time.Second, 8))), want{8, RuleStabilization}},
		{"at the end of the window the recommendation expires",
			withState(in(spec, 8, seen(queue(8, 0))), recs(rec(5*time.Minute, 8))), want{2, RuleBacklog}},
		{"a zero window scales down at once",
			withState(in(window(0), 8, seen(queue(8, 0))), recs(rec(time.Second, 8))), want{2, RuleBacklog}},
		{"custom window, inside",
			withState(in(window(time.Minute), 8, seen(queue(8, 0))), recs(rec(59*time.Second, 8))), want{8, RuleStabilization}},
		{"custom window, at its end",
			withState(in(window(time.Minute), 8, seen(queue(8, 0))), recs(rec(time.Minute, 8))), want{2, RuleBacklog}},
		{"the window never raises above the current count",
			withState(in(spec, 5, seen(queue(8, 0))), recs(rec(time.Minute, 8))), want{5, RuleStabilization}},
		{"scale-up is immediate by default",
			withState(in(spec, 2, seen(queue(40, 0))), recs(rec(time.Second, 1))), want{10, RuleBacklog}},
		{"scale-up window takes the lowest recommendation",
			withState(in(upWindow, 2, seen(queue(40, 0))), recs(rec(30*time.Second, 3))), want{3, RuleStabilization}},
		{"scale-up window holds when its lowest is not above current",
			withState(in(upWindow, 2, seen(queue(40, 0))), recs(rec(30*time.Second, 1))), want{2, RuleStabilization}},
		{"scale-up window expired",
			withState(in(upWindow, 2, seen(queue(40, 0))), recs(rec(time.Minute, 1))), want{10, RuleBacklog}},
		{"a longer scale-up window does not stretch the scale-down window",
			withState(in(v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{StabilizationWindow: dur(10 * time.Minute)},
				ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(time.Minute)}}}, 8, seen(queue(8, 0))), recs(rec(time.Minute, 8))),
			want{2, RuleBacklog}},
		{"the scale-up window does not hold a scale-down",
			withState(in(v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{StabilizationWindow: dur(time.Minute)},
				ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0)}}}, 8, seen(queue(8, 0))), recs(rec(time.Second, 8))),
			want{2, RuleBacklog}},
		{"no change", withState(in(spec, 2, seen(queue(8, 0))), recs(rec(time.Minute, 9))), want{2, RuleBacklog}},
	})
}

func TestDecideStepLimit(t *testing.T) {
	up := func(step int32, period time.Duration) v1.Autoscaling {
		r := &v1.ScalingRules{MaxStep: new(step)}
		if period > 0 {
			r.Period = dur(period)
		}
		return v1.Autoscaling{MaxReplicas: 20, ScaleUp: r}
	}
	down := v1.Autoscaling{MaxReplicas: 20, ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](1)}}}
	withState := func(i Input, st State) Input { i.State = st; return i }
	runDecide(t, []decideCase{
		{"up limited to maxStep", in(up(2, 0), 1, seen(queue(40, 0))), want{3, RuleStepLimit}},
		{"up within maxStep", in(up(10, 0), 1, seen(queue(12, 0))), want{3, RuleBacklog}},
		{"up step used in the period",
			withState(in(up(2, 0), 3, seen(queue(40, 0))), events(event(10*time.Second, 2))), want{3, RuleStepLimit}},
		{"up step partly used",
			withState(in(up(2, 0), 2, seen(queue(40, 0))), events(event(10*time.Second, 1))), want{3, RuleStepLimit}},
		{"up steps older than the period are spent",
			withState(in(up(2, 0), 3, seen(queue(40, 0))), events(event(15*time.Second, 2))), want{5, RuleStepLimit}},
		{"custom period",
			withState(in(up(2, time.Minute), 3, seen(queue(40, 0))), events(event(30*time.Second, 2))), want{3, RuleStepLimit}},
		{"down steps do not use the up step",
			withState(in(up(2, 0), 3, seen(queue(40, 0))), events(event(5*time.Second, -3))), want{5, RuleStepLimit}},
		{"down limited to maxStep", in(down, 5, seen(queue(4, 0))), want{4, RuleStepLimit}},
		{"down step used in the period",
			withState(in(down, 5, seen(queue(4, 0))), events(event(5*time.Second, -1))), want{5, RuleStepLimit}},
		{"up steps do not use the down step",
			withState(in(down, 5, seen(queue(4, 0))), events(event(5*time.Second, 3))), want{4, RuleStepLimit}},
		{"a longer up period does not stretch the down period",
			withState(in(v1.Autoscaling{MaxReplicas: 20,
				ScaleUp:   &v1.ScalingRules{MaxStep: ptr.To[int32](1), Period: dur(time.Minute)},
				ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](1)}}}, 5, seen(queue(4, 0))),
				events(event(15*time.Second, -1))),
			want{4, RuleStepLimit}},
		{"max beats the step limit",
			in(v1.Autoscaling{MaxReplicas: 5, ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{MaxStep: ptr.To[int32](1)}}}, 9, seen(queue(100, 0))),
			want{5, RuleMaxReplicas}},
		{"min beats the step limit",
			in(v1.Autoscaling{MinReplicas: ptr.To[int32](4), MaxReplicas: 20, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](1)}}, 0, seen()),
			want{4, RuleMinReplicas}},
	})
}

func TestApplied(t *testing.T) {
	stepped := v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](4)}}
	cases := []struct {
		name     string
		spec     v1.Autoscaling
		st       State
		from, to int32
		want     []ScaleEvent
	}{
		{"a change up is recorded", stepped, State{}, 1, 5, []ScaleEvent{{Time: t0, Delta: 4}}},
		{"a change down is recorded", stepped, State{}, 5, 2, []ScaleEvent{{Time: t0, Delta: -3}}},
		{"no change records nothing", stepped, State{}, 2, 2, []ScaleEvent{}},
		{"a negative count reads as zero", stepped, State{}, -3, 2, []ScaleEvent{{Time: t0, Delta: 2}}},
		{"events older than the period are dropped", stepped, events(event(time.Minute, 3), event(time.Second, -1)), 2, 3,
			[]ScaleEvent{event(time.Second, -1), {Time: t0, Delta: 1}}},
		{"without step limits nothing is kept", v1.Autoscaling{MaxReplicas: 20}, events(event(time.Second, 1)), 1, 9,
			[]ScaleEvent{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := cloneState(c.st)
			got := Applied(c.st, c.spec, t0, c.from, c.to)
			if !reflect.DeepEqual(got.ScaleEvents, c.want) {
				t.Errorf("ScaleEvents = %v, want %v", got.ScaleEvents, c.want)
			}
			if !reflect.DeepEqual(c.st, before) {
				t.Errorf("Applied modified its input: %+v", c.st)
			}
		})
	}
}

// TestDecideRecordsNoScaleEvents: a decision is a recommendation; only
// Applied spends a step.
func TestDecideRecordsNoScaleEvents(t *testing.T) {
	stepped := v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](4)}}
	for _, obs := range []Observation{seen(queue(40, 0)), failed()} {
		d := Decide(with(in(stepped, 1, obs), func(i *Input) { i.State = events(event(time.Second, 1)) }))
		if want := []ScaleEvent{event(time.Second, 1)}; !reflect.DeepEqual(d.State.ScaleEvents, want) {
			t.Errorf("error %v: ScaleEvents = %v, want %v", obs.Err, d.State.ScaleEvents, want)
		}
	}
}

// TestDecideAfterApplied runs a burst under a step limit as the controller
// does: decide, apply, decide again before the period is over. The second
// decision counts from the applied count and with the step used up, so it
// neither takes back the step nor takes a second one.
func TestDecideAfterApplied(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 20, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](4)}}
	first := Decide(in(spec, 2, seen(queue(40, 0))))
	if first.DesiredReplicas != 6 {
		t.Fatalf("first decision %d, want 6: %s", first.DesiredReplicas, first.Reason)
	}
	st := Applied(first.State, spec, t0.Add(100*time.Millisecond), 2, 6)
	for _, after := range []time.Duration{400 * time.Millisecond, 15*time.Second + 99*time.Millisecond} {
		d := Decide(Input{Now: t0.Add(after), Spec: spec, Concurrency: 4, CurrentReplicas: 6,
			Observation: seen(queue(40, 0)), State: st})
		if d.DesiredReplicas != 6 || d.Rule != RuleStepLimit {
			t.Errorf("%s later: %d by %s, want 6 by %s: %s", after, d.DesiredReplicas, d.Rule, RuleStepLimit, d.Reason)
		}
	}
	d := Decide(Input{Now: t0.Add(15*time.Second + 100*time.Millisecond), Spec: spec, Concurrency: 4, CurrentReplicas: 6,
		Observation: seen(queue(40, 0)), State: st})
	if d.DesiredReplicas != 10 {
		t.Errorf("one period after the step: %d, want 10: %s", d.DesiredReplicas, d.Reason)
	}
}

func TestDecideRedisError(t *testing.T) {
	fallback := func(replicas, threshold int32) v1.Autoscaling {
		return v1.Autoscaling{MaxReplicas: 100, OnRedisError: &v1.OnRedisError{FailureThreshold: threshold, FallbackReplicas: new(replicas)}}
	}
	spec := v1.Autoscaling{MaxReplicas: 10}
	// failing: n failures before this one, the first of them `since` ago.
	failing := func(i Input, n int32, since time.Duration) Input {
		i.State.ConsecutiveFailures = n
		i.State.FailingSince = t0.Add(-since)
		return i
	}
	floor := MinFallbackDelay
	runDecide(t, []decideCase{
		{"the first failure holds", in(spec, 3, failed()), want{3, RuleRedisErrorHold}},
		{"a hold does not scale up blind",
			with(in(spec, 3, failed()), func(i *Input) { i.State = recs(rec(time.Second, 10)) }), want{3, RuleRedisErrorHold}},
		{"a hold does not scale down blind",
			with(in(spec, 8, failed()), func(i *Input) { i.State = recs(rec(time.Second, 1)) }), want{8, RuleRedisErrorHold}},
		{"a hold keeps a count outside the bounds", in(spec, 12, failed()), want{12, RuleRedisErrorHold}},
		{"a hold at zero stays at zero", in(v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}, 0, failed()),
			want{0, RuleRedisErrorHold}},
		{"a fallback of 1 failure still waits for the floor", in(fallback(5, 1), 3, failed()), want{3, RuleRedisErrorHold}},
		{"below the threshold holds, however long", failing(in(fallback(5, 3), 3, failed()), 1, time.Hour), want{3, RuleRedisErrorHold}},
		{"at the threshold, just short of the floor, holds",
			failing(in(fallback(5, 3), 3, failed()), 2, floor-time.Millisecond), want{3, RuleRedisErrorHold}},
		{"at the threshold and at the floor falls back", failing(in(fallback(5, 3), 3, failed()), 2, floor),
			want{5, RuleRedisErrorFallback}},
		{"at the threshold, past the floor, falls back", failing(in(fallback(5, 3), 3, failed()), 2, floor+time.Millisecond),
			want{5, RuleRedisErrorFallback}},
		{"past the threshold stays at the fallback", failing(in(fallback(5, 3), 5, failed()), 7, time.Hour),
			want{5, RuleRedisErrorFallback}},
		{"the default threshold is 3, before it", failing(in(fallback(5, 0), 3, failed()), 1, time.Hour), want{3, RuleRedisErrorHold}},
		{"the default threshold is 3, at it", failing(in(fallback(5, 0), 3, failed()), 2, time.Hour), want{5, RuleRedisErrorFallback}},
		{"a 300ms blip at a 100ms poll holds",
			with(failing(in(fallback(2, 3), 50, failed()), 2, 300*time.Millisecond), func(i *Input) {
				i.Spec.PollInterval = dur(100 * time.Millisecond)
			}),
			want{50, RuleRedisErrorHold}},
		{"threshold times interval above the floor, just short",
			with(failing(in(fallback(5, 10), 3, failed()), 9, 50*time.Second-time.Millisecond), func(i *Input) {
				i.Spec.PollInterval = dur(5 * time.Second)
			}),
			want{3, RuleRedisErrorHold}},
		{"threshold times interval above the floor, at it",
			with(failing(in(fallback(5, 10), 3, failed()), 9, 50*time.Second), func(i *Input) {
				i.Spec.PollInterval = dur(5 * time.Second)
			}),
			want{5, RuleRedisErrorFallback}},
		{"a fallback below min is honoured",
			failing(in(v1.Autoscaling{MinReplicas: ptr.To[int32](4), MaxReplicas: 10,
				OnRedisError: &v1.OnRedisError{FailureThreshold: 1, FallbackReplicas: ptr.To[int32](0)}}, 6, failed()), 1, floor),
			want{0, RuleRedisErrorFallback}},
		{"a fallback above max is clamped",
			failing(in(v1.Autoscaling{MaxReplicas: 4, OnRedisError: &v1.OnRedisError{FailureThreshold: 1, FallbackReplicas: ptr.To[int32](9)}}, 2, failed()), 1, floor),
			want{4, RuleRedisErrorFallback}},
		{"an upward fallback ignores step limits and windows",
			with(failing(in(v1.Autoscaling{MaxReplicas: 10, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](1), StabilizationWindow: dur(time.Hour)},
				OnRedisError: &v1.OnRedisError{FailureThreshold: 1, FallbackReplicas: ptr.To[int32](8)}}, 2, failed()), 1, floor),
				func(i *Input) { i.State.Recommendations = []Recommendation{rec(time.Minute, 2)} }),
			want{8, RuleRedisErrorFallback}},
		{"a downward fallback keeps the highest recommendation of the scale-down window",
			with(failing(in(fallback(2, 3), 50, failed()), 2, floor), func(i *Input) {
				i.State.Recommendations = []Recommendation{rec(4*time.Minute, 40), rec(time.Minute, 30)}
			}),
			want{40, RuleRedisErrorFallback}},
		{"a downward fallback after the scale-down window",
			with(failing(in(fallback(2, 3), 50, failed()), 2, floor), func(i *Input) {
				i.State.Recommendations = []Recommendation{rec(5*time.Minute, 40)}
			}),
			want{2, RuleRedisErrorFallback}},
		{"a downward fallback takes the scale-down step",
			with(failing(in(fallback(2, 3), 50, failed()), 2, floor), func(i *Input) {
				i.Spec.ScaleDown = &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](5)}}
			}),
			want{45, RuleRedisErrorFallback}},
		{"a downward fallback with the step used up holds",
			with(failing(in(fallback(2, 3), 50, failed()), 2, floor), func(i *Input) {
				i.Spec.ScaleDown = &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: dur(0), MaxStep: ptr.To[int32](5)}}
				i.State.ScaleEvents = []ScaleEvent{event(5*time.Second, -5)}
			}),
			want{50, RuleRedisErrorFallback}},
		{"without a fallback a long outage holds", failing(in(spec, 3, failed()), 1000, time.Hour), want{3, RuleRedisErrorHold}},
		{"a saturated counter holds", failing(in(spec, 3, failed()), math.MaxInt32, time.Hour), want{3, RuleRedisErrorHold}},
		{"success after failures decides again", failing(in(fallback(5, 3), 5, seen(queue(8, 0))), 9, time.Hour), want{2, RuleBacklog}},
	})
}

// TestDecideFailingSince: the streak starts at its first failure and ends
// with a successful read.
func TestDecideFailingSince(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 10}
	earlier := t0.Add(-time.Minute)
	cases := []struct {
		name string
		in   Input
		want time.Time
	}{
		{"the first failure starts it", in(spec, 3, failed()), t0},
		{"a later failure keeps it",
			with(in(spec, 3, failed()), func(i *Input) { i.State.ConsecutiveFailures, i.State.FailingSince = 2, earlier }), earlier},
		{"a failure after a success starts it again",
			with(in(spec, 3, failed()), func(i *Input) { i.State.ConsecutiveFailures, i.State.FailingSince = 0, earlier }), t0},
		{"failures without a start (an older State) start it now",
			with(in(spec, 3, failed()), func(i *Input) { i.State.ConsecutiveFailures = 4 }), t0},
		{"a success clears it",
			with(in(spec, 3, seen(queue(8, 0))), func(i *Input) { i.State.ConsecutiveFailures, i.State.FailingSince = 2, earlier }),
			time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.in).State.FailingSince; !got.Equal(c.want) {
				t.Errorf("FailingSince = %v, want %v", got, c.want)
			}
		})
	}
}

func TestFallbackDelay(t *testing.T) {
	cases := []struct {
		name      string
		threshold int32
		interval  time.Duration
		want      time.Duration
	}{
		{"the floor", 3, time.Second, MinFallbackDelay},
		{"just under the floor", 299, 100 * time.Millisecond, MinFallbackDelay},
		{"at the floor", 300, 100 * time.Millisecond, MinFallbackDelay},
		{"above the floor", 301, 100 * time.Millisecond, 30100 * time.Millisecond},
		{"a huge threshold saturates", math.MaxInt32, 10 * time.Minute, time.Duration(math.MaxInt64)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := SettingsFor(v1.Autoscaling{MaxReplicas: 10, PollInterval: dur(c.interval),
				OnRedisError: &v1.OnRedisError{FailureThreshold: c.threshold}}, 4)
			if got := s.FallbackDelay(); got != c.want {
				t.Errorf("FallbackDelay = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecideRedisErrorState(t *testing.T) {
	earlier := t0.Add(-time.Hour)
	before := State{
		Recommendations:     []Recommendation{rec(10*time.Minute, 9), rec(time.Minute, 4)},
		ConsecutiveFailures: 1,
		FailingSince:        t0.Add(-time.Second),
		LastActiveTime:      earlier,
	}
	cases := []struct {
		name string
		in   Input
		want State
	}{
		{
			name: "a failure counts, adds no recommendation and keeps the last active time",
			in:   with(in(v1.Autoscaling{MaxReplicas: 10}, 3, failed()), func(i *Input) { i.State = before }),
			want: State{
				Recommendations:     []Recommendation{rec(time.Minute, 4)},
				ScaleEvents:         []ScaleEvent{},
				ConsecutiveFailures: 2,
				FailingSince:        t0.Add(-time.Second),
				LastActiveTime:      earlier,
				LastErrorTime:       t0,
			},
		},
		{
			name: "a success resets the counter",
			in:   with(in(v1.Autoscaling{MaxReplicas: 10}, 4, seen(queue(16, 0))), func(i *Input) { i.State = before }),
			want: State{
				// The same recommendation again: one entry, dated now.
				Recommendations: []Recommendation{rec(0, 4)},
				ScaleEvents:     []ScaleEvent{},
				LastActiveTime:  t0,
			},
		},
		{
			name: "a saturated counter stays saturated",
			in: with(in(v1.Autoscaling{MaxReplicas: 10}, 3, failed()), func(i *Input) {
				i.State = State{ConsecutiveFailures: math.MaxInt32, LastActiveTime: earlier}
			}),
			want: State{
				Recommendations:     []Recommendation{},
				ScaleEvents:         []ScaleEvent{},
				ConsecutiveFailures: math.MaxInt32,
				FailingSince:        t0,
				LastActiveTime:      earlier,
				LastErrorTime:       t0,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.in)
			if !reflect.DeepEqual(d.State, c.want) {
				t.Errorf("State =\n%+v\nwant\n%+v", d.State, c.want)
			}
			if wantErr := c.in.Observation.Err != nil; d.RedisError != wantErr {
				t.Errorf("RedisError = %v, want %v", d.RedisError, wantErr)
			}
			if d.RedisError && (d.Backlog != 0 || d.Latency != 0) {
				t.Errorf("blind decision reports backlog %d, latency %s", d.Backlog, d.Latency)
			}
		})
	}
}

func TestRecommendationHistory(t *testing.T) {
	cases := []struct {
		name   string
		recs   []Recommendation
		window time.Duration
		n      int32
		want   []Recommendation
	}{
		{"first", nil, time.Minute, 3, []Recommendation{rec(0, 3)}},
		{"a new value is appended", []Recommendation{rec(time.Second, 2)}, time.Minute, 3,
			[]Recommendation{rec(time.Second, 2), rec(0, 3)}},
		{"a repeated value moves to now", []Recommendation{rec(2*time.Second, 2), rec(time.Second, 3)}, time.Minute, 3,
			[]Recommendation{rec(2*time.Second, 2), rec(0, 3)}},
		{"older than the window is dropped", []Recommendation{rec(time.Minute, 9), rec(time.Second, 2)}, time.Minute, 3,
			[]Recommendation{rec(time.Second, 2), rec(0, 3)}},
		{"a zero window keeps only now", []Recommendation{rec(time.Second, 2)}, 0, 3, []Recommendation{rec(0, 3)}},
		{"a date after now is kept", []Recommendation{rec(-time.Second, 3)}, time.Minute, 3, []Recommendation{rec(-time.Second, 3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := remember(c.recs, t0, c.window, c.n); !reflect.DeepEqual(got, c.want) {
				t.Errorf("remember = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecideReason(t *testing.T) {
	zero := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10, ActivationBacklog: ptr.To[int32](5)}
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"backlog clamped to max", in(v1.Autoscaling{MaxReplicas: 10}, 1, seen(queue(120, 0))),
			"backlog 120 / target 4 per replica = 30, clamped to max 10"},
		{"backlog raised to min", in(v1.Autoscaling{MinReplicas: ptr.To[int32](2), MaxReplicas: 10}, 2, seen()),
			"backlog 0 / target 4 per replica = 0, raised to min 2"},
		{"latency", in(v1.Autoscaling{MaxReplicas: 10, TargetLatency: dur(10 * time.Second)}, 2,
			seen(QueueStats{Name: "critical", Pending: 1, OldestPendingAge: 25 * time.Second})),
			"oldest pending task (queue critical) is 25s, over target latency 10s: 2 * 25s/10s = 5 (backlog asks 1)"},
		{"active floor", in(v1.Autoscaling{MaxReplicas: 20, TargetBacklogPerReplica: ptr.To[int32](100)}, 10, seen(queue(0, 40))),
			"40 running tasks fill 10 replicas at concurrency 4 (other rules ask 1)"},
		{"scale-down window", with(in(v1.Autoscaling{MaxReplicas: 10}, 8, seen(queue(8, 0))), func(i *Input) {
			i.State = recs(rec(time.Minute, 8))
		}), "backlog 8 / target 4 per replica = 2; scale-down window 5m0s holds 8 (highest recommendation 8)"},
		{"step limit", in(v1.Autoscaling{MaxReplicas: 10, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](2)}}, 1, seen(queue(40, 0))),
			"backlog 40 / target 4 per replica = 10; step limit: up by at most 2 per 15s, 0 used: 1 -> 3"},
		{"activation", in(zero, 0, seen(queue(5, 0))), "backlog 5 is not above activation backlog 5: staying at zero"},
		{"scale-to-zero delay", with(in(zero, 1, seen()), func(i *Input) {
			i.State.LastActiveTime = t0.Add(-4*time.Minute - 59*time.Second)
		}), "backlog 0 / target 4 per replica = 0; no work for 4m59s of scaleToZeroDelay 5m0s: holding 1"},
		{"scale to zero", with(in(zero, 1, seen()), func(i *Input) {
			i.State.LastActiveTime = t0.Add(-5 * time.Minute)
		}), "backlog 0 / target 4 per replica = 0; no work for 5m0s (scaleToZeroDelay 5m0s): scaling to zero"},
		{"redis hold", in(v1.Autoscaling{MaxReplicas: 10}, 3, failed()), "Redis read failed (1 in a row): holding 3"},
		{"redis hold before the fallback",
			in(v1.Autoscaling{MaxReplicas: 10, OnRedisError: &v1.OnRedisError{FailureThreshold: 3, FallbackReplicas: ptr.To[int32](2)}}, 3, failed()),
			"Redis read failed (1 in a row for 0s): holding 3, fallback to 2 after 3 failures lasting 30s"},
		{"redis fallback up",
			with(in(v1.Autoscaling{MaxReplicas: 10, OnRedisError: &v1.OnRedisError{FailureThreshold: 1, FallbackReplicas: ptr.To[int32](5)}}, 3, failed()),
				func(i *Input) { i.State.ConsecutiveFailures, i.State.FailingSince = 4, t0.Add(-time.Minute) }),
			"Redis read failed (5 in a row for 1m0s, failureThreshold 1, at least 30s): fallback to 5"},
		{"redis fallback down through the window",
			with(in(v1.Autoscaling{MaxReplicas: 10, OnRedisError: &v1.OnRedisError{FailureThreshold: 1, FallbackReplicas: ptr.To[int32](2)}}, 8, failed()),
				func(i *Input) {
					i.State.ConsecutiveFailures, i.State.FailingSince = 4, t0.Add(-time.Minute)
					i.State.Recommendations = []Recommendation{rec(2*time.Minute, 6)}
				}),
			"Redis read failed (5 in a row for 1m0s, failureThreshold 1, at least 30s): fallback to 2; " +
				"scale-down window 5m0s holds 6 (highest recommendation 6)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(c.in).Reason; got != c.want {
				t.Errorf("Reason =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

// TestDecideDoesNotModifyInput guards the State the caller still holds: the
// history slices have spare capacity, which an append would write into.
func TestDecideDoesNotModifyInput(t *testing.T) {
	spec := v1.Autoscaling{MaxReplicas: 10, ScaleUp: &v1.ScalingRules{MaxStep: ptr.To[int32](3)}}
	for _, obs := range []Observation{seen(queue(40, 0)), failed()} {
		r := make([]Recommendation, 2, 8)
		r[0], r[1] = rec(10*time.Minute, 7), rec(time.Second, 2)
		e := make([]ScaleEvent, 2, 8)
		e[0], e[1] = event(time.Hour, 1), event(time.Second, 1)
		i := in(spec, 2, obs)
		i.State = State{Recommendations: r, ScaleEvents: e}
		wantRecs := []Recommendation{r[0], r[1]}
		wantEvents := []ScaleEvent{e[0], e[1]}

		Decide(i)

		if !reflect.DeepEqual(r, wantRecs) || !reflect.DeepEqual(e, wantEvents) {
			t.Errorf("Decide modified the input state: %v %v", r, e)
		}
		var zeroRec Recommendation
		if r[:3][2] != zeroRec || e[:3][2] != (ScaleEvent{}) {
			t.Errorf("Decide wrote past the input slices: %v %v", r[:3], e[:3])
		}
	}
}

// TestDecideOverTime runs the default rules over a burst and a quiet spell,
// feeding every decision back as the next current count, once a second.
func TestDecideOverTime(t *testing.T) {
	spec := v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}
	backlog := func(s int) int64 {
		switch {
		case s < 60:
			return 40 // a burst: 10 replicas at once
		case s < 120:
			return 4 // a trickle: 1 replica, after the scale-down window
		case s < 600:
			return 0 // quiet: zero after scaleToZeroDelay
		default:
			return 1 // the first task wakes a worker
		}
	}
	want := map[int]want{
		0:   {10, RuleBacklog},
		59:  {10, RuleBacklog},
		60:  {10, RuleStabilization},
		358: {10, RuleStabilization}, // the burst's last recommendation, at t=59s, is 4m59s old
		359: {1, RuleStabilization},  // and now 5m: the trickle's 1 is the highest left
		418: {1, RuleStabilization},
		419: {0, RuleScaleToZero}, // 5m after the last task, at t=119s
		599: {0, RuleActivation},
		600: {1, RuleBacklog},
	}
	var st State
	current := int32(1)
	for s := 0; s <= 600; s++ {
		d := Decide(Input{
			Now: t0.Add(time.Duration(s) * time.Second), Spec: spec, Concurrency: 4,
			CurrentReplicas: current, Observation: seen(queue(backlog(s), 0)), State: st,
		})
		if w, ok := want[s]; ok && (d.DesiredReplicas != w.replicas || d.Rule != w.rule) {
			t.Errorf("t=%ds: %d by %s, want %d by %s\nreason: %s", s, d.DesiredReplicas, d.Rule, w.replicas, w.rule, d.Reason)
		}
		if n := len(d.State.Recommendations); n > 3 {
			t.Errorf("t=%ds: %d recommendations remembered; equal ones should merge", s, n)
		}
		st, current = d.State, d.DesiredReplicas
	}
}
