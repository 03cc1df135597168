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
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// now is a fixed clock reading with a fractional second, so that the
// truncation to whole seconds in ZCOUNT bounds is exercised.
var now = time.Unix(1_760_000_000, 500_000_000)

func TestReadStatsDueWithinHorizon(t *testing.T) {
	base := now.Unix()
	tests := []struct {
		name    string
		score   int64
		horizon time.Duration
		want    int64
	}{
		{name: "overdue, not forwarded yet", score: base - 60, horizon: 0, want: 1},
		{name: "due this second", score: base, horizon: 0, want: 1},
		{name: "due next second, no horizon", score: base + 1, horizon: 0, want: 0},
		{name: "due exactly at the horizon", score: base + 3600, horizon: time.Hour, want: 1},
		// now+59m59s is base+3599.5s, which truncates to base+3599.
		{name: "due just after the horizon", score: base + 3600, horizon: time.Hour - time.Second, want: 0},
		{name: "far future", score: base + 86400, horizon: time.Hour, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newReader(t)
			ctx := t.Context()
			k := keysFor("q")
			for _, key := range []string{k.scheduled, k.retry} {
				if err := rdb.ZAdd(ctx, key, redis.Z{Score: float64(tt.score), Member: "t1"}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readQueues(ctx, rdb, []string{"q"}, now, tt.horizon)
			if err != nil {
				t.Fatal(err)
			}
			if s := got["q"]; s.Scheduled != tt.want || s.Retry != tt.want {
				t.Errorf("scheduled, retry = %d, %d, want %d, %d", s.Scheduled, s.Retry, tt.want, tt.want)
			}
		})
	}
}

// TestReadStatsOldestDue: how long the earliest scheduled or retry task has
// been due, in whole seconds as asynq scores it, the larger of the two sets.
func TestReadStatsOldestDue(t *testing.T) {
	base := now.Unix()
	tests := []struct {
		name             string
		scheduled, retry []int64
		want             time.Duration
	}{
		{name: "no tasks", want: 0},
		{name: "due in the future", scheduled: []int64{base + 1}, retry: []int64{base + 60}, want: 0},
		{name: "due this second", scheduled: []int64{base}, want: 500 * time.Millisecond},
		{name: "a scheduled task a minute overdue", scheduled: []int64{base + 30, base - 60}, want: 60*time.Second + 500*time.Millisecond},
		{name: "a retry an hour overdue", scheduled: []int64{base - 60}, retry: []int64{base - 3600, base + 5},
			want: time.Hour + 500*time.Millisecond},
		{name: "a score from the epoch", retry: []int64{0}, want: now.Sub(time.Unix(0, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newReader(t)
			ctx := t.Context()
			k := keysFor("q")
			for key, scores := range map[string][]int64{k.scheduled: tt.scheduled, k.retry: tt.retry} {
				for i, score := range scores {
					if err := rdb.ZAdd(ctx, key, redis.Z{Score: float64(score), Member: fmt.Sprint("t", i)}).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := readQueues(ctx, rdb, []string{"q"}, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			if d := got["q"].OldestDueAge; d != tt.want {
				t.Errorf("OldestDueAge = %v, want %v", d, tt.want)
			}
		})
	}
}

func TestReadStatsOldestPending(t *testing.T) {
	ns := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixNano(), 10) }
	tests := []struct {
		name string
		// tasks are pushed in order, so the first is the oldest (the tail).
		tasks     []task
		dropHash  string
		wantN     int64
		wantAge   time.Duration
		wantKnown bool
	}{
		{name: "empty queue", wantKnown: true},
		{
			name:  "oldest is the tail, not the head",
			tasks: []task{{"a", ns(-90 * time.Second)}, {"b", ns(-10 * time.Second)}, {"c", ns(-time.Second)}},
			wantN: 3, wantAge: 90 * time.Second, wantKnown: true,
		},
		{
			// asynq's requeue RPUSHes to the tail and leaves no pending_since.
			name:  "tail requeued by a graceful shutdown",
			tasks: []task{{"requeued", ""}, {"b", ns(-10 * time.Second)}},
			wantN: 2, wantKnown: false,
		},
		{
			name:     "tail task hash gone",
			tasks:    []task{{"a", ns(-5 * time.Second)}},
			dropHash: "a",
			wantN:    1, wantKnown: false,
		},
		{
			name:  "enqueued by a host whose clock runs ahead",
			tasks: []task{{"a", ns(3 * time.Second)}},
			wantN: 1, wantAge: 0, wantKnown: true,
		},
		{
			name:  "malformed pending_since",
			tasks: []task{{"a", "yesterday"}},
			wantN: 1, wantKnown: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newReader(t)
			pushPending(t, rdb, "q", tt.tasks...)
			if tt.dropHash != "" {
				if err := rdb.Del(t.Context(), keysFor("q").taskPrefix+tt.dropHash).Err(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readQueues(t.Context(), rdb, []string{"q"}, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			s := got["q"]
			if s.Pending != tt.wantN || s.OldestPendingAge != tt.wantAge || s.OldestKnown != tt.wantKnown {
				t.Errorf("pending, age, known = %d, %v, %v, want %d, %v, %v",
					s.Pending, s.OldestPendingAge, s.OldestKnown, tt.wantN, tt.wantAge, tt.wantKnown)
			}
		})
	}
}

func TestReadStatsCountersAndFlags(t *testing.T) {
	rdb := newReader(t)
	ctx := t.Context()
	k := keysFor("q")
	pipe := rdb.Pipeline()
	pipe.LPush(ctx, k.active, "a1", "a2")
	pipe.ZAdd(ctx, k.lease, redis.Z{Score: float64(now.Unix() + 30), Member: "a1"},
		redis.Z{Score: float64(now.Unix() + 25), Member: "a2"})
	pipe.ZAdd(ctx, k.archived, redis.Z{Score: 1, Member: "d1"}, redis.Z{Score: 2, Member: "d2"}, redis.Z{Score: 3, Member: "d3"})
	pipe.Set(ctx, k.paused, now.Unix(), 0)
	// asynq's processed counter is not read: nothing scales on it, and its
	// value is whatever the queue's writers put there.
	pipe.Set(ctx, "asynq:{q}:processed", 1234, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := readQueues(ctx, rdb, []string{"q", "untouched"}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Stats{
		"q":         {Queue: "q", Active: 2, Archived: 3, Paused: true, OldestKnown: true},
		"untouched": {Queue: "untouched", OldestKnown: true},
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestReadStatsLeases: a task in the active list counts as active while
// its lease, scored by its expiry in whole Unix seconds, is not below the
// second of the read, and as orphaned once it is or when it has none; each
// task counts once, and orphans are in no other count.
func TestReadStatsLeases(t *testing.T) {
	sec := now.Unix()
	tests := []struct {
		name string
		// leases maps each task of the active list to its lease score;
		// a task without an entry has no lease.
		active       []string
		leases       map[string]int64
		wantActive   int64
		wantOrphaned int64
	}{
		{name: "nothing running"},
		{name: "a lease 30s ahead", active: []string{"a"}, leases: map[string]int64{"a": sec + 30}, wantActive: 1},
		{name: "a lease expiring this second", active: []string{"a"}, leases: map[string]int64{"a": sec}, wantActive: 1},
		{name: "a lease that expired the second before", active: []string{"a"}, leases: map[string]int64{"a": sec - 1},
			wantOrphaned: 1},
		{name: "a lease that expired an hour ago", active: []string{"a"}, leases: map[string]int64{"a": sec - 3600},
			wantOrphaned: 1},
		{name: "no lease", active: []string{"a"}, wantOrphaned: 1},
		{name: "mixed", active: []string{"a", "b", "c", "d"},
			leases:     map[string]int64{"a": sec + 20, "b": sec, "c": sec - 1},
			wantActive: 2, wantOrphaned: 2},
		// asynq removes a task from both in one script; a lease left
		// behind by hand is not a running task.
		{name: "a lease without a task", leases: map[string]int64{"gone": sec + 30}},
		{name: "more leases than tasks", active: []string{"a"}, leases: map[string]int64{"a": sec + 30, "gone": sec + 30},
			wantActive: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newReader(t)
			ctx := t.Context()
			k := keysFor("q")
			for _, id := range tt.active {
				if err := rdb.LPush(ctx, k.active, id).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for id, score := range tt.leases {
				if err := rdb.ZAdd(ctx, k.lease, redis.Z{Score: float64(score), Member: id}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readQueues(ctx, rdb, []string{"q"}, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := Stats{Queue: "q", Active: tt.wantActive, Orphaned: tt.wantOrphaned, OldestKnown: true}
			if got["q"] != want {
				t.Errorf("q = %+v, want %+v", got["q"], want)
			}
		})
	}
}

func TestReadStatsArguments(t *testing.T) {
	h := &counter{}
	rdb := newReader(t, h)
	ctx := t.Context()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.reset()

	got, err := readQueues(ctx, rdb, nil, now, 0)
	if err != nil || len(got) != 0 {
		t.Errorf("no queues: got %v, %v, want an empty map", got, err)
	}
	if n := h.pipelines.Load() + h.singles.Load(); n != 0 {
		t.Errorf("no queues sent %d requests, want 0", n)
	}

	got, err = readQueues(ctx, rdb, []string{"a", "b", "a", "b", "a"}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"a", "b"}) {
		t.Errorf("queues read = %v, want [a b]", keys)
	}
	if c := h.commands.Load(); c != commandsFor(2) {
		t.Errorf("sent %d commands for 2 distinct queues, want %d", c, commandsFor(2))
	}

	for _, tt := range []struct {
		name    string
		queues  []string
		horizon time.Duration
	}{
		{name: "blank queue name", queues: []string{"a", " "}},
		{name: "empty queue name", queues: []string{""}},
		{name: "negative horizon", queues: []string{"a"}, horizon: -time.Second},
	} {
		if _, err := readQueues(ctx, rdb, tt.queues, now, tt.horizon); err == nil {
			t.Errorf("%s: got no error", tt.name)
		}
	}
}

// TestReadStatsRoundTrips pins the cost of one tick: one pipeline whatever
// the number of queues and whatever they hold, no single commands.
func TestReadStatsRoundTrips(t *testing.T) {
	for _, n := range []int{1, 10, 100, 1000} {
		for _, mixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("queues=%d/mixed=%v", n, mixed), func(t *testing.T) {
				h := &counter{}
				rdb := newReader(t, h)
				ctx := t.Context()
				queues := queueNames("rt", n)
				nonEmpty := seedQueues(t, rdb, queues, now, mixed)
				// The connection handshake goes through the hooks too; it is
				// paid once per connection, not per tick.
				if err := rdb.Ping(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				h.reset()

				got, err := readQueues(ctx, rdb, queues, now, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if p := h.pipelines.Load(); p != 1 {
					t.Errorf("round trips = %d, want 1", p)
				}
				if s := h.singles.Load(); s != 0 {
					t.Errorf("single commands = %d, want 0", s)
				}
				if d := h.dials.Load(); d != 0 {
					t.Errorf("dials = %d, want 0 on a warm client", d)
				}
				if c, want := h.commands.Load(), commandsFor(n); c != want {
					t.Errorf("commands = %d, want %d", c, want)
				}
				var pending int64
				withPending := 0
				for _, q := range queues {
					s := got[q]
					pending += s.Pending
					if s.Pending > 0 {
						withPending++
					}
					if !s.OldestKnown {
						t.Errorf("queue %s: oldest age unknown", q)
					}
				}
				if withPending != nonEmpty {
					t.Errorf("%d queues with pending tasks, want %d", withPending, nonEmpty)
				}
				if want := int64(3 * n); !mixed && pending != want {
					t.Errorf("pending total = %d, want %d", pending, want)
				}
			})
		}
	}
}

// TestReadStatsCommandsPerTick reads the server's own count of the
// commands one tick runs (INFO commandstats after CONFIG RESETSTAT) and logs
// it; run with -v to see the table.
func TestReadStatsCommandsPerTick(t *testing.T) {
	const n = 100
	rdb := newReader(t)
	ctx := t.Context()
	queues := queueNames("cs", n)
	nonEmpty := seedQueues(t, rdb, queues, now, true)

	admin := redis.NewClient(&redis.Options{Addr: redisServer.Addr, Protocol: 2})
	defer func() { _ = admin.Close() }()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := readQueues(ctx, rdb, queues, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := commandStats(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	// The admin connection's own commands are not part of the tick.
	delete(got, "config|resetstat")
	delete(got, "info")

	// Redis counts the commands a script runs as well as the script. No
	// asynq server runs: the servers script counts them (ZCOUNT) and stops.
	// The seeded queues hold pending tasks or nothing at all: an empty one
	// costs one EXISTS, the others two more (the keys of work, and paused)
	// and their whole read.
	want := map[string]int64{
		"llen":    2 * int64(nonEmpty),
		"zcount":  2*int64(nonEmpty) + 1,
		"zcard":   int64(nonEmpty),
		"exists":  n + 2*int64(nonEmpty),
		"evalsha": commandsFor(n),
		"lindex":  int64(nonEmpty),
		"hstrlen": int64(nonEmpty),
		"hget":    int64(nonEmpty),
		"zrange":  2 * int64(nonEmpty),
		"scard":   int64(nonEmpty),
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(got)) {
		fmt.Fprintf(&b, "\n  %-8s %5d", name, got[name])
	}
	t.Logf("server-side commands for one tick over %d queues (%d with pending tasks):%s", n, nonEmpty, b.String())
	if !maps.Equal(got, want) {
		t.Errorf("commandstats = %v, want %v", got, want)
	}
}

// commandStats returns the calls per command from INFO commandstats.
func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(info) {
		// cmdstat_llen:calls=200,usec=...,usec_per_call=...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[name] = n
	}
	return out, nil
}

func TestReadStatsServerDown(t *testing.T) {
	rdb := newReader(t)
	ctx := t.Context()
	pushPending(t, rdb, "q", task{"a", strconv.FormatInt(now.UnixNano(), 10)})
	if _, err := readQueues(ctx, rdb, []string{"q"}, now, 0); err != nil {
		t.Fatal(err)
	}

	if err := redisServer.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = redisServer.Restart()
		}
	})
	if got, err := readQueues(ctx, rdb, []string{"q"}, now, 0); err == nil {
		t.Fatalf("server down: got %v and no error", got)
	} else {
		t.Logf("server down: %v", err)
	}

	if err := redisServer.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	// The restarted server has no data; a new task shows the reader is back.
	pushPending(t, rdb, "q", task{"b", strconv.FormatInt(now.UnixNano(), 10)})
	got, err := readQueues(ctx, rdb, []string{"q"}, now, 0)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got["q"].Pending != 1 {
		t.Errorf("after restart: pending = %d, want 1", got["q"].Pending)
	}
}

// TestReadStatsQueueError: an error reply on one queue's keys fails that
// queue alone, in either pipeline, and the other queues read as usual.
func TestReadStatsQueueError(t *testing.T) {
	since := strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10)
	tests := []struct {
		name   string
		poison func(t *testing.T, rdb redis.UniversalClient)
	}{
		{"a string where the pending list belongs", func(t *testing.T, rdb redis.UniversalClient) {
			if err := rdb.Set(t.Context(), keysFor("bad").pending, "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a list where the scheduled set belongs", func(t *testing.T, rdb redis.UniversalClient) {
			if err := rdb.RPush(t.Context(), keysFor("bad").scheduled, "x").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a list where the groups set belongs", func(t *testing.T, rdb redis.UniversalClient) {
			if err := rdb.RPush(t.Context(), keysFor("bad").groups, "x").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a string where a group's sorted set belongs", func(t *testing.T, rdb redis.UniversalClient) {
			k := keysFor("bad")
			if err := rdb.SAdd(t.Context(), k.groups, "g").Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(t.Context(), k.groupPrefix+"g", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a string where the oldest task's hash belongs", func(t *testing.T, rdb redis.UniversalClient) {
			k := keysFor("bad")
			if err := rdb.LPush(t.Context(), k.pending, "t1").Err(); err != nil {
				t.Fatal(err)
			}
			if err := rdb.Set(t.Context(), k.taskPrefix+"t1", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newReader(t)
			pushPending(t, rdb, "good", task{"g1", since}, task{"g2", since})
			tt.poison(t, rdb)
			got, err := readQueues(t.Context(), rdb, []string{"good", "bad", "empty"}, now, 0)
			if err != nil {
				t.Fatalf("the read failed as a whole: %v", err)
			}
			if g := got["good"]; g.Err != nil || g.Pending != 2 || g.OldestPendingAge != time.Minute {
				t.Errorf("good = %+v, want 2 pending a minute old and no error", g)
			}
			if e := got["empty"]; e != (Stats{Queue: "empty", OldestKnown: true}) {
				t.Errorf("empty = %+v", e)
			}
			b := got["bad"]
			if b.Err == nil || !strings.Contains(b.Err.Error(), "WRONGTYPE") || !strings.Contains(b.Err.Error(), `"bad"`) {
				t.Fatalf("bad = %+v, want a WRONGTYPE error naming the queue", b)
			}
			if b != (Stats{Queue: "bad", Err: b.Err}) {
				t.Errorf("bad = %+v, want nothing but the error", b)
			}
		})
	}
}

// TestReadStatsWholeError: a failure of the connection fails the read as a
// whole and names no queue, since it concerns them all.
func TestReadStatsWholeError(t *testing.T) {
	ep := standalone()
	ep.Addr = "127.0.0.1:1"
	rdb, err := NewUniversalClient(ep, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	got, err := readQueues(t.Context(), rdb, []string{"a", "b"}, now, 0)
	if err == nil {
		t.Fatalf("got %v and no error", got)
	}
	if strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), `"b"`) {
		t.Errorf("error %q names a queue", err)
	}
}

// TestReadStatsTenantSizedValues: the values a queue's writers choose (the
// tail id, its pending_since, the members of the scheduled and retry sets,
// asynq's processed counter) never reach the reader, however large they
// are: the reply stays a few hundred bytes, the queue read in the same
// pipeline is unaffected, and a tail id or pending_since is taken only up
// to its bound.
func TestReadStatsTenantSizedValues(t *testing.T) {
	const big = 32 << 20
	ctx := t.Context()
	minuteAgo := strconv.FormatInt(now.Add(-time.Minute).UnixNano(), 10)
	longestID := strings.Repeat("i", maxTaskIDLen)
	k := keysFor("q")
	tests := []struct {
		name string
		seed func(t *testing.T, rdb redis.UniversalClient) error
		want Stats
	}{
		{name: "a tail id of 32 MB",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				return rdb.RPush(ctx, k.pending, strings.Repeat("x", big)).Err()
			},
			want: Stats{Pending: 1}},
		{name: "a tail id one byte over the bound",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				pushPending(t, rdb, "q", task{longestID + "i", minuteAgo})
				return nil
			},
			want: Stats{Pending: 1}},
		{name: "a tail id at the bound",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				pushPending(t, rdb, "q", task{longestID, minuteAgo})
				return nil
			},
			want: Stats{Pending: 1, Tail: longestID, OldestPendingAge: time.Minute, OldestKnown: true}},
		{name: "a pending_since of 32 MB",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				pushPending(t, rdb, "q", task{"t1", strings.Repeat("9", big)})
				return nil
			},
			want: Stats{Pending: 1, Tail: "t1"}},
		{name: "a pending_since at the bound",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				pushPending(t, rdb, "q", task{"t1", "0" + minuteAgo})
				return nil
			},
			want: Stats{Pending: 1, Tail: "t1", OldestPendingAge: time.Minute, OldestKnown: true}},
		{name: "a pending_since one byte over the bound",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				pushPending(t, rdb, "q", task{"t1", "00" + minuteAgo})
				return nil
			},
			want: Stats{Pending: 1, Tail: "t1"}},
		{name: "scheduled and retry members of 32 MB",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				if err := rdb.ZAdd(ctx, k.scheduled, redis.Z{Score: float64(now.Unix() - 60), Member: strings.Repeat("s", big)}).Err(); err != nil {
					return err
				}
				return rdb.ZAdd(ctx, k.retry, redis.Z{Score: float64(now.Unix() - 3600), Member: strings.Repeat("r", big)}).Err()
			},
			want: Stats{Scheduled: 1, Retry: 1, OldestDueAge: time.Hour + 500*time.Millisecond, OldestKnown: true}},
		{name: "a group name of 32 MB",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				groupTasks(t, rdb, "q", map[string]int{strings.Repeat("g", big): 1, "small": 2})
				return nil
			},
			want: Stats{Aggregating: 3, OldestKnown: true}},
		{name: "a processed counter of 32 MB",
			seed: func(t *testing.T, rdb redis.UniversalClient) error {
				return rdb.Set(ctx, "asynq:{q}:processed", strings.Repeat("9", big), 0).Err()
			},
			want: Stats{OldestKnown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &counter{}
			rdb := newReader(t, h)
			pushPending(t, rdb, "good", task{"g1", minuteAgo})
			// The reader's 2 s timeouts are for reads; writing 32 MB on a
			// busy machine may take longer, so the seed has a client of
			// its own.
			seeder := redis.NewClient(&redis.Options{Addr: redisServer.Addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
			defer func() { _ = seeder.Close() }()
			if err := tt.seed(t, seeder); err != nil {
				t.Fatal(err)
			}
			h.reset()
			got, err := readQueues(ctx, rdb, []string{"q", "good"}, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n := h.received.Load(); n > 4<<10 {
				t.Errorf("the read received %d bytes, want at most 4 KiB", n)
			}
			want := tt.want
			want.Queue = "q"
			if got["q"] != want {
				t.Errorf("q = %+v, want %+v", got["q"], want)
			}
			good := Stats{Queue: "good", Pending: 1, Tail: "g1", OldestPendingAge: time.Minute, OldestKnown: true}
			if got["good"] != good {
				t.Errorf("good = %+v, want %+v", got["good"], good)
			}
		})
	}
}

// TestReadStatsNoScript: a Redis without the scripts (restarted, failed
// over, SCRIPT FLUSH) costs one more round trip, which sends them with
// EVAL for the queues and the servers' read that need them; the next read
// is back to one round trip.
func TestReadStatsNoScript(t *testing.T) {
	h := &counter{}
	rdb := newReader(t, h)
	ctx := t.Context()
	const n = 10
	queues := queueNames("noscript", n)
	nonEmpty := seedQueues(t, rdb, queues, now, true)
	// A queue whose keys Redis refuses fails alone, inside the script: it
	// is not sent again.
	if err := rdb.Set(ctx, keysFor("bad").pending, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(queues), "bad")
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.reset()

	for i, want := range []struct{ pipelines, commands int64 }{
		{pipelines: 2, commands: 2 * commandsFor(n+1)},
		{pipelines: 1, commands: commandsFor(n + 1)},
	} {
		got, err := readQueues(ctx, rdb, all, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if p, c := h.pipelines.Load(), h.commands.Load(); p != want.pipelines || c != want.commands {
			t.Errorf("read %d: %d round trips, %d commands, want %d, %d", i, p, c, want.pipelines, want.commands)
		}
		withPending := 0
		for _, q := range queues {
			s := got[q]
			if s.Err != nil || !s.OldestKnown {
				t.Errorf("read %d: queue %s: %+v", i, q, s)
			}
			if s.Pending > 0 {
				withPending++
			}
		}
		if withPending != nonEmpty {
			t.Errorf("read %d: %d queues with pending tasks, want %d", i, withPending, nonEmpty)
		}
		if err := got["bad"].Err; err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
			t.Errorf("read %d: bad = %+v, want WRONGTYPE", i, got["bad"])
		}
		h.reset()
	}
}

// TestReadStatsAggregatingBound: the tasks of every group count up to
// maxGroups groups; beyond, those of maxGroups groups do, so the work per
// queue stays bounded however many groups a tenant makes.
func TestReadStatsAggregatingBound(t *testing.T) {
	for _, tt := range []struct {
		groups int
		want   int64
	}{
		{groups: 1, want: 2},
		{groups: maxGroups, want: 2 * maxGroups},
		{groups: maxGroups + 1, want: 2 * maxGroups},
		{groups: 3 * maxGroups, want: 2 * maxGroups},
	} {
		t.Run(fmt.Sprintf("groups=%d", tt.groups), func(t *testing.T) {
			rdb := newReader(t)
			sizes := map[string]int{}
			for i := range tt.groups {
				sizes[fmt.Sprint("g", i)] = 2
			}
			groupTasks(t, rdb, "q", sizes)
			got, err := readQueues(t.Context(), rdb, []string{"q"}, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s := got["q"]; s.Err != nil || s.Aggregating != tt.want {
				t.Errorf("q = %+v, want %d aggregating", s, tt.want)
			}
		})
	}
}
