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
// queues and the decisions side by side. It reads them with the operator's
// own reader (internal/queue), so the two agree on what a pending task and
// its latency are.
package demoview

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
	"github.com/queueworker/queueworker-operator/internal/queue"
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
	// LatencyKnown is false when tasks are pending but the oldest one has
	// no enqueue time: asynq keeps none for a task a stopping worker put
	// back. The operator then scales on the backlog alone.
	LatencyKnown bool
}

// everyRetry is the horizon of the view's reads: far enough ahead that
// every retry task counts, however late it is due. The operator counts
// only the retry and scheduled tasks due within its own few seconds, which
// is what it scales on; the view must know the burst is not over while a
// retry waits.
const everyRetry = 100 * 365 * 24 * time.Hour

// ReadQueues reads every queue with queue.ReadStats, the operator's reader,
// and returns them in the order asked. A queue whose keys Redis refused to
// read fails the whole sample, so the view never shows part of the queues
// as if it were all of them.
func ReadQueues(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time) ([]QueueSample, error) {
	reading, err := queue.ReadStats(ctx, rdb, queues, now, everyRetry)
	if err != nil {
		return nil, fmt.Errorf("reading the queues: %w", err)
	}
	stats := reading.Queues
	out := make([]QueueSample, len(queues))
	for i, q := range queues {
		st, ok := stats[q]
		if !ok {
			return nil, fmt.Errorf("reading the queues: no statistics of queue %s", q)
		}
		if st.Err != nil {
			return nil, fmt.Errorf("reading queue %s: %w", q, st.Err)
		}
		out[i] = QueueSample{
			Name:         q,
			Pending:      st.Pending,
			Active:       st.Active,
			Retry:        st.Retry,
			Latency:      st.OldestPendingAge,
			LatencyKnown: st.OldestKnown,
		}
	}
	return out, nil
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
