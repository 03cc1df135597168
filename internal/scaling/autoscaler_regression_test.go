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

// The autoscaler under a Redis outage and a read in flight when the spec
// changes: driven poll by poll on a fake clock against a real redis-server.

import (
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// TestSpecEditDuringOutageKeepsTheOutage: Redis is down when the user edits
// the autoscaling spec. The Update that brings the edit must not decide on
// the last read from before the outage as if it were a fresh one: the result
// keeps its error, and the failure count and its start stand, so the
// fallback due 30s into the outage still comes.
func TestSpecEditDuringOutageKeepsTheOutage(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "outage", Name: "edit"}
	as := queueworkerv1alpha1.Autoscaling{
		MaxReplicas: 20, PollInterval: dur(time.Second),
		ScaleDown:    &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
		OnRedisError: &queueworkerv1alpha1.OnRedisError{FailureThreshold: 3, FallbackReplicas: ptr.To[int32](1)},
	}
	enqueue(t, srv.Addr, "edit", 40) // 40 / 4 = 10
	in := testTarget(name, srv.Addr, as, 1, "edit")
	update(t, a, name, in)
	pollAll(t, a)
	if res := update(t, a, name, in); res == nil || res.Decision.DesiredReplicas != 10 {
		t.Fatalf("before the outage: %+v, want 10", res)
	}
	a.Applied(name, 1, 10, clock.Now(), nil)
	in.CurrentReplicas, in.ReadyReplicas = 10, 10

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	outageStart := clock.Now()
	for range 25 {
		clock.Add(time.Second)
		pollAll(t, a)
	}
	if r := latest(a, name); r.Err == nil || r.Decision.Rule != autoscale.RuleRedisErrorHold {
		t.Fatalf("25s into the outage: %+v, want a held error", r)
	}

	// The user raises maxReplicas while Redis is still down.
	in.Spec.MaxReplicas = 25
	res := update(t, a, name, in)
	if res.Err == nil {
		t.Errorf("Update after a spec edit during the outage returned no error (rule %s, RecoveredAfter %d): "+
			"the reconcile writes RedisReachable=True and a RedisReachable event while Redis is down",
			res.Decision.Rule, res.RecoveredAfter)
	}

	// 30s after the first failure the fallback is due (failureThreshold 3,
	// at least 30s); give it until 40s.
	for clock.Now().Sub(outageStart) < 40*time.Second {
		clock.Add(time.Second)
		pollAll(t, a)
	}
	r := latest(a, name)
	if r.Decision.Rule != autoscale.RuleRedisErrorFallback || r.Decision.DesiredReplicas != 1 {
		t.Errorf("40s into the outage: %d by %s (%s), want the fallback 1: the spec edit restarted the outage clock",
			r.Decision.DesiredReplicas, r.Decision.Rule, r.Decision.Reason)
	}
}

// TestQueueChangeDuringReadIsReadAgain: a poll is in flight (the reply is
// slow) when the user replaces the QueueWorker's queue. A queue the read
// did not ask for is not an empty queue: that poll decides nothing, and the
// next one reads the new queue (40 tasks, 10 replicas) instead of scaling
// down on it.
func TestQueueChangeDuringReadIsReadAgain(t *testing.T) {
	srv := startRedis(t)
	proxy, err := redistest.StartProxy(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "race", Name: "rename"}
	as := queueworkerv1alpha1.Autoscaling{
		MaxReplicas: 20, PollInterval: dur(time.Second),
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	}
	enqueue(t, srv.Addr, "old", 40)
	enqueue(t, srv.Addr, "new", 40)
	in := testTarget(name, proxy.Addr, as, 10, "old")
	update(t, a, name, in)
	pollAll(t, a)
	if res := update(t, a, name, in); res == nil || res.Decision.DesiredReplicas != 10 {
		t.Fatalf("first decision %+v, want 10", res)
	}

	// The next poll's reply takes 1s on the wire; the user renames the
	// queue (old -> new, both hold 40 tasks) while it is in flight.
	proxy.SetDelay(time.Second)
	clock.Add(time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { pollAll(t, a) })
	time.Sleep(300 * time.Millisecond)
	in.Queues = []string{"new"}
	update(t, a, name, in)
	wg.Wait()

	if r := latest(a, name); r.Decision.DesiredReplicas != 10 {
		t.Fatalf("the poll in flight decided %d by %s (%s) for a queue it did not read", r.Decision.DesiredReplicas,
			r.Decision.Rule, r.Decision.Reason)
	}
	proxy.SetDelay(0)
	pollAll(t, a)
	r := latest(a, name)
	if len(r.Stats) != 1 || r.Stats[0].Queue != "new" {
		t.Fatalf("stats %+v", r.Stats)
	}
	if r.Stats[0].Pending != 40 || r.Decision.DesiredReplicas != 10 {
		t.Errorf("after a read that never covered queue %q: it shows %d pending and the decision is %d by %s (%s), "+
			"want 40 pending and 10 replicas (or no decision until it is read)",
			"new", r.Stats[0].Pending, r.Decision.DesiredReplicas, r.Decision.Rule, r.Decision.Reason)
	}
}
