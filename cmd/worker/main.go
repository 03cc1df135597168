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

// Command worker is the reference worker of the queueworker operator. It
// is built on pkg/worker and serves the demo task types of
// cmd/worker/demotasks, draining at the operator's request as every SDK
// worker does; it also enqueues demo load.
//
//	worker [run] [--log-level info] [--retry-delay 0]
//	worker enqueue --queue Q --count N --rate R/s --type demo:sleep --duration 200ms [--fail-times N] [--redis-addr host:port]
//
// Both read the QUEUEWORKER_ variables of docs/worker-contract.md; enqueue
// needs only the Redis ones, or --redis-addr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/redisclient"
	"github.com/queueworker/queueworker-operator/pkg/worker"
)

// The subcommands; cmdRun is the default.
const (
	cmdRun     = "run"
	cmdEnqueue = "enqueue"
)

func main() {
	args := os.Args[1:]
	cmd := cmdRun
	if len(args) > 0 && (args[0] == cmdRun || args[0] == cmdEnqueue) {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case cmdRun:
		err = run(args)
	case cmdEnqueue:
		err = enqueue(args)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "lowest log level: debug, info, warn or error")
	retryDelay := fs.Duration("retry-delay", 0, "fixed delay before a failed task is retried; 0 keeps asynq's exponential backoff")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unknown command or argument %q; commands are run and enqueue", fs.Arg(0))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := worker.ConfigFromEnv()
	if err != nil {
		return err
	}
	opts := []worker.Option{worker.WithLogger(log)}
	if *retryDelay > 0 {
		opts = append(opts, worker.WithServerConfig(func(c *asynq.Config) {
			c.RetryDelayFunc = func(int, error, *asynq.Task) time.Duration { return *retryDelay }
			// Retries wait in a sorted set that asynq scans every five
			// seconds by default, longer than a short fixed delay.
			c.DelayedTaskCheckInterval = min(*retryDelay, 5*time.Second)
		}))
	}
	w, err := worker.New(cfg, opts...)
	if err != nil {
		return err
	}
	demotasks.NewHandlers(w.RedisClient()).Register(w)
	return w.Run(context.Background())
}

func enqueue(args []string) error {
	fs := flag.NewFlagSet("worker enqueue", flag.ContinueOnError)
	var load demotasks.Load
	fs.StringVar(&load.Queue, "queue", "default", "queue that receives the tasks")
	fs.IntVar(&load.Count, "count", 1, "number of tasks")
	fs.Func("rate", "tasks per second, such as 50/s; 0 enqueues as fast as possible", func(s string) error {
		r, err := demotasks.ParseRate(s)
		load.Rate = r
		return err
	})
	fs.StringVar(&load.Type, "type", demotasks.TypeSleep, "task type: "+demotasks.TypeSleep+" or "+demotasks.TypeFail)
	fs.DurationVar(&load.Duration, "duration", 200*time.Millisecond, "sleep of each "+demotasks.TypeSleep+" task")
	fs.IntVar(&load.FailTimes, "fail-times", 0, "failing attempts of each "+demotasks.TypeFail+" task")
	redisAddr := fs.String("redis-addr", "", "host:port of a standalone Redis, instead of the "+contract.Prefix+"REDIS_* variables; "+
		contract.EnvRedisUsername+" and "+contract.EnvRedisPassword+" still apply")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	var rdb redis.UniversalClient
	if *redisAddr != "" {
		var err error
		rdb, err = redisclient.New(redisclient.Options{
			Mode:     contract.ModeStandalone,
			Addr:     *redisAddr,
			Username: os.Getenv(contract.EnvRedisUsername),
			Password: os.Getenv(contract.EnvRedisPassword),
		})
		if err != nil {
			return err
		}
	} else {
		cfg, err := worker.LoadRedisConfig(os.Getenv)
		if err != nil {
			return err
		}
		if rdb, err = worker.NewRedisClient(cfg); err != nil {
			return err
		}
	}
	defer func() { _ = rdb.Close() }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := demotasks.Enqueue(ctx, asynq.NewClientFromRedisClient(rdb), load, func(id string) { fmt.Println(id) })
	fmt.Fprintf(os.Stderr, "enqueued %d %s tasks to queue %s\n", n, load.Type, load.Queue)
	return err
}
