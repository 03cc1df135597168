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

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func qty(s string) *resource.Quantity { return new(resource.MustParse(s)) }

// goldenCase is a spec rendered into testdata/<name>.conf. TestGoldenOnRedis
// starts redis-server with each file of mode Managed.
type goldenCase struct {
	name string
	spec v1.RedisConfigSpec
	opts Options
}

var goldenCases = []goldenCase{
	{
		// Nothing set: the CRD's defaults, no password, plain port.
		name: "defaults",
	},
	{
		// The production sample: the settings the README recommends for
		// task queues, with the password included from a Secret.
		name: "production",
		spec: v1.RedisConfigSpec{
			Mode: v1.RedisConfigManaged,
			Auth: &v1.RedisAuth{PasswordSecretRef: &v1.SecretKeyReference{Name: "redis-auth", Key: "password"}},
			Memory: v1.RedisMemory{
				MaxMemory: qty("512Mi"),
				Policy:    "noeviction",
			},
			Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(true), Fsync: "everysec"}},
			Network: v1.RedisNetwork{
				TCPBacklog:   511,
				Timeout:      dur(300 * time.Second),
				TCPKeepalive: dur(300 * time.Second),
				MaxClients:   10000,
			},
			LazyFree: v1.RedisLazyFree{Eviction: new(true), Expire: new(true), ServerDel: new(true), UserDel: new(true)},
		},
		opts: Options{Port: 6379, DataDir: "/data", PasswordFile: DefaultPasswordFile},
	},
	{
		// Snapshots besides the append-only file.
		name: "rdb-snapshots",
		spec: v1.RedisConfigSpec{
			Persistence: v1.RedisPersistence{
				AOF: v1.RedisAOF{Fsync: "always"},
				RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 3600, Changes: 1}, {Seconds: 300, Changes: 100}, {Seconds: 60, Changes: 10000}}},
			},
		},
		opts: Options{PasswordFile: DefaultPasswordFile},
	},
	{
		// A cache-like Redis: nothing on disk.
		name: "no-persistence",
		spec: v1.RedisConfigSpec{
			Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(false)}, RDB: &v1.RedisRDB{}},
			Network:     v1.RedisNetwork{Timeout: dur(0), TCPKeepalive: dur(1500 * time.Millisecond), MaxClients: 2000},
		},
	},
	{
		// An evicting policy, accepted knowingly, with lazy freeing off.
		name: "eviction",
		spec: v1.RedisConfigSpec{
			Memory:   v1.RedisMemory{MaxMemory: qty("1.5Gi"), Policy: "allkeys-lfu", AllowEviction: true},
			LazyFree: v1.RedisLazyFree{Eviction: new(false), Expire: new(false), ServerDel: new(false), UserDel: new(false)},
		},
	},
	{
		// extraConfig: values with spaces, memory units, an empty value, a
		// negative number, restart-only keys and mixed case.
		name: "extra-config",
		spec: v1.RedisConfigSpec{
			ExtraConfig: map[string]v1.ExtraConfigValue{
				"client-output-buffer-limit": "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
				"oom-score-adj-values":       "0 200 800",
				"oom-score-adj":              "relative",
				"notify-keyspace-events":     "Ex",
				"hz":                         "20",
				"dynamic-hz":                 "YES",
				"io-threads":                 "2",
				"io-threads-do-reads":        "yes",
				"rdbchecksum":                "no",
				"loglevel":                   "warning",
				"slowlog-log-slower-than":    "-1",
				"list-max-listpack-size":     "-3",
				"stream-node-max-bytes":      "8kb",
				"hash-max-listpack-value":    "128",
				"proto-max-bulk-len":         "64mb",
				"busy-reply-threshold":       "10000",
				"lazyfree-lazy-user-flush":   "yes",
				"maxmemory-samples":          "10",
			},
		},
		opts: Options{PasswordFile: DefaultPasswordFile},
	},
	{
		// Paths that need quoting: a space, double and single quotes, a
		// backslash, '#' and non-ASCII.
		name: "quoted-paths",
		opts: Options{
			Port:         7000,
			DataDir:      `/var/lib/redis/queue "a" 'b' \ #1 é`,
			PasswordFile: "/etc/redis/my secret/password.conf",
		},
	},
	{
		// TLS only, with client certificates.
		name: "tls",
		spec: v1.RedisConfigSpec{
			TLS:    &v1.RedisServerTLS{CertSecretName: "redis-tls", RequireClientCerts: true},
			Memory: v1.RedisMemory{MaxMemory: qty("256Mi")},
		},
		opts: Options{PasswordFile: DefaultPasswordFile},
	},
	{
		// Mode External: tuning only, no placement; Options are ignored.
		// Only the keys the spec sets: the server keeps its own values of
		// the others.
		name: "external",
		spec: v1.RedisConfigSpec{
			Mode:        v1.RedisConfigExternal,
			External:    &v1.ExternalRedis{Addr: "redis.example:6379"},
			Memory:      v1.RedisMemory{MaxMemory: qty("2G")},
			Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 900, Changes: 1}}}},
			ExtraConfig: map[string]v1.ExtraConfigValue{"hz": "50", "io-threads": "4"},
		},
		opts: Options{Port: 1234, DataDir: "/ignored", PasswordFile: "/ignored"},
	},
	{
		// Mode External with nothing but the connection: nothing to set,
		// so the server's configuration stays as it is.
		name: "external-minimal",
		spec: v1.RedisConfigSpec{
			Mode:     v1.RedisConfigExternal,
			External: &v1.ExternalRedis{Addr: "redis.example:6379"},
		},
	},
	{
		// Mode External with a few fields set, some to the values mode
		// Managed would default them to: set is set. An empty rdb turns
		// snapshots off; the keys of unset fields are left out.
		name: "external-partial",
		spec: v1.RedisConfigSpec{
			Mode:        v1.RedisConfigExternal,
			External:    &v1.ExternalRedis{Addr: "redis.example:6379"},
			Memory:      v1.RedisMemory{Policy: "noeviction"},
			Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(false)}, RDB: &v1.RedisRDB{}},
			Network:     v1.RedisNetwork{Timeout: dur(0), MaxClients: 500},
			LazyFree:    v1.RedisLazyFree{Expire: new(false), UserDel: new(true)},
		},
	},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".conf")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/redisconf/ -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (run go test ./internal/redisconf/ -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestGoldenFilesHaveNoOrphans fails on a golden file no case renders.
func TestGoldenFilesHaveNoOrphans(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".conf")
		if !slices.ContainsFunc(goldenCases, func(c goldenCase) bool { return c.name == name }) {
			t.Errorf("%s belongs to no golden case", f)
		}
	}
}

// TestRenderReadsBackAsDirectives checks that redis-server would read from
// each rendered file exactly the directives Directives returns: one
// argument per value, keys sorted and unique, the header a comment.
func TestRenderReadsBackAsDirectives(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := Render(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := Directives(tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			assertReadsAs(t, conf, ds)
			if !slices.IsSortedFunc(ds, func(a, b Directive) int { return strings.Compare(a.Key, b.Key) }) {
				t.Errorf("directives are not sorted: %v", ds)
			}
			for i := 1; i < len(ds); i++ {
				if ds[i].Key == ds[i-1].Key {
					t.Errorf("key %s appears twice", ds[i].Key)
				}
			}
			for _, d := range ds {
				if _, ok := keys[d.Key]; !ok {
					t.Errorf("emitted key %s is not in the key table, so TestModeOfAgainstRedis does not check it", d.Key)
				}
			}
		})
	}
}

// assertReadsAs fails unless Redis would read exactly ds from conf.
func assertReadsAs(t testing.TB, conf []byte, ds []Directive) {
	t.Helper()
	lines, err := parseConf(conf)
	if err != nil {
		t.Fatalf("redis-server could not read the file: %v\n%s", err, conf)
	}
	got := make([]Directive, 0, len(lines))
	for _, args := range lines {
		if len(args) != 2 {
			t.Fatalf("line %q has %d arguments, want a key and one value\n%s", args, len(args), conf)
		}
		got = append(got, Directive{Key: args[0], Value: args[1]})
	}
	// slices.Equal, not reflect.DeepEqual: a spec with nothing to set has
	// no directives, nil, and the file then reads as an empty list.
	if !slices.Equal(got, ds) {
		t.Fatalf("redis-server reads\n%q\nwant\n%q", got, ds)
	}
}

// TestManagedDefaults checks that an empty spec in mode Managed renders like
// the spec with every default the API documents written out: the server the
// operator runs starts from these, not from Redis's own defaults.
func TestManagedDefaults(t *testing.T) {
	defaulted := v1.RedisConfigSpec{
		Mode:        v1.RedisConfigManaged,
		Memory:      v1.RedisMemory{Policy: "noeviction"},
		Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(true), Fsync: "everysec"}},
		Network: v1.RedisNetwork{
			TCPBacklog: 511, Timeout: dur(300 * time.Second), TCPKeepalive: dur(300 * time.Second), MaxClients: 10000,
		},
		LazyFree: v1.RedisLazyFree{Eviction: new(true), Expire: new(true), ServerDel: new(true), UserDel: new(true)},
	}
	for _, opts := range []Options{{}, {Port: DefaultPort, DataDir: DefaultDataDir, TLSDir: DefaultTLSDir}} {
		empty, err := Render(v1.RedisConfigSpec{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		full, err := Render(defaulted, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(empty, full) {
			t.Errorf("with %+v the empty spec renders\n%s\nthe defaulted one\n%s", opts, empty, full)
		}
	}
}

// TestExternalRendersOnlySetFields sets one field at a time. In mode
// External the field renders exactly the key it owns, with the value mode
// Managed renders for the same spec; everything else stays unrendered, so
// the server keeps its own value. The fields together cover every key an
// empty spec renders in mode Managed apart from placement, so a new typed
// field cannot be left out.
func TestExternalRendersOnlySetFields(t *testing.T) {
	fields := []struct {
		name string
		set  func(*v1.RedisConfigSpec)
		key  string
	}{
		{"memory.maxMemory", func(s *v1.RedisConfigSpec) { s.Memory.MaxMemory = qty("1Gi") }, "maxmemory"},
		{"memory.policy", func(s *v1.RedisConfigSpec) { s.Memory.Policy, s.Memory.AllowEviction = "allkeys-lru", true }, "maxmemory-policy"},
		{"persistence.aof.enabled", func(s *v1.RedisConfigSpec) { s.Persistence.AOF.Enabled = new(false) }, "appendonly"},
		{"persistence.aof.fsync", func(s *v1.RedisConfigSpec) { s.Persistence.AOF.Fsync = "no" }, "appendfsync"},
		{"persistence.rdb", func(s *v1.RedisConfigSpec) {
			s.Persistence.RDB = &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 60, Changes: 5}}}
		}, "save"},
		{"network.tcpBacklog", func(s *v1.RedisConfigSpec) { s.Network.TCPBacklog = 1024 }, "tcp-backlog"},
		{"network.timeout", func(s *v1.RedisConfigSpec) { s.Network.Timeout = dur(time.Minute) }, "timeout"},
		{"network.tcpKeepalive", func(s *v1.RedisConfigSpec) { s.Network.TCPKeepalive = dur(0) }, "tcp-keepalive"},
		{"network.maxClients", func(s *v1.RedisConfigSpec) { s.Network.MaxClients = 500 }, "maxclients"},
		{"lazyFree.eviction", func(s *v1.RedisConfigSpec) { s.LazyFree.Eviction = new(false) }, "lazyfree-lazy-eviction"},
		{"lazyFree.expire", func(s *v1.RedisConfigSpec) { s.LazyFree.Expire = new(true) }, "lazyfree-lazy-expire"},
		{"lazyFree.serverDel", func(s *v1.RedisConfigSpec) { s.LazyFree.ServerDel = new(false) }, "lazyfree-lazy-server-del"},
		{"lazyFree.userDel", func(s *v1.RedisConfigSpec) { s.LazyFree.UserDel = new(false) }, "lazyfree-lazy-user-del"},
	}
	covered := map[string]bool{}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			external := v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, External: &v1.ExternalRedis{Addr: "r:6379"}}
			managed := v1.RedisConfigSpec{Mode: v1.RedisConfigManaged}
			f.set(&external)
			f.set(&managed)
			ext, man := directiveMap(t, external, Options{}), directiveMap(t, managed, Options{})
			if _, ok := ext[f.key]; len(ext) != 1 || !ok {
				t.Fatalf("mode External renders %q, want only %s", ext, f.key)
			}
			if have, want := ext[f.key], man[f.key]; have != want {
				t.Errorf("%s = %q in mode External, %q in mode Managed", f.key, have, want)
			}
		})
		covered[f.key] = true
	}
	managed := directiveMap(t, v1.RedisConfigSpec{}, Options{})
	for k := range managed {
		if !covered[k] && k != "dir" && k != "port" {
			t.Errorf("mode Managed renders %s, which no field of this test sets", k)
		}
	}
	// TypedKeys is what the controller reports the server's values of.
	delete(managed, "dir")
	delete(managed, "port")
	if got, want := TypedKeys(), slices.Sorted(maps.Keys(managed)); !slices.Equal(got, want) {
		t.Errorf("TypedKeys() = %q, want the keys of the typed fields %q", got, want)
	}
}

// directiveMap renders and returns the directives by key.
func directiveMap(t *testing.T, spec v1.RedisConfigSpec, opts Options) map[string]string {
	t.Helper()
	ds, err := Directives(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		m[d.Key] = d.Value
	}
	return m
}

func TestDirectiveValues(t *testing.T) {
	tests := []struct {
		name string
		spec v1.RedisConfigSpec
		opts Options
		want map[string]string // the keys to check; "-" means absent
	}{
		{name: "512Mi is bytes", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{MaxMemory: qty("512Mi")}},
			want: map[string]string{"maxmemory": "536870912"}},
		{name: "decimal units", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{MaxMemory: qty("1G")}},
			want: map[string]string{"maxmemory": "1000000000"}},
		{name: "a fraction of a byte rounds up", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{MaxMemory: qty("100m")}},
			want: map[string]string{"maxmemory": "1"}},
		{name: "no maxMemory is no limit", want: map[string]string{"maxmemory": "0", "maxmemory-policy": "noeviction"}},
		{name: "timeout 0s is never", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(0)}},
			want: map[string]string{"timeout": "0"}},
		{name: "whole seconds", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(2 * time.Minute), TCPKeepalive: dur(time.Hour)}},
			want: map[string]string{"timeout": "120", "tcp-keepalive": "3600"}},
		{name: "1ns rounds up to 1s, not down to off", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(1), TCPKeepalive: dur(500 * time.Millisecond)}},
			want: map[string]string{"timeout": "1", "tcp-keepalive": "1"}},
		{name: "just over a second", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(time.Second + 1)}},
			want: map[string]string{"timeout": "2"}},
		{name: "24h is the most", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(24 * time.Hour)}},
			want: map[string]string{"timeout": "86400"}},
		{name: "network limits", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{TCPBacklog: 65535, MaxClients: 1}},
			want: map[string]string{"tcp-backlog": "65535", "maxclients": "1"}},
		{name: "no rdb is no snapshots", want: map[string]string{"save": ""}},
		{name: "one save rule", spec: v1.RedisConfigSpec{Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 900, Changes: 1}}}}},
			want: map[string]string{"save": "900 1"}},
		{name: "aof off keeps fsync", spec: v1.RedisConfigSpec{Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(false), Fsync: "no"}}},
			want: map[string]string{"appendonly": "no", "appendfsync": "no"}},
		{name: "one lazy free off", spec: v1.RedisConfigSpec{LazyFree: v1.RedisLazyFree{Expire: new(false)}},
			want: map[string]string{"lazyfree-lazy-eviction": "yes", "lazyfree-lazy-expire": "no", "lazyfree-lazy-server-del": "yes", "lazyfree-lazy-user-del": "yes"}},
		{name: "plain port", opts: Options{Port: 7000},
			want: map[string]string{"port": "7000", "tls-port": "-", "include": "-", "dir": "/data"}},
		{name: "tls turns the plain port off", spec: v1.RedisConfigSpec{TLS: &v1.RedisServerTLS{CertSecretName: "c"}}, opts: Options{Port: 7000, TLSDir: "/tls"},
			want: map[string]string{"port": "0", "tls-port": "7000", "tls-auth-clients": "no",
				"tls-cert-file": "/tls/tls.crt", "tls-key-file": "/tls/tls.key", "tls-ca-cert-file": "/tls/ca.crt"}},
		{name: "tls default dir and client certs", spec: v1.RedisConfigSpec{TLS: &v1.RedisServerTLS{CertSecretName: "c", RequireClientCerts: true}},
			want: map[string]string{"port": "0", "tls-port": "6379", "tls-auth-clients": "yes", "tls-cert-file": "/etc/redis/tls/tls.crt"}},
		{name: "password include", opts: Options{PasswordFile: "/etc/redis/secret/password.conf"},
			want: map[string]string{"include": "/etc/redis/secret/password.conf", "requirepass": "-", "masterauth": "-"}},
		{name: "external has no placement", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal}, opts: Options{PasswordFile: "/p"},
			want: map[string]string{"port": "-", "dir": "-", "include": "-"}},
		{name: "external: no maxMemory leaves maxmemory and its policy alone", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal},
			want: map[string]string{"maxmemory": "-", "maxmemory-policy": "-"}},
		{name: "external: maxMemory without a policy", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Memory: v1.RedisMemory{MaxMemory: qty("100Mi")}},
			want: map[string]string{"maxmemory": "104857600", "maxmemory-policy": "-"}},
		{name: "external: a policy without maxMemory", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Memory: v1.RedisMemory{Policy: "noeviction"}},
			want: map[string]string{"maxmemory": "-", "maxmemory-policy": "noeviction"}},
		{name: "external: no rdb leaves save alone", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal},
			want: map[string]string{"save": "-"}},
		{name: "external: an empty rdb turns snapshots off", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{}}},
			want: map[string]string{"save": ""}},
		{name: "external: an empty save list turns snapshots off", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{}}}},
			want: map[string]string{"save": ""}},
		{name: "external: fsync without enabled", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Fsync: "always"}}},
			want: map[string]string{"appendfsync": "always", "appendonly": "-"}},
		{name: "external: aof on without fsync", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: new(true)}}},
			want: map[string]string{"appendfsync": "-", "appendonly": "yes"}},
		{name: "external: one network field", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Network: v1.RedisNetwork{TCPKeepalive: dur(time.Minute)}},
			want: map[string]string{"tcp-keepalive": "60", "timeout": "-", "tcp-backlog": "-", "maxclients": "-"}},
		{name: "external: timeout 0s is set, not unset", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, Network: v1.RedisNetwork{Timeout: dur(0)}},
			want: map[string]string{"timeout": "0"}},
		{name: "external: one lazy free key", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, LazyFree: v1.RedisLazyFree{ServerDel: new(false)}},
			want: map[string]string{"lazyfree-lazy-server-del": "no", "lazyfree-lazy-eviction": "-", "lazyfree-lazy-expire": "-", "lazyfree-lazy-user-del": "-"}},
		{name: "extraConfig normalised", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{
			"active-defrag-ignore-bytes": "100MB", "auto-aof-rewrite-min-size": "64m", "loglevel": "NOTICE",
			"client-output-buffer-limit": "Pubsub  32mb 8MB 60", "oom-score-adj-values": " 0  100   200 ", "rdbcompression": "No"}},
			want: map[string]string{"active-defrag-ignore-bytes": "104857600", "auto-aof-rewrite-min-size": "64000000",
				"loglevel": "notice", "client-output-buffer-limit": "pubsub 33554432 8388608 60",
				"oom-score-adj-values": "0 100 200", "rdbcompression": "no"}},
		{name: "empty notify-keyspace-events", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"notify-keyspace-events": ""}},
			want: map[string]string{"notify-keyspace-events": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := directiveMap(t, tt.spec, tt.opts)
			for k, want := range tt.want {
				have, ok := got[k]
				switch {
				case want == "-" && ok:
					t.Errorf("%s = %q, want it absent", k, have)
				case want != "-" && !ok:
					t.Errorf("%s is absent, want %q", k, want)
				case want != "-" && have != want:
					t.Errorf("%s = %q, want %q", k, have, want)
				}
			}
		})
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name   string
		spec   v1.RedisConfigSpec
		opts   Options
		fields []string // every FieldError's Field, in order
	}{
		{name: "evicting policy without allowEviction", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{Policy: "allkeys-lru"}},
			fields: []string{"spec.memory.policy"}},
		{name: "unknown policy", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{Policy: "allkeys-lru2", AllowEviction: true}},
			fields: []string{"spec.memory.policy"}},
		{name: "zero maxMemory", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{MaxMemory: qty("0")}},
			fields: []string{"spec.memory.maxMemory"}},
		{name: "negative maxMemory", spec: v1.RedisConfigSpec{Memory: v1.RedisMemory{MaxMemory: qty("-1Mi")}},
			fields: []string{"spec.memory.maxMemory"}},
		{name: "unknown fsync", spec: v1.RedisConfigSpec{Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Fsync: "sometimes"}}},
			fields: []string{"spec.persistence.aof.fsync"}},
		{name: "save rule of zero", spec: v1.RedisConfigSpec{Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 1, Changes: 1}, {Seconds: 0, Changes: 1}}}}},
			fields: []string{"spec.persistence.rdb.save[1]"}},
		{name: "nine save rules", spec: v1.RedisConfigSpec{Persistence: v1.RedisPersistence{RDB: &v1.RedisRDB{Save: slices.Repeat([]v1.RDBSaveRule{{Seconds: 1, Changes: 1}}, 9)}}},
			fields: []string{"spec.persistence.rdb.save"}},
		{name: "tcpBacklog above the maximum", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{TCPBacklog: 65536}},
			fields: []string{"spec.network.tcpBacklog"}},
		{name: "negative maxClients", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{MaxClients: -1}},
			fields: []string{"spec.network.maxClients"}},
		{name: "timeout just over 24h", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{Timeout: dur(24*time.Hour + time.Nanosecond)}},
			fields: []string{"spec.network.timeout"}},
		{name: "negative keepalive", spec: v1.RedisConfigSpec{Network: v1.RedisNetwork{TCPKeepalive: dur(-time.Second)}},
			fields: []string{"spec.network.tcpKeepalive"}},
		{name: "key a typed field owns", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"maxmemory": "1gb"}},
			fields: []string{"spec.extraConfig[maxmemory]"}},
		{name: "key off the allow-list", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"rename-command": "CONFIG x"}},
			fields: []string{"spec.extraConfig[rename-command]"}},
		{name: "key in upper case", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"HZ": "10"}},
			fields: []string{"spec.extraConfig[HZ]"}},
		{name: "newline in a value", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"loglevel": "notice\nrequirepass x"}},
			fields: []string{"spec.extraConfig[loglevel]"}},
		{name: "carriage return, tab and NUL", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{
			"notify-keyspace-events": "Ex\r", "oom-score-adj-values": "0\t200\t800", "hz": "10\x00"}},
			fields: []string{"spec.extraConfig[hz]", "spec.extraConfig[notify-keyspace-events]", "spec.extraConfig[oom-score-adj-values]"}},
		{name: "value too long", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"notify-keyspace-events": v1.ExtraConfigValue(strings.Repeat("E", 257))}},
			fields: []string{"spec.extraConfig[notify-keyspace-events]"}},
		{name: "256 characters are fine", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"notify-keyspace-events": v1.ExtraConfigValue(strings.Repeat("E", 256))}}},
		{name: "wrong value types", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{
			"hz": "10 ", "dynamic-hz": "true", "proto-max-bulk-len": "1tb", "loglevel": "nothing",
			"client-output-buffer-limit": "normal 0 0", "notify-keyspace-events": "E x", "oom-score-adj-values": "0 200",
			"slowlog-max-len": "007", "lfu-decay-time": "99999999999999999999"}},
			fields: []string{
				"spec.extraConfig[client-output-buffer-limit]", "spec.extraConfig[dynamic-hz]", "spec.extraConfig[hz]",
				"spec.extraConfig[lfu-decay-time]", "spec.extraConfig[loglevel]", "spec.extraConfig[notify-keyspace-events]",
				"spec.extraConfig[oom-score-adj-values]", "spec.extraConfig[proto-max-bulk-len]", "spec.extraConfig[slowlog-max-len]",
			}},
		{name: "both names of the busy threshold", spec: v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{"lua-time-limit": "5000", "busy-reply-threshold": "5000"}},
			fields: []string{"spec.extraConfig[lua-time-limit]"}},
		{name: "tls in mode External", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal, TLS: &v1.RedisServerTLS{CertSecretName: "c"}},
			fields: []string{"spec.tls"}},
		{name: "unknown mode", spec: v1.RedisConfigSpec{Mode: "Hosted"}, fields: []string{"spec.mode"}},
		{name: "port out of range", opts: Options{Port: 65536}, fields: []string{"options.port"}},
		{name: "relative data dir", opts: Options{DataDir: "data"}, fields: []string{"options.dataDir"}},
		{name: "newline in the password file path", opts: Options{PasswordFile: "/p\nrequirepass x"}, fields: []string{"options.passwordFile"}},
		{name: "relative tls dir", spec: v1.RedisConfigSpec{TLS: &v1.RedisServerTLS{CertSecretName: "c"}}, opts: Options{TLSDir: "tls"},
			fields: []string{"options.tlsDir"}},
		{name: "evicting policy without allowEviction in mode External", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal,
			Memory: v1.RedisMemory{Policy: "allkeys-lru"}}, fields: []string{"spec.memory.policy"}},
		{name: "unknown fsync in mode External", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal,
			Persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Fsync: "sometimes"}}}, fields: []string{"spec.persistence.aof.fsync"}},
		{name: "maxClients above the maximum in mode External", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal,
			Network: v1.RedisNetwork{MaxClients: 1000001}}, fields: []string{"spec.network.maxClients"}},
		{name: "bad options do not matter in mode External", spec: v1.RedisConfigSpec{Mode: v1.RedisConfigExternal},
			opts: Options{Port: -1, DataDir: "x", PasswordFile: "y"}},
		{name: "every error at once", spec: v1.RedisConfigSpec{
			Memory:      v1.RedisMemory{Policy: "volatile-ttl"},
			Network:     v1.RedisNetwork{MaxClients: 1000001},
			ExtraConfig: map[string]v1.ExtraConfigValue{"save": "1 1"},
		}, opts: Options{DataDir: "rel"},
			fields: []string{"options.dataDir", "spec.memory.policy", "spec.network.maxClients", "spec.extraConfig[save]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := Directives(tt.spec, tt.opts)
			conf, rerr := Render(tt.spec, tt.opts)
			if (err == nil) != (rerr == nil) {
				t.Fatalf("Directives error %v, Render error %v", err, rerr)
			}
			got := fieldsOf(t, err)
			if !slices.Equal(got, tt.fields) {
				t.Fatalf("error fields %q, want %q (error: %v)", got, tt.fields, err)
			}
			if err != nil && (ds != nil || conf != nil) {
				t.Errorf("output %q %q next to an error", ds, conf)
			}
		})
	}
}

// fieldsOf returns the Field of every FieldError joined in err, and fails
// on any error that is not a FieldError.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var fields []string
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *FieldError", e)
		}
		if fe.Message == "" {
			t.Errorf("%s has no message", fe.Field)
		}
		fields = append(fields, fe.Field)
	}
	return fields
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"yes", "yes"},
		{"536870912", "536870912"},
		{"/etc/redis/tls/tls.crt", "/etc/redis/tls/tls.crt"},
		{"g$lshzxe#", "g$lshzxe#"},
		{"", `""`},
		{"3600 1 300 100", `"3600 1 300 100"`},
		{`a"b`, `"a\"b"`},
		{`a'b`, `"a'b"`},
		{`a\b`, `"a\\b"`},
		{"a\nb", `"a\x0ab"`},
		{"a\r\x00\tb\x7f", `"a\x0d\x00\x09b\x7f"`},
		{"é", `"\xc3\xa9"`},
		{`\x41`, `"\\x41"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in, false); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
		forced := quote(tt.in, true)
		if want := `"` + strings.Trim(tt.want, `"`) + `"`; forced != want {
			t.Errorf("quote(%q, forceQuotes) = %s, want %s", tt.in, forced, want)
		}
		for _, q := range []string{quote(tt.in, false), forced} {
			args, err := splitArgs("key " + q)
			if err != nil || len(args) != 2 || args[1] != tt.in {
				t.Errorf("%s reads back as %q, %v, want %q", q, args, err, tt.in)
			}
		}
	}
}

// TestRenderPasswordFile pins the bytes of the password file, which the
// managed password Secrets hold: a change would rewrite every derived Secret.
func TestRenderPasswordFile(t *testing.T) {
	tests := []struct {
		name     string
		password string
		want     string // the password as the file writes it
	}{
		{"generated", "Ab-_09", `"Ab-_09"`},
		{"long generated", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_", `"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_"`},
		{"space and single quote", "a b'c", `"a b'c"`},
		{"double quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"tab", "a\tb", `"a\x09b"`},
		{"comment and dollar", "#$x", `"#$x"`},
		{"escape lookalike", `\x41`, `"\\x41"`},
		{"utf-8", "é", `"\xc3\xa9"`},
		{"del", "\x7f", `"\x7f"`},
		{"binary", "\xff\xfe binary", `"\xff\xfe binary"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := RenderPasswordFile(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if want := "requirepass " + tt.want + "\nmasterauth " + tt.want + "\n"; string(b) != want {
				t.Errorf("RenderPasswordFile(%q) =\n%s\nwant\n%s", tt.password, b, want)
			}
			assertReadsAs(t, b, []Directive{{"requirepass", tt.password}, {"masterauth", tt.password}})
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		want     string // part of the message; "" for an accepted password
	}{
		{"empty", "", "is empty"},
		{"nul byte", "nul\x00byte", "NUL"},
		{"newline starting a directive", "pw\nrename-command CONFIG \"\"", "line break"},
		{"trailing newline", "s3cret\n", "line break"},
		{"carriage return", "a\rb", "line break"},
		{"crlf", "a\r\nrequirepass injected", "line break"},
		{"one byte", "x", ""},
		{"other control bytes", "a\t\v\f\x1b\x7fb", ""},
		{"everything else", "with space \"quotes\" 'single' \\back\\slash \xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			_, renderErr := RenderPasswordFile(tt.password)
			if tt.want == "" {
				if err != nil || renderErr != nil {
					t.Fatalf("refused: %v, %v", err, renderErr)
				}
				return
			}
			fe, ok := errors.AsType[*FieldError](err)
			if !ok || fe.Field != "password" || !strings.Contains(fe.Message, tt.want) {
				t.Fatalf("error %v, want a FieldError of password with %q", err, tt.want)
			}
			if renderErr == nil || renderErr.Error() != err.Error() {
				t.Errorf("RenderPasswordFile error %v, want %v", renderErr, err)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestRestartHash: only restart-only keys feed it, in their rendered form,
// and its value for given directives is pinned: a change would roll every
// managed Redis.
func TestRestartHash(t *testing.T) {
	base := []Directive{
		{"appendonly", "yes"}, {"dir", "/data"}, {"include", "/etc/redis/secret/password.conf"},
		{"maxmemory", "0"}, {"port", "6379"}, {"rdbchecksum", "yes"}, {"tcp-backlog", "511"},
	}
	with := func(key, value string) []Directive {
		ds := slices.Clone(base)
		for i := range ds {
			if ds[i].Key == key {
				ds[i].Value = value
				return ds
			}
		}
		ds = append(ds, Directive{key, value})
		sortDirectives(ds)
		return ds
	}
	want := Hash([]byte("dir /data\ninclude /etc/redis/secret/password.conf\nrdbchecksum yes\ntcp-backlog 511\n"))
	if got := RestartHash(base); got != want || got != "d9a3503751086f3a" {
		t.Fatalf("RestartHash = %s, want %s (d9a3503751086f3a)", got, want)
	}
	tests := []struct {
		name string
		ds   []Directive
		same bool
	}{
		{"runtime key changed", with("maxmemory", "1073741824"), true},
		{"runtime key added", with("hz", "20"), true},
		{"port changed", with("port", "6380"), true}, // CONFIG SET takes it; placement keeps it off the server
		{"restart-only key changed", with("tcp-backlog", "1024"), false},
		{"restart-only key added", with("io-threads", "4"), false},
		{"dir changed", with("dir", "/other"), false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := RestartHash(tt.ds) == want; same != tt.same {
				t.Errorf("RestartHash(%v) unchanged = %v, want %v", tt.ds, same, tt.same)
			}
		})
	}
	if got, want := RestartHash(nil), Hash(nil); got != want {
		t.Errorf("RestartHash(nil) = %s, want the hash of nothing %s", got, want)
	}
}

func TestIsPlacement(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"port", true}, {"tls-port", true}, {"dir", true}, {"include", true},
		{"tls-cert-file", true}, {"tls-key-file", true}, {"tls-ca-cert-file", true}, {"tls-auth-clients", true},
		{"PORT", true},
		{"maxmemory", false}, {"tcp-backlog", false}, {"save", false}, {"hz", false},
		{"requirepass", false}, {"", false}, {"bind", false},
	}
	for _, tt := range tests {
		if got := IsPlacement(tt.key); got != tt.want {
			t.Errorf("IsPlacement(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestPlacementIsManagedOnly: the placement keys are the keys mode Managed
// renders beyond the spec's, and mode External renders none of them.
func TestPlacementIsManagedOnly(t *testing.T) {
	for _, tc := range goldenCases {
		ds, err := Directives(tc.spec, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			fromSpec := slices.Contains(typedKeys, d.Key) || slices.Contains(extraConfigKeys, d.Key)
			if IsPlacement(d.Key) == fromSpec {
				t.Errorf("%s: %s is placement %v and from the spec %v", tc.name, d.Key, IsPlacement(d.Key), fromSpec)
			}
			if tc.spec.Mode == v1.RedisConfigExternal && IsPlacement(d.Key) {
				t.Errorf("%s: mode External renders %s", tc.name, d.Key)
			}
		}
	}
	for _, key := range placementKeys {
		if _, ok := keys[key]; !ok {
			t.Errorf("placement key %s is not a key Render emits", key)
		}
	}
}

// TestRenderNeverHoldsThePassword renders with every field that could
// carry a password and checks that the file only includes it.
func TestRenderNeverHoldsThePassword(t *testing.T) {
	for _, tc := range goldenCases {
		conf, err := Render(tc.spec, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"requirepass", "masterauth", "user ", "aclfile"} {
			if bytes.Contains(conf, []byte(key)) {
				t.Errorf("%s: the file holds %q", tc.name, key)
			}
		}
	}
}

func TestHash(t *testing.T) {
	a := Hash([]byte("maxmemory 0\n"))
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a) {
		t.Fatalf("Hash = %q, want 16 hex digits", a)
	}
	// The first 16 hex digits of SHA-256("maxmemory 0\n"), pinned so the
	// annotation does not change, and roll every pod, between releases.
	if want := "44b7f20ec338244a"; a != want {
		t.Errorf("Hash = %s, want %s", a, want)
	}
	if b := Hash([]byte("maxmemory 1\n")); b == a {
		t.Errorf("different files hash alike: %s", b)
	}
	if Hash(nil) != Hash([]byte{}) {
		t.Errorf("nil and empty hash differently")
	}
}

func TestModeOf(t *testing.T) {
	tests := []struct {
		key  string
		want Mode
	}{
		{"maxmemory", Runtime},
		{"MAXMEMORY", Runtime},
		{"save", Runtime},
		{"tcp-backlog", RestartRequired},
		{"io-threads", RestartRequired},
		{"dir", RestartRequired},
		{"include", RestartRequired},
		{"no-such-key", RestartRequired},
		{"", RestartRequired},
	}
	for _, tt := range tests {
		if got := ModeOf(tt.key); got != tt.want {
			t.Errorf("ModeOf(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	if Runtime.String() != "Runtime" || RestartRequired.String() != "RestartRequired" || Mode(7).String() != "Mode(7)" {
		t.Errorf("Mode strings: %v %v %v", Runtime, RestartRequired, Mode(7))
	}
}

// TestExtraConfigKeysMatchCRD reads the allow-list out of the CEL rule on
// RedisConfigSpec.ExtraConfig, the one the API server enforces, and
// compares it with extraConfigKeys.
func TestExtraConfigKeysMatchCRD(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "api", "v1alpha1", "redisconfig_types.go"))
	if err != nil {
		t.Fatal(err)
	}
	rule := regexp.MustCompile(`self\.all\(k, k in \[([^\]]*)\]\)`).FindSubmatch(src)
	if rule == nil {
		t.Fatal("no allow-list rule (self.all(k, k in [...])) in redisconfig_types.go")
	}
	matches := regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(rule[1], -1)
	crd := make([]string, 0, len(matches))
	for _, m := range matches {
		crd = append(crd, string(m[1]))
	}
	if !slices.Equal(crd, extraConfigKeys) {
		t.Errorf("allow-list of the CRD\n%q\ndiffers from extraConfigKeys\n%q", crd, extraConfigKeys)
	}
}

// TestKeyTable checks that extraConfig keys, and only they, have a value
// check, and that no extraConfig key is one Render sets from a typed field
// or Options (which would emit the key twice).
func TestKeyTable(t *testing.T) {
	for _, k := range extraConfigKeys {
		if info, ok := keys[k]; !ok || info.check == nil {
			t.Errorf("allow-listed %s has no entry with a value check", k)
		}
	}
	everything := directiveMap(t, v1.RedisConfigSpec{TLS: &v1.RedisServerTLS{CertSecretName: "c"}}, Options{PasswordFile: "/p"})
	for k, info := range keys {
		if info.check != nil && !slices.Contains(extraConfigKeys, k) {
			t.Errorf("%s has a value check but is not allow-listed", k)
		}
		if _, typed := everything[k]; typed && slices.Contains(extraConfigKeys, k) {
			t.Errorf("%s is both allow-listed and set by Render itself", k)
		}
		if _, typed := everything[k]; !typed && !slices.Contains(extraConfigKeys, k) {
			t.Errorf("%s is in the key table but Render never emits it", k)
		}
	}
}

func TestValueChecks(t *testing.T) {
	tests := []struct {
		check   func(string) (string, error)
		in      string
		want    string
		wantErr bool
	}{
		{check: checkInt, in: "0", want: "0"},
		{check: checkInt, in: "-1", want: "-1"},
		{check: checkInt, in: "9223372036854775807", want: "9223372036854775807"},
		{check: checkInt, in: "9223372036854775808", wantErr: true},
		{check: checkInt, in: "-0", wantErr: true},
		{check: checkInt, in: "01", wantErr: true},
		{check: checkInt, in: "+1", wantErr: true},
		{check: checkInt, in: "", wantErr: true},
		{check: checkInt, in: "-", wantErr: true},
		{check: checkInt, in: "1k", wantErr: true},
		{check: checkMemory, in: "0", want: "0"},
		{check: checkMemory, in: "64", want: "64"},
		{check: checkMemory, in: "64b", want: "64"},
		{check: checkMemory, in: "1k", want: "1000"},
		{check: checkMemory, in: "1KB", want: "1024"},
		{check: checkMemory, in: "2m", want: "2000000"},
		{check: checkMemory, in: "2mb", want: "2097152"},
		{check: checkMemory, in: "3g", want: "3000000000"},
		{check: checkMemory, in: "3Gb", want: "3221225472"},
		{check: checkMemory, in: "8589934591gb", want: "9223372035781033984"},
		{check: checkMemory, in: "8589934592gb", wantErr: true},
		{check: checkMemory, in: "kb", wantErr: true},
		{check: checkMemory, in: "-1", wantErr: true},
		{check: checkMemory, in: "1 mb", wantErr: true},
		{check: checkMemory, in: "1tb", wantErr: true},
		{check: checkMemory, in: "1.5mb", wantErr: true},
		{check: checkBool, in: "Yes", want: "yes"},
		{check: checkBool, in: "no", want: "no"},
		{check: checkBool, in: "true", wantErr: true},
		{check: checkOutputBufferLimit, in: "normal 0 0 0", want: "normal 0 0 0"},
		{check: checkOutputBufferLimit, in: "SLAVE 1mb 1k 5", want: "slave 1048576 1000 5"},
		{check: checkOutputBufferLimit, in: "normal 0 0 -1", wantErr: true},
		{check: checkOutputBufferLimit, in: "master 0 0 0", wantErr: true},
		{check: checkOutputBufferLimit, in: "", wantErr: true},
		{check: checkKeyspaceEvents, in: "KEA", want: "KEA"},
		{check: checkKeyspaceEvents, in: "", want: ""},
		{check: checkKeyspaceEvents, in: "Kq", wantErr: true},
		{check: checkOOMScoreAdj, in: "Relative", want: "yes"},
		{check: checkOOMScoreAdj, in: "absolute", want: "absolute"},
		{check: checkOOMScoreAdj, in: "always", wantErr: true},
		{check: checkOOMScoreAdjValues, in: "-1000 0 1000", want: "-1000 0 1000"},
		{check: checkOOMScoreAdjValues, in: "0 0 0 0", wantErr: true},
		{check: checkOOMScoreAdjValues, in: "0 a 0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := tt.check(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("check(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
