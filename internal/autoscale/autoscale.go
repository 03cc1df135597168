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

// Package autoscale decides how many workers a QueueWorker runs from the
// statistics of its queues. It is pure: the controller reads Redis and the
// clock, passes both in and carries State from one decision to the next, so
// every rule is testable without a server and the same input always gives the
// same answer.
package autoscale

import (
	"slices"
	"time"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// QueueStats is what one read of Redis says about one queue.
type QueueStats struct {
	// Name of the queue; the reason text names the queue whose latency
	// decided.
	Name string
	// Pending tasks wait for a free worker slot.
	Pending int64
	// Active tasks run now on a live worker. They are backlog when their
	// queue is not paused and, paused or not, count toward the active
	// floor: a paused queue stops handing out tasks, but those already
	// handed out still run and hold their slots until they finish.
	Active int64
	// Orphaned tasks were taken by a worker that died (or lost Redis) and
	// run nowhere: they hold no slot and are not backlog, so they neither
	// count toward the active floor nor ask for workers by number. Only
	// the recoverer inside a running asynq server gives them back to the
	// queue, so while any queue, paused or not, has one, the workers do
	// not stay at or go to zero (RuleRecoverOrphans).
	Orphaned int64
	// Scheduled counts the scheduled tasks due within the reader's
	// look-ahead horizon; tasks due later are not work yet.
	Scheduled int64
	// Retry counts the tasks due for another try within the horizon.
	Retry int64
	// Aggregating counts the tasks waiting in aggregation groups
	// (asynq.Group). They are backlog when their queue is not paused: an
	// asynq server's aggregator turns them into pending tasks, and at zero
	// replicas none runs.
	Aggregating int64
	// Paused queues are not served, so more workers would not drain them:
	// their pending, scheduled, retry and aggregating tasks and their
	// latency are left out of the decision.
	Paused bool
	// OldestPendingAge is the age of the oldest pending task; zero when the
	// queue is empty or the age is unknown, which turns the latency rule off
	// for the queue.
	OldestPendingAge time.Duration
	// OldestDueAge is how long the earliest scheduled or retry task has been
	// due; zero when none is. Such a task waits for an asynq server's
	// forwarder to move it to pending, and at zero replicas none runs.
	OldestDueAge time.Duration
}

// Observation is one read of all the queues of a QueueWorker.
type Observation struct {
	Queues []QueueStats
	// Err is set when Redis could not be read. Queues is then ignored: a
	// partial read would understate the backlog.
	Err error
}

// Input is everything a decision depends on. There is no clock and no
// client: Now and the statistics come from the caller.
type Input struct {
	// Now is the time of the observation; windows, step periods and the
	// scale-to-zero delay are measured from it.
	Now time.Time
	// Spec is spec.autoscaling; unset fields take their defaults (see
	// SettingsFor).
	Spec queueworkerv1alpha1.Autoscaling
	// Concurrency is spec.concurrency: the tasks each worker runs at once.
	Concurrency int32
	// CurrentReplicas is the replica count the worker Deployment asks for
	// now, including any change the controller applied since the last
	// decision. A hold keeps it, and steps are counted from it; a negative
	// count reads as zero.
	CurrentReplicas int32
	// ReadyReplicas is the number of ready worker pods, nil when unknown.
	// The latency rule multiplies it rather than CurrentReplicas: pods that
	// are still starting take no tasks, so the oldest task keeps ageing, and
	// multiplying the requested count on every poll would compound the ratio
	// up to maxReplicas within seconds. Nil multiplies CurrentReplicas.
	ReadyReplicas *int32
	Observation   Observation
	// State is the State of the previous Decision, zero for the first one.
	State State
}

// State is what the autoscaler remembers between decisions. The controller
// keeps it in memory per QueueWorker and passes back the State of the last
// Decision. Losing it, as on an operator restart, is safe: the windows start
// empty and the scale-to-zero delay starts again (unless the controller seeds
// LastActiveTime from status.lastActiveTime).
type State struct {
	// Recommendations are the recent recommendations, already clamped to
	// [min, max], pruned to the longer stabilization window. A run of equal
	// recommendations keeps only its latest time: with time moving forward
	// it falls in exactly the same windows, and the history stays as short
	// as the number of changes.
	Recommendations []Recommendation
	// ScaleEvents are the recent replica changes, pruned to the longest
	// step period; kept only when a step limit is set. Decide never adds to
	// them: a decision is only a recommendation until the controller has
	// written it, so Applied records the change once it has been.
	ScaleEvents []ScaleEvent
	// ConsecutiveFailures counts failed reads of Redis since the last
	// successful one.
	ConsecutiveFailures int32
	// FailingSince is the time of the first of the ConsecutiveFailures,
	// zero after a successful read. The fallback waits for the failures to
	// have lasted Settings.FallbackDelay, not only for their number, so
	// that a short poll interval does not shorten the outage it takes.
	FailingSince time.Time
	// LastActiveTime is the last time a read saw work: a backlog above zero
	// or a running task, paused queues included. A zero value is replaced by
	// the first observation's time, so a freshly created worker does not drop
	// to zero at once. status.lastActiveTime shows it.
	LastActiveTime time.Time
	// LastErrorTime is the last failed read. The scale-to-zero delay counts
	// from the later of the two: whether work came and went while Redis
	// could not be read is unknown, so an outage restarts the delay rather
	// than letting the first read after it scale to zero.
	LastErrorTime time.Time
}

// Recommendation is the replica count the queues asked for at one time.
type Recommendation struct {
	Time     time.Time
	Replicas int32
}

// ScaleEvent is one change of the replica count: Delta is positive up,
// negative down.
type ScaleEvent struct {
	Time  time.Time
	Delta int32
}

// Rule names the rule that settled a decision. The values are CamelCase so
// the controller can use them as condition reasons.
type Rule string

// The rules, in the order Decide applies them.
const (
	// RuleBacklog: ceil(backlog / targetBacklogPerReplica).
	RuleBacklog Rule = "Backlog"
	// RuleLatency: the oldest pending task is older than targetLatency, and
	// the replicas scaled by the ratio ask for more than the backlog does.
	RuleLatency Rule = "Latency"
	// RuleActiveFloor: the running tasks need more replicas than the other
	// rules ask for; scaling below them would take slots from running tasks.
	RuleActiveFloor Rule = "ActiveFloor"
	// RuleMinReplicas: raised to minReplicas.
	RuleMinReplicas Rule = "MinReplicas"
	// RuleMaxReplicas: capped at maxReplicas.
	RuleMaxReplicas Rule = "MaxReplicas"
	// RuleStabilization: a stabilization window holds or limits the change.
	RuleStabilization Rule = "StabilizationWindow"
	// RuleStepLimit: maxStep per period limits the change.
	RuleStepLimit Rule = "StepLimit"
	// RuleActivation: scaled to zero, the workers stay there until the
	// backlog exceeds activationBacklog or a task has waited
	// Settings.WakeAfter, and wake to at least one.
	RuleActivation Rule = "Activation"
	// RuleRecoverOrphans: with minReplicas 0, tasks whose worker died wait
	// in the active list for asynq's recoverer, which runs only inside a
	// worker: the workers wake to one, or keep one instead of going to zero.
	RuleRecoverOrphans Rule = "RecoverOrphans"
	// RuleScaleToZeroDelay: no work, but not for scaleToZeroDelay yet, so
	// one replica stays.
	RuleScaleToZeroDelay Rule = "ScaleToZeroDelay"
	// RuleScaleToZero: no work for scaleToZeroDelay; the workers go to zero.
	RuleScaleToZero Rule = "ScaleToZero"
	// RuleRedisErrorHold: Redis could not be read; the count is held.
	RuleRedisErrorHold Rule = "RedisErrorHold"
	// RuleRedisErrorFallback: Redis could not be read failureThreshold times
	// in a row over at least Settings.FallbackDelay; fallbackReplicas
	// applies, downward through the scale-down window and steps.
	RuleRedisErrorFallback Rule = "RedisErrorFallback"
)

// Decision is the replica count to ask for and why.
type Decision struct {
	// DesiredReplicas is the count to set on the worker Deployment.
	DesiredReplicas int32
	// Rule is the rule that settled DesiredReplicas.
	Rule Rule
	// Reason says how the rules arrived at DesiredReplicas, for conditions,
	// events and `kubectl describe`.
	Reason string
	// Backlog is the sum of pending, active, due and aggregating tasks over
	// the queues that are not paused; zero when RedisError is set.
	Backlog int64
	// Latency is the age of the oldest pending task over the queues that
	// are not paused, the value the latency rule used; zero when RedisError
	// is set.
	Latency time.Duration
	// RedisError is set when the decision was made without a read of Redis:
	// Backlog and Latency say nothing then, and status keeps its last values.
	RedisError bool
	// State is the memory to pass in the next Input.
	State State
}

// Decide turns one observation of the queues into a replica count. It does
// not modify in: the returned State is newly allocated.
//
// With a successful read, the rules apply in this order:
//  1. recommend: the highest of the backlog rule, the latency rule and the
//     active floor, clamped to [minReplicas, maxReplicas]; remembered for
//     the stabilization windows;
//  2. stabilize: up to the lowest recommendation of the scale-up window,
//     down to the highest of the scale-down window;
//  3. step limits: at most maxStep replicas per period in each direction;
//  4. clamp to [minReplicas, maxReplicas] again, since those are hard limits
//     even when the current count lies outside them after a spec change;
//  5. zero: with minReplicas 0, workers at zero wake only for a backlog above
//     activationBacklog, a task that has waited WakeAfter or an orphaned
//     task, and go to zero only after scaleToZeroDelay without work and
//     while no task is orphaned.
//
// When Redis cannot be read the count is held, or after failureThreshold
// failures lasting FallbackDelay moved towards fallbackReplicas; nothing is
// recommended.
func Decide(in Input) Decision {
	s := SettingsFor(in.Spec, in.Concurrency)
	current := max(in.CurrentReplicas, 0)
	if in.Observation.Err != nil {
		return decideBlind(in, s, current)
	}
	return decideSeen(in, s, current)
}

func decideSeen(in Input, s Settings, current int32) Decision {
	now := in.Now
	sum := summarize(in.Observation.Queues)
	st := State{
		LastActiveTime: in.State.LastActiveTime,
		LastErrorTime:  in.State.LastErrorTime,
	}
	if sum.busy() || st.LastActiveTime.IsZero() {
		st.LastActiveTime = now
	}

	base := current
	if in.ReadyReplicas != nil {
		base = min(max(*in.ReadyReplicas, 0), current)
	}
	v := recommend(s, base, sum)
	st.Recommendations = remember(in.State.Recommendations, now, s.historyWindow(), v.replicas)
	stabilize(&v, s, st.Recommendations, now, current)
	events := prune(in.State.ScaleEvents, now, s.eventWindow())
	limitSteps(&v, s, events, now, current)
	clampFinal(&v, s)
	gateZero(&v, s, sum, st, now, current)
	st.ScaleEvents = events

	return Decision{
		DesiredReplicas: v.replicas,
		Rule:            v.rule,
		Reason:          v.reason(),
		Backlog:         sum.backlog,
		Latency:         sum.oldest,
		State:           st,
	}
}

// decideBlind decides without a read of Redis. Holding is the only safe
// answer: scaling down might stop workers in the middle of a burst, scaling
// up might wake a fleet for nothing. Only the fallback the user configured
// moves the count, and only once the outage is more than a blip: after
// failureThreshold failures in a row that have lasted at least
// Settings.FallbackDelay, so that a Redis pod rolling over in a few hundred
// milliseconds at a short poll interval does not count as an outage. A
// fallback above the current count applies at once, since more workers than
// needed is the safe side; one below it is a scale-down like any other and
// goes through the scale-down window (the highest recommendation remembered
// from before the outage still in it) and the scale-down step limits.
func decideBlind(in Input, s Settings, current int32) Decision {
	now := in.Now
	st := State{
		Recommendations:     prune(in.State.Recommendations, now, s.historyWindow()),
		ScaleEvents:         prune(in.State.ScaleEvents, now, s.eventWindow()),
		ConsecutiveFailures: in.State.ConsecutiveFailures,
		FailingSince:        in.State.FailingSince,
		LastActiveTime:      in.State.LastActiveTime,
		LastErrorTime:       now,
	}
	if st.ConsecutiveFailures <= 0 || st.FailingSince.IsZero() {
		st.FailingSince = now
	}
	if st.ConsecutiveFailures < maxInt32 {
		st.ConsecutiveFailures = max(st.ConsecutiveFailures, 0) + 1
	}
	n := st.ConsecutiveFailures
	failing := now.Sub(st.FailingSince)
	delay := s.FallbackDelay()
	v := verdict{replicas: current, rule: RuleRedisErrorHold}
	fallback, ok := s.fallback()
	switch {
	case !ok:
		v.set(current, RuleRedisErrorHold, "Redis read failed (%d in a row): holding %d", n, current)
	case n < s.FailureThreshold || failing < delay:
		v.set(current, RuleRedisErrorHold,
			"Redis read failed (%d in a row for %s): holding %d, fallback to %d after %d failures lasting %s",
			n, short(failing), current, fallback, s.FailureThreshold, short(delay))
	default:
		v.set(fallback, RuleRedisErrorFallback,
			"Redis read failed (%d in a row for %s, failureThreshold %d, at least %s): fallback to %d",
			n, short(failing), s.FailureThreshold, short(delay), fallback)
		if fallback < current {
			stabilize(&v, s, st.Recommendations, now, current)
			limitSteps(&v, s, st.ScaleEvents, now, current)
			v.rule = RuleRedisErrorFallback
		}
	}
	return Decision{
		DesiredReplicas: v.replicas,
		Rule:            v.rule,
		Reason:          v.reason(),
		RedisError:      true,
		State:           st,
	}
}

// Applied returns st with the change of the replica count from from to to,
// written by the controller at at, recorded for the step limits of spec. The
// controller calls it after the write succeeded, not when Decide recommends
// the count: a decision that was never applied (the write failed, or a newer
// decision replaced it) must not use up a step, and one that was applied must
// use it up even when the next decision comes before the controller's view of
// the Deployment has caught up. It does not modify st.
func Applied(st State, spec queueworkerv1alpha1.Autoscaling, at time.Time, from, to int32) State {
	s := SettingsFor(spec, 0)
	out := st
	out.Recommendations = slices.Clone(st.Recommendations)
	out.ScaleEvents = record(prune(st.ScaleEvents, at, s.eventWindow()), s, at, max(to, 0)-max(from, 0))
	return out
}

// summary is one observation reduced to what the rules use.
type summary struct {
	// backlog is pending + active + due + aggregating over the queues not
	// paused.
	backlog int64
	// active is the running tasks of every queue, paused ones included.
	active int64
	// orphaned is the orphaned tasks of every queue, paused ones included,
	// and orphanedQueue the first queue that has some.
	orphaned      int64
	orphanedQueue string
	// oldest is the oldest pending age over the queues not paused, and
	// oldestQueue its queue.
	oldest      time.Duration
	oldestQueue string
	// waited is the longest wait of a task over the queues not paused,
	// pending or due, and waitedQueue its queue.
	waited      time.Duration
	waitedQueue string
}

// summarize adds up the queues. Negative counts, which a correct reader never
// reports, read as zero, and sums saturate instead of wrapping, so that bad
// input cannot turn into a negative backlog and a scale-down.
func summarize(queues []QueueStats) summary {
	var sum summary
	for _, q := range queues {
		active := max(q.Active, 0)
		sum.active = addSat(sum.active, active)
		if q.Orphaned > 0 {
			if sum.orphaned == 0 {
				sum.orphanedQueue = q.Name
			}
			sum.orphaned = addSat(sum.orphaned, q.Orphaned)
		}
		if q.Paused {
			continue
		}
		sum.backlog = addSat(sum.backlog, max(q.Pending, 0))
		sum.backlog = addSat(sum.backlog, active)
		sum.backlog = addSat(sum.backlog, max(q.Scheduled, 0))
		sum.backlog = addSat(sum.backlog, max(q.Retry, 0))
		sum.backlog = addSat(sum.backlog, max(q.Aggregating, 0))
		if q.OldestPendingAge > sum.oldest {
			sum.oldest, sum.oldestQueue = q.OldestPendingAge, q.Name
		}
		if w := max(q.OldestPendingAge, q.OldestDueAge); w > sum.waited {
			sum.waited, sum.waitedQueue = w, q.Name
		}
	}
	return sum
}

// busy reports work in Redis: tasks waiting, due, or running anywhere.
// Orphaned tasks are not work for the scale-to-zero delay: they run
// nowhere, and gateZero keeps a worker for them as long as they last.
func (s summary) busy() bool {
	return s.backlog > 0 || s.active > 0
}
