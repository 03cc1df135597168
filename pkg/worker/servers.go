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
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// asynqServer is what a taskServer uses of an *asynq.Server; the state
// machine's tests give it a fake.
type asynqServer interface {
	Start(asynq.Handler) error
	Stop()
	Shutdown()
}

// taskServer is one asynq server of the worker and the tasks it has
// taken. asynq cannot start a server again once it has stopped taking
// tasks, so a worker whose drain is cancelled runs a new one.
//
// A stopped server may be shut down only once every task it took has
// finished: Shutdown gives them ShutdownTimeout and then requeues them.
// Counting handlers is not enough for that. asynq's processor dequeues a
// task, then starts a goroutine that calls BaseContext and only then the
// handler, in yet another goroutine; Stop returns once the dequeue has
// returned, so the handler may start any time after. The server therefore
// counts a task from inside the dequeue itself (see dequeueGate), which
// the processor runs before Stop can return, until the task's handler
// returns or asynq gives up on it before the handler started.
type taskServer struct {
	srv asynqServer
	// handler is the worker's handler chain as this server runs it.
	handler asynq.Handler

	stopOnce     sync.Once
	stopped      chan struct{} // closed once Stop has returned
	shutdownOnce sync.Once
	// closing is set when Shutdown starts: from then on asynq puts a task
	// that is still running back in its queue before cancelling it.
	closing atomic.Bool

	// slots, shared by all the worker's servers, bounds the tasks they
	// hold together; nil for no bound.
	slots taskSlots

	mu      sync.Mutex
	running int           // tasks taken and not finished
	idle    chan struct{} // closed while running is 0
}

// taskSlots bounds the tasks that the worker's servers hold at once to its
// concurrency, the number of tasks a worker processes at once. Each server
// is an asynq server of that concurrency, so without it a stopped server
// that still runs tasks and the server started by the cancel would
// together run more. A server takes a task only with a free slot, from
// inside its dequeue (see dequeueGate), so no task waits in the worker
// for a slot: the tasks stay in their queue for any worker to take.
type taskSlots chan struct{}

func newTaskSlots(n int) taskSlots { return make(taskSlots, n) }

// tryAcquire takes a slot if one is free.
func (s taskSlots) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s taskSlots) release() { <-s }

// newTaskServer builds a task server without its asynq server, which the
// caller sets in srv: the asynq server needs the task server's client and
// config (see client and config). handler is built with the server's
// abandoned method, so that each server judges its own interrupted tasks.
func newTaskServer(slots taskSlots, handler func(abandoned func(context.Context) bool) asynq.Handler) *taskServer {
	idle := make(chan struct{})
	close(idle)
	s := &taskServer{stopped: make(chan struct{}), idle: idle, slots: slots}
	s.handler = s.track(handler(s.abandoned))
	return s
}

// config returns cfg with the hooks through which the server follows its
// tasks: BaseContext marks each task's context, and ErrorHandler learns of
// a task that failed before its handler started.
func (s *taskServer) config(cfg asynq.Config) asynq.Config {
	base := cfg.BaseContext
	cfg.BaseContext = func() context.Context {
		ctx := context.Background()
		if base != nil {
			ctx = base()
		}
		return context.WithValue(ctx, taskMarkKey{}, &taskMark{})
	}
	next := cfg.ErrorHandler
	cfg.ErrorHandler = asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
		// asynq calls the handler only if the task's context has not
		// ended when it starts the task, and may give up on a task whose
		// context ends (or lease expires) before the handler runs.
		if m := markOf(ctx); m != nil && m.state.CompareAndSwap(taskTaken, taskFinished) {
			s.end()
		}
		if next != nil {
			next.HandleError(ctx, t, err)
		}
	})
	return cfg
}

// client returns the Redis client for the server's asynq server: rdb, with
// the server's dequeues counted.
func (s *taskServer) client(rdb redis.UniversalClient) redis.UniversalClient {
	return dequeueGate{UniversalClient: rdb, srv: s}
}

func (s *taskServer) start() error {
	return s.srv.Start(s.handler)
}

// stop makes the server take no new tasks and lets running ones go on.
// asynq's Stop returns once the dequeue in progress, if any, has returned,
// so the task it took is counted, or once the processor's pause on empty
// queues (asynq's TaskCheckInterval, a second by default) ends.
func (s *taskServer) stop() {
	s.stopOnce.Do(func() {
		s.srv.Stop()
		close(s.stopped)
	})
}

// shutdown stops the server for good: running tasks get ShutdownTimeout to
// finish, and the rest go back to their queue. It returns when asynq is
// done; concurrent calls all wait for that.
func (s *taskServer) shutdown() {
	s.shutdownOnce.Do(func() {
		s.closing.Store(true)
		s.srv.Shutdown()
	})
}

// abandoned reports whether a handler returned after asynq put its task
// back in the queue at shutdown: asynq cancels the task's context only
// after requeueing it. A task that reached its deadline ends with
// DeadlineExceeded instead, and is a real failure.
func (s *taskServer) abandoned(ctx context.Context) bool {
	return s.closing.Load() && errors.Is(ctx.Err(), context.Canceled)
}

// The states of a taken task, in its taskMark.
const (
	taskTaken    int32 = iota // dequeued, handler not started
	taskRunning               // handler running
	taskFinished              // handler returned, or asynq gave up on the task first
)

// taskMark follows one task from its BaseContext on, so that the task is
// counted as finished exactly once, by its handler or, when asynq gives up
// on it before the handler starts, by the error handler.
type taskMark struct{ state atomic.Int32 }

type taskMarkKey struct{}

func markOf(ctx context.Context) *taskMark {
	m, _ := ctx.Value(taskMarkKey{}).(*taskMark)
	return m
}

// track ends the count of each task when its handler returns. A handler
// that starts after asynq has given up on its task (whose context has
// ended) does not run: the task is already failed and counted.
func (s *taskServer) track(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		m := markOf(ctx)
		if m == nil {
			return next.ProcessTask(ctx, t)
		}
		if !m.state.CompareAndSwap(taskTaken, taskRunning) {
			return ctx.Err()
		}
		defer func() {
			m.state.Store(taskFinished)
			s.end()
		}()
		return next.ProcessTask(ctx, t)
	})
}

// begin counts a task taken, if a slot is free.
func (s *taskServer) begin() bool {
	if s.slots != nil && !s.slots.tryAcquire() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == 0 {
		s.idle = make(chan struct{})
	}
	s.running++
	return true
}

// end counts a task finished and frees its slot. Should the gate ever
// miss asynq's dequeue (a changed script in a newer asynq), ends come
// without begins: they are ignored rather than freeing slots never taken,
// and the tests of the bound fail instead of a worker hanging.
func (s *taskServer) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == 0 {
		return
	}
	s.running--
	if s.running == 0 {
		close(s.idle)
	}
	if s.slots != nil {
		s.slots.release()
	}
}

// runningTasks is the number of tasks taken and not finished.
func (s *taskServer) runningTasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// dequeueGate is the Redis client of one asynq server: the worker's
// client, through which it sees and gates the server's dequeues. asynq's
// processor takes a task with one script (rdb.Dequeue in asynq v0.26: keys
// pending, paused, active and lease of a queue, a nil reply when it takes
// nothing) and runs it before it starts the task's goroutine. The gate
// counts a task taken there, before Stop can return, and without a free
// slot answers as an empty queue would, so the processor waits for its
// next look at the queues (asynq's TaskCheckInterval) and takes nothing.
type dequeueGate struct {
	redis.UniversalClient
	srv *taskServer
}

func (g dequeueGate) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	return g.gate(ctx, keys, func() *redis.Cmd { return g.UniversalClient.EvalSha(ctx, sha, keys, args...) })
}

func (g dequeueGate) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return g.gate(ctx, keys, func() *redis.Cmd { return g.UniversalClient.Eval(ctx, script, keys, args...) })
}

func (g dequeueGate) gate(ctx context.Context, keys []string, run func() *redis.Cmd) *redis.Cmd {
	if !isDequeue(keys) {
		return run()
	}
	// Counted before the script runs, so the count never misses a task
	// the script has taken.
	if !g.srv.begin() {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(redis.Nil)
		return cmd
	}
	cmd := run()
	if cmd.Err() != nil {
		g.srv.end()
	}
	return cmd
}

// isDequeue reports whether a script's keys are those of asynq's dequeue.
func isDequeue(keys []string) bool {
	return len(keys) == 4 && strings.HasPrefix(keys[0], "asynq:{") &&
		strings.HasSuffix(keys[0], "}:pending") && strings.HasSuffix(keys[1], "}:paused") &&
		strings.HasSuffix(keys[2], "}:active") && strings.HasSuffix(keys[3], "}:lease")
}

// whenIdle returns a channel closed once no task taken is unfinished.
// Once stop has returned, the channel stays closed.
func (s *taskServer) whenIdle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}

// taskServers runs the worker's task servers and moves them between
// states at the operator's request:
//
//   - not started: the drain key has not been read yet, so no server
//     runs: a worker whose key is set must take no task, and one that
//     cannot read it cannot reach Redis to run tasks either.
//   - active: current takes tasks.
//   - draining: current (if any) has stopped taking tasks and lets its
//     running ones finish; nothing takes new tasks.
//
// The first read of the key starts the worker active or draining. A drain
// stops current. A cancel starts a new server as current and retires the
// stopped one: it is shut down once its running tasks have finished,
// since shutting it down earlier would give them only ShutdownTimeout.
// Retiring servers are independent of the state, so a drain or a cancel
// that comes while an earlier server still retires only adds a server to
// stop or to retire. shutdown ends every server at once, whatever the
// state.
type taskServers struct {
	log       *slog.Logger
	newServer func() *taskServer
	// drainGauge is 1 while draining.
	drainGauge prometheus.Gauge

	mu       sync.Mutex
	closed   bool
	started  bool
	draining bool
	// current takes tasks while active; nil when the worker started
	// draining, before any server ran.
	current *taskServer
	// live holds every server not yet shut down: current and the retiring
	// ones.
	live     []*taskServer
	retiring sync.WaitGroup
	// closing is closed when shutdown starts, so retiring servers stop
	// waiting for their tasks.
	closing chan struct{}
}

func newTaskServers(log *slog.Logger, newServer func() *taskServer, drainGauge prometheus.Gauge) *taskServers {
	return &taskServers{log: log, newServer: newServer, drainGauge: drainGauge, closing: make(chan struct{})}
}

// hasStarted reports whether the first read of the drain key has set the
// state.
func (s *taskServers) hasStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// isDraining reports whether the worker drains at the operator's request.
func (s *taskServers) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// setDraining records the state; callers hold mu.
func (s *taskServers) setDraining(v bool) {
	s.draining = v
	if v {
		s.drainGauge.Set(1)
	} else {
		s.drainGauge.Set(0)
	}
}

// apply moves to the state the operator asks for: draining when the drain
// key is present, active when it is not. requestedAt is the key's value,
// for the log. Asking for the current state does nothing. The first call
// sets the state the worker starts in.
func (s *taskServers) apply(drain bool, requestedAt string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if !s.started {
		defer s.mu.Unlock()
		s.startIn(drain, requestedAt)
		return
	}
	if drain == s.draining {
		s.mu.Unlock()
		return
	}
	if drain {
		s.setDraining(true)
		cur := s.current
		s.mu.Unlock()
		running := 0
		if cur != nil {
			running = cur.runningTasks()
		}
		s.log.Info("drain requested: taking no new tasks, letting running ones finish",
			"requestedAt", requestedAt, "runningTasks", running)
		// Outside the lock: Stop may wait up to the processor's pause on
		// empty queues, and shutdown must not wait for that.
		if cur != nil {
			cur.stop()
		}
		return
	}
	defer s.mu.Unlock()
	next := s.newServer()
	if err := next.start(); err != nil {
		// A new asynq server only fails to start with a nil handler, but
		// should it, the worker stays drained and tries again at the
		// next read of the key.
		s.log.Error("drain cancelled, but no task server could start", "error", err)
		return
	}
	prev := s.current
	s.current = next
	s.live = append(s.live, next)
	s.setDraining(false)
	s.log.Info("drain cancelled: taking tasks again")
	if prev != nil {
		s.retire(prev)
	}
}

// startIn sets the state the worker starts in: a drain asked for before the
// process started (a restarted container) holds for it too, and then no
// server runs until the cancel. Callers hold mu.
func (s *taskServers) startIn(drain bool, requestedAt string) {
	if drain {
		s.started = true
		s.setDraining(true)
		s.log.Info("drain requested before the start: taking no tasks", "requestedAt", requestedAt)
		return
	}
	srv := s.newServer()
	if err := srv.start(); err != nil {
		// As for a cancel: the next read of the key tries again.
		s.log.Error("no task server could start", "error", err)
		return
	}
	s.started = true
	s.current = srv
	s.live = append(s.live, srv)
	s.log.Info("taking tasks")
}

// retire shuts srv down once it has stopped and its running tasks have
// finished, or at once when the worker shuts down. Callers hold mu, so
// shutdown waits for every retirement apply starts.
func (s *taskServers) retire(srv *taskServer) {
	s.retiring.Go(func() {
		// The drain before this cancel stopped srv (apply runs on one
		// goroutine); from the end of Stop on, the server takes no task,
		// and its count of tasks taken, exact from the dequeue on, only
		// falls.
		select {
		case <-srv.stopped:
		case <-s.closing:
		}
		select {
		case <-srv.whenIdle():
		case <-s.closing:
		}
		srv.shutdown()
		s.mu.Lock()
		s.live = slices.DeleteFunc(s.live, func(l *taskServer) bool { return l == srv })
		s.mu.Unlock()
		s.log.Debug("retired a stopped task server: its tasks have finished")
	})
}

// shutdown ends the state machine and shuts every server down at once, so
// each server's running tasks get ShutdownTimeout, not a sum of them. It
// returns when all are down.
func (s *taskServers) shutdown() {
	s.mu.Lock()
	s.closed = true
	live := slices.Clone(s.live)
	s.mu.Unlock()
	close(s.closing)
	var wg sync.WaitGroup
	for _, srv := range live {
		wg.Go(srv.shutdown)
	}
	wg.Wait()
	s.retiring.Wait()
}
