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

package redisadmin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/test/redistest"
)

func startServer(t *testing.T, args ...string) *redistest.Server {
	t.Helper()
	srv, err := redistest.Start(args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestApplyRuntimeKeysAndDrift(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "requirepass s3cret")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "s3cret"})
	defer func() { _ = rdb.Close() }()

	settings := []Setting{
		{Key: "maxmemory", Value: "100mb", Runtime: true},
		{Key: "maxmemory-policy", Value: "noeviction", Runtime: true},
		{Key: "timeout", Value: "120", Runtime: true},
		{Key: "save", Value: "3600 1 300 100", Runtime: true},
		{Key: "tcp-backlog", Value: "1024", Runtime: false}, // the server runs with 511
	}
	report, err := Apply(ctx, rdb, settings, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if report.Applied != 4 || len(report.Nodes) != 1 || report.Nodes[0] != srv.Addr {
		t.Errorf("report = %+v, want 4 keys applied on %s", report, srv.Addr)
	}
	for key, want := range map[string]string{"maxmemory": "104857600", "timeout": "120", "save": "3600 1 300 100"} {
		got, err := rdb.ConfigGet(ctx, key).Result()
		if err != nil || got[key] != want {
			t.Errorf("CONFIG GET %s = %q (%v), want %q", key, got[key], err, want)
		}
	}
	if len(report.Drift) != 1 {
		t.Fatalf("drift = %+v, want only tcp-backlog", report.Drift)
	}
	d := report.Drift[0]
	if d.Key != "tcp-backlog" || d.Reason != ReasonRestartRequired || d.Have != "511" || d.Want != "1024" {
		t.Errorf("drift = %+v, want tcp-backlog 511 -> 1024 RestartRequired", d)
	}
	// No CONFIG REWRITE without persist.
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stats, "cmdstat_config|rewrite") {
		t.Error("CONFIG REWRITE ran although persist was false")
	}
}

// TestApplyReportsObservedValues: keys to observe are read, never set, and
// reported with the read-back values of the settings, sorted by key.
func TestApplyReportsObservedValues(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "maxmemory 100mb", "maxmemory-policy allkeys-lru", "save 3600 1")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { _ = rdb.Close() }()
	report, err := Apply(ctx, rdb, []Setting{{Key: "timeout", Value: "120", Runtime: true}},
		[]string{"save", "maxmemory-policy", "maxmemory", "no-such-key"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{
		{Node: srv.Addr, Key: "maxmemory", Value: "104857600"},
		{Node: srv.Addr, Key: "maxmemory-policy", Value: "allkeys-lru"},
		{Node: srv.Addr, Key: "save", Value: "3600 1"},
		{Node: srv.Addr, Key: "timeout", Value: "120"},
	}
	if !slices.Equal(report.Values, want) {
		t.Errorf("values = %+v, want %+v", report.Values, want)
	}
	if report.Applied != 1 || len(report.Drift) != 0 {
		t.Errorf("report = %+v, want timeout applied and no drift (an unknown observed key is no drift)", report)
	}
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	// One CONFIG SET: the timeout. The observed keys were only read.
	if !strings.Contains(stats, "cmdstat_config|set:calls=1,") {
		t.Errorf("CONFIG SET did not run exactly once:\n%s", stats)
	}
}

func TestApplyRefusedByACL(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { _ = admin.Close() }()
	// A user that may read the configuration but not change it.
	if err := admin.Do(ctx, "ACL", "SETUSER", "reader", "on", ">pw", "+ping", "+config|get", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "reader", Password: "pw"})
	defer func() { _ = rdb.Close() }()
	report, err := Apply(ctx, rdb, []Setting{{Key: "timeout", Value: "77", Runtime: true}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if report.Applied != 0 || len(report.Drift) != 1 || report.Drift[0].Reason != ReasonRefused ||
		!strings.Contains(report.Drift[0].Message, "NOPERM") {
		t.Fatalf("report = %+v, want timeout Refused with NOPERM", report)
	}
}

// TestApplyReadsUsage: the report carries each node's memory and clients
// from INFO; a user that may not run INFO leaves them unknown, no error.
func TestApplyReadsUsage(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "maxclients 321", "maxmemory 64mb")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { _ = admin.Close() }()
	if err := admin.Set(ctx, "ballast", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	report, err := Apply(ctx, admin, nil, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Usage) != 1 {
		t.Fatalf("usage = %+v, want one node", report.Usage)
	}
	u := report.Usage[0]
	if u.Node != srv.Addr || u.MaxMemory != 64<<20 || u.UsedMemory < 1<<20 || u.UsedMemory > 64<<20 ||
		u.ConnectedClients < 1 || u.MaxClients != 321 {
		t.Errorf("usage = %+v, want node %s, maxmemory 64 MiB, used over 1 MiB, a client, maxclients 321", u, srv.Addr)
	}

	if err := admin.Do(ctx, "ACL", "SETUSER", "noinfo", "on", ">pw", "+ping", "+config|get", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "noinfo", Password: "pw"})
	defer func() { _ = rdb.Close() }()
	report, err = Apply(ctx, rdb, nil, []string{"maxclients"}, false)
	if err != nil {
		t.Fatalf("INFO refused stopped the apply: %v", err)
	}
	if len(report.Usage) != 0 || len(report.Values) != 1 {
		t.Errorf("usage %+v values %+v, want no usage and maxclients read", report.Usage, report.Values)
	}
}

func TestApplyWrongPassword(t *testing.T) {
	srv := startServer(t, "requirepass right")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "wrong"})
	defer func() { _ = rdb.Close() }()
	_, err := Apply(context.Background(), rdb, []Setting{{Key: "timeout", Value: "1", Runtime: true}}, nil, false)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
}

func TestApplyUnreachable(t *testing.T) {
	srv := startServer(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	_, err := Apply(context.Background(), rdb, []Setting{{Key: "timeout", Value: "1", Runtime: true}}, nil, false)
	if err == nil || errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v, want a connection error", err)
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"100mb", "104857600"},
		{"1gb", "1073741824"},
		{"100k", "100000"},
		{`"3600 1  300 100"`, "3600 1 300 100"},
		{"YES", "yes"},
		{"normal 0 0 0 replica 256mb 64mb 60", "normal 0 0 0 replica 268435456 67108864 60"},
		{"512", "512"},
	}
	for _, c := range cases {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
