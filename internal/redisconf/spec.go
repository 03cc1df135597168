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
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// The defaults of mode Managed and the CRD's limits. The defaults live here
// and not in the CRD: the API server would fill them in for mode External
// too, and the operator could then no longer tell a value the user chose
// from one nobody chose, and would overwrite the server's own settings with
// them. The limits are checked again so that a spec that skipped the API
// server is refused as it would have been.
const (
	defaultPolicy       = v1alpha1.MaxMemoryPolicy("noeviction")
	defaultFsync        = v1alpha1.AppendFsync("everysec")
	defaultTCPBacklog   = 511
	defaultTimeout      = 300 * time.Second
	defaultTCPKeepalive = 300 * time.Second
	defaultMaxClients   = 10000

	maxSaveRules        = 8
	maxDuration         = 24 * time.Hour
	maxExtraConfigKeys  = 32
	maxExtraConfigValue = 256
)

var (
	policies = []v1alpha1.MaxMemoryPolicy{
		"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
		"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	}
	fsyncs = []v1alpha1.AppendFsync{"always", "everysec", "no"}
)

// renderer collects the directives of one spec and every error in it.
type renderer struct {
	out  []Directive
	errs []error
	// managed fills unset fields with the defaults: the server the operator
	// runs starts from them rather than from Redis's own. In mode External
	// an unset field renders nothing, so the server keeps its value.
	managed bool
}

func (r *renderer) add(key, value string) {
	r.out = append(r.out, Directive{Key: key, Value: value})
}

func (r *renderer) fail(field, format string, args ...any) {
	fieldf(&r.errs, field, format, args...)
}

func (r *renderer) render(spec v1alpha1.RedisConfigSpec, opts Options) {
	switch spec.Mode {
	case "", v1alpha1.RedisConfigManaged:
		r.managed = true
		r.server(spec.TLS, opts)
	case v1alpha1.RedisConfigExternal:
		if spec.TLS != nil {
			r.fail("spec.tls", "configures the server the operator runs (mode Managed); for mode External set spec.external.tls")
		}
	default:
		r.fail("spec.mode", "must be Managed or External, not %q", spec.Mode)
	}
	r.memory(spec.Memory)
	r.persistence(spec.Persistence)
	r.network(spec.Network)
	r.lazyFree(spec.LazyFree)
	r.extraConfig(spec.ExtraConfig)
}

// server places the server the operator runs: ports, files, password
// include and TLS.
func (r *renderer) server(tls *v1alpha1.RedisServerTLS, opts Options) {
	port := opts.Port
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		r.fail("options.port", "must be between 1 and 65535, not %d", port)
	}
	r.add("dir", r.absPath("options.dataDir", opts.DataDir, DefaultDataDir))
	if opts.PasswordFile != "" {
		r.add("include", r.absPath("options.passwordFile", opts.PasswordFile, ""))
	}
	if tls == nil {
		r.add("port", strconv.Itoa(port))
		return
	}
	dir := r.absPath("options.tlsDir", opts.TLSDir, DefaultTLSDir)
	r.add("port", "0")
	r.add("tls-port", strconv.Itoa(port))
	r.add("tls-cert-file", path.Join(dir, TLSCertFile))
	r.add("tls-key-file", path.Join(dir, TLSKeyFile))
	r.add("tls-ca-cert-file", path.Join(dir, TLSCAFile))
	r.add("tls-auth-clients", yesNo(tls.RequireClientCerts))
}

// absPath returns p, or def when p is empty, after checking that it is an
// absolute path: redis-server resolves relative ones against its working
// directory, which the image decides.
func (r *renderer) absPath(field, p, def string) string {
	if p == "" {
		p = def
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		r.fail(field, "must be an absolute path, not %q", p)
	case hasControl(p):
		r.fail(field, "must not contain control characters")
	}
	return p
}

func (r *renderer) memory(m v1alpha1.RedisMemory) {
	switch {
	case m.MaxMemory != nil:
		// Value rounds a fraction of a byte up, so a positive quantity
		// never becomes 0, which would mean no limit.
		maxMemory := m.MaxMemory.Value()
		if maxMemory <= 0 {
			r.fail("spec.memory.maxMemory", "must be positive, not %s", m.MaxMemory)
		}
		r.add("maxmemory", strconv.FormatInt(maxMemory, 10))
	case r.managed:
		r.add("maxmemory", "0") // no limit
	}

	policy := m.Policy
	if policy == "" {
		if !r.managed {
			return
		}
		policy = defaultPolicy
	}
	switch {
	case !slices.Contains(policies, policy):
		r.fail("spec.memory.policy", "must be one of %s, not %q", joinStrings(policies), policy)
	case policy != defaultPolicy && !m.AllowEviction:
		r.fail("spec.memory.policy", "%s evicts keys, and evicted task keys are lost tasks: "+
			"set spec.memory.allowEviction: true to accept that", policy)
	}
	r.add("maxmemory-policy", string(policy))
}

func (r *renderer) persistence(p v1alpha1.RedisPersistence) {
	r.flag("appendonly", p.AOF.Enabled)
	fsync := p.AOF.Fsync
	if fsync == "" && r.managed {
		fsync = defaultFsync
	}
	if fsync != "" {
		if !slices.Contains(fsyncs, fsync) {
			r.fail("spec.persistence.aof.fsync", "must be one of %s, not %q", joinStrings(fsyncs), fsync)
		}
		r.add("appendfsync", string(fsync))
	}

	// Without rdb the server the operator runs takes no snapshots, as with
	// an empty list: Redis's built-in rules would otherwise fork for
	// snapshots nobody asked for. In mode External, without rdb the
	// server's rules stay.
	if p.RDB == nil && !r.managed {
		return
	}
	var rules []string
	if p.RDB != nil {
		if len(p.RDB.Save) > maxSaveRules {
			r.fail("spec.persistence.rdb.save", "has %d rules; at most %d are allowed", len(p.RDB.Save), maxSaveRules)
		}
		for i, rule := range p.RDB.Save {
			if rule.Seconds < 1 || rule.Changes < 1 {
				r.fail("spec.persistence.rdb.save["+strconv.Itoa(i)+"]",
					"seconds and changes must be at least 1, not %d and %d", rule.Seconds, rule.Changes)
			}
			rules = append(rules, strconv.Itoa(int(rule.Seconds)), strconv.Itoa(int(rule.Changes)))
		}
	}
	r.add("save", strings.Join(rules, " "))
}

func (r *renderer) network(n v1alpha1.RedisNetwork) {
	r.count("tcp-backlog", "spec.network.tcpBacklog", n.TCPBacklog, defaultTCPBacklog, 65535)
	r.seconds("timeout", "spec.network.timeout", n.Timeout, defaultTimeout)
	r.seconds("tcp-keepalive", "spec.network.tcpKeepalive", n.TCPKeepalive, defaultTCPKeepalive)
	r.count("maxclients", "spec.network.maxClients", n.MaxClients, defaultMaxClients, 1000000)
}

// count adds key with v, or with def when v is zero (unset: the CRD's
// minimum is 1) and the server is the operator's.
func (r *renderer) count(key, field string, v, def, maxV int32) {
	if v == 0 {
		if !r.managed {
			return
		}
		v = def
	}
	if v < 1 || v > maxV {
		r.fail(field, "must be between 1 and %d, not %d", maxV, v)
	}
	r.add(key, strconv.Itoa(int(v)))
}

// seconds adds key with v, or with def when v is unset and the server is
// the operator's, in whole seconds. A fraction of a second rounds up: 0
// turns timeout and tcp-keepalive off, and 500ms must not.
func (r *renderer) seconds(key, field string, v *metav1.Duration, def time.Duration) {
	d := def
	switch {
	case v != nil:
		d = v.Duration
	case !r.managed:
		return
	}
	if d < 0 || d > maxDuration {
		r.fail(field, "must be between 0s and 24h, not %s", d)
	}
	s := d / time.Second
	if d%time.Second > 0 {
		s++
	}
	r.add(key, strconv.FormatInt(int64(s), 10))
}

// flag adds key as yes or no from v, or as yes when v is unset and the
// server is the operator's: every boolean typed field is on by default.
func (r *renderer) flag(key string, v *bool) {
	switch {
	case v != nil:
		r.add(key, yesNo(*v))
	case r.managed:
		r.add(key, yes)
	}
}

func (r *renderer) lazyFree(l v1alpha1.RedisLazyFree) {
	r.flag("lazyfree-lazy-eviction", l.Eviction)
	r.flag("lazyfree-lazy-expire", l.Expire)
	r.flag("lazyfree-lazy-server-del", l.ServerDel)
	r.flag("lazyfree-lazy-user-del", l.UserDel)
}

func (r *renderer) extraConfig(extra map[string]v1alpha1.ExtraConfigValue) {
	if len(extra) > maxExtraConfigKeys {
		r.fail("spec.extraConfig", "has %d keys; at most %d are allowed", len(extra), maxExtraConfigKeys)
	}
	// Sorted, so the errors come in a stable order too.
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		v, field := string(extra[k]), "spec.extraConfig["+k+"]"
		info, ok := keys[k]
		switch {
		case !ok || info.check == nil:
			r.fail(field, "is not on the allow-list (%s); keys the typed fields own "+
				"(maxmemory, appendonly, save, timeout, tcp-backlog, requirepass, ...) are set through those fields",
				strings.Join(extraConfigKeys, ", "))
			continue
		case len(v) > maxExtraConfigValue:
			r.fail(field, "is %d characters long; at most %d are allowed", len(v), maxExtraConfigValue)
			continue
		case hasControl(v):
			r.fail(field, "must be one line without control characters")
			continue
		}
		norm, err := info.check(v)
		if err != nil {
			r.fail(field, "%q %v", v, err)
			continue
		}
		r.add(k, norm)
	}
	// lua-time-limit is the old name of busy-reply-threshold: with both,
	// which one wins would depend on the order of the file.
	_, lua := extra["lua-time-limit"]
	_, busy := extra["busy-reply-threshold"]
	if lua && busy {
		r.fail("spec.extraConfig[lua-time-limit]", "is the old name of busy-reply-threshold: set only one of them")
	}
}

// sortDirectives sorts by key. It is stable, though keys are unique today.
func sortDirectives(ds []Directive) {
	slices.SortStableFunc(ds, func(a, b Directive) int { return strings.Compare(a.Key, b.Key) })
}

func yesNo(b bool) string {
	if b {
		return yes
	}
	return no
}

func joinStrings[S ~string](values []S) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
