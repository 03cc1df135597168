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

package autoscale

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// BenchmarkDecide measures one decision for a QueueWorker with 100 queues,
// every rule on, and the State of five minutes of one-second polls with a
// recommendation changing every poll: the longest history the default
// scale-down window keeps.
func BenchmarkDecide(b *testing.B) {
	spec := v1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 1000, TargetLatency: dur(10 * time.Second),
		ActivationBacklog: ptr.To[int32](3),
		ScaleUp:           &v1.ScalingRules{StabilizationWindow: dur(30 * time.Second), MaxStep: ptr.To[int32](10)},
		ScaleDown:         &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{MaxStep: ptr.To[int32](5), Period: dur(time.Minute)}},
		OnRedisError:      &v1.OnRedisError{FallbackReplicas: ptr.To[int32](4)},
	}
	queues := make([]QueueStats, 100)
	for i := range queues {
		queues[i] = QueueStats{
			Name: fmt.Sprintf("queue-%03d", i), Pending: int64(i * 7), Active: int64(i % 5),
			Scheduled: int64(i % 3), Retry: int64(i % 2), Paused: i%10 == 9,
			OldestPendingAge: time.Duration(i) * 100 * time.Millisecond,
		}
	}
	var st State
	current := int32(1)
	for s := range 300 {
		d := Decide(Input{
			Now: t0.Add(time.Duration(s) * time.Second), Spec: spec, Concurrency: 4, CurrentReplicas: current,
			Observation: seen(queue(int64(s%50)*40, 0)), State: st,
		})
		st, current = d.State, d.DesiredReplicas
	}
	in := Input{
		Now: t0.Add(300 * time.Second), Spec: spec, Concurrency: 4, CurrentReplicas: current,
		Observation: Observation{Queues: queues}, State: st,
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
	b.ReportMetric(float64(len(st.Recommendations)), "recommendations")
}
