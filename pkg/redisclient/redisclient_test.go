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

package redisclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// tuned sets every option New passes on, each to a value no go-redis
// default has, so a field that is dropped shows.
func tuned(o Options) Options {
	o.Username, o.Password = "user", "pw"
	o.SentinelUsername, o.SentinelPassword = "sentinel-user", "sentinel-pw"
	o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13, ServerName: "redis.test"}
	o.ClientName = "redisclient-test"
	o.Protocol = 2
	o.DisableIdentity = true
	o.PoolSize = 7
	o.MinIdleConns = 0 // a warm pool would dial while the test builds
	o.PipelinePoolSize = -1
	o.DialTimeout = 1100 * time.Millisecond
	o.DialerRetries = 2
	o.ReadTimeout = 1200 * time.Millisecond
	o.WriteTimeout = 1300 * time.Millisecond
	o.PoolTimeout = 1400 * time.Millisecond
	o.ConnMaxIdleTime = 1500 * time.Millisecond
	o.MaxRetries = 4
	return o
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		want    string // the client type: "client" or "cluster"
		wantErr string
	}{
		{name: "standalone", opts: Options{Mode: contract.ModeStandalone, Addr: "redis:6379", DB: 3}, want: "client"},
		{name: "sentinel", opts: Options{Mode: contract.ModeSentinel, MasterName: "mymaster",
			Addrs: []string{"s1:26379", "s2:26379"}, DB: 2}, want: "client"},
		{name: "cluster", opts: Options{Mode: contract.ModeCluster, Addrs: []string{"n1:6379", "n2:6379"}}, want: "cluster"},
		// go-redis's NewUniversalClient would build a standalone client here.
		{name: "cluster with one seed", opts: Options{Mode: contract.ModeCluster, Addrs: []string{"n1:6379"}}, want: "cluster"},
		{name: "standalone with addrs only", opts: Options{Mode: contract.ModeStandalone, Addrs: []string{"n1:6379"}},
			wantErr: "no address"},
		{name: "sentinel without master", opts: Options{Mode: contract.ModeSentinel, Addrs: []string{"s1:26379"}},
			wantErr: "master name"},
		{name: "sentinel without sentinels", opts: Options{Mode: contract.ModeSentinel, MasterName: "m"},
			wantErr: "sentinel address"},
		{name: "cluster without seeds", opts: Options{Mode: contract.ModeCluster}, wantErr: "no seed"},
		{name: "cluster with a db", opts: Options{Mode: contract.ModeCluster, Addrs: []string{"n1:6379"}, DB: 1},
			wantErr: "only db 0"},
		{name: "negative db", opts: Options{Mode: contract.ModeStandalone, Addr: "redis:6379", DB: -1}, wantErr: "negative"},
		{name: "no mode", opts: Options{Addr: "redis:6379"}, wantErr: "unknown redis mode"},
		{name: "unknown mode", opts: Options{Mode: "ring", Addr: "redis:6379"}, wantErr: "unknown redis mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tuned(tt.opts)
			o.Dialer = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no dialing here") }
			c, err := New(o)
			if tt.wantErr != "" {
				if err == nil {
					_ = c.Close()
					t.Fatalf("got a %T, want an error with %q", c, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			var got *redis.Options
			switch cc := c.(type) {
			case *redis.Client:
				if tt.want != "client" {
					t.Fatalf("built a %T, want a %s", c, tt.want)
				}
				got = cc.Options()
				if got.DB != o.DB {
					t.Errorf("DB = %d, want %d", got.DB, o.DB)
				}
				if o.Mode == contract.ModeStandalone && got.Addr != o.Addr {
					t.Errorf("Addr = %q, want %q", got.Addr, o.Addr)
				}
			case *redis.ClusterClient:
				if tt.want != "cluster" {
					t.Fatalf("built a %T, want a %s", c, tt.want)
				}
				co := cc.Options()
				if !slices.Equal(co.Addrs, o.Addrs) {
					t.Errorf("Addrs = %q, want %q", co.Addrs, o.Addrs)
				}
				got = &redis.Options{
					Username: co.Username, Password: co.Password, TLSConfig: co.TLSConfig, Dialer: co.Dialer,
					ClientName: co.ClientName, Protocol: co.Protocol, DisableIdentity: co.DisableIdentity,
					PoolSize: co.PoolSize, MinIdleConns: co.MinIdleConns, PipelinePoolSize: co.PipelinePoolSize,
					DialTimeout: co.DialTimeout, DialerRetries: co.DialerRetries, ReadTimeout: co.ReadTimeout,
					WriteTimeout: co.WriteTimeout, PoolTimeout: co.PoolTimeout, ConnMaxIdleTime: co.ConnMaxIdleTime,
					MaxRetries: co.MaxRetries,
				}
			default:
				t.Fatalf("built a %T", c)
			}
			checkOptions(t, got, o, o.Username, o.Password)
			if got.Dialer == nil {
				t.Error("the Dialer was dropped")
			}
			// Only the server's connections take these; sentinels do not.
			if got.Protocol != o.Protocol || got.PipelinePoolSize != o.PipelinePoolSize {
				t.Errorf("protocol %d pipeline pool %d, want %d %d", got.Protocol, got.PipelinePoolSize,
					o.Protocol, o.PipelinePoolSize)
			}
		})
	}
}

// checkOptions compares what go-redis was given with o.
func checkOptions(t *testing.T, got *redis.Options, o Options, user, password string) {
	t.Helper()
	if got.Username != user || got.Password != password {
		t.Errorf("credentials = %q/%q, want %q/%q", got.Username, got.Password, user, password)
	}
	if got.TLSConfig != o.TLSConfig {
		t.Errorf("TLSConfig = %p, want %p", got.TLSConfig, o.TLSConfig)
	}
	if got.ClientName != o.ClientName || got.DisableIdentity != o.DisableIdentity {
		t.Errorf("identity = name %q disabled %v, want %q %v", got.ClientName, got.DisableIdentity, o.ClientName, o.DisableIdentity)
	}
	if got.PoolSize != o.PoolSize || got.MinIdleConns != o.MinIdleConns {
		t.Errorf("pool = size %d minIdle %d, want %d %d", got.PoolSize, got.MinIdleConns, o.PoolSize, o.MinIdleConns)
	}
	if got.DialTimeout != o.DialTimeout || got.ReadTimeout != o.ReadTimeout || got.WriteTimeout != o.WriteTimeout ||
		got.PoolTimeout != o.PoolTimeout || got.ConnMaxIdleTime != o.ConnMaxIdleTime {
		t.Errorf("timeouts = dial %s read %s write %s pool %s idle %s", got.DialTimeout, got.ReadTimeout,
			got.WriteTimeout, got.PoolTimeout, got.ConnMaxIdleTime)
	}
	if got.MaxRetries != o.MaxRetries || got.DialerRetries != o.DialerRetries {
		t.Errorf("retries = %d, dialer %d, want %d %d", got.MaxRetries, got.DialerRetries, o.MaxRetries, o.DialerRetries)
	}
}

// TestNewDefaults: a zero option takes go-redis's default, so a caller
// that leaves one unset gets what go-redis alone would give it.
func TestNewDefaults(t *testing.T) {
	c, err := New(Options{Mode: contract.ModeStandalone, Addr: "redis:6379"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	plain := redis.NewClient(&redis.Options{Addr: "redis:6379"})
	defer func() { _ = plain.Close() }()
	got, want := c.(*redis.Client).Options(), plain.Options()
	if got.PoolSize != want.PoolSize || got.MaxRetries != want.MaxRetries || got.DialTimeout != want.DialTimeout ||
		got.ReadTimeout != want.ReadTimeout || got.Protocol != want.Protocol || got.TLSConfig != nil || got.DisableIdentity {
		t.Errorf("defaults = %+v\nwant %+v", got, want)
	}
}

// TestSentinelDialer: the failover client dials its sentinels through the
// Dialer, so a Dialer that pins addresses pins the sentinels too.
func TestSentinelDialer(t *testing.T) {
	var mu sync.Mutex
	var dialled []string
	o := Options{Mode: contract.ModeSentinel, MasterName: "m", Addrs: []string{"192.0.2.1:26379"},
		DialTimeout: time.Second, DialerRetries: 1, MaxRetries: -1,
		Dialer: func(_ context.Context, _, addr string) (net.Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			dialled = append(dialled, addr)
			return nil, errors.New("refused by the test")
		}}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Ping(t.Context()).Err(); err == nil {
		t.Fatal("PING through a dialer that refuses everything succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(dialled, "192.0.2.1:26379") {
		t.Errorf("dialled %q, want the sentinel through the Dialer", dialled)
	}
}

func TestNewSentinel(t *testing.T) {
	o := tuned(Options{Mode: contract.ModeSentinel, MasterName: "m", Addrs: []string{"s1:26379"}, DB: 5})
	o.Dialer = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no dialing here") }
	got := sentinelOptions(o, "s2:26379")
	if got.Addr != "s2:26379" || got.DB != 0 {
		t.Errorf("addr %q db %d, want s2:26379 on db 0", got.Addr, got.DB)
	}
	checkOptions(t, got, o, o.SentinelUsername, o.SentinelPassword)
	if got.Dialer == nil {
		t.Error("the Dialer was dropped")
	}
}

// TestNewSentinelAuthenticates pings a redis-server standing in for a
// sentinel: the sentinel credentials reach it, the server's do not.
func TestNewSentinelAuthenticates(t *testing.T) {
	srv, err := redistest.Start("requirepass default-pw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "default-pw"})
	defer func() { _ = admin.Close() }()
	if err := admin.Do(t.Context(), "ACL", "SETUSER", "sentinel-user", "on", ">sentinel-pw", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "sentinel credentials", opts: Options{SentinelUsername: "sentinel-user", SentinelPassword: "sentinel-pw"}},
		{name: "sentinel password of the default user", opts: Options{SentinelPassword: "default-pw"}},
		{name: "none", wantErr: "NOAUTH"},
		{name: "only the server's credentials", opts: Options{Username: "sentinel-user", Password: "sentinel-pw"},
			wantErr: "NOAUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Mode, o.MasterName, o.Addrs = contract.ModeSentinel, "m", []string{srv.Addr}
			sc := NewSentinel(o, srv.Addr)
			defer func() { _ = sc.Close() }()
			err := sc.Ping(t.Context()).Err()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("PING: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("PING error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	ca := testCAPEM(t)
	tests := []struct {
		name         string
		tls          TLS
		wantRoots    bool
		wantInsecure bool
		wantErr      error
	}{
		{name: "system roots", tls: TLS{}},
		{name: "own CA and server name", tls: TLS{CAPEM: ca, ServerName: "redis.test"}, wantRoots: true},
		{name: "skip verify", tls: TLS{InsecureSkipVerify: true}, wantInsecure: true},
		{name: "CA that is not PEM", tls: TLS{CAPEM: []byte("not a certificate")}, wantErr: ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := TLSConfig(tt.tls)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MinVersion != tls.VersionTLS12 || c.ServerName != tt.tls.ServerName ||
				c.InsecureSkipVerify != tt.wantInsecure || (c.RootCAs != nil) != tt.wantRoots {
				t.Errorf("config = min %x, serverName %q, insecure %v, roots %v", c.MinVersion, c.ServerName,
					c.InsecureSkipVerify, c.RootCAs != nil)
			}
		})
	}
}

// testCAPEM returns a self-signed CA certificate in PEM.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
