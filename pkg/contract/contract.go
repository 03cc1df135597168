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

// Package contract names the environment variables through which the operator
// hands a worker its settings, and the text formats of their values. The
// operator's Deployment builder writes them and pkg/worker reads them; both
// sides use this package so they cannot drift. docs/worker-contract.md
// describes the contract for people.
package contract

import (
	"fmt"
	"strconv"
	"strings"
)

// Prefix starts every variable of the contract. The operator owns every
// variable with this prefix in the worker container: a value the pod
// template sets for one of them is replaced.
const Prefix = "QUEUEWORKER_"

// The variables of the contract. Durations are Go duration strings ("5s"),
// booleans "true" or "false", lists comma-separated.
const (
	// EnvQueues lists the queues and their priorities: "critical=6,default=3".
	EnvQueues = Prefix + "QUEUES"
	// EnvStrictPriority is "true" when lower queues are served only while
	// higher ones are empty.
	EnvStrictPriority = Prefix + "STRICT_PRIORITY"
	// EnvConcurrency is the number of tasks a worker runs at once.
	EnvConcurrency = Prefix + "CONCURRENCY"
	// EnvShutdownTimeout is how long running tasks may finish after SIGTERM.
	EnvShutdownTimeout = Prefix + "SHUTDOWN_TIMEOUT"
	// EnvHealthCheckInterval is how often the worker pings Redis.
	EnvHealthCheckInterval = Prefix + "HEALTH_CHECK_INTERVAL"
	// EnvHTTPAddr is the listen address of /healthz, /readyz and /metrics.
	EnvHTTPAddr = Prefix + "HTTP_ADDR"

	// EnvRedisMode is one of the Mode constants.
	EnvRedisMode = Prefix + "REDIS_MODE"
	// EnvRedisAddr is host:port of a standalone server (mode standalone).
	EnvRedisAddr = Prefix + "REDIS_ADDR"
	// EnvRedisAddrs lists host:port of sentinels or cluster seed nodes.
	EnvRedisAddrs = Prefix + "REDIS_ADDRS"
	// EnvRedisMasterName is the sentinel master name (mode sentinel).
	EnvRedisMasterName = Prefix + "REDIS_MASTER_NAME"
	// EnvRedisDB is the database number.
	EnvRedisDB = Prefix + "REDIS_DB"
	// EnvRedisUsername is the ACL user; empty for the default user.
	EnvRedisUsername = Prefix + "REDIS_USERNAME"
	// EnvRedisPassword is the password, set from a Secret by secretKeyRef.
	// Absent when Redis needs no password.
	EnvRedisPassword = Prefix + "REDIS_PASSWORD"

	// EnvRedisTLS is "true" when the connection uses TLS.
	EnvRedisTLS = Prefix + "REDIS_TLS"
	// EnvRedisTLSCACert holds PEM CA certificates, set from a Secret by
	// secretKeyRef. Absent: the system roots verify the server.
	EnvRedisTLSCACert = Prefix + "REDIS_TLS_CA_CERT"
	// EnvRedisTLSServerName overrides the name checked in the certificate.
	EnvRedisTLSServerName = Prefix + "REDIS_TLS_SERVER_NAME"
	// EnvRedisTLSInsecureSkipVerify is "true" to skip certificate checks.
	EnvRedisTLSInsecureSkipVerify = Prefix + "REDIS_TLS_INSECURE_SKIP_VERIFY"

	// EnvRedisPoolSize is the most connections of the worker's client.
	EnvRedisPoolSize = Prefix + "REDIS_POOL_SIZE"
	// EnvRedisMinIdleConns is the number of idle connections kept open.
	EnvRedisMinIdleConns = Prefix + "REDIS_MIN_IDLE_CONNS"
	// EnvRedisDialTimeout bounds opening a connection.
	EnvRedisDialTimeout = Prefix + "REDIS_DIAL_TIMEOUT"
	// EnvRedisReadTimeout bounds reading a reply.
	EnvRedisReadTimeout = Prefix + "REDIS_READ_TIMEOUT"
	// EnvRedisWriteTimeout bounds writing a command.
	EnvRedisWriteTimeout = Prefix + "REDIS_WRITE_TIMEOUT"
	// EnvRedisPoolTimeout bounds waiting for a free connection.
	EnvRedisPoolTimeout = Prefix + "REDIS_POOL_TIMEOUT"
	// EnvRedisConnMaxIdleTime closes connections idle for longer.
	EnvRedisConnMaxIdleTime = Prefix + "REDIS_CONN_MAX_IDLE_TIME"
	// EnvRedisMaxRetries is how often a failed command is retried; 0 = never.
	EnvRedisMaxRetries = Prefix + "REDIS_MAX_RETRIES"
)

// Redis connection modes, the values of EnvRedisMode.
const (
	ModeStandalone = "standalone"
	ModeSentinel   = "sentinel"
	ModeCluster    = "cluster"
)

// DefaultHTTPAddr is the address the operator injects as EnvHTTPAddr.
const DefaultHTTPAddr = ":8080"

// HTTPPortName names the worker container port the operator adds for
// EnvHTTPAddr, so probes and PodMonitors can refer to it.
const HTTPPortName = "worker-http"

// HTTPPort is the port of DefaultHTTPAddr.
const HTTPPort = 8080

// DrainKeyPrefix starts the Redis key through which the operator asks one
// worker to drain. It lies outside asynq's keys, which all start with
// "asynq:". docs/worker-contract.md describes the key and its value.
const DrainKeyPrefix = "queueworker:drain:"

// DrainKey returns the drain key of the worker process whose host name
// (os.Hostname) is host: on Kubernetes the pod's host name, which asynq
// also writes as the host of its server and worker keys. The operator sets
// the key to ask for a drain and deletes it to cancel one; the worker only
// reads it.
func DrainKey(host string) string { return DrainKeyPrefix + host }

// Queue is one queue name and its priority.
type Queue struct {
	Name     string
	Priority int
}

// FormatQueues renders queues as the value of EnvQueues, in the given order.
func FormatQueues(queues []Queue) string {
	parts := make([]string, 0, len(queues))
	for _, q := range queues {
		parts = append(parts, q.Name+"="+strconv.Itoa(q.Priority))
	}
	return strings.Join(parts, ",")
}

// ParseQueues reads the value of EnvQueues. Every entry needs a non-empty
// name, no name may repeat, and priorities are whole numbers from 1 to 100.
func ParseQueues(s string) ([]Queue, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no queues listed")
	}
	seen := map[string]bool{}
	var queues []Queue
	for entry := range strings.SplitSeq(s, ",") {
		name, prio, ok := strings.Cut(strings.TrimSpace(entry), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("entry %q is not name=priority", entry)
		}
		p, err := strconv.Atoi(prio)
		if err != nil || p < 1 || p > 100 {
			return nil, fmt.Errorf("queue %q: priority %q is not a whole number from 1 to 100", name, prio)
		}
		if seen[name] {
			return nil, fmt.Errorf("queue %q is listed twice", name)
		}
		seen[name] = true
		queues = append(queues, Queue{Name: name, Priority: p})
	}
	return queues, nil
}

// FormatList renders addresses as the value of EnvRedisAddrs.
func FormatList(items []string) string { return strings.Join(items, ",") }

// ParseList reads the value of EnvRedisAddrs: comma-separated, no empty item.
func ParseList(s string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty entry in %q", s)
		}
		out = append(out, item)
	}
	return out, nil
}
