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
				t.Errorf("shared = %v, want %v (keys %s | %s)", shared, tt.share, p.Key(base, baseCreds), p.Key(ep, creds))
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

func TestPoolClose(t *testing.T) {
	p := NewPool(nil)
	c, release, err := p.Acquire(standalone(), Credentials{})
	if err != nil {
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

// TestClusterPoolKey checks that cluster seeds key as a set.
func TestClusterPoolKey(t *testing.T) {
	p := NewPool(nil)
	a := p.Key(resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"b:1", "a:1", "a:1"}}, Credentials{})
	b := p.Key(resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"a:1", "b:1"}}, Credentials{})
	if a != b || a.Addrs != "a:1,b:1" {
		t.Errorf("keys %s and %s, want both with addrs a:1,b:1", a, b)
	}
}
