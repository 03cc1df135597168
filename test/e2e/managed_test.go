//go:build e2e

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

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Sizes of the managed scenario.
const (
	managedBurst   = 300 // tasks the workers run on the managed Redis
	managedPending = 500 // tasks that wait in a paused queue across the roll
)

// testManaged runs Redis through a RedisConfig in mode Managed: the
// operator's StatefulSet, its redis.conf from a ConfigMap, its password
// from a Secret and its append-only file on a claimed volume. QueueWorkers
// that name it through configRef complete a burst exactly once; a runtime
// change (maxmemory) reaches the running server without a restart; a
// restart-only change (tcp-backlog) rolls the pod, and the append-only file
// keeps every task that was waiting. The chart's task dashboard, next to
// the server, shows the waiting tasks and refuses to resume their queue.
func (s *suite) testManaged(t *testing.T) {
	const queue = "managed"
	sc := s.newScenario(t, "e2e-managed", false)
	ctx := t.Context()

	rc := &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs", Namespace: sc.ns},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Mode:    queueworkerv1alpha1.RedisConfigManaged,
			Managed: &queueworkerv1alpha1.ManagedRedis{},
			Memory:  queueworkerv1alpha1.RedisMemory{MaxMemory: ptr.To(resource.MustParse("64Mi"))},
			Network: queueworkerv1alpha1.RedisNetwork{TCPBacklog: 511},
		},
	}
	created := time.Now()
	if err := s.client.Create(ctx, rc); err != nil {
		t.Fatalf("creating RedisConfig: %v", err)
	}
	sc.waitRedisConfigReady(rc)
	sc.result.note("managed Redis ready %s after the RedisConfig was created", time.Since(created).Round(100*time.Millisecond))

	password := sc.managedPassword(rc)
	sts := rc.Name + "-redis"
	// The chart's task dashboard, next to this Redis: checked below, with
	// tasks waiting in a paused queue.
	sc.startDashboard(sts, rc.Name+"-redis-auth")
	sc.rdb = s.provider.serviceClient(t, s.client, sc.ns, sts, password)
	for _, check := range []struct{ key, want string }{
		{"appendonly", "yes"}, {"appendfsync", "everysec"}, {"tcp-backlog", "511"},
	} {
		got, err := sc.rdb.ConfigGet(ctx, check.key).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", check.key, err)
		}
		if got[check.key] != check.want {
			t.Fatalf("CONFIG GET %s = %q, want %q as the operator renders it", check.key, got[check.key], check.want)
		}
	}

	qw := sc.newQueueWorker("managed", workerSpec{
		queue: queue, concurrency: 8, minReplicas: 1, maxReplicas: 2, scaleDownWindow: 10 * time.Second,
		redis: &queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: rc.Name}},
	})
	sc.createWorkers(qw)
	burst := time.Now()
	ids := sc.enqueue(queue, managedBurst, 20*time.Millisecond)
	sc.waitDrained(queue, ids)
	sc.checkExactlyOnce(sc.finalTally(ids))
	sc.result.note("%d tasks done exactly once through configRef %s after the burst", managedBurst, time.Since(burst).Round(100*time.Millisecond))

	// A runtime key: CONFIG SET on the running server, same pod, same
	// process.
	pod := sc.redisPod(sts)
	runID := sc.serverField("run_id")
	orig := rc.DeepCopy()
	rc.Spec.Memory.MaxMemory = ptr.To(resource.MustParse("96Mi"))
	changed := time.Now()
	if err := s.client.Patch(ctx, rc, client.MergeFrom(orig)); err != nil {
		t.Fatalf("changing memory.maxMemory: %v", err)
	}
	sc.waitMaxMemory(rc, "96Mi")
	// A roll would delete the pod only after this point, while its uid and
	// run_id still answer: what proves that none comes is the StatefulSet,
	// once its controller has seen the latest template.
	sc.checkNotRolling(sts)
	if now := sc.redisPod(sts); now.UID != pod.UID || now.DeletionTimestamp != nil {
		t.Fatalf("pod %s was replaced (uid %s, then %s, deleted at %v) by a runtime change", sts+"-0", pod.UID, now.UID, now.DeletionTimestamp)
	}
	if now := sc.serverField("run_id"); now != runID {
		t.Fatalf("redis-server restarted on a runtime change: run_id %s, then %s", runID, now)
	}
	sc.result.note("maxmemory 96Mi on the running server %s after the change, same pod and run_id", time.Since(changed).Round(100*time.Millisecond))

	// A restart-only key, with tasks waiting in a paused queue: the pod
	// rolls and the append-only file brings every task back.
	inspector := asynq.NewInspectorFromRedisClient(sc.rdb)
	if err := inspector.PauseQueue(queue); err != nil {
		t.Fatalf("pausing queue %s: %v", queue, err)
	}
	pending := sc.enqueue(queue, managedPending, 20*time.Millisecond)
	if n := sc.pendingCount(inspector, queue); n != managedPending {
		t.Fatalf("%d tasks pending in the paused queue before the roll, want %d", n, managedPending)
	}
	// asynq counts succeeded tasks per UTC day: a burst before midnight is
	// yesterday's.
	succeeded := managedBurst
	if day := 24 * time.Hour; !burst.Truncate(day).Equal(time.Now().Truncate(day)) {
		succeeded = 0
	}
	sc.checkDashboard(queue, managedPending, succeeded)
	if info, err := inspector.GetQueueInfo(queue); err != nil || !info.Paused {
		t.Fatalf("queue %s after the dashboard refused to resume it: %+v, %v; want still paused", queue, info, err)
	}
	orig = rc.DeepCopy()
	rc.Spec.Network.TCPBacklog = 256
	rolled := time.Now()
	if err := s.client.Patch(ctx, rc, client.MergeFrom(orig)); err != nil {
		t.Fatalf("changing network.tcpBacklog: %v", err)
	}
	eventually(t, "the Redis pod is replaced", shortWait, func() (bool, error) {
		var p corev1.Pod
		err := s.client.Get(ctx, types.NamespacedName{Namespace: sc.ns, Name: sts + "-0"}, &p)
		if err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return p.UID != pod.UID, fmt.Errorf("pod %s still has uid %s", p.Name, p.UID)
	})
	sc.waitRedisConfigReady(rc)
	eventually(t, "the new redis-server answers with tcp-backlog 256", shortWait, func() (bool, error) {
		got, err := sc.rdb.ConfigGet(ctx, "tcp-backlog").Result()
		if err != nil {
			return false, err
		}
		return got["tcp-backlog"] == "256", fmt.Errorf("tcp-backlog is %q", got["tcp-backlog"])
	})
	if now := sc.serverField("run_id"); now == runID {
		t.Fatalf("redis-server kept run_id %s across a restart-only change", runID)
	}
	if n := sc.pendingCount(inspector, queue); n != managedPending {
		t.Fatalf("%d tasks pending after the roll, want all %d that were pending before it", n, managedPending)
	}
	sc.result.note("tcp-backlog 256 rolled the pod in %s; %d of %d pending tasks kept by the append-only file",
		time.Since(rolled).Round(100*time.Millisecond), managedPending, managedPending)

	if err := inspector.UnpauseQueue(queue); err != nil {
		t.Fatalf("resuming queue %s: %v", queue, err)
	}
	all := append(ids, pending...)
	sc.waitDrained(queue, all)
	sc.checkExactlyOnce(sc.finalTally(all))
}

// waitRedisConfigReady waits until the RedisConfig's status describes its
// current generation as Ready.
func (sc *scenario) waitRedisConfigReady(rc *queueworkerv1alpha1.RedisConfig) {
	t := sc.t
	t.Helper()
	eventually(t, "RedisConfig "+rc.Name+" is Ready at its generation", shortWait, func() (bool, error) {
		var got queueworkerv1alpha1.RedisConfig
		if err := sc.s.client.Get(t.Context(), client.ObjectKeyFromObject(rc), &got); err != nil {
			return false, err
		}
		ready := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionReady)
		if got.Status.ObservedGeneration != got.Generation || ready == nil || ready.Status != metav1.ConditionTrue ||
			ready.ObservedGeneration != got.Generation {
			return false, fmt.Errorf("observedGeneration %d of %d, conditions %+v",
				got.Status.ObservedGeneration, got.Generation, got.Status.Conditions)
		}
		return true, nil
	})
}

// managedPassword reads the password the operator generated for rc.
// checkNotRolling waits until the StatefulSet controller has observed the
// StatefulSet's generation, and fails when its template then differs from
// the one its pods run.
func (sc *scenario) checkNotRolling(name string) {
	t := sc.t
	t.Helper()
	var sts appsv1.StatefulSet
	eventually(t, "StatefulSet "+name+" is observed at its generation", shortWait, func() (bool, error) {
		if err := sc.s.client.Get(t.Context(), types.NamespacedName{Namespace: sc.ns, Name: name}, &sts); err != nil {
			return false, err
		}
		s := sts.Status
		return s.ObservedGeneration == sts.Generation && s.UpdateRevision != "",
			fmt.Errorf("observedGeneration %d of %d, updateRevision %q", s.ObservedGeneration, sts.Generation, s.UpdateRevision)
	})
	if s := sts.Status; s.UpdateRevision != s.CurrentRevision || s.UpdatedReplicas < s.Replicas {
		t.Fatalf("StatefulSet %s rolls its pods to a new template (revision %s, then %s; %d of %d updated) on a runtime change",
			name, s.CurrentRevision, s.UpdateRevision, s.UpdatedReplicas, s.Replicas)
	}
}

func (sc *scenario) managedPassword(rc *queueworkerv1alpha1.RedisConfig) string {
	t := sc.t
	t.Helper()
	var sec corev1.Secret
	key := types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name + "-redis-auth"}
	if err := sc.s.client.Get(t.Context(), key, &sec); err != nil {
		t.Fatalf("reading the generated password: %v", err)
	}
	if len(sec.Data["password"]) == 0 {
		t.Fatalf("Secret %s has no password", key)
	}
	return string(sec.Data["password"])
}

// redisPod returns the managed Redis pod of StatefulSet sts.
func (sc *scenario) redisPod(sts string) *corev1.Pod {
	t := sc.t
	t.Helper()
	var p corev1.Pod
	if err := sc.s.client.Get(t.Context(), types.NamespacedName{Namespace: sc.ns, Name: sts + "-0"}, &p); err != nil {
		t.Fatalf("reading the Redis pod: %v", err)
	}
	return &p
}

// serverField returns a field of INFO server.
func (sc *scenario) serverField(name string) string {
	t := sc.t
	t.Helper()
	info, err := sc.rdb.Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO server has no %s", name)
	return ""
}

// pendingCount returns the pending tasks of queue.
func (sc *scenario) pendingCount(inspector *asynq.Inspector, queue string) int {
	t := sc.t
	t.Helper()
	info, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatalf("reading queue %s: %v", queue, err)
	}
	if info.Active+info.Scheduled+info.Retry > 0 {
		t.Fatalf("queue %s: %d active, %d scheduled, %d retry; want only pending tasks", queue, info.Active, info.Scheduled, info.Retry)
	}
	return info.Pending
}
