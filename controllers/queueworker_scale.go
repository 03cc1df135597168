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

	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// reconcileScale owns the worker Deployment's spec.replicas. Without
// autoscaling the QueueWorker's spec.replicas (which `kubectl scale` sets
// through /scale) rules, one worker when unset. With autoscaling the count
// is kept within [minReplicas, maxReplicas].
func (r *QueueWorkerReconciler) reconcileScale(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw, dep := st.qw, st.deployment
	current := ptr.Deref(dep.Spec.Replicas, 1)
	desired := manualReplicas(qw, current)
	qw.Status.DesiredReplicas = desired
	if current == desired {
		return ctrl.Result{}, nil
	}
	orig := dep.DeepCopy()
	dep.Spec.Replicas = ptr.To(desired)
	if err := r.Client.Patch(ctx, dep, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, fmt.Errorf("scaling the worker Deployment: %w", err)
	}
	reason := queueworkerv1alpha1.ReasonScaledUp
	if desired < current {
		reason = queueworkerv1alpha1.ReasonScaledDown
	}
	logf.FromContext(ctx).Info("scaled the workers", "from", current, "to", desired)
	r.Recorder.Eventf(qw, dep, "Normal", reason, "Scale", "scaled from %d to %d replicas: %s",
		current, desired, scaleCause(qw))
	return ctrl.Result{}, nil
}

// initialReplicas is the replica count of a new worker Deployment.
func initialReplicas(qw *queueworkerv1alpha1.QueueWorker) int32 {
	return manualReplicas(qw, 1)
}

// manualReplicas is the count the spec asks for without reading Redis:
// spec.replicas (one when unset), or the current count clamped to the
// autoscaling bounds.
func manualReplicas(qw *queueworkerv1alpha1.QueueWorker, current int32) int32 {
	as := qw.Spec.Autoscaling
	if as == nil {
		return ptr.Deref(qw.Spec.Replicas, 1)
	}
	lo, hi := ptr.Deref(as.MinReplicas, 1), as.MaxReplicas
	return min(max(current, lo), hi)
}

func scaleCause(qw *queueworkerv1alpha1.QueueWorker) string {
	if qw.Spec.Autoscaling != nil {
		return "kept within autoscaling.minReplicas and maxReplicas"
	}
	return "spec.replicas"
}
