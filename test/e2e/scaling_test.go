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

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// testBurst sends a burst of short tasks to workers at their minimum: the
// operator scales them up (never past maxReplicas), every task completes
// exactly once, and the workers return to the minimum once the backlog is
// gone and the scale-down window has passed.
func (s *suite) testBurst(t *testing.T) {
	const (
		name         = "burst"
		tasks        = 2000
		taskDuration = 200 * time.Millisecond
	)
	w := workerSpec{queue: "burst", concurrency: 4, minReplicas: 1, maxReplicas: 10, scaleDownWindow: 10 * time.Second}
	sc := s.newScenario(t, "e2e-burst", true)
	sc.createWorkers(sc.newQueueWorker(name, w))
	m := s.startMonitor(t, sc.ns, name, w.queue, sc.rdb, 0)

	start := time.Now()
	ids := sc.enqueue(w.queue, tasks, taskDuration)
	up := sc.waitScaleUp(m, w.minReplicas, start)
	sc.result.reaction = up.at.Sub(start)

	sc.waitDrained(w.queue, ids)
	sc.result.drained = time.Since(start)
	back := sc.waitBackToMin(m, w.minReplicas)
	sc.result.backToMin = back.Sub(start)

	peak, pods := m.peak(start)
	sc.result.peak = peak
	sc.result.note("replicas %s; at most %d worker pods at once", m.timeline(start), pods)
	if peak < 2 {
		t.Errorf("the workers peaked at %d replicas for a backlog of %d tasks", peak, tasks)
	}
	if peak > w.maxReplicas {
		t.Errorf("the workers were scaled to %d, above maxReplicas %d", peak, w.maxReplicas)
	}
	sc.checkExactlyOnce(sc.finalTally(ids))
	sc.checkEvents(name, queueworkerv1alpha1.ReasonScaledUp, queueworkerv1alpha1.ReasonScaledDown)
}

// testScaleInMidTask scales the workers in while they run long tasks: a
// burst scales them up, then a steady trickle keeps a few tasks running in
// every pod while the operator scales down. The workers are stopped with a
// shutdownTimeout shorter than a task, so asynq hands the unfinished tasks
// back to the queue; none may be lost, run twice, or left in the active
// list.
func (s *suite) testScaleInMidTask(t *testing.T) {
	const (
		name         = "scalein"
		taskDuration = 3 * time.Second
		burst        = 200
		trickleRate  = 3.0 // tasks a second: about 9 running at once
		trickle      = 135 // 45 seconds of it
	)
	w := workerSpec{
		queue: "scalein", concurrency: 4, shutdownTimeout: time.Second,
		minReplicas: 1, maxReplicas: 10, scaleDownWindow: 5 * time.Second,
	}
	sc := s.newScenario(t, "e2e-scalein", true)
	sc.createWorkers(sc.newQueueWorker(name, w))
	m := s.startMonitor(t, sc.ns, name, w.queue, sc.rdb, taskDuration)

	start := time.Now()
	ids := sc.enqueue(w.queue, burst, taskDuration)
	trickled := sc.trickle(w.queue, trickle, trickleRate, taskDuration)
	up := sc.waitScaleUp(m, w.minReplicas, start)
	sc.result.reaction = up.at.Sub(start)
	ids = append(ids, trickled()...)

	sc.waitDrained(w.queue, ids)
	sc.result.drained = time.Since(start)
	back := sc.waitBackToMin(m, w.minReplicas)
	sc.result.backToMin = back.Sub(start)
	sc.result.peak, _ = m.peak(start)
	sc.result.note("replicas %s", m.timeline(start))

	// The scenario proves something only if pods went while tasks ran.
	var busy []string
	for _, step := range m.scaleDowns(start) {
		if step.active > 0 {
			busy = append(busy, fmt.Sprintf("%d→%d with %d running", step.from, step.to, step.active))
		}
	}
	if len(busy) == 0 {
		t.Errorf("the workers were never scaled in while tasks ran (scale-downs: %+v); the scenario tested nothing",
			m.scaleDowns(start))
	}
	sc.result.note("scale-ins while tasks ran: %s", strings.Join(busy, ", "))
	exits, running := 0, 0
	for _, e := range m.podExits() {
		exits++
		running += e.running
	}
	sc.result.note("%d worker pods stopped; asynq's records show at least %d tasks still running in them at SIGTERM", exits, running)
	sc.checkExactlyOnce(sc.finalTally(ids))
}
