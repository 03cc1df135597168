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

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// These tests scale real Deployments in a real API server on queues in a
// real redis-server. No worker runs, so enqueued tasks stay pending until a
// test removes them.

func autoscaledQueueWorker(ns, name, addr string, as queueworkerv1alpha1.Autoscaling) *queueworkerv1alpha1.QueueWorker {
	qw := newQueueWorker(ns, name)
	qw.Spec.Queues = []queueworkerv1alpha1.Queue{{Name: ns + "-" + name, Priority: 1}}
	qw.Spec.Concurrency = 2
	qw.Spec.Redis.Addr = addr
	qw.Spec.Autoscaling = &as
	return qw
}

func enqueue(t *testing.T, addr, queue string, n int) {
	t.Helper()
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: addr})
	defer func() { _ = c.Close() }()
	for i := range n {
		if _, err := c.Enqueue(asynq.NewTask("test:noop", []byte(fmt.Sprint(i))), asynq.Queue(queue)); err != nil {
			t.Fatal(err)
		}
	}
}

// enqueueAt enqueues one task through asynq and rewrites its pending_since,
// as a producer whose clock reads at would have written it.
func enqueueAt(t *testing.T, addr, q string, at time.Time) {
	t.Helper()
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: addr})
	defer func() { _ = c.Close() }()
	info, err := c.Enqueue(asynq.NewTask("test:skew", nil), asynq.Queue(q))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = rdb.Close() }()
	key := "asynq:{" + q + "}:t:" + info.ID
	if err := rdb.HSet(t.Context(), key, "pending_since", at.UnixNano()).Err(); err != nil {
		t.Fatal(err)
	}
}

// startRedis runs a private redis-server for one test.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	srv, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func inspector(t *testing.T, addr string) *asynq.Inspector {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return asynq.NewInspectorFromRedisClient(rdb)
}

func waitDeploymentReplicas(t *testing.T, ns, name string, want int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("Deployment %s at %d replicas", name, want), func() error {
		dep, err := getDeployment(t, ns, name)
		if err != nil {
			return err
		}
		if got := ptr.Deref(dep.Spec.Replicas, -1); got != want {
			return fmt.Errorf("replicas %d", got)
		}
		return nil
	})
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// servedSeries returns the series of the metric name that the manager's
// metrics endpoint serves and that carry every given label value.
func servedSeries(t *testing.T, name string, labels map[string]string) []*dto.Metric {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			found := 0
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
					found++
				}
			}
			if found == len(labels) {
				out = append(out, m)
			}
		}
	}
	return out
}

// servedGauge is the value of the one served gauge series of name with the
// given labels, zero when there is none.
func servedGauge(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	series := servedSeries(t, name, labels)
	switch len(series) {
	case 0:
		return 0
	case 1:
		return series[0].GetGauge().GetValue()
	default:
		t.Fatalf("%d series of %s with labels %v, want one", len(series), name, labels)
		return 0
	}
}

// TestAutoscaleGroupedTasksInStatus: tasks waiting in an aggregation group
// wake a QueueWorker at zero and show in its status and metrics.
func TestAutoscaleGroupedTasksInStatus(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "grouped", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
	})
	q := qw.Spec.Queues[0].Name
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: redisServer.Addr})
	for i := range 6 {
		if _, err := c.Enqueue(asynq.NewTask("test:item", []byte(fmt.Sprint(i))), asynq.Queue(q), asynq.Group("digest")); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close()
	t.Cleanup(func() { _, _ = inspector(t, redisServer.Addr).DeleteAllAggregatingTasks(q, "digest") })
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}

	waitDeploymentReplicas(t, ns, "grouped", 3) // ceil(6/2)
	eventually(t, "status shows the grouped tasks", func() error {
		got := getQueueWorker(t, ns, "grouped")
		if got.Status.Backlog != 6 || len(got.Status.Queues) != 1 || got.Status.Queues[0].Aggregating != 6 ||
			got.Status.Queues[0].Pending != 0 {
			return fmt.Errorf("status %+v", got.Status)
		}
		return nil
	})
	if v := servedGauge(t, "queueworker_queue_backlog", map[string]string{"namespace": ns, "queueworker": "grouped", "queue": q}); v != 6 {
		t.Errorf("queueworker_queue_backlog = %v, want 6", v)
	}
}

// TestAutoscaleOrphansInStatus: tasks whose worker died (in asynq's active
// list, their leases expired) show per queue as orphaned, not active and
// not in the backlog, and keep the last worker of a QueueWorker that may
// scale to zero, since only a worker's recoverer takes them back.
func TestAutoscaleOrphansInStatus(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "orphans", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	q := qw.Spec.Queues[0].Name
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	active, lease := "asynq:{"+q+"}:active", "asynq:{"+q+"}:lease"
	expired := float64(time.Now().Add(-time.Minute).Unix())
	if err := rdb.LPush(testCtx, active, "dead1", "dead2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(testCtx, lease, redis.Z{Score: expired, Member: "dead1"}, redis.Z{Score: expired, Member: "dead2"}).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Del(testCtx, active, lease).Err() })
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}

	eventually(t, "status shows the orphans", func() error {
		got := getQueueWorker(t, ns, "orphans")
		if got.Status.Backlog != 0 || len(got.Status.Queues) != 1 || got.Status.Queues[0].Orphaned != 2 ||
			got.Status.Queues[0].Active != 0 {
			return fmt.Errorf("status %+v", got.Status)
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionScalingActive, metav1.ConditionTrue,
			string(autoscale.RuleRecoverOrphans))
	})
	waitDeploymentReplicas(t, ns, "orphans", 1)
	if v := servedGauge(t, "queueworker_queue_orphaned", map[string]string{"namespace": ns, "queueworker": "orphans", "queue": q}); v != 2 {
		t.Errorf("queueworker_queue_orphaned = %v, want 2", v)
	}
}

// TestAutoscaleBurstAndDrain: a burst raises the replicas to
// ceil(backlog / concurrency) in one step; when the queue drains they go
// back to minReplicas after the scale-down window.
func TestAutoscaleBurstAndDrain(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "burst", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(2 * time.Second)}},
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "burst", 1)
	eventually(t, "RedisReachable=True", func() error {
		return conditionIs(getQueueWorker(t, ns, "burst"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})

	enqueue(t, redisServer.Addr, q, 11) // ceil(11/2) = 6
	waitDeploymentReplicas(t, ns, "burst", 6)
	eventually(t, "status shows the backlog", func() error {
		got := getQueueWorker(t, ns, "burst")
		if got.Status.Backlog != 11 || got.Status.DesiredReplicas != 6 || len(got.Status.Queues) != 1 ||
			got.Status.Queues[0].Pending != 11 || got.Status.LastScaleTime == nil {
			return fmt.Errorf("status %+v", got.Status)
		}
		return nil
	})
	eventually(t, "ScaledUp event", func() error { return hasEvent(t, ns, "burst", queueworkerv1alpha1.ReasonScaledUp) })
	eventually(t, "backlog metric", func() error {
		if v := servedGauge(t, "queueworker_queue_backlog", map[string]string{"namespace": ns, "queueworker": "burst", "queue": q}); v != 11 {
			return fmt.Errorf("queueworker_queue_backlog = %v, want 11", v)
		}
		if v := testutil.ToFloat64(metricScaleEvents.WithLabelValues(ns, "burst", "up")); v < 1 {
			return fmt.Errorf("queueworker_scale_events_total{direction=up} = %v", v)
		}
		return nil
	})

	// More than maxReplicas can use is clamped.
	enqueue(t, redisServer.Addr, q, 40)
	waitDeploymentReplicas(t, ns, "burst", 10)

	if _, err := inspector(t, redisServer.Addr).DeleteAllPendingTasks(q); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "burst", 1)
	eventually(t, "ScaledDown event", func() error { return hasEvent(t, ns, "burst", queueworkerv1alpha1.ReasonScaledDown) })
}

// TestAutoscaleToZeroAndWake: with minReplicas 0 the workers go to zero
// once the queue has been empty for scaleToZeroDelay, and wake on work.
func TestAutoscaleToZeroAndWake(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "zero", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 4,
		ScaleToZeroDelay: dur(2 * time.Second),
		ScaleDown:        &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "zero", 0)
	enqueue(t, redisServer.Addr, q, 1)
	waitDeploymentReplicas(t, ns, "zero", 1)
}

// TestAutoscalePausedQueue: tasks waiting in a paused queue need no
// workers.
func TestAutoscalePausedQueue(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "paused", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 5,
	})
	q := qw.Spec.Queues[0].Name
	enqueue(t, redisServer.Addr, q, 8)
	if err := inspector(t, redisServer.Addr).PauseQueue(q); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the paused queue is read", func() error {
		got := getQueueWorker(t, ns, "paused")
		if len(got.Status.Queues) != 1 || !got.Status.Queues[0].Paused || got.Status.Queues[0].Pending != 8 {
			return fmt.Errorf("queues %+v", got.Status.Queues)
		}
		if got.Status.Backlog != 0 || got.Status.DesiredReplicas != 1 {
			return fmt.Errorf("backlog %d desired %d, want 0 and 1", got.Status.Backlog, got.Status.DesiredReplicas)
		}
		return nil
	})
	waitDeploymentReplicas(t, ns, "paused", 1)

	if err := inspector(t, redisServer.Addr).UnpauseQueue(q); err != nil {
		t.Fatal(err)
	}
	waitDeploymentReplicas(t, ns, "paused", 4)
}

// TestAutoscaleRedisDownHolds: when Redis stops answering the replicas
// stay where they are, RedisReachable turns False with an event, and it
// recovers when Redis is back.
func TestAutoscaleRedisDownHolds(t *testing.T) {
	srv, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "outage", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, qw.Spec.Queues[0].Name, 6)
	waitDeploymentReplicas(t, ns, "outage", 3)
	// Three replicas may come from a read of 5 of the 6 tasks: wait until
	// the status shows the read of all of them.
	eventually(t, "status.backlog 6", func() error {
		if b := getQueueWorker(t, ns, "outage").Status.Backlog; b != 6 {
			return fmt.Errorf("status.backlog %d", b)
		}
		return nil
	})

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RedisReachable=False", func() error {
		return conditionIs(getQueueWorker(t, ns, "outage"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonRedisUnreachable)
	})
	eventually(t, "RedisUnreachable event", func() error {
		return hasEvent(t, ns, "outage", queueworkerv1alpha1.ReasonRedisUnreachable)
	})
	// Several failed polls later the count is still held: with no window,
	// an empty reading would have scaled down at once.
	time.Sleep(3 * time.Second)
	waitDeploymentReplicas(t, ns, "outage", 3)
	got := getQueueWorker(t, ns, "outage")
	if got.Status.Backlog != 6 {
		t.Errorf("status.backlog = %d during the outage, want the last reading 6", got.Status.Backlog)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RedisReachable=True again", func() error {
		return conditionIs(getQueueWorker(t, ns, "outage"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	eventually(t, "RedisReachable event that counts the failed reads", func() error {
		for _, e := range eventsFor(t, ns, "outage") {
			if e.Reason == queueworkerv1alpha1.ReasonRedisReachable {
				if strings.Contains(e.Note, "after 0 failed reads") {
					t.Fatalf("the recovery event counts no failed read: %s", e.Note)
				}
				return nil
			}
		}
		return fmt.Errorf("no %s event", queueworkerv1alpha1.ReasonRedisReachable)
	})
	// The restarted server kept no data (persistence is off in tests), so
	// the queue is empty and the workers scale in.
	waitDeploymentReplicas(t, ns, "outage", 1)
}

// TestAutoscaleSharesOneClient: two QueueWorkers on one Redis use one
// client; it is closed when the last of them stops autoscaling.
func TestAutoscaleSharesOneClient(t *testing.T) {
	srv, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	before := redisPool.Len()
	ns := createNamespace(t)
	as := queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 3}
	for _, name := range []string{"one", "two"} {
		if err := k8sClient.Create(testCtx, autoscaledQueueWorker(ns, name, srv.Addr, as)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"one", "two"} {
		eventually(t, name+" reads Redis", func() error {
			return conditionIs(getQueueWorker(t, ns, name), queueworkerv1alpha1.ConditionRedisReachable,
				metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
		})
	}
	if got := redisPool.Len(); got != before+1 {
		t.Fatalf("%d Redis clients after two QueueWorkers on one endpoint, want %d", got, before+1)
	}
	for _, name := range []string{"one", "two"} {
		updateQueueWorker(t, ns, name, func(q *queueworkerv1alpha1.QueueWorker) {
			q.Spec.Autoscaling = nil
		})
	}
	eventually(t, "the client is closed", func() error {
		if got := redisPool.Len(); got != before {
			return fmt.Errorf("%d clients, want %d", got, before)
		}
		return nil
	})
}

// TestAutoscaleBadKeyStaysWithItsQueue: two QueueWorkers share one Redis;
// one's queue has a key of the wrong type. That one holds and says why;
// the other scales as usual, and nothing in its status or events names the
// broken queue.
func TestAutoscaleBadKeyStaysWithItsQueue(t *testing.T) {
	srv := startRedis(t)
	ns := createNamespace(t)
	as := queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	}
	good := autoscaledQueueWorker(ns, "good", srv.Addr, as)
	bad := autoscaledQueueWorker(ns, "bad", srv.Addr, as)
	badQueue := bad.Spec.Queues[0].Name
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Set(testCtx, "asynq:{"+badQueue+"}:pending", "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, qw := range []*queueworkerv1alpha1.QueueWorker{bad, good} {
		if err := k8sClient.Create(testCtx, qw); err != nil {
			t.Fatal(err)
		}
	}
	// mentionsBad fails the test at once if the good QueueWorker's status
	// or events ever name the broken queue.
	mentionsBad := func() {
		t.Helper()
		got := getQueueWorker(t, ns, "good")
		for _, c := range got.Status.Conditions {
			if strings.Contains(c.Message, badQueue) {
				t.Fatalf("good's %s condition names the broken queue: %s", c.Type, c.Message)
			}
		}
		for _, e := range eventsFor(t, ns, "good") {
			if strings.Contains(e.Note, badQueue) {
				t.Fatalf("good's event %s names the broken queue: %s", e.Reason, e.Note)
			}
		}
	}

	eventually(t, "bad holds and names its queue", func() error {
		got := getQueueWorker(t, ns, "bad")
		c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, badQueue) ||
			!strings.Contains(c.Message, "WRONGTYPE") {
			return fmt.Errorf("RedisReachable %+v", c)
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionScalingActive, metav1.ConditionFalse,
			string(autoscale.RuleRedisErrorHold))
	})
	eventually(t, "good reads its queue", func() error {
		mentionsBad()
		return conditionIs(getQueueWorker(t, ns, "good"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	enqueue(t, srv.Addr, good.Spec.Queues[0].Name, 6) // ceil(6/2) = 3
	eventually(t, "good scales on its backlog", func() error {
		mentionsBad()
		dep, err := getDeployment(t, ns, "good")
		if err != nil {
			return err
		}
		if got := ptr.Deref(dep.Spec.Replicas, -1); got != 3 {
			return fmt.Errorf("replicas %d", got)
		}
		return nil
	})
	mentionsBad()
}

// TestAutoscaleStatusQuietOnAStillQueue: a paused queue holding tasks for
// many polls writes the status once. Each poll finds the tasks a little
// older, which is no news within a latency bucket; the tasks here were
// enqueued an hour ago, so the test stays within one bucket.
func TestAutoscaleStatusQuietOnAStillQueue(t *testing.T) {
	srv := startRedis(t)
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "still", srv.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 5, PollInterval: dur(100 * time.Millisecond),
	})
	q := qw.Spec.Queues[0].Name
	for range 8 {
		enqueueAt(t, srv.Addr, q, time.Now().Add(-time.Hour))
	}
	if err := inspector(t, srv.Addr).PauseQueue(q); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the paused queue is in the status", func() error {
		got := getQueueWorker(t, ns, "still")
		if len(got.Status.Queues) != 1 || !got.Status.Queues[0].Paused || got.Status.Queues[0].Pending != 8 ||
			got.Status.Queues[0].Latency == nil {
			return fmt.Errorf("queues %+v", got.Status.Queues)
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionRedisReachable, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonRedisReachable)
	})
	// Let the writes of the creation settle, then watch about 50 polls and
	// 5 status intervals go by.
	time.Sleep(time.Second)
	before := queueWorkerStatusWrites(ns, "still")
	if before == 0 {
		t.Fatal("no status write counted: the counter does not see the operator's writes")
	}
	latency := getQueueWorker(t, ns, "still").Status.Latency
	time.Sleep(5 * time.Second)
	if n := queueWorkerStatusWrites(ns, "still") - before; n != 0 {
		t.Errorf("%d status writes while nothing but the tasks' age changed (latency %v, now %v)",
			n, latency, getQueueWorker(t, ns, "still").Status.Latency)
	}
}

// TestReplicasSurviveModeSwitches: switching a QueueWorker from
// spec.replicas to autoscaling and back, with /scale and template changes
// in between, never drops the count to a default: each step lands on the
// count the rules give, with no detour.
func TestReplicasSurviveModeSwitches(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "modes")
	qw.Spec.Replicas = ptr.To[int32](3)
	qw.Spec.Redis.Addr = redisServer.Addr
	qw.Spec.Queues = []queueworkerv1alpha1.Queue{{Name: ns + "-modes", Priority: 1}}
	createObject(t, qw)
	waitDeploymentReplicas(t, ns, "modes", 3)

	var seen []int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if dep, err := getDeployment(t, ns, "modes"); err == nil {
				n := ptr.Deref(dep.Spec.Replicas, -1)
				if len(seen) == 0 || seen[len(seen)-1] != n {
					seen = append(seen, n)
				}
			}
		}
	}()
	// Autoscaling on: 3 is within [1, 5], and an empty queue scales down
	// only after the default 5m window.
	updateQueueWorker(t, ns, "modes", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Replicas = nil
		q.Spec.Autoscaling = &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 5}
	})
	time.Sleep(2 * time.Second)
	updateQueueWorker(t, ns, "modes", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 3 })
	waitConcurrency(t, ns, "modes", "3")
	time.Sleep(2 * time.Second)
	// Autoscaling off again, with spec.replicas 3 in the same edit.
	updateQueueWorker(t, ns, "modes", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Autoscaling = nil
		q.Spec.Replicas = ptr.To[int32](3)
	})
	time.Sleep(2 * time.Second)
	scaleTo(t, getQueueWorker(t, ns, "modes"), 4)
	waitDeploymentReplicas(t, ns, "modes", 4)
	updateQueueWorker(t, ns, "modes", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 5 })
	waitConcurrency(t, ns, "modes", "5")
	time.Sleep(time.Second)
	close(stop)
	<-done
	want := []int32{3, 4}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("spec.replicas went %v, want %v", seen, want)
	}
}
