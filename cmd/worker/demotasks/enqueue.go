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

package demotasks

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Load describes a batch of demo tasks to enqueue.
type Load struct {
	// Queue receives the tasks.
	Queue string
	// Count is the number of tasks.
	Count int
	// Rate is tasks per second; 0 enqueues as fast as Redis takes them.
	Rate float64
	// Type is TypeSleep or TypeFail.
	Type string
	// Duration is the sleep of each demo:sleep task.
	Duration time.Duration
	// FailTimes is the number of failing attempts of each demo:fail task.
	FailTimes int
}

// Enqueuer is the part of asynq.Client that Enqueue needs.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueue enqueues the tasks of l, each with a new ID, and calls enqueued
// with every ID once Redis has it. It paces the tasks against the start
// time rather than sleeping a fixed gap after each, so slow round trips do
// not lower the rate. It returns how many tasks were enqueued.
func Enqueue(ctx context.Context, c Enqueuer, l Load, enqueued func(id string)) (int, error) {
	if l.Queue == "" {
		return 0, fmt.Errorf("no queue given")
	}
	if l.Count < 0 || l.Rate < 0 || l.Duration < 0 || l.FailTimes < 0 {
		return 0, fmt.Errorf("count, rate, duration and fail times must not be negative")
	}
	var gap time.Duration
	if l.Rate > 0 {
		gap = time.Duration(float64(time.Second) / l.Rate)
	}
	start := time.Now()
	for i := range l.Count {
		if wait := time.Until(start.Add(time.Duration(i) * gap)); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return i, ctx.Err()
			case <-timer.C:
			}
		}
		id := NewID()
		var task *asynq.Task
		var err error
		switch l.Type {
		case TypeSleep:
			task, err = NewSleepTask(id, l.Duration, asynq.Queue(l.Queue))
		case TypeFail:
			task, err = NewFailTask(id, l.FailTimes, asynq.Queue(l.Queue))
		default:
			return i, fmt.Errorf("unknown task type %q: want %s or %s", l.Type, TypeSleep, TypeFail)
		}
		if err != nil {
			return i, err
		}
		if _, err := c.EnqueueContext(ctx, task); err != nil {
			return i, fmt.Errorf("enqueueing task %d of %d: %w", i+1, l.Count, err)
		}
		if enqueued != nil {
			enqueued(id)
		}
	}
	return l.Count, nil
}

// ParseRate reads a rate such as "50/s" or "50" (tasks per second).
func ParseRate(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("rate %q is not a number of tasks per second such as \"50/s\"", s)
	}
	return v, nil
}
