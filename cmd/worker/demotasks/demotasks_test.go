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

package demotasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/worker"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

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

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{in: "50/s", want: 50},
		{in: "50", want: 50},
		{in: "0.5/s", want: 0.5},
		{in: "0", want: 0},
		{in: " 10/s ", want: 10},
		{in: "-1/s", wantErr: true},
		{in: "fast", wantErr: true},
		{in: "10/m", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRate(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseRate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEnqueue(t *testing.T) {
	// A queue of its own, so a repeated run (-count) starts empty.
	queue := "enqueue-" + NewID()
	rdb := newRedis(t)
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)

	var ids []string
	n, err := Enqueue(context.Background(), client, Load{
		Queue: queue, Count: 3, Type: TypeSleep, Duration: 2 * time.Second,
	}, func(id string) { ids = append(ids, id) })
	if err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v; want 3, nil", n, err)
	}
	m, err := Enqueue(context.Background(), client, Load{
		Queue: queue, Count: 1, Type: TypeFail, FailTimes: 4,
	}, func(id string) { ids = append(ids, id) })
	if err != nil || m != 1 {
		t.Fatalf("Enqueue = %d, %v; want 1, nil", m, err)
	}

	pending, err := inspector.ListPendingTasks(queue)
	if err != nil {
		t.Fatalf("listing pending tasks: %v", err)
	}
	if len(pending) != 4 {
		t.Fatalf("%d pending tasks, want 4", len(pending))
	}
	gotIDs := make([]string, 0, len(pending))
	for _, info := range pending {
		gotIDs = append(gotIDs, info.ID)
		var p Payload
		if err := json.Unmarshal(info.Payload, &p); err != nil {
			t.Fatalf("task %s: payload %q: %v", info.ID, info.Payload, err)
		}
		if p.ID != info.ID {
			t.Errorf("payload id %q differs from task id %q", p.ID, info.ID)
		}
		switch info.Type {
		case TypeSleep:
			if p.Duration != "2s" || info.MaxRetry != 3 || info.Timeout != 2*time.Second+time.Minute {
				t.Errorf("sleep task: duration %q maxRetry %d timeout %s; want 2s, 3, 1m2s", p.Duration, info.MaxRetry, info.Timeout)
			}
		case TypeFail:
			if p.FailTimes != 4 || info.MaxRetry != 7 {
				t.Errorf("fail task: failTimes %d maxRetry %d; want 4, 7", p.FailTimes, info.MaxRetry)
			}
		default:
			t.Errorf("unexpected task type %q", info.Type)
		}
	}
	sort.Strings(ids)
	sort.Strings(gotIDs)
	if fmt.Sprint(ids) != fmt.Sprint(gotIDs) {
		t.Errorf("reported ids %v, queued ids %v", ids, gotIDs)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("id %s used twice", id)
		}
		seen[id] = true
	}
}

func TestEnqueueRejects(t *testing.T) {
	tests := []struct {
		name string
		load Load
	}{
		{name: "unknown type", load: Load{Queue: "q", Count: 1, Type: "demo:dance"}},
		{name: "no queue", load: Load{Count: 1, Type: TypeSleep}},
		{name: "negative count", load: Load{Queue: "q", Count: -1, Type: TypeSleep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Enqueue(context.Background(), failingEnqueuer{t}, tt.load, nil)
			if err == nil || n != 0 {
				t.Errorf("Enqueue = %d, %v; want 0 and an error", n, err)
			}
		})
	}
}

// failingEnqueuer fails the test when anything reaches Redis.
type failingEnqueuer struct{ t *testing.T }

func (f failingEnqueuer) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	f.t.Error("a task was enqueued")
	return nil, errors.New("unexpected")
}

func TestEnqueueStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	enq := enqueuerFunc(func() {
		calls++
		cancel()
	})
	// At one task an hour, the second task would wait an hour for its
	// turn; the cancel must end that wait.
	n, err := Enqueue(ctx, enq, Load{Queue: "q", Count: 100, Rate: 1.0 / 3600, Type: TypeSleep}, nil)
	if !errors.Is(err, context.Canceled) || n != 1 || calls != 1 {
		t.Errorf("Enqueue = %d, %v after %d calls; want 1, context canceled, 1 call", n, err, calls)
	}
}

type enqueuerFunc func()

func (f enqueuerFunc) EnqueueContext(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	f()
	return &asynq.TaskInfo{}, nil
}

func TestSleepGivesUpWhenContextEnds(t *testing.T) {
	rdb := newRedis(t)
	h := NewHandlers(rdb)
	id := NewID()
	task, err := NewSleepTask(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := h.Sleep(ctx, task); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	if ledger, err := readLedger(context.Background(), rdb); err != nil || ledger[id] != 0 {
		t.Errorf("ledger has %d completions (err %v) for a cancelled task, want 0", ledger[id], err)
	}
	// The start is recorded whether or not the task completes; that is
	// how an interrupted task shows.
	if starts, err := rdb.HGet(context.Background(), StartsKey, id).Int64(); err != nil || starts != 1 {
		t.Errorf("starts = %d (err %v), want 1", starts, err)
	}
}

func TestBadPayloadSkipsRetries(t *testing.T) {
	h := NewHandlers(newRedis(t))
	for _, payload := range []string{`not json`, `{}`, `{"id":"x","duration":"soon"}`} {
		err := h.Sleep(context.Background(), asynq.NewTask(TypeSleep, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("Sleep with payload %s = %v, want SkipRetry", payload, err)
		}
	}
}

// TestHandlersRecordEachTaskOnce runs the handlers in a real worker: a
// demo:fail task fails the planned number of times and then completes, a
// demo:sleep task completes, and each appears in the ledger once.
func TestHandlersRecordEachTaskOnce(t *testing.T) {
	const queue = "demo"
	rdb := newRedis(t)
	reg := prometheus.NewRegistry()
	cfg := worker.Config{
		Queues:              []contract.Queue{{Name: queue, Priority: 1}},
		Concurrency:         2,
		ShutdownTimeout:     time.Second,
		HealthCheckInterval: time.Second,
		HTTPAddr:            "127.0.0.1:0",
		Redis: worker.RedisConfig{
			Mode: contract.ModeStandalone, Addr: redisServer.Addr, PoolSize: 5,
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
			PoolTimeout: time.Second, ConnMaxIdleTime: time.Minute,
		},
	}
	w, err := worker.New(cfg,
		worker.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		worker.WithRegistry(reg),
		worker.WithServerConfig(func(c *asynq.Config) {
			c.RetryDelayFunc = func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond }
			c.DelayedTaskCheckInterval = 100 * time.Millisecond
		}))
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	NewHandlers(w.RedisClient()).Register(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("worker did not stop within %s", waitFor)
		}
	}()

	client := asynq.NewClientFromRedisClient(rdb)
	sleepID, failID := NewID(), NewID()
	sleep, err := NewSleepTask(sleepID, 50*time.Millisecond, asynq.Queue(queue))
	if err != nil {
		t.Fatal(err)
	}
	fail, err := NewFailTask(failID, 2, asynq.Queue(queue))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []*asynq.Task{sleep, fail} {
		if _, err := client.Enqueue(task); err != nil {
			t.Fatalf("enqueueing %s: %v", task.Type(), err)
		}
	}

	deadline := time.Now().Add(waitFor)
	for {
		ledger, err := readLedger(context.Background(), rdb)
		if err != nil {
			t.Fatal(err)
		}
		if ledger[sleepID] == 1 && ledger[failID] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger %v after %s, want %s and %s once each", ledger, waitFor, sleepID, failID)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The ledger is written inside the handler, the counters once it has
	// returned: wait for the last attempt's count.
	var attempts, failures float64
	for {
		attempts, failures = failCounts(t, reg)
		if attempts >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if attempts != 3 || failures != 2 {
		t.Errorf("demo:fail ran %v times with %v failures, want 3 and 2", attempts, failures)
	}
}

// failCounts reads the worker's processed and failed counters of
// demo:fail tasks.
func failCounts(t *testing.T, reg *prometheus.Registry) (attempts, failures float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			isFail := false
			for _, l := range m.GetLabel() {
				if l.GetName() == "task_type" && l.GetValue() == TypeFail {
					isFail = true
				}
			}
			if !isFail {
				continue
			}
			switch f.GetName() {
			case worker.MetricTasksProcessed:
				attempts = m.GetCounter().GetValue()
			case worker.MetricTasksFailed:
				failures = m.GetCounter().GetValue()
			}
		}
	}
	return attempts, failures
}

// readLedger returns the completion count of every payload ID in the
// ledger.
func readLedger(ctx context.Context, rdb redis.UniversalClient) (map[string]int64, error) {
	raw, err := rdb.HGetAll(ctx, LedgerKey).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(raw))
	for id, v := range raw {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("field %s holds %q", id, v)
		}
		out[id] = n
	}
	return out, nil
}
