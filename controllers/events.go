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

package controllers

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// maxEventNote is the longest note the API server accepts in an event
// (events.k8s.io/v1); a longer one is refused and the event lost.
const maxEventNote = 1024

// noteLimit shortens event notes to what the API server accepts: a read
// error of many queues, or a long stall message, still makes its event.
// Conditions keep the whole text.
type noteLimit struct{ events.EventRecorder }

// limitNotes wraps r, once.
func limitNotes(r events.EventRecorder) events.EventRecorder {
	if _, ok := r.(noteLimit); ok || r == nil {
		return r
	}
	return noteLimit{r}
}

// Eventf records the event with its note cut to maxEventNote bytes.
func (n noteLimit) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	n.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", shortNote(fmt.Sprintf(note, args...)))
}

// shortNote cuts s to maxEventNote bytes at a character boundary, marking
// the cut.
func shortNote(s string) string {
	if len(s) <= maxEventNote {
		return s
	}
	const mark = " [...]"
	cut := maxEventNote - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// eventBuffer holds the events of one reconcile until its status is
// written: they tell of the transitions that status records, so they go
// out only once it is (flush), and not at all when the reconcile ends in
// an error to retry, which finds the same transitions again. A status
// patch that fails would otherwise repeat them on every retry.
type eventBuffer struct {
	events []bufferedEvent
}

// bufferedEvent is one call of Eventf, its note formatted.
type bufferedEvent struct {
	regarding, related              runtime.Object
	eventtype, reason, action, note string
}

// Eventf keeps the event until flush.
func (b *eventBuffer) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	b.events = append(b.events, bufferedEvent{regarding: regarding, related: related, eventtype: eventtype,
		reason: reason, action: action, note: fmt.Sprintf(note, args...)})
}

// flush emits the events kept, in order, to rec.
func (b *eventBuffer) flush(rec events.EventRecorder) {
	for _, e := range b.events {
		rec.Eventf(e.regarding, e.related, e.eventtype, e.reason, e.action, "%s", e.note)
	}
	b.events = nil
}
