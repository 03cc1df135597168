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

package worker

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// Config holds every setting a worker takes from the operator. LoadConfig
// fills it from the environment the operator injects; a program that runs
// without the operator may build it by hand and check it with Validate.
type Config struct {
	// Queues lists the queues to serve and their priorities.
	Queues []contract.Queue
	// StrictPriority serves a queue only while every queue of higher
	// priority is empty, instead of sharing time by weight.
	StrictPriority bool
	// Concurrency is the number of tasks processed at once.
	Concurrency int
	// ShutdownTimeout is how long running tasks may go on after shutdown
	// starts; tasks still running then go back to their queue.
	ShutdownTimeout time.Duration
	// HealthCheckInterval is how often the task server pings Redis.
	HealthCheckInterval time.Duration
	// HTTPAddr is the listen address of /healthz, /readyz and /metrics.
	HTTPAddr string
	// Redis is the connection to the Redis that holds the queues.
	Redis RedisConfig
}

// RedisConfig describes the connection to Redis and the tuning of the
// client's connection pool.
type RedisConfig struct {
	// Mode is contract.ModeStandalone, ModeSentinel or ModeCluster.
	Mode string
	// Addr is host:port of the server in standalone mode.
	Addr string
	// Addrs lists the sentinels (sentinel mode) or the seed nodes (cluster
	// mode).
	Addrs []string
	// MasterName names the master the sentinels watch.
	MasterName string
	// DB is the database number; cluster mode supports only 0.
	DB int
	// Username is the ACL user; empty for the default user.
	Username string
	// Password authenticates the user; empty when Redis needs none.
	Password string
	// TLS configures an encrypted connection.
	TLS RedisTLS

	// PoolSize is the most connections the client opens (per node in
	// cluster mode).
	PoolSize int
	// MinIdleConns is the number of idle connections kept open.
	MinIdleConns int
	// DialTimeout bounds opening a connection.
	DialTimeout time.Duration
	// ReadTimeout bounds reading a reply.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a command.
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a free connection when all are busy.
	PoolTimeout time.Duration
	// ConnMaxIdleTime closes connections idle for longer.
	ConnMaxIdleTime time.Duration
	// MaxRetries is how often a failed command is retried; 0 means never.
	MaxRetries int
}

// RedisTLS configures TLS towards Redis.
type RedisTLS struct {
	// Enabled turns TLS on; the other fields matter only then.
	Enabled bool
	// CACertPEM holds PEM CA certificates that verify the server. Empty:
	// the system roots verify it.
	CACertPEM string
	// ServerName is the name checked in the server's certificate. Empty:
	// the host of the address dialled.
	ServerName string
	// InsecureSkipVerify accepts any certificate.
	InsecureSkipVerify bool
}

// String keeps the password out of printed configurations.
func (c RedisConfig) String() string {
	c.Password = redact(c.Password)
	type plain RedisConfig // drops the String method, so Sprintf does not recurse
	return fmt.Sprintf("%+v", plain(c))
}

// LogValue keeps the password out of logs.
func (c RedisConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", c.Mode),
		slog.String("addr", c.Addr),
		slog.Any("addrs", c.Addrs),
		slog.String("masterName", c.MasterName),
		slog.Int("db", c.DB),
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
		slog.Bool("tls", c.TLS.Enabled),
		slog.Int("poolSize", c.PoolSize),
	)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

// ConfigFromEnv reads the configuration from the process environment.
func ConfigFromEnv() (Config, error) {
	return LoadConfig(os.Getenv)
}

// LoadConfig reads the configuration from the contract's variables through
// getenv. Every variable the operator always injects is required; of the
// others, the address variables of the chosen mode are required, and
// QUEUEWORKER_REDIS_TLS_INSECURE_SKIP_VERIFY when TLS is on. The error
// lists every missing, malformed or out-of-range variable at once, each
// under its name, so one failed start shows everything that needs fixing.
func LoadConfig(getenv func(string) string) (Config, error) {
	r := newEnvReader(getenv)
	cfg := Config{
		StrictPriority:      r.boolean(contract.EnvStrictPriority),
		Concurrency:         r.integer(contract.EnvConcurrency),
		ShutdownTimeout:     r.duration(contract.EnvShutdownTimeout),
		HealthCheckInterval: r.duration(contract.EnvHealthCheckInterval),
		HTTPAddr:            r.required(contract.EnvHTTPAddr),
		Redis:               r.redis(),
	}
	if s, ok := r.present(contract.EnvQueues); ok {
		queues, err := contract.ParseQueues(s)
		if err != nil {
			r.fail(contract.EnvQueues, err.Error())
		}
		cfg.Queues = queues
	}
	return cfg, r.result(cfg.problems())
}

// LoadRedisConfig reads only the Redis variables of the contract, for
// programs such as task producers that connect to the workers' Redis but
// serve no queue.
func LoadRedisConfig(getenv func(string) string) (RedisConfig, error) {
	r := newEnvReader(getenv)
	cfg := r.redis()
	return cfg, r.result(cfg.problems())
}

// Validate checks the ranges LoadConfig checks, for a Config built by hand.
// Problems are named after the variable that carries the setting.
func (c Config) Validate() error {
	return joinProblems(c.problems())
}

// Validate checks the connection settings, as Config.Validate does.
func (c RedisConfig) Validate() error {
	return joinProblems(c.problems())
}

// problem is a setting out of range, named by its variable.
type problem struct {
	env string
	msg string
}

func (p problem) err() error { return fmt.Errorf("%s: %s", p.env, p.msg) }

func joinProblems(ps []problem) error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		errs = append(errs, p.err())
	}
	return errors.Join(errs...)
}

func (c Config) problems() []problem {
	var ps []problem
	add := func(env, format string, args ...any) {
		ps = append(ps, problem{env: env, msg: fmt.Sprintf(format, args...)})
	}
	if len(c.Queues) == 0 {
		add(contract.EnvQueues, "no queues listed")
	}
	seen := map[string]bool{}
	for _, q := range c.Queues {
		switch {
		case strings.TrimSpace(q.Name) == "":
			add(contract.EnvQueues, "a queue has an empty name")
		case q.Priority < 1 || q.Priority > 100:
			add(contract.EnvQueues, "queue %q: priority %d is not from 1 to 100", q.Name, q.Priority)
		case seen[q.Name]:
			add(contract.EnvQueues, "queue %q is listed twice", q.Name)
		}
		seen[q.Name] = true
	}
	if c.Concurrency < 1 {
		add(contract.EnvConcurrency, "%d is less than 1", c.Concurrency)
	}
	if c.ShutdownTimeout <= 0 {
		add(contract.EnvShutdownTimeout, "%s is not more than zero", c.ShutdownTimeout)
	}
	if c.HealthCheckInterval <= 0 {
		add(contract.EnvHealthCheckInterval, "%s is not more than zero", c.HealthCheckInterval)
	}
	if msg := checkHostPort(c.HTTPAddr); msg != "" {
		add(contract.EnvHTTPAddr, "%s", msg)
	}
	return append(ps, c.Redis.problems()...)
}

func (c RedisConfig) problems() []problem {
	var ps []problem
	add := func(env, format string, args ...any) {
		ps = append(ps, problem{env: env, msg: fmt.Sprintf(format, args...)})
	}
	checkAddrs := func() {
		if len(c.Addrs) == 0 {
			add(contract.EnvRedisAddrs, "no addresses listed for mode %s", c.Mode)
		}
		for _, a := range c.Addrs {
			if msg := checkHostPort(a); msg != "" {
				add(contract.EnvRedisAddrs, "%s", msg)
			}
		}
	}
	switch c.Mode {
	case contract.ModeStandalone:
		if msg := checkHostPort(c.Addr); msg != "" {
			add(contract.EnvRedisAddr, "%s", msg)
		}
	case contract.ModeSentinel:
		checkAddrs()
		if c.MasterName == "" {
			add(contract.EnvRedisMasterName, "empty in mode %s", c.Mode)
		}
	case contract.ModeCluster:
		checkAddrs()
		if c.DB != 0 {
			add(contract.EnvRedisDB, "%d: cluster mode has only database 0", c.DB)
		}
	default:
		add(contract.EnvRedisMode, "%q is not one of %s, %s, %s",
			c.Mode, contract.ModeStandalone, contract.ModeSentinel, contract.ModeCluster)
	}
	if c.DB < 0 {
		add(contract.EnvRedisDB, "%d is negative", c.DB)
	}
	if c.TLS.CACertPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.TLS.CACertPEM)) {
		add(contract.EnvRedisTLSCACert, "no PEM certificate found")
	}
	if c.PoolSize < 1 {
		add(contract.EnvRedisPoolSize, "%d is less than 1", c.PoolSize)
	}
	if c.MinIdleConns < 0 {
		add(contract.EnvRedisMinIdleConns, "%d is negative", c.MinIdleConns)
	}
	if c.PoolSize >= 1 && c.MinIdleConns > c.PoolSize {
		add(contract.EnvRedisMinIdleConns, "%d is more than the pool size %d", c.MinIdleConns, c.PoolSize)
	}
	for _, d := range []struct {
		env string
		v   time.Duration
	}{
		{contract.EnvRedisDialTimeout, c.DialTimeout},
		{contract.EnvRedisReadTimeout, c.ReadTimeout},
		{contract.EnvRedisWriteTimeout, c.WriteTimeout},
		{contract.EnvRedisPoolTimeout, c.PoolTimeout},
		{contract.EnvRedisConnMaxIdleTime, c.ConnMaxIdleTime},
	} {
		if d.v <= 0 {
			add(d.env, "%s is not more than zero", d.v)
		}
	}
	if c.MaxRetries < 0 {
		add(contract.EnvRedisMaxRetries, "%d is negative", c.MaxRetries)
	}
	return ps
}

// checkHostPort returns why addr is not host:port, or "".
func checkHostPort(addr string) string {
	if addr == "" {
		return "empty address"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return ""
}

// envReader reads variables and collects every problem instead of stopping
// at the first, remembering which variables failed so range checks on their
// zero values do not report them a second time.
type envReader struct {
	getenv func(string) string
	errs   []error
	failed map[string]bool
}

func newEnvReader(getenv func(string) string) *envReader {
	return &envReader{getenv: getenv, failed: map[string]bool{}}
}

func (r *envReader) fail(env, msg string) {
	if r.failed[env] {
		return
	}
	r.failed[env] = true
	r.errs = append(r.errs, problem{env: env, msg: msg}.err())
}

// result joins the read errors with the range problems of variables that
// were read without error.
func (r *envReader) result(ps []problem) error {
	for _, p := range ps {
		if !r.failed[p.env] {
			r.errs = append(r.errs, p.err())
		}
	}
	return errors.Join(r.errs...)
}

// present returns the trimmed value, or false after recording that a
// required variable is missing.
func (r *envReader) present(env string) (string, bool) {
	s := strings.TrimSpace(r.getenv(env))
	if s == "" {
		r.fail(env, "not set")
		return "", false
	}
	return s, true
}

func (r *envReader) required(env string) string {
	s, _ := r.present(env)
	return s
}

func (r *envReader) integer(env string) int {
	s, ok := r.present(env)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		r.fail(env, fmt.Sprintf("%q is not a whole number", s))
	}
	return n
}

func (r *envReader) duration(env string) time.Duration {
	s, ok := r.present(env)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		r.fail(env, fmt.Sprintf("%q is not a duration such as \"5s\"", s))
	}
	return d
}

// boolean accepts only the two spellings the contract defines, so a typo
// such as "ture" is reported instead of read as false.
func (r *envReader) boolean(env string) bool {
	s, ok := r.present(env)
	if !ok {
		return false
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	r.fail(env, fmt.Sprintf("%q is neither \"true\" nor \"false\"", s))
	return false
}

func (r *envReader) list(env string) []string {
	s, ok := r.present(env)
	if !ok {
		return nil
	}
	items, err := contract.ParseList(s)
	if err != nil {
		r.fail(env, err.Error())
	}
	return items
}

// redis reads the connection variables. Only the address variables of the
// chosen mode are required, and the TLS details only with TLS on, which is
// when the operator writes them; secrets are taken verbatim because a space
// in a password is part of it.
func (r *envReader) redis() RedisConfig {
	c := RedisConfig{
		Mode:     r.required(contract.EnvRedisMode),
		DB:       r.integer(contract.EnvRedisDB),
		Username: strings.TrimSpace(r.getenv(contract.EnvRedisUsername)),
		Password: r.getenv(contract.EnvRedisPassword),
		TLS: RedisTLS{
			Enabled:    r.boolean(contract.EnvRedisTLS),
			CACertPEM:  r.getenv(contract.EnvRedisTLSCACert),
			ServerName: strings.TrimSpace(r.getenv(contract.EnvRedisTLSServerName)),
		},
		PoolSize:        r.integer(contract.EnvRedisPoolSize),
		MinIdleConns:    r.integer(contract.EnvRedisMinIdleConns),
		DialTimeout:     r.duration(contract.EnvRedisDialTimeout),
		ReadTimeout:     r.duration(contract.EnvRedisReadTimeout),
		WriteTimeout:    r.duration(contract.EnvRedisWriteTimeout),
		PoolTimeout:     r.duration(contract.EnvRedisPoolTimeout),
		ConnMaxIdleTime: r.duration(contract.EnvRedisConnMaxIdleTime),
		MaxRetries:      r.integer(contract.EnvRedisMaxRetries),
	}
	if c.TLS.Enabled || strings.TrimSpace(r.getenv(contract.EnvRedisTLSInsecureSkipVerify)) != "" {
		c.TLS.InsecureSkipVerify = r.boolean(contract.EnvRedisTLSInsecureSkipVerify)
	}
	switch c.Mode {
	case contract.ModeStandalone:
		c.Addr = r.required(contract.EnvRedisAddr)
	case contract.ModeSentinel:
		c.Addrs = r.list(contract.EnvRedisAddrs)
		c.MasterName = r.required(contract.EnvRedisMasterName)
	case contract.ModeCluster:
		c.Addrs = r.list(contract.EnvRedisAddrs)
	}
	return c
}
