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
	"maps"
	"slices"
	"strings"
	"testing"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Flags of a fuzzed spec.
const (
	fuzzTLS      = 1 << iota // spec.tls is set
	fuzzExternal             // mode External
	fuzzPassword             // Options.PasswordFile is set
	fuzzRDB                  // one save rule
	fuzzAOFOff               // the append-only file is off
)

// FuzzRenderNoInjectedDirective feeds arbitrary extraConfig keys and
// values, paths and passwords to the renderers. Whatever the input, either
// every error is a FieldError, or redis-server would read from the file
// exactly the directives Directives returns, each key once, and the set of
// keys is the one the spec asks for: no input can smuggle in a directive.
func FuzzRenderNoInjectedDirective(f *testing.F) {
	type seed struct {
		key1, value1, key2, value2, dataDir, passwordFile, tlsDir, password string
		flags                                                               uint8
	}
	for _, s := range []seed{
		{"hz", "10", "loglevel", "notice", "/data", "/etc/redis/secret/password.conf", "/etc/redis/tls", "s3cret", fuzzPassword},
		{"notify-keyspace-events", "Ex\nrequirepass x", "hz", "10\r\nsave 1 1", "/data", "", "", "pw", 0},
		{"client-output-buffer-limit", "normal 0 0 0 pubsub 32mb 8mb 60", "oom-score-adj-values", "0 200 800", "/data", "", "", "pw", fuzzRDB},
		{"notify-keyspace-events", "", "hz", "\"10\"", "/data \"q\" \\", "/p w/password.conf", "/t ls", "a\"b\\c", fuzzPassword | fuzzTLS},
		{"maxmemory", "1gb", "requirepass", "x", "/data", "", "", "pw", 0},
		{"hz", "10", "hz", "20", "/data\nrequirepass x", "/p\x00", "/t\rport 1", "pw\nrequirepass other", fuzzPassword | fuzzTLS},
		{"io-threads", "4", "dynamic-hz", "YES", "/data", "", "", "\xff\x00", fuzzExternal | fuzzAOFOff},
		{"loglevel", "notice # comment", "hz", "10 include /etc/passwd", "/d#", "/p'", "/t\"", "'", fuzzPassword | fuzzTLS | fuzzRDB},
		{"lua-time-limit", "5000", "busy-reply-threshold", "5000", "relative", "", "", "", 0},
		{"client-output-buffer-limit", "normal 0 0 0\x0bport 1", "stream-node-max-bytes", "8KB", "/é\xff", "/\\x0a", "/\\", "\\x0a", fuzzPassword | fuzzTLS},
	} {
		f.Add(s.key1, s.value1, s.key2, s.value2, s.dataDir, s.passwordFile, s.tlsDir, s.password, s.flags)
	}
	f.Fuzz(func(t *testing.T, key1, value1, key2, value2, dataDir, passwordFile, tlsDir, password string, flags uint8) {
		spec := v1.RedisConfigSpec{ExtraConfig: map[string]v1.ExtraConfigValue{
			key1: v1.ExtraConfigValue(value1),
			key2: v1.ExtraConfigValue(value2),
		}}
		opts := Options{DataDir: dataDir, TLSDir: tlsDir}
		if flags&fuzzTLS != 0 {
			spec.TLS = &v1.RedisServerTLS{CertSecretName: "tls"}
		}
		if flags&fuzzExternal != 0 {
			spec.Mode = v1.RedisConfigExternal
			spec.TLS = nil
		}
		if flags&fuzzPassword != 0 {
			opts.PasswordFile = passwordFile
		}
		if flags&fuzzRDB != 0 {
			spec.Persistence.RDB = &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 60, Changes: 1}}}
		}
		if flags&fuzzAOFOff != 0 {
			spec.Persistence.AOF.Enabled = new(false)
		}

		ds, err := Directives(spec, opts)
		conf, rerr := Render(spec, opts)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Directives error %v, Render error %v", err, rerr)
		}
		if err != nil {
			fieldsOf(t, err)
		} else {
			assertReadsAs(t, conf, ds)
			got := make([]string, len(ds))
			for i, d := range ds {
				got[i] = d.Key
			}
			if want := expectedKeys(spec, opts); !slices.Equal(got, want) {
				t.Fatalf("keys %q, want %q\n%s", got, want, conf)
			}
		}

		pw, err := RenderPasswordFile(password)
		if (err != nil) != (CheckPassword(password) != nil) {
			t.Fatalf("RenderPasswordFile error %v, CheckPassword %v", err, CheckPassword(password))
		}
		if err != nil {
			fieldsOf(t, err)
			if password != "" && strings.Contains(err.Error(), password) {
				t.Fatalf("error %q holds the password", err)
			}
			return
		}
		assertReadsAs(t, pw, []Directive{{"requirepass", password}, {"masterauth", password}})
	})
}

// expectedKeys lists, sorted, the keys a spec that renders must produce,
// worked out from the spec without the renderer.
// In mode External only the typed fields the spec sets have a key.
func expectedKeys(spec v1.RedisConfigSpec, opts Options) []string {
	var want []string
	if spec.Mode == v1.RedisConfigExternal {
		if spec.Persistence.RDB != nil {
			want = append(want, "save")
		}
		if spec.Persistence.AOF.Enabled != nil {
			want = append(want, "appendonly")
		}
	} else {
		want = append(want,
			"appendfsync", "appendonly", "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del",
			"lazyfree-lazy-user-del", "maxclients", "maxmemory", "maxmemory-policy", "save", "tcp-backlog",
			"tcp-keepalive", "timeout", "dir", "port")
		if opts.PasswordFile != "" {
			want = append(want, "include")
		}
		if spec.TLS != nil {
			want = append(want, "tls-auth-clients", "tls-ca-cert-file", "tls-cert-file", "tls-key-file", "tls-port")
		}
	}
	want = append(want, slices.Collect(maps.Keys(spec.ExtraConfig))...)
	slices.Sort(want)
	return want
}
