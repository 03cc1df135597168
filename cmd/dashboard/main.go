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

// Command dashboard serves asynqmon, the web UI and JSON API of asynq,
// for the queues of one standalone Redis: queues, task counts per state,
// tasks with their payload and last error, servers. It is read-only unless
// started with --read-only=false.
//
//	dashboard [--bind-address :8080] [--read-only=true] --redis-addr host:port
//	          [--redis-db 0] [--redis-username USER] [--redis-password-file FILE]
//	          [--redis-tls] [--redis-tls-ca-file FILE] [--redis-tls-server-name NAME]
//
// The password comes from --redis-password-file or from the variable
// QUEUEWORKER_REDIS_PASSWORD, as for the workers; never from a flag, which
// anyone on the node could read in the process list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// shutdownTimeout bounds how long requests in flight may finish after
// SIGTERM; the chart's grace period is longer.
const shutdownTimeout = 10 * time.Second

func main() {
	err := run(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.bindAddr, "bind-address", ":8080", "listen address of the dashboard and /healthz")
	fs.BoolVar(&cfg.readOnly, "read-only", true, "refuse every request that changes Redis (pause, resume, run, archive, delete); false allows them")
	fs.StringVar(&cfg.redis.addr, "redis-addr", "", "host:port of the standalone Redis that holds the queues")
	fs.IntVar(&cfg.redis.db, "redis-db", 0, "Redis database number")
	fs.StringVar(&cfg.redis.username, "redis-username", "", "Redis ACL user; empty for the default user")
	fs.StringVar(&cfg.redis.passwordFile, "redis-password-file", "", "file holding the Redis password (one trailing line break is ignored); else $"+contract.EnvRedisPassword)
	fs.BoolVar(&cfg.redis.tls, "redis-tls", false, "connect to Redis over TLS")
	fs.StringVar(&cfg.redis.caFile, "redis-tls-ca-file", "", "PEM CA certificates that verify the server; empty: the system roots")
	fs.StringVar(&cfg.redis.serverName, "redis-tls-server-name", "", "name checked in the server's certificate; empty: the host of --redis-addr")
	fs.BoolVar(&cfg.redis.insecureSkipVerify, "redis-tls-insecure-skip-verify", false, "accept any server certificate")
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "lowest log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	opts, err := cfg.redis.options(os.ReadFile, getenv)
	if err != nil {
		return err
	}
	dash, err := newDashboard(opts, cfg.readOnly)
	if err != nil {
		return err
	}
	defer func() { _ = dash.Close() }()

	ln, err := net.Listen("tcp", cfg.bindAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.bindAddr, err)
	}
	srv := &http.Server{Handler: dash, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("dashboard started", "httpAddr", ln.Addr().String(), "readOnly", cfg.readOnly,
		"redisAddr", opts.Addr, "db", opts.DB, "username", opts.Username, "tls", opts.TLSConfig != nil)

	select {
	case err := <-served:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down HTTP: %w", err)
	}
	return nil
}

// config holds the flags.
type config struct {
	bindAddr string
	readOnly bool
	redis    redisFlags
}
