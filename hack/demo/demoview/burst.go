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

package demoview

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
)

// Burst is a number of demo:sleep tasks spread evenly over queues.
type Burst struct {
	// Queues receive the tasks; the first ones get one more when Count
	// does not divide evenly.
	Queues []string
	// Count is the number of tasks in all.
	Count int
	// Duration is the sleep of each task.
	Duration time.Duration
	// Parallel bounds the enqueue calls in flight. Through a port-forward
	// each call is a round trip of several milliseconds, so enqueueing one
	// by one would stretch the burst over many seconds.
	Parallel int
}

// burstChunk is the number of tasks one enqueue call sends in a row.
const burstChunk = 50

// Split returns how many tasks each queue gets, in the order of Queues.
func (b Burst) Split() []int {
	out := make([]int, len(b.Queues))
	if len(b.Queues) == 0 {
		return out
	}
	for i := range out {
		out[i] = b.Count / len(b.Queues)
		if i < b.Count%len(b.Queues) {
			out[i]++
		}
	}
	return out
}

// IDs collects the ids of the tasks enqueued so far; it is safe for
// concurrent use.
type IDs struct {
	mu  sync.Mutex
	ids []string
}

// Add records one id.
func (s *IDs) Add(id string) {
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
}

// Snapshot returns a copy of the ids recorded so far.
func (s *IDs) Snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// Len returns the number of ids recorded so far.
func (s *IDs) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// Enqueue sends the burst through c, recording each task's id in ids as
// soon as it is enqueued. It stops at the first error, which it returns
// once the calls in flight have ended.
func (b Burst) Enqueue(ctx context.Context, c demotasks.Enqueuer, ids *IDs) error {
	if len(b.Queues) == 0 {
		return errors.New("no queues to enqueue to")
	}
	if b.Count <= 0 {
		return fmt.Errorf("burst of %d tasks: want at least one", b.Count)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type chunk struct {
		queue string
		count int
	}
	// Chunks of the queues interleave, so every queue fills from the start.
	var chunks []chunk
	left := b.Split()
	for more := true; more; {
		more = false
		for i, q := range b.Queues {
			if n := min(left[i], burstChunk); n > 0 {
				chunks = append(chunks, chunk{q, n})
				left[i] -= n
				more = more || left[i] > 0
			}
		}
	}

	work := make(chan chunk)
	errs := make(chan error, len(chunks))
	var wg sync.WaitGroup
	for range max(b.Parallel, 1) {
		wg.Go(func() {
			for ch := range work {
				_, err := demotasks.Enqueue(ctx, c, demotasks.Load{
					Queue: ch.queue, Count: ch.count, Type: demotasks.TypeSleep, Duration: b.Duration,
				}, ids.Add)
				if err != nil {
					errs <- fmt.Errorf("queue %s: %w", ch.queue, err)
					cancel()
				}
			}
		})
	}
	for _, ch := range chunks {
		select {
		case work <- ch:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}
