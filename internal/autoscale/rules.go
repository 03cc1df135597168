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
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

const maxInt32 = math.MaxInt32

// verdict is a replica count on its way through the rules, with the rule
// that last set it and one clause per rule that moved it.
type verdict struct {
	replicas int32
	rule     Rule
	clauses  []string
}

// replace starts the explanation over: the rule that decided supersedes the
// ones it beat.
func (v *verdict) replace(rule Rule, format string, args ...any) {
	v.rule = rule
	v.clauses = []string{fmt.Sprintf(format, args...)}
}

func (v *verdict) set(n int32, rule Rule, format string, args ...any) {
	v.replicas, v.rule = n, rule
	v.clauses = append(v.clauses, fmt.Sprintf(format, args...))
}

// amend adds to the last clause: a clamp belongs to the arithmetic before it.
func (v *verdict) amend(n int32, rule Rule, format string, args ...any) {
	v.replicas, v.rule = n, rule
	v.clauses[len(v.clauses)-1] += ", " + fmt.Sprintf(format, args...)
}

func (v *verdict) reason() string {
	return strings.Join(v.clauses, "; ")
}

// recommend is what the queues ask for, before any memory of the past: the
// backlog rule, raised by the latency rule and by the active floor, never
// lowered by them, and clamped to [min, max].
func recommend(s Settings, base int32, sum summary) verdict {
	target := int64(s.TargetBacklogPerReplica)
	n := ceilDiv(sum.backlog, target)
	var v verdict
	v.replace(RuleBacklog, "backlog %d / target %d per replica = %d", sum.backlog, target, n)

	if s.TargetLatency > 0 && sum.oldest > s.TargetLatency {
		// Throughput has to grow by the ratio for the oldest task to meet
		// the target again, and throughput is proportional to the workers
		// serving. Below the target the rule says nothing: a young queue
		// with a deep backlog still needs the backlog's workers.
		if l := ceilMulDiv(int64(base), sum.oldest, s.TargetLatency); l > n {
			v.replace(RuleLatency, "oldest pending task (queue %s) is %s, over target latency %s: %d * %s/%s = %d (backlog asks %d)",
				sum.oldestQueue, short(sum.oldest), short(s.TargetLatency), base, short(sum.oldest), short(s.TargetLatency), l, n)
			n = l
		}
	}

	// Active tasks hold worker slots. Fewer replicas than they fill would
	// stop workers in the middle of tasks (asynq hands them back after the
	// shutdown timeout), only to start them again elsewhere.
	if f := ceilDiv(sum.active, int64(s.Concurrency)); f > n {
		v.replace(RuleActiveFloor, "%d running tasks fill %d replicas at concurrency %d (other rules ask %d)",
			sum.active, f, s.Concurrency, n)
		n = f
	}

	rec := s.clamp(n)
	v.replicas = rec
	switch {
	case int64(rec) > n:
		v.amend(rec, RuleMinReplicas, "raised to min %d", rec)
	case int64(rec) < n:
		v.amend(rec, RuleMaxReplicas, "clamped to max %d", rec)
	}
	return v
}

// stabilize applies the windows. recs holds the new recommendation too. Going
// up, the lowest recommendation of the scale-up window is the most the
// queues asked for throughout it, so a one-poll spike does not wake a fleet;
// going down, the highest of the scale-down window is the least they asked
// for throughout it, so a queue that empties between bursts keeps its
// workers. Neither window ever reverses the direction of the change.
func stabilize(v *verdict, s Settings, recs []Recommendation, now time.Time, current int32) {
	rec := v.replicas
	lowest, highest := rec, rec
	for _, r := range recs {
		age := now.Sub(r.Time)
		if age < s.ScaleUp.StabilizationWindow {
			lowest = min(lowest, r.Replicas)
		}
		if age < s.ScaleDown.StabilizationWindow {
			highest = max(highest, r.Replicas)
		}
	}
	switch {
	case rec > current && lowest < rec:
		v.set(max(current, lowest), RuleStabilization, "scale-up window %s allows %d (lowest recommendation %d)",
			short(s.ScaleUp.StabilizationWindow), max(current, lowest), lowest)
	case rec < current && highest > rec:
		v.set(min(current, highest), RuleStabilization, "scale-down window %s holds %d (highest recommendation %d)",
			short(s.ScaleDown.StabilizationWindow), min(current, highest), highest)
	}
}

// limitSteps applies maxStep per period: the replicas already changed in the
// same direction during the last period use up the step, as with the
// Kubernetes HPA's scaling policies, so polling often does not multiply it.
func limitSteps(v *verdict, s Settings, events []ScaleEvent, now time.Time, current int32) {
	switch {
	case v.replicas > current && s.ScaleUp.MaxStep > 0:
		used := changed(events, now, s.ScaleUp.Period, 1)
		limit := int64(current) + max(int64(s.ScaleUp.MaxStep)-used, 0)
		if int64(v.replicas) > limit {
			v.set(int32(limit), RuleStepLimit, "step limit: up by at most %d per %s, %d used: %d -> %d",
				s.ScaleUp.MaxStep, short(s.ScaleUp.Period), used, current, limit)
		}
	case v.replicas < current && s.ScaleDown.MaxStep > 0:
		used := changed(events, now, s.ScaleDown.Period, -1)
		limit := int64(current) - max(int64(s.ScaleDown.MaxStep)-used, 0)
		if int64(v.replicas) < limit {
			v.set(int32(limit), RuleStepLimit, "step limit: down by at most %d per %s, %d used: %d -> %d",
				s.ScaleDown.MaxStep, short(s.ScaleDown.Period), used, current, limit)
		}
	}
}

// changed sums the replicas changed in direction (1 up, -1 down) within the
// period before now.
func changed(events []ScaleEvent, now time.Time, period time.Duration, direction int64) int64 {
	var n int64
	for _, e := range events {
		if d := int64(e.Delta) * direction; d > 0 && now.Sub(e.Time) < period {
			n += d
		}
	}
	return n
}

// clampFinal keeps min and max hard limits. Windows and steps start from the
// current count, which lies outside [min, max] after the user narrowed them;
// the user's limits win over the pace of the change.
func clampFinal(v *verdict, s Settings) {
	n := s.clamp(int64(v.replicas))
	switch {
	case n > v.replicas:
		v.set(n, RuleMinReplicas, "raised to min %d", n)
	case n < v.replicas:
		v.set(n, RuleMaxReplicas, "clamped to max %d", n)
	}
}

// gateZero applies the rules about zero, which only exist with
// minReplicas 0 (otherwise the clamp keeps the count above zero). Waking is
// gated by activationBacklog so that a trickle of tasks does not start a pod
// for each; but a task that has waited Settings.WakeAfter wakes the workers
// whatever the backlog, or a few tasks under the activation backlog would
// wait forever, and so would due scheduled and retry tasks, which only a
// running asynq server moves to pending. Once woken, at least one worker
// runs, whatever the windows and steps say, because work with no worker at
// all is the one state the autoscaler must not hold. Going to zero waits for
// scaleToZeroDelay without work, counted from the last work seen or failed
// read; the windows and steps still apply to it, so zero comes after the
// later of the delay and the scale-down window. Orphaned tasks are the
// exception on both sides: asynq's recoverer, which runs only inside a
// worker, is all that gives them back to their queue, so with any orphan
// one worker wakes, whatever the activation backlog, and the last one
// stays, whatever the delay. One is enough: the recoverer of each worker
// takes back the orphans of all its queues.
func gateZero(v *verdict, s Settings, sum summary, st State, now time.Time, current int32) {
	if s.MinReplicas > 0 || s.MaxReplicas == 0 {
		return
	}
	if current == 0 {
		wake := s.WakeAfter()
		switch {
		case sum.backlog > int64(s.ActivationBacklog):
			if v.replicas == 0 {
				v.set(1, RuleActivation, "backlog %d is above activation backlog %d: waking to 1",
					sum.backlog, s.ActivationBacklog)
			}
		case sum.waited > 0 && sum.waited >= wake:
			n := max(v.replicas, 1)
			v.set(n, RuleActivation, "a task of queue %s has waited %s, at least %s: waking to %d",
				sum.waitedQueue, short(sum.waited), short(wake), n)
		case sum.orphaned > 0:
			v.replace(RuleRecoverOrphans, "%d orphaned tasks (queue %s) wait for asynq's recoverer, which runs only in a worker: waking to 1",
				sum.orphaned, sum.orphanedQueue)
			v.replicas = 1
		default:
			v.replicas = 0
			v.replace(RuleActivation, "backlog %d is not above activation backlog %d: staying at zero",
				sum.backlog, s.ActivationBacklog)
		}
		return
	}
	if v.replicas > 0 {
		return
	}
	if sum.orphaned > 0 {
		v.set(1, RuleRecoverOrphans, "%d orphaned tasks (queue %s) wait for asynq's recoverer, which runs only in a worker: holding 1",
			sum.orphaned, sum.orphanedQueue)
		return
	}
	quietSince := st.LastActiveTime
	if st.LastErrorTime.After(quietSince) {
		quietSince = st.LastErrorTime
	}
	idle := now.Sub(quietSince)
	if idle < s.ScaleToZeroDelay {
		v.set(1, RuleScaleToZeroDelay, "no work for %s of scaleToZeroDelay %s: holding 1",
			short(idle), short(s.ScaleToZeroDelay))
		return
	}
	v.set(0, RuleScaleToZero, "no work for %s (scaleToZeroDelay %s): scaling to zero",
		short(idle), short(s.ScaleToZeroDelay))
}

// remember adds the recommendation n to the history and drops what no window
// reaches any more. It allocates: the caller's State must not change.
func remember(recs []Recommendation, now time.Time, window time.Duration, n int32) []Recommendation {
	out := prune(recs, now, window)
	if last := len(out) - 1; last >= 0 && out[last].Replicas == n {
		if now.After(out[last].Time) {
			out[last].Time = now
		}
		return out
	}
	return append(out, Recommendation{Time: now, Replicas: n})
}

// record adds a replica change to the events when a step limit needs them.
func record(events []ScaleEvent, s Settings, now time.Time, delta int32) []ScaleEvent {
	if delta == 0 || s.eventWindow() == 0 {
		return events
	}
	return append(events, ScaleEvent{Time: now, Delta: delta})
}

// prune returns a new slice of the entries younger than window. Entries
// dated after now (a clock that stepped back) are kept: they are recent.
func prune[T interface{ at() time.Time }](entries []T, now time.Time, window time.Duration) []T {
	out := make([]T, 0, len(entries)+1)
	for _, e := range entries {
		if now.Sub(e.at()) < window {
			out = append(out, e)
		}
	}
	return out
}

func (r Recommendation) at() time.Time { return r.Time }

func (e ScaleEvent) at() time.Time { return e.Time }

// addSat adds two non-negative counts, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// ceilDiv is ceil(a / b) for a >= 0 and b >= 1, without overflow.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// ceilMulDiv is ceil(n * age / target) for n, age >= 0 and target > 0,
// computed exactly in 128 bits and saturating at math.MaxInt64: a task stuck
// for weeks times thousands of replicas overflows 64 bits of nanoseconds.
func ceilMulDiv(n int64, age, target time.Duration) int64 {
	hi, lo := bits.Mul64(uint64(n), uint64(age))
	t := uint64(target)
	if hi >= t {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, t)
	if q >= math.MaxInt64 {
		return math.MaxInt64
	}
	if r != 0 {
		q++
	}
	return int64(q)
}

// short renders a duration for reasons, to the millisecond.
func short(d time.Duration) time.Duration {
	return d.Truncate(time.Millisecond)
}
