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
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one live asynq server of an endpoint, as its last heartbeat
// describes it. asynq writes the heartbeat every 5s, so a task started or
// finished within the last 5s may not show yet.
type Server struct {
	// Host is os.Hostname() of the server's process. On Kubernetes it is
	// the pod's hostname: its name, cut to 63 characters by the kubelet.
	Host string
	// PID is the process id; a container restarted in the same pod shows
	// as a new PID under the same Host, the old one until its heartbeat
	// expires.
	PID int
	// ID is the server id asynq draws at the server's start.
	ID string
	// Expires is when the heartbeat expires unless the server renews it, to
	// the second: asynq renews it every 5s for 10s.
	Expires time.Time
	// Running counts the tasks the server runs: its workers hash has a
	// field per task.
	Running int64
	// Timed counts the running tasks whose start time was read: each
	// task's WorkerInfo, which holds its payload, is decoded only when it
	// is at most maxWorkerInfoLen bytes and within the budgets of one read
	// (maxTimedTasks, maxTimedBytes). YoungestStart and OldestStart are
	// the latest and the earliest start among them, zero when Timed is 0.
	// Below Running, the other tasks' starts are unknown.
	Timed         int64
	YoungestStart time.Time
	OldestStart   time.Time
	// Status is the server's state as its heartbeat reports it (ServerInfo
	// field status): StatusActive while it takes tasks, StatusStopped once
	// Server.Stop ran (a worker draining), empty when the heartbeat's
	// ServerInfo could not be read (larger than maxServerInfoLen, not a
	// ServerInfo, or the ACL user may not GET it).
	Status string
}

// The values of Server.Status that asynq v0.26 writes (server.go,
// serverState.String) while a server runs.
const (
	StatusActive  = "active"
	StatusStopped = "stopped"
)

// Servers is what one read tells of the asynq servers of an endpoint.
type Servers struct {
	// List holds the live servers in the order of Host, PID and ID; at
	// most maxServers of them, those whose heartbeat expires first.
	List []Server
	// Live counts the servers registered with a heartbeat that has not
	// expired. It is len(List) unless the list was cut at maxServers or a
	// member of asynq:servers is not a key asynq writes (longer than
	// maxServerKeyLen or malformed, or its workers key is not a hash); a
	// server missing from a shorter list is unknown, not gone.
	Live int64
	// Err is set when the servers could not be read: in Redis Cluster
	// (errServersCluster), or when Redis answered the read with an error
	// about its keys (a WRONGTYPE asynq:servers, a NOPERM for an ACL user
	// without the commands listed in the package documentation). List and
	// Live are zero then and say nothing. The queues are read all the same.
	Err error
}

// errServersCluster is Servers.Err in Redis Cluster. Each asynq server
// keeps its workers hash under a hash tag of its own, so the hashes spread
// over the slots and the nodes, and no one script reaches them all.
var errServersCluster = errors.New("the asynq servers are not read in Redis Cluster")

// errServersReply is returned for a reply serversScript cannot have sent.
var errServersReply = errors.New("unexpected reply to the asynq servers script")

// serversScript reads the live asynq servers and what they run. asynq v0.26
// registers each server (heartbeat.go, rdb.WriteServerState) as a member
// asynq:servers:{host:pid:id} of the sorted set asynq:servers, scored by
// the heartbeat's expiry in Unix seconds, and keeps its running tasks in
// the hash asynq:workers:{host:pid:id}: one field per task id, whose value
// is a protobuf WorkerInfo (internal/proto/asynq.proto) with the task's
// payload in field 6 and its start time in field 8, a
// google.protobuf.Timestamp. The member itself is the key of the server's
// ServerInfo (the same proto file), whose field 7 is its status. Both keys expire 10s after each heartbeat. A
// server that stops gracefully removes its member and keys; one that dies
// leaves its member with a past score, which only asynq's Inspector
// removes, so the script reads from now on.
//
// KEYS: 1 asynq:servers. ARGV: 1 now in Unix seconds, 2 maxServers, 3
// maxServerKeyLen, 4 the prefix of the members ("asynq:servers:"), 5 the
// prefix of the workers hashes ("asynq:workers:"), 6 maxTimedTasks, 7
// maxWorkerInfoLen, 8 maxTimedBytes, 9 maxServerInfoLen, 10
// maxQueueNameLen. The workers hashes and the leases are not in KEYS:
// their names come from the members and the WorkerInfos, as asynq's own
// scripts build task keys from ids, which is why the script cannot run in
// Redis Cluster.
//
// The reply is {live, then per server: the member without its prefix,
// the score as Redis formats it, running, timed, the youngest start's
// seconds and nanoseconds, the oldest start's seconds and nanoseconds, the
// status, empty when unknown}.
// A member longer than maxServerKeyLen or without the prefix is skipped,
// and so is a server whose workers key is not a hash (WRONGTYPE): one
// broken key leaves out its server, not all of them.
// The WorkerInfo values are decoded inside Redis: HGET copies a value of
// at most maxWorkerInfoLen bytes into the script, which skips over the
// payload and keeps only the start time. A tenant's payload never crosses
// the network, and one too large is not even copied.
//
// The status is read with STRLEN and GET under pcall, so that an ACL user
// without them still reads the rest (the status is then unknown).
//
// A task listed in a workers hash counts as running only while its lease
// in asynq:{<queue>}:lease (the queue is field 7 of its WorkerInfo) is
// alive at now: the hash is rewritten at each heartbeat, every 5s, so it
// lists a task that finished since, whose lease asynq removed at once. A
// task whose WorkerInfo was not decoded, or whose lease could not be read
// (ZSCORE under pcall), counts as running.
//
// The commands it runs: ZCOUNT and ZRANGEBYSCORE with a LIMIT, O(log n +
// maxServers), one HLEN, STRLEN and GET per server, and for a server with
// running tasks, within the budgets, HKEYS and per task HSTRLEN and, for a
// value of at most maxWorkerInfoLen bytes, HGET and ZSCORE.
var serversScript = redis.NewScript(`
local byte = string.byte
local function varint(s, i, last)
  local v, m = 0, 1
  for j = i, i + 9 do
    if j > last then return nil end
    local b = byte(s, j)
    if b < 128 then return v + b * m, j + 1 end
    v, m = v + (b - 128) * m, m * 128
  end
  return nil
end
-- started returns the start_time of a WorkerInfo, nil when it has none or
-- is malformed, and its queue, nil when it has none. Keys and lengths
-- below 128, one byte, are the common case and read inline: this runs for
-- every running task of every server.
local function started(s)
  local i, last, sec, nsec, q = 1, #s, nil, nil, nil
  while i <= last do
    local key, n = byte(s, i, i + 1)
    if key < 128 then i = i + 1 else key, i = varint(s, i, last) if not key then return nil end n = byte(s, i) end
    local wire = key % 8
    if wire == 2 then
      if not n then return nil end
      if n < 128 then i = i + 1 else n, i = varint(s, i, last) if not n then return nil end end
      local stop = i + n
      if stop > last + 1 then return nil end
      if key == 58 then q = string.sub(s, i, stop - 1) end
      if key == 66 then
        sec, nsec = 0, 0
        while i < stop do
          local k, v
          k, i = varint(s, i, stop - 1)
          if not k or k % 8 ~= 0 then return nil end
          v, i = varint(s, i, stop - 1)
          if not v then return nil end
          if k == 8 then sec = v elseif k == 16 then nsec = v end
        end
        if sec > 1e11 or nsec >= 1e9 then return nil end
      end
      i = stop
    elseif wire == 0 then
      key, i = varint(s, i, last)
      if not key then return nil end
    elseif wire == 1 then i = i + 8
    elseif wire == 5 then i = i + 4
    else return nil end
  end
  if i ~= last + 1 then return nil end
  return sec, nsec, q
end
-- status returns field 7 of a ServerInfo, "" when it has none or is
-- malformed.
local function status(s)
  local i, last = 1, #s
  while i <= last do
    local key, n
    key, i = varint(s, i, last)
    if not key then return "" end
    local wire = key % 8
    if wire == 2 then
      n, i = varint(s, i, last)
      if not n or i + n > last + 1 then return "" end
      if key == 58 then return string.sub(s, i, i + n - 1) end
      i = i + n
    elseif wire == 0 then
      n, i = varint(s, i, last)
      if not n then return "" end
    elseif wire == 1 then i = i + 8
    elseif wire == 5 then i = i + 4
    else return "" end
  end
  return ""
end

local live = redis.call("ZCOUNT", KEYS[1], ARGV[1], "+inf")
local out = {live}
if live == 0 then return out end
local members = redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[1], "+inf", "WITHSCORES", "LIMIT", 0, ARGV[2])
local maxKey, prefix, wprefix = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local tasks, maxInfo, bytes = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local maxServerInfo, now, maxQueueLen = tonumber(ARGV[9]), tonumber(ARGV[1]), tonumber(ARGV[10])
for i = 1, #members, 2 do
  local m = members[i]
  if string.len(m) <= maxKey and string.sub(m, 1, string.len(prefix)) == prefix then
    local name = string.sub(m, string.len(prefix) + 1)
    local wkey = wprefix .. name
    local running = redis.pcall("HLEN", wkey)
    if type(running) == "table" then
      if not string.find(running.err or "", "^WRONGTYPE") then return redis.error_reply(running.err) end
      running = nil
    end
    local timed, ys, yn, olds, oldn = 0, 0, 0, 0, 0
    if running and running > 0 and running <= tasks then
      tasks = tasks - running
      for _, id in ipairs(redis.call("HKEYS", wkey)) do
        local n = redis.call("HSTRLEN", wkey, id)
        if n <= maxInfo and n <= bytes then
          bytes = bytes - n
          local sec, nsec, q = started(redis.call("HGET", wkey, id) or "")
          -- The hash is rewritten at each heartbeat only, so it still
          -- lists for up to 5s a task that has finished since; asynq
          -- removes a finished task's lease at once, and a live worker's
          -- lease is 25s or more ahead. A task whose lease is gone or has
          -- expired runs no more and is not counted.
          if sec and q and string.len(q) <= maxQueueLen then
            local lease = redis.pcall("ZSCORE", "asynq:{" .. q .. "}:lease", id)
            if lease == false or (type(lease) == "string" and tonumber(lease) < now) then
              sec, running = nil, running - 1
            end
          end
          if sec then
            if timed == 0 or sec > ys or (sec == ys and nsec > yn) then ys, yn = sec, nsec end
            if timed == 0 or sec < olds or (sec == olds and nsec < oldn) then olds, oldn = sec, nsec end
            timed = timed + 1
          end
        end
      end
    end
    if running then
      local st = ""
      local n = redis.pcall("STRLEN", m)
      if type(n) == "number" and n > 0 and n <= maxServerInfo then
        local v = redis.pcall("GET", m)
        if type(v) == "string" then st = status(v) end
      end
      table.insert(out, name)
      table.insert(out, members[i + 1])
      table.insert(out, running)
      table.insert(out, timed)
      table.insert(out, ys)
      table.insert(out, yn)
      table.insert(out, olds)
      table.insert(out, oldn)
      table.insert(out, st)
    end
  end
end
return out
`)

const (
	// maxServers bounds the servers one read returns. A server takes about
	// 150 bytes of the reply with a pod name for host and asynq's UUID for
	// id (maxServerKeyLen and seven numbers at most), so 10000 servers are
	// about 1.5 MB. With more live servers, those whose heartbeat expires
	// first are returned and Servers.Live tells how many there are.
	maxServers = 10000
	// maxServerKeyLen bounds a member of asynq:servers the reader takes:
	// the prefix (14 bytes), a host name of up to 253, a pid, a server id
	// (asynq's are UUIDs, 36 bytes) and the punctuation fit with room to
	// spare. A longer member is none asynq writes.
	maxServerKeyLen = 384
	// maxTimedTasks bounds the tasks whose WorkerInfo one read looks at,
	// over all servers: a server whose running tasks do not fit in what is
	// left is counted (Running) but not timed.
	maxTimedTasks = 10000
	// maxWorkerInfoLen bounds a WorkerInfo the reader decodes: it holds the
	// task's payload, whose size the tenant chooses. A larger one is left
	// in place (HSTRLEN tells without reading it) and its start unknown.
	maxWorkerInfoLen = 64 << 10
	// maxTimedBytes bounds the WorkerInfo bytes one read decodes, over all
	// servers.
	maxTimedBytes = 8 << 20
	// maxServerInfoLen bounds a ServerInfo the reader decodes for its
	// status. It lists the server's queues, so its size grows with them;
	// a larger one leaves the status unknown.
	maxServerInfoLen = 16 << 10
	// maxQueueNameLen bounds the queue name of a WorkerInfo whose task's
	// lease the reader looks up; a task of a longer one counts as running.
	maxQueueNameLen = 1024
)

// serverKeyPrefix and workersKeyPrefix are asynq's prefixes of a server's
// heartbeat key and of its workers hash (internal/base/base.go
// ServerInfoKey, WorkersKey); allServers is the sorted set of the former.
const (
	allServers       = "asynq:servers"
	serverKeyPrefix  = "asynq:servers:"
	workersKeyPrefix = "asynq:workers:"
)

// evalServers adds the servers read at now, in Unix seconds, to pipe.
func evalServers(ctx context.Context, pipe redis.Pipeliner, now int64, withSource bool) *redis.Cmd {
	keys := []string{allServers}
	args := []any{now, maxServers, maxServerKeyLen, serverKeyPrefix, workersKeyPrefix, maxTimedTasks,
		maxWorkerInfoLen, maxTimedBytes, maxServerInfoLen, maxQueueNameLen}
	if withSource {
		return serversScript.Eval(ctx, pipe, keys, args...)
	}
	return serversScript.EvalSha(ctx, pipe, keys, args...)
}

// serverFields is the number of reply elements per server.
const serverFields = 9

// decodeServers decodes the reply of serversScript. A member that is not
// {host:pid:id} is left out, as the script leaves out those it cannot use.
func decodeServers(v any) (Servers, error) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 || (len(a)-1)%serverFields != 0 || (len(a)-1)/serverFields > maxServers {
		return Servers{}, errServersReply
	}
	live, ok := a[0].(int64)
	if !ok || live < int64((len(a)-1)/serverFields) {
		return Servers{}, errServersReply
	}
	out := Servers{Live: live, List: make([]Server, 0, (len(a)-1)/serverFields)}
	for f := a[1:]; len(f) > 0; f = f[serverFields:] {
		name, ok1 := f[0].(string)
		score, ok2 := f[1].(string)
		status, ok3 := f[8].(string)
		var n [6]int64
		ok := ok1 && ok2 && ok3 && len(name) <= maxServerKeyLen && len(status) <= maxServerKeyLen
		for i := range n {
			var isInt bool
			n[i], isInt = f[2+i].(int64)
			ok = ok && isInt && n[i] >= 0
		}
		running, timed := n[0], n[1]
		if !ok || timed > running || n[2] > maxUnixSeconds || n[3] >= 1e9 || n[4] > maxUnixSeconds || n[5] >= 1e9 {
			return Servers{}, errServersReply
		}
		expires, err := strconv.ParseFloat(score, 64)
		if err != nil || math.IsNaN(expires) || math.IsInf(expires, 0) {
			return Servers{}, fmt.Errorf("%w: score %q", errServersReply, score)
		}
		s, ok := parseServerName(name)
		if !ok {
			continue
		}
		s.Expires = time.Unix(int64(min(max(expires, 0), maxUnixSeconds)), 0)
		s.Running, s.Timed, s.Status = running, timed, status
		if timed > 0 {
			s.YoungestStart, s.OldestStart = time.Unix(n[2], n[3]), time.Unix(n[4], n[5])
		}
		out.List = append(out.List, s)
	}
	slices.SortFunc(out.List, func(x, y Server) int {
		return cmp.Or(strings.Compare(x.Host, y.Host), cmp.Compare(x.PID, y.PID), strings.Compare(x.ID, y.ID))
	})
	return out, nil
}

// maxUnixSeconds keeps an expiry far in the future within time.Time's
// Unix range; the script bounds start times the same way.
const maxUnixSeconds = 1e11

// parseServerName splits "{host:pid:id}", the part of a server's key
// after its prefix. The host is everything before the last two colons, so
// a host with a colon in it still parses.
func parseServerName(name string) (Server, bool) {
	inner, ok1 := strings.CutPrefix(name, "{")
	inner, ok2 := strings.CutSuffix(inner, "}")
	if !ok1 || !ok2 {
		return Server{}, false
	}
	rest, id, ok1 := cutLast(inner, ":")
	host, pid, ok2 := cutLast(rest, ":")
	if !ok1 || !ok2 || host == "" || id == "" {
		return Server{}, false
	}
	p, err := strconv.Atoi(pid)
	if err != nil || p < 0 {
		return Server{}, false
	}
	return Server{Host: host, PID: p, ID: id}, true
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
