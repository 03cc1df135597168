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

import "time"

// Sighting is what a reader has seen of one queue's pending list over its
// successive reads, on its own clock. pending_since is written with the
// producer's clock: a producer ten minutes behind makes a fresh task look
// ten minutes old (and the latency rule ask for many workers), one ahead
// makes an old task look new. The reader's own sightings bound the age
// whatever the producers' clocks say, and give one to a task that has no
// pending_since at all, such as one a worker's graceful shutdown put back.
// The zero Sighting has seen nothing.
type Sighting struct {
	// EmptyAt is the last read that found no pending task: every task
	// pending now was enqueued after it. Zero until a read found the queue
	// empty.
	EmptyAt time.Time
	// Tail is the id of the task at the tail of the pending list, the
	// oldest, and TailSince the first read that found it there: it has
	// waited at least since then. An id longer than maxTaskIDLen is never
	// kept: such a tail counts as unknown.
	Tail      string
	TailSince time.Time
}

// Bound records s, read at now, and returns the new Sighting and s with
// OldestPendingAge bounded by the sightings: at most now - EmptyAt, and at
// least now - TailSince. Until the reader has seen the queue empty there is
// no upper bound and the producer's timestamp stands. An unknown age
// (OldestKnown false) with a tail the reader has seen before becomes known
// as now - TailSince, capped the same way: the task has waited at least
// that long, whatever its producer wrote or failed to write. It stays
// unknown on the first sighting of a tail, and a queue that failed to read
// changes nothing. A tail id longer than maxTaskIDLen, which ReadStats
// never returns, is dropped from s and treated as unknown.
func (g Sighting) Bound(s Stats, now time.Time) (Sighting, Stats) {
	if s.Err != nil {
		return g, s
	}
	if len(s.Tail) > maxTaskIDLen {
		s.Tail = ""
	}
	if s.Pending == 0 || s.Tail == "" {
		next := Sighting{EmptyAt: g.EmptyAt}
		if s.Pending == 0 {
			next.EmptyAt = now
		}
		return next, s
	}
	next := Sighting{EmptyAt: g.EmptyAt, Tail: s.Tail, TailSince: now}
	if s.Tail == g.Tail && !g.TailSince.IsZero() {
		next.TailSince = g.TailSince
	}
	age := now.Sub(next.TailSince)
	if s.OldestKnown {
		age = max(s.OldestPendingAge, age)
	}
	if !next.EmptyAt.IsZero() {
		age = min(age, max(now.Sub(next.EmptyAt), 0))
	}
	if !s.OldestKnown && age <= 0 {
		return next, s
	}
	s.OldestPendingAge, s.OldestKnown = age, true
	return next, s
}
