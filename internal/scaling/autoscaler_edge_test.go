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

// The edge of waking from zero: a task scheduled into the future.

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
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
			ScaleDown:         &queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)},
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
