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

// The values a reader needs beyond the counts are stored by whoever writes
// the queue: the id at the tail of the pending list (any string a producer
// passes to asynq.TaskID), that task's pending_since, the members of the
// scheduled and retry sets, and the names of the aggregation groups. Redis
// lets each be 512 MB. Read as they are, one tenant's value would travel in
// the pipeline every QueueWorker on the endpoint shares, and could stretch
// it past the read timeout for all of them. lookupScript looks them up
// inside Redis instead and returns only what fits a fixed size, so the
// reply of every queue is a few dozen bytes whatever its tasks hold.
//
// KEYS: 1 pending, 2 scheduled, 3 retry, 4 groups, 5 active, 6 lease; all
// carry the queue's hash tag, so the script is valid in Redis Cluster.
// ARGV: 1 the task key prefix (the task hash is read at ARGV[1]..id, in the
// same slot, as asynq's own scripts do), 2 maxTaskIDLen, 3
// maxPendingSinceLen, 4 the group key prefix (a group's tasks are at
// ARGV[4]..name, as in asynq's CurrentStats), 5 maxGroups, 6 the time of
// the read in Unix seconds.
//
// The reply is {tail, id, pending_since, first scheduled score, first
// retry score, aggregating, active, alive}: tail is tailNone, tailID or
// tailTooLong, id is set only for tailID, pending_since only when it is at
// most maxPendingSinceLen bytes (HSTRLEN tells without reading it), the
// scores are Redis's formatting of the lowest score, never the member,
// aggregating is the number of tasks in the groups (see maxGroups), active
// the length of the active list and alive how many of its tasks hold a
// lease that has not expired at ARGV[6] (at most active). Empty strings
// stand for absent values. Counting active and alive in one script gives
// both at the same instant: a task a worker finishes leaves both sets in
// one of asynq's scripts, so no read sees it in one and not the other.
//
// The commands it runs: LINDEX, HSTRLEN, HGET, ZRANGE, SCARD, LLEN and
// ZCOUNT, all O(1) or O(log n), and for a queue with groups SMEMBERS (or
// SRANDMEMBER) and one ZCARD per group, at most maxGroups. LINDEX and ZRANGE
// copy the element inside Redis; only the bounded parts leave it.
var lookupScript = redis.NewScript(`
local tail, id, since = 0, "", ""
local e = redis.call("LINDEX", KEYS[1], -1)
if e then
  if string.len(e) > tonumber(ARGV[2]) then
    tail = 2
  else
    tail, id = 1, e
    local key = ARGV[1] .. e
    if redis.call("HSTRLEN", key, "pending_since") <= tonumber(ARGV[3]) then
      since = redis.call("HGET", key, "pending_since") or ""
    end
  end
end
local function first(key)
  local z = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  return z[2] or ""
end
local aggregating = 0
local groups = redis.call("SCARD", KEYS[4])
if groups > 0 then
  local names
  if groups <= tonumber(ARGV[5]) then
    names = redis.call("SMEMBERS", KEYS[4])
  else
    names = redis.call("SRANDMEMBER", KEYS[4], ARGV[5])
  end
  for _, g in ipairs(names) do
    aggregating = aggregating + redis.call("ZCARD", ARGV[4] .. g)
  end
end
local active, alive = redis.call("LLEN", KEYS[5]), 0
if active > 0 then
  alive = math.min(redis.call("ZCOUNT", KEYS[6], ARGV[6], "+inf"), active)
end
return {tail, id, since, first(KEYS[2]), first(KEYS[3]), aggregating, active, alive}
`)

// The tail of a lookupScript reply.
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

// lookup is a decoded lookupScript reply.
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

// evalLookup adds the lookup of queue k at now, in Unix seconds, to pipe:
// EVALSHA, or EVAL when Redis does not have the script (see ReadStats).
func evalLookup(ctx context.Context, pipe redis.Pipeliner, k queueKeys, now int64, withSource bool) *redis.Cmd {
	keys := []string{k.pending, k.scheduled, k.retry, k.groups, k.active, k.lease}
	args := []any{k.taskPrefix, maxTaskIDLen, maxPendingSinceLen, k.groupPrefix, maxGroups, now}
	if withSource {
		return lookupScript.Eval(ctx, pipe, keys, args...)
	}
	return lookupScript.EvalSha(ctx, pipe, keys, args...)
}

// isNoScript reports a NOSCRIPT reply: Redis does not have the script.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// errLookupReply is returned for a reply lookupScript cannot have sent,
// such as from a proxy that rewrites replies.
var errLookupReply = errors.New("unexpected reply to the queue lookup script")

// decodeLookup decodes the reply of lookupScript.
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

// parseScore parses a score lookupScript returned; empty is no member.
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
