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
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// heartbeat is what an asynq server writes about itself, for tests that
// need exact times, many servers or values asynq would not write.
type heartbeat struct {
	host string
	pid  int
	id   string
	// expires is the score in asynq:servers.
	expires time.Time
	tasks   []runningTask
	// status is the ServerInfo's status; the key holds no ServerInfo when
	// it is empty.
	status string
}

// runningTask is one field of a workers hash.
type runningTask struct {
	id      string
	started time.Time
	payload []byte
	// raw, when set, is the value as is instead of an encoded WorkerInfo.
	raw []byte
	// lease is the expiry of the task's lease in its queue ("default"),
	// 30s after the heartbeat's when zero, alive as long as the heartbeat
	// is, as asynq's heartbeat keeps it; noLease writes
	// none, as for a task that has finished since the heartbeat.
	lease   time.Time
	noLease bool
}

// name is the part of the server's keys after their prefix.
func (h heartbeat) name() string {
	return fmt.Sprintf("{%s:%d:%s}", h.host, h.pid, h.id)
}

// writeHeartbeats writes servers the way asynq's heartbeater does
// (rdb.WriteServerState): the member and score in asynq:servers and
// asynq:workers, the server's key, and the workers hash with an encoded
// WorkerInfo per task. The keys get no TTL, so the tests' fixed clock, not
// the real one, decides which heartbeats are live.
func writeHeartbeats(t testing.TB, rdb redis.UniversalClient, servers ...heartbeat) {
	t.Helper()
	ctx := t.Context()
	pipe := rdb.Pipeline()
	for _, h := range servers {
		skey, wkey := serverKeyPrefix+h.name(), workersKeyPrefix+h.name()
		score := float64(h.expires.Unix())
		info := []byte("server info")
		if h.status != "" {
			info = serverInfo(h)
		}
		pipe.Set(ctx, skey, info, 0)
		pipe.ZAdd(ctx, allServers, redis.Z{Score: score, Member: skey})
		pipe.ZAdd(ctx, "asynq:workers", redis.Z{Score: score, Member: wkey})
		for _, tk := range h.tasks {
			v := tk.raw
			if v == nil {
				v = workerInfo(h, tk)
			}
			pipe.HSet(ctx, wkey, tk.id, v)
			if !tk.noLease {
				lease := tk.lease
				if lease.IsZero() {
					lease = h.expires.Add(30 * time.Second)
				}
				pipe.ZAdd(ctx, "asynq:{default}:lease", redis.Z{Score: float64(lease.Unix()), Member: tk.id})
			}
		}
		if pipe.Len() > 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// workerInfo encodes the WorkerInfo of asynq v0.26's
// internal/proto/asynq.proto as base.EncodeWorkerInfo fills it, field by
// field in number order as proto.Marshal writes them.
func workerInfo(h heartbeat, tk runningTask) []byte {
	var b []byte
	str := func(n protowire.Number, s string) {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	str(1, h.host)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(h.pid))
	str(3, h.id)
	str(4, tk.id)
	str(5, "test:hold")
	b = protowire.AppendTag(b, 6, protowire.BytesType)
	b = protowire.AppendBytes(b, tk.payload)
	str(7, "default")
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, timestamp(tk.started))
	// No deadline: asynq encodes the zero time, a negative second.
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, timestamp(time.Time{}))
	return b
}

// serverInfo encodes the ServerInfo of asynq v0.26's
// internal/proto/asynq.proto as base.EncodeServerInfo fills it, with one
// queue.
func serverInfo(h heartbeat) []byte {
	var b []byte
	str := func(n protowire.Number, s string) {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	str(1, h.host)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(h.pid))
	str(3, h.id)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, 4)
	var entry []byte
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "default")
	entry = protowire.AppendTag(entry, 2, protowire.VarintType)
	entry = protowire.AppendVarint(entry, 1)
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	b = protowire.AppendBytes(b, entry)
	str(7, h.status)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, timestamp(h.expires.Add(-time.Hour)))
	b = protowire.AppendTag(b, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(len(h.tasks)))
	return b
}

// timestamp encodes a google.protobuf.Timestamp, leaving out zero fields
// as proto3 does.
func timestamp(t time.Time) []byte {
	var b []byte
	if s := t.Unix(); s != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s))
	}
	if n := t.Nanosecond(); n != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(n))
	}
	return b
}

// readServers reads the servers of the shared server with one queue.
func readServers(t *testing.T, rdb redis.UniversalClient, at time.Time) Servers {
	t.Helper()
	r, err := ReadStats(t.Context(), rdb, []string{"q"}, at, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Queues["q"]; s.Err != nil {
		t.Fatalf("queue q: %v", s.Err)
	}
	return r.Servers
}

// TestReadStatsServers: every live server with its running tasks and the
// start of the youngest and the oldest, to the nanosecond; servers whose
// heartbeat expired are left out, and so are members asynq does not write,
// which count as live but unknown.
func TestReadStatsServers(t *testing.T) {
	rdb := newReader(t)
	live := now.Add(8 * time.Second)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	writeHeartbeats(t, rdb,
		heartbeat{host: "worker-a", pid: 1, id: "idle", expires: live, status: StatusStopped},
		heartbeat{host: "worker-b", pid: 1, id: "one", expires: live, status: StatusActive,
			tasks: []runningTask{{id: "t1", started: at(-3*time.Second + 7)}}},
		heartbeat{host: "worker-c", pid: 7, id: "three", expires: live, tasks: []runningTask{
			{id: "t2", started: at(-time.Minute + 1)},
			{id: "t3", started: at(-time.Second), payload: []byte(`{"to":"a@example.com"}`)},
			{id: "t4", started: at(-time.Minute)},
		}},
		// Two servers of one pod: a container restarted, its old heartbeat
		// not expired yet.
		heartbeat{host: "worker-d", pid: 1, id: "new", expires: live},
		heartbeat{host: "worker-d", pid: 9, id: "old", expires: now,
			tasks: []runningTask{{id: "t5", started: at(-time.Hour)}}},
		heartbeat{host: "worker-e", pid: 1, id: "expired", expires: now.Add(-time.Second),
			tasks: []runningTask{{id: "t6", started: at(-time.Hour)}}},
		heartbeat{host: "worker-f", pid: 1, id: "dead", expires: now.Add(-time.Hour)},
		// Values asynq does not write: counted, not timed.
		heartbeat{host: "worker-g", pid: 1, id: "odd", expires: live, tasks: []runningTask{
			{id: "garbage", raw: []byte("\xff\xff\xff")},
			{id: "no-start", raw: protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "worker-g")},
			{id: "empty", raw: []byte{}},
			{id: "ok", started: at(-2 * time.Second)},
		}},
	)
	// Members asynq does not write, live by their score.
	ctx := t.Context()
	for _, m := range []string{"asynq:servers:{no-pid}", "asynq:servers:{host:x:id}", "elsewhere:{h:1:id}",
		serverKeyPrefix + "{" + strings.Repeat("h", maxServerKeyLen) + ":1:id}"} {
		if err := rdb.ZAdd(ctx, allServers, redis.Z{Score: float64(live.Unix()), Member: m}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A workers key that is not a hash leaves out its server alone.
	writeHeartbeats(t, rdb, heartbeat{host: "worker-h", pid: 1, id: "broken", expires: live})
	if err := rdb.Set(ctx, workersKeyPrefix+"{worker-h:1:broken}", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	got := readServers(t, rdb, now)
	if got.Err != nil {
		t.Fatal(got.Err)
	}
	exp := time.Unix(live.Unix(), 0)
	want := []Server{
		{Host: "worker-a", PID: 1, ID: "idle", Expires: exp, Status: StatusStopped},
		{Host: "worker-b", PID: 1, ID: "one", Expires: exp, Running: 1, Timed: 1, Status: StatusActive,
			YoungestStart: at(-3*time.Second + 7), OldestStart: at(-3*time.Second + 7)},
		{Host: "worker-c", PID: 7, ID: "three", Expires: exp, Running: 3, Timed: 3,
			YoungestStart: at(-time.Second), OldestStart: at(-time.Minute)},
		{Host: "worker-d", PID: 1, ID: "new", Expires: exp},
		// Expiring this second: still live, as asynq's Inspector reads it.
		{Host: "worker-d", PID: 9, ID: "old", Expires: time.Unix(now.Unix(), 0), Running: 1, Timed: 1,
			YoungestStart: at(-time.Hour), OldestStart: at(-time.Hour)},
		{Host: "worker-g", PID: 1, ID: "odd", Expires: exp, Running: 4, Timed: 1,
			YoungestStart: at(-2 * time.Second), OldestStart: at(-2 * time.Second)},
	}
	if !slices.EqualFunc(got.List, want, sameServer) {
		t.Errorf("servers:\n%s\nwant\n%s", describe(got.List), describe(want))
	}
	// 6 listed, 4 members asynq does not write, 1 with a broken hash.
	if got.Live != 11 {
		t.Errorf("live = %d, want 11", got.Live)
	}

	// Ten seconds on, with no new heartbeat, every server has expired.
	if later := readServers(t, rdb, now.Add(10*time.Second)); later.Err != nil || later.Live != 0 || len(later.List) != 0 {
		t.Errorf("10s later: %+v, want no live server", later)
	}
}

// TestReadStatsServersLeasedTasksOnly: a task listed in a workers hash
// runs only while its lease is alive. One that finished after the last
// heartbeat (no lease) or whose worker lost Redis (expired lease) is not
// counted, nor timed; one whose WorkerInfo names no queue, or that was not
// decoded, is counted as the heartbeat says.
func TestReadStatsServersLeasedTasksOnly(t *testing.T) {
	rdb := newReader(t)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	live := now.Add(8 * time.Second)
	noQueue := protowire.AppendString(protowire.AppendTag(nil, 4, protowire.BytesType), "t5")
	noQueue = protowire.AppendBytes(protowire.AppendTag(noQueue, 8, protowire.BytesType), timestamp(at(-time.Hour)))
	writeHeartbeats(t, rdb, heartbeat{host: "worker", pid: 1, id: "s", expires: live, tasks: []runningTask{
		{id: "t1", started: at(-10 * time.Second)},
		{id: "t2", started: at(-20 * time.Second), noLease: true},
		{id: "t3", started: at(-30 * time.Second), lease: at(-time.Second)},
		{id: "t4", started: at(-5 * time.Second), lease: now},
		{id: "t5", raw: noQueue},
	}})
	got := readServers(t, rdb, now)
	want := []Server{{Host: "worker", PID: 1, ID: "s", Expires: time.Unix(live.Unix(), 0), Running: 3, Timed: 3,
		YoungestStart: at(-5 * time.Second), OldestStart: at(-time.Hour)}}
	if got.Err != nil || !slices.EqualFunc(got.List, want, sameServer) {
		t.Errorf("servers: %v\n%s\nwant\n%s", got.Err, describe(got.List), describe(want))
	}
}

// sameServer compares servers with time.Time.Equal.
func sameServer(a, b Server) bool {
	return a.Host == b.Host && a.PID == b.PID && a.ID == b.ID && a.Expires.Equal(b.Expires) &&
		a.Running == b.Running && a.Timed == b.Timed && a.Status == b.Status &&
		a.YoungestStart.Equal(b.YoungestStart) && a.OldestStart.Equal(b.OldestStart)
}

func describe(servers []Server) string {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "  %s:%d:%s expires %d running %d timed %d status %q youngest %s oldest %s\n", s.Host, s.PID, s.ID,
			s.Expires.Unix(), s.Running, s.Timed, s.Status, s.YoungestStart.Format(time.RFC3339Nano), s.OldestStart.Format(time.RFC3339Nano))
	}
	return b.String()
}

// TestReadStatsServersTenantSizedValues: a task's payload, which its
// tenant chooses, never leaves Redis, nor does a member of asynq:servers
// of any size; the read receives a few hundred bytes. A WorkerInfo is
// decoded up to maxWorkerInfoLen.
func TestReadStatsServersTenantSizedValues(t *testing.T) {
	const big = 32 << 20
	started := now.Add(-time.Minute)
	hb := heartbeat{host: "worker", pid: 1, id: "s", expires: now.Add(8 * time.Second)}
	// The payload that brings a WorkerInfo to exactly maxWorkerInfoLen.
	fits := func() []byte {
		h := hb
		n := maxWorkerInfoLen - len(workerInfo(h, runningTask{id: "t2", started: started}))
		for p := make([]byte, n); ; p = p[:len(p)-1] {
			if len(workerInfo(h, runningTask{id: "t2", started: started, payload: p})) <= maxWorkerInfoLen {
				return p
			}
		}
	}()
	tests := []struct {
		name   string
		tasks  []runningTask
		member string
		want   Server
	}{
		{name: "a payload of 32 MB", tasks: []runningTask{
			{id: "t1", started: started, payload: make([]byte, big)},
			{id: "t2", started: started.Add(time.Second)},
		}, want: Server{Running: 2, Timed: 1, YoungestStart: started.Add(time.Second), OldestStart: started.Add(time.Second)}},
		{name: "a WorkerInfo at the bound", tasks: []runningTask{{id: "t2", started: started, payload: fits}},
			want: Server{Running: 1, Timed: 1, YoungestStart: started, OldestStart: started}},
		{name: "a WorkerInfo a byte over the bound", tasks: []runningTask{{id: "t2", started: started, payload: append(fits, 'x')}},
			want: Server{Running: 1}},
		// The id is in the WorkerInfo too, which is then too large.
		{name: "a task id of 32 MB", tasks: []runningTask{{id: strings.Repeat("i", big), started: started}},
			want: Server{Running: 1}},
		{name: "a member of asynq:servers of 32 MB", member: serverKeyPrefix + "{" + strings.Repeat("h", big) + ":1:id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &counter{}
			rdb := newReader(t, h)
			hb := hb
			hb.tasks = tt.tasks
			writeHeartbeats(t, rdb, hb)
			if tt.member != "" {
				if err := rdb.ZAdd(t.Context(), allServers, redis.Z{Score: float64(hb.expires.Unix()), Member: tt.member}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			h.reset()
			got := readServers(t, rdb, now)
			if n := h.received.Load(); n > 4<<10 {
				t.Errorf("the read received %d bytes, want at most 4 KiB", n)
			}
			want := tt.want
			want.Host, want.PID, want.ID, want.Expires = hb.host, hb.pid, hb.id, time.Unix(hb.expires.Unix(), 0)
			if got.Err != nil || len(got.List) != 1 || !sameServer(got.List[0], want) {
				t.Errorf("servers = %v:\n%s\nwant\n%s", got.Err, describe(got.List), describe([]Server{want}))
			}
			wantLive := int64(1)
			if tt.member != "" {
				wantLive = 2
			}
			if got.Live != wantLive {
				t.Errorf("live = %d, want %d", got.Live, wantLive)
			}
		})
	}
}

// TestReadStatsServersBound: at most maxServers servers, those whose
// heartbeat expires first; Live says how many more there are.
func TestReadStatsServersBound(t *testing.T) {
	for _, n := range []int{maxServers, maxServers + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rdb := newReader(t)
			hbs := make([]heartbeat, n)
			for i := range hbs {
				// The last one written expires last.
				hbs[i] = heartbeat{host: fmt.Sprintf("w%05d", i), pid: 1, id: "s", expires: now.Add(time.Duration(1+i/1000) * time.Second)}
			}
			writeHeartbeats(t, rdb, hbs...)
			got := readServers(t, rdb, now)
			if got.Err != nil || got.Live != int64(n) || len(got.List) != maxServers {
				t.Fatalf("%d live servers: err %v, live %d, %d listed; want %d live, %d listed", n, got.Err, got.Live, len(got.List), n, maxServers)
			}
			if last := got.List[len(got.List)-1].Host; last != fmt.Sprintf("w%05d", maxServers-1) {
				t.Errorf("the last listed is %s, want the one of the %d expiring first", last, maxServers)
			}
		})
	}
}

// TestReadStatsServersError: an error reply to the servers' read fails it
// alone; the queues read as usual.
func TestReadStatsServersError(t *testing.T) {
	rdb := newReader(t)
	pushPending(t, rdb, "q", task{"a", "1"})
	if err := rdb.Set(t.Context(), allServers, "not a sorted set", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := ReadStats(t.Context(), rdb, []string{"q"}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Queues["q"]; s.Err != nil || s.Pending != 1 {
		t.Errorf("q = %+v, want 1 pending", s)
	}
	if r.Servers.Err == nil || !strings.Contains(r.Servers.Err.Error(), "WRONGTYPE") || r.Servers.Live != 0 || r.Servers.List != nil {
		t.Errorf("servers = %+v, want a WRONGTYPE error and nothing else", r.Servers)
	}

	r, err = ReadStats(t.Context(), rdb, nil, now, 0)
	if err != nil || !errors.Is(r.Servers.Err, errServersNotRead) {
		t.Errorf("a read of no queues: %+v, %v; want the servers not read", r.Servers, err)
	}
}

// TestDecodeServers: a reply the script cannot have sent is an error.
func TestDecodeServers(t *testing.T) {
	numbers := func(name, score string, n ...int64) []any {
		out := make([]any, 0, 2+len(n))
		out = append(out, name, score)
		for _, v := range n {
			out = append(out, v)
		}
		return out
	}
	server := func(name, score string, n ...int64) []any {
		return append(numbers(name, score, n...), "active")
	}
	ok := server("{h:1:s}", "1760000008", 2, 1, 1760000000, 5, 1759999000, 0)
	tests := []struct {
		name    string
		reply   any
		want    int
		wantErr bool
	}{
		{name: "none", reply: []any{int64(0)}},
		{name: "one", reply: append([]any{int64(1)}, ok...), want: 1},
		{name: "one unknown member", reply: append([]any{int64(1)}, server("{h:s}", "1", 0, 0, 0, 0, 0, 0)...)},
		{name: "not an array", reply: "x", wantErr: true},
		{name: "empty", reply: []any{}, wantErr: true},
		{name: "a field short", reply: append([]any{int64(1)}, ok[:8]...), wantErr: true},
		{name: "a status that is no string",
			reply: append(append([]any{int64(1)}, numbers("{h:1:s}", "1", 0, 0, 0, 0, 0, 0)...), int64(1)), wantErr: true},
		{name: "fewer live than listed", reply: append([]any{int64(0)}, ok...), wantErr: true},
		{name: "more timed than running", reply: append([]any{int64(1)}, server("{h:1:s}", "1", 1, 2, 0, 0, 0, 0)...), wantErr: true},
		{name: "a negative count", reply: append([]any{int64(1)}, server("{h:1:s}", "1", -1, 0, 0, 0, 0, 0)...), wantErr: true},
		{name: "nanoseconds over a second", reply: append([]any{int64(1)}, server("{h:1:s}", "1", 1, 1, 1, 1e9, 1, 0)...), wantErr: true},
		{name: "a score that is no number", reply: append([]any{int64(1)}, server("{h:1:s}", "soon", 0, 0, 0, 0, 0, 0)...), wantErr: true},
		{name: "a name over the bound",
			reply: append([]any{int64(1)}, server("{"+strings.Repeat("h", maxServerKeyLen)+":1:s}", "1", 0, 0, 0, 0, 0, 0)...), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeServers(tt.reply)
			if tt.wantErr {
				if !errors.Is(err, errServersReply) {
					t.Errorf("got %+v, %v, want errServersReply", got, err)
				}
				return
			}
			if err != nil || len(got.List) != tt.want {
				t.Errorf("got %+v, %v, want %d servers", got, err, tt.want)
			}
		})
	}
	for name, want := range map[string]bool{
		"{h:1:s}": true, "{a:b:1:s}": true, "{h:1:}": false, "{:1:s}": false, "{h:-1:s}": false, "h:1:s": false, "{h:1:s": false,
	} {
		if _, ok := parseServerName(name); ok != want {
			t.Errorf("parseServerName(%q) ok = %v, want %v", name, ok, want)
		}
	}
}
