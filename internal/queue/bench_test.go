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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// BenchmarkReadStats reads 1 to 1000 queues from a real redis-server. Each
// queue holds three pending tasks and one scheduled task, enqueued through
// asynq's Client. round-trips/op counts pipelines sent; commands/op counts
// the commands in them.
//
//	go test -run='^$' -bench=ReadStats -benchtime=200x ./internal/queue/
func BenchmarkReadStats(b *testing.B) {
	const most = 1000
	h := &counter{}
	rdb := newReader(b, h)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: redisServer.Addr})
	b.Cleanup(func() { _ = client.Close() })
	queues := queueNames("bench", most)
	for _, q := range queues {
		for _, opt := range []asynq.Option{nil, nil, nil, asynq.ProcessIn(time.Hour)} {
			opts := []asynq.Option{asynq.Queue(q)}
			if opt != nil {
				opts = append(opts, opt)
			}
			if _, err := client.Enqueue(asynq.NewTask("bench", nil), opts...); err != nil {
				b.Fatal(err)
			}
		}
	}

	for _, n := range []int{1, 10, 100, most} {
		b.Run(fmt.Sprintf("queues=%d", n), func(b *testing.B) {
			ctx := b.Context()
			names := queues[:n]
			if _, err := readQueues(ctx, rdb, names, time.Now(), time.Minute); err != nil {
				b.Fatal(err)
			}
			h.reset()
			now := time.Now()
			for b.Loop() {
				got, err := readQueues(ctx, rdb, names, now, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if got[names[0]].Pending != 3 {
					b.Fatalf("queue %s: %+v", names[0], got[names[0]])
				}
			}
			b.ReportMetric(float64(h.pipelines.Load())/float64(b.N), "round-trips/op")
			b.ReportMetric(float64(h.commands.Load())/float64(b.N), "commands/op")
		})
	}
}

// BenchmarkReadServers reads one queue and the asynq servers of a real
// redis-server with 0, 10, 100 and 1000 live servers, each running 4 tasks
// with a 256-byte payload, written as asynq's heartbeat writes them.
// redis-µs/op is the time Redis spent in the read's scripts (the usec of
// EVALSHA in INFO commandstats; a script's time includes the commands it
// runs), redis-cpu-µs/op the CPU time of Redis's main thread (INFO cpu,
// replies included), redis-cmds/op the commands Redis ran, the scripts'
// included, and reply-bytes/op what came back: a row's difference from
// servers=0 is what the servers' read adds.
//
//	go test -run='^$' -bench=ReadServers -benchtime=200x ./internal/queue/
func BenchmarkReadServers(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			h := &counter{}
			rdb := newReader(b, h)
			ctx := b.Context()
			at := time.Now()
			hbs := make([]heartbeat, n)
			for i := range hbs {
				hb := heartbeat{host: fmt.Sprintf("worker-7d9f8c6b5-%05d", i), pid: 1, id: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
					expires: at.Add(10 * time.Second)}
				for j := range 4 {
					hb.tasks = append(hb.tasks, runningTask{id: fmt.Sprintf("%08d-%04d-4000-8000-000000000000", i, j),
						started: at.Add(-time.Duration(j) * time.Second), payload: make([]byte, 256)})
				}
				hbs[i] = hb
			}
			writeHeartbeats(b, rdb, hbs...)
			admin := redis.NewClient(&redis.Options{Addr: redisServer.Addr, Protocol: 2})
			b.Cleanup(func() { _ = admin.Close() })
			if _, err := ReadStats(ctx, rdb, []string{"q"}, at, 0); err != nil {
				b.Fatal(err)
			}
			if err := admin.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			cpuBefore, err := mainThreadCPU(ctx, admin)
			if err != nil {
				b.Fatal(err)
			}
			h.reset()
			for b.Loop() {
				r, err := ReadStats(ctx, rdb, []string{"q"}, at, 0)
				if err != nil {
					b.Fatal(err)
				}
				if s := r.Servers; s.Err != nil || len(s.List) != n || (n > 0 && s.List[0].Timed != 4) {
					b.Fatalf("servers: %v, %d listed", s.Err, len(s.List))
				}
			}
			b.StopTimer()
			cpuAfter, err := mainThreadCPU(ctx, admin)
			if err != nil {
				b.Fatal(err)
			}
			stats, err := commandStats(ctx, admin)
			if err != nil {
				b.Fatal(err)
			}
			var calls int64
			for name, c := range stats {
				if name != "config|resetstat" && name != "info" {
					calls += c
				}
			}
			usec, err := commandUsec(ctx, admin, "evalsha")
			if err != nil {
				b.Fatal(err)
			}
			perOp := func(v float64) float64 { return v / float64(b.N) }
			b.ReportMetric(perOp(float64(h.pipelines.Load())), "round-trips/op")
			b.ReportMetric(perOp(float64(h.commands.Load())), "commands/op")
			b.ReportMetric(perOp(float64(calls)), "redis-cmds/op")
			b.ReportMetric(perOp(usec), "redis-µs/op")
			b.ReportMetric(perOp((cpuAfter-cpuBefore)*1e6), "redis-cpu-µs/op")
			b.ReportMetric(perOp(float64(h.received.Load())), "reply-bytes/op")
		})
	}
}

// commandUsec is the usec of one command in INFO commandstats.
func commandUsec(ctx context.Context, rdb *redis.Client, command string) (float64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		// cmdstat_evalsha:calls=200,usec=371,usec_per_call=1.85,...
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "usec="); ok {
				return strconv.ParseFloat(v, 64)
			}
		}
	}
	return 0, nil
}

// mainThreadCPU is the CPU time, in seconds, Redis's main thread has used
// (INFO cpu, Redis 6.2 or later).
func mainThreadCPU(ctx context.Context, rdb *redis.Client) (float64, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	found := 0
	for line := range strings.Lines(info) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_sys_main_thread" && name != "used_cpu_user_main_thread") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %q: %w", line, err)
		}
		total += f
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("INFO cpu has no main thread times: %q", info)
	}
	return total, nil
}

// BenchmarkReadIdleQueues reads 1000 and 5000 queues at rest, the common
// case of an operator with many QueueWorkers: queues that hold no task, and
// queues that hold only archived tasks (asynq keeps dead tasks for 90
// days), with the servers' read as the operator sends it. redis-cmds/op
// counts the commands Redis ran, the scripts' included; redis-µs/op is the
// time Redis spent in the read's scripts (the usec of EVALSHA and EVAL in
// INFO commandstats, which includes the commands they run),
// redis-cpu-µs/op the CPU time of Redis's main thread (requests and
// replies included): at a 1 s poll interval, redis-cpu-µs/op / 10^4 is the
// percentage of a Redis core the operator takes.
//
//	go test -run='^$' -bench=ReadIdleQueues -benchtime=50x ./internal/queue/
func BenchmarkReadIdleQueues(b *testing.B) {
	for _, archived := range []bool{false, true} {
		for _, n := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("queues=%d/archived=%v", n, archived), func(b *testing.B) {
				benchmarkReadIdle(b, n, archived)
			})
		}
	}
}

func benchmarkReadIdle(b *testing.B, n int, archived bool) {
	h := &counter{}
	rdb := newReader(b, h)
	ctx := b.Context()
	names := queueNames("idle", n)
	if archived {
		pipe := rdb.Pipeline()
		for _, q := range names {
			for j := range 3 {
				pipe.ZAdd(ctx, keysFor(q).archived, redis.Z{Score: float64(now.Unix()), Member: fmt.Sprint(j)})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	admin := redis.NewClient(&redis.Options{Addr: redisServer.Addr, Protocol: 2})
	b.Cleanup(func() { _ = admin.Close() })
	if _, err := ReadStats(ctx, rdb, names, time.Now(), dueHorizonForBench); err != nil {
		b.Fatal(err)
	}
	if err := admin.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	cpuBefore, err := mainThreadCPU(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	h.reset()
	for b.Loop() {
		r, err := ReadStats(ctx, rdb, names, time.Now(), dueHorizonForBench)
		if err != nil {
			b.Fatal(err)
		}
		if s := r.Queues[names[n-1]]; s.Pending != 0 || s.Err != nil || !s.OldestKnown || (archived && s.Archived != 3) {
			b.Fatalf("queue %s: %+v", names[n-1], s)
		}
	}
	b.StopTimer()
	cpuAfter, err := mainThreadCPU(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	calls, usec, err := readCost(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	perOp := func(v float64) float64 { return v / float64(b.N) }
	b.ReportMetric(perOp(float64(h.pipelines.Load())), "round-trips/op")
	b.ReportMetric(perOp(float64(calls)), "redis-cmds/op")
	b.ReportMetric(perOp(usec), "redis-µs/op")
	b.ReportMetric(perOp((cpuAfter-cpuBefore)*1e6), "redis-cpu-µs/op")
}

// dueHorizonForBench is the autoscaler's horizon for scheduled and retry
// tasks (internal/scaling).
const dueHorizonForBench = 5 * time.Second

// readCost sums the calls of INFO commandstats, leaving out the
// benchmark's own CONFIG RESETSTAT and INFO, and the usec of the scripts:
// a script's usec includes the commands it runs, whose own usec would
// count twice.
func readCost(ctx context.Context, rdb *redis.Client) (calls int64, usec float64, err error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || name == "config|resetstat" || name == "info" {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "calls":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("parsing %q: %w", line, err)
				}
				calls += n
			case "usec":
				if name != "evalsha" && name != "eval" {
					continue
				}
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("parsing %q: %w", line, err)
				}
				usec += f
			}
		}
	}
	return calls, usec, nil
}
