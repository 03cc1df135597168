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

package queue

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// waitFor bounds waits on real asynq servers; generous, for busy machines.
const waitFor = 20 * time.Second

// redisServer is the package's shared server. Tests that need another
// topology (a cluster, TLS) start their own.
var redisServer *redistest.Server

func TestMain(m *testing.M) {
	if addr := os.Getenv(workerProcessEnv); addr != "" {
		os.Exit(runWorkerProcess(addr))
	}
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

// standalone is the endpoint of the shared server.
func standalone() resources.RedisEndpoint {
	return resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: redisServer.Addr}
}

// commandsFor is what one read of n queues sends outside Redis Cluster:
// one call of the queues' script per queuesPerScript queues, and the
// servers' script.
func commandsFor(n int) int64 {
	return int64((n+queuesPerScript-1)/queuesPerScript) + 1
}

// newReader returns the operator's client for the shared server, with
// hooks added, after emptying the server and loading the scripts so each
// test starts clean and a read costs its steady-state round trip (a
// restart of the server by an earlier test empties its script cache).
func newReader(t testing.TB, hooks ...redis.Hook) redis.UniversalClient {
	t.Helper()
	rdb, err := NewUniversalClient(standalone(), Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	for _, h := range hooks {
		rdb.AddHook(h)
	}
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*redis.Script{queuesScript, serversScript} {
		if err := s.Load(context.Background(), rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rdb
}

// counter is a go-redis hook that counts what a client sends, and the bytes
// it receives on the connections it dials after the hook was added. A
// pipeline is one write and one read on one connection: one round trip.
type counter struct {
	pipelines atomic.Int64
	commands  atomic.Int64
	singles   atomic.Int64
	dials     atomic.Int64
	received  atomic.Int64
}

func (h *counter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		h.dials.Add(1)
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, n: &h.received}, nil
	}
}

// countingConn adds the bytes read from its connection to n.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (h *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.singles.Add(1)
		return next(ctx, cmd)
	}
}

func (h *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (h *counter) reset() {
	h.pipelines.Store(0)
	h.commands.Store(0)
	h.singles.Store(0)
	h.dials.Store(0)
	h.received.Store(0)
}

// task is one task written in asynq's layout, for tests that need exact
// scores and timestamps asynq.Client does not let a caller choose.
type task struct {
	id string
	// pendingSince is the pending_since field; empty leaves it out, as a
	// requeue by a graceful shutdown does.
	pendingSince string
}

// pushPending writes tasks to the pending list of queue the way asynq's
// enqueue script does: the task hash, then LPUSH, so the first task ends
// up at the tail.
func pushPending(t testing.TB, rdb redis.UniversalClient, queue string, tasks ...task) {
	t.Helper()
	k := keysFor(queue)
	ctx := context.Background()
	for _, tk := range tasks {
		fields := []any{"msg", "x", "state", "pending"}
		if tk.pendingSince != "" {
			fields = append(fields, pendingSinceField, tk.pendingSince)
		}
		if err := rdb.HSet(ctx, k.taskPrefix+tk.id, fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.LPush(ctx, k.pending, tk.id).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// groupTasks adds tasks to aggregation groups of queue the way asynq's
// AddToGroup does: the task hash, the id in the group's sorted set, the
// group's name in the groups set. sizes maps a group to its task count.
func groupTasks(t testing.TB, rdb redis.UniversalClient, queue string, sizes map[string]int) {
	t.Helper()
	k := keysFor(queue)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for group, n := range sizes {
		for i := range n {
			id := fmt.Sprintf("%s-%d", group, i)
			pipe.HSet(ctx, k.taskPrefix+id, "msg", "x", "state", "aggregating", "group", group)
			pipe.ZAdd(ctx, k.groupPrefix+group, redis.Z{Score: float64(time.Now().Unix()), Member: id})
			pipe.SAdd(ctx, k.groups, group)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// seedQueues gives each of the queues pending tasks in asynq's layout: the
// queue at index i gets i%3 tasks (so every third queue is empty) when
// mixed, three otherwise. It returns the number of non-empty queues.
func seedQueues(t testing.TB, rdb redis.UniversalClient, queues []string, now time.Time, mixed bool) int {
	t.Helper()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	nonEmpty := 0
	for i, q := range queues {
		n := 3
		if mixed {
			n = i % 3
		}
		if n > 0 {
			nonEmpty++
		}
		k := keysFor(q)
		for j := range n {
			id := fmt.Sprintf("%s-%d", q, j)
			since := now.Add(-time.Duration(n-j) * time.Second).UnixNano()
			pipe.HSet(ctx, k.taskPrefix+id, "msg", "x", "state", "pending", pendingSinceField, strconv.FormatInt(since, 10))
			pipe.LPush(ctx, k.pending, id)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return nonEmpty
}

// queueNames returns n distinct queue names.
func queueNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return names
}

// readQueues is ReadStats for the tests of the queues alone.
func readQueues(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time, horizon time.Duration) (map[string]Stats, error) {
	r, err := ReadStats(ctx, rdb, queues, now, horizon)
	return r.Queues, err
}
