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

// Package demoview is the live view of `make demo`: it enqueues a burst of
// demo tasks, samples the queues from Redis and the workers from the API
// server, shows a line per second (or a table redrawn in place on a
// terminal), and sums the run up from the ledger the demo tasks write.
//
// It reads Redis itself rather than the QueueWorker's status: the status is
// what the operator decided on, and the point of the view is to show the
// queues and the decisions side by side.
package demoview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
)

// QueueSample is one queue at one instant.
type QueueSample struct {
	// Name is the asynq queue name.
	Name string
	// Pending counts tasks waiting for a worker.
	Pending int64
	// Active counts tasks a worker holds.
	Active int64
	// Retry counts failed tasks waiting for another try, due or not: until
	// they run again the burst is not over.
	Retry int64
	// Latency is how long the oldest pending task has waited; zero when
	// nothing is pending.
	Latency time.Duration
	// LatencyKnown is false when tasks are pending but none of the oldest
	// few has an enqueue time: asynq keeps none for a task a stopping
	// worker put back.
	LatencyKnown bool
}

// asynq's key layout (v0.26.0): every key of a queue carries the name as a
// hash tag. pending is a list that enqueue LPUSHes, so its tail is the
// oldest task; the task hash keeps the enqueue time in Unix nanoseconds in
// pending_since while the task is pending.
func pendingKey(q string) string { return "asynq:{" + q + "}:pending" }
func activeKey(q string) string  { return "asynq:{" + q + "}:active" }
func retryKey(q string) string   { return "asynq:{" + q + "}:retry" }
func taskKey(q, id string) string {
	return "asynq:{" + q + "}:t:" + id
}

const pendingSinceField = "pending_since"

// tailTasks is how many of the oldest pending tasks are looked at for the
// latency. The oldest alone would do, but a worker that takes it between
// the two round trips deletes its enqueue time, and the queue would read as
// having no latency at all; the next ones are nearly as old.
const tailTasks = 3

// ReadQueues reads every queue in two pipelined round trips: the lengths
// and the ids of the oldest pending tasks, then the enqueue times of those
// tasks (only when something is pending).
func ReadQueues(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time) ([]QueueSample, error) {
	type reads struct {
		pending, active, retry *redis.IntCmd
		oldest                 *redis.StringSliceCmd
	}
	rs := make([]reads, len(queues))
	pipe := rdb.Pipeline()
	for i, q := range queues {
		rs[i] = reads{
			pending: pipe.LLen(ctx, pendingKey(q)),
			active:  pipe.LLen(ctx, activeKey(q)),
			retry:   pipe.ZCard(ctx, retryKey(q)),
			oldest:  pipe.LRange(ctx, pendingKey(q), -tailTasks, -1),
		}
	}
	if err := execPipeline(ctx, pipe); err != nil {
		return nil, fmt.Errorf("reading queue lengths: %w", err)
	}

	out := make([]QueueSample, len(queues))
	// since[i] holds the enqueue times of queue i's oldest tasks, oldest
	// first.
	since := make([][]*redis.StringCmd, len(queues))
	pipe = rdb.Pipeline()
	for i, q := range queues {
		r := rs[i]
		for _, c := range []redis.Cmder{r.pending, r.active, r.retry, r.oldest} {
			if err := c.Err(); err != nil {
				return nil, fmt.Errorf("reading queue %s: %w", q, err)
			}
		}
		out[i] = QueueSample{Name: q, Pending: r.pending.Val(), Active: r.active.Val(), Retry: r.retry.Val()}
		out[i].LatencyKnown = out[i].Pending == 0
		for _, id := range slices.Backward(r.oldest.Val()) {
			since[i] = append(since[i], pipe.HGet(ctx, taskKey(q, id), pendingSinceField))
		}
	}
	if pipe.Len() == 0 {
		return out, nil
	}
	if err := execPipeline(ctx, pipe); err != nil {
		return nil, fmt.Errorf("reading enqueue times: %w", err)
	}
	for i, cmds := range since {
		// redis.Nil: the task was taken in between, or was put back
		// without an enqueue time; the next one tells.
		for _, c := range cmds {
			if v, err := c.Result(); err == nil {
				if age, ok := pendingAge(v, now); ok {
					out[i].Latency, out[i].LatencyKnown = age, true
					break
				}
			}
		}
	}
	return out, nil
}

// pendingAge turns a pending_since value into an age at now. A malformed
// value is unknown; one after now (another host's clock) is zero.
func pendingAge(since string, now time.Time) (time.Duration, bool) {
	ns, err := strconv.ParseInt(since, 10, 64)
	if err != nil {
		return 0, false
	}
	return max(now.Sub(time.Unix(0, ns)), 0), true
}

// LedgerCount is how far a burst got, from the ledger.
type LedgerCount struct {
	// Done counts tasks of the burst that completed at least once.
	Done int
	// Duplicated counts tasks of the burst that completed more than once.
	Duplicated int
}

// ledgerChunk bounds the fields of one HMGET, so a large burst does not
// become one huge reply.
const ledgerChunk = 1000

// ReadLedger counts the given task ids in the ledger the demo task handlers
// write (demotasks.LedgerKey), in one pipelined round trip. Other entries
// of the ledger, from earlier runs or `worker enqueue`, are not counted.
func ReadLedger(ctx context.Context, rdb redis.UniversalClient, ids []string) (LedgerCount, error) {
	if len(ids) == 0 {
		return LedgerCount{}, nil
	}
	pipe := rdb.Pipeline()
	var cmds []*redis.SliceCmd
	for start := 0; start < len(ids); start += ledgerChunk {
		end := min(start+ledgerChunk, len(ids))
		cmds = append(cmds, pipe.HMGet(ctx, demotasks.LedgerKey, ids[start:end]...))
	}
	if err := execPipeline(ctx, pipe); err != nil {
		return LedgerCount{}, fmt.Errorf("reading the ledger: %w", err)
	}
	var lc LedgerCount
	for _, c := range cmds {
		vals, err := c.Result()
		if err != nil {
			return LedgerCount{}, fmt.Errorf("reading the ledger: %w", err)
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // nil: not completed yet
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return LedgerCount{}, fmt.Errorf("reading the ledger: a count of %q", s)
			}
			if n >= 1 {
				lc.Done++
			}
			if n > 1 {
				lc.Duplicated++
			}
		}
	}
	return lc, nil
}

// execPipeline sends pipe and returns its error unless that is redis.Nil,
// which only says that some key was missing. go-redis reports a connection
// that could not be set up (a wrong password, for one) only here, leaving
// the commands without an error, so this error must not be dropped.
func execPipeline(ctx context.Context, pipe redis.Pipeliner) error {
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}
