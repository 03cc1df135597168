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
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// TestStatusBeforeTheFirstRead: before the autoscaler's first read, a
// status that shows a reading of the current generation is kept as it is
// (an operator restart writes nothing), and any other is marked as
// awaiting the read.
func TestStatusBeforeTheFirstRead(t *testing.T) {
	reading := func(status metav1.ConditionStatus, generation int64) []metav1.Condition {
		return []metav1.Condition{
			{Type: queueworkerv1alpha1.ConditionRedisReachable, Status: status, ObservedGeneration: generation,
				Reason: "R", Message: "m"},
			{Type: queueworkerv1alpha1.ConditionScalingActive, Status: status, ObservedGeneration: generation,
				Reason: "R", Message: "m"},
		}
	}
	tests := []struct {
		name       string
		conditions []metav1.Condition
		generation int64
		kept       bool
	}{
		{name: "no reading", generation: 1},
		{name: "reachable, this generation", conditions: reading(metav1.ConditionTrue, 3), generation: 3, kept: true},
		{name: "unreachable, this generation", conditions: reading(metav1.ConditionFalse, 3), generation: 3, kept: true},
		{name: "a reading of an older spec", conditions: reading(metav1.ConditionTrue, 2), generation: 3},
		{name: "already awaiting", conditions: reading(metav1.ConditionUnknown, 3), generation: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qw := &queueworkerv1alpha1.QueueWorker{}
			qw.Generation = tt.generation
			qw.Status.Conditions = tt.conditions
			qw.Status.Backlog = 7
			before := qw.DeepCopy()
			r := &QueueWorkerReconciler{}
			r.applyAutoscalingStatus(&queueWorkerState{qw: qw, events: &eventBuffer{}}, nil)
			if tt.kept {
				if !equality.Semantic.DeepEqual(before.Status, qw.Status) {
					t.Errorf("status changed: %+v, want %+v", qw.Status, before.Status)
				}
				return
			}
			for ct, want := range map[string]metav1.ConditionStatus{
				queueworkerv1alpha1.ConditionRedisReachable: metav1.ConditionUnknown,
				queueworkerv1alpha1.ConditionScalingActive:  metav1.ConditionFalse,
			} {
				c := apimeta.FindStatusCondition(qw.Status.Conditions, ct)
				if c == nil || c.Status != want || c.Reason != queueworkerv1alpha1.ReasonAwaitingRead ||
					c.ObservedGeneration != tt.generation {
					t.Errorf("%s = %+v, want %s AwaitingRead at generation %d", ct, c, want, tt.generation)
				}
			}
		})
	}
}

// TestInitialReplicas: a new worker Deployment starts at spec.replicas
// (one when unset), or at an autoscaled QueueWorker's minReplicas: none at
// all for a minimum of zero.
func TestInitialReplicas(t *testing.T) {
	tests := []struct {
		name     string
		replicas *int32
		as       *queueworkerv1alpha1.Autoscaling
		want     int32
	}{
		{name: "not autoscaled, unset", want: 1},
		{name: "not autoscaled, 4", replicas: ptr.To[int32](4), want: 4},
		{name: "autoscaled, minReplicas unset", as: &queueworkerv1alpha1.Autoscaling{MaxReplicas: 5}, want: 1},
		{name: "autoscaled, minReplicas 0", as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5}, want: 0},
		{name: "autoscaled, minReplicas 3", as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](3), MaxReplicas: 5}, want: 3},
		{name: "autoscaled, spec.replicas ignored", replicas: ptr.To[int32](4),
			as: &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 5}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qw := &queueworkerv1alpha1.QueueWorker{}
			qw.Spec.Replicas = tt.replicas
			qw.Spec.Autoscaling = tt.as
			if got := initialReplicas(qw); got != tt.want {
				t.Errorf("initialReplicas = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCacheWritesBehind: after a write turned version 5 into 7, a
// cache that holds 5, or 6 (a spec edit that landed between), is behind
// until it shows 7 or later, or maxCacheLag has passed; other objects are
// not. Versions that do not compare are behind only at the replaced one.
func TestCacheWritesBehind(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := types.NamespacedName{Namespace: "ns", Name: "w"}
	other := types.NamespacedName{Namespace: "ns", Name: "v"}
	var w cacheWrites
	if w.behind(key, "5", at) {
		t.Fatal("behind before any patch")
	}
	w.wrote(key, "5", "7", at)
	for _, rv := range []string{"5", "6"} {
		if !w.behind(key, rv, at.Add(maxCacheLag-time.Millisecond)) {
			t.Errorf("version %s is not behind the patch's 7", rv)
		}
	}
	if w.behind(other, "5", at) {
		t.Error("another object is behind")
	}
	if w.behind(key, "7", at) {
		t.Error("the patch's version is behind")
	}
	if w.behind(key, "5", at) {
		t.Error("behind again once the cache showed the patch")
	}
	w.wrote(key, "7", "9", at)
	if w.behind(key, "12", at) {
		t.Error("a later version is behind")
	}
	w.wrote(key, "7", "9", at)
	if w.behind(key, "7", at.Add(maxCacheLag)) {
		t.Error("still behind after maxCacheLag")
	}
	w.wrote(key, "a", "c", at)
	if !w.behind(key, "a", at) || w.behind(key, "b", at) {
		t.Error("versions that do not compare: behind only at the replaced one")
	}
	w.wrote(key, "8", "10", at)
	w.forget(key)
	if w.behind(key, "8", at) {
		t.Error("behind after forget")
	}
	w.wrote(key, "8", "10", at)
	if !w.pending(at.Add(maxCacheLag - time.Millisecond)) {
		t.Error("a fresh write is not pending")
	}
	if w.pending(at.Add(maxCacheLag)) || w.behind(key, "8", at) {
		t.Error("a write older than maxCacheLag is still pending")
	}
}
