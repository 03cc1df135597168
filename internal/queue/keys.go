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

// The Redis key layout of asynq v0.26.0 (internal/base/base.go). Every key
// of a queue carries the queue name as a hash tag, "{name}", so in Redis
// Cluster all keys of one queue share a slot and different queues spread
// over the nodes.
//
// What the reader relies on, and where asynq writes it
// (internal/rdb/rdb.go unless noted):
//   - pending is a list: enqueue LPUSHes the id and sets pending_since to
//     the enqueue time in Unix nanoseconds on the task hash; dequeue
//     RPOPLPUSHes from the tail into active and HDELs pending_since. The
//     tail is therefore the oldest task.
//   - a task put back by a graceful shutdown (requeue) is RPUSHed to the
//     tail with state "pending" and no pending_since.
//   - scheduled and retry are sorted sets scored by the due time in Unix
//     seconds; the forwarder moves members with score <= now (inclusive)
//     to pending.
//   - active is a list of the ids of the tasks workers took (RPOPLPUSH from
//     pending), and lease a sorted set of the same ids scored by the
//     lease's expiry in Unix seconds: dequeue adds the id with now + 30s
//     (LeaseDuration), the heartbeater of the asynq server running the task
//     extends it to now + 30s every 5 s (ZADD XX, heartbeat.go), and every
//     script that takes a task out of active (done, retry, archive, requeue)
//     removes it from both. A task in active whose lease has expired belongs
//     to a server that stopped heartbeating: it died, or lost Redis for
//     30 s. Only the recoverer of a running asynq server takes it back
//     (recoverer.go: at the server's start and every minute, the tasks of
//     the server's queues whose lease expired at least 30 s ago go to retry,
//     or archived when out of retries).
//   - archived is a sorted set scored by the time the task died.
//   - paused exists while the queue is paused (SETNX, internal/rdb/inspect.go).
//   - the task hash is t:<id>.
//   - a task enqueued with asynq.Group waits for aggregation: its id is in
//     the sorted set g:<group> (scored by the enqueue time in Unix seconds)
//     and the group's name in the set groups (addToGroupCmd). An asynq
//     server's aggregator moves the tasks of a group that is due into an
//     aggregation set g:<group>:<set id>, drops the name from groups once
//     the group is empty (aggregationCheckCmd), and enqueues the aggregated
//     task to pending. asynq's Inspector counts as aggregating the tasks of
//     the groups listed in groups (currentStatsCmd, internal/rdb/inspect.go);
//     the reader counts the same.
//
// The keys of the servers, not of a queue, are described at serversScript.
type queueKeys struct {
	pending   string
	active    string
	lease     string
	scheduled string
	retry     string
	archived  string
	paused    string
	// groups is the set of the names of the queue's aggregation groups.
	groups string
	// taskPrefix is followed by a task id, groupPrefix by a group name.
	taskPrefix  string
	groupPrefix string
}

// pendingSinceField is the task hash field holding the enqueue time in
// Unix nanoseconds while the task is pending.
const pendingSinceField = "pending_since"

func keysFor(queue string) queueKeys {
	prefix := "asynq:{" + queue + "}:"
	return queueKeys{
		pending:     prefix + "pending",
		active:      prefix + "active",
		lease:       prefix + "lease",
		scheduled:   prefix + "scheduled",
		retry:       prefix + "retry",
		archived:    prefix + "archived",
		paused:      prefix + "paused",
		groups:      prefix + "groups",
		taskPrefix:  prefix + "t:",
		groupPrefix: prefix + "g:",
	}
}
