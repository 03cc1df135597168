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

package demoview

import "time"

// Workers is the replica state of the QueueWorker at one instant.
type Workers struct {
	// Desired is the QueueWorker's status.desiredReplicas: what the
	// autoscaler asks for.
	Desired int32
	// Replicas is the Deployment's status.replicas: pods that exist.
	Replicas int32
	// Ready is the Deployment's status.readyReplicas.
	Ready int32
}

// Sample is everything the view shows at one instant.
type Sample struct {
	// At is when the sample was taken.
	At time.Time
	// Queues are the queues of the burst; nil when RedisErr is set.
	Queues []QueueSample
	// RedisErr is why Queues and Ledger could not be read.
	RedisErr error
	// Workers is zero when KubeErr is set.
	Workers Workers
	// KubeErr is why Workers could not be read.
	KubeErr error
	// Enqueued counts the tasks of the burst enqueued so far.
	Enqueued int
	// Ledger is how many tasks of the burst completed.
	Ledger LedgerCount
}

// Pending sums the pending tasks of the queues.
func (s Sample) Pending() int64 {
	var n int64
	for _, q := range s.Queues {
		n += q.Pending
	}
	return n
}

// Active sums the active tasks of the queues.
func (s Sample) Active() int64 {
	var n int64
	for _, q := range s.Queues {
		n += q.Active
	}
	return n
}

// Retry sums the tasks waiting for a retry.
func (s Sample) Retry() int64 {
	var n int64
	for _, q := range s.Queues {
		n += q.Retry
	}
	return n
}

// Backlog is what is still to run: pending, active and retry tasks. The
// operator's backlog adds the scheduled tasks and, like them, counts only
// the retry tasks due within a few seconds, and leaves paused queues out:
// it is what needs a worker now. A burst schedules nothing, and it is not
// over while a retry waits, however late it is due.
func (s Sample) Backlog() int64 { return s.Pending() + s.Active() + s.Retry() }

// Latency is the age of the oldest pending task over the queues. known is
// false when tasks are pending but no queue knows the age of its oldest.
func (s Sample) Latency() (d time.Duration, known bool) {
	known = s.Pending() == 0
	for _, q := range s.Queues {
		if q.Pending > 0 && q.LatencyKnown {
			d, known = max(d, q.Latency), true
		}
	}
	return d, known
}
