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

// These tests pin the key layout against asynq itself: tasks go in through
// asynq's Client, Inspector and Server, and come out through ReadStats.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func newAsynqClient(t *testing.T) *asynq.Client {
	t.Helper()
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func enqueue(t *testing.T, c *asynq.Client, queue, typ string, opts ...asynq.Option) *asynq.TaskInfo {
	t.Helper()
	info, err := c.Enqueue(asynq.NewTask(typ, nil), append([]asynq.Option{asynq.Queue(queue)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// startServer runs an asynq server on queue with handler and returns it;
// the test shuts it down, or cleanup does.
func startServer(t *testing.T, queue string, concurrency int, handler asynq.HandlerFunc, cfg asynq.Config) *asynq.Server {
	t.Helper()
	cfg.Concurrency = concurrency
	cfg.Queues = map[string]int{queue: 1}
	cfg.TaskCheckInterval = 50 * time.Millisecond
	cfg.DelayedTaskCheckInterval = 100 * time.Millisecond
	cfg.LogLevel = asynq.FatalLevel
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: redisServer.Addr}, cfg)
	if err := srv.Start(handler); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func TestReadStatsAsynqPendingScheduledPaused(t *testing.T) {
	rdb := newReader(t)
	client := newAsynqClient(t)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = inspector.Close() })

	beforeFirst := time.Now()
	enqueue(t, client, "critical", "a")
	afterFirst := time.Now()
	// A gap, so the age of the newest task could not pass for the oldest.
	time.Sleep(50 * time.Millisecond)
	enqueue(t, client, "critical", "b")
	enqueue(t, client, "critical", "c")
	enqueue(t, client, "critical", "in10m", asynq.ProcessIn(10*time.Minute))
	enqueue(t, client, "critical", "in20m", asynq.ProcessIn(20*time.Minute))
	enqueue(t, client, "critical", "in3h", asynq.ProcessIn(3*time.Hour))
	enqueue(t, client, "low", "a")
	if err := inspector.PauseQueue("low"); err != nil {
		t.Fatal(err)
	}

	queues := []string{"critical", "low", "never-used"}
	for _, tt := range []struct {
		horizon       time.Duration
		wantScheduled int64
	}{
		{horizon: 0, wantScheduled: 0},
		{horizon: time.Hour, wantScheduled: 2},
		{horizon: 4 * time.Hour, wantScheduled: 3},
	} {
		readAt := time.Now()
		got, err := readQueues(t.Context(), rdb, queues, readAt, tt.horizon)
		if err != nil {
			t.Fatal(err)
		}
		c := got["critical"]
		if c.Pending != 3 || c.Scheduled != tt.wantScheduled || c.Active != 0 || c.Paused {
			t.Errorf("horizon %v: critical = %+v, want 3 pending, %d scheduled, not paused", tt.horizon, c, tt.wantScheduled)
		}
		// asynq stamps pending_since with its own clock; the oldest task's
		// age must lie between the reads of ours around its enqueue.
		minAge, maxAge := readAt.Sub(afterFirst), readAt.Sub(beforeFirst)
		if !c.OldestKnown || c.OldestPendingAge < minAge || c.OldestPendingAge > maxAge {
			t.Errorf("critical: oldest age %v (known %v), want within [%v, %v]", c.OldestPendingAge, c.OldestKnown, minAge, maxAge)
		}
		if l := got["low"]; l.Pending != 1 || !l.Paused {
			t.Errorf("low = %+v, want 1 pending and paused", l)
		}
		if n := got["never-used"]; n != (Stats{Queue: "never-used", OldestKnown: true}) {
			t.Errorf("never-used = %+v, want zero and known", n)
		}
	}
}

// TestReadStatsAsynqActiveAndRequeued runs a worker that holds its task
// until a graceful shutdown gives up on it: asynq then puts the task back
// at the tail of pending without pending_since.
func TestReadStatsAsynqActiveAndRequeued(t *testing.T) {
	rdb := newReader(t)
	client := newAsynqClient(t)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = inspector.Close() })

	started := make(chan string, 1)
	srv := startServer(t, "video", 1, func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		started <- id
		<-ctx.Done()
		return ctx.Err()
	}, asynq.Config{ShutdownTimeout: 200 * time.Millisecond})

	held := enqueue(t, client, "video", "encode")
	select {
	case id := <-started:
		if id != held.ID {
			t.Fatalf("worker took %s, want %s", id, held.ID)
		}
	case <-time.After(waitFor):
		t.Fatal("worker did not start the task")
	}
	// With concurrency 1 and the worker busy, this one stays pending.
	enqueue(t, client, "video", "encode")

	got, err := readQueues(t.Context(), rdb, []string{"video"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := got["video"]; v.Active != 1 || v.Pending != 1 || !v.OldestKnown {
		t.Errorf("while running: %+v, want 1 active, 1 pending, known age", v)
	}

	srv.Shutdown()
	info, err := inspector.GetTaskInfo("video", held.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending {
		t.Fatalf("after shutdown the held task is %v, want pending", info.State)
	}
	tail, err := rdb.LIndex(t.Context(), keysFor("video").pending, -1).Result()
	if err != nil || tail != held.ID {
		t.Fatalf("tail of pending = %q, %v, want the requeued task %s", tail, err, held.ID)
	}
	if err := rdb.HGet(t.Context(), keysFor("video").taskPrefix+held.ID, pendingSinceField).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("requeued task's pending_since: got err %v, want it absent", err)
	}

	first := time.Now()
	got, err = readQueues(t.Context(), rdb, []string{"video"}, first, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := got["video"]; v.Active != 0 || v.Pending != 2 || v.OldestKnown || v.OldestPendingAge != 0 {
		t.Errorf("after shutdown: %+v, want 0 active, 2 pending, unknown age", v)
	}

	// The reader's own sightings give the requeued task an age: at least
	// the time since it first saw the task at the tail.
	seen, v := Sighting{}.Bound(got["video"], first)
	if v.OldestKnown {
		t.Errorf("first sighting of the requeued task: %+v, want an unknown age", v)
	}
	later := first.Add(30 * time.Second)
	got, err = readQueues(t.Context(), rdb, []string{"video"}, later, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, v = seen.Bound(got["video"], later); !v.OldestKnown || v.OldestPendingAge != 30*time.Second {
		t.Errorf("the requeued task seen at the tail for 30s: %+v, want a known age of 30s", v)
	}
}

// TestReadStatsAsynqRetryArchived lets a worker finish, retry and archive
// tasks, and checks the sets.
func TestReadStatsAsynqRetryArchived(t *testing.T) {
	rdb := newReader(t)
	client := newAsynqClient(t)
	srv := startServer(t, "billing", 2, func(ctx context.Context, task *asynq.Task) error {
		if task.Type() == "fail" {
			return errors.New("card declined")
		}
		return nil
	}, asynq.Config{
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
	})

	enqueue(t, client, "billing", "ok")
	enqueue(t, client, "billing", "ok")
	enqueue(t, client, "billing", "fail", asynq.MaxRetry(1))
	enqueue(t, client, "billing", "fail", asynq.MaxRetry(0))

	var b Stats
	deadline := time.Now().Add(waitFor)
	for {
		got, err := readQueues(t.Context(), rdb, []string{"billing"}, time.Now(), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		b = got["billing"]
		if b.Pending == 0 && b.Active == 0 && b.Retry == 1 && b.Archived == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("billing = %+v, want nothing pending or active, 1 retry, 1 archived", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Shutdown()

	// The retry is due in an hour: outside a zero horizon.
	got, err := readQueues(t.Context(), rdb, []string{"billing"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := got["billing"].Retry; r != 0 {
		t.Errorf("retry due now = %d, want 0", r)
	}
}

// TestReadStatsAsynqGrouped pins the layout of aggregation groups: tasks
// enqueued with asynq.Group and no server to aggregate them count as
// asynq's Inspector counts them, and once a server's aggregator has turned
// them into one task they no longer do.
func TestReadStatsAsynqGrouped(t *testing.T) {
	rdb := newReader(t)
	client := newAsynqClient(t)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = inspector.Close() })
	for range 7 {
		enqueue(t, client, "digest", "item", asynq.Group("daily"))
	}
	for range 3 {
		enqueue(t, client, "digest", "item", asynq.Group("weekly"))
	}
	enqueue(t, client, "digest", "plain")

	info, err := inspector.GetQueueInfo("digest")
	if err != nil || info.Aggregating != 10 || info.Groups != 2 {
		t.Fatalf("asynq's inspector: %+v, %v, want 10 aggregating tasks in 2 groups", info, err)
	}
	got, err := readQueues(t.Context(), rdb, []string{"digest"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := got["digest"]; d.Err != nil || d.Aggregating != 10 || d.Pending != 1 {
		t.Fatalf("digest = %+v, want 10 aggregating, 1 pending", d)
	}

	// An aggregator with a one-second grace period combines each group.
	done := make(chan string, 4)
	startServer(t, "digest", 2, func(_ context.Context, task *asynq.Task) error {
		done <- task.Type()
		return nil
	}, asynq.Config{
		GroupGracePeriod: time.Second,
		GroupAggregator: asynq.GroupAggregatorFunc(func(group string, tasks []*asynq.Task) *asynq.Task {
			return asynq.NewTask("batch", []byte(group))
		}),
	})
	deadline := time.Now().Add(waitFor)
	for {
		got, err := readQueues(t.Context(), rdb, []string{"digest"}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		d := got["digest"]
		if d.Aggregating == 0 && d.Pending == 0 && d.Active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("digest = %+v, want the groups aggregated and every task done", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	batches := 0
	for len(done) > 0 {
		if <-done == "batch" {
			batches++
		}
	}
	if batches != 2 {
		t.Errorf("%d aggregated tasks ran, want 2", batches)
	}
}

// TestReadStatsAsynqOrphans kills an asynq server that holds two tasks, as
// a node kills a pod: no shutdown, no requeue. Its tasks stay in the active
// list with leases nobody extends. Until the leases expire they read as
// active; after, as orphaned, each once, and in no other count. A live
// server's recoverer then takes them back into retry.
func TestReadStatsAsynqOrphans(t *testing.T) {
	const q = "crash"
	rdb := newReader(t)
	client := newAsynqClient(t)
	for range 3 {
		enqueue(t, client, q, "hold")
	}
	worker := startWorkerProcess(t, q, 2)

	var s Stats
	deadline := time.Now().Add(waitFor)
	for {
		got, err := readQueues(t.Context(), rdb, []string{q}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if s = got[q]; s.Active == 2 && s.Pending == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker process did not take 2 tasks: %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.Orphaned != 0 {
		t.Errorf("while the worker runs: %+v, want nothing orphaned", s)
	}
	// The process's heartbeat shows its two tasks within 5s.
	for {
		r, err := ReadStats(t.Context(), rdb, []string{q}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if l := r.Servers.List; len(l) == 1 && l[0].PID == worker.Process.Pid && l[0].Running == 2 && l[0].Timed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers: %v\n%s\nwant the worker process, pid %d, running 2", r.Servers.Err, describe(r.Servers.List), worker.Process.Pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	killProcess(t, worker)
	killed := time.Now()

	// The leases were extended at most 5s before the kill, to 30s ahead.
	for _, tt := range []struct {
		after                    time.Duration
		wantActive, wantOrphaned int64
	}{
		{after: 0, wantActive: 2},
		{after: 20 * time.Second, wantActive: 2},
		{after: 31 * time.Second, wantOrphaned: 2},
		{after: time.Hour, wantOrphaned: 2},
	} {
		r, err := ReadStats(t.Context(), rdb, []string{q}, killed.Add(tt.after), 0)
		if err != nil {
			t.Fatal(err)
		}
		s := r.Queues[q]
		if s.Active != tt.wantActive || s.Orphaned != tt.wantOrphaned || s.Pending != 1 || s.Retry != 0 || s.Err != nil {
			t.Errorf("%v after the kill: %+v, want %d active, %d orphaned, 1 pending", tt.after, s, tt.wantActive, tt.wantOrphaned)
		}
		// The heartbeat, written every 5s for 10s, expires before the
		// leases, written every 5s for 30s.
		if alive := tt.after < 5*time.Second; r.Servers.Err != nil || (len(r.Servers.List) == 1) != alive || r.Servers.Live > 1 {
			t.Errorf("%v after the kill: servers %v\n%s\nwant the dead one listed: %v", tt.after, r.Servers.Err, describe(r.Servers.List), alive)
		}
	}

	// asynq's recoverer takes back the tasks whose lease expired at least
	// 30s before it runs, at the start of a server and every minute. Age
	// the leases by a minute instead of waiting for it.
	k := keysFor(q)
	ids, err := rdb.LRange(t.Context(), k.active, 0, -1).Result()
	if err != nil || len(ids) != 2 {
		t.Fatalf("active list: %v, %v", ids, err)
	}
	for _, id := range ids {
		if err := rdb.ZAddXX(t.Context(), k.lease, redis.Z{Score: float64(time.Now().Add(-time.Minute).Unix()), Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	startServer(t, q, 1, func(context.Context, *asynq.Task) error { return nil }, asynq.Config{
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
	})
	deadline = time.Now().Add(waitFor)
	for {
		got, err := readQueues(t.Context(), rdb, []string{q}, time.Now(), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if s = got[q]; s.Active == 0 && s.Orphaned == 0 && s.Pending == 0 && s.Retry == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a live server's recoverer ran: %+v, want the 2 orphans in retry and nothing else", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadStatsAsynqServers pins the heartbeat layout against asynq's own
// servers: two in this process, so with this host and pid and their own
// ids, one busy and one idle. The busy one's tasks show with their start
// times once its heartbeat (every 5s) has written them, a payload too
// large to decode among them; a server that shuts down is gone at once.
func TestReadStatsAsynqServers(t *testing.T) {
	h := &counter{}
	rdb := newReader(t, h)
	client := newAsynqClient(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 3)
	hold := func(ctx context.Context, _ *asynq.Task) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	busy := startServer(t, "busy", 3, hold, asynq.Config{ShutdownTimeout: 200 * time.Millisecond})
	idle := startServer(t, "idle", 1, hold, asynq.Config{ShutdownTimeout: 200 * time.Millisecond})

	// Each task's start lies between its enqueue and its handler's call.
	var bounds [3][2]time.Time
	for i, payload := range [][]byte{[]byte("small"), []byte("also small"), make([]byte, 2<<20)} {
		bounds[i][0] = time.Now()
		if _, err := client.Enqueue(asynq.NewTask("hold", payload), asynq.Queue("busy")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(waitFor):
			t.Fatal("the busy server did not start the task")
		}
		bounds[i][1] = time.Now()
		time.Sleep(20 * time.Millisecond)
	}

	var got Servers
	deadline := time.Now().Add(waitFor)
	for {
		h.reset()
		r, err := ReadStats(t.Context(), rdb, []string{"busy"}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		got = r.Servers
		if got.Err == nil && len(got.List) == 2 && slices.ContainsFunc(got.List, func(s Server) bool { return s.Running == 3 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers: %v\n%s\nwant two, one running 3 tasks", got.Err, describe(got.List))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := h.received.Load(); n == 0 || n > 4<<10 {
		t.Errorf("the read received %d bytes with a 2 MB payload running, want at most 4 KiB", n)
	}

	// asynq's Inspector knows the servers by the same ids.
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = inspector.Close() })
	infos, err := inspector.Servers()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{}
	for _, info := range infos {
		for q := range info.Queues {
			ids[q] = append(ids[q], info.ID)
		}
	}
	if got.Live != 2 || len(ids["busy"]) != 1 || len(ids["idle"]) != 1 {
		t.Fatalf("live %d, inspector's servers by queue %v; want one server per queue", got.Live, ids)
	}
	for _, s := range got.List {
		if s.Host != host || s.PID != os.Getpid() || !s.Expires.After(time.Now()) || s.Status != StatusActive {
			t.Errorf("server %+v, want host %s, pid %d, a heartbeat that has not expired, status active", s, host, os.Getpid())
		}
		switch s.ID {
		case ids["busy"][0]:
			// The 2 MB payload is counted, not decoded.
			if s.Running != 3 || s.Timed != 2 {
				t.Errorf("busy server: %d running, %d timed; want 3, 2", s.Running, s.Timed)
			}
			if s.OldestStart.Before(bounds[0][0]) || s.OldestStart.After(bounds[0][1]) {
				t.Errorf("oldest start %v, want within [%v, %v]", s.OldestStart, bounds[0][0], bounds[0][1])
			}
			if s.YoungestStart.Before(bounds[1][0]) || s.YoungestStart.After(bounds[1][1]) {
				t.Errorf("youngest start %v, want within [%v, %v]", s.YoungestStart, bounds[1][0], bounds[1][1])
			}
		case ids["idle"][0]:
			if s.Running != 0 || s.Timed != 0 || !s.YoungestStart.IsZero() || !s.OldestStart.IsZero() {
				t.Errorf("idle server: %+v, want nothing running", s)
			}
		default:
			t.Errorf("server %+v is none of asynq's", s)
		}
	}

	// Stop, what a draining worker calls, shows from the next heartbeat
	// on; the tasks it runs go on.
	busy.Stop()
	deadline = time.Now().Add(waitFor)
	for {
		r, err := ReadStats(t.Context(), rdb, []string{"busy"}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(r.Servers.List, func(s Server) bool { return s.ID == ids["busy"][0] })
		if i >= 0 && r.Servers.List[i].Status == StatusStopped {
			if s := r.Servers.List[i]; s.Running != 3 {
				t.Errorf("stopped server: %+v, want its 3 tasks still running", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers: %v\n%s\nwant the busy one stopped", r.Servers.Err, describe(r.Servers.List))
		}
		time.Sleep(100 * time.Millisecond)
	}

	idle.Shutdown()
	r, err := ReadStats(t.Context(), rdb, []string{"busy"}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Servers; s.Err != nil || s.Live != 1 || len(s.List) != 1 || s.List[0].ID != ids["busy"][0] {
		t.Errorf("after the idle server's shutdown: %v\n%s\nwant the busy one alone", s.Err, describe(s.List))
	}
}

// TestReadStatsAsynqFinishedTaskNotRunning: asynq rewrites a server's
// workers hash at its heartbeat only, every 5s, so the hash still lists a
// task for up to 5s after it finished. The read must not count it: a
// scale-down ranks pods by their running tasks right after a burst ends,
// when many tasks have just finished.
func TestReadStatsAsynqFinishedTaskNotRunning(t *testing.T) {
	rdb := newReader(t)
	client := newAsynqClient(t)
	release := make(chan struct{})
	hold := func(ctx context.Context, _ *asynq.Task) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	startServer(t, "finished", 1, hold, asynq.Config{ShutdownTimeout: 200 * time.Millisecond})

	read := func() Server {
		t.Helper()
		r, err := ReadStats(t.Context(), rdb, []string{"finished"}, time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Servers.Err != nil || len(r.Servers.List) != 1 {
			t.Fatalf("servers: %v\n%s\nwant one", r.Servers.Err, describe(r.Servers.List))
		}
		return r.Servers.List[0]
	}
	// A heartbeat may fall between the task's end and the read; try again
	// until the read lands in the window where the hash is stale.
	for attempt := 1; ; attempt++ {
		info, err := client.Enqueue(asynq.NewTask("hold", nil), asynq.Queue("finished"))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitFor)
		var srv Server
		for srv = read(); srv.Running != 1; srv = read() {
			if time.Now().After(deadline) {
				t.Fatalf("the heartbeat never showed the running task: %+v", srv)
			}
			time.Sleep(100 * time.Millisecond)
		}
		release <- struct{}{}
		lease := "asynq:{finished}:lease"
		for {
			if err := rdb.ZScore(t.Context(), lease, info.ID).Err(); errors.Is(err, redis.Nil) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the finished task kept its lease")
			}
			time.Sleep(5 * time.Millisecond)
		}
		wkey := workersKeyPrefix + fmt.Sprintf("{%s:%d:%s}", srv.Host, srv.PID, srv.ID)
		listed, err := rdb.HExists(t.Context(), wkey, info.ID).Result()
		if err != nil {
			t.Fatal(err)
		}
		got := read()
		stillListed, err := rdb.HExists(t.Context(), wkey, info.ID).Result()
		if err != nil {
			t.Fatal(err)
		}
		if listed && stillListed {
			if got.Running != 0 || got.Timed != 0 {
				t.Errorf("a finished task still listed by the heartbeat counts as running: %+v", got)
			}
			return
		}
		if attempt == 5 {
			t.Fatal("a heartbeat fell between each task's end and the read five times")
		}
	}
}
