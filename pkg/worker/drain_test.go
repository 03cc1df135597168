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

package worker

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// notTakenFor is how long a test watches a state hold, such as a pending
// task staying untaken. asynq's processor looks at empty queues every
// second, so a worker that takes tasks would take it well within this.
const notTakenFor = 3 * time.Second

// drainTest holds what the drain tests share: an admin client, an asynq
// client and inspector, and the drain key of this host, which every
// worker of the test process reads.
type drainTest struct {
	rdb       *redis.Client
	client    *asynq.Client
	inspector *asynq.Inspector
	host      string
	key       string
}

func newDrainTest(t *testing.T) *drainTest {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	client, inspector := newTestClient(t)
	d := &drainTest{rdb: rdb, client: client, inspector: inspector, host: host, key: contract.DrainKey(host)}
	t.Cleanup(func() {
		_ = rdb.Del(context.Background(), d.key).Err()
		_ = rdb.Close()
	})
	return d
}

// requestDrain does what the operator does to drain this host's workers.
func (d *drainTest) requestDrain(t *testing.T) {
	t.Helper()
	if err := d.rdb.Set(context.Background(), d.key, time.Now().UTC().Format(time.RFC3339), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// cancelDrain does what the operator does to cancel the drain.
func (d *drainTest) cancelDrain(t *testing.T) {
	t.Helper()
	if err := d.rdb.Del(context.Background(), d.key).Err(); err != nil {
		t.Fatal(err)
	}
}

func (d *drainTest) enqueue(t *testing.T, queue, taskType string, opts ...asynq.Option) string {
	t.Helper()
	info, err := d.client.Enqueue(asynq.NewTask(taskType, nil), append([]asynq.Option{asynq.Queue(queue)}, opts...)...)
	if err != nil {
		t.Fatalf("enqueueing %s: %v", taskType, err)
	}
	return info.ID
}

func (d *drainTest) state(t *testing.T, queue, id string) asynq.TaskState {
	t.Helper()
	info, err := d.inspector.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatalf("looking up task %s: %v", id, err)
	}
	return info.State
}

// servers returns the asynq servers of this test process as their last
// heartbeat (every five seconds) describes them: what the operator sees.
func (d *drainTest) servers(t *testing.T) []*asynq.ServerInfo {
	t.Helper()
	all, err := d.inspector.Servers()
	if err != nil {
		t.Fatalf("listing asynq servers: %v", err)
	}
	var mine []*asynq.ServerInfo
	for _, s := range all {
		if s.Host == d.host && s.PID == os.Getpid() {
			mine = append(mine, s)
		}
	}
	return mine
}

// waitDrained waits until w has stopped taking tasks: asynq's Stop has
// returned on the server that took them.
func waitDrained(t *testing.T, w *runningWorker) {
	t.Helper()
	eventually(t, "the worker drains", func() bool {
		s := w.servers
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.draining {
			return false
		}
		if s.current == nil {
			return true
		}
		select {
		case <-s.current.stopped:
			return true
		default:
			return false
		}
	})
}

func waitTakingTasks(t *testing.T, w *runningWorker) {
	t.Helper()
	eventually(t, "the worker takes tasks again", func() bool { return !w.servers.isDraining() })
}

// consistently fails the test if cond stops holding within notTakenFor.
func consistently(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(notTakenFor); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !cond() {
			t.Fatalf("%s: stopped holding within %s", what, notTakenFor)
		}
	}
}

// recorder counts the runs of each task and lets tests hold "test:block"
// tasks until they release them.
type recorder struct {
	mu      sync.Mutex
	runs    map[string]int
	started chan string
	release chan struct{}
}

func newRecorder() *recorder {
	return &recorder{runs: map[string]int{}, started: make(chan string, 10), release: make(chan struct{})}
}

func (r *recorder) register(w *Worker) {
	w.HandleFunc("test:quick", func(ctx context.Context, _ *asynq.Task) error {
		r.count(ctx)
		return nil
	})
	// test:block runs until released, or until its context ends.
	w.HandleFunc("test:block", func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		r.started <- id
		select {
		case <-r.release:
			r.count(ctx)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

func (r *recorder) count(ctx context.Context) {
	id, _ := asynq.GetTaskID(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[id]++
}

func (r *recorder) completions(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

func (r *recorder) waitStarted(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-r.started:
		if got != id {
			t.Fatalf("started task %s, want %s", got, id)
		}
	case <-time.After(waitFor):
		t.Fatalf("task %s did not start within %s", id, waitFor)
	}
}

// TestDrainFinishesRunningTasksAndCancelResumes walks one worker through a
// drain and its cancel as the operator sees them: after the drain key is
// set, a task enqueued later is not taken while the running one finishes,
// /readyz says why, and asynq's heartbeat shows a stopped, idle server;
// after the key is deleted the waiting task runs exactly once on a new
// server, and the stopped one is gone.
func TestDrainFinishesRunningTasksAndCancelResumes(t *testing.T) {
	const queue = "drain"
	d := newDrainTest(t)
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	w := startWorker(t, testConfig(queue), rec.register, WithRegistry(reg))

	running := d.enqueue(t, queue, "test:block", asynq.Retention(time.Hour))
	rec.waitStarted(t, running)

	d.requestDrain(t)
	waitDrained(t, w)
	if code, body := get(t, w.baseURL+"/readyz"); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "draining" {
		t.Errorf("/readyz while draining = %d %q, want 503 \"draining\"", code, body)
	}
	if code, _ := get(t, w.baseURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while draining = %d, want 200: a draining worker must stay alive", code)
	}
	if v, _ := metricValue(t, reg, MetricWorkerDraining, nil); v != 1 {
		t.Errorf("%s while draining = %v, want 1", MetricWorkerDraining, v)
	}

	waiting := d.enqueue(t, queue, "test:quick")
	consistently(t, "the task enqueued after the drain stays pending", func() bool {
		return d.state(t, queue, waiting) == asynq.TaskStatePending
	})
	eventually(t, "the heartbeat shows one stopped server running the task", func() bool {
		s := d.servers(t)
		return len(s) == 1 && s[0].Status == "stopped" && len(s[0].ActiveWorkers) == 1 && s[0].ActiveWorkers[0].TaskID == running
	})

	close(rec.release)
	eventually(t, "the running task completes", func() bool {
		return d.state(t, queue, running) == asynq.TaskStateCompleted
	})
	blockLabels := map[string]string{"queue": queue, "task_type": "test:block"}
	if v, _ := metricValue(t, reg, MetricTasksFailed, blockLabels); v != 0 {
		t.Errorf("the task that finished during the drain counted as failed %v times", v)
	}
	eventually(t, "the heartbeat shows the stopped server idle", func() bool {
		s := d.servers(t)
		return len(s) == 1 && s[0].Status == "stopped" && len(s[0].ActiveWorkers) == 0
	})
	if got := d.state(t, queue, waiting); got != asynq.TaskStatePending {
		t.Fatalf("the task enqueued after the drain is %s once the worker is idle, want pending", got)
	}

	d.cancelDrain(t)
	waitTakingTasks(t, w)
	eventually(t, "the waiting task runs after the cancel", func() bool { return rec.completions(waiting) == 1 })
	if code, body := get(t, w.baseURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after the cancel = %d %q, want 200", code, body)
	}
	if v, _ := metricValue(t, reg, MetricWorkerDraining, nil); v != 0 {
		t.Errorf("%s after the cancel = %v, want 0", MetricWorkerDraining, v)
	}
	eventually(t, "one active server is left", func() bool {
		s := d.servers(t)
		return len(s) == 1 && s[0].Status == "active"
	})
	if err := w.stop(t); err != nil {
		t.Errorf("Run = %v", err)
	}
	if n := rec.completions(waiting); n != 1 {
		t.Errorf("the task enqueued during the drain ran %d times, want exactly once", n)
	}
	if n := rec.completions(running); n != 1 {
		t.Errorf("the task running at the drain completed %d times, want exactly once", n)
	}
}

// TestDrainCancelDrainCancel keeps a task running on the first server
// through a drain, a cancel, a second drain while that server still
// retires, and a second cancel: every task completes exactly once, on
// whichever server took it, and only the last server is left. The
// concurrency of 3 leaves the last server a slot beside the two held
// tasks (TestConcurrencyBoundsAllServers checks the bound).
func TestDrainCancelDrainCancel(t *testing.T) {
	const queue = "redrain"
	d := newDrainTest(t)
	rec := newRecorder()
	cfg := testConfig(queue)
	cfg.Concurrency = 3
	w := startWorker(t, cfg, rec.register)

	first := d.enqueue(t, queue, "test:block", asynq.Retention(time.Hour))
	rec.waitStarted(t, first)
	d.requestDrain(t)
	waitDrained(t, w)
	d.cancelDrain(t)
	waitTakingTasks(t, w)

	second := d.enqueue(t, queue, "test:block", asynq.Retention(time.Hour))
	rec.waitStarted(t, second)
	d.requestDrain(t)
	waitDrained(t, w)
	waiting := d.enqueue(t, queue, "test:quick")
	consistently(t, "the task enqueued after the second drain stays pending", func() bool {
		return d.state(t, queue, waiting) == asynq.TaskStatePending
	})
	eventually(t, "the heartbeat shows two stopped servers, each running its task", func() bool {
		s := d.servers(t)
		return len(s) == 2 && s[0].Status == "stopped" && s[1].Status == "stopped" &&
			len(s[0].ActiveWorkers) == 1 && len(s[1].ActiveWorkers) == 1
	})

	d.cancelDrain(t)
	waitTakingTasks(t, w)
	eventually(t, "the waiting task runs after the second cancel", func() bool { return rec.completions(waiting) == 1 })
	close(rec.release)
	for _, id := range []string{first, second} {
		eventually(t, "task "+id+" completes", func() bool { return d.state(t, queue, id) == asynq.TaskStateCompleted })
	}
	eventually(t, "only the last server is left, active", func() bool {
		s := d.servers(t)
		return len(s) == 1 && s[0].Status == "active"
	})
	last := d.enqueue(t, queue, "test:quick")
	eventually(t, "a task enqueued at the end runs", func() bool { return rec.completions(last) == 1 })
	if err := w.stop(t); err != nil {
		t.Errorf("Run = %v", err)
	}
	for _, id := range []string{first, second, waiting, last} {
		if n := rec.completions(id); n != 1 {
			t.Errorf("task %s completed %d times, want exactly once", id, n)
		}
	}
}

// TestConcurrencyBoundsAllServers keeps a task running on each of two
// stopped servers through two drains and cancels, so the worker has three
// asynq servers: the worker never runs more than its concurrency of tasks
// at once, the tasks enqueued meanwhile wait in their queue, and once the
// old tasks finish the newest server runs its full concurrency.
func TestConcurrencyBoundsAllServers(t *testing.T) {
	const queue = "concurrency"
	d := newDrainTest(t)
	var mu sync.Mutex
	running, peak := 0, 0
	release := make(chan struct{})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)
	cfg := testConfig(queue)
	cfg.Concurrency = 2
	w := startWorker(t, cfg, func(w *Worker) {
		w.HandleFunc("test:hold", func(ctx context.Context, _ *asynq.Task) error {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			defer func() {
				mu.Lock()
				running--
				mu.Unlock()
			}()
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	runningNow := func() int {
		mu.Lock()
		defer mu.Unlock()
		return running
	}
	drainAndCancel := func() {
		d.requestDrain(t)
		waitDrained(t, w)
		d.cancelDrain(t)
		waitTakingTasks(t, w)
	}

	first := d.enqueue(t, queue, "test:hold", asynq.Retention(time.Hour))
	eventually(t, "the first task runs", func() bool { return runningNow() == 1 })
	drainAndCancel()
	second := d.enqueue(t, queue, "test:hold", asynq.Retention(time.Hour))
	eventually(t, "the second task runs on the second server", func() bool { return runningNow() == 2 })
	drainAndCancel()
	w.servers.mu.Lock()
	live := len(w.servers.live)
	w.servers.mu.Unlock()
	if live != 3 {
		t.Fatalf("%d task servers live, want 3: two stopped ones running a task each and the current one", live)
	}

	waiting := []string{
		d.enqueue(t, queue, "test:hold", asynq.Retention(time.Hour)),
		d.enqueue(t, queue, "test:hold", asynq.Retention(time.Hour)),
	}
	consistently(t, "the tasks enqueued while the old servers run their concurrency stay pending", func() bool {
		return d.state(t, queue, waiting[0]) == asynq.TaskStatePending &&
			d.state(t, queue, waiting[1]) == asynq.TaskStatePending
	})
	releaseAll()
	for _, id := range append([]string{first, second}, waiting...) {
		eventually(t, "task "+id+" completes", func() bool { return d.state(t, queue, id) == asynq.TaskStateCompleted })
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > cfg.Concurrency {
		t.Errorf("the worker ran %d tasks at once with a concurrency of %d", peak, cfg.Concurrency)
	}
}

// TestCancelRightAfterDrainLetsTakenTaskFinish cancels a drain while the
// task that the stopped server took last has not reached its handler:
// asynq starts the handler after its dequeue, possibly after Stop has
// returned, and a slow BaseContext (which WithServerConfig lets a user
// set) holds it there for longer than ShutdownTimeout. The stopped server
// must not be shut down under that task, which would requeue it and run it
// twice: the task runs once, to completion.
func TestCancelRightAfterDrainLetsTakenTaskFinish(t *testing.T) {
	const queue = "cancelinflight"
	d := newDrainTest(t)
	var mu sync.Mutex
	runs := map[string]int{}
	var slow atomic.Bool
	slow.Store(true)
	cfg := testConfig(queue)
	cfg.Concurrency = 1
	w := startWorker(t, cfg, func(w *Worker) {
		w.HandleFunc("test:quick", func(ctx context.Context, _ *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			mu.Lock()
			defer mu.Unlock()
			runs[id]++
			return nil
		})
	}, WithServerConfig(func(c *asynq.Config) {
		c.BaseContext = func() context.Context {
			if slow.Load() {
				time.Sleep(5 * time.Second)
			}
			return context.Background()
		}
	}))
	id := d.enqueue(t, queue, "test:quick", asynq.Retention(time.Hour), asynq.MaxRetry(5))
	eventually(t, "the task is taken", func() bool { return d.state(t, queue, id) == asynq.TaskStateActive })
	d.requestDrain(t)
	waitDrained(t, w)
	d.cancelDrain(t)
	waitTakingTasks(t, w)
	eventually(t, "the task completes", func() bool { return d.state(t, queue, id) == asynq.TaskStateCompleted })
	slow.Store(false)
	// A requeued copy would be taken within about a second.
	time.Sleep(2 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if n := runs[id]; n != 1 {
		t.Errorf("the task taken before the drain ran %d times, want once: a cancel requeues and repeats nothing", n)
	}
}

// TestShutdownDuringDrain ends a worker that has a stopped server still
// running a task and a retiring one running another: Run returns, and both
// tasks go back to their queue unharmed, as at any shutdown.
func TestShutdownDuringDrain(t *testing.T) {
	const queue = "drainstop"
	d := newDrainTest(t)
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	w := startWorker(t, testConfig(queue), rec.register, WithRegistry(reg))

	retiring := d.enqueue(t, queue, "test:block", asynq.MaxRetry(5))
	rec.waitStarted(t, retiring)
	d.requestDrain(t)
	waitDrained(t, w)
	d.cancelDrain(t)
	waitTakingTasks(t, w)
	drained := d.enqueue(t, queue, "test:block", asynq.MaxRetry(5))
	rec.waitStarted(t, drained)
	d.requestDrain(t)
	waitDrained(t, w)

	if err := w.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
	for _, id := range []string{retiring, drained} {
		info, err := d.inspector.GetTaskInfo(queue, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.State != asynq.TaskStatePending || info.Retried != 0 {
			t.Errorf("task %s after the shutdown: %s, retried %d; want pending, retried 0", id, info.State, info.Retried)
		}
	}
	if v, _ := metricValue(t, reg, MetricTasksFailed, map[string]string{"queue": queue, "task_type": "test:block"}); v != 0 {
		t.Errorf("the requeued tasks counted as failed %v times, want 0", v)
	}
	if s := d.servers(t); len(s) != 0 {
		t.Errorf("%d asynq servers of this process are left after Run returned, want none", len(s))
	}
}

// TestWorkerStartsDrained starts a worker while its drain key is set, as
// after a container restart during a drain: it takes no task and runs no
// asynq server until the drain is cancelled.
func TestWorkerStartsDrained(t *testing.T) {
	const queue = "startdrained"
	d := newDrainTest(t)
	rec := newRecorder()
	d.requestDrain(t)
	waiting := d.enqueue(t, queue, "test:quick")
	w := startWorker(t, testConfig(queue), rec.register)

	eventually(t, "/readyz says draining", func() bool {
		code, body := get(t, w.baseURL+"/readyz")
		return code == http.StatusServiceUnavailable && strings.TrimSpace(body) == "draining"
	})
	consistently(t, "the task stays pending and no server runs", func() bool {
		return d.state(t, queue, waiting) == asynq.TaskStatePending && len(d.servers(t)) == 0
	})
	d.cancelDrain(t)
	eventually(t, "the task runs after the cancel", func() bool { return rec.completions(waiting) == 1 })
}

// TestWorkerStartsNoServerUntilDrainKeyRead starts a worker whose drain
// key is set while Redis does not answer, as when the network is not up
// yet as the container starts: /readyz says why, and no asynq server runs
// (one would take tasks the moment Redis answers, before the next read of
// the key). Once Redis answers, the worker starts drained, and it takes
// the tasks after the cancel.
func TestWorkerStartsNoServerUntilDrainKeyRead(t *testing.T) {
	const queue = "startunread"
	d := newDrainTest(t)
	proxy, err := redistest.StartProxy(redisServer.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	d.requestDrain(t)
	ids := make([]string, 0, 20)
	for range 20 {
		ids = append(ids, d.enqueue(t, queue, "test:quick"))
	}
	proxy.SetDown(true)
	rec := newRecorder()
	cfg := testConfig(queue)
	cfg.Redis.Addr = proxy.Addr
	cfg.Redis.DialTimeout = 200 * time.Millisecond
	w := startWorker(t, cfg, rec.register)

	eventually(t, "/readyz says the drain key cannot be read", func() bool {
		code, body := get(t, w.baseURL+"/readyz")
		return code == http.StatusServiceUnavailable && strings.HasPrefix(body, "starting: cannot read the drain key: ")
	})
	if w.servers.hasStarted() || len(d.servers(t)) != 0 {
		t.Fatal("a task server runs before the drain key was read")
	}
	proxy.SetDown(false)
	eventually(t, "/readyz says draining once Redis answers", func() bool {
		code, body := get(t, w.baseURL+"/readyz")
		return code == http.StatusServiceUnavailable && strings.TrimSpace(body) == "draining"
	})
	consistently(t, "no task runs and no server runs while the key is set", func() bool {
		for _, id := range ids {
			if rec.completions(id) != 0 {
				return false
			}
		}
		return len(d.servers(t)) == 0
	})
	d.cancelDrain(t)
	for _, id := range ids {
		eventually(t, "task "+id+" runs after the cancel", func() bool { return rec.completions(id) == 1 })
	}
}

// TestDrainKeyReadErrorsKeepState checks that a key the worker cannot read
// is neither a drain nor a cancel: a key of the wrong type, and Redis
// down. A Redis that comes back without the key (it lost its data) has
// cancelled the drain.
func TestDrainKeyReadErrorsKeepState(t *testing.T) {
	const queue = "drainerrors"
	d := newDrainTest(t)
	rec := newRecorder()
	w := startWorker(t, testConfig(queue), rec.register)
	ctx := context.Background()

	// WRONGTYPE while taking tasks: still taking them.
	eventually(t, "the worker starts taking tasks", w.servers.hasStarted)
	if err := d.rdb.HSet(ctx, d.key, "at", "now").Err(); err != nil {
		t.Fatal(err)
	}
	consistently(t, "the worker stays active with an unreadable key", func() bool { return !w.servers.isDraining() })
	quick := d.enqueue(t, queue, "test:quick")
	eventually(t, "a task runs with an unreadable key", func() bool { return rec.completions(quick) == 1 })

	// WRONGTYPE while draining: still draining. The key changes type in
	// one transaction, so no read sees it absent.
	if _, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, d.key)
		p.Set(ctx, d.key, time.Now().UTC().Format(time.RFC3339), time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, w)
	if _, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, d.key)
		p.HSet(ctx, d.key, "at", "now")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	consistently(t, "the worker stays drained with an unreadable key", func() bool { return w.servers.isDraining() })

	// Redis down while draining: still draining, and alive.
	if err := redisServer.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	restart := func() {
		if !restarted {
			restarted = true
			if err := redisServer.Restart(); err != nil {
				t.Fatalf("restarting redis-server: %v", err)
			}
		}
	}
	defer restart()
	consistently(t, "the worker stays drained with Redis down", func() bool {
		code, body := get(t, w.baseURL+"/readyz")
		return w.servers.isDraining() && code == http.StatusServiceUnavailable && strings.TrimSpace(body) == "draining"
	})
	if code, _ := get(t, w.baseURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down while draining = %d, want 200", code)
	}

	// The test's redis-server keeps no data across a restart.
	restart()
	waitTakingTasks(t, w)
	after := d.enqueue(t, queue, "test:quick")
	eventually(t, "a task runs once Redis is back without the key", func() bool { return rec.completions(after) == 1 })
}

// TestDrainUnderDocumentedACL drains a worker that runs as the ACL user
// docs/security.md gives the workers (TestDocumentedACLReadsDrainKeyOnly
// checks what that user may do with the key).
func TestDrainUnderDocumentedACL(t *testing.T) {
	const queue = "drainacl"
	const password = "worker-pass-d41"
	createWorkerUser(t, password)
	d := newDrainTest(t)
	rec := newRecorder()
	cfg := testConfig(queue)
	cfg.Redis.Username = workerACLUser
	cfg.Redis.Password = password
	w := startWorker(t, cfg, rec.register)

	d.requestDrain(t)
	waitDrained(t, w)
	waiting := d.enqueue(t, queue, "test:quick")
	consistently(t, "the task stays pending", func() bool {
		return d.state(t, queue, waiting) == asynq.TaskStatePending
	})

	d.cancelDrain(t)
	eventually(t, "the task runs after the cancel", func() bool { return rec.completions(waiting) == 1 })
}

// TestDrainKeyRefused runs a worker whose Redis user may not read the
// drain key: a refused read is no request, so the worker keeps taking
// tasks while the key is set.
func TestDrainKeyRefused(t *testing.T) {
	const queue = "drainrefused"
	d := newDrainTest(t)
	ctx := context.Background()
	const user, password = "no-drain", "worker-pass-0e2"
	if err := d.rdb.Do(ctx, "ACL", "SETUSER", user, "reset", "on", ">"+password,
		"~asynq:*", "&asynq:*", "+@all", "-@admin", "-@dangerous").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.rdb.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	rec := newRecorder()
	cfg := testConfig(queue)
	cfg.Redis.Username = user
	cfg.Redis.Password = password
	w := startWorker(t, cfg, rec.register)

	d.requestDrain(t)
	consistently(t, "the worker stays active", func() bool { return !w.servers.isDraining() })
	id := d.enqueue(t, queue, "test:quick")
	eventually(t, "a task runs while the key is set", func() bool { return rec.completions(id) == 1 })
}

// TestDrainValueReadAndLoggedBounded sets a drain key with an 8 MiB value,
// as anyone who may write the key could: the worker drains, and logs only
// the first maxDrainValue bytes of the value, marked as cut.
func TestDrainValueReadAndLoggedBounded(t *testing.T) {
	const queue = "drainhuge"
	d := newDrainTest(t)
	rec := newRecorder()
	l := &testLog{}
	w := startWorker(t, testConfig(queue), rec.register, WithLogger(slog.New(slog.NewTextHandler(l, nil))))
	if err := d.rdb.Set(context.Background(), d.key, strings.Repeat("A", 8<<20), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, w)
	l.mu.Lock()
	log := l.buf.String()
	l.mu.Unlock()
	longest := 0
	for line := range strings.SplitSeq(log, "\n") {
		longest = max(longest, len(line))
	}
	if longest > 1024 {
		t.Errorf("the worker logged a %d-byte line for an 8 MiB drain value, want the value cut to %d bytes", longest, maxDrainValue)
	}
	if want := "requestedAt=" + strings.Repeat("A", maxDrainValue) + "…"; !strings.Contains(log, want) {
		t.Errorf("the drain log lacks %q:\n%s", want, log)
	}
}
