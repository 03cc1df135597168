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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/drain"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// No kubelet runs under envtest and no asynq server can take a pod's name
// as its host name, so these tests create the worker pods themselves and
// write the heartbeats their asynq servers would, in asynq v0.26's layout
// (internal/queue pins it against real asynq servers).

// heartbeat writes the heartbeat of the one asynq server of host: its
// ServerInfo with status, its member of asynq:servers scored by expires,
// and its workers hash with one task per start.
func heartbeat(t *testing.T, rdb *redis.Client, host, status string, expires time.Time, starts ...time.Time) {
	t.Helper()
	name := fmt.Sprintf("{%s:1:server-id}", host)
	skey, wkey := "asynq:servers:"+name, "asynq:workers:"+name
	var info []byte
	info = protowire.AppendTag(info, 1, protowire.BytesType)
	info = protowire.AppendString(info, host)
	info = protowire.AppendTag(info, 7, protowire.BytesType)
	info = protowire.AppendString(info, status)
	pipe := rdb.TxPipeline()
	pipe.Set(testCtx, skey, info, 0)
	pipe.ZAdd(testCtx, "asynq:servers", redis.Z{Score: float64(expires.Unix()), Member: skey})
	pipe.Del(testCtx, wkey)
	for i, s := range starts {
		var ts, wi []byte
		ts = protowire.AppendTag(ts, 1, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(s.Unix()))
		wi = protowire.AppendTag(wi, 4, protowire.BytesType)
		wi = protowire.AppendString(wi, fmt.Sprint("task-", i))
		wi = protowire.AppendTag(wi, 8, protowire.BytesType)
		wi = protowire.AppendBytes(wi, ts)
		pipe.HSet(testCtx, wkey, fmt.Sprint("task-", i), wi)
	}
	if len(starts) == 0 {
		// asynq keeps an empty workers hash as no key; HLEN reads 0.
		pipe.Del(testCtx, wkey)
	}
	if _, err := pipe.Exec(testCtx); err != nil {
		t.Fatal(err)
	}
}

// createWorkerPod creates a pod of qw, as its ReplicaSet would, ready or
// not.
func createWorkerPod(t *testing.T, qw *queueworkerv1alpha1.QueueWorker, name string, ready bool) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: qw.Namespace, Labels: resources.WorkerLabels(qw),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet",
				Name: qw.Name + "-" + testPodTemplateHash, UID: "5c1f0e3a-0000-4000-8000-000000000001",
				Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "example.com/worker:1"}}},
	}
	pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = testPodTemplateHash
	if err := k8sClient.Create(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	if ready {
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if err := k8sClient.Status().Update(testCtx, pod); err != nil {
			t.Fatal(err)
		}
	}
}

// testPodTemplateHash is the pod-template-hash of the pods createWorkerPod
// makes, and their ReplicaSet's name suffix.
const testPodTemplateHash = "7d4b9c8f6"

func getPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// deletionCost reads a pod's deletion cost; ok is false when it has none.
func deletionCost(t *testing.T, ns, name string) (cost int, ok bool) {
	t.Helper()
	v, ok := getPod(t, ns, name).Annotations[corev1.PodDeletionCost]
	if !ok {
		return 0, false
	}
	cost, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("pod %s: deletion cost %q", name, v)
	}
	return cost, true
}

func drainPolicy(policy queueworkerv1alpha1.DrainPolicy, maxDrain *metav1.Duration) *queueworkerv1alpha1.ScaleDownRules {
	return &queueworkerv1alpha1.ScaleDownRules{
		ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)},
		Drain:        &queueworkerv1alpha1.ScaleDownDrain{Policy: policy, MaxDrainTime: maxDrain},
	}
}

// TestScaleDownPrefersIdlePods: right before a scale-down, and not before,
// the pods get deletion costs that rank them idle first, then by fewer
// running tasks, then by younger work; a pod without heartbeat ranks as
// idle when not ready and after the busy ones when ready.
func TestScaleDownPrefersIdlePods(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "rank", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 12) // ceil(12/2) = 6
	waitDeploymentReplicas(t, ns, "rank", 6)

	now := time.Now()
	live := now.Add(time.Hour)
	pods := []string{"idle", "one-young", "one-old", "two", "starting", "ready-unknown"}
	for _, p := range pods {
		createWorkerPod(t, qw, p, p != "starting")
	}
	heartbeat(t, rdb, "idle", "active", live)
	heartbeat(t, rdb, "one-young", "active", live, now.Add(-time.Second))
	heartbeat(t, rdb, "one-old", "active", live, now.Add(-time.Hour))
	heartbeat(t, rdb, "two", "active", live, now.Add(-time.Second), now.Add(-time.Second))

	// Scaling up and holding set no cost.
	enqueue(t, srv.Addr, q, 2)
	waitDeploymentReplicas(t, ns, "rank", 7)
	for _, p := range pods {
		if c, ok := deletionCost(t, ns, p); ok {
			t.Fatalf("pod %s has deletion cost %d before any scale-down", p, c)
		}
	}

	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "rank", 1)
	costs := map[string]int{}
	for _, p := range pods {
		c, ok := deletionCost(t, ns, p)
		if !ok {
			t.Fatalf("pod %s has no deletion cost after the scale-down", p)
		}
		costs[p] = c
	}
	for _, order := range [][2]string{
		{"idle", "one-young"}, {"starting", "one-young"}, {"one-young", "one-old"}, {"one-old", "two"}, {"two", "ready-unknown"},
	} {
		if costs[order[0]] >= costs[order[1]] {
			t.Errorf("cost of %s %d, of %s %d: want the first removed first (costs %v)",
				order[0], costs[order[0]], order[1], costs[order[1]], costs)
		}
	}
}

// TestScaleDownDrain: with policy Drain a scale-down asks the cheapest pod
// to drain and keeps the replicas while it runs a task; a decision back at
// the current count cancels the drain; a pod that drained and runs
// nothing, by a heartbeat later than its first stopped one, goes with one
// replica less.
func TestScaleDownDrain(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "drain", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "drain", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)

	pending, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q)
	if err != nil || pending != 4 {
		t.Fatal(pending, err)
	}
	var since string
	eventually(t, "pod-a drains", func() error {
		var ok bool
		if since, ok = getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
			return errors.New("pod-a has no draining-since annotation")
		}
		got := getQueueWorker(t, ns, "drain")
		if len(got.Status.Draining) != 1 || got.Status.Draining[0].Pod != "pod-a" || ptr.Deref(got.Status.Draining[0].Running, -1) != 1 {
			return fmt.Errorf("status.draining %+v", got.Status.Draining)
		}
		return nil
	})
	if _, ok := getPod(t, ns, "pod-b").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
		t.Error("pod-b, running more tasks, drains too")
	}
	key := contract.DrainKey("pod-a")
	val, err := rdb.Get(testCtx, key).Result()
	if err != nil {
		t.Fatalf("drain key %s: %v", key, err)
	}
	if ts, err := time.Parse(time.RFC3339, val); err != nil || !strings.HasSuffix(val, "Z") || val != since ||
		ts.Before(now.Add(-time.Minute)) {
		t.Errorf("drain key value %q (annotation %q), want the drain's RFC 3339 time in UTC", val, since)
	}
	if ttl := rdb.TTL(testCtx, key).Val(); ttl <= time.Hour || ttl > drain.KeyTTL(time.Hour) {
		t.Errorf("drain key TTL %v, want above maxDrainTime 1h, at most %v", ttl, drain.KeyTTL(time.Hour))
	}
	if n := rdb.Exists(testCtx, contract.DrainKey("pod-b")).Val(); n != 0 {
		t.Error("pod-b has a drain key")
	}

	// The pod stops but still runs its task: the replicas stay.
	heartbeat(t, rdb, "pod-a", "stopped", now.Add(time.Hour), now)
	time.Sleep(2 * time.Second)
	waitDeploymentReplicas(t, ns, "drain", 2)
	if c, _ := deletionCost(t, ns, "pod-a"); c == drain.ReleasedCost {
		t.Fatal("pod-a released while it runs a task")
	}

	// Work again: a scale-up to 3 cancels the drain first.
	enqueue(t, srv.Addr, q, 6)
	eventually(t, "the drain is cancelled", func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a still has its draining-since annotation")
		}
		if n := rdb.Exists(testCtx, key).Val(); n != 0 {
			return errors.New("the drain key is still set")
		}
		if d := getQueueWorker(t, ns, "drain").Status.Draining; len(d) != 0 {
			return fmt.Errorf("status.draining %+v", d)
		}
		return nil
	})
	eventually(t, "DrainCancelled event", func() error { return hasEvent(t, ns, "drain", queueworkerv1alpha1.ReasonDrainCancelled) })
	waitDeploymentReplicas(t, ns, "drain", 3)

	// Idle again, from 3 replicas with 2 pods (no ReplicaSet runs here):
	// both drain. pod-a goes once a heartbeat after its first stopped one
	// shows nothing running, one replica less; as no ReplicaSet removes
	// it and the pods are down to the replica count, it is a replica
	// again and serves, while pod-b drains on.
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a and pod-b drain again", func() error {
		if n := rdb.Exists(testCtx, key, contract.DrainKey("pod-b")).Val(); n != 2 {
			return errors.New("no drain key")
		}
		return nil
	})
	expires := time.Now().Add(time.Hour)
	eventually(t, "pod-a released, then a replica again", func() error {
		expires = expires.Add(time.Second)
		heartbeat(t, rdb, "pod-a", "stopped", expires)
		if r := deploymentReplicas(t, ns, "drain"); r != 2 {
			return fmt.Errorf("replicas %d", r)
		}
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a still drains")
		}
		if n := rdb.Exists(testCtx, key).Val(); n != 0 {
			return errors.New("pod-a's drain key is still set")
		}
		return nil
	})
	if _, ok := getPod(t, ns, "pod-b").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
		t.Fatal("pod-b's drain was cancelled")
	}
	// pod-b goes once idle: the whole scale-down.
	key = contract.DrainKey("pod-b")
	eventually(t, "pod-b released", func() error {
		expires = expires.Add(time.Second)
		heartbeat(t, rdb, "pod-b", "stopped", expires)
		if c, _ := deletionCost(t, ns, "pod-b"); c != drain.ReleasedCost {
			return fmt.Errorf("pod-b deletion cost %d", c)
		}
		return nil
	})
	waitDeploymentReplicas(t, ns, "drain", 1)
	eventually(t, "ScaledDown event", func() error { return hasEvent(t, ns, "drain", queueworkerv1alpha1.ReasonScaledDown) })
	if d := getQueueWorker(t, ns, "drain").Status.Draining; len(d) != 0 {
		t.Errorf("status.draining %+v after the release", d)
	}
	// The released pod keeps its key (it must not resume) until it is gone.
	if n := rdb.Exists(testCtx, key).Val(); n != 1 {
		t.Error("the released pod's drain key is gone before the pod")
	}
	if err := k8sClient.Delete(testCtx, getPod(t, ns, "pod-b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drain key goes with the pod", func() error {
		if n := rdb.Exists(testCtx, key).Val(); n != 0 {
			return errors.New("the drain key is still set")
		}
		return nil
	})
}

// TestDrainTimeout: a pod still busy after maxDrainTime is removed anyway,
// with a Warning naming it and its running tasks.
func TestDrainTimeout(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "slow", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(2*time.Second)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "slow", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "stopped", now.Add(time.Hour), now, now, now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now, now, now)
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "slow", 1)
	if c, _ := deletionCost(t, ns, "pod-a"); c != drain.ReleasedCost {
		t.Errorf("pod-a deletion cost %d, want the lowest", c)
	}
	eventually(t, "DrainTimedOut event", func() error {
		for _, e := range eventsFor(t, ns, "slow") {
			if e.Reason == queueworkerv1alpha1.ReasonDrainTimedOut {
				if !strings.Contains(e.Note, "pod-a") || !strings.Contains(e.Note, "3 tasks") || e.Type != "Warning" {
					return fmt.Errorf("event %s %q", e.Type, e.Note)
				}
				return nil
			}
		}
		return errors.New("no DrainTimedOut event")
	})
}

// TestDrainCleanup: a policy changed away from Drain ends the drains (the
// key deleted, the annotation removed), and so does deleting the
// QueueWorker.
func TestDrainCleanup(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "clean", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, nil),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "clean", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)
	drainsA := func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
			return errors.New("pod-a does not drain")
		}
		if ttl := rdb.TTL(testCtx, contract.DrainKey("pod-a")).Val(); ttl <= 250*time.Second {
			return fmt.Errorf("drain key TTL %v, want above the default maxDrainTime, 10 × 25s", ttl)
		}
		return nil
	}
	ended := func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a still has its draining-since annotation")
		}
		if n := rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val(); n != 0 {
			return errors.New("the drain key is still set")
		}
		return nil
	}
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a drains", drainsA)

	updateQueueWorker(t, ns, "clean", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.ScaleDown.Drain = &queueworkerv1alpha1.ScaleDownDrain{Policy: queueworkerv1alpha1.DrainPolicyPreferIdle}
	})
	eventually(t, "the drain ends with the policy", ended)
	eventually(t, "status.draining empty", func() error {
		if d := getQueueWorker(t, ns, "clean").Status.Draining; len(d) != 0 {
			return fmt.Errorf("status.draining %+v", d)
		}
		return nil
	})

	// Back to Drain, at 2 replicas with work, then idle: pod-a drains
	// again until the QueueWorker is deleted.
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "clean", 2)
	updateQueueWorker(t, ns, "clean", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.ScaleDown.Drain = &queueworkerv1alpha1.ScaleDownDrain{Policy: queueworkerv1alpha1.DrainPolicyDrain}
	})
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a drains again", drainsA)
	if err := k8sClient.Delete(testCtx, getQueueWorker(t, ns, "clean")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the drain key goes with the QueueWorker", func() error {
		if n := rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val(); n != 0 {
			return errors.New("the drain key is still set")
		}
		return nil
	})
}

// setPodReady sets a pod's Ready condition, as its kubelet would.
func setPodReady(t *testing.T, ns, name string, ready bool) {
	t.Helper()
	pod := getPod(t, ns, name)
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if err := k8sClient.Status().Update(testCtx, pod); err != nil {
		t.Fatal(err)
	}
}

// holdsFor checks f for d and fails at the first error.
func holdsFor(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deploymentReplicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	dep, err := getDeployment(t, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return ptr.Deref(dep.Spec.Replicas, -1)
}

// A released pod the ReplicaSet keeps (it removes a not-ready pod first)
// is a replica again: it loses its lowest cost, its annotation and its
// drain key, and serves; a later scale-down drains it anew and does not
// remove it while it runs a task.
func TestDrainKeptReleasedPodServesAgain(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "kept", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](2), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 6) // ceil(6/2) = 3
	waitDeploymentReplicas(t, ns, "kept", 3)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	createWorkerPod(t, qw, "pod-c", false) // not ready: the ReplicaSet removes it first
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour))
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-c", "active", now.Add(time.Hour), now)

	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	// 3 -> 2 (minReplicas): pod-a, idle, drains and is released.
	eventually(t, "pod-a drains", func() error {
		if rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val() != 1 {
			return errors.New("no drain key for pod-a")
		}
		return nil
	})
	expires := time.Now().Add(time.Hour)
	eventually(t, "pod-a released", func() error {
		expires = expires.Add(time.Second)
		heartbeat(t, rdb, "pod-a", "stopped", expires)
		if c, _ := deletionCost(t, ns, "pod-a"); c != drain.ReleasedCost {
			return fmt.Errorf("pod-a deletion cost %d", c)
		}
		return nil
	})
	waitDeploymentReplicas(t, ns, "kept", 2)
	// The ReplicaSet removes the not-ready pod-c, not pod-a: pod-a is now
	// one of the 2 replicas.
	if err := k8sClient.Delete(testCtx, getPod(t, ns, "pod-c")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a serves again", func() error {
		pod := getPod(t, ns, "pod-a")
		if _, ok := pod.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a keeps its draining-since annotation")
		}
		if c, ok := pod.Annotations[corev1.PodDeletionCost]; ok {
			return fmt.Errorf("pod-a keeps deletion cost %s", c)
		}
		if rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val() != 0 {
			return errors.New("pod-a keeps its drain key")
		}
		return nil
	})
	// The worker resumed and runs a task.
	now = time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now)
	time.Sleep(time.Second)

	// A scale-down 2 -> 1, both pods busy: Drain keeps 2 replicas.
	updateQueueWorker(t, ns, "kept", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.MinReplicas = ptr.To[int32](1)
	})
	holdsFor(t, "no busy pod is removed", 4*time.Second, func() error {
		if r := deploymentReplicas(t, ns, "kept"); r != 2 {
			c, _ := deletionCost(t, ns, "pod-a")
			return fmt.Errorf("replicas %d while pod-a (deletion cost %d) and pod-b each run a task", r, c)
		}
		return nil
	})
}

// A draining pod (not ready by contract) whose heartbeat vanishes, as
// when Redis restarts empty, is not taken for one without asynq server
// and released while its last heartbeat showed a task running.
func TestDrainVanishedHeartbeatKeepsBusyPod(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "flush", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "flush", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a drains", func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
			return errors.New("pod-a does not drain")
		}
		return nil
	})
	// The worker drains: /readyz 503, its server stopped, its task runs on.
	setPodReady(t, ns, "pod-a", false)
	expires := time.Now().Add(time.Hour)
	notReleased := func() error {
		if c, _ := deletionCost(t, ns, "pod-a"); c == drain.ReleasedCost {
			return errors.New("pod-a, running a task, was released (deletion cost MinInt32)")
		}
		if r := deploymentReplicas(t, ns, "flush"); r != 2 {
			return fmt.Errorf("replicas %d while pod-a runs a task", r)
		}
		return nil
	}
	for range 10 {
		expires = expires.Add(time.Second)
		heartbeat(t, rdb, "pod-a", "stopped", expires, now)
		if err := notReleased(); err != nil {
			t.Fatal("before the restart: ", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Redis restarts empty; the workers write their heartbeats again
	// within 5 s.
	if err := rdb.FlushAll(testCtx).Err(); err != nil {
		t.Fatal(err)
	}
	holdsFor(t, "after a Redis restart, within one heartbeat period", 3*time.Second, notReleased)
}

// A pod with the worker labels that the Deployment's ReplicaSet does not
// control (a copy for debugging, a Job's pod) is not drained nor released
// in place of a busy replica.
func TestDrainIgnoresForeignLabelledPod(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "foreign", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](2), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 6)
	waitDeploymentReplicas(t, ns, "foreign", 3)
	for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
		createWorkerPod(t, qw, p, true)
	}
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-c", "active", now.Add(time.Hour), now)
	// A pod someone else controls, with the worker labels.
	debug := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-a-debug", Namespace: ns, Labels: resources.WorkerLabels(qw),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "debug",
				UID: "0b6e9d4c-1111-2222-3333-444455556666", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "example.com/worker:1"}}},
	}
	if err := k8sClient.Create(testCtx, debug); err != nil {
		t.Fatal(err)
	}
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	// 3 -> 2 wanted; every pod the ReplicaSet owns runs a task.
	holdsFor(t, "no busy worker is removed", 4*time.Second, func() error {
		if r := deploymentReplicas(t, ns, "foreign"); r != 3 {
			c, _ := deletionCost(t, ns, "pod-a-debug")
			return fmt.Errorf("replicas %d: released the foreign pod-a-debug (deletion cost %d), which the ReplicaSet "+
				"does not own; it removes one of pod-a, pod-b, pod-c, each running a task", r, c)
		}
		if _, ok := getPod(t, ns, "pod-a-debug").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("the foreign pod-a-debug drains")
		}
		if rdb.Exists(testCtx, contract.DrainKey("pod-a-debug")).Val() != 0 {
			return errors.New("the foreign pod-a-debug has a drain key")
		}
		return nil
	})
}

// Under Drain, before the autoscaler's first read (an operator restart,
// here an endpoint change made with a lower maxReplicas), the count is not
// lowered blind: pods are drained first, once their heartbeats are read.
func TestDrainKeepsReplicasBeforeFirstRead(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "blind", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 6)
	waitDeploymentReplicas(t, ns, "blind", 3)
	now := time.Now()
	for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
		createWorkerPod(t, qw, p, true)
		heartbeat(t, rdb, p, "active", now.Add(time.Hour), now)
	}
	updateQueueWorker(t, ns, "blind", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.MaxReplicas = 2
		qw.Spec.Redis.DB = ptr.To[int32](1)
	})
	holdsFor(t, "every pod runs a task: no replica goes before a drain", 3*time.Second, func() error {
		if r := deploymentReplicas(t, ns, "blind"); r != 3 {
			var draining []string
			for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
				if _, ok := getPod(t, ns, p).Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
					draining = append(draining, p)
				}
			}
			return fmt.Errorf("replicas %d before the first read, pods draining: %v", r, draining)
		}
		return nil
	})
}

// A drain key is set only after the pod's draining-since annotation: when
// the annotation's PATCH fails and the decision is back at the current
// count, no key is left without its annotation.
func TestDrainFailedAnnotationLeavesNoKey(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "orphan", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "orphan", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)

	suffix := "/namespaces/" + ns + "/pods/pod-a"
	failWrites(suffix, 1<<30)
	t.Cleanup(func() { failWrites(suffix, 0) })
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	key := contract.DrainKey("pod-a")
	// The operator tries to drain pod-a (1 replica wanted) but cannot
	// annotate it.
	holdsFor(t, "no drain key without its annotation", 2*time.Second, func() error {
		if rdb.Exists(testCtx, key).Val() != 0 {
			return errors.New("pod-a's drain key is set while its annotation cannot be written")
		}
		return nil
	})
	// Work again before the API server answers: 2 replicas wanted.
	enqueue(t, srv.Addr, q, 4)
	time.Sleep(2 * time.Second)
	failWrites(suffix, 0)
	time.Sleep(3 * time.Second)
	if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
		t.Fatal("pod-a is annotated: the drain is known, not the case under test")
	}
	if r := deploymentReplicas(t, ns, "orphan"); r != 2 {
		t.Fatalf("replicas %d", r)
	}
	if rdb.Exists(testCtx, key).Val() != 0 {
		t.Errorf("no drain is wanted (2 replicas, pod-a not annotated, status.draining %v) but pod-a's drain key "+
			"is still set (TTL %v): the worker stays drained while counted as a replica",
			getQueueWorker(t, ns, "orphan").Status.Draining, rdb.TTL(testCtx, key).Val())
	}
}

// A QueueWorker moved to another database while a pod drains: its drain
// key is deleted where it was set, the database the pod still reads.
func TestDrainKeyDeletedInItsDatabase(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "moved", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "moved", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	key := contract.DrainKey("pod-a")
	eventually(t, "pod-a drains in db 0", func() error {
		if rdb.Exists(testCtx, key).Val() != 1 {
			return errors.New("no drain key in db 0")
		}
		return nil
	})

	updateQueueWorker(t, ns, "moved", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Redis.DB = ptr.To[int32](1)
	})
	// Work arrives in the new database: 3 replicas wanted, the drain of
	// pod-a is cancelled.
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr, DB: 1})
	defer func() { _ = c.Close() }()
	for i := range 6 {
		if _, err := c.Enqueue(asynq.NewTask("test:noop", []byte(fmt.Sprint(i))), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the drain of pod-a is cancelled", func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a still has its draining-since annotation")
		}
		return nil
	})
	waitDeploymentReplicas(t, ns, "moved", 3)
	time.Sleep(time.Second)
	if rdb.Exists(testCtx, key).Val() != 0 {
		t.Errorf("the drain was cancelled (annotation gone, scaled up) but pod-a's drain key is still set in db 0, "+
			"the database pod-a reads: it stays drained, TTL %v", rdb.TTL(testCtx, key).Val())
	}
}

// Under None the deletion costs PreferIdle set before are removed: a
// ranking of the past must not choose the pods of later scale-downs.
func TestPolicyNoneRemovesDeletionCosts(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "stale", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyPreferIdle, nil),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 6)
	waitDeploymentReplicas(t, ns, "stale", 3)
	for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
		createWorkerPod(t, qw, p, true)
	}
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour))
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-c", "active", now.Add(time.Hour), now, now)
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "stale", 1)
	if _, ok := deletionCost(t, ns, "pod-a"); !ok {
		t.Fatal("PreferIdle set no cost")
	}
	updateQueueWorker(t, ns, "stale", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.ScaleDown.Drain = &queueworkerv1alpha1.ScaleDownDrain{Policy: queueworkerv1alpha1.DrainPolicyNone}
	})
	eventually(t, "policy None: no deletion cost left", func() error {
		for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
			if c, ok := deletionCost(t, ns, p); ok {
				return fmt.Errorf("pod %s keeps deletion cost %d from PreferIdle", p, c)
			}
		}
		return nil
	})
}

// Leaving Drain removes a released pod's lowest cost with its key and
// annotation: it serves again and is no longer the first to go.
func TestDrainOffRemovesReleasedCost(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "off", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](2), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 6)
	waitDeploymentReplicas(t, ns, "off", 3)
	for _, p := range []string{"pod-a", "pod-b", "pod-c"} {
		createWorkerPod(t, qw, p, true)
	}
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour))
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-c", "active", now.Add(time.Hour), now, now)
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a drains", func() error {
		if rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val() != 1 {
			return errors.New("no drain key for pod-a")
		}
		return nil
	})
	expires := time.Now().Add(time.Hour)
	eventually(t, "pod-a released", func() error {
		expires = expires.Add(time.Second)
		heartbeat(t, rdb, "pod-a", "stopped", expires)
		if c, _ := deletionCost(t, ns, "pod-a"); c != drain.ReleasedCost {
			return fmt.Errorf("pod-a deletion cost %d", c)
		}
		return nil
	})
	waitDeploymentReplicas(t, ns, "off", 2)

	updateQueueWorker(t, ns, "off", func(qw *queueworkerv1alpha1.QueueWorker) {
		qw.Spec.Autoscaling.ScaleDown.Drain = &queueworkerv1alpha1.ScaleDownDrain{Policy: queueworkerv1alpha1.DrainPolicyNone}
	})
	eventually(t, "the drain's key and annotation go", func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			return errors.New("pod-a keeps draining-since")
		}
		if rdb.Exists(testCtx, contract.DrainKey("pod-a")).Val() != 0 {
			return errors.New("pod-a keeps its drain key")
		}
		return nil
	})
	time.Sleep(time.Second)
	if c, ok := deletionCost(t, ns, "pod-a"); ok && c == drain.ReleasedCost {
		t.Errorf("policy None: pod-a serves again (no key) but keeps the Drain policy's deletion cost %d", c)
	}
}

// Drain events go out with the status that records them: none from a
// reconcile whose status write fails.
func TestDrainEventsWaitForStatus(t *testing.T) {
	ns := createNamespace(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	qw := autoscaledQueueWorker(ns, "evt", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10, PollInterval: dur(200 * time.Millisecond),
		ScaleDown: drainPolicy(queueworkerv1alpha1.DrainPolicyDrain, dur(time.Hour)),
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, q, 4)
	waitDeploymentReplicas(t, ns, "evt", 2)
	createWorkerPod(t, qw, "pod-a", true)
	createWorkerPod(t, qw, "pod-b", true)
	now := time.Now()
	heartbeat(t, rdb, "pod-a", "active", now.Add(time.Hour), now)
	heartbeat(t, rdb, "pod-b", "active", now.Add(time.Hour), now, now)
	time.Sleep(time.Second)

	suffix := "/namespaces/" + ns + "/queueworkers/evt/status"
	failWrites(suffix, 1<<30)
	t.Cleanup(func() { failWrites(suffix, 0) })
	if _, err := inspector(t, srv.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod-a drains", func() error {
		if _, ok := getPod(t, ns, "pod-a").Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
			return errors.New("pod-a does not drain")
		}
		return nil
	})
	time.Sleep(time.Second)
	if n := countEvents(t, ns, "evt", queueworkerv1alpha1.ReasonDrainStarted); n != 0 {
		t.Errorf("%d DrainStarted events while every status write fails (status.draining %v)",
			n, getQueueWorker(t, ns, "evt").Status.Draining)
	}
}

// status.draining and DrainTimedOut say a draining pod's task count is
// unknown when its heartbeats were not read (Redis Cluster, a failed
// read), rather than 0.
func TestDrainingCountUnknownWithoutHeartbeats(t *testing.T) {
	r := &QueueWorkerReconciler{}
	qw := &queueworkerv1alpha1.QueueWorker{}
	since := "2026-01-02T03:04:05Z"
	pods := []workerPod{{ObjectMeta: metav1.ObjectMeta{Name: "pod-a",
		Annotations: map[string]string{queueworkerv1alpha1.AnnotationDrainingSince: since}}}}
	r.setDrainingStatus(qw, pods, map[string]drain.Pod{"pod-a": {Name: "pod-a"}})
	if len(qw.Status.Draining) != 1 || qw.Status.Draining[0].Running != nil {
		t.Errorf("unread heartbeats: status.draining %+v, want pod-a without a running count", qw.Status.Draining)
	}
	r.setDrainingStatus(qw, pods, map[string]drain.Pod{"pod-a": {Name: "pod-a", Known: true,
		Servers: []drain.Server{{ID: "s", Running: 2}}}})
	if len(qw.Status.Draining) != 1 || ptr.Deref(qw.Status.Draining[0].Running, -1) != 2 {
		t.Errorf("read heartbeats: status.draining %+v, want pod-a running 2", qw.Status.Draining)
	}
	if got := runningText(drain.Pod{Name: "pod-a"}); got != "an unknown number of" {
		t.Errorf("runningText of an unread pod = %q", got)
	}
	if got := runningText(drain.Pod{Name: "pod-a", Known: true}); got != "0" {
		t.Errorf("runningText of an idle pod = %q", got)
	}
}
