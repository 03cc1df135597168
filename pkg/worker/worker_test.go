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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// waitFor is how long a test waits for something that should happen
// within a second or two, generous for a busy machine.
const waitFor = 20 * time.Second

var redisServer *redistest.Server

func TestMain(m *testing.M) {
	srv, err := redistest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting redis-server:", err)
		os.Exit(1)
	}
	redisServer = srv
	code := m.Run()
	_ = srv.Close()
	os.Exit(code)
}

// testConfig serves queue on the test Redis with a short shutdown timeout.
func testConfig(queue string) Config {
	return Config{
		Queues:              []contract.Queue{{Name: queue, Priority: 1}},
		Concurrency:         2,
		ShutdownTimeout:     time.Second,
		HealthCheckInterval: time.Second,
		HTTPAddr:            "127.0.0.1:0",
		Redis: RedisConfig{
			Mode:            contract.ModeStandalone,
			Addr:            redisServer.Addr,
			PoolSize:        10,
			MinIdleConns:    1,
			DialTimeout:     2 * time.Second,
			ReadTimeout:     2 * time.Second,
			WriteTimeout:    2 * time.Second,
			PoolTimeout:     2 * time.Second,
			ConnMaxIdleTime: time.Minute,
			MaxRetries:      0,
		},
	}
}

// runningWorker is a Worker running in the background.
type runningWorker struct {
	*Worker
	baseURL string
	cancel  context.CancelFunc
	done    chan error
}

// startWorker builds a worker for cfg, lets register add handlers, and
// runs it until stop is called or the test ends.
func startWorker(t *testing.T, cfg Config, register func(*Worker), opts ...Option) *runningWorker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts = append([]Option{WithListener(ln), WithLogger(log)}, opts...)
	w, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	register(w)
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{Worker: w, baseURL: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-rw.done:
			if err != nil {
				t.Errorf("Run = %v, want nil after a graceful shutdown", err)
			}
		case <-time.After(waitFor):
			t.Errorf("worker did not stop within %s", waitFor)
		}
	})
	return rw
}

// stop cancels the worker's context and returns what Run returned.
func (rw *runningWorker) stop(t *testing.T) error {
	t.Helper()
	rw.cancel()
	select {
	case err := <-rw.done:
		rw.done <- err // for the cleanup
		return err
	case <-time.After(waitFor):
		t.Fatalf("Run did not return within %s of the cancel", waitFor)
		return nil
	}
}

// testLog keeps a worker's log and shows it when the test fails. It does
// not write to t directly: a line logged after the test ended would panic.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newTestLog(t *testing.T) *testLog {
	l := &testLog{}
	t.Cleanup(func() {
		if t.Failed() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("worker log:\n%s", l.buf.String())
		}
	})
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitFor)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newTestClient(t *testing.T) (*asynq.Client, *asynq.Inspector) {
	t.Helper()
	opt := asynq.RedisClientOpt{Addr: redisServer.Addr}
	c := asynq.NewClient(opt)
	i := asynq.NewInspector(opt)
	t.Cleanup(func() {
		_ = c.Close()
		_ = i.Close()
	})
	return c, i
}

// metricValue returns the value of a counter or gauge with the given
// labels, and false if the series does not exist.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestWorkerProcessesTasksAndServesProbes(t *testing.T) {
	const queue = "probes"
	client, _ := newTestClient(t)
	done := make(chan string, 10)
	reg := prometheus.NewRegistry()
	w := startWorker(t, testConfig(queue), func(w *Worker) {
		w.HandleFunc("test:ok", func(ctx context.Context, t *asynq.Task) error {
			done <- string(t.Payload())
			return nil
		})
		w.HandleFunc("test:fail", func(ctx context.Context, t *asynq.Task) error {
			done <- string(t.Payload())
			return errors.New("failing on purpose")
		})
	}, WithRegistry(reg))

	for _, task := range []*asynq.Task{
		asynq.NewTask("test:ok", []byte("ok")),
		asynq.NewTask("test:fail", []byte("fail"), asynq.MaxRetry(0)),
	} {
		if _, err := client.Enqueue(task, asynq.Queue(queue)); err != nil {
			t.Fatalf("enqueueing %s: %v", task.Type(), err)
		}
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case p := <-done:
			got[p] = true
		case <-time.After(waitFor):
			t.Fatalf("handlers ran for %v within %s, want ok and fail", got, waitFor)
		}
	}

	// The counters move right after the handler returns; poll, then check
	// the text that Prometheus scrapes.
	okLabels := map[string]string{"queue": queue, "task_type": "test:ok"}
	failLabels := map[string]string{"queue": queue, "task_type": "test:fail"}
	eventually(t, "both tasks counted", func() bool {
		a, _ := metricValue(t, reg, MetricTasksProcessed, okLabels)
		b, _ := metricValue(t, reg, MetricTasksProcessed, failLabels)
		return a == 1 && b == 1
	})
	code, body := get(t, w.baseURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, line := range []string{
		`queueworker_tasks_processed_total{queue="probes",task_type="test:ok"} 1`,
		`queueworker_tasks_processed_total{queue="probes",task_type="test:fail"} 1`,
		`queueworker_tasks_failed_total{queue="probes",task_type="test:fail"} 1`,
		`queueworker_tasks_in_flight{queue="probes",task_type="test:ok"} 0`,
		`queueworker_task_duration_seconds_count{queue="probes",task_type="test:ok"} 1`,
	} {
		if !strings.Contains(body, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if strings.Contains(body, `queueworker_tasks_failed_total{queue="probes",task_type="test:ok"}`) {
		t.Errorf("/metrics counts a failure of test:ok")
	}

	if code, _ := get(t, w.baseURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get(t, w.baseURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with Redis up = %d %q, want 200", code, body)
	}

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
	eventually(t, "/readyz 503 with Redis down", func() bool {
		code, _ := get(t, w.baseURL+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if code, _ := get(t, w.baseURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down = %d, want 200: an outage must not restart the worker", code)
	}
	eventually(t, "redis_up gauge 0 with Redis down", func() bool {
		v, ok := metricValue(t, reg, MetricRedisUp, nil)
		return ok && v == 0
	})

	restart()
	eventually(t, "/readyz 200 after Redis is back", func() bool {
		code, _ := get(t, w.baseURL+"/readyz")
		return code == http.StatusOK
	})
	eventually(t, "redis_up gauge 1 after Redis is back", func() bool {
		v, ok := metricValue(t, reg, MetricRedisUp, nil)
		return ok && v == 1
	})

	if err := w.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
	if err := w.RedisClient().Ping(context.Background()).Err(); err == nil {
		t.Errorf("the Redis client still works after Run returned, want it closed")
	}
}

func TestShutdownReturnsRunningTaskToQueue(t *testing.T) {
	const queue = "shutdown"
	client, inspector := newTestClient(t)

	started := make(chan string, 1)
	reg1 := prometheus.NewRegistry()
	first := startWorker(t, testConfig(queue), func(w *Worker) {
		w.HandleFunc("test:long", func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			started <- id
			<-ctx.Done()
			return ctx.Err()
		})
	}, WithRegistry(reg1))

	info, err := client.Enqueue(asynq.NewTask("test:long", nil),
		asynq.Queue(queue), asynq.MaxRetry(5), asynq.Retention(time.Hour))
	if err != nil {
		t.Fatalf("enqueueing: %v", err)
	}
	select {
	case id := <-started:
		if id != info.ID {
			t.Fatalf("first worker started task %s, want %s", id, info.ID)
		}
	case <-time.After(waitFor):
		t.Fatalf("first worker did not start the task within %s", waitFor)
	}

	if err := first.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after a graceful shutdown", err)
	}
	got, err := inspector.GetTaskInfo(queue, info.ID)
	if err != nil {
		t.Fatalf("looking up the task: %v", err)
	}
	if got.State != asynq.TaskStatePending {
		t.Errorf("task state after shutdown = %s, want pending", got.State)
	}
	if got.Retried != 0 {
		t.Errorf("task retried = %d after shutdown, want 0: an interrupted task is not a failure", got.Retried)
	}
	if active, err := inspector.ListActiveTasks(queue); err != nil || len(active) != 0 {
		t.Errorf("active tasks after shutdown = %d (err %v), want none", len(active), err)
	}
	// The handler returns after asynq has requeued the task; once it is no
	// longer in flight it must not have been counted as processed.
	inFlight := map[string]string{"queue": queue, "task_type": "test:long"}
	eventually(t, "in-flight gauge back to 0", func() bool {
		v, _ := metricValue(t, reg1, MetricTasksInFlight, inFlight)
		return v == 0
	})
	if v, _ := metricValue(t, reg1, MetricTasksProcessed, inFlight); v != 0 {
		t.Errorf("first worker counted the interrupted task as processed %v times, want 0", v)
	}

	var mu sync.Mutex
	var ranIDs []string
	second := startWorker(t, testConfig(queue), func(w *Worker) {
		w.HandleFunc("test:long", func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			mu.Lock()
			ranIDs = append(ranIDs, id)
			mu.Unlock()
			return nil
		})
	})
	eventually(t, "second worker completes the task", func() bool {
		got, err := inspector.GetTaskInfo(queue, info.ID)
		return err == nil && got.State == asynq.TaskStateCompleted
	})
	if err := second.stop(t); err != nil {
		t.Errorf("second Run = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranIDs) != 1 || ranIDs[0] != info.ID {
		t.Errorf("second worker ran %v, want exactly [%s]", ranIDs, info.ID)
	}
	if active, err := inspector.ListActiveTasks(queue); err != nil || len(active) != 0 {
		t.Errorf("active tasks at the end = %d (err %v), want none", len(active), err)
	}
	if pending, err := inspector.ListPendingTasks(queue); err != nil || len(pending) != 0 {
		t.Errorf("pending tasks at the end = %d (err %v), want none", len(pending), err)
	}
}

func TestRunOnlyOnce(t *testing.T) {
	w := startWorker(t, testConfig("once"), func(*Worker) {})
	if err := w.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded, want an error")
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig("invalid")
	cfg.Concurrency = 0
	_, err := New(cfg)
	if err == nil || !strings.Contains(err.Error(), contract.EnvConcurrency) {
		t.Errorf("New = %v, want an error naming %s", err, contract.EnvConcurrency)
	}
}
