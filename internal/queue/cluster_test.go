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
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// startCluster runs a Redis Cluster of n masters without replicas, the
// 16384 slots split evenly, and returns the node addresses.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	ctx := t.Context()
	addrs := make([]string, n)
	admins := make([]*redis.Client, n)
	for i := range n {
		srv, err := redistest.Start("cluster-enabled yes", "cluster-node-timeout 5000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		addrs[i] = srv.Addr
		admins[i] = redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
		t.Cleanup(func() { _ = admins[i].Close() })
	}
	const slots = 16384
	for i, admin := range admins {
		first, last := i*slots/n, (i+1)*slots/n-1
		if err := admin.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range addrs[1:] {
		host, port, _ := strings.Cut(addr, ":")
		p, _ := strconv.Atoi(port)
		if err := admins[0].ClusterMeet(ctx, host, fmt.Sprint(p)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(waitFor)
	for _, admin := range admins {
		for {
			info, err := admin.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not form: %v %s", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// nodeCounters counts pipelines per cluster node.
type nodeCounters struct {
	mu    sync.Mutex
	nodes map[string]*counter
}

func (n *nodeCounters) hook(rdb *redis.Client) {
	h := &counter{}
	n.mu.Lock()
	n.nodes[rdb.Options().Addr] = h
	n.mu.Unlock()
	rdb.AddHook(h)
}

func (n *nodeCounters) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, h := range n.nodes {
		h.reset()
	}
}

func (n *nodeCounters) pipelines() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int64{}
	for addr, h := range n.nodes {
		out[addr] = h.pipelines.Load()
	}
	return out
}

// TestReadStatsCluster reads queues spread over three cluster nodes,
// enqueued by asynq's cluster client, and counts the round trips: one
// pipeline through the ClusterClient, split into one per node. The first
// read loads the lookup script on every node.
func TestReadStatsCluster(t *testing.T) {
	addrs := startCluster(t, 3)
	ep := resources.RedisEndpoint{Mode: contract.ModeCluster, Addrs: addrs[:1]}
	rdb, err := NewUniversalClient(ep, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	cc := rdb.(*redis.ClusterClient)
	nodes := &nodeCounters{nodes: map[string]*counter{}}
	cc.OnNewNode(nodes.hook)
	top := &counter{}
	cc.AddHook(top)

	client := asynq.NewClient(asynq.RedisClusterClientOpt{Addrs: addrs})
	t.Cleanup(func() { _ = client.Close() })
	queues := queueNames("cq", 30)
	for i, q := range queues {
		for range i%3 + 1 {
			enqueue(t, client, q, "t")
		}
		enqueue(t, client, q, "later", asynq.ProcessIn(time.Minute))
	}

	// Which node owns each queue's slot, to prove the queues are spread.
	owners := map[string]bool{}
	for _, q := range queues {
		slot, err := cc.ClusterKeySlot(t.Context(), keysFor(q).pending).Result()
		if err != nil {
			t.Fatal(err)
		}
		node := 0
		for int(slot) >= (node+1)*16384/len(addrs) {
			node++
		}
		owners[addrs[node]] = true
	}
	if len(owners) != 3 {
		t.Fatalf("queues live on %d nodes, want 3", len(owners))
	}

	// Warm up: the slot map and one connection per node.
	if _, err := readQueues(t.Context(), rdb, queues, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	top.reset()
	nodes.reset()

	reading, err := ReadStats(t.Context(), rdb, queues, time.Now(), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Each asynq server's keys have a slot of their own: no one script
	// reaches them, and the read says so rather than report none.
	if s := reading.Servers; !errors.Is(s.Err, errServersCluster) || s.List != nil {
		t.Errorf("servers in cluster mode: %+v, want errServersCluster", s)
	}
	got := reading.Queues
	for i, q := range queues {
		s := got[q]
		if s.Pending != int64(i%3+1) || s.Scheduled != 1 || !s.OldestKnown || s.OldestPendingAge <= 0 {
			t.Errorf("queue %s: %+v, want %d pending, 1 scheduled, known age", q, s, i%3+1)
		}
	}
	if p := top.pipelines.Load(); p != 1 {
		t.Errorf("ClusterClient pipelines = %d, want 1", p)
	}
	if s := top.singles.Load(); s != 0 {
		t.Errorf("ClusterClient single commands = %d, want 0", s)
	}
	perNode := nodes.pipelines()
	t.Logf("round trips per node for one tick: %v", perNode)
	busy := 0
	for addr, p := range perNode {
		if p > 1 {
			t.Errorf("node %s: %d round trips, want at most 1", addr, p)
		}
		if p > 0 {
			busy++
		}
	}
	if busy != 3 {
		t.Errorf("%d nodes were read, want 3", busy)
	}
}
