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

package demoview

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

var redisServer *redistest.Server

// asynq's key layout (v0.26.0), to build the states asynq leaves a queue
// in: every key of a queue carries the name as a hash tag; pending is a
// list that enqueue LPUSHes, so its tail is the oldest task; the task hash
// keeps the enqueue time in Unix nanoseconds in pending_since while the
// task is pending.
func pendingKey(q string) string { return "asynq:{" + q + "}:pending" }
func activeKey(q string) string  { return "asynq:{" + q + "}:active" }
func retryKey(q string) string   { return "asynq:{" + q + "}:retry" }
func leaseKey(q string) string   { return "asynq:{" + q + "}:lease" }
func taskKey(q, id string) string {
	return "asynq:{" + q + "}:t:" + id
}

const pendingSinceField = "pending_since"

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

// newClient returns a client of the test server, emptied first.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return rdb
}

func enqueueSleep(t *testing.T, c *asynq.Client, queue string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for range n {
		id := demotasks.NewID()
		task, err := demotasks.NewSleepTask(id, time.Millisecond, asynq.Queue(queue))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Enqueue(task); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestReadQueues builds each state asynq leaves a queue in and reads it
// back: pending with enqueue times, a task taken by a worker (moved to
// active, its pending_since deleted), a task put back without an enqueue
// time, retries due now and much later, and an empty queue.
func TestReadQueues(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t)
	c := asynq.NewClientFromRedisClient(rdb)
	ids := enqueueSleep(t, c, "a", 3)
	enqueueSleep(t, c, "b", 1)

	// A worker takes the oldest task of "a", as asynq's dequeue does.
	if err := rdb.LMove(ctx, pendingKey("a"), activeKey("a"), "RIGHT", "LEFT").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HDel(ctx, taskKey("a", ids[0]), pendingSinceField).Err(); err != nil {
		t.Fatal(err)
	}
	// ... and holds a lease on it. The read below happens "an hour later",
	// so the lease must still be alive then for the task to count as
	// active rather than orphaned.
	lease := float64(time.Now().Add(time.Hour + 30*time.Second).Unix())
	if err := rdb.ZAdd(ctx, leaseKey("a"), redis.Z{Score: lease, Member: ids[0]}).Err(); err != nil {
		t.Fatal(err)
	}
	// "b"'s only task was put back by a stopping worker: no enqueue time.
	bID, err := rdb.LIndex(ctx, pendingKey("b"), -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.HDel(ctx, taskKey("b", bID), pendingSinceField).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, retryKey("c"), redis.Z{Score: 1, Member: "r1"}).Err(); err != nil {
		t.Fatal(err)
	}
	// "d": its oldest task lost its enqueue time (taken and put back). The
	// operator's reader then knows no latency, whatever the next tasks
	// say, and neither does the view.
	dIDs := enqueueSleep(t, c, "d", 3)
	if err := rdb.HDel(ctx, taskKey("d", dIDs[0]), pendingSinceField).Err(); err != nil {
		t.Fatal(err)
	}
	// "e": a retry due in a day, which the operator does not count yet;
	// the burst is not over until it has run.
	if err := rdb.ZAdd(ctx, retryKey("e"), redis.Z{Score: float64(time.Now().Add(24 * time.Hour).Unix()), Member: "r2"}).Err(); err != nil {
		t.Fatal(err)
	}

	// Read as if an hour had passed: every known enqueue time is then an
	// hour old, give or take the test's own run time.
	now := time.Now().Add(time.Hour)
	got, err := ReadQueues(ctx, rdb, []string{"a", "b", "c", "d", "e", "empty"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("got %d queues, want 6: %+v", len(got), got)
	}
	a, b, cq, d, e, empty := got[0], got[1], got[2], got[3], got[4], got[5]
	aboutAnHour := func(q QueueSample) bool {
		return q.LatencyKnown && q.Latency > time.Hour-time.Minute && q.Latency < time.Hour+time.Minute
	}
	if a.Name != "a" || a.Pending != 2 || a.Active != 1 || a.Retry != 0 || !aboutAnHour(a) {
		t.Errorf("queue a = %+v, want 2 pending, 1 active, about 1h latency", a)
	}
	if b.Pending != 1 || b.Latency != 0 || b.LatencyKnown {
		t.Errorf("queue b = %+v, want 1 pending of unknown age", b)
	}
	if cq.Retry != 1 || cq.Pending != 0 || !cq.LatencyKnown {
		t.Errorf("queue c = %+v, want 1 retry, nothing pending", cq)
	}
	if d.Pending != 3 || d.Latency != 0 || d.LatencyKnown {
		t.Errorf("queue d = %+v, want 3 pending of unknown age", d)
	}
	if e.Retry != 1 || e.Pending != 0 {
		t.Errorf("queue e = %+v, want 1 retry due later", e)
	}
	if empty != (QueueSample{Name: "empty", LatencyKnown: true}) {
		t.Errorf("empty queue = %+v, want zeros", empty)
	}
}

// TestReadQueuesBadKey checks that a queue whose keys Redis refuses to read
// fails the sample rather than showing as empty.
func TestReadQueuesBadKey(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t)
	if err := rdb.Set(ctx, pendingKey("bad"), "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := ReadQueues(ctx, rdb, []string{"good", "bad"}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "queue bad") {
		t.Errorf("err = %v, want one naming queue bad", err)
	}
}

// TestReadQueuesWrongPassword checks that a connection refused at AUTH is
// an error, not a read of empty queues.
func TestReadQueuesWrongPassword(t *testing.T) {
	srv, err := redistest.Start("requirepass", "right")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	for _, pw := range []string{"", "wrong"} {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: pw, MaxRetries: -1})
		if _, err := ReadQueues(context.Background(), rdb, []string{"a"}, time.Now()); err == nil {
			t.Errorf("password %q: no error", pw)
		}
		if _, err := ReadLedger(context.Background(), rdb, []string{"x"}); err == nil {
			t.Errorf("password %q: ReadLedger: no error", pw)
		}
		_ = rdb.Close()
	}
}

func TestReadLedger(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t)
	// More ids than one HMGET takes, so the chunks are exercised.
	ids := make([]string, 0, 2*ledgerChunk+7)
	for i := range cap(ids) {
		ids = append(ids, "id"+strconv.Itoa(i))
	}
	fields := map[string]any{"other-run": 1}
	for i, id := range ids {
		switch {
		case i%10 == 0: // not completed yet
		case i%100 == 1:
			fields[id] = 2
		default:
			fields[id] = 1
		}
	}
	if err := rdb.HSet(ctx, demotasks.LedgerKey, fields).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLedger(ctx, rdb, ids)
	if err != nil {
		t.Fatal(err)
	}
	// 2007 ids: 201 of them (i%10 == 0) missing, 21 (i%100 == 1) twice.
	want := LedgerCount{Done: len(ids) - 201, Duplicated: 21}
	if got != want {
		t.Errorf("ReadLedger = %+v, want %+v", got, want)
	}

	if got, err := ReadLedger(ctx, rdb, nil); err != nil || got != (LedgerCount{}) {
		t.Errorf("ReadLedger(nil) = %+v, %v; want zero", got, err)
	}
	if err := rdb.HSet(ctx, demotasks.LedgerKey, "bad", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLedger(ctx, rdb, []string{"bad"}); err == nil {
		t.Error("ReadLedger of a non-number: no error")
	}
}

func TestBurstEnqueue(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t)
	b := Burst{Queues: []string{"critical", "default", "low"}, Count: 130, Duration: time.Millisecond, Parallel: 4}
	ids := &IDs{}
	if err := b.Enqueue(ctx, asynq.NewClientFromRedisClient(rdb), ids); err != nil {
		t.Fatal(err)
	}
	got := ids.Snapshot()
	if len(got) != 130 {
		t.Fatalf("recorded %d ids, want 130", len(got))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("id %s recorded twice", id)
		}
		seen[id] = true
	}
	for i, want := range []int64{44, 43, 43} {
		q := b.Queues[i]
		if n, err := rdb.LLen(ctx, pendingKey(q)).Result(); err != nil || n != want {
			t.Errorf("queue %s holds %d (err %v), want %d", q, n, err, want)
		}
	}
}

func TestBurstEnqueueFails(t *testing.T) {
	rdb := newClient(t)
	ids := &IDs{}
	if err := (Burst{Queues: nil, Count: 3}).Enqueue(context.Background(), asynq.NewClientFromRedisClient(rdb), ids); err == nil {
		t.Error("no queues: no error")
	}
	if err := (Burst{Queues: []string{"a"}, Count: 0}).Enqueue(context.Background(), asynq.NewClientFromRedisClient(rdb), ids); err == nil {
		t.Error("no tasks: no error")
	}
	// A server that is gone fails the burst instead of hanging.
	srv, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	gone := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = gone.Close() }()
	_ = srv.Close()
	err = Burst{Queues: []string{"a", "b"}, Count: 200, Parallel: 3}.Enqueue(context.Background(), asynq.NewClientFromRedisClient(gone), ids)
	if err == nil {
		t.Error("unreachable Redis: no error")
	}
}
