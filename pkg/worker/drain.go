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
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// drainPollInterval is how often a worker reads its drain key. A read
// takes a millisecond or two, so a drain or its cancel takes effect about
// a second after the operator writes, inside the two seconds that
// docs/worker-contract.md promises. It does not follow
// HealthCheckInterval, which is 15s by default.
const drainPollInterval = time.Second

// readDrainKey returns whether the drain key is present and its value.
// The read gets at most one poll interval, so a slow Redis delays the next
// read rather than piling reads up.
func (w *Worker) readDrainKey(ctx context.Context) (value string, present bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, drainPollInterval)
	defer cancel()
	value, err = w.rdb.Get(ctx, w.drainKey).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return value, true, nil
}

// watchDrain reads the drain key every drainPollInterval until ctx ends
// and moves the task servers to the state it asks for. A failed read
// keeps the state as it is: neither an outage nor a refused read is a
// request to drain or to resume.
func (w *Worker) watchDrain(ctx context.Context) {
	tick := time.NewTicker(drainPollInterval)
	defer tick.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		value, present, err := w.readDrainKey(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Debug("reading the drain key failed; keeping the current state", "key", w.drainKey, "error", err)
			// A refused read does not heal by itself, unlike an outage:
			// say once, above debug, that drains cannot reach this worker.
			if !warned && strings.HasPrefix(err.Error(), "NOPERM") {
				warned = true
				w.log.Warn("the Redis user may not read the drain key, so this worker cannot be drained; grant %R~"+
					contract.DrainKeyPrefix+"*", "key", w.drainKey, "error", err)
			}
			continue
		}
		w.servers.apply(present, value)
	}
}
