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
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the pooled client of one endpoint. Besides the go-redis client
// it holds the last read of every queue its users want, so that all
// QueueWorkers on one endpoint are served by one ReadStats per poll instead
// of one each.
type Client struct {
	key EndpointKey
	rdb redis.UniversalClient
	// refs is guarded by the Pool's mutex.
	refs int

	mu sync.Mutex
	// watched holds the queues of each user registered through Pool.Use.
	watched map[string][]string
	// last is the newest finished read; inflight is the read under way.
	last     *sharedRead
	inflight *sharedRead
}

func newClient(key EndpointKey, rdb redis.UniversalClient) *Client {
	return &Client{key: key, rdb: rdb, watched: map[string][]string{}}
}

// Key returns the endpoint the client talks to.
func (c *Client) Key() EndpointKey { return c.key }

// Redis returns the go-redis client, for a PING or a direct ReadStats.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Snapshot is a read of some queues at one moment.
type Snapshot struct {
	// At is the now of the read; ages in Stats are as of At.
	At time.Time
	// Stats holds one entry per queue asked for.
	Stats map[string]Stats
}

// Read returns stats of queues no older than maxAge at now. A fresh enough
// earlier read that covered the queues answers without a round trip, and so
// does a read already under way; otherwise one ReadStats fetches these
// queues together with every queue the client's users registered through
// Pool.Use, so the next user's Read within maxAge costs nothing. Reads with
// different horizons do not share, so callers should use one horizon.
//
// A failed read is kept like a successful one: every caller within maxAge
// gets its error, and Redis sees one failing attempt per poll, not one per
// QueueWorker. An error of one queue's keys is not a failed read: it comes
// back in that queue's Stats.Err, to the callers that asked for that queue.
// With maxAge 0 only a read stamped at now or later answers.
//
// ctx bounds only the wait: a read under way runs to completion for the
// other callers, within the client's dial and I/O timeouts.
func (c *Client) Read(ctx context.Context, queues []string, now time.Time, maxAge, horizon time.Duration) (Snapshot, error) {
	names, err := uniqueQueues(queues)
	if err != nil {
		return Snapshot{}, err
	}
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	c.mu.Lock()
	r := c.last
	if !r.serves(names, now, maxAge, horizon) {
		r = c.inflight
		if !r.serves(names, now, maxAge, horizon) {
			r = c.startLocked(ctx, names, now, horizon)
		}
	}
	c.mu.Unlock()

	select {
	case <-r.done:
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
	if r.err != nil {
		return Snapshot{}, r.err
	}
	out := Snapshot{At: r.at, Stats: make(map[string]Stats, len(names))}
	for _, q := range names {
		out.Stats[q] = r.stats[q]
	}
	return out, nil
}

// startLocked begins a read of names plus every watched queue. It runs
// apart from the caller so that the caller giving up does not fail the
// others waiting on it.
func (c *Client) startLocked(ctx context.Context, names []string, now time.Time, horizon time.Duration) *sharedRead {
	all := append([]string(nil), names...)
	for _, qs := range c.watched {
		all = append(all, qs...)
	}
	// Names were checked when they came in, so this only removes repeats.
	all, _ = uniqueQueues(all)
	r := &sharedRead{
		at:      now,
		horizon: horizon,
		queues:  make(map[string]struct{}, len(all)),
		done:    make(chan struct{}),
	}
	for _, q := range all {
		r.queues[q] = struct{}{}
	}
	c.inflight = r
	go func() {
		stats, err := ReadStats(context.WithoutCancel(ctx), c.rdb, all, now, horizon)
		c.mu.Lock()
		r.stats, r.err = stats, err
		if c.inflight == r {
			c.inflight = nil
		}
		if c.last == nil || !r.at.Before(c.last.at) {
			c.last = r
		}
		c.mu.Unlock()
		close(r.done)
	}()
	return r
}

func (c *Client) watch(user string, queues []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched[user] = queues
}

func (c *Client) unwatch(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.watched, user)
}

// sharedRead is one ReadStats shared by every Read it serves. stats and err
// are set before done closes and never change after.
type sharedRead struct {
	at      time.Time
	horizon time.Duration
	queues  map[string]struct{}
	done    chan struct{}
	stats   map[string]Stats
	err     error
}

// serves reports whether r answers a Read of names at now within maxAge.
// A read stamped after now (another caller's clock ran ahead) is fresh.
func (r *sharedRead) serves(names []string, now time.Time, maxAge, horizon time.Duration) bool {
	if r == nil || r.horizon != horizon || now.Sub(r.at) > maxAge {
		return false
	}
	for _, q := range names {
		if _, ok := r.queues[q]; !ok {
			return false
		}
	}
	return true
}
