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

// Package worker is the SDK for worker binaries run by the queueworker
// operator. It reads the settings the operator injects (see LoadConfig and
// docs/worker-contract.md), builds one Redis client and an asynq server
// from them, and serves probes and Prometheus metrics:
//
//	cfg, err := worker.ConfigFromEnv()
//	...
//	w, err := worker.New(cfg)
//	...
//	w.HandleFunc("email:send", sendEmail)
//	err = w.Run(ctx)
//
// Run returns after a graceful shutdown on SIGTERM, SIGINT or the end of
// its context: running tasks get Config.ShutdownTimeout to finish, and
// tasks still running then go back to their queue for another worker.
//
// While it runs, the worker follows the operator's drain requests: while
// its drain key (contract.DrainKey) is set it takes no new tasks, lets
// running ones finish and reports "draining" on /readyz; once the key is
// gone it takes tasks again.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// httpShutdownTimeout bounds waiting for in-flight probe and scrape
// requests once the task server has drained.
const httpShutdownTimeout = 5 * time.Second

// Worker processes the tasks of the configured queues. Create it with New,
// register handlers, then call Run once.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	rdb      redis.UniversalClient
	asynqCfg asynq.Config
	servers  *taskServers
	// slots bounds the tasks all task servers hold together.
	slots taskSlots
	// drainKey is the key through which the operator asks this process
	// to drain.
	drainKey string
	mux      *asynq.ServeMux
	metrics  *metrics
	gatherer prometheus.Gatherer
	listener net.Listener

	started      atomic.Bool
	shuttingDown atomic.Bool
	redisDown    atomic.Bool
	// drainReadErr is the error of the last read of the drain key, nil
	// after a read that succeeded.
	drainReadErr atomic.Pointer[string]
}

// Option changes how New builds a Worker.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	registry     *prometheus.Registry
	listener     net.Listener
	serverConfig func(*asynq.Config)
}

// WithLogger sets the logger of the worker and of the asynq server inside
// it. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRegistry registers the worker's metrics on reg and serves reg on
// /metrics, so an application's own metrics appear beside them. Without
// it the worker uses a registry of its own with the Go runtime and process
// collectors; it never touches the global registry.
func WithRegistry(reg *prometheus.Registry) Option {
	return func(o *options) { o.registry = reg }
}

// WithListener serves HTTP on l instead of listening on Config.HTTPAddr.
// Run closes l.
func WithListener(l net.Listener) Option {
	return func(o *options) { o.listener = l }
}

// WithServerConfig lets fn set asynq server settings the contract does not
// carry, such as RetryDelayFunc, IsFailure or GroupAggregator. Settings
// that come from Config, and the logger, health check and error handler
// of the worker, are applied after fn and win; an ErrorHandler set by fn
// runs after the worker's own.
func WithServerConfig(fn func(*asynq.Config)) Option {
	return func(o *options) { o.serverConfig = fn }
}

// New checks cfg and builds the worker's Redis client, asynq server and
// metrics. It does not wait for Redis: the client dials its
// MinIdleConns connections in the background, and the rest on demand.
func New(cfg Config, opts ...Option) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid worker configuration: %w", err)
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	reg := o.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	rdb, err := NewRedisClient(cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("building redis client: %w", err)
	}

	// asynq names its servers after the same host, so the operator finds
	// the drain key of a host it sees running tasks; "unknown-host" is
	// asynq's fallback too.
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	w := &Worker{
		cfg:      cfg,
		log:      o.logger,
		rdb:      rdb,
		mux:      asynq.NewServeMux(),
		metrics:  m,
		gatherer: reg,
		listener: o.listener,
		drainKey: contract.DrainKey(host),
		slots:    newTaskSlots(cfg.Concurrency),
	}
	w.servers = newTaskServers(o.logger, w.newTaskServer, m.draining)

	var ac asynq.Config
	if o.serverConfig != nil {
		o.serverConfig(&ac)
	}
	ac.Queues = make(map[string]int, len(cfg.Queues))
	for _, q := range cfg.Queues {
		ac.Queues[q.Name] = q.Priority
	}
	ac.StrictPriority = cfg.StrictPriority
	ac.Concurrency = cfg.Concurrency
	ac.ShutdownTimeout = cfg.ShutdownTimeout
	ac.HealthCheckInterval = cfg.HealthCheckInterval
	ac.HealthCheckFunc = w.healthCheck
	ac.ErrorHandler = w.errorHandler(ac.ErrorHandler)
	ac.Logger = asynqLogger{o.logger.With("component", "asynq")}
	// asynq filters by its own level before our logger sees a line; let
	// everything through so the slog handler's level is the only one.
	ac.LogLevel = asynq.DebugLevel
	w.asynqCfg = ac

	// Each running task may hold a connection, and asynq's heartbeat,
	// forwarder and recoverer need some too; a smaller pool makes tasks
	// queue for connections, which looks like a slow Redis.
	if cfg.Redis.PoolSize <= cfg.Concurrency {
		w.log.Warn("redis pool is not larger than the concurrency; tasks may wait for connections",
			"poolSize", cfg.Redis.PoolSize, "concurrency", cfg.Concurrency)
	}
	return w, nil
}

// Handle registers h for task types that match pattern, as
// asynq.ServeMux.Handle does: an exact type, or a prefix such as "email:".
func (w *Worker) Handle(pattern string, h asynq.Handler) {
	w.mux.Handle(pattern, h)
}

// HandleFunc registers fn for task types that match pattern.
func (w *Worker) HandleFunc(pattern string, fn func(context.Context, *asynq.Task) error) {
	w.mux.HandleFunc(pattern, fn)
}

// Use adds middleware around every handler, in the order given. The
// worker's metrics sit outside all middleware, so they see what the
// middleware returns.
func (w *Worker) Use(mws ...asynq.MiddlewareFunc) {
	w.mux.Use(mws...)
}

// RedisClient returns the worker's Redis client, for handlers that keep
// their own data in the same Redis. It is closed when Run returns.
func (w *Worker) RedisClient() redis.UniversalClient {
	return w.rdb
}

// Run serves HTTP, processes tasks until ctx ends or the process receives
// SIGTERM or SIGINT, pausing while the operator has it drain, then shuts
// down gracefully: it stops taking tasks, gives running ones
// Config.ShutdownTimeout to finish, returns the rest to their queue, and
// closes the Redis client. After the first signal a second one ends the
// process at once. Run returns nil after a graceful shutdown and may be
// called only once.
func (w *Worker) Run(ctx context.Context) (err error) {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("worker is already running or has run")
	}
	defer func() {
		if cerr := w.rdb.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing redis client: %w", cerr))
		}
	}()

	sigCtx, stopSignals := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stopSignals()

	ln := w.listener
	if ln == nil {
		ln, err = net.Listen("tcp", w.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", w.cfg.HTTPAddr, err)
		}
	}
	httpSrv := &http.Server{
		Handler:           w.httpHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(w.log.Handler(), slog.LevelWarn),
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Serve(ln) }()

	w.log.Info("worker started",
		"queues", contract.FormatQueues(w.cfg.Queues),
		"strictPriority", w.cfg.StrictPriority,
		"concurrency", w.cfg.Concurrency,
		"httpAddr", ln.Addr().String(),
		"drainKey", w.drainKey,
		"redis", w.cfg.Redis)
	// watchDrain starts the task servers once it has read the drain key:
	// a drain asked for before this process started (its container
	// restarted, say) holds for it too. Run returns only after the last
	// read of the key, which may wait for Redis up to its read timeout, in
	// parallel with the shutdown.
	var watching sync.WaitGroup
	defer watching.Wait()
	watchCtx, stopWatching := context.WithCancel(sigCtx)
	defer stopWatching()
	watching.Go(func() { w.watchDrain(watchCtx) })
	// asynq checks Redis first after one HealthCheckInterval; check now so
	// the gauge and the log tell the truth from the start.
	var firstCheck sync.WaitGroup
	firstCheck.Go(func() { w.healthCheck(w.rdb.Ping(sigCtx).Err()) })
	defer firstCheck.Wait()

	select {
	case <-sigCtx.Done():
		// Restore default signal handling so a second signal ends a
		// shutdown that takes too long.
		stopSignals()
		reason := "signal"
		if ctx.Err() != nil {
			reason = "context done"
		}
		w.log.Info("shutting down", "reason", reason, "shutdownTimeout", w.cfg.ShutdownTimeout.String())
	case herr := <-httpDone:
		err = fmt.Errorf("serving http: %w", herr)
		w.log.Info("shutting down", "reason", "http server failed")
	}

	// The HTTP server stays up while running tasks finish, so liveness
	// probes keep passing; /readyz reports the shutdown. Every task server
	// shuts down, drained or not, retiring or not.
	w.shuttingDown.Store(true)
	stopWatching()
	w.servers.shutdown()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if herr := httpSrv.Shutdown(shutdownCtx); herr != nil {
		_ = httpSrv.Close()
	}
	w.log.Info("worker stopped")
	return err
}

// newTaskServer builds an asynq server on the worker's client with the
// worker's settings and handlers. asynq leaves a client it was handed
// open; Run closes it.
func (w *Worker) newTaskServer() *taskServer {
	s := newTaskServer(w.slots, func(abandoned func(context.Context) bool) asynq.Handler {
		return w.metrics.instrument(w.mux, abandoned)
	})
	s.srv = asynq.NewServerFromRedisClient(s.client(w.rdb), s.config(w.asynqCfg))
	return s
}

// healthCheck receives the result of asynq's periodic PING and logs only
// changes, so an outage gives one line rather than one per interval.
func (w *Worker) healthCheck(err error) {
	if err != nil {
		w.metrics.redisUp.Set(0)
		if !w.redisDown.Swap(true) {
			w.log.Warn("redis unreachable; tasks wait until it answers", "error", err)
		}
		return
	}
	w.metrics.redisUp.Set(1)
	if w.redisDown.Swap(false) {
		w.log.Info("redis reachable again")
	}
}

// errorHandler logs failed tasks without their payload, which may carry
// personal data or secrets, then calls next if set.
func (w *Worker) errorHandler(next asynq.ErrorHandler) asynq.ErrorHandler {
	return asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		queue, _ := asynq.GetQueueName(ctx)
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		attrs := []any{
			"queue", queue, "taskType", t.Type(), "taskId", id,
			"retried", retried, "maxRetry", maxRetry, "error", err,
		}
		switch {
		case errors.Is(err, asynq.RevokeTask):
			w.log.Info("task revoked", attrs...)
		case retried >= maxRetry || errors.Is(err, asynq.SkipRetry):
			w.log.Error("task failed and is archived", attrs...)
		default:
			w.log.Warn("task failed and will be retried", attrs...)
		}
		if next != nil {
			next.HandleError(ctx, t, err)
		}
	})
}

// asynqLogger passes asynq's log lines to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) emit(level slog.Level, args []any) {
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.Log(ctx, level, fmt.Sprint(args...))
	}
}

func (l asynqLogger) Debug(args ...any) { l.emit(slog.LevelDebug, args) }
func (l asynqLogger) Info(args ...any)  { l.emit(slog.LevelInfo, args) }
func (l asynqLogger) Warn(args ...any)  { l.emit(slog.LevelWarn, args) }
func (l asynqLogger) Error(args ...any) { l.emit(slog.LevelError, args) }

// Fatal exits as asynq.Logger requires.
func (l asynqLogger) Fatal(args ...any) {
	l.emit(slog.LevelError, args)
	os.Exit(1)
}
