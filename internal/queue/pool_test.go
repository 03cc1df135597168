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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// countingFactory builds real clients, counts them, and adds hook h to
// each when h is set.
func countingFactory(builds *atomic.Int64, h redis.Hook) Factory {
	return func(ep resources.RedisEndpoint, creds Credentials) (redis.UniversalClient, error) {
		builds.Add(1)
		rdb, err := NewUniversalClient(ep, creds)
		if err == nil && h != nil {
			rdb.AddHook(h)
		}
		return rdb, err
	}
}

func TestPoolSharesOneClientPerEndpoint(t *testing.T) {
	newReader(t) // empties the server
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, nil))
	t.Cleanup(func() { _ = p.Close() })
	ctx := t.Context()
	creds := Credentials{}

	a, releaseA, err := p.Acquire(standalone(), creds)
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := p.Acquire(standalone(), creds)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || p.Len() != 1 || builds.Load() != 1 {
		t.Fatalf("two users: same client %v, Len %d, built %d, want true, 1, 1", a == b, p.Len(), builds.Load())
	}

	releaseA()
	releaseA() // a second release must not take b's reference
	if p.Len() != 1 {
		t.Fatalf("after one release: Len %d, want 1", p.Len())
	}
	if err := b.Redis().Ping(ctx).Err(); err != nil {
		t.Fatalf("the remaining user's client: %v", err)
	}

	releaseB()
	if p.Len() != 0 {
		t.Fatalf("after both released: Len %d, want 0", p.Len())
	}
	if err := b.Redis().Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("client after the last release: Ping = %v, want %v", err, redis.ErrClosed)
	}

	c, releaseC, err := p.Acquire(standalone(), creds)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseC()
	if c == b || builds.Load() != 2 {
		t.Errorf("acquire after close: reused closed client %v, built %d, want false, 2", c == b, builds.Load())
	}
}

func TestPoolKeysByEndpointAndCredentials(t *testing.T) {
	pki := newTestPKI(t)
	base := resources.RedisEndpoint{
		Mode: contract.ModeSentinel, MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"},
		Username: "op", Password: &resources.SecretKey{Name: "redis", Key: "password"},
	}
	baseCreds := Credentials{Password: "hunter2"}
	tests := []struct {
		name  string
		edit  func(*resources.RedisEndpoint, *Credentials)
		share bool
	}{
		{name: "identical", edit: func(*resources.RedisEndpoint, *Credentials) {}, share: true},
		{name: "sentinels in another order", edit: func(e *resources.RedisEndpoint, _ *Credentials) {
			e.Addrs = []string{"s2:26379", "s1:26379"}
		}, share: true},
		{name: "same password from another Secret", edit: func(e *resources.RedisEndpoint, _ *Credentials) {
			e.Password = &resources.SecretKey{Name: "other", Key: "pw"}
		}, share: true},
		{name: "another password", edit: func(_ *resources.RedisEndpoint, c *Credentials) { c.Password = "hunter3" }},
		{name: "no password", edit: func(_ *resources.RedisEndpoint, c *Credentials) { c.Password = "" }},
		{name: "another user", edit: func(e *resources.RedisEndpoint, _ *Credentials) { e.Username = "admin" }},
		{name: "another db", edit: func(e *resources.RedisEndpoint, _ *Credentials) { e.DB = 3 }},
		{name: "another master", edit: func(e *resources.RedisEndpoint, _ *Credentials) { e.MasterName = "other" }},
		{name: "another sentinel", edit: func(e *resources.RedisEndpoint, _ *Credentials) { e.Addrs = []string{"s1:26379"} }},
		{name: "TLS", edit: func(e *resources.RedisEndpoint, _ *Credentials) { e.TLS = true }},
		{name: "TLS with a CA", edit: func(e *resources.RedisEndpoint, c *Credentials) { e.TLS = true; c.CAPEM = pki.caPEM }},
		// The length prefix keeps the password and CA apart.
		{name: "bytes moved from password to CA", edit: func(_ *resources.RedisEndpoint, c *Credentials) {
			c.Password = "hunter"
			c.CAPEM = []byte("2")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var builds atomic.Int64
			p := NewPool(countingFactory(&builds, nil))
			defer func() { _ = p.Close() }()
			a, releaseA, err := p.Acquire(base, baseCreds)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseA()
			ep, creds := base, baseCreds
			ep.Addrs = append([]string(nil), base.Addrs...)
			tt.edit(&ep, &creds)
			b, releaseB, err := p.Acquire(ep, creds)
			if err != nil {
				t.Fatal(err)
			}
			defer releaseB()
			if shared := a == b; shared != tt.share {
				t.Errorf("shared = %v, want %v (keys %s | %s)", shared, tt.share, a.Key(), b.Key())
			}
			if want := map[bool]int{true: 1, false: 2}[tt.share]; p.Len() != want {
				t.Errorf("Len = %d, want %d", p.Len(), want)
			}
		})
	}
}

// TestEndpointKeyLabel: the label names the endpoint without the secret
// fingerprint, so it is the same in every process and for every password.
func TestEndpointKeyLabel(t *testing.T) {
	ep := resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6379", DB: 2, Username: "op", TLS: true}
	k1 := NewPool(nil).Key(ep, Credentials{Password: "old"})
	k2 := NewPool(nil).Key(ep, Credentials{Password: "new"})
	if k1 == k2 {
		t.Fatal("keys with different passwords are equal")
	}
	want := "standalone redis:6379 db=2 user=op tls"
	for _, k := range []EndpointKey{k1, k2} {
		if got := k.Label(); got != want {
			t.Errorf("Label = %q, want %q", got, want)
		}
	}
}

func TestEndpointKeyHidesSecrets(t *testing.T) {
	pki := newTestPKI(t)
	ep := resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6379", Username: "op", TLS: true}
	creds := Credentials{Password: "correct horse battery staple", CAPEM: pki.caPEM}
	p1, p2 := NewPool(nil), NewPool(nil)

	k := p1.Key(ep, creds)
	for _, s := range []string{k.String(), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
		if strings.Contains(s, "horse") || strings.Contains(s, "CERTIFICATE") {
			t.Errorf("key shows a secret: %s", s)
		}
	}
	if k.Secret == "" || !strings.Contains(k.String(), "secret="+k.Secret) {
		t.Errorf("key %s has no fingerprint", k)
	}
	if again := p1.Key(ep, creds); again != k {
		t.Errorf("same pool, same input: %s then %s", k, again)
	}
	// Keyed per pool: a fingerprint from a log cannot be matched against
	// guesses without the process's secret.
	if other := p2.Key(ep, creds); other.Secret == k.Secret {
		t.Errorf("two pools gave the same fingerprint %s", k.Secret)
	}
	if none := p1.Key(ep, Credentials{}); none.Secret != "" {
		t.Errorf("no secrets: fingerprint %q, want empty", none.Secret)
	}
}

func TestPoolUseAndForget(t *testing.T) {
	newReader(t)
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, nil))
	t.Cleanup(func() { _ = p.Close() })
	epA := standalone()
	epB := standalone()
	epB.DB = 1

	a1, err := p.Use("ns/a", epA, Credentials{}, []string{"q1"})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := p.Use("ns/b", epA, Credentials{}, []string{"q2"})
	if err != nil {
		t.Fatal(err)
	}
	// Every reconcile calls Use again; that must not add references.
	for range 3 {
		if again, err := p.Use("ns/a", epA, Credentials{}, []string{"q1", "q3"}); err != nil || again != a1 {
			t.Fatalf("repeated Use: %v, same client %v", err, again == a1)
		}
	}
	if a1 != a2 || p.Len() != 1 || builds.Load() != 1 {
		t.Fatalf("two users of one endpoint: shared %v, Len %d, built %d", a1 == a2, p.Len(), builds.Load())
	}

	// ns/a moves to another database: a new client, the old one stays for ns/b.
	b, err := p.Use("ns/a", epB, Credentials{}, []string{"q1"})
	if err != nil {
		t.Fatal(err)
	}
	if b == a1 || p.Len() != 2 {
		t.Fatalf("after a move: new client %v, Len %d, want true, 2", b != a1, p.Len())
	}

	p.Forget("ns/b")
	if p.Len() != 1 {
		t.Fatalf("after forgetting the last user of A: Len %d, want 1", p.Len())
	}
	if err := a1.Redis().Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("client of A: Ping = %v, want closed", err)
	}
	p.Forget("ns/a")
	p.Forget("ns/never-seen")
	if p.Len() != 0 {
		t.Fatalf("after forgetting everyone: Len %d, want 0", p.Len())
	}

	if _, err := p.Use("ns/c", resources.RedisEndpoint{Mode: "ring"}, Credentials{}, nil); err == nil {
		t.Error("Use of a bad endpoint: got no error")
	}
	if p.Len() != 0 {
		t.Errorf("a failed Use left %d clients", p.Len())
	}
}

func TestPoolClose(t *testing.T) {
	p := NewPool(nil)
	c, release, err := p.Acquire(standalone(), Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Use("ns/a", standalone(), Credentials{}, []string{"q"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.Len() != 0 {
		t.Errorf("Len after Close = %d", p.Len())
	}
	if err := c.Redis().Ping(t.Context()).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("client after Close: Ping = %v, want closed", err)
	}
	release()
	p.Forget("ns/a")
	if _, _, err := p.Acquire(standalone(), Credentials{}); err == nil {
		t.Error("Acquire after Close: got no error")
	}
}

func TestPoolConcurrentAcquire(t *testing.T) {
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, nil))
	t.Cleanup(func() { _ = p.Close() })
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			ep := standalone()
			ep.DB = int32(i % 2)
			_, release, err := p.Acquire(ep, Credentials{})
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
			release()
		})
	}
	wg.Wait()
	if p.Len() != 0 {
		t.Errorf("Len after all released = %d, want 0", p.Len())
	}
}

// TestClientReadSharesOneReadPerTick has many QueueWorkers on one endpoint
// ask for their queues in the same tick and checks that Redis sees one
// ReadStats: one pipeline, covering every registered queue.
func TestClientReadSharesOneReadPerTick(t *testing.T) {
	h := &counter{}
	rdb := newReader(t)
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, h))
	t.Cleanup(func() { _ = p.Close() })
	ctx := t.Context()

	const users = 20
	userQueues := make([][]string, users)
	var all []string
	for i := range users {
		userQueues[i] = queueNames(fmt.Sprintf("user%d", i), 5)
		all = append(all, userQueues[i]...)
	}
	seedQueues(t, rdb, all, now, false)
	var c *Client
	for i := range users {
		var err error
		if c, err = p.Use(fmt.Sprintf("ns/qw%d", i), standalone(), Credentials{}, userQueues[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Redis().Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.reset()

	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			snap, err := c.Read(ctx, userQueues[i], now, time.Second, time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if len(snap.Stats) != len(userQueues[i]) || !snap.At.Equal(now) {
				t.Errorf("user %d: %d queues at %v", i, len(snap.Stats), snap.At)
			}
			for _, q := range userQueues[i] {
				if snap.Stats[q].Pending != 3 {
					t.Errorf("user %d queue %s: %+v", i, q, snap.Stats[q])
				}
			}
		})
	}
	wg.Wait()
	if got, want := h.pipelines.Load(), int64(1); got != want {
		t.Errorf("%d users in one tick: %d round trips, want %d", users, got, want)
	}
	if got, want := h.commands.Load(), int64(commandsPerQueue*len(all)); got != want {
		t.Errorf("commands = %d, want %d (every registered queue once)", got, want)
	}

	// Within maxAge the snapshot answers; after it, one new read.
	if _, err := c.Read(ctx, userQueues[0], now.Add(900*time.Millisecond), time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := h.pipelines.Load(); got != 1 {
		t.Errorf("fresh snapshot: %d round trips in total, want still 1", got)
	}
	if _, err := c.Read(ctx, userQueues[0], now.Add(1100*time.Millisecond), time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := h.pipelines.Load(); got != 2 {
		t.Errorf("stale snapshot: %d round trips in total, want 2", got)
	}
	// A queue nobody registered is read even within maxAge.
	snap, err := c.Read(ctx, []string{"unregistered"}, now.Add(1100*time.Millisecond), time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.pipelines.Load(); got != 3 || len(snap.Stats) != 1 {
		t.Errorf("unregistered queue: %d round trips in total, %d stats, want 3, 1", got, len(snap.Stats))
	}
	// Another horizon does not share.
	if _, err := c.Read(ctx, userQueues[0], now.Add(1100*time.Millisecond), time.Second, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := h.pipelines.Load(); got != 4 {
		t.Errorf("other horizon: %d round trips in total, want 4", got)
	}
}

// TestClientReadSharesFailures checks that a failing Redis sees one attempt
// per tick, not one per QueueWorker, and that the next tick tries again.
func TestClientReadSharesFailures(t *testing.T) {
	h := &counter{}
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, h))
	t.Cleanup(func() { _ = p.Close() })
	// A port nothing listens on.
	dead := resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	c, release, err := p.Acquire(dead, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	for i := range 5 {
		if _, err := c.Read(t.Context(), []string{"q"}, now, time.Second, 0); err == nil {
			t.Fatalf("read %d of a dead endpoint: got no error", i)
		}
	}
	if got := h.pipelines.Load(); got != 1 {
		t.Errorf("five reads in one tick: %d attempts, want 1", got)
	}
	if _, err := c.Read(t.Context(), []string{"q"}, now.Add(2*time.Second), time.Second, 0); err == nil {
		t.Fatal("next tick: got no error")
	}
	if got := h.pipelines.Load(); got != 2 {
		t.Errorf("next tick: %d attempts in total, want 2", got)
	}
}

func TestClientReadHonoursContext(t *testing.T) {
	h := &counter{}
	newReader(t)
	var builds atomic.Int64
	p := NewPool(countingFactory(&builds, h))
	t.Cleanup(func() { _ = p.Close() })
	c, release, err := p.Acquire(standalone(), Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Read(ctx, []string{"q"}, now, time.Second, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v, want %v", err, context.Canceled)
	}
	if _, err := c.Read(t.Context(), []string{" "}, now, time.Second, 0); err == nil {
		t.Error("blank queue name: got no error")
	}
	if got := h.pipelines.Load(); got != 0 {
		t.Errorf("%d round trips for reads that could not be served, want 0", got)
	}
}

// TestClusterPoolKey checks that cluster seeds key as a set.
func TestClusterPoolKey(t *testing.T) {
	p := NewPool(nil)
	a := p.Key(resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"b:1", "a:1", "a:1"}}, Credentials{})
	b := p.Key(resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"a:1", "b:1"}}, Credentials{})
	if a != b || a.Addrs != "a:1,b:1" {
		t.Errorf("keys %s and %s, want both with addrs a:1,b:1", a, b)
	}
}
