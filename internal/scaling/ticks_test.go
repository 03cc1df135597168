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

package scaling

import (
	"testing"
	"time"
	"unsafe"

	"k8s.io/apimachinery/pkg/types"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// TestTicksRideAlongOnce: two QueueWorkers on one endpoint, polled every
// 1s and every 700ms. When the 700ms target's tick falls within alignSlack
// after the 1s target's, it rides along with that read, and its next poll
// is its following tick, not the tick it was read early for: no read comes
// less than an interval after the one before.
func TestTicksRideAlongOnce(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	// Start on a whole second.
	clock.Add(clock.Now().Truncate(time.Second).Add(time.Second).Sub(clock.Now()))
	slow := types.NamespacedName{Namespace: "ride", Name: "one-second"}
	fast := types.NamespacedName{Namespace: "ride", Name: "seven-hundred"}
	update(t, a, slow, testTarget(slow, srv.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}, 1, "s"))
	update(t, a, fast, testTarget(fast, srv.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(700 * time.Millisecond)}, 1, "f"))
	var reads []time.Time
	last := time.Time{}
	start := clock.Now()
	for clock.Now().Sub(start) < 7*time.Second {
		a.mu.Lock()
		pollers := make([]*poller, 0, len(a.pollers))
		for _, p := range a.pollers {
			pollers = append(pollers, p)
		}
		var key = a.targets[fast].key
		a.mu.Unlock()
		next := a.pollOnce(t.Context(), key, pollers[0])
		for {
			select {
			case <-a.events:
				continue
			default:
			}
			break
		}
		if r := latest(a, fast); r != nil && !r.At.Equal(last) {
			last = r.At
			reads = append(reads, r.At)
		}
		if next.After(clock.Now()) {
			clock.Add(next.Sub(clock.Now()))
		}
	}
	// reads[0] is the read at registration, which may come any time
	// before the first tick by design; from then on reads are on ticks.
	for i := 2; i < len(reads); i++ {
		if gap := reads[i].Sub(reads[i-1]); gap < 700*time.Millisecond-alignSlack {
			t.Errorf("the 700ms target was read at %v and again %v later", reads[i-1].Sub(start), gap)
		}
	}
	t.Logf("%d reads of the 700ms target in 7s", len(reads))
}

// wallShift returns t with its wall clock reading moved by d and its
// monotonic reading unchanged: what time.Now returns after the system
// clock is stepped by d (NTP, a VM resumed, an admin's date -s).
func wallShift(t time.Time, d time.Duration) time.Time {
	type timeLayout struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	const hasMonotonic = 1 << 63
	p := (*timeLayout)(unsafe.Pointer(&t))
	if p.wall&hasMonotonic == 0 {
		panic("no monotonic reading")
	}
	// wall: 1 flag bit, 33 bits of seconds since 1885, 30 bits of ns.
	secs := int64(p.wall<<1>>31) + int64(d/time.Second)
	p.wall = p.wall&(1<<63|(1<<30-1)) | uint64(secs)<<30
	return t
}

// TestTicksSurviveAWallClockStep: the next poll keeps the monotonic clock
// reading of the read: runPoller's timer.Reset(time.Until(next)) and
// pollOnce's due check compare monotonic times, so a system clock stepped
// back an hour right after a read delays the next poll by nothing.
func TestTicksSurviveAWallClockStep(t *testing.T) {
	srv := startRedis(t)
	a, _ := manualAutoscaler(t)
	var readAt time.Time
	a.now = func() time.Time { return readAt }
	readAt = time.Now()
	name := types.NamespacedName{Namespace: "clock", Name: "step"}
	update(t, a, name, testTarget(name, srv.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}, 1, "q"))
	a.mu.Lock()
	key := a.targets[name].key
	p := a.pollers[key]
	a.mu.Unlock()
	next := a.pollOnce(t.Context(), key, p)
	// One interval later on the monotonic clock, with the wall clock
	// stepped back an hour meanwhile.
	later := wallShift(readAt.Add(time.Second), -time.Hour)
	if got := later.Sub(readAt); got != time.Second {
		t.Fatalf("wallShift broke the monotonic reading: %v", got)
	}
	if wait := next.Sub(later); wait > time.Second {
		t.Errorf("one interval after a read, with the clock stepped back 1h, the poller waits %v more for the next poll (next %v)", wait, next)
	}
}

// TestTicksRegistrationJustBeforeATick: QueueWorkers polled every second
// share their tick. A new QueueWorker on the same endpoint registered 50ms
// before the tick is read at once, and every target due within alignSlack
// rides along; none of them is read again at that tick.
func TestTicksRegistrationJustBeforeATick(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	clock.Add(clock.Now().Truncate(time.Second).Add(time.Second).Sub(clock.Now()))
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}
	old := types.NamespacedName{Namespace: "nudge", Name: "old"}
	update(t, a, old, testTarget(old, srv.Addr, as, 1, "old"))
	pollAll(t, a) // first read, on the tick
	clock.Add(950 * time.Millisecond)
	late := types.NamespacedName{Namespace: "nudge", Name: "late"}
	update(t, a, late, testTarget(late, srv.Addr, as, 1, "late"))
	pollAll(t, a) // the new target's first read, 50ms before the tick
	first := latest(a, old).At
	clock.Add(50 * time.Millisecond)
	pollAll(t, a) // the tick
	second := latest(a, old).At
	if !first.Equal(second) {
		t.Errorf("the 1s target was read at %v and again %v later", first.Format("15:04:05.000"), second.Sub(first))
	}
}

// TestTicksBesideAFastTarget: one QueueWorker polled every 100ms (the
// CRD's minimum) on an endpoint where others poll every second. The 1s
// targets ride along with the fast one's read just before each whole
// second, and are not read again at that second: once a second, as their
// interval says.
func TestTicksBesideAFastTarget(t *testing.T) {
	srv := startRedis(t)
	a, clock := manualAutoscaler(t)
	clock.Add(clock.Now().Truncate(time.Second).Add(time.Second).Sub(clock.Now()))
	slow := types.NamespacedName{Namespace: "fast", Name: "one-second"}
	fast := types.NamespacedName{Namespace: "fast", Name: "hundred-ms"}
	update(t, a, slow, testTarget(slow, srv.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(time.Second)}, 1, "s"))
	update(t, a, fast, testTarget(fast, srv.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 5, PollInterval: dur(100 * time.Millisecond)}, 1, "f"))
	a.mu.Lock()
	key := a.targets[slow].key
	p := a.pollers[key]
	a.mu.Unlock()
	start := clock.Now()
	reads := 0
	last := time.Time{}
	for clock.Now().Sub(start) < 5*time.Second {
		next := a.pollOnce(t.Context(), key, p)
	drain:
		for {
			select {
			case <-a.events:
			default:
				break drain
			}
		}
		if r := latest(a, slow); r != nil && !r.At.Equal(last) {
			last = r.At
			reads++
		}
		if next.After(clock.Now()) {
			clock.Add(next.Sub(clock.Now()))
		}
	}
	if reads > 6 {
		t.Errorf("the 1s target was read %d times in 5s", reads)
	}
}
