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
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metricScaleEvents counts the replica changes the scale step writes, for
// every QueueWorker, autoscaled or not; the autoscaler's own metrics are
// internal/scaling's.
var metricScaleEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "queueworker_scale_events_total",
	Help: "Changes of a QueueWorker's replica count made by the operator, by direction (up or down).",
}, []string{"namespace", "queueworker", "direction"})

func init() {
	metrics.Registry.MustRegister(metricScaleEvents)
}

// countScale records a replica change made by the operator.
func countScale(name types.NamespacedName, from, to int32) {
	direction := "up"
	if to < from {
		direction = "down"
	}
	metricScaleEvents.WithLabelValues(name.Namespace, name.Name, direction).Inc()
}

// forgetScaleEvents deletes the scale counters of a QueueWorker that is
// gone; they are kept while it exists, autoscaled or not.
func forgetScaleEvents(name types.NamespacedName) {
	for _, direction := range []string{"up", "down"} {
		metricScaleEvents.DeleteLabelValues(name.Namespace, name.Name, direction)
	}
}
