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
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// TestStatusBeforeTheFirstRead: before the autoscaler's first read, a
// status that shows a reading of the current generation is kept as it is
// (an operator restart writes nothing), and any other is marked as
// awaiting the read.
func TestStatusBeforeTheFirstRead(t *testing.T) {
	reading := func(status metav1.ConditionStatus, generation int64) []metav1.Condition {
		return []metav1.Condition{
			{Type: queueworkerv1alpha1.ConditionRedisReachable, Status: status, ObservedGeneration: generation,
				Reason: "R", Message: "m"},
			{Type: queueworkerv1alpha1.ConditionScalingActive, Status: status, ObservedGeneration: generation,
				Reason: "R", Message: "m"},
		}
	}
	tests := []struct {
		name       string
		conditions []metav1.Condition
		generation int64
		kept       bool
	}{
		{name: "no reading", generation: 1},
		{name: "reachable, this generation", conditions: reading(metav1.ConditionTrue, 3), generation: 3, kept: true},
		{name: "unreachable, this generation", conditions: reading(metav1.ConditionFalse, 3), generation: 3, kept: true},
		{name: "a reading of an older spec", conditions: reading(metav1.ConditionTrue, 2), generation: 3},
		{name: "already awaiting", conditions: reading(metav1.ConditionUnknown, 3), generation: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qw := &queueworkerv1alpha1.QueueWorker{}
			qw.Generation = tt.generation
			qw.Status.Conditions = tt.conditions
			qw.Status.Backlog = 7
			before := qw.DeepCopy()
			r := &QueueWorkerReconciler{}
			r.applyAutoscalingStatus(&queueWorkerState{qw: qw, events: &eventBuffer{}}, nil)
			if tt.kept {
				if !equality.Semantic.DeepEqual(before.Status, qw.Status) {
					t.Errorf("status changed: %+v, want %+v", qw.Status, before.Status)
				}
				return
			}
			for ct, want := range map[string]metav1.ConditionStatus{
				queueworkerv1alpha1.ConditionRedisReachable: metav1.ConditionUnknown,
				queueworkerv1alpha1.ConditionScalingActive:  metav1.ConditionFalse,
			} {
				c := apimeta.FindStatusCondition(qw.Status.Conditions, ct)
				if c == nil || c.Status != want || c.Reason != queueworkerv1alpha1.ReasonAwaitingRead ||
					c.ObservedGeneration != tt.generation {
					t.Errorf("%s = %+v, want %s AwaitingRead at generation %d", ct, c, want, tt.generation)
				}
			}
		})
	}
}

// TestInitialReplicas: a new worker Deployment starts at spec.replicas
// (one when unset), or at an autoscaled QueueWorker's minReplicas: none at
// all for a minimum of zero.
func TestInitialReplicas(t *testing.T) {
	tests := []struct {
		name     string
		replicas *int32
		as       *queueworkerv1alpha1.Autoscaling
		want     int32
	}{
		{name: "not autoscaled, unset", want: 1},
		{name: "not autoscaled, 4", replicas: ptr.To[int32](4), want: 4},
		{name: "autoscaled, minReplicas unset", as: &queueworkerv1alpha1.Autoscaling{MaxReplicas: 5}, want: 1},
		{name: "autoscaled, minReplicas 0", as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5}, want: 0},
		{name: "autoscaled, minReplicas 3", as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](3), MaxReplicas: 5}, want: 3},
		{name: "autoscaled, spec.replicas ignored", replicas: ptr.To[int32](4),
			as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qw := &queueworkerv1alpha1.QueueWorker{}
			qw.Spec.Replicas = tt.replicas
			qw.Spec.Autoscaling = tt.as
			if got := initialReplicas(qw); got != tt.want {
				t.Errorf("initialReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCacheWritesBehind: after a write turned version 5 into 7, a
// cache that holds 5, or 6 (a spec edit that landed between), is behind
// until it shows 7 or later, or maxCacheLag has passed; other objects are
// not. Versions that do not compare are behind only at the replaced one.
func TestCacheWritesBehind(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := types.NamespacedName{Namespace: "ns", Name: "w"}
	other := types.NamespacedName{Namespace: "ns", Name: "v"}
	var w cacheWrites
	if w.behind(key, "5", at) {
		t.Fatal("behind before any patch")
	}
	w.wrote(key, "5", "7", at)
	for _, rv := range []string{"5", "6"} {
		if !w.behind(key, rv, at.Add(maxCacheLag-time.Millisecond)) {
			t.Errorf("version %s is not behind the patch's 7", rv)
		}
	}
	if w.behind(other, "5", at) {
		t.Error("another object is behind")
	}
	if w.behind(key, "7", at) {
		t.Error("the patch's version is behind")
	}
	if w.behind(key, "5", at) {
		t.Error("behind again once the cache showed the patch")
	}
	w.wrote(key, "7", "9", at)
	if w.behind(key, "12", at) {
		t.Error("a later version is behind")
	}
	w.wrote(key, "7", "9", at)
	if w.behind(key, "7", at.Add(maxCacheLag)) {
		t.Error("still behind after maxCacheLag")
	}
	w.wrote(key, "a", "c", at)
	if !w.behind(key, "a", at) || w.behind(key, "b", at) {
		t.Error("versions that do not compare: behind only at the replaced one")
	}
	w.wrote(key, "8", "10", at)
	w.forget(key)
	if w.behind(key, "8", at) {
		t.Error("behind after forget")
	}
	w.wrote(key, "8", "10", at)
	if !w.pending(at.Add(maxCacheLag - time.Millisecond)) {
		t.Error("a fresh write is not pending")
	}
	if w.pending(at.Add(maxCacheLag)) || w.behind(key, "8", at) {
		t.Error("a write older than maxCacheLag is still pending")
	}
}

// countNews stands in for the autoscaler's answer to ChangesCount: which
// QueueWorkers have a new count is all the handler asks.
type countNews struct {
	Scaler
	changes map[types.NamespacedName]bool
}

func (c countNews) ChangesCount(name types.NamespacedName) bool { return c.changes[name] }

// TestScaleNewsHandlerPriority: after a failover the first read wakes every
// QueueWorker at once; the one with a new count goes first through the
// controller's priority queue, behind none of the status news before it. A
// queue without priorities still gets every event.
func TestScaleNewsHandlerPriority(t *testing.T) {
	scaled := types.NamespacedName{Namespace: "news", Name: "scaled"}
	h := scaleNewsHandler{scaler: countNews{changes: map[types.NamespacedName]bool{scaled: true}}}
	object := func(name types.NamespacedName) event.TypedGenericEvent[client.Object] {
		qw := &queueworkerv1alpha1.QueueWorker{}
		qw.Namespace, qw.Name = name.Namespace, name.Name
		return event.TypedGenericEvent[client.Object]{Object: qw}
	}

	q := priorityqueue.New[reconcile.Request]("scale-news")
	defer q.ShutDown()
	const statusNews = 50
	for i := range statusNews {
		h.Generic(t.Context(), object(types.NamespacedName{Namespace: "news", Name: fmt.Sprintf("status-%d", i)}), q)
	}
	h.Generic(t.Context(), object(scaled), q)
	item, priority, _ := q.GetWithPriority()
	if item.NamespacedName != scaled || priority != scalePriority {
		t.Fatalf("first out: %s at priority %d, want %s at %d", item, priority, scaled, scalePriority)
	}
	q.Done(item)
	if n := q.Len(); n != statusNews {
		t.Errorf("%d status news left, want %d", n, statusNews)
	}
	item, priority, _ = q.GetWithPriority()
	if item.Name != "status-0" || priority != 0 {
		t.Errorf("second out: %s at priority %d, want news/status-0 at 0", item, priority)
	}
	q.Done(item)

	plain := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer plain.ShutDown()
	h.Generic(t.Context(), object(scaled), plain)
	h.Generic(t.Context(), object(types.NamespacedName{Namespace: "news", Name: "status"}), plain)
	if n := plain.Len(); n != 2 {
		t.Errorf("a queue without priorities holds %d requests, want 2", n)
	}
}

// TestScaleRequeueDropsScalePriority: controller-runtime requeues a
// reconcile at the priority it was dequeued with unless its result names
// one. A QueueWorker woken at scalePriority whose reconcile wrote its count
// and asks to come back (here for the Secret resync, as every QueueWorker
// with a password does) must come back at the default priority: else it
// keeps scalePriority through every later requeue, and so does every status
// news that joins it in the queue, ahead of the other QueueWorkers' changes.
func TestScaleRequeueDropsScalePriority(t *testing.T) {
	ns := createNamespace(t)
	srv, err := redistest.Start("requirepass s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	createObject(t, usableSecret(ns, "redis", map[string]string{"password": "s3cret"}, queueworkerv1alpha1.KindQueueWorker))
	qw := autoscaledQueueWorker(ns, "sticky", srv.Addr,
		queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5, PollInterval: dur(200 * time.Millisecond)})
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "redis", Key: "password"}
	createObject(t, qw)
	key := client.ObjectKeyFromObject(qw)
	waitDeploymentReplicas(t, ns, "sticky", 0)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret"})
	t.Cleanup(func() { _ = rdb.Close() })
	c := asynq.NewClientFromRedisClient(rdb)
	for i := range 4 {
		if _, err := c.Enqueue(asynq.NewTask("test:noop", []byte(fmt.Sprint(i))), asynq.Queue(qw.Spec.Queues[0].Name)); err != nil {
			t.Fatal(err)
		}
	}
	// The scale-up is written, and the autoscaler knows it.
	eventually(t, "the scale-up written", func() error {
		if n := deploymentReplicas(t, ns, "sticky"); n == 0 {
			return errors.New("no workers yet")
		}
		if scaler.ChangesCount(key) {
			return errors.New("the count is still to be written")
		}
		return nil
	})

	r := &QueueWorkerReconciler{Client: k8sClient, APIReader: k8sClient, Autoscaler: scaler,
		Recorder: events.NewFakeRecorder(100), SecretResyncPeriod: testSecretResync}
	res, err := r.Reconcile(testCtx, reconcile.Request{NamespacedName: key})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter <= 0 {
		t.Fatalf("result %+v: want a requeue for the Secret resync", res)
	}
	// What controller-runtime does with the result of a reconcile it
	// dequeued at scalePriority, then the autoscaler's next status news.
	q := priorityqueue.New[reconcile.Request]("sticky")
	defer q.ShutDown()
	q.AddWithOpts(priorityqueue.AddOpts{After: res.RequeueAfter, Priority: ptr.To(ptr.Deref(res.Priority, scalePriority))},
		reconcile.Request{NamespacedName: key})
	scaleNewsHandler{scaler: scaler}.Generic(testCtx, event.TypedGenericEvent[client.Object]{Object: qw}, q)
	if _, priority, _ := q.GetWithPriority(); priority != 0 {
		t.Errorf("status news after the count was written dequeued at priority %d, want 0", priority)
	}
}

// TestRequeuePriority: a reconcile that failed before its new count was
// written is retried at scalePriority; any other requeue, and the retry of
// a QueueWorker without a count to write, at the default priority.
func TestRequeuePriority(t *testing.T) {
	scaled := types.NamespacedName{Namespace: "news", Name: "scaled"}
	other := types.NamespacedName{Namespace: "news", Name: "status"}
	r := &QueueWorkerReconciler{Autoscaler: countNews{changes: map[types.NamespacedName]bool{scaled: true}}}
	failed := errors.New("the Deployment write failed")
	for _, c := range []struct {
		name types.NamespacedName
		err  error
		want int
	}{
		{scaled, failed, scalePriority},
		{scaled, nil, 0},
		{other, failed, 0},
		{other, nil, 0},
	} {
		if got := r.requeuePriority(c.name, c.err); got == nil || *got != c.want {
			t.Errorf("requeuePriority(%s, %v) = %v, want %d", c.name, c.err, got, c.want)
		}
	}
}
