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

// Package demotasks holds the task types of the reference worker. They do
// no useful work; they let the demo and the end-to-end tests produce load
// with a known run time and failure pattern, and prove afterwards that no
// task was lost or run twice.
//
// Every demo task that completes adds 1 to the field named after its
// payload ID in the Redis hash LedgerKey ("queueworker:demo:ledger"), so
// after a run every enqueued ID should have the value 1: a missing field is
// a lost task, 2 or more a task completed more than once. A demo:sleep
// task also adds 1 to its field in StartsKey each time a handler starts
// it, so a task that was interrupted (a worker stopped while it ran, and
// asynq ran it again) shows 2 or more starts for one completion.
package demotasks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Task types.
const (
	// TypeSleep sleeps for the payload's Duration, then completes.
	TypeSleep = "demo:sleep"
	// TypeFail fails its first FailTimes attempts, then completes.
	TypeFail = "demo:fail"
)

// LedgerKey is the Redis hash that counts completions per payload ID.
const LedgerKey = "queueworker:demo:ledger"

// StartsKey is the Redis hash that counts the starts of demo:sleep tasks
// per payload ID.
const StartsKey = "queueworker:demo:starts"

// Payload is the JSON payload of every demo task.
type Payload struct {
	// ID identifies the task in the ledger; it is also the asynq task ID.
	ID string `json:"id"`
	// Duration is how long a demo:sleep task sleeps, as a Go duration.
	Duration string `json:"duration,omitempty"`
	// FailTimes is how many attempts of a demo:fail task fail.
	FailTimes int `json:"failTimes,omitempty"`
}

// NewID returns a random ID for a payload.
func NewID() string {
	return rand.Text()
}

// NewSleepTask returns a demo:sleep task that sleeps for d. It may be
// retried a few times, and its timeout leaves d a minute of slack.
func NewSleepTask(id string, d time.Duration, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeSleep, Payload{ID: id, Duration: d.String()},
		append([]asynq.Option{asynq.MaxRetry(3), asynq.Timeout(d + time.Minute)}, opts...))
}

// NewFailTask returns a demo:fail task that fails failTimes attempts before
// it succeeds. It may be retried failTimes+3 times, so it completes unless
// something other than the planned failures goes wrong.
func NewFailTask(id string, failTimes int, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeFail, Payload{ID: id, FailTimes: failTimes},
		append([]asynq.Option{asynq.MaxRetry(failTimes + 3), asynq.Timeout(time.Minute)}, opts...))
}

func newTask(typ string, p Payload, opts []asynq.Option) (*asynq.Task, error) {
	if p.ID == "" {
		return nil, errors.New("payload without an id")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding payload: %w", err)
	}
	// The payload ID doubles as the task ID, so asynq refuses a second task
	// with the same ID and tests can look a task up by its ledger ID.
	return asynq.NewTask(typ, b, append([]asynq.Option{asynq.TaskID(p.ID)}, opts...)...), nil
}

// Handlers processes the demo task types and records completions in the
// ledger of the Redis they are given.
type Handlers struct {
	rdb redis.UniversalClient
}

// NewHandlers returns handlers that write the ledger through rdb.
func NewHandlers(rdb redis.UniversalClient) *Handlers {
	return &Handlers{rdb: rdb}
}

// Mux is the part of worker.Worker and asynq.ServeMux that registers
// handlers.
type Mux interface {
	HandleFunc(pattern string, fn func(context.Context, *asynq.Task) error)
}

// Register registers every demo task type on mux.
func (h *Handlers) Register(mux Mux) {
	mux.HandleFunc(TypeSleep, h.Sleep)
	mux.HandleFunc(TypeFail, h.Fail)
}

// Sleep handles demo:sleep. It gives up as soon as ctx ends and returns
// ctx.Err(), so a task cut short is retried or, at shutdown, put back in
// its queue by asynq instead of being recorded as done.
func (h *Handlers) Sleep(ctx context.Context, t *asynq.Task) error {
	p, err := decode(t)
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(p.Duration)
	if err != nil || d < 0 {
		return fmt.Errorf("task %s: duration %q is not a duration: %w", p.ID, p.Duration, asynq.SkipRetry)
	}
	if err := h.rdb.HIncrBy(ctx, StartsKey, p.ID, 1).Err(); err != nil {
		return fmt.Errorf("recording the start of task %s: %w", p.ID, err)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	return h.record(ctx, p.ID)
}

// Fail handles demo:fail: attempts before the payload's FailTimes-th retry
// fail on purpose.
func (h *Handlers) Fail(ctx context.Context, t *asynq.Task) error {
	p, err := decode(t)
	if err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	if retried < p.FailTimes {
		return fmt.Errorf("task %s: planned failure %d of %d", p.ID, retried+1, p.FailTimes)
	}
	return h.record(ctx, p.ID)
}

func (h *Handlers) record(ctx context.Context, id string) error {
	if err := h.rdb.HIncrBy(ctx, LedgerKey, id, 1).Err(); err != nil {
		return fmt.Errorf("recording task %s in the ledger: %w", id, err)
	}
	return nil
}

// decode reads a payload. A payload that cannot be read never will be, so
// the error skips the retries.
func decode(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("decoding payload: %w: %w", err, asynq.SkipRetry)
	}
	if p.ID == "" {
		return p, fmt.Errorf("payload without an id: %w", asynq.SkipRetry)
	}
	return p, nil
}
