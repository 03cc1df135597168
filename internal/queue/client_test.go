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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

func TestNewUniversalClient(t *testing.T) {
	tests := []struct {
		name    string
		ep      resources.RedisEndpoint
		creds   Credentials
		wantErr bool
	}{
		{name: "standalone", ep: resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6379", DB: 2}},
		{name: "sentinel", ep: resources.RedisEndpoint{Mode: contract.ModeSentinel, MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}}},
		{name: "cluster", ep: resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"c1:6379"}}},
		{name: "unknown mode", ep: resources.RedisEndpoint{Mode: "ring", Addr: "redis:6379"}, wantErr: true},
		{name: "standalone without address", ep: resources.RedisEndpoint{Mode: contract.ModeStandalone}, wantErr: true},
		{name: "sentinel without master", ep: resources.RedisEndpoint{Mode: contract.ModeSentinel, Addrs: []string{"s1:26379"}}, wantErr: true},
		{name: "sentinel without sentinels", ep: resources.RedisEndpoint{Mode: contract.ModeSentinel, MasterName: "m"}, wantErr: true},
		{name: "cluster without seeds", ep: resources.RedisEndpoint{Mode: contract.ModeCluster}, wantErr: true},
		{name: "cluster with a db", ep: resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: []string{"c1:6379"}, DB: 1}, wantErr: true},
		{name: "negative db", ep: resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6379", DB: -1}, wantErr: true},
		{
			name:    "CA that is not PEM",
			ep:      resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6379", TLS: true},
			creds:   Credentials{CAPEM: []byte("not a certificate")},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, err := NewUniversalClient(tt.ep, tt.creds)
			if tt.wantErr {
				if err == nil {
					_ = rdb.Close()
					t.Fatal("got no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = rdb.Close() }()
			switch c := rdb.(type) {
			case *redis.Client:
				o := c.Options()
				if o.PoolSize != clientPoolSize || o.MaxRetries != clientMaxRetries || o.ReadTimeout != clientIOTimeout ||
					o.DialTimeout != clientDialTimeout || o.Protocol != 2 || o.DB != int(tt.ep.DB) || o.ClientName != ClientName {
					t.Errorf("options = %+v", o)
				}
				if tt.ep.Mode == contract.ModeCluster {
					t.Errorf("cluster mode built a %T", rdb)
				}
			case *redis.ClusterClient:
				o := c.Options()
				if o.PoolSize != clientPoolSize || o.MaxRetries != clientMaxRetries || o.Protocol != 2 {
					t.Errorf("options = %+v", o)
				}
				if tt.ep.Mode != contract.ModeCluster {
					t.Errorf("%s mode built a %T", tt.ep.Mode, rdb)
				}
			default:
				t.Errorf("built a %T", rdb)
			}
		})
	}
}

func TestTLSConfigFor(t *testing.T) {
	pki := newTestPKI(t)
	ep := resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: "redis:6380", TLS: true, ServerName: "redis.test"}

	c, err := tlsConfigFor(ep, Credentials{CAPEM: pki.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || c.ServerName != "redis.test" || c.InsecureSkipVerify || c.RootCAs == nil {
		t.Errorf("config = min %x, serverName %q, insecure %v, roots %v", c.MinVersion, c.ServerName, c.InsecureSkipVerify, c.RootCAs != nil)
	}

	ep.InsecureSkipVerify = true
	if c, err := tlsConfigFor(ep, Credentials{}); err != nil || !c.InsecureSkipVerify || c.RootCAs != nil {
		t.Errorf("insecure without CA: %+v, %v", c, err)
	}

	ep.TLS = false
	if c, err := tlsConfigFor(ep, Credentials{CAPEM: pki.caPEM}); c != nil || err != nil {
		t.Errorf("TLS off: got %v, %v, want nil, nil", c, err)
	}
}

// TestNewUniversalClientTLS talks to a redis-server that serves TLS with a
// certificate from a private CA.
func TestNewUniversalClientTLS(t *testing.T) {
	pki := newTestPKI(t)
	tlsPort := freePort(t)
	srv, err := redistest.Start(
		"tls-port "+strconv.Itoa(tlsPort),
		"tls-cert-file "+pki.certFile,
		"tls-key-file "+pki.keyFile,
		"tls-ca-cert-file "+pki.caFile,
		"tls-auth-clients no",
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	tests := []struct {
		name    string
		ep      resources.RedisEndpoint
		creds   Credentials
		wantErr bool
	}{
		{name: "private CA", ep: resources.RedisEndpoint{TLS: true}, creds: Credentials{CAPEM: pki.caPEM}},
		{name: "private CA and server name", ep: resources.RedisEndpoint{TLS: true, ServerName: "redis.test"}, creds: Credentials{CAPEM: pki.caPEM}},
		{name: "wrong server name", ep: resources.RedisEndpoint{TLS: true, ServerName: "other.test"}, creds: Credentials{CAPEM: pki.caPEM}, wantErr: true},
		{name: "system roots", ep: resources.RedisEndpoint{TLS: true}, wantErr: true},
		{name: "insecure", ep: resources.RedisEndpoint{TLS: true, InsecureSkipVerify: true}},
		{name: "plain TCP to the TLS port", ep: resources.RedisEndpoint{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ep.Mode = contract.ModeStandalone
			tt.ep.Addr = addr
			rdb, err := NewUniversalClient(tt.ep, tt.creds)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = rdb.Close() }()
			_, err = readQueues(t.Context(), rdb, []string{"q"}, now, 0)
			if (err != nil) != tt.wantErr {
				t.Errorf("ReadStats error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestNewUniversalClientACL reads through an ACL user allowed only the
// reader's commands on asynq's keys, which is what the package
// documentation tells users to grant. A user granted what the reader
// needed before it read the asynq servers still reads the queues.
func TestNewUniversalClientACL(t *testing.T) {
	admin := newReader(t)
	ctx := t.Context()
	queueCommands := []any{"+llen", "+zcount", "+zcard", "+exists", "+evalsha", "+eval",
		"+lindex", "+hstrlen", "+hget", "+zrange", "+scard", "+smembers", "+srandmember",
		"+hello", "+auth", "+client|setname", "+ping", "+select"}
	for user, commands := range map[string][]any{
		"qw-documented":  append(slices.Clone(queueCommands), "+zrangebyscore", "+hlen", "+hkeys", "+zscore", "+strlen", "+get"),
		"qw-reader":      append(slices.Clone(queueCommands), "+zrangebyscore", "+hlen", "+hkeys"),
		"qw-queues-only": queueCommands,
	} {
		args := append([]any{"ACL", "SETUSER", user, "reset", "on", ">s3cret", "~asynq:*", "-@all"}, commands...)
		if err := admin.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Do(ctx, "ACL", "DELUSER", user).Err() })
	}
	pushPending(t, admin, "payments", task{"a", strconv.FormatInt(now.UnixNano(), 10)})
	groupTasks(t, admin, "payments", map[string]int{"digest": 2})
	writeHeartbeats(t, admin, heartbeat{host: "worker", pid: 1, id: "s", expires: now.Add(8 * time.Second),
		tasks: []runningTask{{id: "t1", started: now.Add(-time.Second)}, {id: "t2", started: now.Add(-2 * time.Second), noLease: true}}})

	for _, tt := range []struct {
		name, user, password string
		wantErr, wantServers bool
		// wantRunning: t2 has finished since the heartbeat, which a user
		// without ZSCORE cannot tell.
		wantRunning int64
	}{
		{name: "the documented commands", user: "qw-documented", password: "s3cret", wantServers: true, wantRunning: 1},
		{name: "right password", user: "qw-reader", password: "s3cret", wantServers: true, wantRunning: 2},
		{name: "wrong password", user: "qw-reader", password: "guess", wantErr: true},
		{name: "without the servers' commands", user: "qw-queues-only", password: "s3cret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Without the scripts cached the user needs EVAL too.
			if err := admin.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			ep := standalone()
			ep.Username = tt.user
			rdb, err := NewUniversalClient(ep, Credentials{Password: tt.password})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = rdb.Close() }()
			got, err := ReadStats(ctx, rdb, []string{"payments"}, now, 0)
			if tt.wantErr {
				if err == nil {
					t.Error("got no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Queues["payments"]; s.Err != nil || s.Pending != 1 || !s.OldestKnown || s.Aggregating != 2 {
				t.Errorf("payments = %+v, want 1 pending with a known age, 2 grouped", s)
			}
			srv := got.Servers
			switch {
			case tt.wantServers && (srv.Err != nil || len(srv.List) != 1 || srv.List[0].Running != tt.wantRunning ||
				srv.List[0].Timed != tt.wantRunning):
				t.Errorf("servers = %v\n%s\nwant one server, %d tasks running and timed", srv.Err, describe(srv.List), tt.wantRunning)
			case !tt.wantServers && (srv.Err == nil || srv.Live != 0 || srv.List != nil):
				// Redis 7.0 says "ERR The user executing the script can't
				// run this command", later versions NOPERM.
				t.Errorf("servers = %+v, want the permission error alone", srv)
			}
		})
	}
}

// testPKI is a private CA and a server certificate for 127.0.0.1 and
// redis.test, written to files for redis-server.
type testPKI struct {
	caPEM                     []byte
	caFile, certFile, keyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "queue test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "redis.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"redis.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := testPKI{
		caPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		caFile:   filepath.Join(dir, "ca.crt"),
		certFile: filepath.Join(dir, "tls.crt"),
		keyFile:  filepath.Join(dir, "tls.key"),
	}
	for file, data := range map[string][]byte{
		p.caFile:   p.caPEM,
		p.certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		p.keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// TestAllowedAddrs: credentials pinned to addresses dial only those: a
// standalone server outside the pin is refused before any byte is sent,
// and in a cluster the nodes that CLUSTER SLOTS names must be pinned too.
func TestAllowedAddrs(t *testing.T) {
	ctx := t.Context()
	ping := func(ep resources.RedisEndpoint, pins []string) error {
		t.Helper()
		rdb, err := NewUniversalClient(ep, Credentials{AllowedAddrs: pins})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rdb.Close() }()
		_, err = readQueues(ctx, rdb, []string{"default"}, time.Now(), 0)
		return err
	}
	if err := ping(standalone(), nil); err != nil {
		t.Fatalf("no pins: %v", err)
	}
	if err := ping(standalone(), []string{"10.0.0.1:6379", strings.ToUpper(redisServer.Addr)}); err != nil {
		t.Fatalf("pinned: %v", err)
	}
	for _, pins := range [][]string{{"10.0.0.1:6379"}, {}} {
		if err := ping(standalone(), pins); !errors.Is(err, ErrAddressNotAllowed) {
			t.Fatalf("pins %q: error %v, want ErrAddressNotAllowed", pins, err)
		}
	}

	nodes := startCluster(t, 3)
	cluster := resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: nodes[:1]}
	if err := ping(cluster, nodes); err != nil {
		t.Fatalf("every node pinned: %v", err)
	}
	// Only the seed: the queues that live on other nodes cannot be read.
	rdb, err := NewUniversalClient(cluster, Credentials{AllowedAddrs: nodes[:1]})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	queues := make([]string, 0, 30)
	for i := range 30 {
		queues = append(queues, fmt.Sprintf("q%d", i))
	}
	if _, err := readQueues(ctx, rdb, queues, time.Now(), 0); !errors.Is(err, ErrAddressNotAllowed) {
		t.Fatalf("seed pinned only: error %v, want ErrAddressNotAllowed", err)
	}
	// Two clients that differ only in their pins are not shared.
	p := NewPool(nil)
	defer func() { _ = p.Close() }()
	if p.Key(standalone(), Credentials{}) == p.Key(standalone(), Credentials{AllowedAddrs: []string{redisServer.Addr}}) {
		t.Fatal("a pinned and an unpinned client share a pool key")
	}
}

// TestSentinelMaster asks a real sentinel for its master, as
// NewUniversalClient's failover client does: through the pins of the
// credentials and with the endpoint's TLS settings.
func TestSentinelMaster(t *testing.T) {
	sentinel, err := redistest.StartSentinel(map[string]string{"mymaster": redisServer.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Close() })
	ep := resources.RedisEndpoint{Mode: contract.ModeSentinel, MasterName: "mymaster",
		Addrs: []string{"127.0.0.1:1", sentinel.Addr}}

	tests := []struct {
		name    string
		ep      func(resources.RedisEndpoint) resources.RedisEndpoint
		creds   Credentials
		want    string
		wantErr error
	}{
		{name: "the second sentinel answers", want: redisServer.Addr},
		{name: "sentinel pinned", creds: Credentials{AllowedAddrs: []string{sentinel.Addr}}, want: redisServer.Addr},
		{name: "sentinel not pinned", creds: Credentials{AllowedAddrs: []string{redisServer.Addr}}, wantErr: ErrAddressNotAllowed},
		{name: "unknown master", ep: func(e resources.RedisEndpoint) resources.RedisEndpoint {
			e.MasterName = "other"
			return e
		}, wantErr: redis.Nil},
		// The sentinel speaks plain TCP: a TLS handshake cannot succeed.
		{name: "TLS", ep: func(e resources.RedisEndpoint) resources.RedisEndpoint {
			e.TLS, e.InsecureSkipVerify = true, true
			e.Addrs = []string{sentinel.Addr}
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ep
			if tt.ep != nil {
				e = tt.ep(e)
			}
			got, err := SentinelMaster(t.Context(), e, tt.creds)
			switch {
			case tt.want != "":
				if err != nil || got != tt.want {
					t.Errorf("SentinelMaster = %q, %v, want %q", got, err, tt.want)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("SentinelMaster = %q, %v, want error %v", got, err, tt.wantErr)
				}
			case err == nil:
				t.Errorf("SentinelMaster = %q over TLS to a plain sentinel", got)
			}
		})
	}

	if _, err := SentinelMaster(t.Context(), standalone(), Credentials{}); err == nil {
		t.Error("SentinelMaster of a standalone endpoint succeeded")
	}
}

// TestReadStatsKeyOutsideACL: a queue whose keys are outside the ACL
// user's patterns fails alone, with the refusal, in the one round trip of
// the read: the other queues of the same script call are read as usual.
// Redis refuses a whole call for one declared key outside the patterns;
// the keys are passed as arguments, so each is checked as the script uses
// it, and the script catches the refusal for its queue.
func TestReadStatsKeyOutsideACL(t *testing.T) {
	h := &counter{}
	admin := newReader(t)
	ctx := t.Context()
	const user = "qw-team-keys"
	err := admin.Do(ctx, "ACL", "SETUSER", user, "reset", "on", ">s3cret", "~asynq:{team-*", "-@all",
		"+llen", "+zcount", "+zcard", "+exists", "+evalsha", "+eval", "+lindex", "+hstrlen", "+hget", "+zrange",
		"+scard", "+smembers", "+srandmember", "+hello", "+auth", "+client|setname", "+ping", "+select").Err()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Do(ctx, "ACL", "DELUSER", user).Err() })
	since := strconv.FormatInt(now.Add(-time.Second).UnixNano(), 10)
	for _, q := range []string{"team-a", "other", "team-b"} {
		pushPending(t, admin, q, task{q + "-1", since})
	}
	ep := standalone()
	ep.Username = user
	rdb, err := NewUniversalClient(ep, Credentials{Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	rdb.AddHook(h)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	h.reset()

	got, err := ReadStats(ctx, rdb, []string{"team-a", "other", "team-b"}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"team-a", "team-b"} {
		want := Stats{Queue: q, Pending: 1, Tail: q + "-1", OldestPendingAge: time.Second, OldestKnown: true}
		if got.Queues[q] != want {
			t.Errorf("%s = %+v, want %+v", q, got.Queues[q], want)
		}
	}
	// Redis 7.0 says "can't access at least one of the keys", later
	// versions NOPERM.
	if s := got.Queues["other"]; s.Err == nil || s.Pending != 0 ||
		!strings.Contains(s.Err.Error(), "NOPERM") && !strings.Contains(s.Err.Error(), "can't access") {
		t.Errorf("other = %+v, want the refusal alone", s)
	}
	if p := h.pipelines.Load(); p != 1 {
		t.Errorf("%d round trips, want 1", p)
	}
}
