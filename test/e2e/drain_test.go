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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// drainTaskDuration is the length of the long tasks of the scale-in
// scenarios: four times the workers' shutdownTimeout, so a worker stopped
// while it runs one cannot finish it.
const drainTaskDuration = 20 * time.Second

// testScaleInPolicies scales ten workers in to two while some of them run
// long tasks, once under each scale-down drain policy, on the same load:
// with None the ReplicaSet picks which pods go, with PreferIdle the idle
// ones go first, and with Drain no busy pod goes until its tasks are done.
// Drain must interrupt no task and finish within about one task length;
// the report shows how many tasks the other two interrupted. The three
// run at once, each in its own namespace with its own Redis.
//
// The load is a burst of short tasks with a few long ones among them, on
// ten workers of two slots each: the long ones land on pods of their own
// more often than not, so when the short ones are done more pods are busy
// than the two the autoscaler keeps.
func (s *suite) testScaleInPolicies(t *testing.T) {
	for _, policy := range []string{"None", "PreferIdle", "Drain"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			s.testScaleInPolicy(t, policy)
		})
	}
}

func (s *suite) testScaleInPolicy(t *testing.T, policy string) {
	const (
		name = "drain"
		// long tasks: with concurrency 2 the autoscaler wants 2 workers
		// for them once the short ones are done.
		long          = 4
		short         = 16
		shortDuration = 3 * time.Second
	)
	w := workerSpec{
		queue: "drain", concurrency: 2, shutdownTimeout: 5 * time.Second,
		minReplicas: 10, maxReplicas: 10, scaleDownWindow: 2 * time.Second,
	}
	sc := s.newScenario(t, "e2e-drain-"+strings.ToLower(policy), true)
	sc.createWorkers(sc.newQueueWorker(name, w))
	m := s.startMonitor(t, sc.ns, name, w.queue, sc.rdb, drainTaskDuration)

	// Each long task is followed by short ones: a worker dequeues the
	// oldest tasks first, two at a time, so the long ones tend to land on
	// pods of their own.
	start := time.Now()
	var ids, longIDs []string
	for range long {
		l := sc.enqueue(w.queue, 1, drainTaskDuration)
		longIDs = append(longIDs, l...)
		ids = append(ids, l...)
		ids = append(ids, sc.enqueue(w.queue, short/long, shortDuration)...)
	}
	isLong := make(map[string]bool, long)
	for _, id := range longIDs {
		isLong[id] = true
	}
	// asynq's heartbeat, every 5s, tells which pod runs which task.
	var busy int
	eventually(t, "every long task runs in a pod", shortWait, func() (bool, error) {
		pods, tasks := m.busyPods(isLong)
		busy = pods
		return tasks == long, fmt.Errorf("%d of %d long tasks running, in %d pods", tasks, long, pods)
	})

	// Lower the minimum, and choose the policy in the same write.
	patch := fmt.Sprintf(`{"spec":{"autoscaling":{"minReplicas":2,"scaleDown":{"drain":{"policy":%q}}}}}`, policy)
	qw := &queueworkerv1alpha1.QueueWorker{ObjectMeta: metav1.ObjectMeta{Namespace: sc.ns, Name: name}}
	if err := s.client.Patch(t.Context(), qw, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("lowering minReplicas with policy %s: %v", policy, err)
	}
	patched := time.Now()
	back := sc.waitBackToMin(m, 2)
	scaleIn := back.Sub(patched)
	sc.waitDrained(w.queue, ids)
	sc.result.drained = time.Since(start)
	sc.result.backToMin = back.Sub(start)
	sc.result.peak, _ = m.peak(start)

	c := sc.finalTally(ids)
	sc.checkExactlyOnce(c)
	sc.result.note("policy %s: %d long tasks of %s on %d pods among %d short ones; 10 → 2 took %s from the change; "+
		"%d tasks started more than once; %d pods stopped; replicas %s",
		policy, long, drainTaskDuration, busy, short, scaleIn.Round(100*time.Millisecond),
		c.restarted, len(m.podExits()), m.timeline(start))
	if busy <= 2 {
		// With the long tasks on two pods or fewer, the two pods kept
		// may be the busy ones: idle-first has nothing to prove.
		t.Logf("the long tasks ran on %d pods; a scale-in to 2 can spare them all", busy)
	}
	if policy != "Drain" {
		return
	}
	if c.restarted != 0 {
		t.Errorf("Drain interrupted tasks: %d started more than once", c.restarted)
	}
	// The long tasks had already run a little when the minimum changed;
	// the last one to finish frees its pod, which goes at the next read.
	if limit := drainTaskDuration + 15*time.Second; scaleIn > limit {
		t.Errorf("the drained scale-in took %s, more than one task length plus 15s (%s)", scaleIn, limit)
	}
}
