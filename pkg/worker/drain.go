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

// maxDrainValue bounds how much of the drain key's value a worker reads
// and logs. The value is an RFC 3339 time, 20 bytes, and is only ever
// logged; whoever may write the key must not be able to make every worker
// read and log megabytes every second.
const maxDrainValue = 64

// readDrainKey returns whether the drain key is present and, for the log,
// at most maxDrainValue bytes of its value ("…" marks a cut). EXISTS
// answers presence, since a drain may have an empty value, and GETRANGE
// reads the bounded prefix; both go in one round trip. A key of another
// type fails the read (WRONGTYPE from GETRANGE).
//
// go-redis bounds the read by the client's dial, read and write timeouts,
// not by ctx's deadline (ContextTimeoutEnabled is off, see ping), so a
// slow Redis can hold a read for up to QUEUEWORKER_REDIS_READ_TIMEOUT.
// watchDrain waits for each read before the next, so reads never pile up;
// a slow one only delays the next.
func (w *Worker) readDrainKey(ctx context.Context) (value string, present bool, err error) {
	var exists *redis.IntCmd
	var prefix *redis.StringCmd
	if _, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, w.drainKey)
		// One byte more than kept tells whether the value was cut.
		prefix = p.GetRange(ctx, w.drainKey, 0, maxDrainValue)
		return nil
	}); err != nil {
		return "", false, err
	}
	if exists.Val() == 0 {
		return "", false, nil
	}
	value = prefix.Val()
	if len(value) > maxDrainValue {
		value = strings.ToValidUTF8(value[:maxDrainValue], "") + "…"
	}
	return value, true, nil
}

// watchDrain reads the drain key at once, then every drainPollInterval
// until ctx ends, and moves the task servers to the state it asks for.
// No server starts before the first read succeeds. A failed read keeps
// the state as it is: neither an outage nor a refused read is a request
// to drain or to resume. A refused read (NOPERM) is the one answer that
// does not heal by itself: before any state is set it starts the worker
// active, one that cannot be drained, as without the drain key.
func (w *Worker) watchDrain(ctx context.Context) {
	tick := time.NewTicker(drainPollInterval)
	defer tick.Stop()
	warned, waiting := false, false
	for {
		value, present, err := w.readDrainKey(ctx)
		switch {
		case err == nil:
			w.drainReadErr.Store(nil)
			w.servers.apply(present, value)
		case ctx.Err() != nil:
			return
		default:
			msg := err.Error()
			w.drainReadErr.Store(&msg)
			refused := strings.HasPrefix(msg, "NOPERM")
			// Say once, above debug, that drains cannot reach this worker.
			if refused && !warned {
				warned = true
				w.log.Warn("the Redis user may not read the drain key, so this worker cannot be drained; grant %R~"+
					contract.DrainKeyPrefix+"*", "key", w.drainKey, "error", err)
			}
			switch {
			case refused && !w.servers.hasStarted():
				w.servers.apply(false, "")
			case !w.servers.hasStarted() && !waiting:
				waiting = true
				w.log.Warn("cannot read the drain key; taking no tasks until it can be read", "key", w.drainKey, "error", err)
			default:
				w.log.Debug("reading the drain key failed; keeping the current state", "key", w.drainKey, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
