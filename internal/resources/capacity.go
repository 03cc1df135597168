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

package resources

import (
	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Connections of one worker pod beside its pool, for the worst case of
// clients a RedisConfig reports.
const (
	// WorkerPipelinePoolSize is go-redis's default size of the separate
	// pool it keeps for pipelines, which the worker does not change.
	WorkerPipelinePoolSize = 10
	// workerSubscriptions: asynq listens for task cancellations on one
	// connection of its own.
	workerSubscriptions = 1
	// rolloutSurgePercent is the Deployment's default maxSurge, which the
	// worker Deployment keeps: a rollout runs up to that many extra pods.
	rolloutSurgePercent = 25
)

// WorkerConnections is the most connections one worker pod of spec may
// hold to one Redis server (per node in a cluster).
func WorkerConnections(spec *queueworkerv1alpha1.QueueWorkerSpec) int64 {
	size := int64(spec.Redis.Pool.Size)
	if size == 0 {
		size = DefaultPoolSize
	}
	return size + WorkerPipelinePoolSize + workerSubscriptions
}

// MostWorkerPods is the most worker pods of spec that may run at once: its
// most replicas (autoscaling.maxReplicas, else replicas, 1 when unset)
// plus a rollout's surge.
func MostWorkerPods(spec *queueworkerv1alpha1.QueueWorkerSpec) int64 {
	n := int64(1)
	switch {
	case spec.Autoscaling != nil:
		n = int64(spec.Autoscaling.MaxReplicas)
	case spec.Replicas != nil:
		n = int64(*spec.Replicas)
	}
	surge := (n*rolloutSurgePercent + 99) / 100
	return n + surge
}
