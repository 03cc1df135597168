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
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// scenario is one scenario's namespace, Redis and line of the report.
type scenario struct {
	s      *suite
	t      *testing.T
	ns     string
	redis  redisServer
	rdb    *redis.Client
	result *scenarioResult
}

// newScenario creates a namespace and, with withRedis, a Redis of its own.
// When the scenario ends, a failure's diagnostics are saved, the namespace
// is deleted (its workers stop before Redis does) and the report line is
// completed.
func (s *suite) newScenario(t *testing.T, prefix string, withRedis bool) *scenario {
	ctx := t.Context()
	sc := &scenario{s: s, t: t, result: s.report.start(t.Name())}
	t.Cleanup(func() {
		if sc.ns != "" {
			if t.Failed() {
				s.diagnostics(t, sc.ns)
			}
			s.deleteNamespace(t, sc.ns)
		}
		if sc.redis != nil {
			sc.redis.close()
		}
		sc.result.finish(t)
	})
	sc.ns = s.newNamespace(ctx, t, prefix)
	if withRedis {
		r, err := s.provider.startRedis(ctx, t, sc.ns)
		if err != nil {
			t.Fatalf("starting Redis: %v", err)
		}
		sc.redis, sc.rdb = r, r.client()
	}
	return sc
}

// workerSpec is what differs between the scenarios' QueueWorkers.
type workerSpec struct {
	queue           string
	concurrency     int32
	shutdownTimeout time.Duration // 0: the default
	minReplicas     int32
	maxReplicas     int32
	scaleDownWindow time.Duration
	// redis is the workers' connection; nil: the scenario's Redis.
	redis *queueworkerv1alpha1.RedisConnection
}

// newQueueWorker returns an autoscaled QueueWorker that runs the reference
// worker on one queue of the scenario's Redis. Failed tasks are retried
// after a second (the worker's --retry-delay), so a retry caused by an
// outage does not stretch the drain by asynq's default backoff of 15s and
// more.
func (sc *scenario) newQueueWorker(name string, w workerSpec) *queueworkerv1alpha1.QueueWorker {
	conn := w.redis
	if conn == nil {
		conn = &queueworkerv1alpha1.RedisConnection{Addr: sc.redis.addr()}
	}
	qw := &queueworkerv1alpha1.QueueWorker{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: sc.ns},
		Spec: queueworkerv1alpha1.QueueWorkerSpec{
			Queues:      []queueworkerv1alpha1.Queue{{Name: w.queue, Priority: 1}},
			Concurrency: w.concurrency,
			Redis:       *conn,
			Autoscaling: &queueworkerv1alpha1.Autoscaling{
				MinReplicas: ptr.To(w.minReplicas),
				MaxReplicas: w.maxReplicas,
				ScaleDown: &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{
					StabilizationWindow: &metav1.Duration{Duration: w.scaleDownWindow},
				}},
			},
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  workerContainer,
						Image: workerImage,
						Args:  []string{"run", "--retry-delay=1s"},
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse("10m"),
							corev1.ResourceMemory: resource.MustParse("32Mi"),
						}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/readyz", Port: intstr.FromString(contract.HTTPPortName),
							}},
							PeriodSeconds: 2,
						},
					}},
				},
			},
		},
	}
	if w.shutdownTimeout > 0 {
		qw.Spec.ShutdownTimeout = &metav1.Duration{Duration: w.shutdownTimeout}
	}
	return qw
}

// createWorkers creates the QueueWorker and waits until its Deployment has
// its minimum of ready workers and the operator reads the queue.
func (sc *scenario) createWorkers(qw *queueworkerv1alpha1.QueueWorker) {
	t := sc.t
	t.Helper()
	if err := sc.s.client.Create(t.Context(), qw); err != nil {
		t.Fatalf("creating QueueWorker %s: %v", qw.Name, err)
	}
	want := ptr.Deref(qw.Spec.Autoscaling.MinReplicas, 1)
	eventually(t, "the workers are ready and the operator reads their queue", shortWait, func() (bool, error) {
		var dep appsv1.Deployment
		if err := sc.s.client.Get(t.Context(), client.ObjectKeyFromObject(qw), &dep); err != nil {
			return false, err
		}
		if dep.Status.ReadyReplicas < want {
			return false, fmt.Errorf("deployment has %d of %d ready workers", dep.Status.ReadyReplicas, want)
		}
		var got queueworkerv1alpha1.QueueWorker
		if err := sc.s.client.Get(t.Context(), client.ObjectKeyFromObject(qw), &got); err != nil {
			return false, err
		}
		for _, c := range []string{queueworkerv1alpha1.ConditionReady, queueworkerv1alpha1.ConditionRedisReachable} {
			if !apimeta.IsStatusConditionTrue(got.Status.Conditions, c) {
				return false, fmt.Errorf("condition %s is not True: %+v", c, got.Status.Conditions)
			}
		}
		return true, nil
	})
}

// enqueueParallel is how many clients enqueue a burst at once: enough that
// a burst arrives in a second or two, even through a port-forward.
const enqueueParallel = 8

// enqueue enqueues n demo:sleep tasks of d at once and returns their IDs.
func (sc *scenario) enqueue(queue string, n int, d time.Duration) []string {
	t := sc.t
	t.Helper()
	start := time.Now()
	c := asynq.NewClientFromRedisClient(sc.rdb)
	var (
		mu   sync.Mutex
		ids  = make([]string, 0, n)
		errs = make([]error, enqueueParallel)
		wg   sync.WaitGroup
	)
	for i := range enqueueParallel {
		count := n / enqueueParallel
		if i < n%enqueueParallel {
			count++
		}
		wg.Go(func() {
			_, errs[i] = demotasks.Enqueue(t.Context(), c, demotasks.Load{
				Queue: queue, Count: count, Type: demotasks.TypeSleep, Duration: d,
			}, func(id string) {
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("enqueueing %d tasks: %v", n, err)
	}
	t.Logf("enqueued %d %s tasks of %s to queue %s in %s", n, demotasks.TypeSleep, d, queue, time.Since(start).Round(time.Millisecond))
	return ids
}

// trickle enqueues n demo:sleep tasks of d at rate per second in the
// background; wait returns their IDs once all are enqueued.
func (sc *scenario) trickle(queue string, n int, rate float64, d time.Duration) (wait func() []string) {
	c := asynq.NewClientFromRedisClient(sc.rdb)
	var ids []string
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err = demotasks.Enqueue(sc.t.Context(), c, demotasks.Load{
			Queue: queue, Count: n, Rate: rate, Type: demotasks.TypeSleep, Duration: d,
		}, func(id string) { ids = append(ids, id) })
	}()
	return func() []string {
		<-done
		if err != nil {
			sc.t.Fatalf("enqueueing %d tasks at %.1f/s: %v", n, rate, err)
		}
		return ids
	}
}

// tally is what the ledger says of a set of enqueued tasks.
type tally struct {
	enqueued int
	// done tasks completed at least once; lost ones never; duplicated
	// ones more than once.
	done, lost, duplicated int
	// unknown counts completions of tasks that were never enqueued.
	unknown int
	// restarted counts the demo:sleep tasks a handler started more than
	// once: a worker stopped while they ran and asynq ran them again.
	restarted int
}

func (c tally) String() string {
	return fmt.Sprintf("%d enqueued, %d done, %d lost, %d duplicated, %d unknown, %d restarted",
		c.enqueued, c.done, c.lost, c.duplicated, c.unknown, c.restarted)
}

// ledgerTally reads the demo tasks' ledgers (cmd/worker/demotasks): one
// counter per task raised each time the task completes, and one raised
// each time a demo:sleep task starts.
func ledgerTally(ctx context.Context, rdb *redis.Client, ids []string) (tally, error) {
	ledger, err := readCounters(ctx, rdb, demotasks.LedgerKey)
	if err != nil {
		return tally{}, err
	}
	starts, err := readCounters(ctx, rdb, demotasks.StartsKey)
	if err != nil {
		return tally{}, err
	}
	c := tally{enqueued: len(ids)}
	for _, id := range ids {
		if starts[id] > 1 {
			c.restarted++
		}
	}
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
		switch ledger[id] {
		case 0:
			c.lost++
		case 1:
			c.done++
		default:
			c.done++
			c.duplicated++
		}
	}
	for id := range ledger {
		if !known[id] {
			c.unknown++
		}
	}
	return c, nil
}

// readCounters reads a hash of counters per task ID.
func readCounters(ctx context.Context, rdb *redis.Client, key string) (map[string]int64, error) {
	raw, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	out := make(map[string]int64, len(raw))
	for id, v := range raw {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading %s: field %s holds %q", key, id, v)
		}
		out[id] = n
	}
	return out, nil
}

// waitDrained waits until every task of ids has completed and the queue
// holds nothing: no pending, running, scheduled or retrying task. An
// archived task has failed for good, so it fails the wait at once.
func (sc *scenario) waitDrained(queue string, ids []string) {
	t := sc.t
	t.Helper()
	inspector := asynq.NewInspectorFromRedisClient(sc.rdb)
	eventually(t, "every task completes and the queue is empty", longWait, func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c, err := ledgerTally(ctx, sc.rdb, ids)
		if err != nil {
			return false, err
		}
		info, err := inspector.GetQueueInfo(queue)
		if err != nil {
			return false, fmt.Errorf("reading queue %s: %w", queue, err)
		}
		if info.Archived > 0 {
			t.Fatalf("%d tasks failed for good (archived) in queue %s; ledger: %s", info.Archived, queue, c)
		}
		state := fmt.Errorf("ledger: %s; queue: %d pending, %d active, %d scheduled, %d retry",
			c, info.Pending, info.Active, info.Scheduled, info.Retry)
		empty := info.Pending == 0 && info.Active == 0 && info.Scheduled == 0 && info.Retry == 0
		return c.lost == 0 && empty, state
	})
	active, err := inspector.ListActiveTasks(queue)
	if err != nil {
		t.Fatalf("listing active tasks: %v", err)
	}
	if len(active) > 0 {
		t.Fatalf("%d tasks are left in queue %s's active list", len(active), queue)
	}
}

// finalTally reads the ledger at the end of a scenario, so that a
// completion that came after the drain counts too, and puts it in the
// report.
func (sc *scenario) finalTally(ids []string) tally {
	sc.t.Helper()
	c, err := ledgerTally(sc.t.Context(), sc.rdb, ids)
	if err != nil {
		sc.t.Fatalf("reading the ledger: %v", err)
	}
	sc.result.tally = &c
	return c
}

// waitBackToMin waits until the operator has scaled the workers down to
// min and the other pods are gone; it returns when the last pod went.
func (sc *scenario) waitBackToMin(m *monitor, min int32) time.Time {
	sc.t.Helper()
	var at time.Time
	eventually(sc.t, fmt.Sprintf("the workers scale back to %d", min), longWait, func() (bool, error) {
		cur, ok := m.current()
		if !ok {
			return false, errors.New("no sample of the Deployment yet")
		}
		at = cur.at
		return cur.desired == min && cur.current == min,
			fmt.Errorf("desired %d, %d pods, %d ready", cur.desired, cur.current, cur.ready)
	})
	return at
}

// waitScaleUp waits for the first decision above from after start.
func (sc *scenario) waitScaleUp(m *monitor, from int32, start time.Time) sample {
	sc.t.Helper()
	var up sample
	eventually(sc.t, "the workers scale up", shortWait, func() (bool, error) {
		var ok bool
		up, ok = m.firstDesiredAbove(from, start)
		return ok, errors.New("still at the minimum")
	})
	return up
}

// checkEvents fails the test unless the QueueWorker has an event of each
// reason (the operator emits them on transitions only).
func (sc *scenario) checkEvents(name string, reasons ...string) {
	t := sc.t
	t.Helper()
	eventually(t, "the QueueWorker's events", shortWait, func() (bool, error) {
		var events corev1.EventList
		if err := sc.s.client.List(t.Context(), &events, client.InNamespace(sc.ns)); err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "QueueWorker" && e.InvolvedObject.Name == name {
				seen[e.Reason] = true
			}
		}
		for _, r := range reasons {
			if !seen[r] {
				return false, fmt.Errorf("no %s event; reasons seen: %v", r, seen)
			}
		}
		return true, nil
	})
}

// checkExactlyOnce fails the test unless every task completed exactly once.
func (sc *scenario) checkExactlyOnce(c tally) {
	sc.t.Helper()
	if c.lost != 0 || c.duplicated != 0 || c.unknown != 0 {
		sc.t.Errorf("tasks must complete exactly once; ledger: %s", c)
	}
}
