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
// A read costs one round trip whatever the number of queues: one pipeline
// with one call of a small Lua script (queuesScript) per queuesPerScript
// queues, which reads each queue's counts and looks up the oldest pending
// task's id and enqueue time, the earliest scheduled and retry task's due
// time, the number of tasks waiting in aggregation groups and the running
// tasks whose lease is alive inside Redis, in bounded work, and returns
// only bounded values; a queue without any key, an idle one, costs it one
// EXISTS. The same pipeline carries one more script call, however many
// servers there are (serversScript), for the live asynq servers of the
// endpoint: each one's host, pid and id, heartbeat expiry, running tasks
// and the start of its youngest and oldest task, decoded inside Redis so
// that no task payload leaves it. It never uses asynq's
// Inspector.GetQueueInfo, whose MEMORY USAGE sampling is too heavy for a
// once-a-second poll.
//
// Round trips in detail: in standalone and sentinel mode, one per read, and
// a second when Redis does not have the scripts: the first read after
// Redis started or failed over, after SCRIPT FLUSH, or after Redis 7.4 or
// later evicted them among the scripts others sent with EVAL. That second
// pipeline sends the scripts with EVAL for the reads whose EVALSHA failed,
// which loads them again. It also sends again, one queue per call, the
// queues of a call Redis refused as a whole (a key outside the ACL user's
// patterns), so that only the queue at fault fails. In cluster mode each
// queue's keys share a hash slot, and a script call reads one queue;
// go-redis splits each pipeline by node and sends the parts in parallel:
// one per node that owns a read queue (two while a node lacks the script),
// the same in wall-clock time. The servers are not read there:
// each server's keys have a hash slot of their own, out of one script's
// reach (Servers.Err says so). A MOVED or ASK redirect while slots migrate
// adds one per retry (at most 3), and go-redis reloads the slot map
// (CLUSTER SLOTS) on its own schedule. A new connection costs its handshake
// (HELLO, then CLIENT SETNAME and SELECT when db is not 0) once, not per
// read; a broken one is retried once (MaxRetries 1). In sentinel mode
// go-redis asks a sentinel for the master when it dials a new connection,
// not per read.
//
// The sentinels are asked without a password: the API has no field for
// one, and the username and password of an endpoint go only to its master.
// TLS and the addresses the password's Secret pins apply to the sentinels
// as to the master, in the reads and in SentinelMaster alike. The clients
// are built by pkg/redisclient, which the worker SDK shares.
//
// Pool keeps one client per endpoint and credentials; the autoscaler's
// poller of an endpoint reads the queues of every QueueWorker due on it in
// one ReadStats.
//
// The commands the reads use, all read-only, on keys under "asynq:":
// EVALSHA and EVAL, in the queues' script EXISTS,
// LLEN, LINDEX, HSTRLEN, HGET, ZRANGE, SCARD, SMEMBERS, SRANDMEMBER, ZCARD
// and ZCOUNT, and in the servers' script ZCOUNT, ZRANGEBYSCORE, HLEN, HKEYS,
// HSTRLEN, HGET, ZSCORE, STRLEN and GET (ZSCORE only to tell a task that
// finished since the last heartbeat: without it such a task counts as
// running; STRLEN and GET only for a server's status: without them it is
// unknown). Redis checks the commands a script runs
// against the ACL user like any other, so +eval grants nothing beyond the commands listed. An ACL
// user needs only those and the ones a new connection sends, for example:
//
//	ACL SETUSER queueworker-operator on >PASSWORD ~asynq:* -@all
//	  +llen +zcount +zcard +exists +evalsha +eval
//	  +lindex +hstrlen +hget +zrange +scard +smembers +srandmember
//	  +zrangebyscore +hlen +hkeys +zscore +strlen +get
//	  +hello +auth +client|setname +ping +select
//
// With scaleDown.drain.policy Drain the operator also writes the workers'
// drain keys (SetDrains, DeleteDrains): add %W~queueworker:drain:* +set
// +del to that user.
//
// plus +cluster|slots in cluster mode, where go-redis loads the slot map.
// A user without +zrangebyscore, +hlen and +hkeys reads the queues as
// before; only Servers.Err reports the refusal, once a server is live.
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
	// Active counts the tasks a live worker holds right now: those in the
	// active list whose lease has not expired at the time of the read
	// (its score, the expiry in whole Unix seconds, is not below the read's
	// second). asynq's heartbeat extends the lease of every running task to
	// 30s ahead every 5s, so a live worker's lease is always 25s or more
	// ahead of its own clock, and an operator clock up to that much ahead
	// still reads its tasks as active.
	Active int64
	// Orphaned counts the tasks in the active list whose lease has expired
	// or is missing: the asynq server that took them stopped heartbeating,
	// because it died or lost Redis for the lease's 30s. No worker runs
	// them. They stay in the active list until the recoverer of a running
	// asynq server that serves the queue moves them to retry (or archived),
	// which it does at its start and every minute for leases that expired at
	// least 30s before. Active and Orphaned are counted at the same instant,
	// and each task is in exactly one of them.
	Orphaned int64
	// Scheduled counts scheduled tasks due within the horizon of the read,
	// including overdue ones asynq has not moved to pending yet.
	Scheduled int64
	// Retry counts tasks waiting to be retried that are due within the
	// horizon of the read.
	Retry int64
	// Archived counts dead tasks kept for inspection.
	Archived int64
	// Aggregating counts the tasks enqueued with asynq.Group that wait in
	// their group for an asynq server's aggregator to combine them into
	// one pending task; at zero workers none runs. With more than
	// maxGroups groups it counts the tasks of maxGroups of them.
	Aggregating int64
	// Paused reports a queue paused through asynq's Inspector or CLI;
	// workers take nothing from it.
	Paused bool
	// OldestPendingAge is how long the oldest pending task has waited, zero
	// when nothing is pending or the age is unknown.
	OldestPendingAge time.Duration
	// Tail is the id of the task at the tail of the pending list, the
	// oldest one; empty when nothing is pending or the id is longer than
	// maxTaskIDLen, which the reader never fetches. Sighting uses it to
	// bound OldestPendingAge by what the reader itself saw.
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
	// the producer's time is lost (Sighting bounds such a task's age from
	// below by how long the reader has seen it at the tail). It also happens
	// when the tail's id is longer than maxTaskIDLen, its pending_since
	// longer than maxPendingSinceLen or malformed, or the list emptied
	// between the count and the lookup. A caller should then scale on the
	// backlog alone. An empty queue has a known age of zero.
	OldestKnown bool
	// Err is set when Redis answered a command on this queue's keys with an
	// error, such as WRONGTYPE for a key that is not what asynq writes or
	// NOPERM for a key outside an ACL user's patterns; the other fields are
	// then zero. It concerns this queue alone: the other queues of the read
	// are sound, and a caller that serves several users of an endpoint must
	// not fail the users of other queues for it.
	Err error
}

// queueRead is what one read learns of one queue.
type queueRead struct {
	queue string
	keys  queueKeys
	reply queueReply
	// err is the queue's own error, see Stats.Err.
	err error
}

// queuesPerScript is how many queues one call of queuesScript reads
// outside Redis Cluster. Redis runs a script without serving anything
// else, so a call is kept short: 25 queues at rest take it about 30 µs,
// 25 with tasks a few hundred. What a tenant stores can make one queue
// slower (the script copies the tail task's id and the first scheduled
// and retry member, whatever their size), and the batch bounds how many
// such queues one call holds the server for; smaller batches cost Redis a
// few percent more per read (BenchmarkReadIdleQueues).
const queuesPerScript = 25

// scriptBatch is one call of queuesScript: the indexes of its queues in
// the read, in the order of the reply.
type scriptBatch struct {
	reads      []int
	cmd        *redis.Cmd
	withSource bool
}

// keys lists the keys of the batch's queues.
func (b scriptBatch) keys(reads []queueRead) []queueKeys {
	ks := make([]queueKeys, len(b.reads))
	for j, i := range b.reads {
		ks[j] = reads[i].keys
	}
	return ks
}

// decode spreads the batch's reply over its queues: a queue's error reply
// is that queue's error, as is a reply the script cannot have sent.
func (b scriptBatch) decode(reads []queueRead) {
	vals, ok := b.cmd.Val().([]any)
	for j, i := range b.reads {
		r := &reads[i]
		if !ok || len(vals) != len(b.reads) {
			r.err = fmt.Errorf("queue %q: %w", r.queue, errLookupReply)
			continue
		}
		reply, err := decodeQueue(vals[j])
		if err != nil {
			r.err = fmt.Errorf("queue %q: %w", r.queue, err)
			continue
		}
		r.reply = reply
	}
}

// Reading is one read of an endpoint: its queues and its asynq servers.
type Reading struct {
	// Queues maps each queue read to its statistics.
	Queues map[string]Stats
	// Servers are the live asynq servers of the endpoint, whatever queues
	// they serve.
	Servers Servers
}

// errServersNotRead is Servers.Err of a read of no queues, which reads
// nothing.
var errServersNotRead = errors.New("the asynq servers were not read: no queue to read")

// ReadStats reads the statistics of every named queue, with each name read
// once however often it appears, and the live asynq servers of the
// endpoint (serversScript). An error reply to a command on one queue's
// keys fails only that queue (Stats.Err), one to the servers' read only
// that (Servers.Err); the returned error is for a read that failed as a
// whole: the connection, the server's state (loading, failing over,
// cluster down) or the credentials. It names no queue, since it concerns
// them all. Scheduled and retry tasks count when they are due at or before
// now+horizon, compared in whole Unix seconds as asynq scores them;
// horizon 0 counts the overdue tasks asynq's forwarder has not moved to
// pending yet. With no queues it sends nothing.
//
// It makes one round trip to a standalone or sentinel-managed Redis, and a
// second only when Redis lacks lookupScript or serversScript (see the
// package documentation). A ClusterClient splits the pipeline by node and
// sends the parts concurrently, so each node sees as many round trips,
// plus a redirect retry while slots move; in Redis Cluster the servers are
// not read (errServersCluster). Every reply is bounded whatever the
// queues and the servers' tasks hold: counts, and from the lookup script
// an id of at most maxTaskIDLen bytes, a timestamp, two scores and three
// counts per queue, from the servers script at most maxServers servers of
// at most maxServerKeyLen bytes of name and seven numbers each. Active and
// Orphaned compare the leases with now, and the servers' heartbeats count
// as live while they expire at or after now's second.
//
// The reads of one queue are not a transaction: a worker may take a task
// between two commands, so the numbers are as consistent as asynq's own
// inspector's, which is enough to scale on.
func ReadStats(ctx context.Context, rdb redis.UniversalClient, queues []string, now time.Time, horizon time.Duration) (Reading, error) {
	names, err := uniqueQueues(queues)
	if err != nil {
		return Reading{}, err
	}
	if horizon < 0 {
		return Reading{}, fmt.Errorf("horizon %v is negative", horizon)
	}
	out := make(map[string]Stats, len(names))
	if len(names) == 0 {
		return Reading{Queues: out, Servers: Servers{Err: errServersNotRead}}, nil
	}
	dueBy := now.Add(horizon).Unix()
	nowSec := now.Unix()
	_, cluster := rdb.(*redis.ClusterClient)
	// In Redis Cluster each queue's keys have a slot of their own, and a
	// script may only touch one slot: one queue per call there.
	size := queuesPerScript
	if cluster {
		size = 1
	}

	reads := make([]queueRead, len(names))
	pipe := rdb.Pipeline()
	var batches []scriptBatch
	for start := 0; start < len(names); start += size {
		b := scriptBatch{}
		for i := start; i < min(start+size, len(names)); i++ {
			reads[i] = queueRead{queue: names[i], keys: keysFor(names[i])}
			b.reads = append(b.reads, i)
		}
		b.cmd = evalQueues(ctx, pipe, b.keys(reads), nowSec, dueBy, false, cluster)
		batches = append(batches, b)
	}
	var servers *redis.Cmd
	if !cluster {
		servers = evalServers(ctx, pipe, nowSec, false)
	}
	execErr := execPipeline(ctx, pipe)

	// Each later round trip sends what the one before could not answer: a
	// call on a node that lacked the script (NOSCRIPT) again with EVAL,
	// which loads it, and each queue of a call Redis refused as a whole with
	// an error about keys on its own, so that one queue's error fails only
	// that queue. A queue's own errors are caught inside the script, so a
	// whole call is refused for keys only in Redis Cluster, where a call
	// reads one queue anyway. A call of one queue is never split, and one
	// sent with EVAL never gets NOSCRIPT: at most three more round trips.
	for round := 0; ; round++ {
		// A command's error is dealt with below; what is left is the
		// connection's (see execPipeline).
		if execErr != nil && !isQueueError(execErr) {
			return Reading{}, execErr
		}
		again := rdb.Pipeline()
		var next []scriptBatch
		for _, b := range batches {
			err := b.cmd.Err()
			switch {
			case err == nil:
				b.decode(reads)
			case isNoScript(err) && !b.withSource:
				next = append(next, scriptBatch{reads: b.reads, withSource: true,
					cmd: evalQueues(ctx, again, b.keys(reads), nowSec, dueBy, true, cluster)})
			case isQueueError(err) && len(b.reads) > 1:
				for _, i := range b.reads {
					one := scriptBatch{reads: []int{i}}
					one.cmd = evalQueues(ctx, again, one.keys(reads), nowSec, dueBy, false, cluster)
					next = append(next, one)
				}
			case isQueueError(err):
				r := &reads[b.reads[0]]
				r.err = fmt.Errorf("queue %q: %w", r.queue, err)
			default:
				return Reading{}, err
			}
		}
		if round == 0 && servers != nil && isNoScript(servers.Err()) {
			servers = evalServers(ctx, again, nowSec, true)
		}
		if again.Len() == 0 {
			break
		}
		execErr = execPipeline(ctx, again)
		batches = next
	}
	srv, err := serversOf(servers)
	if err != nil {
		return Reading{}, err
	}

	for i := range reads {
		r := &reads[i]
		s, err := r.stats(now)
		if err != nil {
			s = Stats{Queue: r.queue, Err: err}
		}
		out[r.queue] = s
	}
	return Reading{Queues: out, Servers: srv}, nil
}

// serversOf turns the reply of the servers' read into Servers, with an
// error reply about their keys in Servers.Err; it returns an error that
// fails the whole read. A nil cmd is a read in Redis Cluster.
func serversOf(cmd *redis.Cmd) (Servers, error) {
	if cmd == nil {
		return Servers{Err: errServersCluster}, nil
	}
	if err := firstError(cmd); err != nil {
		if !isQueueError(err) {
			return Servers{}, err
		}
		return Servers{Err: fmt.Errorf("asynq servers: %w", err)}, nil
	}
	s, err := decodeServers(cmd.Val())
	if err != nil {
		return Servers{Err: err}, nil
	}
	return s, nil
}

// stats assembles the queue's Stats from its reply, or returns the
// queue's error.
func (r *queueRead) stats(now time.Time) (Stats, error) {
	if r.err != nil {
		return Stats{}, r.err
	}
	l := r.reply
	firstScheduled, scheduledOK, err := parseScore(l.firstScheduled)
	if err != nil {
		return Stats{}, fmt.Errorf("queue %q: %w", r.queue, err)
	}
	firstRetry, retryOK, err := parseScore(l.firstRetry)
	if err != nil {
		return Stats{}, fmt.Errorf("queue %q: %w", r.queue, err)
	}
	s := Stats{
		Queue:       r.queue,
		Pending:     l.pending,
		Active:      l.alive,
		Orphaned:    l.active - l.alive,
		Scheduled:   l.scheduled,
		Retry:       l.retry,
		Archived:    l.archived,
		Paused:      l.paused,
		Aggregating: l.aggregating,
	}
	s.OldestDueAge = max(overdue(firstScheduled, scheduledOK, now), overdue(firstRetry, retryOK, now))
	switch {
	case l.tail == tailID && l.id != "":
		s.Tail = l.id
		s.OldestPendingAge, s.OldestKnown = pendingAge(l.since, now)
	case l.tail == tailNone:
		// Nothing is pending: the count and the tail are read at once.
		s.OldestKnown = s.Pending == 0
	}
	// Otherwise the tail's id is too long (or empty): the age is unknown.
	return s, nil
}

// overdue is how long the first member of a set scored by due time in Unix
// seconds, whose score is first, has been due at now; zero when the set is
// empty (ok is false) or nothing is due.
func overdue(first float64, ok bool, now time.Time) time.Duration {
	if !ok || math.IsNaN(first) || first > float64(now.Unix()) {
		return 0
	}
	// A score far in the past would overflow a Duration; a century is
	// overdue enough.
	due := time.Unix(int64(max(first, float64(now.Unix()-maxOverdueSeconds))), 0)
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
