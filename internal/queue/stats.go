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

// Package queue reads asynq queue statistics straight from Redis and keeps
// one pooled Redis client per endpoint.
//
// A read costs at most two round trips whatever the number of queues: one
// pipeline of O(1) and O(log n) commands for every queue (the counts, the
// tail of the pending list and the earliest scheduled and retry task), then,
// only for queues with pending tasks, one pipeline reading the oldest
// task's enqueue time. It never uses asynq's Inspector.GetQueueInfo, whose MEMORY USAGE
// sampling is too heavy for a once-a-second poll.
//
// Round trips in detail: in standalone and sentinel mode, two per
// read. In cluster mode each queue's keys share a hash slot, so go-redis
// splits each pipeline by node and sends the parts in parallel: two per
// node that owns a read queue, which is two in wall-clock time; a MOVED or
// ASK redirect while slots migrate adds one per retry (at most 3), and
// go-redis reloads the slot map (CLUSTER SLOTS) on its own schedule. A new
// connection costs its handshake (HELLO, then CLIENT SETNAME and SELECT
// when db is not 0) once, not per read; a broken one is retried once
// (MaxRetries 1). In sentinel mode go-redis asks a sentinel for the master
// when it dials a new connection, not per read.
//
// The sentinels are asked without a password: the API has no field for
// one, and the username and password of an endpoint go only to its master.
// TLS and the addresses the password's Secret pins apply to the sentinels
// as to the master, in the reads and in SentinelMaster alike. The clients
// are built by pkg/redisclient, which the worker SDK shares.
//
// Pool keeps one client per endpoint and credentials, and Client.Read lets
// every QueueWorker on that endpoint share one read per poll.
//
// The commands used, all read-only, on keys under "asynq:": LLEN, ZCOUNT,
// ZCARD, ZRANGE (0 0 WITHSCORES), EXISTS, LINDEX, GET and HGET. An ACL user
// needs only those and the ones a new connection sends, for example:
//
//	ACL SETUSER queueworker-operator on >PASSWORD ~asynq:* -@all
//	  +llen +zcount +zcard +zrange +exists +lindex +get +hget
//	  +hello +auth +client|setname +ping +select
//
// plus +cluster|slots in cluster mode, where go-redis loads the slot map.
package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stats is what one read tells about one asynq queue.
type Stats struct {
	// Queue is the queue name.
	Queue string
	// Pending counts tasks waiting for a worker.
	Pending int64
	// Active counts tasks a worker holds right now.
	Active int64
	// Scheduled counts scheduled tasks due within the horizon of the read,
	// including overdue ones asynq has not moved to pending yet.
	Scheduled int64
	// Retry counts tasks waiting to be retried that are due within the
	// horizon of the read.
	Retry int64
	// Archived counts dead tasks kept for inspection.
	Archived int64
	// Paused reports a queue paused through asynq's Inspector or CLI;
	// workers take nothing from it.
	Paused bool
	// OldestPendingAge is how long the oldest pending task has waited, zero
	// when nothing is pending or the age is unknown.
	OldestPendingAge time.Duration
	// Tail is the id of the task at the tail of the pending list, the
	// oldest one; empty when nothing is pending. Sighting uses it to bound
	// OldestPendingAge by what the reader itself saw.
	Tail string
	// OldestDueAge is how long the earliest scheduled or retry task has been
	// due without being moved to pending, to the second (asynq scores them
	// in whole seconds); zero when none is overdue. asynq's forwarder, which
	// runs inside every asynq server, moves due tasks every few seconds, so
	// an age that keeps growing means no server is running.
	OldestDueAge time.Duration
	// OldestKnown is false when tasks are pending but the oldest one's
	// enqueue time could not be read. asynq drops it when a worker takes a
	// task and does not restore it when a graceful shutdown puts the task
	// back, and it keeps no other record of when the task was enqueued, so
	// there is nothing sound to fall back on. It also happens when the tail
	// task leaves the queue between the two reads. A caller should then
	// scale on the backlog alone. An empty queue has a known age of zero.
	OldestKnown bool
	// Processed is asynq's all-time counter of tasks that left the active
	// state: done, completed, or failed (retried or archived). The
	// difference between two reads over their interval is the drain rate.
	// It is zero for a queue that never processed a task, and it wraps to 1
	// at MaxInt64, so a caller must treat a decrease as a reset.
	Processed int64
	// Err is set when Redis answered a command on this queue's keys with an
	// error, such as WRONGTYPE for a key that is not what asynq writes or
	// NOPERM for a key outside an ACL user's patterns; the other fields are
	// then zero. It concerns this queue alone: the other queues of the read
	// are sound, and a caller that serves several users of an endpoint must
	// not fail the users of other queues for it.
	Err error
}

// queueReads holds the commands of the first pipeline for one queue.
type queueReads struct {
	queue     string
	keys      queueKeys
	pending   *redis.IntCmd
	active    *redis.IntCmd
	scheduled *redis.IntCmd
	retry     *redis.IntCmd
	archived  *redis.IntCmd
	paused    *redis.IntCmd
	tail      *redis.StringCmd
	processed *redis.StringCmd
	// firstScheduled and firstRetry hold the earliest member of each set
	// with its due time.
	firstScheduled *redis.ZSliceCmd
	firstRetry     *redis.ZSliceCmd
	since          *redis.StringCmd
	// err is the queue's own error, see Stats.Err.
	err error
}

// ReadStats reads the statistics of every named queue, with each name read
// once however often it appears. An error reply to a command on one queue's
// keys fails only that queue (Stats.Err); the returned error is for a read
// that failed as a whole: the connection, the server's state (loading,
// failing over, cluster down) or the credentials. It names no queue, since
// it concerns them all. Scheduled and retry tasks count when they
// are due at or before now+horizon, compared in whole Unix seconds as asynq
// scores them; horizon 0 counts the overdue tasks asynq's forwarder has not
// moved to pending yet.
//
// It makes at most two round trips to a standalone or sentinel-managed
// Redis: one pipeline for all queues, and one more only when some queue has
// pending tasks. A ClusterClient splits each pipeline by node and sends the
// parts concurrently, so each node sees at most two round trips per call,
// plus a redirect retry while slots move.
//
// The reads of one queue are not a transaction: a worker may take a task
// between two commands, so the numbers are as consistent as asynq's own
// inspector's, which is enough to scale on.
func ReadStats(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time, horizon time.Duration) (map[string]Stats, error) {
	names, err := uniqueQueues(queues)
	if err != nil {
		return nil, err
	}
	if horizon < 0 {
		return nil, fmt.Errorf("horizon %v is negative", horizon)
	}
	out := make(map[string]Stats, len(names))
	if len(names) == 0 {
		return out, nil
	}
	dueBy := strconv.FormatInt(now.Add(horizon).Unix(), 10)

	pipe := rdb.Pipeline()
	reads := make([]queueReads, len(names))
	for i, name := range names {
		k := keysFor(name)
		reads[i] = queueReads{
			queue:     name,
			keys:      k,
			pending:   pipe.LLen(ctx, k.pending),
			active:    pipe.LLen(ctx, k.active),
			scheduled: pipe.ZCount(ctx, k.scheduled, "-inf", dueBy),
			retry:     pipe.ZCount(ctx, k.retry, "-inf", dueBy),
			archived:  pipe.ZCard(ctx, k.archived),
			paused:    pipe.Exists(ctx, k.paused),
			tail:      pipe.LIndex(ctx, k.pending, -1),
			processed: pipe.Get(ctx, k.processed),
			// ZRANGE 0 0 is O(log n): the due time of the task that has
			// waited longest, in the same round trip.
			firstScheduled: pipe.ZRangeWithScores(ctx, k.scheduled, 0, 0),
			firstRetry:     pipe.ZRangeWithScores(ctx, k.retry, 0, 0),
		}
	}
	execErr := execPipeline(ctx, pipe)

	second := rdb.Pipeline()
	for i := range reads {
		r := &reads[i]
		if err := firstError(r.pending, r.active, r.scheduled, r.retry, r.archived, r.paused, r.tail, r.processed,
			r.firstScheduled, r.firstRetry); err != nil {
			if !isQueueError(err) {
				return nil, err
			}
			r.err = fmt.Errorf("queue %q: %w", r.queue, err)
			continue
		}
		if id := r.tail.Val(); id != "" {
			r.since = second.HGet(ctx, r.keys.taskPrefix+id, pendingSinceField)
		}
	}
	// A command's error has been dealt with above; what is left is the
	// connection's (see execPipeline).
	if execErr != nil && !isQueueError(execErr) {
		return nil, execErr
	}
	if second.Len() > 0 {
		execErr = execPipeline(ctx, second)
		for i := range reads {
			r := &reads[i]
			if r.since == nil {
				continue
			}
			if err := firstError(r.since); err != nil {
				if !isQueueError(err) {
					return nil, err
				}
				r.err = fmt.Errorf("queue %q: %w", r.queue, err)
			}
		}
		if execErr != nil && !isQueueError(execErr) {
			return nil, execErr
		}
	}

	for i := range reads {
		r := &reads[i]
		if r.err != nil {
			out[r.queue] = Stats{Queue: r.queue, Err: r.err}
			continue
		}
		s := Stats{
			Queue:     r.queue,
			Pending:   r.pending.Val(),
			Active:    r.active.Val(),
			Scheduled: r.scheduled.Val(),
			Retry:     r.retry.Val(),
			Archived:  r.archived.Val(),
			Paused:    r.paused.Val() > 0,
		}
		// A counter that does not parse is not worth failing the read that
		// scaling depends on; it reads as zero.
		s.Processed, _ = strconv.ParseInt(r.processed.Val(), 10, 64)
		s.OldestDueAge = max(overdue(r.firstScheduled.Val(), now), overdue(r.firstRetry.Val(), now))
		s.Tail = r.tail.Val()
		if r.since == nil {
			// No tail: the queue was empty, or it emptied between LLEN and
			// LINDEX.
			s.OldestKnown = s.Pending == 0
		} else {
			s.OldestPendingAge, s.OldestKnown = pendingAge(r.since.Val(), now)
		}
		out[r.queue] = s
	}
	return out, nil
}

// overdue is how long the first member of a set scored by due time in Unix
// seconds has been due at now; zero when the set is empty or nothing is due.
func overdue(first []redis.Z, now time.Time) time.Duration {
	if len(first) == 0 || math.IsNaN(first[0].Score) || first[0].Score > float64(now.Unix()) {
		return 0
	}
	// A score far in the past would overflow a Duration; a century is
	// overdue enough.
	due := time.Unix(int64(max(first[0].Score, float64(now.Unix()-maxOverdueSeconds))), 0)
	return max(now.Sub(due), 0)
}

// maxOverdueSeconds bounds OldestDueAge at a hundred years.
const maxOverdueSeconds = 100 * 365 * 24 * 3600

// pendingAge turns a pending_since value into an age at now. An empty or
// malformed value is unknown; a value after now (clocks of the worker
// hosts and the operator disagree) is a known age of zero.
func pendingAge(since string, now time.Time) (time.Duration, bool) {
	if since == "" {
		return 0, false
	}
	ns, err := strconv.ParseInt(since, 10, 64)
	if err != nil {
		return 0, false
	}
	return max(now.Sub(time.Unix(0, ns)), 0), true
}

// execPipeline sends pipe and returns its error unless that is redis.Nil.
// Exec returns the first failed command's error, where a missing key
// (redis.Nil) counts as failed, so the caller checks each command for the
// error and the queue it belongs to, then this one: go-redis v9.23 leaves
// the commands without an error when the connection cannot be set up (a
// wrong password, for one) and reports it only here. Ignoring it would
// read every queue as empty.
func execPipeline(ctx context.Context, pipe redis.Pipeliner) error {
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// isQueueError reports whether err, the error of a command on a queue's
// keys, is about those keys rather than the connection or the server as a
// whole: an error reply from Redis, except the replies that any command
// would get (authentication, loading, failover, cluster state, redirects,
// too many clients).
func isQueueError(err error) bool {
	if _, ok := errors.AsType[redis.Error](err); !ok {
		return false
	}
	if _, moved := redis.IsMovedError(err); moved {
		return false
	}
	if _, ask := redis.IsAskError(err); ask {
		return false
	}
	return !redis.IsAuthError(err) && !redis.IsLoadingError(err) && !redis.IsClusterDownError(err) &&
		!redis.IsTryAgainError(err) && !redis.IsMasterDownError(err) && !redis.IsMaxClientsError(err)
}

// firstError returns the first error of cmds other than redis.Nil, which
// only means the key or field is absent.
func firstError(cmds ...redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("%s: %w", c.Name(), err)
		}
	}
	return nil
}

// uniqueQueues returns the names in first-seen order without repeats.
// asynq rejects blank queue names, so they are an error here too.
func uniqueQueues(queues []string) ([]string, error) {
	seen := make(map[string]struct{}, len(queues))
	names := make([]string, 0, len(queues))
	for _, q := range queues {
		if strings.TrimSpace(q) == "" {
			return nil, errors.New("queue name is blank")
		}
		if _, ok := seen[q]; ok {
			continue
		}
		seen[q] = struct{}{}
		names = append(names, q)
	}
	return names, nil
}
