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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
	"github.com/queueworker/queueworker-operator/internal/drain"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/scaling"
)

// Scaler reads the queues of autoscaled QueueWorkers and decides their
// replica counts (a *scaling.Autoscaler in the operator). reconcileScale registers
// every autoscaled QueueWorker with Update and reports each count it writes
// with Applied; a QueueWorker that is gone or no longer autoscaled is
// removed. SetupWithManager adds the Scaler to the manager as a runnable and
// reconciles the QueueWorkers it sends on Events.
type Scaler interface {
	manager.Runnable
	// Update registers or refreshes a QueueWorker and returns the result
	// its reconcile should write, nil before the first read.
	Update(name types.NamespacedName, in scaling.Target) (*scaling.Result, error)
	// Applied tells that the reconcile changed the worker Deployment from
	// from to to replicas at at; written is the Deployment as the API
	// server returned it, nil when unknown.
	Applied(name types.NamespacedName, from, to int32, at time.Time, written metav1.Object)
	// Remove forgets a QueueWorker.
	Remove(name types.NamespacedName)
	// Events carries the QueueWorkers whose reconcile has news to write.
	Events() <-chan event.TypedGenericEvent[client.Object]
}

// reconcileScale owns the worker Deployment's spec.replicas and the
// RedisReachable and ScalingActive conditions. Without autoscaling the
// QueueWorker's spec.replicas (which `kubectl scale` sets through /scale)
// rules, one worker when unset. With autoscaling the autoscaler's latest
// decision rules; before its first read of Redis the count is only kept
// within [minReplicas, maxReplicas]. The new count is written at once,
// with server-side apply as scaleFieldOwner, also when only the ownership
// of spec.replicas is missing (a new Deployment, or a count someone else
// wrote): reconcileDeployment leaves the field out of its applies once this
// manager owns it. The count is written before the conditions are set, so
// that a failed write leaves them as they were.
//
// Which pods a scale-down removes follows scaleDown.drain: right before
// the count drops, PreferIdle sets the pods' deletion costs; Drain runs
// reconcileDrain instead, which may keep the count above the decision
// while pods drain and asks to come back at the poll interval meanwhile;
// before the first read Drain lowers nothing.
// Drains of a QueueWorker whose policy is not Drain are ended, and under
// None the pods lose their deletion costs.
func (r *QueueWorkerReconciler) reconcileScale(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw, dep := st.qw, st.deployment
	key := client.ObjectKeyFromObject(qw)
	current := ptr.Deref(dep.Spec.Replicas, 1)
	desired := manualReplicas(qw, current)
	cause := scaleCause(qw)

	autoscaled := qw.Spec.Autoscaling != nil && r.Autoscaler != nil
	var res *scaling.Result
	if autoscaled {
		var err error
		res, err = r.Autoscaler.Update(key, scaleTarget(st, dep))
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("registering with the autoscaler: %w", err)
		}
		if res != nil {
			current = res.CurrentReplicas
			desired = res.Decision.DesiredReplicas
			cause = fmt.Sprintf("backlog %d: %s", res.Decision.Backlog, res.Decision.Reason)
		}
	} else if r.Autoscaler != nil {
		r.Autoscaler.Remove(key)
	}

	policy := queueworkerv1alpha1.DrainPolicyNone
	if autoscaled {
		policy = drain.PolicyOf(qw.Spec.Autoscaling)
	}
	var result ctrl.Result
	// Before the first read nothing is known of the pods' servers.
	servers := queue.Servers{Err: errNotRead}
	if res != nil {
		servers = res.Servers
		if latest, ok := r.latestServers(key); ok {
			servers = latest
		}
	}
	if policy == queueworkerv1alpha1.DrainPolicyDrain && r.Drainer != nil && res != nil {
		var err error
		if desired, err = r.reconcileDrain(ctx, st, res, servers, current, desired); err != nil {
			return ctrl.Result{}, fmt.Errorf("draining worker pods: %w", err)
		}
		if len(qw.Status.Draining) > 0 {
			result.RequeueAfter = autoscale.SettingsFor(*qw.Spec.Autoscaling, concurrencyOf(qw)).PollInterval
		}
	} else if policy == queueworkerv1alpha1.DrainPolicyDrain && r.Drainer != nil {
		// Before the first read (an operator restart, a new endpoint)
		// drains are left as they are, and nothing is removed blind: a
		// lower count waits for a read to drain pods first.
		desired = max(desired, current)
	} else {
		if err := r.clearDrains(ctx, st, policy); err != nil {
			return ctrl.Result{}, fmt.Errorf("ending the drains of worker pods: %w", err)
		}
	}
	// Right before a scale-down, and not earlier, so that the costs say
	// what the pods run now: the ReplicaSet removes the cheapest. The
	// Drain policy gives its released pods the lowest cost itself.
	if desired < current && policy == queueworkerv1alpha1.DrainPolicyPreferIdle {
		if err := r.setDeletionCosts(ctx, qw, servers); err != nil {
			return ctrl.Result{}, fmt.Errorf("ranking the worker pods for a scale-down: %w", err)
		}
	}

	if current != desired || !st.scaleOwnsReplicas {
		ac := appsv1ac.Deployment(dep.Name, dep.Namespace).WithSpec(appsv1ac.DeploymentSpec().WithReplicas(desired))
		if err := r.Client.Apply(ctx, ac, client.FieldOwner(scaleFieldOwner), client.ForceOwnership); err != nil {
			return ctrl.Result{}, fmt.Errorf("scaling the worker Deployment: %w", err)
		}
		dep.Spec.Replicas = ptr.To(desired)
		dep.Generation = ptr.Deref(ac.Generation, dep.Generation)
		dep.ResourceVersion = ptr.Deref(ac.ResourceVersion, dep.ResourceVersion)
		st.scaleOwnsReplicas = true
	}

	if autoscaled {
		r.applyAutoscalingStatus(st, res)
	} else {
		clearAutoscalingStatus(qw)
	}
	qw.Status.DesiredReplicas = desired
	if current == desired {
		return result, nil
	}
	now := metav1.NewTime(r.now())
	if autoscaled {
		r.Autoscaler.Applied(key, current, desired, now.Time, dep)
	}
	reason := queueworkerv1alpha1.ReasonScaledUp
	if desired < current {
		reason = queueworkerv1alpha1.ReasonScaledDown
	}
	qw.Status.LastScaleTime = &now
	countScale(key, current, desired)
	logf.FromContext(ctx).Info("scaled the workers", "from", current, "to", desired, "cause", cause)
	st.events.Eventf(qw, dep, "Normal", reason, "Scale", "scaled from %d to %d replicas: %s", current, desired, cause)
	return result, nil
}

// scaleTarget is what the autoscaler needs of an autoscaled QueueWorker
// whose connection is resolved, with dep its worker Deployment.
func scaleTarget(st *queueWorkerState, dep *appsv1.Deployment) scaling.Target {
	qw := st.qw
	return scaling.Target{
		// Only the name: the autoscaler's wake-ups read the object while a
		// reconcile writes qw.
		Object:               &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: qw.Namespace, Name: qw.Name}},
		UID:                  qw.UID,
		Endpoint:             st.endpoint,
		Credentials:          st.credentials,
		Queues:               queuesOf(qw),
		Spec:                 *qw.Spec.Autoscaling,
		Concurrency:          concurrencyOf(qw),
		CurrentReplicas:      ptr.Deref(dep.Spec.Replicas, 1),
		ReadyReplicas:        dep.Status.ReadyReplicas,
		DeploymentUID:        dep.UID,
		DeploymentGeneration: dep.Generation,
		LastActiveTime:       lastActive(qw),
	}
}

// errNotRead stands for the asynq servers before the autoscaler's first
// read of a QueueWorker's Redis.
var errNotRead = errors.New("the asynq servers have not been read yet")

// applyAutoscalingStatus copies the autoscaler's latest reading into the
// status and sets RedisReachable and ScalingActive, with an event when
// Redis becomes unreachable or reachable again. Before the autoscaler's
// first read it keeps a reading of the current spec (readingKept), else
// marks both conditions as awaiting the read.
func (r *QueueWorkerReconciler) applyAutoscalingStatus(st *queueWorkerState, res *scaling.Result) {
	qw := st.qw
	if res == nil {
		if readingKept(qw) {
			return
		}
		r.setCondition(qw, queueworkerv1alpha1.ConditionRedisReachable, metav1.ConditionUnknown,
			queueworkerv1alpha1.ReasonAwaitingRead, "the queues have not been read yet")
		r.setCondition(qw, queueworkerv1alpha1.ConditionScalingActive, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonAwaitingRead, "the queues have not been read yet")
		return
	}
	wasReachable := !apimeta.IsStatusConditionFalse(qw.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
	if res.Err != nil {
		msg := fmt.Sprintf("reading the queues: %v; %s", res.Err, res.Decision.Reason)
		r.setCondition(qw, queueworkerv1alpha1.ConditionRedisReachable, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonRedisUnreachable, msg)
		r.setCondition(qw, queueworkerv1alpha1.ConditionScalingActive, metav1.ConditionFalse,
			string(res.Decision.Rule), res.Decision.Reason)
		if wasReachable {
			st.events.Eventf(qw, nil, "Warning", queueworkerv1alpha1.ReasonRedisUnreachable, "ReadQueues", "%s", msg)
		}
		// Keep the last statistics: they are what the held count rests on.
		return
	}
	if !wasReachable {
		st.events.Eventf(qw, nil, "Normal", queueworkerv1alpha1.ReasonRedisReachable, "ReadQueues",
			"reading the queues again after %d failed reads", res.RecoveredAfter)
	}
	r.setCondition(qw, queueworkerv1alpha1.ConditionRedisReachable, metav1.ConditionTrue,
		queueworkerv1alpha1.ReasonRedisReachable, fmt.Sprintf("read %d queues", len(res.Stats)))
	r.setCondition(qw, queueworkerv1alpha1.ConditionScalingActive, metav1.ConditionTrue,
		string(res.Decision.Rule), res.Decision.Reason)

	qw.Status.Queues = qw.Status.Queues[:0]
	var latency time.Duration
	for _, s := range res.Stats {
		qs := queueworkerv1alpha1.QueueStatus{
			Name: s.Queue, Pending: s.Pending, Active: s.Active, Orphaned: s.Orphaned, Scheduled: s.Scheduled,
			Retry: s.Retry, Aggregating: s.Aggregating, Archived: s.Archived, Paused: s.Paused,
		}
		if s.OldestKnown && s.OldestPendingAge > 0 {
			qs.Latency = &metav1.Duration{Duration: s.OldestPendingAge.Round(roundLatency)}
			latency = max(latency, qs.Latency.Duration)
		}
		qw.Status.Queues = append(qw.Status.Queues, qs)
	}
	qw.Status.Backlog = res.Decision.Backlog
	qw.Status.Latency = nil
	if latency > 0 {
		qw.Status.Latency = &metav1.Duration{Duration: latency}
	}
	if t := res.Decision.State.LastActiveTime; !t.IsZero() {
		lat := metav1.NewTime(t.Truncate(secondPrecision))
		qw.Status.LastActiveTime = &lat
	}
}

// readingKept tells whether the status shows a reading of the current
// spec: an operator that (re)starts, or a new leader, keeps it until its
// own first read replaces it, rather than writing every QueueWorker's
// status twice (Unknown, then the same reading again). A new spec, or a
// status without a reading, is marked as awaiting the read.
func readingKept(qw *queueworkerv1alpha1.QueueWorker) bool {
	c := apimeta.FindStatusCondition(qw.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
	return c != nil && c.Status != metav1.ConditionUnknown && c.ObservedGeneration == qw.Generation
}

// Status precision: latencies to a tenth of a second, times to the second
// (what metav1.Time keeps), so an unchanged reading writes nothing.
const (
	roundLatency    = 100 * time.Millisecond
	secondPrecision = time.Second
)

// clearAutoscalingStatus drops what only the autoscaler reports.
func clearAutoscalingStatus(qw *queueworkerv1alpha1.QueueWorker) {
	apimeta.RemoveStatusCondition(&qw.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
	apimeta.RemoveStatusCondition(&qw.Status.Conditions, queueworkerv1alpha1.ConditionScalingActive)
	qw.Status.Queues = nil
	qw.Status.Backlog = 0
	qw.Status.Latency = nil
	// Work seen before autoscaling was switched off says nothing about the
	// idle time when it is switched on again: the scale-to-zero delay
	// counts from what the autoscaler sees then.
	qw.Status.LastActiveTime = nil
}

// initialReplicas is the replica count of a new worker Deployment: the
// lower bound of an autoscaled one, so that a QueueWorker with minReplicas
// 0 starts no pod until its queues ask for one.
func initialReplicas(qw *queueworkerv1alpha1.QueueWorker) int32 {
	return manualReplicas(qw, 0)
}

// manualReplicas is the count the spec asks for without reading Redis:
// spec.replicas (one when unset), or the current count clamped to the
// autoscaling bounds.
func manualReplicas(qw *queueworkerv1alpha1.QueueWorker, current int32) int32 {
	as := qw.Spec.Autoscaling
	if as == nil {
		return ptr.Deref(qw.Spec.Replicas, 1)
	}
	lo, hi := ptr.Deref(as.MinReplicas, 1), as.MaxReplicas
	return min(max(current, lo), hi)
}

// queuesOf lists a QueueWorker's queue names in spec order.
func queuesOf(qw *queueworkerv1alpha1.QueueWorker) []string {
	names := make([]string, 0, len(qw.Spec.Queues))
	for _, q := range qw.Spec.Queues {
		names = append(names, q.Name)
	}
	return names
}

// lastActive reads status.lastActiveTime, zero when unset.
func lastActive(qw *queueworkerv1alpha1.QueueWorker) time.Time {
	if qw.Status.LastActiveTime == nil {
		return time.Time{}
	}
	return qw.Status.LastActiveTime.Time
}

func scaleCause(qw *queueworkerv1alpha1.QueueWorker) string {
	if qw.Spec.Autoscaling != nil {
		return "kept within autoscaling.minReplicas and maxReplicas"
	}
	return "spec.replicas"
}

func concurrencyOf(qw *queueworkerv1alpha1.QueueWorker) int32 {
	if qw.Spec.Concurrency > 0 {
		return qw.Spec.Concurrency
	}
	return 4
}
