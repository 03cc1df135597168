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

package redisconf

// These tests run the real redis-server: they prove that what Render writes
// is what Redis reads and applies, and pin ModeOf to what CONFIG SET does.
// They start redis-server with a file, which test/redistest does not
// do, and they stay out of its import graph so that `make test-unit` keeps
// the rest of this package; -short skips them there.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// startTimeout bounds a server's start, generously for a busy machine.
const startTimeout = 30 * time.Second

// redisServerBinary is $REDIS_SERVER or redis-server from PATH.
func redisServerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts redis-server; skipped with -short")
	}
	if bin := os.Getenv("REDIS_SERVER"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: run hack/install-redis.sh or set REDIS_SERVER")
	}
	return bin
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

// syncBuffer collects the server's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRedis writes the file conf(port) renders for a free port and runs
// redis-server with it until the test ends. It returns the port and a
// client with options(port), once that client gets an answer to PING. A
// port taken between choosing and binding is retried with another.
func startRedis(t *testing.T, dir string, conf func(port int) []byte, options func(port int) *redis.Options) (int, *redis.Client) {
	t.Helper()
	bin := redisServerBinary(t)
	path := filepath.Join(dir, "redis.conf")
	var out string
	for range 3 {
		port := freePort(t)
		if err := os.WriteFile(path, conf(port), 0o600); err != nil {
			t.Fatal(err)
		}
		var rdb *redis.Client
		if rdb, out = runRedis(t, bin, path, options(port)); rdb != nil {
			return port, rdb
		}
		if !strings.Contains(out, "Address already in use") {
			t.Fatalf("redis-server exited at start:\n%s\nconfig file:\n%s", out, conf(port))
		}
	}
	t.Fatalf("redis-server found no free port:\n%s", out)
	return 0, nil
}

// runRedis runs redis-server with the file at path and waits until a
// client with opts gets an answer to PING. When the server exits first it
// returns what the server wrote.
func runRedis(t *testing.T, bin, path string, opts *redis.Options) (*redis.Client, string) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, path)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() { _ = cmd.Process.Kill(); <-done }

	rdb := redis.NewClient(opts)
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			_ = rdb.Close()
			return nil, out.String()
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			t.Cleanup(func() { _ = rdb.Close(); stop() })
			return rdb, ""
		}
		if time.Now().After(deadline) {
			_ = rdb.Close()
			stop()
			t.Fatalf("redis-server did not answer PING within %s: %v\n%s", startTimeout, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clientOptions connects to port on loopback, without retries, so a
// refused command fails at once.
func clientOptions(port int) *redis.Options {
	return &redis.Options{
		Addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		MaxRetries:  -1,
		DialTimeout: 2 * time.Second,
		ReadTimeout: 5 * time.Second,
		PoolSize:    2,
	}
}

// testPassword needs every kind of quoting CheckPassword lets through:
// spaces, both quotes, a backslash, a tab and a byte outside ASCII.
const testPassword = "p@ss \"word\" 'x' \\ tab\tstop \xc3\xa9"

// awkwardName is part of every path the tests render, so that each golden
// file also runs with a data directory and files that need quoting.
const awkwardName = `with space "dq" 'sq' \ #1 é`

// TestGoldenOnRedis starts redis-server with each golden file of mode
// Managed and checks with CONFIG GET that every directive took effect, that
// the included password is required and that TLS is the only way in when
// the file says so.
//
// The file redis-server reads is the golden file with only the lines of
// the placement keys (IsPlacement) rendered for the test's port and
// directories; the test first checks that this is exactly what Render
// writes for those options.
func TestGoldenOnRedis(t *testing.T) {
	redisServerBinary(t)
	for _, tc := range goldenCases {
		if tc.spec.Mode == v1.RedisConfigExternal {
			continue // no placement: TestExternalDirectivesOnRedis
		}
		t.Run(tc.name, func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", tc.name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			opts := Options{DataDir: filepath.Join(tmp, "data "+awkwardName)}
			if err := os.Mkdir(opts.DataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.opts.PasswordFile != "" {
				opts.PasswordFile = filepath.Join(tmp, "auth "+awkwardName, "password.conf")
				// The file the controller mounts.
				pwFile, err := RenderPasswordFile(testPassword)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, opts.PasswordFile, pwFile)
			}
			var certs *testCerts
			if tc.spec.TLS != nil {
				opts.TLSDir = filepath.Join(tmp, "tls "+awkwardName)
				certs = newTestCerts(t, opts.TLSDir)
			}

			var ds []Directive
			conf := func(port int) []byte {
				opts.Port = port
				rendered, err := Render(tc.spec, opts)
				if err != nil {
					t.Fatal(err)
				}
				if ds, err = Directives(tc.spec, opts); err != nil {
					t.Fatal(err)
				}
				if relocated := relocate(t, golden, ds); !bytes.Equal(relocated, rendered) {
					t.Fatalf("rendering for the test differs from the golden file in more than placement:\n%s\ngolden, relocated:\n%s", rendered, relocated)
				}
				return rendered
			}
			options := func(port int) *redis.Options {
				o := clientOptions(port)
				if opts.PasswordFile != "" {
					o.Password = testPassword
				}
				if certs != nil {
					o.TLSConfig = certs.clientConfig(true)
				}
				return o
			}
			port, rdb := startRedis(t, tmp, conf, options)
			ctx := context.Background()

			for _, d := range ds {
				if d.Key == "include" {
					continue // not a config: the password checks below cover it
				}
				want := d.Value
				if d.Key == "dir" {
					// Redis reports its working directory, symlinks resolved.
					if want, err = filepath.EvalSymlinks(want); err != nil {
						t.Fatal(err)
					}
				}
				have, err := configGet(ctx, rdb, d.Key)
				if err != nil {
					t.Errorf("CONFIG GET %s: %v", d.Key, err)
					continue
				}
				if !reportedEqual(d.Key, want, have) {
					t.Errorf("%s: redis-server reports %q, the file says %q", d.Key, have, want)
				}
			}

			if opts.PasswordFile != "" {
				for _, key := range []string{"requirepass", "masterauth"} {
					if have, err := configGet(ctx, rdb, key); err != nil || have != testPassword {
						t.Errorf("CONFIG GET %s = %q, %v; want the included password", key, have, err)
					}
				}
				o := options(port)
				o.Password = ""
				anon := redis.NewClient(o)
				err := anon.Ping(ctx).Err()
				if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
					t.Errorf("PING without the password: %v, want NOAUTH", err)
				}
				if err := anon.Do(ctx, "AUTH", testPassword+"x").Err(); err == nil {
					t.Error("AUTH with a wrong password succeeded")
				}
				if err := anon.Do(ctx, "AUTH", testPassword).Err(); err != nil {
					t.Errorf("AUTH with the password: %v", err)
				}
				_ = anon.Close()
			}

			if certs != nil {
				plain := redis.NewClient(clientOptions(port))
				err := plain.Ping(ctx).Err()
				_ = plain.Close()
				if err == nil {
					t.Error("a client without TLS got an answer from the TLS port")
				}
				o := clientOptions(port)
				o.Password = testPassword
				o.TLSConfig = certs.clientConfig(false)
				noCert := redis.NewClient(o)
				err = noCert.Ping(ctx).Err()
				_ = noCert.Close()
				if err == nil {
					t.Error("a TLS client without a certificate got in, though tls-auth-clients is yes")
				}
			}
		})
	}
}

// relocate replaces, in a golden file, the lines of placement keys with the
// directives ds has for them, quoted as Render quotes.
func relocate(t *testing.T, golden []byte, ds []Directive) []byte {
	t.Helper()
	values := map[string]string{}
	for _, d := range ds {
		values[d.Key] = d.Value
	}
	lines := strings.SplitAfter(string(golden), "\n")
	for i, line := range lines {
		key, _, _ := strings.Cut(line, " ")
		if !IsPlacement(key) {
			continue
		}
		v, ok := values[key]
		if !ok {
			t.Fatalf("golden line %q has no directive in the test's rendering", line)
		}
		lines[i] = key + " " + quote(v, false) + "\n"
	}
	return []byte(strings.Join(lines, ""))
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func configGet(ctx context.Context, rdb *redis.Client, key string) (string, error) {
	m, err := rdb.ConfigGet(ctx, key).Result()
	if err != nil {
		return "", err
	}
	v, ok := m[key]
	if !ok {
		return "", errors.New("not reported")
	}
	return v, nil
}

// reportedEqual compares a directive's value with what CONFIG GET reports.
// Redis reports most values as CONFIG SET takes them, which Directive.Value
// already is; two keys it reformats.
func reportedEqual(key, want, have string) bool {
	switch key {
	case "client-output-buffer-limit":
		// Redis reports every class, and the replica class as "slave".
		reported := map[string]string{}
		f := strings.Fields(have)
		for i := 0; i+3 < len(f); i += 4 {
			reported[f[i]] = strings.Join(f[i+1:i+4], " ")
		}
		f = strings.Fields(want)
		for i := 0; i+3 < len(f); i += 4 {
			class := f[i]
			if class == "replica" {
				class = "slave"
			}
			if reported[class] != strings.Join(f[i+1:i+4], " ") {
				return false
			}
		}
		return true
	case "notify-keyspace-events":
		// Redis reports the letters in its own order, "A" for all of
		// g$lshzxetd.
		letters := func(s string) string {
			s = strings.ReplaceAll(s, "A", "g$lshzxetd")
			b := []byte(s)
			slices.Sort(b)
			return string(slices.Compact(b))
		}
		return letters(want) == letters(have)
	}
	return want == have
}

// modeSamples is a value for CONFIG SET of every key in the key table,
// other than the server's where that tells more; "" entries are filled in
// by the test. extraConfig samples go through the key's value check first.
var modeSamples = map[string]string{
	"port": "", "tls-port": "", "dir": "", "include": "",
	"tls-cert-file": "", "tls-key-file": "", "tls-ca-cert-file": "", "tls-auth-clients": "no",

	"maxmemory": "1073741824", "maxmemory-policy": "allkeys-lru", "appendonly": "no", "appendfsync": "always",
	"save": "900 1 300 10", "tcp-backlog": "1024", "timeout": "60", "tcp-keepalive": "60", "maxclients": "5000",
	"lazyfree-lazy-eviction": "no", "lazyfree-lazy-expire": "no", "lazyfree-lazy-server-del": "no", "lazyfree-lazy-user-del": "no",

	"hz": "20", "dynamic-hz": "no", "io-threads": "2", "io-threads-do-reads": "yes",
	"slowlog-log-slower-than": "5000", "slowlog-max-len": "256", "latency-monitor-threshold": "100",
	// Debian's redis-server links a jemalloc without the defragmentation
	// hint, and refuses "yes" for that reason; "no" still shows the key is
	// not immutable, which is all ModeOf says.
	"activedefrag":                  "no",
	"active-defrag-ignore-bytes":    "200mb",
	"active-defrag-threshold-lower": "20", "active-defrag-threshold-upper": "90",
	"active-defrag-cycle-min": "2", "active-defrag-cycle-max": "30",
	"maxmemory-samples": "10", "maxmemory-eviction-tenacity": "20", "lfu-log-factor": "20", "lfu-decay-time": "2",
	"aof-use-rdb-preamble": "no", "aof-rewrite-incremental-fsync": "no", "auto-aof-rewrite-percentage": "50",
	"auto-aof-rewrite-min-size": "128mb", "no-appendfsync-on-rewrite": "yes", "rdbcompression": "no", "rdbchecksum": "no",
	"client-output-buffer-limit": "pubsub 64mb 16mb 30", "notify-keyspace-events": "KEx",
	"list-max-listpack-size": "-3", "list-compress-depth": "1", "hash-max-listpack-entries": "256",
	"hash-max-listpack-value": "128", "zset-max-listpack-entries": "64", "zset-max-listpack-value": "32",
	"set-max-intset-entries": "256", "stream-node-max-bytes": "8kb", "stream-node-max-entries": "200",
	"lua-time-limit": "6000", "busy-reply-threshold": "7000", "proto-max-bulk-len": "64mb",
	"client-query-buffer-limit": "512mb", "replica-lazy-flush": "yes", "lazyfree-lazy-user-flush": "yes",
	"jemalloc-bg-thread": "no", "oom-score-adj": "relative", "oom-score-adj-values": "0 100 900", "loglevel": "warning",
}

// TestModeOfAgainstRedis pins ModeOf to redis-server: CONFIG SET of every
// key Render can emit must succeed and read back for a Runtime key, and
// must be refused as immutable or protected for a RestartRequired one
// (include, which is no config, as unknown). The server runs a rendered TLS
// configuration, so the tls-* keys change on a live TLS listener.
func TestModeOfAgainstRedis(t *testing.T) {
	redisServerBinary(t)
	for k := range keys {
		if _, ok := modeSamples[k]; !ok {
			t.Errorf("no sample value for %s", k)
		}
	}
	for k := range modeSamples {
		if _, ok := keys[k]; !ok {
			t.Errorf("sample for %s, which Render never emits", k)
		}
	}
	if t.Failed() {
		return
	}

	tmp := t.TempDir()
	spec := v1.RedisConfigSpec{TLS: &v1.RedisServerTLS{CertSecretName: "c", RequireClientCerts: true}}
	opts := Options{DataDir: filepath.Join(tmp, "data"), TLSDir: filepath.Join(tmp, "tls")}
	if err := os.Mkdir(opts.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	certs := newTestCerts(t, opts.TLSDir)
	conf := func(port int) []byte {
		opts.Port = port
		b, err := Render(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	options := func(port int) *redis.Options {
		o := clientOptions(port)
		o.TLSConfig = certs.clientConfig(true)
		o.PoolSize = 1
		return o
	}
	_, rdb := startRedis(t, tmp, conf, options)
	ctx := context.Background()
	samples := maps.Clone(modeSamples)

	// Copies of the TLS files under new names, so that setting a path
	// changes the value and reloads the TLS context with valid files.
	for _, f := range []struct{ key, name string }{
		{"tls-cert-file", TLSCertFile}, {"tls-key-file", TLSKeyFile}, {"tls-ca-cert-file", TLSCAFile},
	} {
		b, err := os.ReadFile(filepath.Join(opts.TLSDir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, "copy", f.name)
		writeFile(t, p, b)
		samples[f.key] = p
	}
	samples["dir"] = tmp
	samples["include"] = filepath.Join(tmp, "included.conf")
	// The plain listener is off (port 0): opening it on a new port does
	// not disturb the test's TLS connection. tls-port comes last.
	samples["port"] = strconv.Itoa(freePort(t))
	samples["tls-port"] = strconv.Itoa(freePort(t))

	names := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if k != "tls-port" && !yield(k) {
				return
			}
		}
	})
	for _, key := range append(names, "tls-port") {
		value := samples[key]
		if check := keys[key].check; check != nil {
			var err error
			if value, err = check(value); err != nil {
				t.Errorf("sample %s %q fails its own check: %v", key, samples[key], err)
				continue
			}
		}
		err := rdb.ConfigSet(ctx, key, value).Err()
		switch mode := ModeOf(key); {
		case mode == Runtime && err != nil:
			t.Errorf("ModeOf(%s) = Runtime, but CONFIG SET %s %q failed: %v", key, key, value, err)
		case mode == Runtime && key == "tls-port":
			// The listener moved: read it back through the new port.
			port, _ := strconv.Atoi(value)
			moved := redis.NewClient(options(port))
			have, err := configGet(ctx, moved, key)
			_ = moved.Close()
			if err != nil || have != value {
				t.Errorf("after CONFIG SET tls-port %s the new port reports %q, %v", value, have, err)
			}
		case mode == Runtime:
			if have, err := configGet(ctx, rdb, key); err != nil || !reportedEqual(key, value, have) {
				t.Errorf("CONFIG SET %s %q succeeded, but CONFIG GET reports %q, %v", key, value, have, err)
			}
		case err == nil:
			t.Errorf("ModeOf(%s) = RestartRequired, but CONFIG SET %s %q succeeded", key, key, value)
		case key == "include":
			if !strings.Contains(err.Error(), "Unknown option") {
				t.Errorf("CONFIG SET include: %v, want an unknown option", err)
			}
		case !strings.Contains(err.Error(), "immutable config") && !strings.Contains(err.Error(), "protected config"):
			t.Errorf("ModeOf(%s) = RestartRequired, but CONFIG SET failed for another reason: %v", key, err)
		}
	}
}

// TestExternalDirectivesOnRedis sets the directives of each External golden
// case with CONFIG SET on a server started with Redis's defaults, as the
// External applier does: Runtime keys must be accepted and read back, and
// RestartRequired ones, which the applier reports as drift instead, must be
// refused.
func TestExternalDirectivesOnRedis(t *testing.T) {
	redisServerBinary(t)
	restartOnly := 0
	for _, tc := range goldenCases {
		if tc.spec.Mode != v1.RedisConfigExternal {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Directives(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			conf := func(port int) []byte {
				return []byte("port " + strconv.Itoa(port) + "\ndir " + quote(tmp, false) + "\nsave \"\"\n")
			}
			_, rdb := startRedis(t, tmp, conf, clientOptions)
			ctx := context.Background()
			for _, d := range ds {
				err := rdb.ConfigSet(ctx, d.Key, d.Value).Err()
				if ModeOf(d.Key) == RestartRequired {
					// The applier reports these as drift instead of trying;
					// trying must fail, or the key belongs in Runtime.
					restartOnly++
					if err == nil {
						t.Errorf("CONFIG SET %s %q succeeded on a key ModeOf calls RestartRequired", d.Key, d.Value)
					}
					continue
				}
				if err != nil {
					t.Errorf("CONFIG SET %s %q: %v", d.Key, d.Value, err)
					continue
				}
				if have, err := configGet(ctx, rdb, d.Key); err != nil || !reportedEqual(d.Key, d.Value, have) {
					t.Errorf("%s: CONFIG GET reports %q, %v after setting %q", d.Key, have, err, d.Value)
				}
			}
		})
	}
	if restartOnly == 0 {
		t.Error("no External case has a restart-only key, so the test does not show one is refused")
	}
}

// testCerts is a throw-away CA with a server and a client certificate.
type testCerts struct {
	pool   *x509.CertPool
	client tls.Certificate
}

// newTestCerts writes tls.crt, tls.key and ca.crt into dir, as the Secret
// of spec.tls holds them.
func newTestCerts(t *testing.T, dir string) *testCerts {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redisconf test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	serverCert, serverKey := issue(2, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := issue(3, x509.ExtKeyUsageClientAuth)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	writeFile(t, filepath.Join(dir, TLSCertFile), serverCert)
	writeFile(t, filepath.Join(dir, TLSKeyFile), serverKey)
	writeFile(t, filepath.Join(dir, TLSCAFile), caPEM)

	c := &testCerts{pool: x509.NewCertPool()}
	c.pool.AddCert(ca)
	if c.client, err = tls.X509KeyPair(clientCert, clientKey); err != nil {
		t.Fatal(err)
	}
	return c
}

// clientConfig trusts the test CA and, with withCert, presents the client
// certificate.
func (c *testCerts) clientConfig(withCert bool) *tls.Config {
	conf := &tls.Config{RootCAs: c.pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		conf.Certificates = []tls.Certificate{c.client}
	}
	return conf
}
