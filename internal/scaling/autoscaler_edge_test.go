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
