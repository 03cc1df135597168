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
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// TestSpecEditDuringOutageStaysUnreachable: Redis is stopped and the
// QueueWorker is RedisReachable=False when the user raises maxReplicas. The
// reconcile that brings the edit must not decide on the read from before
// the outage: RedisReachable stays False and no RedisReachable event says
// the queues are read again while Redis is still down.
func TestSpecEditDuringOutageStaysUnreachable(t *testing.T) {
	srv := startRedis(t)
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "edit", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		OnRedisError: &queueworkerv1alpha1.OnRedisError{FailureThreshold: 3, FallbackReplicas: ptr.To[int32](1)},
	})
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, qw.Spec.Queues[0].Name, 6)
	waitDeploymentReplicas(t, ns, "edit", 3)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RedisReachable=False", func() error {
		return conditionIs(getQueueWorker(t, ns, "edit"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonRedisUnreachable)
	})
	time.Sleep(2 * time.Second)

	updateQueueWorker(t, ns, "edit", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Autoscaling.MaxReplicas = 12 })
	deadline := time.Now().Add(4 * time.Second)
	sawTrue := ""
	for time.Now().Before(deadline) && sawTrue == "" {
		c := apimeta.FindStatusCondition(getQueueWorker(t, ns, "edit").Status.Conditions,
			queueworkerv1alpha1.ConditionRedisReachable)
		if c != nil && c.Status == metav1.ConditionTrue {
			sawTrue = c.Message
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sawTrue != "" {
		t.Errorf("RedisReachable=True (%q) while redis-server is stopped, after a spec edit", sawTrue)
	}
	for _, e := range eventsFor(t, ns, "edit") {
		if e.Reason == queueworkerv1alpha1.ReasonRedisReachable {
			t.Errorf("event %s %q while redis-server is stopped", e.Reason, e.Note)
		}
	}
}

// TestExternalQueueSafeFollowsARefusedPolicy: an External RedisConfig sets
// memory.policy: noeviction, but the ACL user the operator applies with may
// not CONFIG SET (a common split: ops own the config). The server keeps
// evicting (allkeys-lru) and status.drift says the key was Refused; QueueSafe
// must then judge the server's policy, not the spec's.
func TestExternalQueueSafeFollowsARefusedPolicy(t *testing.T) {
	srv, err := redistest.Start("maxmemory-policy allkeys-lru", "requirepass root-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "root-pass"})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Do(t.Context(), "ACL", "SETUSER", "applier", "on", ">applier-pass", "~*", "&*", "+@all",
		"-config|set").Err(); err != nil {
		t.Fatal(err)
	}
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "applier", map[string]string{"password": "applier-pass"}, queueworkerv1alpha1.KindRedisConfig))
	rc := externalRedisConfig(ns, "refused", srv.Addr, "applier")
	rc.Spec.External.Username = "applier"
	rc.Spec.Memory.Policy = "noeviction"
	createObject(t, rc)
	eventually(t, "the refused policy shows as drift", func() error {
		got := getRedisConfig(t, ns, "refused")
		if len(got.Status.Drift) != 1 || got.Status.Drift[0].Key != "maxmemory-policy" || got.Status.Drift[0].Reason != "Refused" {
			return fmt.Errorf("drift %+v", got.Status.Drift)
		}
		return nil
	})
	if v := configGet(t, rdb, "maxmemory-policy"); v != "allkeys-lru" {
		t.Fatalf("the server's policy is %q, want it left at allkeys-lru", v)
	}
	got := getRedisConfig(t, ns, "refused")
	c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionQueueSafe)
	if c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("QueueSafe=True (%s: %q) while the server runs maxmemory-policy allkeys-lru and refused the change; "+
			"status.policy %q", c.Reason, c.Message, got.Status.Policy)
	}
}

// TestFlakyLinkStaysQuiet: a link that drops for 300ms every 600ms (each
// drop far from an outage) at pollInterval 100ms. A blip shorter than
// failureThreshold polls and a second holds the count silently: no status
// write and no pair of events per drop, which every QueueWorker on the
// endpoint would multiply.
func TestFlakyLinkStaysQuiet(t *testing.T) {
	srv := startRedis(t)
	proxy, err := redistest.StartProxy(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "flaky", proxy.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(100 * time.Millisecond),
	})
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RedisReachable=True", func() error {
		return conditionIs(getQueueWorker(t, ns, "flaky"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	time.Sleep(time.Second)
	writesBefore := queueWorkerStatusWrites(ns, "flaky")
	eventsBefore := len(eventsFor(t, ns, "flaky"))
	for range 10 {
		proxy.SetDown(true)
		time.Sleep(300 * time.Millisecond)
		proxy.SetDown(false)
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	writes := queueWorkerStatusWrites(ns, "flaky") - writesBefore
	newEvents := eventsFor(t, ns, "flaky")[eventsBefore:]
	reasons := make([]string, 0, len(newEvents))
	for _, e := range newEvents {
		reasons = append(reasons, e.Reason)
	}
	// aggregated events count: the events API folds repeats into series
	events := 0
	for _, e := range eventsFor(t, ns, "flaky") {
		if e.Reason == queueworkerv1alpha1.ReasonRedisUnreachable || e.Reason == queueworkerv1alpha1.ReasonRedisReachable {
			events++
			if e.Series != nil {
				events += int(e.Series.Count) - 1
			}
		}
	}
	t.Logf("10 blips of 300ms: %d status writes, %d reachability events (%s)", writes, events, strings.Join(reasons, ","))
	// 6.6s of blips at StatusInterval 1s (the suite's) would allow ~7.
	if writes > 8 || events > 8 {
		t.Errorf("10 blips of 300ms, none an outage: %d status writes and %d RedisUnreachable/RedisReachable events "+
			"for one QueueWorker", writes, events)
	}
}

// TestRecreatedQueueWorkerStartsAfresh: a QueueWorker is deleted and
// created again with the same name (a GitOps tool replacing it, `kubectl
// replace --force`) while the controller is busy, so that the deletion and
// the creation collapse into one reconcile that sees the new object and
// never NotFound. The autoscaler tells the new object by its UID: its fresh
// Deployment is not scaled to the old object's last decision, nor held
// there by the old scale-down window.
//
// The busy controller is played by closing the reconciler's gate in front of
// the autoscaler while another QueueWorker's reconcile waits at it (one
// reconcile at a time, as in production), so that the deletion and the
// creation reach the work queue before the controller does.
func TestRecreatedQueueWorkerStartsAfresh(t *testing.T) {
	ns := createNamespace(t)
	as := queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 10}
	busy := autoscaledQueueWorker(ns, "busy", redisServer.Addr, as)
	if err := k8sClient.Create(testCtx, busy); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "busy", 1)

	qw := autoscaledQueueWorker(ns, "re", redisServer.Addr, as)
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	enqueue(t, redisServer.Addr, q, 20)
	waitDeploymentReplicas(t, ns, "re", 10)
	if _, err := inspector(t, redisServer.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	old := getQueueWorker(t, ns, "re")
	dep, err := getDeployment(t, ns, "re")
	if err != nil {
		t.Fatal(err)
	}

	scaler.gate.Lock()
	locked := true
	defer func() {
		if locked {
			scaler.gate.Unlock()
		}
	}()
	// The controller's one worker takes busy's reconcile and waits in Update.
	updateQueueWorker(t, ns, "busy", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Autoscaling.MaxReplicas = 9 })
	time.Sleep(500 * time.Millisecond)
	// Delete the QueueWorker and its Deployment (envtest runs no garbage
	// collector) and create the QueueWorker again.
	if err := k8sClient.Delete(testCtx, old); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Delete(testCtx, dep); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(testCtx, qw.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	scaler.gate.Unlock()
	locked = false

	eventually(t, "the new Deployment", func() error {
		d, err := getDeployment(t, ns, "re")
		if err != nil {
			return err
		}
		if d.UID == dep.UID {
			return fmt.Errorf("still the old Deployment")
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	d, _ := getDeployment(t, ns, "re")
	if replicas := ptr.Deref(d.Spec.Replicas, -1); replicas != 1 {
		var notes []string
		for _, e := range eventsFor(t, ns, "re") {
			if e.Reason == queueworkerv1alpha1.ReasonScaledUp && e.Regarding.UID != old.UID {
				notes = append(notes, e.Note)
			}
		}
		t.Errorf("the recreated QueueWorker's new Deployment runs %d replicas on an empty queue, want 1; "+
			"ScaledUp events of the new object: %q", replicas, notes)
	}
}

// TestLongReadErrorKeepsItsEvent: every queue of a QueueWorker fails to
// read (here 12 queues whose keys have the wrong type; the same happens
// with an ACL user lacking one command, NOPERM on every queue). The
// RedisUnreachable message joins one error per queue, over the 1024
// characters events.k8s.io allows in a note: the recorder shortens it, so
// the Warning still reaches the user.
func TestLongReadErrorKeepsItsEvent(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "many", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
	})
	qw.Spec.Queues = nil
	for i := range 12 {
		q := fmt.Sprintf("tenant-a.images.resize-%02d", i)
		qw.Spec.Queues = append(qw.Spec.Queues, queueworkerv1alpha1.Queue{Name: q, Priority: 1})
		if err := rdb.Set(t.Context(), "asynq:{"+q+"}:pending", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	var msg string
	eventually(t, "RedisReachable=False", func() error {
		got := getQueueWorker(t, ns, "many")
		c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
		if c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("RedisReachable %+v", c)
		}
		msg = c.Message
		return nil
	})
	time.Sleep(2 * time.Second)
	if err := hasEvent(t, ns, "many", queueworkerv1alpha1.ReasonRedisUnreachable); err != nil {
		t.Errorf("no RedisUnreachable event for a QueueWorker whose 12 queues all fail (message of %d characters): %v",
			len(msg), err)
	}
}

// TestHandScaleRevertRespectsScaleDownLimits: scaleDown allows one replica
// per minute. Someone runs `kubectl scale deployment --replicas=7` on the
// worker Deployment (pre-warming for an expected burst). The operator takes
// the new count as current and comes down one per minute, as the HPA
// would, rather than writing 7 -> 1 in one step.
func TestHandScaleRevertRespectsScaleDownLimits(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "hand", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{MaxStep: ptr.To[int32](1), Period: dur(time.Minute)}},
	})
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "hand", 1)
	eventually(t, "RedisReachable=True", func() error {
		return conditionIs(getQueueWorker(t, ns, "hand"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	dep, err := getDeployment(t, ns, "hand")
	if err != nil {
		t.Fatal(err)
	}
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 7}}
	if err := k8sClient.SubResource("scale").Update(testCtx, dep, client.WithSubResourceBody(scale)); err != nil {
		t.Fatal(err)
	}
	first := int32(7)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && first == 7 {
		d, err := getDeployment(t, ns, "hand")
		if err != nil {
			t.Fatal(err)
		}
		first = ptr.Deref(d.Spec.Replicas, -1)
		time.Sleep(10 * time.Millisecond)
	}
	if first < 6 {
		var notes []string
		for _, e := range eventsFor(t, ns, "hand") {
			if e.Reason == queueworkerv1alpha1.ReasonScaledDown {
				notes = append(notes, e.Note)
			}
		}
		t.Errorf("after a hand scale to 7 the operator's first write is %d, want at least 6 (scaleDown.maxStep 1 per 1m); "+
			"events %q", first, notes)
	}
}

// TestReenabledAutoscalingWaitsScaleToZeroDelay: autoscaling is switched
// off for a while (spec.replicas 2) and on again. Work came and went while
// it was off, which nobody recorded, so the lastActiveTime from before the
// switch must not seed the new target: the workers go to zero only
// scaleToZeroDelay after the autoscaler itself last saw work.
func TestReenabledAutoscalingWaitsScaleToZeroDelay(t *testing.T) {
	ns := createNamespace(t)
	as := queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 5,
		ScaleToZeroDelay: dur(4 * time.Second),
		ScaleDown:        &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	}
	qw := autoscaledQueueWorker(ns, "toggle", redisServer.Addr, as)
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, redisServer.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "toggle", 2)
	eventually(t, "status.lastActiveTime", func() error {
		if getQueueWorker(t, ns, "toggle").Status.LastActiveTime == nil {
			return fmt.Errorf("unset")
		}
		return nil
	})
	updateQueueWorker(t, ns, "toggle", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Autoscaling = nil
		q.Spec.Replicas = ptr.To[int32](2)
	})
	// Off for 8s, with tasks coming and being handled all along; the last
	// one is handled 1s before autoscaling is switched on again.
	ins := inspector(t, redisServer.Addr)
	for range 16 {
		if _, err := ins.DeleteAllPendingTasks(q); err != nil {
			t.Fatal(err)
		}
		enqueue(t, redisServer.Addr, q, 1)
		time.Sleep(500 * time.Millisecond)
	}
	if _, err := ins.DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	lastWork := time.Now()
	time.Sleep(time.Second)
	updateQueueWorker(t, ns, "toggle", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Replicas = nil
		q.Spec.Autoscaling = as.DeepCopy()
	})
	for time.Since(lastWork) < 3500*time.Millisecond {
		d, err := getDeployment(t, ns, "toggle")
		if err != nil {
			t.Fatal(err)
		}
		if ptr.Deref(d.Spec.Replicas, -1) == 0 {
			t.Fatalf("scaled to zero %v after the last task, scaleToZeroDelay 4s (status.lastActiveTime %v)",
				time.Since(lastWork).Round(100*time.Millisecond), getQueueWorker(t, ns, "toggle").Status.LastActiveTime)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScaleEventSeriesGoWithTheQueueWorker: a QueueWorker's series go when
// it goes, queueworker_scale_events_total too, so a tenant that creates and
// deletes QueueWorkers (one per batch job, say) does not grow the
// operator's metric cardinality without bound.
func TestScaleEventSeriesGoWithTheQueueWorker(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "leak", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 5,
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, redisServer.Addr, q, 6)
	waitDeploymentReplicas(t, ns, "leak", 3)
	labels := map[string]string{"namespace": ns, "queueworker": "leak"}
	if n := len(servedSeries(t, "queueworker_scale_events_total", labels)); n == 0 {
		t.Fatal("no scale event series after a scale-up")
	}
	if err := k8sClient.Delete(testCtx, getQueueWorker(t, ns, "leak")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the QueueWorker's desired-replicas series goes", func() error {
		if n := len(servedSeries(t, "queueworker_desired_replicas", labels)); n != 0 {
			return fmt.Errorf("%d series", n)
		}
		return nil
	})
	if n := len(servedSeries(t, "queueworker_scale_events_total", labels)); n != 0 {
		t.Errorf("%d queueworker_scale_events_total series of the deleted QueueWorker %s/leak remain", n, ns)
	}
	_, _ = inspector(t, redisServer.Addr).DeleteAllPendingTasks(q)
}
