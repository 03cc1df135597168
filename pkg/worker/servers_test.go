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
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// fakeServers records what the state machine does to its asynq servers,
// which are numbered from 1 in the order they are built.
type fakeServers struct {
	mu     sync.Mutex
	events []string
	built  []*taskServer
	// holdShutdown, when set, makes Shutdown wait until it is closed.
	holdShutdown chan struct{}
}

type fakeServer struct {
	f *fakeServers
	n int
}

func (s fakeServer) record(what string) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.events = append(s.f.events, fmt.Sprintf("%s %d", what, s.n))
}

func (s fakeServer) Start(asynq.Handler) error { s.record("start"); return nil }
func (s fakeServer) Stop()                     { s.record("stop") }
func (s fakeServer) Shutdown() {
	s.record("shutdown")
	if s.f.holdShutdown != nil {
		<-s.f.holdShutdown
	}
}

// machine is a state machine on fake servers.
type machine struct {
	*taskServers
	fake  *fakeServers
	gauge prometheus.Gauge
}

func newMachine() *machine {
	f := &fakeServers{}
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "draining"})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	newServer := func() *taskServer {
		f.mu.Lock()
		defer f.mu.Unlock()
		s := newTaskServer(nil, func(func(context.Context) bool) asynq.Handler {
			return asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
		})
		s.srv = fakeServer{f: f, n: len(f.built) + 1}
		f.built = append(f.built, s)
		return s
	}
	return &machine{taskServers: newTaskServers(log, newServer, gauge), fake: f, gauge: gauge}
}

// server returns the n-th server built, from 1.
func (m *machine) server(t *testing.T, n int) *taskServer {
	t.Helper()
	m.fake.mu.Lock()
	defer m.fake.mu.Unlock()
	if n > len(m.fake.built) {
		t.Fatalf("server %d was never built; %d were", n, len(m.fake.built))
	}
	return m.fake.built[n-1]
}

func (m *machine) eventLog() []string {
	m.fake.mu.Lock()
	defer m.fake.mu.Unlock()
	return slices.Clone(m.fake.events)
}

// expect waits until the events since the last expect are want, in order;
// retirements happen in the background.
func (m *machine) expect(t *testing.T, seen *int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := m.eventLog()[*seen:]
		if slices.Equal(got, want) {
			*seen += len(want)
			return
		}
		if len(got) > len(want) || time.Now().After(deadline) {
			t.Fatalf("events = %q, want %q", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// quiet checks that nothing happens for a while: a retiring server must
// not be shut down while its task runs. It can only miss a defect, never
// report one that is not there.
func (m *machine) quiet(t *testing.T, seen int) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	if got := m.eventLog()[seen:]; len(got) > 0 {
		t.Fatalf("unexpected events %q", got)
	}
}

func (m *machine) checkState(t *testing.T, draining bool, current int, live ...int) {
	t.Helper()
	// A retirement records its server's shutdown before it takes the
	// server out of live: after expect saw "shutdown N", live catches up.
	for deadline := time.Now().Add(waitFor); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m.mu.Lock()
		settled := slices.Equal(m.liveNumbers(), live)
		m.mu.Unlock()
		if settled {
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draining != draining {
		t.Errorf("draining = %v, want %v", m.draining, draining)
	}
	var want float64
	if draining {
		want = 1
	}
	var g dto.Metric
	if err := m.gauge.Write(&g); err != nil || g.GetGauge().GetValue() != want {
		t.Errorf("draining gauge = %v (err %v), want %v", g.GetGauge().GetValue(), err, want)
	}
	cur := 0
	for i, s := range m.fake.built {
		if s == m.current {
			cur = i + 1
		}
	}
	if cur != current {
		t.Errorf("current server = %d, want %d (0: none)", cur, current)
	}
	if gotLive := m.liveNumbers(); !slices.Equal(gotLive, live) {
		t.Errorf("live servers = %v, want %v", gotLive, live)
	}
}

// liveNumbers returns the numbers (from 1, in the order they were built)
// of the servers not yet shut down. Callers hold mu.
func (m *machine) liveNumbers() []int {
	var nums []int
	for i, s := range m.fake.built {
		if slices.Contains(m.live, s) {
			nums = append(nums, i+1)
		}
	}
	return nums
}

// TestTaskServersStateMachine drives the drain state machine through the
// orders of drains, cancels, task ends and shutdowns that the operator and
// the tasks can produce, on fake asynq servers.
func TestTaskServersStateMachine(t *testing.T) {
	const drain, cancel = true, false
	tests := []struct {
		name string
		run  func(t *testing.T, m *machine)
	}{
		{
			name: "drain and cancel while idle",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1")
				m.checkState(t, false, 1, 1)
				m.apply(drain, "2026-01-01T00:00:00Z")
				m.expect(t, &seen, "stop 1")
				m.checkState(t, true, 1, 1)
				m.apply(cancel, "")
				m.expect(t, &seen, "start 2", "shutdown 1")
				m.checkState(t, false, 2, 2)
			},
		},
		{
			name: "reading the same state again changes nothing",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1")
				m.apply(drain, "")
				m.apply(drain, "")
				m.expect(t, &seen, "stop 1")
				m.apply(cancel, "")
				m.apply(cancel, "")
				m.expect(t, &seen, "start 2", "shutdown 1")
				m.quiet(t, seen)
				m.checkState(t, false, 2, 2)
			},
		},
		{
			name: "a cancel retires the stopped server only after its task",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1", "stop 1", "start 2")
				m.quiet(t, seen)
				m.checkState(t, false, 2, 1, 2)
				m.server(t, 1).end()
				m.expect(t, &seen, "shutdown 1")
				m.checkState(t, false, 2, 2)
			},
		},
		{
			name: "a drain while the previous server still retires",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.apply(drain, "")
				m.expect(t, &seen, "start 1", "stop 1", "start 2", "stop 2")
				m.quiet(t, seen)
				m.checkState(t, true, 2, 1, 2)
				m.server(t, 1).end()
				m.expect(t, &seen, "shutdown 1")
				m.checkState(t, true, 2, 2)
				m.apply(cancel, "")
				m.expect(t, &seen, "start 3", "shutdown 2")
				m.checkState(t, false, 3, 3)
			},
		},
		{
			name: "a cancel while the previous server still retires",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.server(t, 2).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1", "stop 1", "start 2", "stop 2", "start 3")
				m.quiet(t, seen)
				m.checkState(t, false, 3, 1, 2, 3)
				// Retiring servers end in the order their tasks do.
				m.server(t, 2).end()
				m.expect(t, &seen, "shutdown 2")
				m.server(t, 1).end()
				m.expect(t, &seen, "shutdown 1")
				m.checkState(t, false, 3, 3)
			},
		},
		{
			name: "started drained, then cancelled",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(drain, "")
				m.quiet(t, seen)
				m.checkState(t, true, 0)
				m.apply(drain, "")
				m.quiet(t, seen)
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1")
				m.checkState(t, false, 1, 1)
			},
		},
		{
			name: "nothing runs before the first read of the key",
			run: func(t *testing.T, m *machine) {
				m.quiet(t, 0)
				m.checkState(t, false, 0)
				if m.hasStarted() {
					t.Error("hasStarted before the first read")
				}
				m.shutdown()
				m.apply(cancel, "")
				if got := m.eventLog(); len(got) != 0 {
					t.Errorf("events = %q, want none", got)
				}
			},
		},
		{
			name: "shutdown when started drained",
			run: func(t *testing.T, m *machine) {
				m.apply(drain, "")
				m.shutdown()
				if got := m.eventLog(); len(got) != 0 {
					t.Errorf("events = %q, want none", got)
				}
			},
		},
		{
			name: "shutdown while active",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.shutdown()
				m.expect(t, &seen, "start 1", "shutdown 1")
			},
		},
		{
			name: "shutdown while draining and retiring ends every server, once, and then nothing",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.server(t, 2).begin()
				m.apply(drain, "")
				m.expect(t, &seen, "start 1", "stop 1", "start 2", "stop 2")
				m.shutdown()
				got := m.eventLog()[seen:]
				slices.Sort(got)
				if want := []string{"shutdown 1", "shutdown 2"}; !slices.Equal(got, want) {
					t.Fatalf("events at shutdown = %q, want %q", got, want)
				}
				seen += len(got)
				// The tasks' handlers return once asynq has requeued them.
				m.server(t, 1).end()
				m.server(t, 2).end()
				m.apply(cancel, "")
				m.apply(drain, "")
				m.quiet(t, seen)
			},
		},
		{
			name: "shutdown ends the servers at the same time",
			run: func(t *testing.T, m *machine) {
				seen := 0
				m.fake.holdShutdown = make(chan struct{})
				m.apply(cancel, "")
				m.server(t, 1).begin()
				m.apply(drain, "")
				m.apply(cancel, "")
				m.expect(t, &seen, "start 1", "stop 1", "start 2")
				done := make(chan struct{})
				go func() {
					m.shutdown()
					close(done)
				}()
				// Both Shutdowns are under way before either returns: each
				// server's tasks get ShutdownTimeout, not one after the other.
				deadline := time.Now().Add(waitFor)
				for {
					got := m.eventLog()[seen:]
					slices.Sort(got)
					if slices.Equal(got, []string{"shutdown 1", "shutdown 2"}) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("events at shutdown = %q, want both servers shutting down at once", got)
					}
					time.Sleep(time.Millisecond)
				}
				select {
				case <-done:
					t.Fatal("shutdown returned before the servers were down")
				default:
				}
				close(m.fake.holdShutdown)
				select {
				case <-done:
				case <-time.After(waitFor):
					t.Fatal("shutdown did not return after the servers were down")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newMachine())
		})
	}
}

// TestTaskSlotsBoundServersTogether checks that servers sharing slots take
// no more tasks together than there are slots, and take them again as
// tasks finish.
func TestTaskSlotsBoundServersTogether(t *testing.T) {
	slots := newTaskSlots(2)
	handler := func(func(context.Context) bool) asynq.Handler {
		return asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
	}
	old, cur := newTaskServer(slots, handler), newTaskServer(slots, handler)
	if !old.begin() || !cur.begin() {
		t.Fatal("two servers could not take a task each with two slots")
	}
	if cur.begin() || old.begin() {
		t.Fatal("a server took a third task with two slots")
	}
	old.end()
	if !cur.begin() {
		t.Fatal("the current server could not take the slot a finished task freed")
	}
	if got := old.runningTasks() + cur.runningTasks(); got != 2 {
		t.Errorf("the servers hold %d tasks, want 2", got)
	}
	select {
	case <-old.whenIdle():
	default:
		t.Error("the old server is not idle after its task finished")
	}
}
