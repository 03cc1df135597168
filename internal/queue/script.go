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
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// queuesScript reads a batch of queues in one call: for each, its counts
// and the values a reader needs beyond them. Those values are stored by
// whoever writes the queue: the id at the tail of the pending list (any
// string a producer passes to asynq.TaskID), that task's pending_since, the
// members of the scheduled and retry sets, and the names of the aggregation
// groups. Redis lets each be 512 MB. Read as they are, one tenant's value
// would travel in the reply every QueueWorker on the endpoint shares, and
// could stretch it past the read timeout for all of them. The script looks
// them up inside Redis instead and returns only what fits a fixed size, so
// the reply of every queue is a few dozen bytes whatever its tasks hold.
//
// A queue at rest costs one EXISTS: with none of its keys (Redis deletes an
// empty list, set or sorted set), or two more when it holds only archived
// tasks or a pause. With thousands of queues on one endpoint, most of them
// at rest, that is what keeps the read's share of a Redis core small
// (BenchmarkReadIdleQueues).
//
// Each queue is named by its pending list's key; its other keys are named
// after it (asynq:{name}:pending gives the prefix asynq:{name}:) and carry
// the same hash tag. In Redis Cluster a call reads one queue whose pending
// key is its one KEYS entry, which routes the call to the node of the
// queue's slot. Elsewhere the keys follow the arguments in ARGV and KEYS is
// empty: Redis checks a call's declared keys against an ACL user's
// patterns before the script runs and refuses the whole call for one key
// outside them, while a key the script names is checked when the script
// uses it, so that it fails that queue alone, caught inside. ARGV: 1
// maxTaskIDLen, 2 maxPendingSinceLen, 3 maxGroups, 4 the time of the read
// in Unix seconds, 5 the due-by time for scheduled and retry tasks in Unix
// seconds, then the pending keys outside Redis Cluster. The task hash is
// read at prefix t:id, a group's tasks at prefix g:name, as in asynq's own
// scripts.
//
// The reply has one element per queue, in order. A queue at rest is an
// integer, 2 × archived + paused (paused 0 or 1); 0 for a queue without
// keys. A queue Redis refused a command on (WRONGTYPE, NOPERM: the queue's
// error alone, see Stats.Err) is {2, message}. Any other is {1, pending,
// scheduled, retry, archived, paused, tail, id, pending_since, first
// scheduled score, first retry score, aggregating, active, alive}:
// scheduled and retry count the members due by ARGV[5]; paused is 0 or 1;
// tail is tailNone, tailID or tailTooLong, id is set only for tailID,
// pending_since only when it is at most maxPendingSinceLen bytes (HSTRLEN
// tells without reading it), the scores are Redis's formatting of the
// lowest score, never the member, aggregating is the number of tasks in
// the groups (see maxGroups), active the length of the active list and
// alive how many of its tasks hold a lease that has not expired at ARGV[4]
// (at most active). Empty strings stand for absent values. One queue's
// values are read inside one script, so at one instant: a task a worker
// finishes leaves active and lease in one of asynq's scripts, so no read
// sees it in one and not the other, and the pending count and the tail
// agree.
//
// The commands it runs: EXISTS, LLEN, ZCOUNT, ZCARD, LINDEX, HSTRLEN, HGET,
// ZRANGE and SCARD, all O(1) or O(log n), and for a queue with groups
// SMEMBERS (or SRANDMEMBER) and one ZCARD per group, at most maxGroups.
// LINDEX and ZRANGE copy the element inside Redis; only the bounded parts
// leave it.
var queuesScript = redis.NewScript(`
local maxID, maxSince, maxGroups = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now, dueBy = ARGV[4], ARGV[5]
local function first(key)
  local z = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  return z[2] or ""
end
local function read(pendingKey)
  local p = string.sub(pendingKey, 1, -8)
  local scheduled, retry, archived, paused = p .. "scheduled", p .. "retry", p .. "archived", p .. "paused"
  local groupsKey, activeKey = p .. "groups", p .. "active"
  if redis.call("EXISTS", pendingKey, scheduled, retry, groupsKey, activeKey, archived, paused) == 0 then
    return 0
  end
  if redis.call("EXISTS", pendingKey, scheduled, retry, groupsKey, activeKey) == 0 then
    return 2 * redis.call("ZCARD", archived) + redis.call("EXISTS", paused)
  end
  local pending = redis.call("LLEN", pendingKey)
  local tail, id, since = 0, "", ""
  local e = pending > 0 and redis.call("LINDEX", pendingKey, -1)
  if e then
    if string.len(e) > maxID then
      tail = 2
    else
      tail, id = 1, e
      local key = p .. "t:" .. e
      if redis.call("HSTRLEN", key, "pending_since") <= maxSince then
        since = redis.call("HGET", key, "pending_since") or ""
      end
    end
  end
  local aggregating = 0
  local groups = redis.call("SCARD", groupsKey)
  if groups > 0 then
    local names
    if groups <= maxGroups then
      names = redis.call("SMEMBERS", groupsKey)
    else
      names = redis.call("SRANDMEMBER", groupsKey, maxGroups)
    end
    for _, g in ipairs(names) do
      aggregating = aggregating + redis.call("ZCARD", p .. "g:" .. g)
    end
  end
  local active, alive = redis.call("LLEN", activeKey), 0
  if active > 0 then
    alive = math.min(redis.call("ZCOUNT", p .. "lease", now, "+inf"), active)
  end
  return {1, pending, redis.call("ZCOUNT", scheduled, "-inf", dueBy), redis.call("ZCOUNT", retry, "-inf", dueBy),
    redis.call("ZCARD", archived), redis.call("EXISTS", paused),
    tail, id, since, first(scheduled), first(retry), aggregating, active, alive}
end
local names, from = KEYS, 1
if #KEYS == 0 then
  names, from = ARGV, 6
end
local out = {}
for i = from, #names do
  local ok, r = pcall(read, names[i])
  if not ok then
    r = {2, type(r) == "table" and tostring(r.err) or tostring(r)}
  end
  out[#out + 1] = r
end
return out
`)

// The tail of a queuesScript reply.
const (
	// tailNone: the pending list is empty.
	tailNone = 0
	// tailID: the reply holds the tail's id.
	tailID = 1
	// tailTooLong: the tail's id is longer than maxTaskIDLen; it is not
	// returned, and the oldest task's age is unknown.
	tailTooLong = 2
)

const (
	// maxTaskIDLen is the longest tail id the reader takes. asynq's own ids
	// are UUIDs, 36 bytes; a producer may choose its own (asynq.TaskID), and
	// one longer than this is treated as unknown rather than carried
	// through every read and kept in memory between reads.
	maxTaskIDLen = 64
	// maxPendingSinceLen is the longest pending_since the reader takes:
	// Unix nanoseconds in an int64 need at most 20 characters with the sign.
	// A longer value could not parse anyway.
	maxPendingSinceLen = 20
	// maxGroups bounds the work of counting a queue's grouped tasks: one
	// ZCARD per group. A queue with more groups has the tasks of maxGroups
	// of them, chosen at random, counted: a lower bound, which is enough to
	// wake the workers and to scale on until they drain the groups.
	maxGroups = 1000
)

// lookup is the part of a queuesScript reply beyond the counts.
type lookup struct {
	tail           int64
	id             string
	since          string
	firstScheduled string
	firstRetry     string
	aggregating    int64
	active         int64
	alive          int64
}

// queueReply is one queue's element of a queuesScript reply.
type queueReply struct {
	pending, scheduled, retry, archived int64
	paused                              bool
	lookup
}

// evalQueues adds the read of the queues ks at now, in Unix seconds, with
// scheduled and retry tasks due by dueBy, to pipe: EVALSHA, or EVAL when
// Redis does not have the script (see ReadStats). declare passes the
// queues' keys as KEYS, for Redis Cluster, else in ARGV.
func evalQueues(ctx context.Context, pipe redis.Pipeliner, ks []queueKeys, now, dueBy int64, withSource, declare bool) *redis.Cmd {
	var keys []string
	args := make([]any, 0, 5+len(ks))
	args = append(args, maxTaskIDLen, maxPendingSinceLen, maxGroups, now, dueBy)
	for _, k := range ks {
		if declare {
			keys = append(keys, k.pending)
		} else {
			args = append(args, k.pending)
		}
	}
	if withSource {
		return queuesScript.Eval(ctx, pipe, keys, args...)
	}
	return queuesScript.EvalSha(ctx, pipe, keys, args...)
}

// isNoScript reports a NOSCRIPT reply: Redis does not have the script.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// errLookupReply is returned for a reply queuesScript cannot have sent,
// such as from a proxy that rewrites replies.
var errLookupReply = errors.New("unexpected reply to the queue lookup script")

// decodeLookup decodes the lookup part of a queue's queuesScript reply.
func decodeLookup(v any) (lookup, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 8 {
		return lookup{}, errLookupReply
	}
	var l lookup
	var ok1, ok2, ok3, ok4, ok5, ok6, ok7, ok8 bool
	l.tail, ok1 = a[0].(int64)
	l.id, ok2 = a[1].(string)
	l.since, ok3 = a[2].(string)
	l.firstScheduled, ok4 = a[3].(string)
	l.firstRetry, ok5 = a[4].(string)
	l.aggregating, ok6 = a[5].(int64)
	l.active, ok7 = a[6].(int64)
	l.alive, ok8 = a[7].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || !ok8 || l.tail < tailNone || l.tail > tailTooLong ||
		len(l.id) > maxTaskIDLen || len(l.since) > maxPendingSinceLen || l.aggregating < 0 ||
		l.alive < 0 || l.alive > l.active {
		return lookup{}, errLookupReply
	}
	return l, nil
}

// parseScore parses a score queuesScript returned; empty is no member.
func parseScore(s string) (float64, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: score %q", errLookupReply, s)
	}
	return f, true, nil
}

// Tags of a queue's element in a queuesScript reply, when it is an array.
const (
	replyRead  = 1
	replyError = 2
)

// scriptError is an error reply to a command a script ran on a queue's
// keys, caught in the script so that it fails that queue alone. It is a
// redis.Error, as the same reply to a command sent on its own would be.
type scriptError string

func (e scriptError) Error() string { return string(e) }

// RedisError marks scriptError as an error reply from Redis.
func (scriptError) RedisError() {}

// maxScriptErrorLen bounds the message of a queue's error reply kept.
const maxScriptErrorLen = 256

// decodeQueue decodes one queue's element of a queuesScript reply; a
// queue's error reply is returned as a scriptError.
func decodeQueue(v any) (queueReply, error) {
	if n, ok := v.(int64); ok {
		if n < 0 {
			return queueReply{}, errLookupReply
		}
		return queueReply{archived: n / 2, paused: n%2 == 1}, nil
	}
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return queueReply{}, errLookupReply
	}
	switch tag, _ := a[0].(int64); {
	case tag == replyError && len(a) == 2:
		msg, ok := a[1].(string)
		if !ok {
			return queueReply{}, errLookupReply
		}
		if len(msg) > maxScriptErrorLen {
			msg = msg[:maxScriptErrorLen]
		}
		return queueReply{}, scriptError(msg)
	case tag != replyRead || len(a) != 14:
		return queueReply{}, errLookupReply
	}
	var r queueReply
	var ok1, ok2, ok3, ok4, ok5 bool
	var paused int64
	r.pending, ok1 = a[1].(int64)
	r.scheduled, ok2 = a[2].(int64)
	r.retry, ok3 = a[3].(int64)
	r.archived, ok4 = a[4].(int64)
	paused, ok5 = a[5].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || r.pending < 0 || r.scheduled < 0 || r.retry < 0 || r.archived < 0 ||
		(paused != 0 && paused != 1) {
		return queueReply{}, errLookupReply
	}
	r.paused = paused == 1
	l, err := decodeLookup(a[6:])
	if err != nil {
		return queueReply{}, err
	}
	r.lookup = l
	return r, nil
}
