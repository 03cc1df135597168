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
	"strings"
	"sync"
	"testing"
	"time"
)

// scripted is a Source that plays a script: each call returns the next
// sample, stamped with the wall clock, and then repeats the last one.
type scripted struct {
	mu      sync.Mutex
	samples []Sample
	calls   int
}

func (s *scripted) Sample(context.Context) Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.samples[min(s.calls, len(s.samples)-1)]
	s.calls++
	out.At = time.Now()
	return out
}

// recording is a Display that keeps what it was shown.
type recording struct {
	shown  []Sample
	closed bool
}

func (r *recording) Show(s Sample, _ *Tracker) { r.shown = append(r.shown, s) }
func (r *recording) Close()                    { r.closed = true }

func run(t *testing.T, ctx context.Context, src Source, enqueue func(context.Context) error, timeout time.Duration) (Summary, *recording, error) {
	t.Helper()
	disp := &recording{}
	s, err := Run{
		Source:    src,
		Display:   disp,
		Tracker:   NewTracker(10, 50*time.Millisecond, 50*time.Millisecond),
		Enqueue:   enqueue,
		Interval:  time.Millisecond,
		Timeout:   timeout,
		FailAfter: 50 * time.Millisecond,
	}.Execute(ctx)
	if !disp.closed {
		t.Error("the display was not closed")
	}
	return s, disp, err
}

func noEnqueue(context.Context) error { return nil }

func TestRunCompletes(t *testing.T) {
	w := Workers{Desired: 1, Ready: 1}
	src := &scripted{samples: []Sample{
		at(0, 0, 0, w, 0, 0),
		at(0, 10, 0, Workers{Desired: 3, Ready: 1}, 10, 0),
		at(0, 2, 4, Workers{Desired: 3, Ready: 3}, 10, 4),
		at(0, 0, 0, Workers{Desired: 3, Ready: 3}, 10, 10),
	}}
	enqueued := make(chan struct{})
	s, disp, err := run(t, context.Background(), src, func(context.Context) error {
		close(enqueued)
		return nil
	}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-enqueued:
	default:
		t.Error("the burst was never enqueued")
	}
	if !s.OK() || s.Peak.Ready != 3 || !s.ScaledUp || s.ScaledTo != 3 {
		t.Errorf("Summary = %+v; want OK, peak 3 ready, scaled up to 3", s)
	}
	if len(disp.shown) != 4 {
		t.Errorf("showed %d samples, want the 4 of the script", len(disp.shown))
	}
}

func TestRunTimesOut(t *testing.T) {
	src := &scripted{samples: []Sample{at(0, 5, 0, Workers{Desired: 1, Ready: 1}, 10, 0)}}
	s, _, err := run(t, context.Background(), src, noEnqueue, 20*time.Millisecond)
	if err != nil || s.Outcome != TimedOut || s.Unfinished != 10 {
		t.Errorf("got %+v, %v; want TimedOut with 10 unfinished and no error", s, err)
	}
}

func TestRunStopsWhenEnqueueFails(t *testing.T) {
	src := &scripted{samples: []Sample{at(0, 0, 0, Workers{}, 0, 0)}}
	_, _, err := run(t, context.Background(), src, func(context.Context) error {
		return errors.New("OOM command not allowed")
	}, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "enqueueing the burst: OOM") {
		t.Errorf("err = %v, want the enqueue error", err)
	}
}

func TestRunFailsWhenRedisStaysDown(t *testing.T) {
	down := Sample{RedisErr: errors.New("connection refused"), Workers: Workers{Desired: 1, Ready: 1}}
	src := &scripted{samples: []Sample{at(0, 0, 0, Workers{Desired: 1, Ready: 1}, 0, 0), down}}
	_, _, err := run(t, context.Background(), src, noEnqueue, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "redis unreadable") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want redis unreadable: connection refused", err)
	}
}

func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &scripted{samples: []Sample{at(0, 5, 0, Workers{Desired: 1, Ready: 1}, 10, 0)}}
	// The enqueue blocks until the run ends, and the run must wait for it.
	stopped := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	s, _, err := run(t, ctx, src, func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return ctx.Err()
	}, time.Minute)
	if err != nil || s.Outcome != Interrupted {
		t.Errorf("got %+v, %v; want Interrupted and no error", s, err)
	}
	select {
	case <-stopped:
	default:
		t.Error("Execute returned before the enqueue stopped")
	}
}
