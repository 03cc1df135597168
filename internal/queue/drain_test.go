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
	"testing"
	"time"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// TestDrains: SetDrains sets each host's key with its value and TTL in one
// round trip, again to renew; DeleteDrains deletes only the keys named.
func TestDrains(t *testing.T) {
	h := &counter{}
	rdb := newReader(t, h)
	ctx := t.Context()
	values := map[string]string{"worker-a": "2026-03-01T12:00:00Z", "worker-b": "2026-03-01T12:00:01Z"}
	h.reset()
	if err := SetDrains(ctx, rdb, values, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := h.pipelines.Load(); n != 1 {
		t.Errorf("SetDrains took %d round trips, want 1", n)
	}
	for host, want := range values {
		if got := rdb.Get(ctx, contract.DrainKey(host)).Val(); got != want {
			t.Errorf("%s: drain key %q, want %q", host, got, want)
		}
		if ttl := rdb.TTL(ctx, contract.DrainKey(host)).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("%s: TTL %v, want at most 1m", host, ttl)
		}
	}
	if err := SetDrains(ctx, rdb, map[string]string{"worker-a": values["worker-a"]}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, contract.DrainKey("worker-a")).Val(); ttl <= time.Minute {
		t.Errorf("renewed TTL %v, want above 1m", ttl)
	}
	if err := DeleteDrains(ctx, rdb, []string{"worker-a", "worker-c"}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, contract.DrainKey("worker-a"), contract.DrainKey("worker-b")).Val(); n != 1 {
		t.Errorf("%d drain keys left, want worker-b's alone", n)
	}
	if err := SetDrains(ctx, rdb, nil, time.Minute); err != nil {
		t.Error(err)
	}
	if err := DeleteDrains(ctx, rdb, nil); err != nil {
		t.Error(err)
	}
}
