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
	"sync"
	"sync/atomic"

	"github.com/hibiken/asynq"
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

// whenIdle returns a channel closed once no handler runs. After stop has
// returned no handler starts any more, so the channel is closed for good.
func (s *taskServer) whenIdle() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}
