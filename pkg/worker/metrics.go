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
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names served on /metrics. Task metrics carry the labels "queue"
// and "task_type".
const (
	// MetricTasksProcessed counts tasks whose handler finished, failed or not.
	MetricTasksProcessed = "queueworker_tasks_processed_total"
	// MetricTasksFailed counts tasks whose handler returned an error or
	// panicked.
	MetricTasksFailed = "queueworker_tasks_failed_total"
	// MetricTasksInFlight is the number of tasks being processed now.
	MetricTasksInFlight = "queueworker_tasks_in_flight"
	// MetricTaskDuration is a histogram of handler run times in seconds.
	MetricTaskDuration = "queueworker_task_duration_seconds"
	// MetricRedisUp is 1 while the task server's periodic health check
	// reaches Redis and 0 after it fails.
	MetricRedisUp = "queueworker_redis_up"
	// MetricWorkerDraining is 1 while the worker drains at the operator's
	// request (it takes no new tasks) and 0 otherwise.
	MetricWorkerDraining = "queueworker_worker_draining"
)

// durationBuckets spans quick tasks of a few milliseconds to batch jobs of
// ten minutes.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type metrics struct {
	processed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	inFlight  *prometheus.GaugeVec
	duration  *prometheus.HistogramVec
	redisUp   prometheus.Gauge
	draining  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	labels := []string{"queue", "task_type"}
	m := &metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricTasksProcessed,
			Help: "Tasks whose handler finished, successfully or not.",
		}, labels),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricTasksFailed,
			Help: "Tasks whose handler returned an error or panicked.",
		}, labels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricTasksInFlight,
			Help: "Tasks being processed now.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricTaskDuration,
			Help:    "Time the handler took, in seconds.",
			Buckets: durationBuckets,
		}, labels),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricRedisUp,
			Help: "1 while the periodic health check reaches Redis, 0 after it fails.",
		}),
		draining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricWorkerDraining,
			Help: "1 while the worker drains at the operator's request and takes no new tasks, else 0.",
		}),
	}
	for _, c := range []prometheus.Collector{m.processed, m.failed, m.inFlight, m.duration, m.redisUp, m.draining} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// instrument wraps the whole handler chain, so tasks without a registered
// handler are counted too. abandoned reports whether asynq has already put
// the task back in its queue at shutdown: such a task neither finished nor
// failed, and will be counted where it runs next.
func (m *metrics) instrument(next asynq.Handler, abandoned func(ctx context.Context) bool) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		queue, _ := asynq.GetQueueName(ctx)
		taskType := t.Type()
		inFlight := m.inFlight.WithLabelValues(queue, taskType)
		inFlight.Inc()
		defer inFlight.Dec()

		start := time.Now()
		var err error
		returned := false
		record := func() {
			if returned && abandoned(ctx) {
				return
			}
			m.duration.WithLabelValues(queue, taskType).Observe(time.Since(start).Seconds())
			m.processed.WithLabelValues(queue, taskType).Inc()
			// A panic is left to propagate untouched, so asynq reports
			// where it happened; it counts as a failure.
			if !returned || err != nil {
				m.failed.WithLabelValues(queue, taskType).Inc()
			}
		}
		defer record()
		err = next.ProcessTask(ctx, t)
		returned = true
		return err
	})
}
