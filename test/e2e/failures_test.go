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
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// testRedisOutage stops Redis for 20 seconds in the middle of a burst. The
// operator must hold the replicas (never scale down blind), report
// RedisReachable=False while Redis is gone and True once it is back, and
// every task must complete. Redis writes every change to its append-only
// file before it answers, so the stop loses no task.
//
// A task whose completion was recorded just before the stop but whose
// acknowledgement never reached Redis is run again: asynq delivers at
// least once across a crash of Redis. Such duplicates are reported, and
// they cannot exceed the tasks that were running at the stop.
func (s *suite) testRedisOutage(t *testing.T) {
	const (
		name         = "outage"
		tasks        = 2000
		taskDuration = 200 * time.Millisecond
		outage       = 20 * time.Second
	)
	w := workerSpec{queue: "outage", concurrency: 4, minReplicas: 1, maxReplicas: 10, scaleDownWindow: 10 * time.Second}
	sc := s.newScenario(t, "e2e-outage", true)
	sc.createWorkers(sc.newQueueWorker(name, w))
	m := s.startMonitor(t, sc.ns, name, w.queue, sc.rdb, 0)

	start := time.Now()
	ids := sc.enqueue(w.queue, tasks, taskDuration)
	up := sc.waitScaleUp(m, w.minReplicas, start)
	sc.result.reaction = up.at.Sub(start)
	// Stop Redis once the new workers are busy with the burst.
	eventually(t, "half of the workers are ready", shortWait, func() (bool, error) {
		cur, _ := m.current()
		return cur.ready >= w.maxReplicas/2, fmt.Errorf("%d workers ready", cur.ready)
	})

	stopAt := time.Now()
	before, _ := m.lastObservation(stopAt)
	if err := sc.redis.stop(t.Context()); err != nil {
		t.Fatalf("stopping Redis: %v", err)
	}
	held, _ := m.current()
	sc.result.note("Redis stopped %s after the burst: %d replicas, %d tasks running, %d pending",
		stopAt.Sub(start).Round(100*time.Millisecond), held.desired, before.active, before.pending)

	// RedisReachable turns False while Redis is down; Redis comes back
	// after the outage whatever happened, so the rest can be checked.
	ctx, cancel := context.WithDeadline(t.Context(), stopAt.Add(outage))
	unreachableErr := poll(ctx, func() (bool, error) {
		_, ok := m.firstReachable(metav1.ConditionFalse, stopAt)
		return ok, nil
	})
	cancel()
	unreachableAt, sawUnreachable := m.firstReachable(metav1.ConditionFalse, stopAt)
	time.Sleep(time.Until(stopAt.Add(outage)))
	restartAt := time.Now()
	if err := sc.redis.start(t.Context()); err != nil {
		t.Fatalf("starting Redis again: %v", err)
	}
	if !sawUnreachable {
		t.Errorf("RedisReachable did not turn False during a %s outage: %v", outage, unreachableErr)
	} else {
		sc.result.note("RedisReachable=False %s after the stop", unreachableAt.Sub(stopAt).Round(100*time.Millisecond))
	}

	var recoveredAt time.Time
	eventually(t, "RedisReachable turns True again", shortWait, func() (bool, error) {
		var ok bool
		recoveredAt, ok = m.firstReachable(metav1.ConditionTrue, restartAt)
		return ok, nil
	})
	sc.result.note("RedisReachable=True %s after the restart", recoveredAt.Sub(restartAt).Round(100*time.Millisecond))

	low, _ := m.lowestDesired(stopAt, recoveredAt)
	if low < held.desired {
		t.Errorf("the workers went down to %d replicas while Redis was unreachable; want them held at %d", low, held.desired)
	}
	sc.result.note("replicas held at %d or more while Redis was unreachable (lowest %d)", held.desired, low)

	sc.waitDrained(w.queue, ids)
	sc.result.drained = time.Since(start)
	sc.result.peak, _ = m.peak(start)
	sc.result.note("every task done %s after Redis came back; replicas %s",
		time.Since(restartAt).Round(100*time.Millisecond), m.timeline(start))
	if n, from, to := m.strandedActive(restartAt); n > 0 {
		sc.result.note("%d tasks stayed active with nothing pending from +%s to +%s: their workers lost Redis mid-task, and asynq recovers such a task once its lease expires",
			n, from.Sub(start).Round(time.Second), to.Sub(start).Round(time.Second))
	}
	c := sc.finalTally(ids)
	if c.lost != 0 || c.unknown != 0 {
		t.Errorf("every task must complete; ledger: %s", c)
	}
	if inFlight := int(held.desired * w.concurrency); c.duplicated > inFlight {
		t.Errorf("%d tasks ran twice, more than the %d that can have been running at the stop", c.duplicated, inFlight)
	}
	if c.duplicated > 0 {
		sc.result.note("tasks completed twice: %d (running when Redis went away, their acknowledgement was lost)", c.duplicated)
	}
	sc.checkEvents(name, queueworkerv1alpha1.ReasonRedisUnreachable, queueworkerv1alpha1.ReasonRedisReachable)
}

// testOperatorCrash kills the operator's process in the middle of a burst.
// A new process must take the Lease over and go on scaling: the workers
// return to the minimum after the backlog, and a second burst scales them
// up again. The workers never depend on the operator, so every task of
// both bursts completes exactly once.
func (s *suite) testOperatorCrash(t *testing.T) {
	const name = "crash"
	w := workerSpec{queue: "crash", concurrency: 4, minReplicas: 1, maxReplicas: 10, scaleDownWindow: 10 * time.Second}
	sc := s.newScenario(t, "e2e-crash", true)
	sc.createWorkers(sc.newQueueWorker(name, w))
	m := s.startMonitor(t, sc.ns, name, w.queue, sc.rdb, 0)
	before, _ := s.waitLeader(t, "")
	pods := s.waitOperatorReady(t)
	if len(pods) != 1 {
		t.Fatalf("%d operator pods; the scenario expects the chart's single replica", len(pods))
	}

	start := time.Now()
	ids := sc.enqueue(w.queue, 1200, 500*time.Millisecond)
	up := sc.waitScaleUp(m, w.minReplicas, start)
	sc.result.reaction = up.at.Sub(start)

	killAt := time.Now()
	if err := s.provider.killOperator(t.Context(), &pods[0]); err != nil {
		t.Fatalf("killing the operator: %v", err)
	}
	after, _ := s.waitLeader(t, before)
	takeover := time.Since(killAt)
	sc.result.note("operator killed %s after the burst; the Lease went from %s to %s %s later",
		killAt.Sub(start).Round(100*time.Millisecond), before, after, takeover.Round(100*time.Millisecond))
	pods = s.waitOperatorReady(t)
	want := "system:serviceaccount:" + operatorNS + ":" + operatorSA
	if user, err := s.provider.operatorIdentity(t.Context(), &pods[0]); err != nil || user != want {
		t.Errorf("the new operator process authenticates as %q (%v), want %q", user, err, want)
	}

	// The first burst drains and the new leader scales the workers down.
	sc.waitDrained(w.queue, ids)
	back := sc.waitBackToMin(m, w.minReplicas)
	if back.Before(killAt) {
		t.Errorf("the workers were back at the minimum before the operator was killed; the scenario tested nothing")
	}
	downs := m.scaleDowns(killAt)
	if len(downs) == 0 {
		t.Errorf("no scale-down after the crash; the new leader did not follow the backlog down")
	}

	// A second burst: the new leader scales up again.
	second := time.Now()
	ids = append(ids, sc.enqueue(w.queue, 800, 200*time.Millisecond)...)
	up2 := sc.waitScaleUp(m, w.minReplicas, second)
	sc.result.note("second burst under the new leader: first scale-up after %s", up2.at.Sub(second).Round(100*time.Millisecond))

	sc.waitDrained(w.queue, ids)
	sc.result.drained = time.Since(start)
	back = sc.waitBackToMin(m, w.minReplicas)
	sc.result.backToMin = back.Sub(start)
	sc.result.peak, _ = m.peak(start)
	sc.result.note("replicas %s", m.timeline(start))
	sc.checkExactlyOnce(sc.finalTally(ids))
}
