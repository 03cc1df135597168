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
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// asynqServer is what a taskServer uses of an *asynq.Server; the state
// machine's tests give it a fake.
type asynqServer interface {
	Start(asynq.Handler) error
	Stop()
	Shutdown()
}

// taskServer is one asynq server of the worker and the tasks its handlers
// are running. asynq cannot start a server again once it has stopped
// taking tasks, so a worker whose drain is cancelled runs a new one.
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

	mu      sync.Mutex
	running int
	idle    chan struct{} // closed while no handler runs
}

// newTaskServer wraps srv; handler is built with the server's abandoned
// method, so that each server judges its own interrupted tasks.
func newTaskServer(srv asynqServer, handler func(abandoned func(context.Context) bool) asynq.Handler) *taskServer {
	idle := make(chan struct{})
	close(idle)
	s := &taskServer{srv: srv, stopped: make(chan struct{}), idle: idle}
	s.handler = s.track(handler(s.abandoned))
	return s
}

func (s *taskServer) start() error {
	return s.srv.Start(s.handler)
}

// stop makes the server take no new tasks and lets running ones go on.
// asynq's Stop returns once the dequeue in progress, if any, has handed
// its task to a handler, or once the processor's pause on empty queues
// (asynq's TaskCheckInterval, a second by default) ends.
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

// track counts the handlers running on this server.
func (s *taskServer) track(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		s.begin()
		defer s.end()
		return next.ProcessTask(ctx, t)
	})
}

func (s *taskServer) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running == 0 {
		s.idle = make(chan struct{})
	}
	s.running++
}

func (s *taskServer) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	if s.running == 0 {
		close(s.idle)
	}
}

// runningTasks is the number of handlers running now.
func (s *taskServer) runningTasks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// whenIdle returns a channel closed once no handler runs. Once stop has
// returned and the tasks it let through have reached their handlers, the
// channel stays closed.
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
		// goroutine); from the end of Stop on, the count of running tasks
		// only falls. A task dequeued just before Stop returned reaches
		// its handler within microseconds, and a cancel comes at least one
		// read of the key after the drain, so that task is counted by then.
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
