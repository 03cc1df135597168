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
	"slices"
	"strings"
	"testing"
)

// TestDecodeLookup: a reply the script cannot have sent is an error, never
// an oversized value passed on.
func TestDecodeLookup(t *testing.T) {
	tests := []struct {
		name    string
		reply   any
		want    lookup
		wantErr bool
	}{
		{name: "empty queue", reply: []any{int64(0), "", "", "", "", int64(0), int64(0), int64(0)}, want: lookup{}},
		{name: "a tail with its time and scores, grouped tasks",
			reply: []any{int64(1), "id", "1760000000000000000", "1760000000", "inf", int64(7), int64(3), int64(2)},
			want: lookup{tail: tailID, id: "id", since: "1760000000000000000", firstScheduled: "1760000000", firstRetry: "inf",
				aggregating: 7, active: 3, alive: 2}},
		{name: "a tail too long", reply: []any{int64(2), "", "", "", "", int64(0), int64(0), int64(0)}, want: lookup{tail: tailTooLong}},
		{name: "not an array", reply: "x", wantErr: true},
		{name: "too short", reply: []any{int64(0), "", "", "", "", int64(0), int64(0)}, wantErr: true},
		{name: "a number where a string belongs", reply: []any{int64(0), int64(1), "", "", "", int64(0), int64(0), int64(0)}, wantErr: true},
		{name: "a string where the count belongs", reply: []any{int64(0), "", "", "", "", "7", int64(0), int64(0)}, wantErr: true},
		{name: "a negative count", reply: []any{int64(0), "", "", "", "", int64(-1), int64(0), int64(0)}, wantErr: true},
		{name: "more alive than active", reply: []any{int64(0), "", "", "", "", int64(0), int64(1), int64(2)}, wantErr: true},
		{name: "a negative alive count", reply: []any{int64(0), "", "", "", "", int64(0), int64(1), int64(-1)}, wantErr: true},
		{name: "an unknown tail", reply: []any{int64(3), "", "", "", "", int64(0), int64(0), int64(0)}, wantErr: true},
		{name: "an id over the bound", reply: []any{int64(1), strings.Repeat("i", maxTaskIDLen+1), "", "", "", int64(0), int64(0), int64(0)}, wantErr: true},
		{name: "a time over the bound", reply: []any{int64(1), "id", strings.Repeat("1", maxPendingSinceLen+1), "", "", int64(0), int64(0), int64(0)},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeLookup(tt.reply)
			if tt.wantErr {
				if !errors.Is(err, errLookupReply) {
					t.Errorf("got %+v, %v, want errLookupReply", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
	if _, _, err := parseScore("soon"); !errors.Is(err, errLookupReply) {
		t.Errorf("parseScore(soon): %v, want errLookupReply", err)
	}
}

// TestDecodeQueue: one queue's element of the script's reply: an idle
// queue, a read queue, the queue's own error reply, and replies the script
// cannot have sent.
func TestDecodeQueue(t *testing.T) {
	lookupPart := []any{int64(1), "id", "1760000000000000000", "", "", int64(0), int64(2), int64(1)}
	read := append([]any{int64(replyRead), int64(4), int64(1), int64(2), int64(3), int64(1)}, lookupPart...)
	tests := []struct {
		name    string
		reply   any
		want    queueReply
		wantErr error
	}{
		{name: "idle", reply: int64(0), want: queueReply{}},
		{name: "idle, 3 archived", reply: int64(6), want: queueReply{archived: 3}},
		{name: "idle, paused, 3 archived", reply: int64(7), want: queueReply{archived: 3, paused: true}},
		{name: "idle, negative", reply: int64(-1), wantErr: errLookupReply},
		{name: "read", reply: read, want: queueReply{pending: 4, scheduled: 1, retry: 2, archived: 3, paused: true,
			lookup: lookup{tail: tailID, id: "id", since: "1760000000000000000", active: 2, alive: 1}}},
		{name: "the queue's error", reply: []any{int64(replyError), "WRONGTYPE Operation against a key"},
			wantErr: scriptError("WRONGTYPE Operation against a key")},
		{name: "a long error is cut", reply: []any{int64(replyError), strings.Repeat("e", 1000)},
			wantErr: scriptError(strings.Repeat("e", maxScriptErrorLen))},
		{name: "neither a number nor an array", reply: "0", wantErr: errLookupReply},
		{name: "empty", reply: []any{}, wantErr: errLookupReply},
		{name: "an unknown tag", reply: []any{int64(3)}, wantErr: errLookupReply},
		{name: "an array without a tag", reply: []any{"x", int64(1)}, wantErr: errLookupReply},
		{name: "an error without its message", reply: []any{int64(replyError), int64(1)}, wantErr: errLookupReply},
		{name: "read, too short", reply: read[:13], wantErr: errLookupReply},
		{name: "a negative count", reply: append([]any{int64(replyRead), int64(-4), int64(1), int64(2), int64(3), int64(0)}, lookupPart...),
			wantErr: errLookupReply},
		{name: "paused neither 0 nor 1", reply: append([]any{int64(replyRead), int64(4), int64(1), int64(2), int64(3), int64(2)}, lookupPart...),
			wantErr: errLookupReply},
		{name: "a bad lookup part", reply: append(slices.Clone(read[:6]), "x", "", "", "", "", int64(0), int64(0), int64(0)),
			wantErr: errLookupReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeQueue(tt.reply)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got %+v, %v, want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
	// A queue's error reply is an error reply from Redis for the reader,
	// which fails that queue alone.
	if !isQueueError(scriptError("WRONGTYPE x")) {
		t.Error("a scriptError is not a queue's error")
	}
}
