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

package scaling

// The edges of waking from zero: a task scheduled into the future, tasks
// whose worker died.

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
)

// TestScheduledFutureTaskWakesFromZero: a task scheduled 2 minutes ahead on a
// queue scaled to zero wakes the workers when it comes within the 5s
// horizon (activationBacklog 0), or targetLatency after it is due when the
// activation backlog is above it.
func TestScheduledFutureTaskWakesFromZero(t *testing.T) {
	for _, tc := range []struct {
		activation int32
		wake       time.Duration
	}{{0, 115 * time.Second}, {3, 130 * time.Second}} {
		srv := startRedis(t)
		a, clock := manualAutoscaler(t)
		name := types.NamespacedName{Namespace: "zero", Name: "sched"}
		as := queueworkerv1alpha1.Autoscaling{
			MinReplicas: ptr.To[int32](0), MaxReplicas: 5,
			PollInterval:      dur(time.Second),
			ActivationBacklog: ptr.To(tc.activation),
			TargetLatency:     dur(10 * time.Second),
			ScaleToZeroDelay:  dur(30 * time.Second),
			ScaleDown:         &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
		}
		c := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
		start := clock.Now()
		if _, err := c.Enqueue(asynq.NewTask("x", nil), asynq.Queue("sched"), asynq.ProcessAt(start.Add(2*time.Minute))); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		in := testTarget(name, srv.Addr, as, 1, "sched")
		update(t, a, name, in)
		cur := int32(1)
		var zeroAt, wakeAt time.Time
		for clock.Now().Sub(start) < 4*time.Minute {
			pollAll(t, a)
			if d := latest(a, name).Decision.DesiredReplicas; d != cur {
				a.Applied(name, cur, d, clock.Now(), nil)
				cur = d
				in.CurrentReplicas, in.ReadyReplicas = cur, cur
				update(t, a, name, in)
				if cur == 0 {
					zeroAt = clock.Now()
				} else if wakeAt.IsZero() && !zeroAt.IsZero() {
					wakeAt = clock.Now()
				}
			}
			clock.Add(time.Second)
		}
		if zeroAt.IsZero() || wakeAt.IsZero() || (wakeAt.Sub(start)-tc.wake).Abs() > 2*time.Second {
			t.Errorf("activation %d: zero at +%v, wake at +%v, want the wake at about +%v",
				tc.activation, zeroAt.Sub(start), wakeAt.Sub(start), tc.wake)
		}
	}
}

// TestNewUIDStartsAfresh: a target whose QueueWorker was deleted and
// created again under the same name (a new UID) keeps nothing of the old
// one: no decision to return, no recommendation history holding the old
// count in the scale-down window.
func TestNewUIDStartsAfresh(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "uid", Name: "again"}
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 20, PollInterval: dur(time.Second)}
	enqueue(t, srv.Addr, "again", 40) // 40 / 4 = 10
	old := testTarget(name, srv.Addr, as, 1, "again")
	old.UID = "old-uid"
	update(t, a, name, old)
	pollAll(t, a)
	if res := update(t, a, name, old); res == nil || res.Decision.DesiredReplicas != 10 {
		t.Fatalf("the old object's decision %+v, want 10", res)
	}
	a.Applied(name, 1, 10, clock.Now(), nil)

	// The queue drains; the new object starts with one replica.
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
	defer func() { _ = insp.Close() }()
	if _, err := insp.DeleteAllPendingTasks("again"); err != nil {
		t.Fatal(err)
	}
	fresh := testTarget(name, srv.Addr, as, 1, "again")
	fresh.UID = "new-uid"
	if res := update(t, a, name, fresh); res != nil {
		t.Fatalf("the new object got the old one's result: %d by %s", res.Decision.DesiredReplicas, res.Decision.Rule)
	}
	clock.Add(time.Second)
	pollAll(t, a)
	if r := latest(a, name); r.Decision.DesiredReplicas != 1 {
		t.Fatalf("the new object's first decision on an empty queue: %d by %s (%s), want 1: the old scale-down window held",
			r.Decision.DesiredReplicas, r.Decision.Rule, r.Decision.Reason)
	}
}

// TestOrphansWakeFromZero: tasks left in the active list by a worker that
// died, their leases expired, wait for asynq's recoverer, which runs only
// inside a worker. At zero replicas one worker wakes for them, whatever
// the activation backlog; they show per queue and in the orphaned metric,
// but neither in the backlog nor as running. Once recovered, the workers
// go back to zero after the delay.
func TestOrphansWakeFromZero(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "zero", Name: "orphans"}
	as := queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 5,
		PollInterval:      dur(time.Second),
		ActivationBacklog: ptr.To[int32](5),
		ScaleToZeroDelay:  dur(10 * time.Second),
		ScaleDown:         &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	}
	// What a worker killed mid-task leaves behind, in asynq's layout: two
	// tasks in the active list, one lease that expired a minute ago, one
	// that expires in 20s and so still runs.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := t.Context()
	sec := clock.Now().Unix()
	if err := rdb.LPush(ctx, "asynq:{crash}:active", "dead1", "dead2", "alive").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, "asynq:{crash}:lease", redis.Z{Score: float64(sec - 60), Member: "dead1"},
		redis.Z{Score: float64(sec - 60), Member: "dead2"}, redis.Z{Score: float64(sec + 20), Member: "alive"}).Err(); err != nil {
		t.Fatal(err)
	}
	in := testTarget(name, srv.Addr, as, 0, "crash")
	update(t, a, name, in)
	pollAll(t, a)
	r := latest(a, name)
	if r.Err != nil || len(r.Stats) != 1 || r.Stats[0].Active != 1 || r.Stats[0].Orphaned != 2 {
		t.Fatalf("result: err %v, stats %+v; want 1 active, 2 orphaned", r.Err, r.Stats)
	}
	if d := r.Decision; d.DesiredReplicas != 1 || d.Rule != autoscale.RuleRecoverOrphans || d.Backlog != 1 {
		t.Fatalf("2 orphans and 1 running task at zero: %d by %s, backlog %d (%s); want 1 by RecoverOrphans, backlog 1",
			d.DesiredReplicas, d.Rule, d.Backlog, d.Reason)
	}
	if v := testutil.ToFloat64(metricQueueOrphaned.WithLabelValues(name.Namespace, name.Name, "crash")); v != 2 {
		t.Errorf("queueworker_queue_orphaned = %v, want 2", v)
	}
	if v := testutil.ToFloat64(metricQueueActive.WithLabelValues(name.Namespace, name.Name, "crash")); v != 1 {
		t.Errorf("queueworker_queue_active = %v, want 1", v)
	}
	a.Applied(name, 0, 1, clock.Now(), nil)
	in.CurrentReplicas, in.ReadyReplicas = 1, 1
	update(t, a, name, in)

	// 30s on, the last lease has expired too; the woken worker holds on.
	clock.Add(30 * time.Second)
	pollAll(t, a)
	if r := latest(a, name); r.Stats[0].Active != 0 || r.Stats[0].Orphaned != 3 ||
		r.Decision.DesiredReplicas != 1 || r.Decision.Rule != autoscale.RuleRecoverOrphans {
		t.Fatalf("3 orphans at one replica: %+v, %d by %s (%s); want 1 by RecoverOrphans",
			r.Stats[0], r.Decision.DesiredReplicas, r.Decision.Rule, r.Decision.Reason)
	}

	// The worker's recoverer moves them to retry, an hour ahead.
	pipe := rdb.TxPipeline()
	for _, id := range []string{"dead1", "dead2", "alive"} {
		pipe.LRem(ctx, "asynq:{crash}:active", 0, id)
		pipe.ZRem(ctx, "asynq:{crash}:lease", id)
		pipe.ZAdd(ctx, "asynq:{crash}:retry", redis.Z{Score: float64(clock.Now().Add(time.Hour).Unix()), Member: id})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	pollAll(t, a)
	if r := latest(a, name); r.Stats[0].Orphaned != 0 || r.Decision.DesiredReplicas != 0 || r.Decision.Rule != autoscale.RuleScaleToZero {
		t.Fatalf("recovered, idle past the delay: %+v, %d by %s (%s); want 0 by ScaleToZero",
			r.Stats[0], r.Decision.DesiredReplicas, r.Decision.Rule, r.Decision.Reason)
	}
	if v := testutil.ToFloat64(metricQueueOrphaned.WithLabelValues(name.Namespace, name.Name, "crash")); v != 0 {
		t.Errorf("queueworker_queue_orphaned = %v after the recovery, want 0", v)
	}
}
