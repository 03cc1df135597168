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

// Package redisadmin applies a rendered configuration to running Redis
// servers with CONFIG SET, reads it back with CONFIG GET and reports the
// keys whose value on a server is not the rendered one, together with the
// values of keys it was asked to read but not to set. It never runs CONFIG
// REWRITE unless asked to.
package redisadmin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Setting is one redis.conf key with its value as CONFIG SET takes it
// (unquoted: "3600 1 300 100" for save, not the redis.conf quoting).
type Setting struct {
	Key   string
	Value string
	// Runtime is true when CONFIG SET changes the key on a running server;
	// false when only a restart does.
	Runtime bool
}

// Reasons of a Drift.
const (
	// ReasonRestartRequired: the key changes only with a restart.
	ReasonRestartRequired = "RestartRequired"
	// ReasonRefused: the server refused CONFIG SET (ACL, renamed command,
	// bad value).
	ReasonRefused = "Refused"
	// ReasonUnreadable: CONFIG GET did not return the key.
	ReasonUnreadable = "Unreadable"
	// ReasonNotApplied: CONFIG SET succeeded but CONFIG GET reads another
	// value.
	ReasonNotApplied = "NotApplied"
)

// Drift is a key whose value on a server is not the rendered one.
type Drift struct {
	Key, Want, Have, Node, Reason, Message string
}

// Value is a key's value as one server reported it with CONFIG GET.
type Value struct {
	Node, Key, Value string
}

// Report is the outcome of applying to every node.
type Report struct {
	// Nodes are the servers the configuration was applied to.
	Nodes []string
	// Applied counts the successful CONFIG SET calls.
	Applied int
	// Drift lists what is not as rendered, sorted by node and key.
	Drift []Drift
	// Values are what CONFIG GET read after applying, of every setting and
	// every observed key, sorted by node and key. A key the server did not
	// report is missing.
	Values []Value
	// Rewritten is true when CONFIG REWRITE ran on every node.
	Rewritten bool
	// Usage is what INFO said of each node that let the operator run it,
	// sorted by node.
	Usage []Usage
}

// Usage is a node's memory and clients as INFO reported them.
type Usage struct {
	Node string
	// UsedMemory and MaxMemory are used_memory and maxmemory in bytes;
	// MaxMemory 0 is no limit.
	UsedMemory, MaxMemory int64
	// ConnectedClients is connected_clients.
	ConnectedClients int64
	// MaxClients is maxclients, which INFO shows from Redis 7 on; 0 when
	// it does not.
	MaxClients int64
}

// ErrAuth wraps authentication failures, which no retry fixes until the
// credentials change.
var ErrAuth = errors.New("authentication failed")

// Apply sets every runtime key on every node the client reaches (each
// master and replica of a cluster, the current master of a sentinel group,
// the server itself otherwise), reads all keys back together with the
// observe keys, which it does not set, and with persist runs CONFIG
// REWRITE. Errors of single keys become Drift; an error that stops the
// whole node (unreachable, wrong password) is returned.
//
// Everything on one node happens on one connection, so what is read back
// is what that server holds after the writes, even behind a proxy that
// would send another connection elsewhere.
func Apply(ctx context.Context, rdb redis.UniversalClient, settings []Setting, observe []string, persist bool) (Report, error) {
	var (
		mu     sync.Mutex
		report = Report{Rewritten: persist}
	)
	apply := func(ctx context.Context, node *redis.Client) error {
		name := node.Options().Addr
		conn := node.Conn()
		defer func() { _ = conn.Close() }()
		n, err := applyNode(ctx, conn, name, settings, observe, persist)
		mu.Lock()
		defer mu.Unlock()
		report.Nodes = append(report.Nodes, name)
		report.Applied += n.applied
		report.Drift = append(report.Drift, n.drift...)
		report.Values = append(report.Values, n.values...)
		report.Rewritten = report.Rewritten && n.rewritten
		if n.usage != nil {
			report.Usage = append(report.Usage, *n.usage)
		}
		return err
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachShard(ctx, apply)
	case *redis.Client:
		err = apply(ctx, c)
	default:
		return Report{}, fmt.Errorf("unsupported client %T", rdb)
	}
	sort.Strings(report.Nodes)
	sort.Slice(report.Drift, func(i, j int) bool {
		a, b := report.Drift[i], report.Drift[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Key < b.Key
	})
	sort.Slice(report.Values, func(i, j int) bool {
		a, b := report.Values[i], report.Values[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Key < b.Key
	})
	sort.Slice(report.Usage, func(i, j int) bool { return report.Usage[i].Node < report.Usage[j].Node })
	if err != nil {
		return report, err
	}
	return report, nil
}

// nodeReport is the outcome on one node.
type nodeReport struct {
	applied   int
	drift     []Drift
	values    []Value
	rewritten bool
	usage     *Usage
}

func applyNode(ctx context.Context, conn *redis.Conn, name string, settings []Setting, observe []string, persist bool) (nodeReport, error) {
	var n nodeReport
	if err := conn.Ping(ctx).Err(); err != nil {
		return n, classify(name, err)
	}
	refused := map[string]bool{}
	for _, s := range settings {
		if !s.Runtime {
			continue
		}
		if err := conn.ConfigSet(ctx, s.Key, s.Value).Err(); err != nil {
			if isConnErr(err) {
				return n, classify(name, err)
			}
			refused[s.Key] = true
			n.drift = append(n.drift, Drift{Key: s.Key, Want: s.Value, Node: name, Reason: ReasonRefused, Message: err.Error()})
			continue
		}
		n.applied++
	}
	for _, s := range settings {
		if refused[s.Key] {
			// The server's value is still worth knowing (a refused
			// maxmemory-policy leaves the server's own one in force); the
			// key already drifted as refused.
			if got, err := conn.ConfigGet(ctx, s.Key).Result(); err == nil {
				if have, ok := got[s.Key]; ok {
					n.values = append(n.values, Value{Node: name, Key: s.Key, Value: have})
					setHave(n.drift, s.Key, have)
				}
			} else if isConnErr(err) {
				return n, classify(name, err)
			}
			continue
		}
		got, err := conn.ConfigGet(ctx, s.Key).Result()
		if err != nil {
			if isConnErr(err) {
				return n, classify(name, err)
			}
			n.drift = append(n.drift, Drift{Key: s.Key, Want: s.Value, Node: name, Reason: ReasonUnreadable, Message: err.Error()})
			continue
		}
		have, ok := got[s.Key]
		if !ok {
			n.drift = append(n.drift, Drift{Key: s.Key, Want: s.Value, Node: name, Reason: ReasonUnreadable,
				Message: "CONFIG GET returned no value"})
			continue
		}
		n.values = append(n.values, Value{Node: name, Key: s.Key, Value: have})
		if Normalize(have) == Normalize(s.Value) {
			continue
		}
		reason := ReasonNotApplied
		if !s.Runtime {
			reason = ReasonRestartRequired
		}
		n.drift = append(n.drift, Drift{Key: s.Key, Want: s.Value, Have: have, Node: name, Reason: reason})
	}
	// Keys nobody asked to set are only reported: one the server does not
	// let us read is no drift, just missing from the values.
	for _, key := range observe {
		got, err := conn.ConfigGet(ctx, key).Result()
		if err != nil {
			if isConnErr(err) {
				return n, classify(name, err)
			}
			continue
		}
		if have, ok := got[key]; ok {
			n.values = append(n.values, Value{Node: name, Key: key, Value: have})
		}
	}
	u, err := readUsage(ctx, conn, name)
	if err != nil {
		return n, err
	}
	n.usage = u
	if persist {
		if err := conn.ConfigRewrite(ctx).Err(); err != nil {
			if isConnErr(err) {
				return n, classify(name, err)
			}
			n.drift = append(n.drift, Drift{Key: "CONFIG REWRITE", Node: name, Reason: ReasonRefused, Message: err.Error()})
		} else {
			n.rewritten = true
		}
	}
	return n, nil
}

// ReadUsage reads the memory and clients of every node Apply reaches,
// and changes nothing. A node that refuses INFO is missing from the
// result; an error that stops a node (unreachable, wrong password) is
// returned.
func ReadUsage(ctx context.Context, rdb redis.UniversalClient) ([]Usage, error) {
	var (
		mu    sync.Mutex
		usage []Usage
	)
	read := func(ctx context.Context, node *redis.Client) error {
		name := node.Options().Addr
		conn := node.Conn()
		defer func() { _ = conn.Close() }()
		if err := conn.Ping(ctx).Err(); err != nil {
			return classify(name, err)
		}
		u, err := readUsage(ctx, conn, name)
		if err != nil || u == nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		usage = append(usage, *u)
		return nil
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachShard(ctx, read)
	case *redis.Client:
		err = read(ctx, c)
	default:
		return nil, fmt.Errorf("unsupported client %T", rdb)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(usage, func(i, j int) bool { return usage[i].Node < usage[j].Node })
	return usage, nil
}

// readUsage reads a node's memory and clients. A server that refuses INFO
// (an ACL without it) leaves the usage unknown: nil, no error.
func readUsage(ctx context.Context, conn *redis.Conn, name string) (*Usage, error) {
	u := &Usage{Node: name}
	// One section per call: before Redis 7, INFO takes one.
	for _, section := range []string{"memory", "clients"} {
		info, err := conn.Info(ctx, section).Result()
		if err != nil {
			if isConnErr(err) {
				return nil, classify(name, err)
			}
			return nil, nil
		}
		fields := infoFields(info)
		var ok bool
		switch section {
		case "memory":
			var okMax bool
			u.UsedMemory, ok = fields["used_memory"]
			u.MaxMemory, okMax = fields["maxmemory"]
			ok = ok && okMax
		case "clients":
			u.ConnectedClients, ok = fields["connected_clients"]
			u.MaxClients = fields["maxclients"]
		}
		if !ok {
			return nil, nil
		}
	}
	return u, nil
}

// infoFields parses the integer fields of an INFO reply.
func infoFields(info string) map[string]int64 {
	fields := map[string]int64{}
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			fields[k] = n
		}
	}
	return fields
}

// setHave records have on the drift entry of key.
func setHave(drift []Drift, key, have string) {
	for i := range drift {
		if drift[i].Key == key {
			drift[i].Have = have
		}
	}
}

// isConnErr tells a failure of the connection (or of authentication, which
// happens when it opens) from a refusal of one command.
func isConnErr(err error) bool {
	if rerr, ok := errors.AsType[redis.Error](err); ok {
		msg := rerr.Error()
		return strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS") ||
			strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password")
	}
	return true
}

func classify(node string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "WRONGPASS") ||
		strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password") {
		return fmt.Errorf("%s: %w: %s", node, ErrAuth, msg)
	}
	return fmt.Errorf("%s: %w", node, err)
}

var memoryToken = regexp.MustCompile(`^([0-9]+)(k|kb|m|mb|g|gb)$`)

// Normalize makes a value as written in redis.conf comparable with the
// value CONFIG GET reports: no surrounding quotes, lower case, single
// spaces, and memory units (1mb, 100k) in bytes, as Redis reports them.
func Normalize(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
	}
	fields := strings.Fields(strings.ToLower(v))
	for i, f := range fields {
		m := memoryToken.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		mult := map[string]int64{"k": 1000, "kb": 1024, "m": 1000 * 1000, "mb": 1024 * 1024,
			"g": 1000 * 1000 * 1000, "gb": 1024 * 1024 * 1024}[m[2]]
		fields[i] = strconv.FormatInt(n*mult, 10)
	}
	return strings.Join(fields, " ")
}
