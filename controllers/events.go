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
