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
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// The benchmarks run in the same envtest and redis-server as the tests:
//
//	make bench
//	go test -run '^$' -bench . -benchtime 20x ./controllers/
//
// They report what docs/performance.md records.

// BenchmarkDecisionLatency measures, per burst, the time from the moment
// the last task of a burst is enqueued to the moment the worker
// Deployment's spec.replicas changes, at the default 1s poll interval.
// Each iteration is one burst; between bursts the queue is emptied and the
// workers scale back to one. It reports p50 and p99 in milliseconds.
func BenchmarkDecisionLatency(b *testing.B) {
	ns := createNamespace(b)
	qw := autoscaledQueueWorker(ns, "latency", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 10,
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	q := qw.Spec.Queues[0].Name
	if err := k8sClient.Create(testCtx, qw); err != nil {
		b.Fatal(err)
	}
	key := types.NamespacedName{Namespace: ns, Name: "latency"}
	waitReplicasB(b, key, 1, 30*time.Second)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: redisServer.Addr})
	defer func() { _ = client.Close() }()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisServer.Addr})
	defer func() { _ = insp.Close() }()

	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// Start each burst at a random point of the poll cycle.
		time.Sleep(time.Duration(137*(i+1)%1000) * time.Millisecond)
		for j := range 20 { // ceil(20/2) = 10 replicas
			if _, err := client.Enqueue(asynq.NewTask("bench:noop", fmt.Appendf(nil, "%d-%d", i, j)), asynq.Queue(q)); err != nil {
				b.Fatal(err)
			}
		}
		enqueued := time.Now()
		samples = append(samples, waitReplicasB(b, key, 10, 30*time.Second).Sub(enqueued))
		b.StopTimer()
		if _, err := insp.DeleteAllPendingTasks(q); err != nil {
			b.Fatal(err)
		}
		waitReplicasB(b, key, 1, 30*time.Second)
		b.StartTimer()
	}
	slices.Sort(samples)
	b.ReportMetric(float64(percentile(samples, 50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(samples, 99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), "max-ms")
}

// BenchmarkIdleWrites counts the operator's writes to the API server during
// one minute with 200 autoscaled QueueWorkers whose queues are empty. It
// reports writes per minute (status patches, Deployment updates, events).
func BenchmarkIdleWrites(b *testing.B) {
	const n = 200
	setupStart := operatorWrites.Load()
	ns := createNamespace(b)
	as := queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 3}
	for i := range n {
		qw := autoscaledQueueWorker(ns, fmt.Sprintf("idle-%03d", i), redisServer.Addr, as)
		if err := k8sClient.Create(testCtx, qw); err != nil {
			b.Fatal(err)
		}
	}
	// Let them settle: Deployments created, first reads written to status.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		list := &queueworkerv1alpha1.QueueWorkerList{}
		if err := k8sClient.List(testCtx, list, inNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		settled := 0
		for _, qw := range list.Items {
			if conditionIs(&qw, queueworkerv1alpha1.ConditionRedisReachable, "True", queueworkerv1alpha1.ReasonRedisReachable) == nil {
				settled++
			}
		}
		if settled == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d QueueWorkers settled after 2 minutes", settled, n)
		}
		time.Sleep(time.Second)
	}
	time.Sleep(10 * time.Second)
	// The writes of creating 200 QueueWorkers' Deployments and first
	// statuses show that the counter sees the operator's writes at all.
	setupWrites := operatorWrites.Load() - setupStart

	b.ResetTimer()
	for range b.N {
		start := operatorWrites.Load()
		time.Sleep(time.Minute)
		b.ReportMetric(float64(operatorWrites.Load()-start), "writes/min")
	}
	b.ReportMetric(float64(setupWrites), "setup-writes")
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// waitReplicasB polls the Deployment every 10ms until spec.replicas is want
// and returns when it saw it.
func waitReplicasB(b *testing.B, key types.NamespacedName, want int32, timeout time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		dep := &appsv1.Deployment{}
		if err := k8sClient.Get(testCtx, key, dep); err == nil && ptr.Deref(dep.Spec.Replicas, -1) == want {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("Deployment %s did not reach %d replicas within %s", key, want, timeout)
	return time.Time{}
}
