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

package autoscale

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// A fuzzed run is a spec and a script of polls. Each poll takes tickBytes
// bytes: seconds since the last poll, the queue counts, the age of the oldest
// task, flags and one auxiliary value. Running the script decision after
// decision, with each State fed back, keeps the State one Decide could have
// produced, which is the State the invariants are promised for.
const tickBytes = 8

// Flags of a poll.
const (
	flagErr      = 1 << iota // Redis could not be read
	flagPaused               // the second queue is paused
	flagNotApply             // the controller failed to apply the decision
	flagReady                // ReadyReplicas is known: aux % (current+2)
	flagBig                  // pending is multiplied by 1000
	flagMeddle               // someone else sets the count to aux % (max+3)
	flagRestart              // the operator restarts and loses the State
)

func tick(dt, pending, active, scheduled, retry, ageSeconds, flags, aux byte) []byte {
	return []byte{dt, pending, active, scheduled, retry, ageSeconds, flags, aux}
}

func script(ticks ...[]byte) []byte { return slices.Concat(ticks...) }

// fuzzSpec builds a spec the API server would accept, except that the
// fallback may exceed max to exercise its clamp. 255 leaves a field unset.
func fuzzSpec(minR, maxR, target, activation, latency, upWindow, downWindow, upStep, downStep, delay uint8,
	fallback int16, threshold uint8) v1.Autoscaling {
	spec := v1.Autoscaling{MaxReplicas: 1 + int32(maxR%40)}
	if minR != 255 {
		spec.MinReplicas = new(int32(minR) % (spec.MaxReplicas + 1))
	}
	if target > 0 {
		spec.TargetBacklogPerReplica = new(int32(target))
	}
	if activation != 255 {
		spec.ActivationBacklog = new(int32(activation % 20))
	}
	if latency > 0 {
		spec.TargetLatency = dur(time.Duration(latency) * time.Second)
	}
	if delay > 0 {
		spec.ScaleToZeroDelay = dur(time.Duration(delay) * 2 * time.Second)
	}
	spec.ScaleUp = fuzzRules(upWindow, upStep)
	if r := fuzzRules(downWindow, downStep); r != nil {
		spec.ScaleDown = &v1.ScaleDownRules{ScalingRules: *r}
	}
	if fallback >= 0 || threshold > 0 {
		spec.OnRedisError = &v1.OnRedisError{FailureThreshold: int32(threshold % 8)}
		if fallback >= 0 {
			spec.OnRedisError.FallbackReplicas = new(int32(fallback) % (spec.MaxReplicas + 5))
		}
	}
	return spec
}

func fuzzRules(window, step uint8) *v1.ScalingRules {
	if window == 255 && step == 0 {
		return nil
	}
	r := &v1.ScalingRules{}
	if window != 255 {
		r.StabilizationWindow = dur(time.Duration(window) * time.Second)
	}
	if step > 0 {
		r.MaxStep = new(int32(step%8) + 1)
		if p := step / 8 % 4; p > 0 {
			r.Period = dur(time.Duration(p) * 10 * time.Second)
		}
	}
	return r
}

func fuzzObservation(b []byte) Observation {
	if b[6]&flagErr != 0 {
		return failed()
	}
	pending := int64(b[1])
	if b[6]&flagBig != 0 {
		pending *= 1000
	}
	return seen(
		QueueStats{Name: "a", Pending: pending, Active: int64(b[2]), Scheduled: int64(b[3]), Retry: int64(b[4]),
			Aggregating: int64(b[3] / 2), Orphaned: int64(b[7] % 3),
			OldestPendingAge: time.Duration(b[5]) * time.Second, OldestDueAge: time.Duration(b[4]) * 7 * time.Second},
		QueueStats{Name: "b", Pending: int64(b[1]), Active: int64(b[2] / 4), Orphaned: int64(b[5] % 2),
			Paused:           b[6]&flagPaused != 0,
			OldestPendingAge: time.Duration(b[5]) * 3 * time.Second},
	)
}

func FuzzDecide(f *testing.F) {
	f.Add(uint8(1), uint8(10), uint8(4), uint8(0), uint8(255), uint8(0), uint8(255), uint8(255), uint8(0), uint8(0),
		uint8(0), int16(-1), uint8(0),
		script(tick(1, 40, 0, 0, 0, 0, 0, 0), tick(30, 4, 2, 0, 0, 0, 0, 0), tick(200, 0, 0, 0, 0, 0, 0, 0),
			tick(200, 0, 0, 0, 0, 0, 0, 0)))
	f.Add(uint8(0), uint8(20), uint8(4), uint8(0), uint8(5), uint8(0), uint8(0), uint8(30), uint8(0), uint8(0),
		uint8(15), int16(-1), uint8(0),
		script(tick(1, 3, 0, 0, 0, 0, 0, 0), tick(1, 9, 0, 0, 0, 0, 0, 0), tick(10, 0, 0, 0, 0, 0, 0, 0),
			tick(31, 0, 0, 0, 0, 0, 0, 0), tick(5, 0, 3, 0, 0, 0, flagPaused, 0), tick(40, 0, 0, 0, 0, 0, 0, 0)))
	f.Add(uint8(2), uint8(10), uint8(4), uint8(0), uint8(255), uint8(0), uint8(255), uint8(255), uint8(0), uint8(0),
		uint8(0), int16(6), uint8(2),
		script(tick(1, 8, 0, 0, 0, 0, 0, 0), tick(1, 0, 0, 0, 0, 0, flagErr, 0), tick(1, 0, 0, 0, 0, 0, flagErr, 0),
			tick(1, 0, 0, 0, 0, 0, flagErr, 0), tick(1, 4, 0, 0, 0, 0, 0, 0)))
	f.Add(uint8(1), uint8(30), uint8(2), uint8(3), uint8(255), uint8(0), uint8(20), uint8(60), uint8(2), uint8(9),
		uint8(0), int16(-1), uint8(0),
		script(tick(1, 90, 0, 4, 4, 0, 0, 0), tick(5, 90, 0, 0, 0, 0, 0, 0), tick(16, 90, 9, 0, 0, 0, flagNotApply, 0),
			tick(20, 1, 0, 0, 0, 0, flagMeddle, 25), tick(61, 0, 0, 0, 0, 0, 0, 0), tick(15, 0, 0, 0, 0, 0, 0, 0)))
	// A long outage that falls back down through the scale-down window
	// and steps, then up again.
	f.Add(uint8(1), uint8(30), uint8(2), uint8(0), uint8(255), uint8(0), uint8(255), uint8(60), uint8(0), uint8(2),
		uint8(0), int16(3), uint8(2),
		script(tick(1, 40, 0, 0, 0, 0, 0, 0), tick(10, 0, 0, 0, 0, 0, flagErr, 0), tick(20, 0, 0, 0, 0, 0, flagErr, 0),
			tick(20, 0, 0, 0, 0, 0, flagErr, 0), tick(70, 0, 0, 0, 0, 0, flagErr, 0), tick(20, 0, 0, 0, 0, 0, flagErr, 0),
			tick(1, 0, 0, 0, 0, 0, flagMeddle, 1), tick(40, 0, 0, 0, 0, 0, flagErr, 0)))
	f.Add(uint8(1), uint8(39), uint8(8), uint8(0), uint8(255), uint8(10), uint8(255), uint8(255), uint8(0), uint8(0),
		uint8(0), int16(-1), uint8(0),
		script(tick(1, 2, 4, 0, 0, 30, flagReady, 1), tick(1, 2, 4, 0, 0, 31, flagReady, 2), tick(1, 2, 4, 0, 0, 90, flagBig, 0),
			tick(1, 2, 4, 0, 0, 90, flagRestart, 0)))

	f.Fuzz(func(t *testing.T, minR, maxR, concurrency, target, activation, latency, upWindow, downWindow, upStep, downStep,
		delay uint8, fallback int16, threshold uint8, program []byte) {
		spec := fuzzSpec(minR, maxR, target, activation, latency, upWindow, downWindow, upStep, downStep, delay, fallback, threshold)
		s := SettingsFor(spec, int32(concurrency))
		now := t0
		current := s.MinReplicas
		var st State
		for ; len(program) >= tickBytes; program = program[tickBytes:] {
			b := program[:tickBytes]
			now = now.Add(time.Duration(b[0]) * time.Second)
			if b[6]&flagRestart != 0 {
				st = State{}
			}
			in := Input{
				Now: now, Spec: spec, Concurrency: int32(concurrency), CurrentReplicas: current,
				Observation: fuzzObservation(b), State: st,
			}
			if b[6]&flagReady != 0 {
				in.ReadyReplicas = new(int32(b[7]) % (current + 2))
			}
			d := checkDecide(t, s, in)
			st = d.State
			if b[6]&flagNotApply == 0 {
				st = Applied(st, spec, now, current, d.DesiredReplicas)
				current = d.DesiredReplicas
			}
			if b[6]&flagMeddle != 0 {
				current = int32(b[7]) % (s.MaxReplicas + 3)
			}
		}
	})
}

// checkDecide decides in and checks every invariant of the decision.
func checkDecide(t *testing.T, s Settings, in Input) Decision {
	t.Helper()
	before := cloneState(in.State)
	d := Decide(in)
	if !reflect.DeepEqual(in.State, before) {
		t.Fatalf("Decide modified its input state:\n%+v\nwas\n%+v", in.State, before)
	}
	if again := Decide(in); !reflect.DeepEqual(again, d) {
		t.Fatalf("Decide is not deterministic:\n%+v\n%+v", d, again)
	}
	if d.Rule == "" || d.Reason == "" {
		t.Fatalf("decision without rule or reason: %+v", d)
	}
	if d.DesiredReplicas < 0 {
		t.Fatalf("desired %d < 0", d.DesiredReplicas)
	}
	if in.Observation.Err != nil {
		checkBlind(t, s, in, d)
	} else {
		checkSeen(t, s, in, d)
	}
	return d
}

// checkBlind: never move on an error, except towards the configured
// fallback once the failures have lasted; a downward fallback stays within
// the scale-down steps (checked by checkSteps) and never overshoots; count
// the failure; remember nothing new.
func checkBlind(t *testing.T, s Settings, in Input, d Decision) {
	t.Helper()
	failures := in.State.ConsecutiveFailures + 1
	if in.State.ConsecutiveFailures == math.MaxInt32 {
		failures = math.MaxInt32
	}
	if d.State.ConsecutiveFailures != failures {
		t.Fatalf("failures %d after %d, want %d", d.State.ConsecutiveFailures, in.State.ConsecutiveFailures, failures)
	}
	since := in.Now
	if in.State.ConsecutiveFailures > 0 && !in.State.FailingSince.IsZero() {
		since = in.State.FailingSince
	}
	if !d.State.FailingSince.Equal(since) {
		t.Fatalf("failing since %v, want %v", d.State.FailingSince, since)
	}
	if !d.RedisError {
		t.Fatal("RedisError not set")
	}
	current := in.CurrentReplicas
	fallingBack := s.FallbackReplicas != nil && failures >= s.FailureThreshold && in.Now.Sub(since) >= s.FallbackDelay()
	switch fallback := min(max(ptr.Deref(s.FallbackReplicas, 0), 0), s.MaxReplicas); {
	case !fallingBack && d.DesiredReplicas != current:
		t.Fatalf("on error before the fallback: desired %d, want %d (failures %d since %v, settings %+v)",
			d.DesiredReplicas, current, failures, since, s)
	case fallingBack && fallback >= current && d.DesiredReplicas != fallback:
		t.Fatalf("upward fallback: desired %d, want %d (current %d)", d.DesiredReplicas, fallback, current)
	case fallingBack && fallback < current && (d.DesiredReplicas < fallback || d.DesiredReplicas > current):
		t.Fatalf("downward fallback: desired %d outside [%d, %d]", d.DesiredReplicas, fallback, current)
	case fallingBack && fallback < current:
		// The scale-down window holds the highest recommendation made
		// before the outage, as long as it is in the window.
		highest := fallback
		for _, r := range in.State.Recommendations {
			if in.Now.Sub(r.Time) < s.ScaleDown.StabilizationWindow {
				highest = max(highest, r.Replicas)
			}
		}
		if floor := min(current, highest); d.DesiredReplicas < floor {
			t.Fatalf("downward fallback to %d below %d, the scale-down window's hold: %s", d.DesiredReplicas, floor, d.Reason)
		}
	}
	checkSteps(t, s, in, d)
	for _, r := range d.State.Recommendations {
		if !slices.Contains(in.State.Recommendations, r) {
			t.Fatalf("error path added recommendation %+v", r)
		}
	}
	if !d.State.LastActiveTime.Equal(in.State.LastActiveTime) || !d.State.LastErrorTime.Equal(in.Now) {
		t.Fatalf("error path times: active %v error %v", d.State.LastActiveTime, d.State.LastErrorTime)
	}
}

func checkSeen(t *testing.T, s Settings, in Input, d Decision) {
	t.Helper()
	var backlog, active, orphaned int64
	var waited time.Duration
	for _, q := range in.Observation.Queues {
		active += q.Active
		orphaned += q.Orphaned
		if !q.Paused {
			backlog += q.Pending + q.Active + q.Scheduled + q.Retry + q.Aggregating
			waited = max(waited, q.OldestPendingAge, q.OldestDueAge)
		}
	}
	current, desired := in.CurrentReplicas, d.DesiredReplicas
	if d.RedisError || d.State.ConsecutiveFailures != 0 || d.Backlog != backlog {
		t.Fatalf("successful read: error %v, failures %d, backlog %d want %d",
			d.RedisError, d.State.ConsecutiveFailures, d.Backlog, backlog)
	}
	if desired < s.MinReplicas || desired > s.MaxReplicas {
		t.Fatalf("desired %d outside [%d, %d]: %s", desired, s.MinReplicas, s.MaxReplicas, d.Reason)
	}
	if floor := ceilDiv(active, int64(s.Concurrency)); desired < current && int64(desired) < min(int64(current), floor, int64(s.MaxReplicas)) {
		t.Fatalf("desired %d takes slots from %d running tasks (current %d): %s", desired, active, current, d.Reason)
	}
	if current == 0 && s.MinReplicas == 0 {
		wake := backlog > int64(s.ActivationBacklog) || (waited > 0 && waited >= s.WakeAfter())
		if !wake && orphaned == 0 && desired != 0 {
			t.Fatalf("woke for backlog %d <= activation %d, wait %s < %s: %s",
				backlog, s.ActivationBacklog, waited, s.WakeAfter(), d.Reason)
		}
		if !wake && orphaned > 0 && desired != 1 {
			t.Fatalf("%d orphans alone woke %d, want 1: %s", orphaned, desired, d.Reason)
		}
		if wake && desired < 1 {
			t.Fatalf("did not wake for backlog %d (activation %d), wait %s (wake after %s): %s",
				backlog, s.ActivationBacklog, waited, s.WakeAfter(), d.Reason)
		}
	}
	if desired == 0 && orphaned > 0 && s.MaxReplicas > 0 {
		t.Fatalf("zero replicas with %d orphans, which only a worker's recoverer takes back: %s", orphaned, d.Reason)
	}
	if desired == 0 && current > 0 {
		quiet := d.State.LastActiveTime
		if in.State.LastErrorTime.After(quiet) {
			quiet = in.State.LastErrorTime
		}
		if idle := in.Now.Sub(quiet); idle < s.ScaleToZeroDelay {
			t.Fatalf("to zero after %s idle, delay %s: %s", idle, s.ScaleToZeroDelay, d.Reason)
		}
	}
	checkSteps(t, s, in, d)
	for _, r := range d.State.Recommendations {
		if !r.Time.Equal(in.Now) && in.Now.Sub(r.Time) >= s.historyWindow() {
			t.Fatalf("recommendation %+v outlived the window %s", r, s.historyWindow())
		}
	}
	if s.TargetLatency > 0 && (current > 0 || s.MinReplicas > 0) {
		// The latency rule only raises: without it the decision is never
		// higher. At zero targetLatency is also how long a task may wait
		// before waking the workers, which may be longer than the
		// scaleToZeroDelay that stands in without it.
		without := in
		without.Spec.TargetLatency = nil
		if w := Decide(without); w.DesiredReplicas > desired {
			t.Fatalf("latency rule lowered %d to %d: %s", w.DesiredReplicas, desired, d.Reason)
		}
	}
}

// checkSteps: the replicas changed in one direction within a period never
// exceed maxStep, unless a hard bound or waking from zero overrode it.
func checkSteps(t *testing.T, s Settings, in Input, d Decision) {
	t.Helper()
	delta := int64(d.DesiredReplicas) - int64(in.CurrentReplicas)
	used := func(period time.Duration, up bool) int64 {
		var n int64
		for _, e := range in.State.ScaleEvents {
			if in.Now.Sub(e.Time) < period && e.Delta != 0 && (e.Delta > 0) == up {
				n += max(int64(e.Delta), -int64(e.Delta))
			}
		}
		return n
	}
	switch {
	case delta > 0 && s.ScaleUp.MaxStep > 0 && d.Rule != RuleMinReplicas && d.Rule != RuleActivation &&
		d.Rule != RuleRecoverOrphans && d.Rule != RuleRedisErrorFallback:
		if u := used(s.ScaleUp.Period, true); u+delta > int64(s.ScaleUp.MaxStep) {
			t.Fatalf("up %d with %d used in %s, maxStep %d: %s", delta, u, s.ScaleUp.Period, s.ScaleUp.MaxStep, d.Reason)
		}
	case delta < 0 && s.ScaleDown.MaxStep > 0 && d.Rule != RuleMaxReplicas:
		if u := used(s.ScaleDown.Period, false); u-delta > int64(s.ScaleDown.MaxStep) {
			t.Fatalf("down %d with %d used in %s, maxStep %d: %s", -delta, u, s.ScaleDown.Period, s.ScaleDown.MaxStep, d.Reason)
		}
	}
}

func cloneState(st State) State {
	st.Recommendations = slices.Clone(st.Recommendations)
	st.ScaleEvents = slices.Clone(st.ScaleEvents)
	return st
}
