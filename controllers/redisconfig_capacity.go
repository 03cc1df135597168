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
	"context"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// Capacity thresholds.
const (
	// memoryWarnPercent of maxmemory in use makes CapacityOK False: with
	// noeviction a full Redis refuses every enqueue.
	memoryWarnPercent = 90
	// memoryClearPercent: once memory made CapacityOK False, it turns
	// True again only below this, so memory hovering around
	// memoryWarnPercent does not flip it (and warn) at every reading.
	memoryClearPercent = 85
	// memoryWatchPercent of maxmemory in use makes the operator read the
	// server every MemoryRecheckInterval instead of at the recheck.
	memoryWatchPercent = 80
	// DefaultMemoryRecheckInterval is the MemoryRecheckInterval unless
	// set.
	DefaultMemoryRecheckInterval = 30 * time.Second
	// operatorConnections are the operator's own: its queue reader and
	// the one connection that applies the configuration.
	operatorConnections = queue.MaxConnections + 1
)

// clientDemand is what the QueueWorkers that use a RedisConfig may ask of
// its server.
type clientDemand struct {
	queueWorkers int32
	worstCase    int64
}

// reconcileClients sums the connections the QueueWorkers that name the
// RedisConfig in redis.configRef may open, for the capacity in status.
func (r *RedisConfigReconciler) reconcileClients(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	list := &queueworkerv1alpha1.QueueWorkerList{}
	if err := r.Client.List(ctx, list, client.InNamespace(st.rc.Namespace),
		client.MatchingFields{configRefIndex: st.rc.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the QueueWorkers that use the RedisConfig: %w", err)
	}
	d := &clientDemand{worstCase: operatorConnections}
	for i := range list.Items {
		qw := &list.Items[i]
		if !qw.DeletionTimestamp.IsZero() {
			continue
		}
		d.queueWorkers++
		d.worstCase += resources.MostWorkerPods(&qw.Spec) * resources.WorkerConnections(&qw.Spec)
	}
	st.demand = d
	return ctrl.Result{}, nil
}

// judgeCapacity sets status.capacity and CapacityOK from the demand and
// the server's last reading. While the server cannot be reached the
// limits stay as last read; a server that answers but refuses INFO, like
// one never read, leaves them unset and CapacityOK Unknown.
func (r *RedisConfigReconciler) judgeCapacity(st *redisConfigState) {
	rc := st.rc
	if st.demand == nil {
		return
	}
	c := rc.Status.Capacity
	if c == nil {
		c = &queueworkerv1alpha1.RedisCapacity{}
	} else {
		c = c.DeepCopy()
	}
	c.QueueWorkers, c.WorstCaseClients = st.demand.queueWorkers, st.demand.worstCase
	switch {
	case st.usage != nil:
		readCapacity(c, st.usage, st.values)
	case st.applied:
		// The server answered but would not tell (INFO refused): what
		// was read before, maybe of another server, is not its reading.
		c.MaxClients, c.ConnectedClients, c.ReadAt = nil, nil, nil
		c.UsedMemoryBytes, c.MaxMemoryBytes, c.UsedMemoryPercent = nil, nil, nil
	}
	rc.Status.Capacity = c
	prev := meta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionCapacityOK)
	memoryWarned := prev != nil && prev.Status == metav1.ConditionFalse && strings.Contains(prev.Message, memoryWarning)
	status, reason, msg := capacityVerdict(c, memoryWarned)
	if r.setCondition(rc, queueworkerv1alpha1.ConditionCapacityOK, status, reason, msg) && status == metav1.ConditionFalse {
		st.events.Eventf(rc, nil, "Warning", reason, "Capacity", "%s", msg)
	}
}

// readCapacity copies a reading of the servers into c: the fullest node's
// memory and clients, and the smallest maxclients.
func readCapacity(c *queueworkerv1alpha1.RedisCapacity, u *usageReading, values []redisadmin.Value) {
	maxClients := map[string]int64{}
	for _, v := range values {
		if v.Key == "maxclients" {
			if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
				maxClients[v.Node] = n
			}
		}
	}
	var (
		fullest           *redisadmin.Usage
		fullestPct        int64 = -1
		connected, lowest int64
	)
	for i := range u.nodes {
		n := &u.nodes[i]
		pct := usedPercent(n.UsedMemory, n.MaxMemory)
		if fullest == nil || pct > fullestPct || (pct == fullestPct && n.UsedMemory > fullest.UsedMemory) {
			fullest, fullestPct = n, pct
		}
		connected = max(connected, n.ConnectedClients)
		m := n.MaxClients
		if v, ok := maxClients[n.Node]; ok {
			m = v
		}
		if m > 0 && (lowest == 0 || m < lowest) {
			lowest = m
		}
	}
	// Whole seconds, as the API server stores it: a finer time would
	// differ from the stored status on every reconcile and write it again.
	readAt := metav1.NewTime(u.at.UTC().Truncate(time.Second))
	c.ReadAt = &readAt
	c.ConnectedClients = &connected
	c.MaxClients = nil
	if lowest > 0 {
		c.MaxClients = &lowest
	}
	c.UsedMemoryBytes, c.MaxMemoryBytes, c.UsedMemoryPercent = nil, nil, nil
	if fullest != nil {
		used, limit := fullest.UsedMemory, fullest.MaxMemory
		c.UsedMemoryBytes, c.MaxMemoryBytes = &used, &limit
		if limit > 0 {
			pct := int32(fullestPct)
			c.UsedMemoryPercent = &pct
		}
	}
}

// memoryWarning ends CapacityOK's message while memory keeps it False.
const memoryWarning = "at the limit a noeviction server refuses every enqueue"

// capacityVerdict is CapacityOK for a capacity: False when the worst case
// of clients exceeds maxclients or memory passed memoryWarnPercent of
// maxmemory (both named when both), Unknown before the server was read.
// memoryWarned says memory made it False last time: then memory keeps it
// False down to memoryClearPercent.
func capacityVerdict(c *queueworkerv1alpha1.RedisCapacity, memoryWarned bool) (metav1.ConditionStatus, string, string) {
	if c.MaxClients == nil && c.UsedMemoryBytes == nil {
		return metav1.ConditionUnknown, queueworkerv1alpha1.ReasonCapacityUnknown,
			fmt.Sprintf("the server's limits have not been read yet; %d QueueWorkers may open %d connections",
				c.QueueWorkers, c.WorstCaseClients)
	}
	var reason, msg string
	if c.MaxClients != nil && c.WorstCaseClients > *c.MaxClients {
		reason = queueworkerv1alpha1.ReasonTooManyClients
		msg = fmt.Sprintf("%d QueueWorkers at their most pods may open %d connections with the operator's, "+
			"more than maxclients %d: lower autoscaling.maxReplicas or redis.pool.size, or raise spec.network.maxClients",
			c.QueueWorkers, c.WorstCaseClients, *c.MaxClients)
	}
	warnAt := int32(memoryWarnPercent)
	if memoryWarned {
		warnAt = memoryClearPercent
	}
	if p := c.UsedMemoryPercent; p != nil && *p >= warnAt {
		m := fmt.Sprintf("memory in use is %d%% of maxmemory (%d of %d bytes): %s",
			*p, *c.UsedMemoryBytes, *c.MaxMemoryBytes, memoryWarning)
		if reason == "" {
			reason, msg = queueworkerv1alpha1.ReasonMemoryNearLimit, m
		} else {
			msg += "; " + m
		}
	}
	if reason != "" {
		return metav1.ConditionFalse, reason, msg
	}
	msg = fmt.Sprintf("%d QueueWorkers may open %d connections with the operator's", c.QueueWorkers, c.WorstCaseClients)
	if c.MaxClients != nil {
		msg += fmt.Sprintf(", within maxclients %d", *c.MaxClients)
	}
	if p := c.UsedMemoryPercent; p != nil {
		msg += fmt.Sprintf("; memory in use is %d%% of maxmemory", *p)
	}
	return metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits, msg
}

// usedPercent is used in whole percent of limit, 0 without a limit. It
// does not overflow: a server far past its limit (a maxmemory of 1 byte)
// or a reply near the int64 limit reads as math.MaxInt32 at most.
func usedPercent(used, limit int64) int64 {
	if limit <= 0 || used <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(used), 100)
	if hi >= uint64(limit) {
		return math.MaxInt32
	}
	q, _ := bits.Div64(hi, lo, uint64(limit))
	return int64(min(q, math.MaxInt32))
}

// usageReading is one reading of the servers' memory and clients.
type usageReading struct {
	nodes []redisadmin.Usage
	at    time.Time
}

// nearFull is true when a node's memory passed memoryWatchPercent.
func (u *usageReading) nearFull() bool {
	if u == nil {
		return false
	}
	for _, n := range u.nodes {
		if usedPercent(n.UsedMemory, n.MaxMemory) >= memoryWatchPercent {
			return true
		}
	}
	return false
}

// redisConfigOfQueueWorker maps a QueueWorker to the RedisConfig it names,
// so that a change of its replicas or pool reaches the capacity at once.
// An update whose configRef changed is mapped from both objects.
func redisConfigOfQueueWorker(_ context.Context, o client.Object) []reconcile.Request {
	qw, ok := o.(*queueworkerv1alpha1.QueueWorker)
	if !ok || qw.Spec.Redis.ConfigRef == nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: qw.Namespace, Name: qw.Spec.Redis.ConfigRef.Name}}}
}

// configRefIndexes remembers the field indexers that index QueueWorkers by
// configRef: both controllers need the index, and an informer takes it once.
var configRefIndexes sync.Map

// indexConfigRef indexes QueueWorkers by the RedisConfig they use, once
// per manager.
func indexConfigRef(mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	if _, done := configRefIndexes.LoadOrStore(indexer, true); done {
		return nil
	}
	err := indexer.IndexField(context.Background(), &queueworkerv1alpha1.QueueWorker{}, configRefIndex,
		func(o client.Object) []string {
			if ref := o.(*queueworkerv1alpha1.QueueWorker).Spec.Redis.ConfigRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		})
	if err != nil {
		configRefIndexes.Delete(indexer)
		return fmt.Errorf("indexing QueueWorkers by RedisConfig: %w", err)
	}
	return nil
}

func (r *RedisConfigReconciler) memoryRecheckInterval() time.Duration {
	if r.MemoryRecheckInterval > 0 {
		return r.MemoryRecheckInterval
	}
	return DefaultMemoryRecheckInterval
}
