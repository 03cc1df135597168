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

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/autoscale"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// These tests drive an Autoscaler's polls by hand on a clock of their own,
// against a real redis-server: every poll happens exactly when the test says,
// so a sequence of decisions is reproducible without sleeping.

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// manualAutoscaler returns an autoscaler whose pollers only poll when the
// test calls pollAll, and its clock, which starts at the real time so that
// the enqueue times asynq writes are recent.
func manualAutoscaler(t *testing.T) (*Autoscaler, *fakeClock) {
	t.Helper()
	a := NewAutoscaler(queue.NewPool(nil))
	a.manual = true
	clock := &fakeClock{now: time.Now()}
	a.now = clock.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopping the autoscaler: %v", err)
		}
	})
	return a, clock
}

// pollAll runs one poll of every endpoint at the clock's time, as the
// pollers do, and drops the wake-ups it sends.
func pollAll(t *testing.T, a *Autoscaler) {
	t.Helper()
	a.mu.Lock()
	pollers := maps.Clone(a.pollers)
	a.mu.Unlock()
	for k, p := range pollers {
		a.pollOnce(t.Context(), k, p)
	}
	for {
		select {
		case <-a.events:
		default:
			return
		}
	}
}

// dur is d as a spec's duration.
func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// enqueue puts n tasks into q through asynq's own client.
func enqueue(t *testing.T, addr, q string, n int) {
	t.Helper()
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: addr})
	defer func() { _ = c.Close() }()
	for i := range n {
		if _, err := c.Enqueue(asynq.NewTask("test:noop", []byte(fmt.Sprint(i))), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
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

// testTarget is a Target on addr with the given queues.
func testTarget(name types.NamespacedName, addr string, as queueworkerv1alpha1.Autoscaling, current int32, queues ...string) Target {
	qw := &queueworkerv1alpha1.QueueWorker{}
	qw.Namespace, qw.Name = name.Namespace, name.Name
	return Target{
		Object:          qw,
		Endpoint:        resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: addr},
		Queues:          queues,
		Spec:            as,
		Concurrency:     4,
		CurrentReplicas: current,
		ReadyReplicas:   current,
	}
}

// update calls Update and fails the test on an error.
func update(t *testing.T, a *Autoscaler, name types.NamespacedName, in Target) *Result {
	t.Helper()
	res, err := a.Update(name, in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// latest is the autoscaler's latest result for name, which Update returns
// only once it has woken the reconcile for it.
func latest(a *Autoscaler, name types.NamespacedName) *Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.targets[name].result
}

// TestAutoscalerStepCountsFromApplied: under a step limit, a poll between
// the scale patch and the next reconcile decides from the applied count
// with the step used up. Deciding from the count before the patch took the
// step back in the middle of a burst (40 pending, maxStep 4: 6, then 2).
func TestAutoscalerStepCountsFromApplied(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "steps", Name: "burst"}
	as := queueworkerv1alpha1.Autoscaling{
		MaxReplicas: 20, PollInterval: dur(100 * time.Millisecond),
		ScaleUp: &queueworkerv1alpha1.ScalingRules{MaxStep: ptr.To[int32](4)},
	}
	enqueue(t, srv.Addr, "burst", 40)
	in := testTarget(name, srv.Addr, as, 2, "burst")
	update(t, a, name, in)
	pollAll(t, a)
	res := update(t, a, name, in)
	if res == nil || res.Decision.DesiredReplicas != 6 {
		t.Fatalf("first decision %+v, want 6", res)
	}
	// The reconcile patches the Deployment to 6 and says so.
	a.Applied(name, 2, 6, clock.Now(), nil)

	for range 4 {
		clock.Add(100 * time.Millisecond)
		pollAll(t, a)
		d := latest(a, name).Decision
		if d.DesiredReplicas != 6 {
			t.Fatalf("%s after the patch: %d by %s, want 6: %s", clock.Now().Sub(res.At), d.DesiredReplicas, d.Rule, d.Reason)
		}
	}
}

// TestAutoscalerIgnoresStaleCurrent: a reconcile that read the Deployment
// from a cache older than the last applied change does not take the count
// back; a newer version, or another Deployment, does set it.
func TestAutoscalerIgnoresStaleCurrent(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "steps", Name: "stale"}
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 20}
	in := testTarget(name, srv.Addr, as, 2, "stale")
	in.DeploymentUID, in.DeploymentGeneration = "uid-1", 3
	update(t, a, name, in)
	written := &queueworkerv1alpha1.QueueWorker{}
	written.UID, written.Generation = "uid-1", 4
	a.Applied(name, 2, 6, clock.Now(), written)

	current := func() int32 {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.targets[name].CurrentReplicas
	}
	pollAll(t, a)
	if res := update(t, a, name, in); res == nil || res.CurrentReplicas != 6 {
		t.Errorf("after a stale read: Update returned %+v, want current 6, so the change is not written again", res)
	}
	if got := current(); got != 6 {
		t.Errorf("after a stale read: current %d, want the applied 6", got)
	}
	newer := in
	newer.CurrentReplicas, newer.DeploymentGeneration = 9, 5
	update(t, a, name, newer)
	if got := current(); got != 9 {
		t.Errorf("after a newer read: current %d, want 9", got)
	}
	other := in
	other.CurrentReplicas, other.DeploymentUID, other.DeploymentGeneration = 1, "uid-2", 1
	update(t, a, name, other)
	if got := current(); got != 1 {
		t.Errorf("after a recreated Deployment: current %d, want 1", got)
	}
}

// TestAutoscalerBadKeySharedRead: two targets on one endpoint due at the
// same time share one read; a key of the wrong type in one's queue holds
// that one alone, and the other's result neither fails nor names it.
func TestAutoscalerBadKeySharedRead(t *testing.T) {
	srv := startRedis(t)
	a, _ := manualAutoscaler(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Set(t.Context(), "asynq:{broken}:pending", "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, "fine", 12)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 10}
	good := types.NamespacedName{Namespace: "team-a", Name: "good"}
	bad := types.NamespacedName{Namespace: "team-b", Name: "bad"}
	update(t, a, good, testTarget(good, srv.Addr, as, 1, "fine", "idle"))
	update(t, a, bad, testTarget(bad, srv.Addr, as, 4, "broken", "fine"))
	pollAll(t, a)

	g := update(t, a, good, testTarget(good, srv.Addr, as, 1, "fine", "idle"))
	if g == nil || g.Err != nil || g.Decision.DesiredReplicas != 3 || g.Decision.Rule != autoscale.RuleBacklog {
		t.Fatalf("good: %+v, want 3 replicas by the backlog and no error", g)
	}
	b := update(t, a, bad, testTarget(bad, srv.Addr, as, 4, "broken", "fine"))
	if b == nil || b.Err == nil || !strings.Contains(b.Err.Error(), `"broken"`) || strings.Contains(b.Err.Error(), `"fine"`) {
		t.Fatalf("bad: %+v, want an error naming only the broken queue", b)
	}
	if b.Decision.DesiredReplicas != 4 || b.Decision.Rule != autoscale.RuleRedisErrorHold {
		t.Errorf("bad: %d by %s, want 4 held", b.Decision.DesiredReplicas, b.Decision.Rule)
	}
}

// TestAutoscalerGroupedTasksWakeFromZero: tasks enqueued with asynq.Group
// wait in their group until an asynq server aggregates them, and at zero
// replicas none runs. They are backlog: the workers wake for them and scale
// on them.
func TestAutoscalerGroupedTasksWakeFromZero(t *testing.T) {
	srv := startRedis(t)
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
	for i := range 10 {
		if _, err := c.Enqueue(asynq.NewTask("batch:item", []byte(fmt.Sprint(i))), asynq.Queue("grouped"),
			asynq.Group("daily-digest")); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close()

	a, _ := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "zero", Name: "grouped"}
	as := queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5}
	update(t, a, name, testTarget(name, srv.Addr, as, 0, "grouped"))
	pollAll(t, a)
	r := latest(a, name)
	if r.Err != nil || len(r.Stats) != 1 || r.Stats[0].Aggregating != 10 {
		t.Fatalf("result: err %v, stats %+v; want 10 aggregating tasks", r.Err, r.Stats)
	}
	if d := r.Decision; d.Backlog != 10 || d.DesiredReplicas != 3 || d.Rule != autoscale.RuleBacklog {
		t.Errorf("10 grouped tasks at zero replicas: backlog %d, %d by %s (%s); want backlog 10, 3 by the backlog",
			d.Backlog, d.DesiredReplicas, d.Rule, d.Reason)
	}
}

// requeueWithoutPendingSince has a real asynq server take n tasks of q and
// shut down before they finish: asynq puts them back at the tail of the
// pending list without pending_since, as a worker pod does on SIGTERM after
// its shutdown timeout.
func requeueWithoutPendingSince(t *testing.T, addr, q string, n int) {
	t.Helper()
	enqueue(t, addr, q, n)
	started := make(chan struct{}, n)
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{
		Concurrency:     n,
		Queues:          map[string]int{q: 1},
		ShutdownTimeout: 200 * time.Millisecond,
		LogLevel:        asynq.FatalLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})); err != nil {
		t.Fatal(err)
	}
	for range n {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			srv.Shutdown()
			t.Fatal("the asynq server did not take the tasks")
		}
	}
	srv.Shutdown()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = rdb.Close() }()
	ids, err := rdb.LRange(t.Context(), "asynq:{"+q+"}:pending", 0, -1).Result()
	if err != nil || len(ids) != n {
		t.Fatalf("pending after the shutdown: %v %v, want %d requeued tasks", ids, err, n)
	}
	for _, id := range ids {
		if rdb.HExists(t.Context(), "asynq:{"+q+"}:t:"+id, "pending_since").Val() {
			t.Fatalf("task %s has pending_since after a requeue", id)
		}
	}
}

// TestAutoscalerRequeuedTaskWakesFromZero: tasks a worker's graceful
// shutdown put back have no pending_since, so their producer age is
// unknown. The operator has seen the same task at the tail since some poll:
// it has waited at least that long, and once that reaches targetLatency the
// workers wake from zero, below activationBacklog as for any task that has
// waited too long.
func TestAutoscalerRequeuedTaskWakesFromZero(t *testing.T) {
	srv := startRedis(t)
	requeueWithoutPendingSince(t, srv.Addr, "requeued", 2)

	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "zero", Name: "requeued"}
	as := queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 5,
		PollInterval:      dur(time.Second),
		ActivationBacklog: ptr.To[int32](5),
		TargetLatency:     dur(10 * time.Second),
	}
	update(t, a, name, testTarget(name, srv.Addr, as, 0, "requeued"))
	// One poll a second; the first sees the tasks, the one 10s later has
	// seen the same tail for targetLatency.
	for sec := range 11 {
		if sec > 0 {
			clock.Add(time.Second)
		}
		pollAll(t, a)
		r := latest(a, name)
		if r.Err != nil || len(r.Stats) != 1 {
			t.Fatalf("%ds after the first poll: err %v, stats %+v", sec, r.Err, r.Stats)
		}
		wantAge, wantKnown, want := time.Duration(sec)*time.Second, sec > 0, int32(0)
		if sec == 10 {
			want = 1
		}
		s, d := r.Stats[0], r.Decision
		if s.Pending != 2 || s.OldestKnown != wantKnown || s.OldestPendingAge != wantAge || d.DesiredReplicas != want {
			t.Errorf("%ds after the first poll: 2 requeued tasks, age %v (known %v), %d by %s (%s); want age %v (known %v), %d",
				sec, s.OldestPendingAge, s.OldestKnown, d.DesiredReplicas, d.Rule, d.Reason, wantAge, wantKnown, want)
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

// TestAutoscalerBoundsProducerClock: a producer 10 minutes behind cannot
// make a fresh task ask for many workers once the operator has seen the
// queue empty, and one 10 minutes ahead cannot make a task the operator has
// watched for 30s look new.
func TestAutoscalerBoundsProducerClock(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 100, TargetLatency: dur(5 * time.Second),
		PollInterval: dur(100 * time.Millisecond)}
	behind := types.NamespacedName{Namespace: "skew", Name: "behind"}
	ahead := types.NamespacedName{Namespace: "skew", Name: "ahead"}
	update(t, a, behind, testTarget(behind, srv.Addr, as, 1, "behind"))
	update(t, a, ahead, testTarget(ahead, srv.Addr, as, 1, "ahead"))
	pollAll(t, a) // "behind" is seen empty
	start := clock.Now()

	enqueueAt(t, srv.Addr, "behind", start.Add(-10*time.Minute))
	enqueueAt(t, srv.Addr, "ahead", start.Add(10*time.Minute))
	clock.Add(time.Second)
	pollAll(t, a) // the task of "ahead" is first seen
	b := latest(a, behind)
	if age := b.Stats[0].OldestPendingAge; age != time.Second {
		t.Errorf("behind: age %v, want 1s (seen empty 1s ago)", age)
	}
	if b.Decision.DesiredReplicas != 1 || b.Decision.Rule != autoscale.RuleBacklog {
		t.Errorf("behind: %d by %s, want 1 by the backlog: %s", b.Decision.DesiredReplicas, b.Decision.Rule, b.Decision.Reason)
	}

	clock.Add(30 * time.Second)
	pollAll(t, a)
	ah := latest(a, ahead)
	if age := ah.Stats[0].OldestPendingAge; age != 30*time.Second {
		t.Errorf("ahead: age %v, want 30s (seen at the tail 30s ago)", age)
	}
	// 1 * 30s / 5s = 6.
	if ah.Decision.DesiredReplicas != 6 || ah.Decision.Rule != autoscale.RuleLatency {
		t.Errorf("ahead: %d by %s, want 6 by the latency: %s", ah.Decision.DesiredReplicas, ah.Decision.Rule, ah.Decision.Reason)
	}
}

// TestAutoscalerSpecChangeDecidesAtOnce: a change of the autoscaling spec
// or the concurrency is answered by the Update that brings it, on the last
// read, not by the decision made under the old spec until the next poll.
// A change of the queues, which that read does not cover, keeps the last
// decision within the new bounds and polls at once.
func TestAutoscalerSpecChangeDecidesAtOnce(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	enqueue(t, srv.Addr, "busy", 80)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 20, PollInterval: dur(time.Minute),
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}}}
	tests := []struct {
		name     string
		change   func(*Target)
		want     int32
		wantRule autoscale.Rule
		pollNow  bool
	}{
		{"maxReplicas lowered", func(in *Target) { in.Spec.MaxReplicas = 3 }, 3, autoscale.RuleMaxReplicas, false},
		{"minReplicas raised above the backlog's count", func(in *Target) {
			in.Spec.MaxReplicas = 40
			in.Spec.MinReplicas = ptr.To[int32](30)
		}, 30, autoscale.RuleMinReplicas, false},
		{"concurrency doubled", func(in *Target) { in.Concurrency = 8 }, 10, autoscale.RuleBacklog, false},
		{"targetBacklogPerReplica set", func(in *Target) { in.Spec.TargetBacklogPerReplica = ptr.To[int32](16) }, 5,
			autoscale.RuleBacklog, false},
		{"a new queue and a lower max", func(in *Target) {
			in.Queues = append(in.Queues, "new")
			in.Spec.MaxReplicas = 2
		}, 2, autoscale.RuleMaxReplicas, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := types.NamespacedName{Namespace: "spec", Name: fmt.Sprint("qw-", i)}
			in := testTarget(name, srv.Addr, as, 20, "busy")
			update(t, a, name, in)
			pollAll(t, a)
			if res := update(t, a, name, in); res == nil || res.Decision.DesiredReplicas != 20 {
				t.Fatalf("before the change: %+v, want 20", res)
			}
			tt.change(&in)
			res := update(t, a, name, in)
			if res.Decision.DesiredReplicas != tt.want || res.Decision.Rule != tt.wantRule {
				t.Errorf("after the change: %d by %s, want %d by %s: %s",
					res.Decision.DesiredReplicas, res.Decision.Rule, tt.want, tt.wantRule, res.Decision.Reason)
			}
			a.mu.Lock()
			next := a.targets[name].nextPoll
			a.mu.Unlock()
			if polls := !next.After(clock.Now()); polls != tt.pollNow {
				t.Errorf("next poll at %v (now %v), want a poll at once: %v", next, clock.Now(), tt.pollNow)
			}
			a.Remove(name)
		})
	}
}

func TestLatencyBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{time.Second - time.Millisecond, 0},
		{time.Second, 1},
		{time.Second + time.Millisecond, 1},
		{2 * time.Second, 2},
		{59 * time.Second, 5},
		{time.Minute, 6},
		{time.Hour - time.Millisecond, 10},
		{time.Hour, 11},
		{90 * time.Minute, 11},
		{7 * 24 * time.Hour, len(latencyBuckets)},
		{365 * 24 * time.Hour, len(latencyBuckets)},
	}
	for _, tt := range tests {
		if got := latencyBucket(tt.d); got != tt.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// TestAutoscalerUpdateReturnsWokenResult: between two wake-ups every
// reconcile gets the result it was woken for, so a reconcile for another
// cause (a Deployment's status, a resync) writes nothing new; a count that
// changes wakes it again after StatusInterval, and a new decision at once.
func TestAutoscalerUpdateReturnsWokenResult(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	a.StatusInterval = 10 * time.Second
	name := types.NamespacedName{Namespace: "wake", Name: "still"}
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 10, PollInterval: dur(time.Second),
		ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}}}
	in := testTarget(name, srv.Addr, as, 1, "still")
	enqueue(t, srv.Addr, "still", 1)
	update(t, a, name, in)
	pollAll(t, a)
	first := update(t, a, name, in)

	enqueue(t, srv.Addr, "still", 1) // 2 pending: a new count, the same decision
	for range 9 {
		clock.Add(time.Second)
		pollAll(t, a)
		if got := update(t, a, name, in); !got.At.Equal(first.At) || got.Stats[0].Pending != 1 {
			t.Fatalf("%v after the first wake: Update returned the read at %v with %d pending, want the woken one",
				clock.Now().Sub(first.At), got.At, got.Stats[0].Pending)
		}
	}
	clock.Add(time.Second)
	pollAll(t, a)
	if got := update(t, a, name, in); got.Stats[0].Pending != 2 {
		t.Errorf("after StatusInterval: %d pending, want the new count 2", got.Stats[0].Pending)
	}
	enqueue(t, srv.Addr, "still", 8) // 10 pending: 3 replicas
	clock.Add(time.Second)
	pollAll(t, a)
	if got := update(t, a, name, in); got.Decision.DesiredReplicas != 3 {
		t.Errorf("a new decision: %d, want 3 at once", got.Decision.DesiredReplicas)
	}
}

// seriesWith counts the series of c that carry every given label value.
func seriesWith(t *testing.T, c prometheus.Collector, labels map[string]string) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 1024)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	n := 0
	for m := range ch {
		var out dto.Metric
		if err := m.Write(&out); err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, l := range out.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				found++
			}
		}
		if found == len(labels) {
			n++
		}
	}
	return n
}

// TestAutoscalerMetricSeries: read errors are counted per QueueWorker and
// go with it; the read duration is labelled by the endpoint without any
// credential, shared by the clients whose keys differ only in credentials,
// and goes when the last of them stops.
func TestAutoscalerMetricSeries(t *testing.T) {
	srv := startRedis(t)
	locked, err := redistest.Start("requirepass right")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = locked.Close() })
	a, clock := manualAutoscaler(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Set(t.Context(), "asynq:{poisoned}:pending", "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 10, PollInterval: dur(time.Second)}
	good := types.NamespacedName{Namespace: "metrics", Name: "good"}
	bad := types.NamespacedName{Namespace: "metrics", Name: "bad"}
	update(t, a, good, testTarget(good, srv.Addr, as, 1, "fine"))
	update(t, a, bad, testTarget(bad, srv.Addr, as, 1, "poisoned", "fine"))
	// Two clients of the password-protected server, one with a wrong
	// password, whose reads fail as a whole.
	right := types.NamespacedName{Namespace: "metrics", Name: "right"}
	wrong := types.NamespacedName{Namespace: "metrics", Name: "wrong"}
	for name, password := range map[types.NamespacedName]string{right: "right", wrong: "wrong"} {
		in := testTarget(name, locked.Addr, as, 1, "fine")
		in.Credentials = queue.Credentials{Password: password}
		update(t, a, name, in)
	}
	for range 2 {
		pollAll(t, a)
		clock.Add(time.Second)
	}

	errorsOf := func(name types.NamespacedName) int {
		return seriesWith(t, metricRedisReadErrors, map[string]string{"namespace": name.Namespace, "queueworker": name.Name})
	}
	durationsOf := func(addr string) int {
		return seriesWith(t, metricRedisReadDuration, map[string]string{"endpoint": "standalone " + addr + " db=0"})
	}
	for _, name := range []types.NamespacedName{good, right} {
		if n := errorsOf(name); n != 0 {
			t.Errorf("%s: %d read error series, want none", name.Name, n)
		}
	}
	for _, name := range []types.NamespacedName{bad, wrong} {
		if n := errorsOf(name); n != 1 {
			t.Fatalf("%s: %d read error series, want 1", name.Name, n)
		}
		if v := testutil.ToFloat64(metricRedisReadErrors.WithLabelValues(name.Namespace, name.Name)); v != 2 {
			t.Errorf("%s: %v read errors, want 2", name.Name, v)
		}
	}
	for _, addr := range []string{srv.Addr, locked.Addr} {
		if n := durationsOf(addr); n != 1 {
			t.Fatalf("%d read duration series for %s, want 1", n, addr)
		}
	}
	if n := testutil.CollectAndCount(metricRedisReadDuration); n < 2 {
		t.Errorf("%d read duration series in all, want at least 2", n)
	}

	a.Remove(bad)
	if n := errorsOf(bad); n != 0 {
		t.Errorf("bad removed: %d read error series, want none", n)
	}
	a.Remove(good)
	if n := durationsOf(srv.Addr); n != 0 {
		t.Errorf("the last client of %s gone: %d read duration series, want none", srv.Addr, n)
	}
	a.Remove(wrong)
	if n := errorsOf(wrong); n != 0 {
		t.Errorf("wrong removed: %d read error series, want none", n)
	}
	if n := durationsOf(locked.Addr); n != 1 {
		t.Errorf("one client of %s left: %d read duration series, want 1", locked.Addr, n)
	}
	a.Remove(right)
	if n := durationsOf(locked.Addr); n != 0 {
		t.Errorf("every client of %s gone: %d read duration series, want none", locked.Addr, n)
	}
}

// TestAutoscalerMaxReplicasSeries: queueworker_max_replicas follows the
// QueueWorker's maxReplicas from one decision to the next, beside its
// desired replicas, and goes with it. The chart's alert on workers held at
// their ceiling compares the two.
func TestAutoscalerMaxReplicasSeries(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "metrics", Name: "ceiling"}
	labels := map[string]string{"namespace": name.Namespace, "queueworker": name.Name}
	enqueue(t, srv.Addr, "ceiling", 40)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 3, TargetBacklogPerReplica: ptr.To[int32](1), PollInterval: dur(time.Second)}
	for _, maxReplicas := range []int32{3, 7} {
		as.MaxReplicas = maxReplicas
		update(t, a, name, testTarget(name, srv.Addr, as, 1, "ceiling"))
		pollAll(t, a)
		clock.Add(time.Second)
		if n := seriesWith(t, metricMaxReplicas, labels); n != 1 {
			t.Fatalf("maxReplicas %d: %d queueworker_max_replicas series, want 1", maxReplicas, n)
		}
		if v := testutil.ToFloat64(metricMaxReplicas.WithLabelValues(name.Namespace, name.Name)); v != float64(maxReplicas) {
			t.Errorf("queueworker_max_replicas = %v, want %d", v, maxReplicas)
		}
		desired := testutil.ToFloat64(metricDesiredReplicas.WithLabelValues(name.Namespace, name.Name))
		if desired < 1 || desired > float64(maxReplicas) {
			t.Errorf("maxReplicas %d: queueworker_desired_replicas = %v, want within [1, %d]", maxReplicas, desired, maxReplicas)
		}
	}
	a.Remove(name)
	if n := seriesWith(t, metricMaxReplicas, labels); n != 0 {
		t.Errorf("removed: %d queueworker_max_replicas series, want none", n)
	}
}

// TestAutoscalerTargetLatencySeries: queueworker_target_latency_seconds
// carries the QueueWorker's own targetLatency, so the chart's latency alert
// compares each queue with its target; it disappears when the target is
// unset (the alert's global threshold applies then) and with the
// QueueWorker.
func TestAutoscalerTargetLatencySeries(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "metrics", Name: "target"}
	labels := map[string]string{"namespace": name.Namespace, "queueworker": name.Name}
	enqueue(t, srv.Addr, "target", 5)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 3, PollInterval: dur(time.Second)}
	// A zero target, which the CRD refuses, turns the latency rule off as
	// an unset one does (autoscale.SettingsFor): no series either, rather
	// than a target of 0 that every waiting task would exceed.
	for _, target := range []*metav1.Duration{dur(90 * time.Second), dur(1500 * time.Millisecond), nil, dur(0)} {
		as.TargetLatency = target
		update(t, a, name, testTarget(name, srv.Addr, as, 1, "target"))
		pollAll(t, a)
		clock.Add(time.Second)
		n := seriesWith(t, metricTargetLatency, labels)
		if target == nil || target.Duration <= 0 {
			if n != 0 {
				t.Errorf("targetLatency %v: %d queueworker_target_latency_seconds series, want none", target, n)
			}
			continue
		}
		if n != 1 {
			t.Fatalf("targetLatency %v: %d series, want 1", target.Duration, n)
		}
		if v := testutil.ToFloat64(metricTargetLatency.WithLabelValues(name.Namespace, name.Name)); v != target.Seconds() {
			t.Errorf("queueworker_target_latency_seconds = %v, want %v", v, target.Seconds())
		}
	}
	as.TargetLatency = dur(time.Minute)
	update(t, a, name, testTarget(name, srv.Addr, as, 1, "target"))
	pollAll(t, a)
	a.Remove(name)
	if n := seriesWith(t, metricTargetLatency, labels); n != 0 {
		t.Errorf("removed: %d queueworker_target_latency_seconds series, want none", n)
	}
}

// TestAutoscalerResultServers: every QueueWorker on an endpoint gets the
// live asynq servers of the endpoint with its result, whatever queues they
// serve, here a real asynq server of this process running one task of
// another queue; a read that fails as a whole says the servers are unknown.
func TestAutoscalerResultServers(t *testing.T) {
	srv := startRedis(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, "busy", 1)
	started := make(chan struct{}, 1)
	worker := asynq.NewServer(asynq.RedisClientOpt{Addr: srv.Addr}, asynq.Config{
		Concurrency:     1,
		Queues:          map[string]int{"busy": 1},
		ShutdownTimeout: 200 * time.Millisecond,
		LogLevel:        asynq.FatalLevel,
	})
	if err := worker.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(worker.Shutdown)
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the asynq server did not take the task")
	}

	a, clock := manualAutoscaler(t)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}
	one := types.NamespacedName{Namespace: "servers", Name: "one"}
	other := types.NamespacedName{Namespace: "servers", Name: "other"}
	update(t, a, one, testTarget(one, srv.Addr, as, 1, "mail"))
	update(t, a, other, testTarget(other, srv.Addr, as, 1, "video"))
	// asynq writes the task into its heartbeat within 5s; poll on the
	// real clock until it has.
	deadline := time.Now().Add(20 * time.Second)
	for {
		clock.Add(max(time.Since(clock.Now()), 0))
		pollAll(t, a)
		l := latest(a, one).Servers.List
		if len(l) == 1 && l[0].Running == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers %+v, want the asynq server running 1 task", latest(a, one).Servers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, name := range []types.NamespacedName{one, other} {
		s := latest(a, name).Servers
		if s.Err != nil || s.Live != 1 || len(s.List) != 1 {
			t.Fatalf("%s: servers %+v, want one", name.Name, s)
		}
		if got := s.List[0]; got.Host != host || got.PID != os.Getpid() || got.Running != 1 || got.Timed != 1 {
			t.Errorf("%s: server %+v, want host %s, pid %d, one task running and timed", name.Name, got, host, os.Getpid())
		}
	}

	worker.Shutdown()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	pollAll(t, a)
	if r := latest(a, one); r.Err == nil || r.Servers.Err == nil || len(r.Servers.List) != 0 {
		t.Errorf("Redis down: err %v, servers %+v; want the servers unknown", r.Err, r.Servers)
	}
}

// TestAutoscalerSharesTicks: targets of one endpoint with the same poll
// interval, registered at different moments, are first read at once and
// then on the same ticks of the clock, so each tick is one read for all of
// them however they were spread at the start.
func TestAutoscalerSharesTicks(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	// 100 ms past a tick: both registrations fall between two ticks.
	clock.Add(time.Second + 100*time.Millisecond - clock.Now().Sub(clock.Now().Truncate(time.Second)))
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}
	first := types.NamespacedName{Namespace: "ticks", Name: "first"}
	second := types.NamespacedName{Namespace: "ticks", Name: "second"}
	update(t, a, first, testTarget(first, srv.Addr, as, 1, "first"))
	pollAll(t, a)
	clock.Add(400 * time.Millisecond)
	update(t, a, second, testTarget(second, srv.Addr, as, 1, "second"))
	pollAll(t, a)
	if f, s := latest(a, first), latest(a, second); f == nil || s == nil || !s.At.After(f.At) {
		t.Fatalf("each target is read when registered: first %+v, second %+v", f, s)
	}
	for range 3 {
		// To the next tick, where the pollers' timers fire.
		clock.Add(clock.Now().Truncate(time.Second).Add(time.Second).Sub(clock.Now()))
		pollAll(t, a)
		f, s := latest(a, first), latest(a, second)
		if !f.At.Equal(s.At) {
			t.Fatalf("first read at %v, second at %v: not the same tick", f.At, s.At)
		}
		if !f.At.Truncate(time.Second).Equal(f.At) {
			t.Errorf("read at %v, not on a tick of the 1s interval", f.At)
		}
	}
}
