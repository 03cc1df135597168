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

package scaling

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Label names of per-QueueWorker and per-queue series.
var (
	objectLabels = []string{"namespace", "queueworker"}
	queueLabels  = []string{"namespace", "queueworker", "queue"}
)

// The autoscaler's metrics, served on the manager's metrics endpoint.
var (
	metricQueueBacklog = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_queue_backlog",
		Help: "Pending, active, due scheduled and retry, and aggregating tasks of a queue, as last read from Redis.",
	}, queueLabels)
	metricQueuePending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_queue_pending",
		Help: "Pending tasks of a queue.",
	}, queueLabels)
	metricQueueActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_queue_active",
		Help: "Running tasks of a queue: tasks a worker took whose lease has not expired.",
	}, queueLabels)
	metricQueueOrphaned = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_queue_orphaned",
		Help: "Tasks of a queue whose worker stopped heartbeating (lease expired or missing), waiting for asynq's recoverer.",
	}, queueLabels)
	metricQueueLatency = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_queue_latency_seconds",
		Help: "Age of the oldest pending task of a queue.",
	}, queueLabels)
	metricDesiredReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_desired_replicas",
		Help: "Replica count the autoscaler decided for a QueueWorker.",
	}, objectLabels)
	// metricMaxReplicas lets an alert tell a QueueWorker held at its ceiling
	// (desired at max while the backlog grows) from one still scaling.
	metricMaxReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_max_replicas",
		Help: "The autoscaling.maxReplicas of a QueueWorker when the autoscaler last decided.",
	}, objectLabels)
	// metricTargetLatency lets an alert compare each queue's latency with
	// its own QueueWorker's target rather than one threshold for all.
	metricTargetLatency = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_target_latency_seconds",
		Help: "The autoscaling.targetLatency of a QueueWorker when the autoscaler last decided; absent when it has none.",
	}, objectLabels)
	metricCurrentReplicas = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "queueworker_current_replicas",
		Help: "Replica count of a QueueWorker's Deployment when the autoscaler last decided.",
	}, objectLabels)
	metricRedisReadErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "queueworker_redis_read_errors_total",
		Help: "Reads of queue statistics that failed for a QueueWorker's queues, whole or in part.",
	}, objectLabels)
	// The endpoint label is queue.EndpointKey.Label: mode, addresses, db,
	// user and TLS settings, never a credential or its fingerprint, so the
	// series survive restarts and password rotations.
	metricRedisReadDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "queueworker_redis_read_duration_seconds",
		Help:    "Time to read the queue statistics of every QueueWorker due on a Redis endpoint.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"endpoint"})
)

var registerMetrics sync.Once

// autoscalerMetrics records the autoscaler's readings and remembers which
// series belong to a QueueWorker or an endpoint, so they go when it goes.
type autoscalerMetrics struct {
	mu     sync.Mutex
	queues map[types.NamespacedName][]string
	// pollers counts the running pollers per endpoint label: pollers whose
	// keys differ only in credentials share a label.
	pollers map[string]int
}

func newAutoscalerMetrics() *autoscalerMetrics {
	registerMetrics.Do(func() {
		metrics.Registry.MustRegister(metricQueueBacklog, metricQueuePending, metricQueueActive, metricQueueOrphaned,
			metricQueueLatency,
			metricDesiredReplicas, metricMaxReplicas, metricTargetLatency, metricCurrentReplicas, metricRedisReadErrors, metricRedisReadDuration)
	})
	return &autoscalerMetrics{queues: map[types.NamespacedName][]string{}, pollers: map[string]int{}}
}

// endpointStarted and endpointStopped count the pollers of an endpoint
// label; the last one to stop deletes its series.
func (m *autoscalerMetrics) endpointStarted(endpoint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pollers[endpoint]++
}

func (m *autoscalerMetrics) endpointStopped(endpoint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pollers[endpoint]--; m.pollers[endpoint] > 0 {
		return
	}
	delete(m.pollers, endpoint)
	metricRedisReadDuration.DeleteLabelValues(endpoint)
}

func (m *autoscalerMetrics) observeRead(endpoint string, d time.Duration) {
	metricRedisReadDuration.WithLabelValues(endpoint).Observe(d.Seconds())
}

// readFailed counts a read that failed for a QueueWorker's queues.
func (m *autoscalerMetrics) readFailed(name types.NamespacedName) {
	metricRedisReadErrors.WithLabelValues(name.Namespace, name.Name).Inc()
}

func (m *autoscalerMetrics) observeDecision(name types.NamespacedName, r *Result, current int32, spec *queueworkerv1alpha1.Autoscaling) {
	metricDesiredReplicas.WithLabelValues(name.Namespace, name.Name).Set(float64(r.Decision.DesiredReplicas))
	metricMaxReplicas.WithLabelValues(name.Namespace, name.Name).Set(float64(spec.MaxReplicas))
	// As autoscale.SettingsFor, a target that is not positive is none.
	if spec.TargetLatency != nil && spec.TargetLatency.Duration > 0 {
		metricTargetLatency.WithLabelValues(name.Namespace, name.Name).Set(spec.TargetLatency.Seconds())
	} else {
		metricTargetLatency.DeleteLabelValues(name.Namespace, name.Name)
	}
	metricCurrentReplicas.WithLabelValues(name.Namespace, name.Name).Set(float64(current))
	if r.Err != nil {
		// Keep the last known queue values rather than report zeros.
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, s := range r.Stats {
		labels := []string{name.Namespace, name.Name, s.Queue}
		backlog := s.Pending + s.Active + s.Scheduled + s.Retry + s.Aggregating
		if s.Paused {
			backlog = 0
		}
		metricQueueBacklog.WithLabelValues(labels...).Set(float64(backlog))
		metricQueuePending.WithLabelValues(labels...).Set(float64(s.Pending))
		metricQueueActive.WithLabelValues(labels...).Set(float64(s.Active))
		metricQueueOrphaned.WithLabelValues(labels...).Set(float64(s.Orphaned))
		metricQueueLatency.WithLabelValues(labels...).Set(s.OldestPendingAge.Seconds())
		names = append(names, s.Queue)
	}
	for _, old := range m.queues[name] {
		if !slices.Contains(names, old) {
			m.deleteQueue(name, old)
		}
	}
	m.queues[name] = names
}

func (m *autoscalerMetrics) forget(name types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range m.queues[name] {
		m.deleteQueue(name, q)
	}
	delete(m.queues, name)
	metricDesiredReplicas.DeleteLabelValues(name.Namespace, name.Name)
	metricMaxReplicas.DeleteLabelValues(name.Namespace, name.Name)
	metricTargetLatency.DeleteLabelValues(name.Namespace, name.Name)
	metricCurrentReplicas.DeleteLabelValues(name.Namespace, name.Name)
	metricRedisReadErrors.DeleteLabelValues(name.Namespace, name.Name)
}

func (m *autoscalerMetrics) deleteQueue(name types.NamespacedName, q string) {
	for _, v := range []*prometheus.GaugeVec{metricQueueBacklog, metricQueuePending, metricQueueActive, metricQueueOrphaned,
		metricQueueLatency} {
		v.DeleteLabelValues(name.Namespace, name.Name, q)
	}
}
