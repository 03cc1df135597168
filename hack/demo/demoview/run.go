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
)

// Source takes samples. A failed read is part of the sample (RedisErr,
// KubeErr), so the view can show it and go on.
type Source interface {
	Sample(ctx context.Context) Sample
}

// Run is one run of the view.
type Run struct {
	// Source takes the samples; Display shows them; Tracker decides when
	// the run is over.
	Source  Source
	Display Display
	Tracker *Tracker
	// Enqueue sends the burst; it starts after the first sample, which is
	// the baseline the scale-up is measured from.
	Enqueue func(ctx context.Context) error
	// Interval is the time between two samples.
	Interval time.Duration
	// Timeout ends a run that takes longer (TimedOut).
	Timeout time.Duration
	// FailAfter ends the run with an error when Redis or the API server
	// has not been readable for that long.
	FailAfter time.Duration
}

// Execute samples until the tracker says the run is over, the timeout
// passes, ctx is cancelled (Interrupted) or the sources fail for too long,
// and returns the summary. An error means the summary is partial: the
// burst could not be enqueued, or a source stayed unreadable.
func (r Run) Execute(ctx context.Context) (Summary, error) {
	defer r.Display.Close()
	sample := func() Sample {
		s := r.Source.Sample(ctx)
		r.Tracker.Observe(s)
		r.Display.Show(s, r.Tracker)
		return s
	}
	first := sample()
	deadline := first.At.Add(r.Timeout)

	// The channel holds the one result, so the goroutine never blocks on
	// it; a run that ends early stops the enqueueing and waits for it, so
	// nothing writes to Redis after Execute returns.
	enqueued := make(chan error, 1)
	enqCtx, cancelEnqueue := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { enqueued <- r.Enqueue(enqCtx) })
	defer func() {
		cancelEnqueue()
		wg.Wait()
	}()

	ticker := time.NewTicker(r.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.Tracker.Summary(Interrupted), nil
		case err := <-enqueued:
			enqueued = nil // keep sampling what did go in
			if err != nil && !errors.Is(err, context.Canceled) {
				return r.Tracker.Summary(Interrupted), fmt.Errorf("enqueueing the burst: %w", err)
			}
			continue
		case <-ticker.C:
		}
		s := sample()
		if outcome, done := r.Tracker.Done(); done {
			return r.Tracker.Summary(outcome), nil
		}
		if redisFor, kubeFor := r.Tracker.Failing(); redisFor >= r.FailAfter {
			return r.Tracker.Summary(Interrupted), fmt.Errorf("redis unreadable for %s: %w", fmtDuration(redisFor), s.RedisErr)
		} else if kubeFor >= r.FailAfter {
			return r.Tracker.Summary(Interrupted), fmt.Errorf("the API server unreadable for %s: %w", fmtDuration(kubeFor), s.KubeErr)
		}
		if !s.At.Before(deadline) {
			return r.Tracker.Summary(TimedOut), nil
		}
	}
}
