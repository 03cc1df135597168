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
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Mode says how a changed key reaches a running server.
type Mode int

const (
	// RestartRequired keys are read only when the server starts: CONFIG
	// SET refuses them (immutable or protected configs, and include, which
	// is no config at all). It is the zero Mode, so a key nobody classified
	// is never assumed to apply at runtime.
	RestartRequired Mode = iota
	// Runtime keys change on a running server with CONFIG SET.
	Runtime
)

func (m Mode) String() string {
	switch m {
	case Runtime:
		return "Runtime"
	case RestartRequired:
		return "RestartRequired"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ModeOf says whether CONFIG SET changes key on a running redis-server 7.0
// or the server must restart. Keys Render never emits are RestartRequired.
// TestModeOfAgainstRedis pins every classification to a real server.
//
// Both modes act on it. In mode Managed only the RestartRequired keys feed
// RestartHash, the pod annotation that rolls the server; the runtime keys
// are set on the running server with CONFIG SET, without a restart. In mode
// External the applier sets the runtime keys and reports a RestartRequired
// key whose value differs as drift. Neither sets the placement keys
// (IsPlacement) on a running server.
func ModeOf(key string) Mode {
	if k, ok := keys[strings.ToLower(key)]; ok {
		return k.mode
	}
	return RestartRequired
}

// placementKeys say where the server the operator runs listens, finds its
// files and how it takes TLS clients. Render emits them in mode Managed
// only, from Options and spec.tls.
var placementKeys = []string{
	"dir", "include", "port", "tls-auth-clients", "tls-ca-cert-file", "tls-cert-file", "tls-key-file", "tls-port",
}

// IsPlacement reports whether key places the server the operator runs (see
// placementKeys). Such a key is never set on a running server, even where
// CONFIG SET would take it: it follows the ports, mounts and probes of the
// pod, which change with the StatefulSet the operator builds, and a server
// given another port or file at runtime would no longer match its pod.
func IsPlacement(key string) bool {
	return slices.Contains(placementKeys, strings.ToLower(key))
}

// keyInfo is what the package knows about a key it may emit.
type keyInfo struct {
	mode Mode
	// check validates and normalises an extraConfig value; nil for keys
	// only the typed fields and Options set.
	check func(string) (string, error)
}

// keys lists every key Render can emit. Redis 7.0 refuses CONFIG SET of
// tcp-backlog, io-threads, io-threads-do-reads and rdbchecksum (immutable),
// of dir (protected: enable-protected-configs is off by default) and of
// include (not a config).
var keys = map[string]keyInfo{
	// Placement, mode Managed only.
	"port":             {mode: Runtime},
	"dir":              {mode: RestartRequired},
	"include":          {mode: RestartRequired},
	"tls-port":         {mode: Runtime},
	"tls-cert-file":    {mode: Runtime},
	"tls-key-file":     {mode: Runtime},
	"tls-ca-cert-file": {mode: Runtime},
	"tls-auth-clients": {mode: Runtime},

	// Typed fields.
	"maxmemory":                {mode: Runtime},
	"maxmemory-policy":         {mode: Runtime},
	"appendonly":               {mode: Runtime},
	"appendfsync":              {mode: Runtime},
	"save":                     {mode: Runtime},
	"tcp-backlog":              {mode: RestartRequired},
	"timeout":                  {mode: Runtime},
	"tcp-keepalive":            {mode: Runtime},
	"maxclients":               {mode: Runtime},
	"lazyfree-lazy-eviction":   {mode: Runtime},
	"lazyfree-lazy-expire":     {mode: Runtime},
	"lazyfree-lazy-server-del": {mode: Runtime},
	"lazyfree-lazy-user-del":   {mode: Runtime},

	// extraConfig: the allow-list.
	"hz":                            {Runtime, checkInt},
	"dynamic-hz":                    {Runtime, checkBool},
	"io-threads":                    {RestartRequired, checkInt},
	"io-threads-do-reads":           {RestartRequired, checkBool},
	"slowlog-log-slower-than":       {Runtime, checkInt},
	"slowlog-max-len":               {Runtime, checkInt},
	"latency-monitor-threshold":     {Runtime, checkInt},
	"activedefrag":                  {Runtime, checkBool},
	"active-defrag-ignore-bytes":    {Runtime, checkMemory},
	"active-defrag-threshold-lower": {Runtime, checkInt},
	"active-defrag-threshold-upper": {Runtime, checkInt},
	"active-defrag-cycle-min":       {Runtime, checkInt},
	"active-defrag-cycle-max":       {Runtime, checkInt},
	"maxmemory-samples":             {Runtime, checkInt},
	"maxmemory-eviction-tenacity":   {Runtime, checkInt},
	"lfu-log-factor":                {Runtime, checkInt},
	"lfu-decay-time":                {Runtime, checkInt},
	"aof-use-rdb-preamble":          {Runtime, checkBool},
	"aof-rewrite-incremental-fsync": {Runtime, checkBool},
	"auto-aof-rewrite-percentage":   {Runtime, checkInt},
	"auto-aof-rewrite-min-size":     {Runtime, checkMemory},
	"no-appendfsync-on-rewrite":     {Runtime, checkBool},
	"rdbcompression":                {Runtime, checkBool},
	"rdbchecksum":                   {RestartRequired, checkBool},
	"client-output-buffer-limit":    {Runtime, checkOutputBufferLimit},
	"notify-keyspace-events":        {Runtime, checkKeyspaceEvents},
	"list-max-listpack-size":        {Runtime, checkInt},
	"list-compress-depth":           {Runtime, checkInt},
	"hash-max-listpack-entries":     {Runtime, checkInt},
	"hash-max-listpack-value":       {Runtime, checkMemory},
	"zset-max-listpack-entries":     {Runtime, checkInt},
	"zset-max-listpack-value":       {Runtime, checkMemory},
	"set-max-intset-entries":        {Runtime, checkInt},
	"stream-node-max-bytes":         {Runtime, checkMemory},
	"stream-node-max-entries":       {Runtime, checkInt},
	"lua-time-limit":                {Runtime, checkInt},
	"busy-reply-threshold":          {Runtime, checkInt},
	"proto-max-bulk-len":            {Runtime, checkMemory},
	"client-query-buffer-limit":     {Runtime, checkMemory},
	"replica-lazy-flush":            {Runtime, checkBool},
	"lazyfree-lazy-user-flush":      {Runtime, checkBool},
	"jemalloc-bg-thread":            {Runtime, checkBool},
	"oom-score-adj":                 {Runtime, checkOOMScoreAdj},
	"oom-score-adj-values":          {Runtime, checkOOMScoreAdjValues},
	"loglevel":                      {Runtime, checkOneOf("debug", "verbose", "notice", "warning")},
}

// typedKeys are the keys the typed fields of the spec own, sorted.
var typedKeys = []string{
	"appendfsync", "appendonly", "lazyfree-lazy-eviction", "lazyfree-lazy-expire",
	"lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "maxclients", "maxmemory",
	"maxmemory-policy", "save", "tcp-backlog", "tcp-keepalive", "timeout",
}

// TypedKeys returns, sorted, the keys the typed fields of the spec own
// (memory, persistence, network, lazyFree): every key mode Managed always
// renders apart from placement. In mode External the keys among them that a
// spec leaves unset keep the server's values, which the controller reads
// back and reports.
func TypedKeys() []string {
	return slices.Clone(typedKeys)
}

// extraConfigKeys is the allow-list of spec.extraConfig, in the order of the
// CEL rule on RedisConfigSpec.ExtraConfig; TestExtraConfigKeysMatchCRD keeps
// the two equal. Keys the typed fields own are not on it.
var extraConfigKeys = []string{
	"hz", "dynamic-hz", "io-threads", "io-threads-do-reads", "slowlog-log-slower-than",
	"slowlog-max-len", "latency-monitor-threshold", "activedefrag", "active-defrag-ignore-bytes",
	"active-defrag-threshold-lower", "active-defrag-threshold-upper", "active-defrag-cycle-min",
	"active-defrag-cycle-max", "maxmemory-samples", "maxmemory-eviction-tenacity", "lfu-log-factor",
	"lfu-decay-time", "aof-use-rdb-preamble", "aof-rewrite-incremental-fsync",
	"auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size", "no-appendfsync-on-rewrite",
	"rdbcompression", "rdbchecksum", "client-output-buffer-limit", "notify-keyspace-events",
	"list-max-listpack-size", "list-compress-depth", "hash-max-listpack-entries",
	"hash-max-listpack-value", "zset-max-listpack-entries", "zset-max-listpack-value",
	"set-max-intset-entries", "stream-node-max-bytes", "stream-node-max-entries", "lua-time-limit",
	"busy-reply-threshold", "proto-max-bulk-len", "client-query-buffer-limit", "replica-lazy-flush",
	"lazyfree-lazy-user-flush", "jemalloc-bg-thread", "oom-score-adj", "oom-score-adj-values",
	"loglevel",
}

// The value checks parse what redis-server parses, so a value they pass has
// the right form; ranges stay Redis's to enforce, since they move between
// versions. They return the value as CONFIG GET reports it where that is a
// plain normalisation (memory in bytes, lower-case words, single spaces).

// checkInt accepts what Redis's string2ll does: a decimal integer without
// sign or leading zeros, or a negative one.
func checkInt(v string) (string, error) {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" ||
		(digits[0] == '0' && len(digits) > 1) || v == "-0" {
		return "", errors.New("must be an integer")
	}
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return "", errors.New("is out of range")
	}
	return v, nil
}

// The two words of a Redis boolean.
const (
	yes = "yes"
	no  = "no"
)

// checkBool accepts yes or no, in any case, as Redis does.
func checkBool(v string) (string, error) {
	switch strings.ToLower(v) {
	case yes:
		return yes, nil
	case no:
		return no, nil
	}
	return "", errors.New(`must be "yes" or "no"`)
}

// checkOneOf accepts one of words, in any case.
func checkOneOf(words ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		for _, w := range words {
			if strings.EqualFold(v, w) {
				return w, nil
			}
		}
		return "", fmt.Errorf("must be one of %s", strings.Join(words, ", "))
	}
}

// checkOOMScoreAdj accepts oom-score-adj. "relative" is written "yes",
// the name Redis reports for it.
func checkOOMScoreAdj(v string) (string, error) {
	v, err := checkOneOf("no", "yes", "relative", "absolute")(v)
	if v == "relative" {
		v = yes
	}
	return v, err
}

// memoryUnits are the suffixes Redis accepts on a memory value.
var memoryUnits = []struct {
	suffix string
	factor uint64
}{
	// Longest suffix first: "kb" must win over "b".
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1000}, {"m", 1000 * 1000}, {"g", 1000 * 1000 * 1000}, {"b", 1},
}

// checkMemory accepts a byte count with an optional unit (b, k, kb, m, mb,
// g, gb, in any case) and returns the count in bytes.
func checkMemory(v string) (string, error) {
	n, err := parseMemory(v)
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(n, 10), nil
}

func parseMemory(v string) (uint64, error) {
	digits, factor := strings.ToLower(v), uint64(1)
	for _, u := range memoryUnits {
		if d, ok := strings.CutSuffix(digits, u.suffix); ok {
			digits, factor = d, u.factor
			break
		}
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, errors.New("must be a byte count with an optional unit (b, k, kb, m, mb, g, gb)")
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > math.MaxInt64/factor {
		return 0, errors.New("is out of range")
	}
	return n * factor, nil
}

// checkOutputBufferLimit accepts client-output-buffer-limit: one or more
// "<class> <hard> <soft> <soft-seconds>" groups.
func checkOutputBufferLimit(v string) (string, error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f)%4 != 0 {
		return "", errors.New(`must be groups of "<class> <hard limit> <soft limit> <soft seconds>"`)
	}
	for i := 0; i < len(f); i += 4 {
		class := strings.ToLower(f[i])
		switch class {
		case "normal", "replica", "slave", "pubsub":
		default:
			return "", fmt.Errorf("class %q must be normal, replica or pubsub", f[i])
		}
		f[i] = class
		for j := i + 1; j <= i+2; j++ {
			n, err := parseMemory(f[j])
			if err != nil {
				return "", fmt.Errorf("limit %q %v", f[j], err)
			}
			f[j] = strconv.FormatUint(n, 10)
		}
		if s, err := checkInt(f[i+3]); err != nil || s[0] == '-' {
			return "", fmt.Errorf("soft seconds %q must be a whole number", f[i+3])
		}
	}
	return strings.Join(f, " "), nil
}

// keyspaceEventClasses are the letters of notify-keyspace-events in Redis 7.0.
const keyspaceEventClasses = "KEg$lshzxetdmnA"

// checkKeyspaceEvents accepts notify-keyspace-events: letters of the event
// classes, or nothing to turn notifications off.
func checkKeyspaceEvents(v string) (string, error) {
	if strings.Trim(v, keyspaceEventClasses) != "" {
		return "", fmt.Errorf("must be letters of %q", keyspaceEventClasses)
	}
	return v, nil
}

// checkOOMScoreAdjValues accepts three integers: the OOM score adjustments
// of the primary, of replicas and of background children.
func checkOOMScoreAdjValues(v string) (string, error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", errors.New("must be three integers")
	}
	for _, n := range f {
		if _, err := checkInt(n); err != nil {
			return "", errors.New("must be three integers")
		}
	}
	return strings.Join(f, " "), nil
}
