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

// Package drain decides which worker pods a scale-down removes and when
// (spec.autoscaling.scaleDown.drain). It ranks the pods from the cheapest
// to remove, an idle one, to the dearest, judges from asynq's heartbeats
// whether a draining pod is idle as docs/worker-contract.md defines it, and
// plans each step of a drain. It is pure: the controller reads the pods,
// the heartbeats and the clock, and writes what the plan says.
package drain

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

const (
	// DefaultShutdownTimeout is the QueueWorker's shutdownTimeout when
	// unset (the CRD's default).
	DefaultShutdownTimeout = 25 * time.Second
	// maxDefaultDrainTime caps the default maxDrainTime.
	maxDefaultDrainTime = time.Hour
	// drainTimeFactor is the default maxDrainTime in shutdownTimeouts.
	drainTimeFactor = 10
	// keyMargin is how much longer a drain key lives than the drain is
	// waited for, so that it outlives a late renewal; a key left behind by
	// an operator that went away expires soon after.
	keyMargin = time.Minute
)

// ReleasedCost is the pod deletion cost of a drained pod whose removal
// the operator asked for: the lowest there is, so that the ReplicaSet
// removes it before any pod that still serves.
const ReleasedCost = math.MinInt32

// PolicyOf is the drain policy of an autoscaling block: PreferIdle unless
// scaleDown.drain says otherwise, None without autoscaling.
func PolicyOf(as *queueworkerv1alpha1.Autoscaling) queueworkerv1alpha1.DrainPolicy {
	switch {
	case as == nil:
		return queueworkerv1alpha1.DrainPolicyNone
	case as.ScaleDown == nil || as.ScaleDown.Drain == nil || as.ScaleDown.Drain.Policy == "":
		return queueworkerv1alpha1.DrainPolicyPreferIdle
	}
	return as.ScaleDown.Drain.Policy
}

// MaxDrainTime is how long a draining pod is waited for: scaleDown.drain's
// maxDrainTime, or ten times the shutdownTimeout, at most an hour.
func MaxDrainTime(spec *queueworkerv1alpha1.QueueWorkerSpec) time.Duration {
	if as := spec.Autoscaling; as != nil && as.ScaleDown != nil && as.ScaleDown.Drain != nil &&
		as.ScaleDown.Drain.MaxDrainTime != nil && as.ScaleDown.Drain.MaxDrainTime.Duration > 0 {
		return as.ScaleDown.Drain.MaxDrainTime.Duration
	}
	shutdown := DefaultShutdownTimeout
	if spec.ShutdownTimeout != nil && spec.ShutdownTimeout.Duration > 0 {
		shutdown = spec.ShutdownTimeout.Duration
	}
	return min(drainTimeFactor*shutdown, maxDefaultDrainTime)
}

// KeyTTL is the TTL of a drain key for a drain waited for at most
// maxDrain: the operator renews the key while it waits, and the worker
// resumes on its own if the operator goes away.
func KeyTTL(maxDrain time.Duration) time.Duration {
	return maxDrain + keyMargin
}

// Hostname is the host name the kubelet gives a pod without
// spec.hostname: its name cut to 63 characters, with trailing '-' and '.'
// removed. asynq writes it as the host of the pod's servers.
func Hostname(pod string) string {
	if len(pod) > 63 {
		pod = pod[:63]
	}
	return strings.TrimRight(pod, "-.")
}

// Server is one asynq server of a pod, from its last heartbeat.
type Server struct {
	// ID is asynq's server id.
	ID string
	// Status is "active", "stopped", or empty when unknown.
	Status string
	// Running counts its running tasks.
	Running int64
	// OldestStart is the earliest start among its running tasks, zero
	// when none was timed.
	OldestStart time.Time
	// Expires is when its heartbeat expires: a later one is a later
	// heartbeat.
	Expires time.Time
}

// The asynq server statuses a drain looks at.
const (
	statusStopped = "stopped"
)

// Pod is a worker pod, as the controller read it.
type Pod struct {
	Name    string
	Created time.Time
	// Ready is the pod's Ready condition.
	Ready bool
	// Known says whether the heartbeats were read and would list every
	// server of the pod: Servers is then complete, and empty means that
	// the pod runs no asynq server.
	Known   bool
	Servers []Server
	// DrainingSince is when the operator asked it to drain, zero when it
	// does not drain.
	DrainingSince time.Time
	// Released says that the operator lowered the replicas for it after
	// its drain (it carries ReleasedCost).
	Released bool
	// Cost is the pod's deletion cost, nil when it has none.
	Cost *int32
	// LastBusy is when a heartbeat of its host last showed a task
	// running or a server not stopped (MayRun), zero when none did or a
	// later one showed every server stopped and idle. The controller
	// remembers it: a heartbeat that vanishes says nothing of the tasks.
	LastBusy time.Time
}

// LeaseDuration is asynq's task lease: a task whose server stopped
// extending it for this long is an orphan that asynq gives back to its
// queue. A host whose heartbeat vanished for longer no longer runs a task
// that counts.
const LeaseDuration = 30 * time.Second

// MayRun says whether the pod's heartbeats show a task running or a
// server that may still take one (not stopped).
func MayRun(p Pod) bool {
	for _, s := range p.Servers {
		if s.Running > 0 || s.Status != statusStopped {
			return true
		}
	}
	return false
}

// Running is the number of tasks the pod runs over all its servers.
func (p Pod) Running() int64 {
	var n int64
	for _, s := range p.Servers {
		n += s.Running
	}
	return n
}

// oldestStart is the earliest task start over the pod's servers, zero
// when none was timed.
func (p Pod) oldestStart() time.Time {
	var t time.Time
	for _, s := range p.Servers {
		if !s.OldestStart.IsZero() && (t.IsZero() || s.OldestStart.Before(t)) {
			t = s.OldestStart
		}
	}
	return t
}

// class orders pods by what removing them costs: 0 idle (nothing runs, or
// no heartbeat and not ready, so not serving), 1 busy, 2 unknown (no
// heartbeat yet, but ready: it may be serving).
func (p Pod) class() int {
	switch {
	case p.Known && len(p.Servers) > 0:
		if p.Running() == 0 {
			return 0
		}
		return 1
	case !p.Ready:
		return 0
	}
	return 2
}

// compare orders pods from the cheapest to remove: idle ones first, then
// those running the fewest tasks, then the youngest work (the latest
// oldest task start; untimed tasks count as the oldest), then the youngest
// pod.
func compare(a, b Pod) int {
	if c := cmp.Compare(a.class(), b.class()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Running(), b.Running()); c != 0 {
		return c
	}
	ao, bo := a.oldestStart(), b.oldestStart()
	if c := cmp.Compare(bo.UnixNano(), ao.UnixNano()); !ao.IsZero() && !bo.IsZero() && c != 0 {
		return c
	}
	if ao.IsZero() != bo.IsZero() {
		// With tasks running, an unknown start may be the oldest.
		if ao.IsZero() {
			return 1
		}
		return -1
	}
	if c := b.Created.Compare(a.Created); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// Rank returns the pods from the cheapest to remove to the dearest.
func Rank(pods []Pod) []Pod {
	out := slices.Clone(pods)
	slices.SortStableFunc(out, compare)
	return out
}

// Costs are the pod deletion costs that make the ReplicaSet remove the
// pods in Rank's order. While the pods' present costs already follow that
// order (the ReplicaSet removed the cheapest, say), they are kept, so that
// a scale-down writes only the costs that must change; otherwise the pods
// are numbered by rank from 0. A released pod keeps ReleasedCost.
func Costs(pods []Pod) map[string]int32 {
	costs := make(map[string]int32, len(pods))
	var ranked []Pod
	for _, p := range Rank(pods) {
		if p.Released {
			costs[p.Name] = ReleasedCost
			continue
		}
		ranked = append(ranked, p)
	}
	ordered := true
	for i, p := range ranked {
		if p.Cost == nil || *p.Cost == ReleasedCost || (i > 0 && *p.Cost <= *ranked[i-1].Cost) {
			ordered = false
			break
		}
	}
	for i, p := range ranked {
		if ordered {
			costs[p.Name] = *p.Cost
		} else {
			costs[p.Name] = int32(i)
		}
	}
	return costs
}

// Stops remembers, per pod and asynq server id, the expiry of the first
// heartbeat seen stopped: asynq reports stopped before its last dequeue
// returns, so only a later heartbeat shows every task the server runs.
type Stops map[string]map[string]time.Time

// Drained reports whether a draining pod is idle as the worker contract
// defines it: every asynq server of its host reports stopped and no
// running task in a heartbeat later than the first that said stopped; or
// the host has no asynq server and the pod is not ready, and was not seen
// busy (LastBusy) for LeaseDuration: a heartbeat vanishes with a Redis
// restart or a worker's lost link while its tasks run on. It records the
// stopped servers it sees in stops.
func Drained(p Pod, now time.Time, stops Stops) bool {
	if !p.Known {
		return false
	}
	if len(p.Servers) == 0 {
		delete(stops, p.Name)
		return !p.Ready && (p.LastBusy.IsZero() || now.Sub(p.LastBusy) >= LeaseDuration)
	}
	seen := stops[p.Name]
	if seen == nil {
		seen = map[string]time.Time{}
		stops[p.Name] = seen
	}
	idle := true
	for _, s := range p.Servers {
		if s.Status != statusStopped {
			delete(seen, s.ID)
			idle = false
			continue
		}
		first, ok := seen[s.ID]
		if !ok {
			seen[s.ID] = s.Expires
			idle = false
			continue
		}
		if s.Running > 0 || !s.Expires.After(first) {
			idle = false
		}
	}
	for id := range seen {
		if !slices.ContainsFunc(p.Servers, func(s Server) bool { return s.ID == id }) {
			delete(seen, id)
		}
	}
	return idle
}

// Plan is one step of the Drain policy.
type Plan struct {
	// Start are the pods to ask to drain.
	Start []string
	// Cancel are the draining pods whose drain to cancel, and the
	// released pods that are replicas again.
	Cancel []string
	// Release are the draining pods to remove now: they get ReleasedCost
	// and the replicas drop by one for each.
	Release []string
	// Overdue are the pods of Release that still run tasks: their drain
	// took longer than maxDrainTime.
	Overdue []string
	// Replicas is the replica count to write.
	Replicas int32
}

// Input is what PlanDrain decides on.
type Input struct {
	// Current is the Deployment's replica count, Desired the autoscaler's
	// decision.
	Current, Desired int32
	// Pods are the worker pods that are not being deleted.
	Pods []Pod
	// Now is the time; MaxDrainTime bounds a drain.
	Now          time.Time
	MaxDrainTime time.Duration
}

// PlanDrain plans one step of the Drain policy: it never lowers the
// replicas for a pod that runs tasks. A scale-down of n replicas drains
// the n cheapest pods (Rank) and keeps the replicas; each drained pod that
// is idle (Drained) or has drained for MaxDrainTime is released, one
// replica less each. A decision at or above the current count cancels
// every drain first, since a draining pod is the cheapest replica to
// keep, and then scales as decided; a smaller scale-down cancels the
// drains it no longer needs, those running the most tasks first.
//
// A released pod is one the ReplicaSet is to remove. One it kept instead
// (it removed another, such as a pending pod, which ranks before any
// cost), seen once the pods are down to the replica count, is a replica
// again: its release is cancelled, like a drain, so that it serves; so is
// every release on a scale-up, which may leave the ReplicaSet nothing to
// remove. Such a pod is then a candidate like any other: it is drained
// again, its tasks looked at, before any later release.
func PlanDrain(in Input, stops Stops) Plan {
	var draining, released, candidates []Pod
	for _, p := range in.Pods {
		switch {
		case p.Released:
			released = append(released, p)
		case !p.DrainingSince.IsZero():
			draining = append(draining, p)
		default:
			candidates = append(candidates, p)
		}
	}
	plan := Plan{Replicas: in.Current}
	if in.Desired > in.Current || len(in.Pods) <= int(in.Current) {
		for _, p := range released {
			plan.Cancel = append(plan.Cancel, p.Name)
			delete(stops, p.Name)
			p.Released, p.DrainingSince = false, time.Time{}
			candidates = append(candidates, p)
		}
	}
	if in.Desired >= in.Current {
		for _, p := range draining {
			plan.Cancel = append(plan.Cancel, p.Name)
			delete(stops, p.Name)
		}
		plan.Replicas = in.Desired
		return plan
	}
	need := int(in.Current - in.Desired)
	if len(draining) > need {
		// Cancel the drains furthest from their end.
		slices.SortStableFunc(draining, func(a, b Pod) int { return compare(b, a) })
		for _, p := range draining[:len(draining)-need] {
			plan.Cancel = append(plan.Cancel, p.Name)
			delete(stops, p.Name)
		}
		draining = draining[len(draining)-need:]
	}
	for _, p := range Rank(candidates)[:min(need-len(draining), len(candidates))] {
		plan.Start = append(plan.Start, p.Name)
		p.DrainingSince = in.Now
		draining = append(draining, p)
	}
	for _, p := range draining {
		idle := Drained(p, in.Now, stops)
		overdue := !idle && in.Now.Sub(p.DrainingSince) >= in.MaxDrainTime
		if idle || overdue {
			plan.Release = append(plan.Release, p.Name)
			plan.Replicas--
			delete(stops, p.Name)
		}
		if overdue {
			plan.Overdue = append(plan.Overdue, p.Name)
		}
	}
	return plan
}
