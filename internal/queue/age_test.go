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

package queue

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSightingBound(t *testing.T) {
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	pending := func(tail string, age time.Duration) Stats {
		return Stats{Queue: "q", Pending: 1, Tail: tail, OldestPendingAge: age, OldestKnown: true}
	}
	unknown := func(tail string) Stats { return Stats{Queue: "q", Pending: 1, Tail: tail} }
	tests := []struct {
		name    string
		before  Sighting
		stats   Stats
		wantAge time.Duration
		// wantKnown is set when Bound makes an unknown age known.
		wantKnown bool
		want      Sighting
	}{
		{name: "never seen: the producer's age stands",
			stats: pending("t1", 10*time.Minute), wantAge: 10 * time.Minute,
			want: Sighting{Tail: "t1", TailSince: now}},
		{name: "seen empty a second ago: a producer behind is capped",
			before: Sighting{EmptyAt: at(time.Second)}, stats: pending("t1", 10*time.Minute), wantAge: time.Second,
			want: Sighting{EmptyAt: at(time.Second), Tail: "t1", TailSince: now}},
		{name: "just under the cap stands",
			before: Sighting{EmptyAt: at(time.Second)}, stats: pending("t1", time.Second-time.Nanosecond),
			wantAge: time.Second - time.Nanosecond,
			want:    Sighting{EmptyAt: at(time.Second), Tail: "t1", TailSince: now}},
		{name: "at the cap stands",
			before: Sighting{EmptyAt: at(time.Second)}, stats: pending("t1", time.Second), wantAge: time.Second,
			want: Sighting{EmptyAt: at(time.Second), Tail: "t1", TailSince: now}},
		{name: "the same tail for 30s: a producer ahead is raised",
			before: Sighting{Tail: "t1", TailSince: at(30 * time.Second)}, stats: pending("t1", 0), wantAge: 30 * time.Second,
			want: Sighting{Tail: "t1", TailSince: at(30 * time.Second)}},
		{name: "an age above the floor stands",
			before: Sighting{Tail: "t1", TailSince: at(30 * time.Second)}, stats: pending("t1", time.Minute), wantAge: time.Minute,
			want: Sighting{Tail: "t1", TailSince: at(30 * time.Second)}},
		{name: "a new tail starts its floor now",
			before: Sighting{Tail: "t1", TailSince: at(30 * time.Second)}, stats: pending("t2", 0), wantAge: 0,
			want: Sighting{Tail: "t2", TailSince: now}},
		{name: "both bounds: raised to the floor, capped by the empty read",
			before: Sighting{EmptyAt: at(time.Minute), Tail: "t1", TailSince: at(20 * time.Second)},
			stats:  pending("t1", time.Hour), wantAge: time.Minute,
			want: Sighting{EmptyAt: at(time.Minute), Tail: "t1", TailSince: at(20 * time.Second)}},
		{name: "an empty read records the time and forgets the tail",
			before: Sighting{EmptyAt: at(time.Hour), Tail: "t1", TailSince: at(time.Minute)},
			stats:  Stats{Queue: "q", OldestKnown: true}, wantAge: 0,
			want: Sighting{EmptyAt: now}},
		{name: "an unknown age takes the floor",
			before: Sighting{EmptyAt: at(time.Hour), Tail: "t1", TailSince: at(time.Minute)},
			stats:  unknown("t1"), wantAge: time.Minute, wantKnown: true,
			want: Sighting{EmptyAt: at(time.Hour), Tail: "t1", TailSince: at(time.Minute)}},
		{name: "an unknown age takes the floor, capped by the empty read",
			before: Sighting{EmptyAt: at(time.Second), Tail: "t1", TailSince: at(time.Minute)},
			stats:  unknown("t1"), wantAge: time.Second, wantKnown: true,
			want: Sighting{EmptyAt: at(time.Second), Tail: "t1", TailSince: at(time.Minute)}},
		{name: "an unknown age on the first sighting stays unknown",
			stats: unknown("t1"), wantAge: 0,
			want: Sighting{Tail: "t1", TailSince: now}},
		{name: "an unknown age of a new tail stays unknown",
			before: Sighting{Tail: "t1", TailSince: at(time.Minute)},
			stats:  unknown("t2"), wantAge: 0,
			want: Sighting{Tail: "t2", TailSince: now}},
		{name: "an unknown age without a tail id stays unknown",
			before: Sighting{Tail: "t1", TailSince: at(time.Minute)},
			stats:  unknown(""), wantAge: 0,
			want: Sighting{}},
		{name: "an unknown age under a reader clock that stepped back stays unknown",
			before: Sighting{Tail: "t1", TailSince: now.Add(time.Minute)},
			stats:  unknown("t1"), wantAge: 0,
			want: Sighting{Tail: "t1", TailSince: now.Add(time.Minute)}},
		{name: "a tail id over the bound is not kept",
			before: Sighting{EmptyAt: at(time.Minute), Tail: "t1", TailSince: at(30 * time.Second)},
			stats:  pending(strings.Repeat("i", maxTaskIDLen+1), 10*time.Second), wantAge: 10 * time.Second,
			want: Sighting{EmptyAt: at(time.Minute)}},
		{name: "a failed queue changes nothing",
			before: Sighting{EmptyAt: at(time.Second)}, stats: Stats{Queue: "q", Err: errors.New("WRONGTYPE")}, wantAge: 0,
			want: Sighting{EmptyAt: at(time.Second)}},
		{name: "a reader clock that stepped back caps at zero",
			before: Sighting{EmptyAt: now.Add(time.Minute)}, stats: pending("t1", time.Minute), wantAge: 0,
			want: Sighting{EmptyAt: now.Add(time.Minute), Tail: "t1", TailSince: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := tt.before.Bound(tt.stats, now)
			if s.OldestPendingAge != tt.wantAge {
				t.Errorf("age = %v, want %v", s.OldestPendingAge, tt.wantAge)
			}
			if !got.EmptyAt.Equal(tt.want.EmptyAt) || got.Tail != tt.want.Tail || !got.TailSince.Equal(tt.want.TailSince) {
				t.Errorf("sighting = %+v, want %+v", got, tt.want)
			}
			if len(s.Tail) > maxTaskIDLen {
				t.Errorf("Bound returned a tail id of %d bytes", len(s.Tail))
			}
			if s.OldestKnown != (tt.stats.OldestKnown || tt.wantKnown) || s.Pending != tt.stats.Pending {
				t.Errorf("Bound changed more than the age: %+v", s)
			}
		})
	}
}
