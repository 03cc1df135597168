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

package scaling

// Tenants that share a Redis endpoint share its read: what one writes to its
// own queues must not fail or slow the read of the others, nor make the
// operator hold its data.

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/types"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// slowLink is a TCP proxy in front of a redis-server that caps the bandwidth
// from the server to the client, as a slow network between the operator and
// Redis does.
type slowLink struct {
	Addr string
}

// startSlowLink proxies to target at bytesPerSec from the server.
func startSlowLink(t *testing.T, target string, bytesPerSec int64) *slowLink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(cs ...net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, cs...)
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.DialTimeout("tcp", target, time.Second)
			if err != nil {
				_ = c.Close()
				continue
			}
			track(c, s)
			wg.Go(func() {
				_, _ = io.Copy(s, c)
				_ = s.Close()
			})
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(int64(n) * int64(time.Second) / bytesPerSec))
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &slowLink{Addr: l.Addr().String()}
}

// TestAutoscalerTenantValuesDoNotFailTheSharedRead: two tenants share an
// endpoint behind a 100 Mbit/s link. The hostile one stores 40 MB values
// in its own queue's keys: the processed counter, the tail of the pending
// list and a scheduled task's member. Read as they are, they would travel
// in the one pipeline both QueueWorkers share and stretch it past the 2 s
// read timeout, failing the victim's read with its own queue fine. Neither
// read fails, and the victim scales on its own backlog.
func TestAutoscalerTenantValuesDoNotFailTheSharedRead(t *testing.T) {
	srv := startRedis(t)
	link := startSlowLink(t, srv.Addr, 12_500_000)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	const big = 40 << 20
	ctx := t.Context()
	if err := rdb.Set(ctx, "asynq:{evil}:processed", strings.Repeat("9", big), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.RPush(ctx, "asynq:{evil}:pending", strings.Repeat("x", big)).Err(); err != nil {
		t.Fatal(err)
	}
	due := redis.Z{Score: float64(time.Now().Unix() - 60), Member: strings.Repeat("s", big)}
	if err := rdb.ZAdd(ctx, "asynq:{evil}:scheduled", due).Err(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, srv.Addr, "victim", 12) // 12 / 4 = 3

	a, _ := manualAutoscaler(t)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 10}
	victim := types.NamespacedName{Namespace: "team-a", Name: "victim"}
	evil := types.NamespacedName{Namespace: "team-evil", Name: "evil"}
	update(t, a, victim, testTarget(victim, link.Addr, as, 1, "victim"))
	update(t, a, evil, testTarget(evil, link.Addr, as, 1, "evil"))
	pollAll(t, a)

	if r := latest(a, victim); r.Err != nil || r.Decision.DesiredReplicas != 3 {
		t.Errorf("victim: err %v, %d by %s; want its own queue read and 3 replicas",
			r.Err, r.Decision.DesiredReplicas, r.Decision.Rule)
	}
	r := latest(a, evil)
	if r.Err != nil || len(r.Stats) != 1 {
		t.Fatalf("evil: err %v, stats %+v; want its queue read", r.Err, r.Stats)
	}
	if s := r.Stats[0]; s.Pending != 1 || s.Scheduled != 1 || s.OldestKnown || s.Tail != "" {
		t.Errorf("evil: %+v, want 1 pending of unknown age and no tail id, 1 scheduled", s)
	}
}

// TestAutoscalerKeepsNoTenantSizedTail: a tenant pushes one 32 MB element
// to the tail of each of three pending lists. The operator keeps the tail's
// id between polls (to bound the oldest task's age) and the last read in
// each result; neither may hold the tenant's data.
func TestAutoscalerKeepsNoTenantSizedTail(t *testing.T) {
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	const size = 32 << 20
	queues := []string{"fat1", "fat2", "fat3"}
	for _, q := range queues {
		if err := rdb.RPush(t.Context(), "asynq:{"+q+"}:pending", strings.Repeat("x", size)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := manualAutoscaler(t)
	name := types.NamespacedName{Namespace: "team-evil", Name: "fat"}
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 10}
	update(t, a, name, testTarget(name, srv.Addr, as, 1, queues...))

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	pollAll(t, a)
	after := heap()
	t.Logf("heap before the poll %d MB, after %d MB", before>>20, after>>20)
	if retained := int64(after) - int64(before); retained > 8<<20 {
		t.Errorf("the operator retains %d MB after one poll of 3 queues whose tails are %d MB each",
			retained>>20, size>>20)
	}
	r := latest(a, name)
	if r.Err != nil || len(r.Stats) != len(queues) {
		t.Fatalf("result: err %v, %d stats", r.Err, len(r.Stats))
	}
	for _, s := range r.Stats {
		if s.Pending != 1 || s.Tail != "" || s.OldestKnown {
			t.Errorf("%s: pending %d, tail of %d bytes, known %v; want 1 pending of unknown age, no tail",
				s.Queue, s.Pending, len(s.Tail), s.OldestKnown)
		}
	}
	runtime.KeepAlive(a)
}
