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
	"testing"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

func TestWorkerCapacity(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name      string
		spec      queueworkerv1alpha1.QueueWorkerSpec
		wantPods  int64
		wantConns int64
	}{
		{name: "defaults: one replica, pool 50", wantPods: 1 + 1, wantConns: 50 + 10 + 1},
		{name: "replicas 4", spec: queueworkerv1alpha1.QueueWorkerSpec{Replicas: i32(4)}, wantPods: 4 + 1, wantConns: 61},
		{name: "replicas 0", spec: queueworkerv1alpha1.QueueWorkerSpec{Replicas: i32(0)}, wantPods: 0, wantConns: 61},
		{name: "maxReplicas wins over replicas, surge rounds up",
			spec: queueworkerv1alpha1.QueueWorkerSpec{Replicas: i32(2),
				Autoscaling: &queueworkerv1alpha1.Autoscaling{MaxReplicas: 10},
				Redis:       queueworkerv1alpha1.RedisConnection{Pool: queueworkerv1alpha1.RedisPool{Size: 5}}},
			wantPods: 10 + 3, wantConns: 5 + 10 + 1},
		{name: "maxReplicas 8: surge exactly 2",
			spec:     queueworkerv1alpha1.QueueWorkerSpec{Autoscaling: &queueworkerv1alpha1.Autoscaling{MaxReplicas: 8}},
			wantPods: 10, wantConns: 61},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MostWorkerPods(&tt.spec); got != tt.wantPods {
				t.Errorf("MostWorkerPods = %d, want %d", got, tt.wantPods)
			}
			if got := WorkerConnections(&tt.spec); got != tt.wantConns {
				t.Errorf("WorkerConnections = %d, want %d", got, tt.wantConns)
			}
		})
	}
}
