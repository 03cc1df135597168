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
	"errors"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileName stalls a QueueWorker whose name cannot label its worker
// Deployment and pods (resources.CheckQueueWorkerName), before anything
// else: the API server refuses such names on create, but one stored before
// that rule still arrives here, and asking for its Deployment would only
// be refused, again and again. It owns nothing but the stall; only a new
// QueueWorker with a shorter name helps, so the stall is terminal.
func (r *QueueWorkerReconciler) reconcileName(_ context.Context, st *queueWorkerState) (ctrl.Result, error) {
	if err := resources.CheckQueueWorkerName(st.qw.Name); err != nil {
		return ctrl.Result{}, specStallf(queueworkerv1alpha1.ReasonInvalidName, "%v", err)
	}
	return ctrl.Result{}, nil
}

// reconcileDeployment creates the worker Deployment or brings its pod
// template up to date. It writes only when the built template's hash
// differs from the one recorded on the Deployment, and never touches
// spec.replicas of an existing Deployment: reconcileScale owns it. A
// Deployment of the same name that the QueueWorker does not own stalls it
// until that Deployment goes away (it is looked for again periodically: the
// cache holds only the operator's own Deployments, so no event tells).
func (r *QueueWorkerReconciler) reconcileDeployment(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw := st.qw
	log := logf.FromContext(ctx)
	desired, err := resources.BuildWorkerDeployment(qw, st.endpoint, st.secretHash)
	if errors.Is(err, resources.ErrNoWorkerContainer) {
		return ctrl.Result{}, specStallf(queueworkerv1alpha1.ReasonInvalidTemplate, "%v", err)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("building the worker Deployment: %w", err)
	}

	existing := &appsv1.Deployment{}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	if apierrors.IsNotFound(err) {
		if err := controllerutil.SetControllerReference(qw, desired, r.Client.Scheme()); err != nil {
			return ctrl.Result{}, fmt.Errorf("setting the owner of the worker Deployment: %w", err)
		}
		desired.Spec.Replicas = ptr.To(initialReplicas(qw))
		if err := r.Client.Create(ctx, desired); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// The cache sees only Deployments labelled as ours, so a
				// foreign one of the same name shows up here.
				return ctrl.Result{}, stallf(queueworkerv1alpha1.ReasonDeploymentConflict,
					"a Deployment named %q exists and is not managed by this QueueWorker", desired.Name)
			}
			return ctrl.Result{}, fmt.Errorf("creating the worker Deployment: %w", err)
		}
		r.rollouts.put(client.ObjectKeyFromObject(qw), desired.Generation)
		log.Info("created the worker Deployment", "deployment", desired.Name, "replicas", *desired.Spec.Replicas)
		r.Recorder.Eventf(qw, desired, "Normal", queueworkerv1alpha1.ReasonDeploymentCreated, "Create",
			"created Deployment %s with %d replicas", desired.Name, *desired.Spec.Replicas)
		st.deployment = desired
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the worker Deployment: %w", err)
	}
	if !metav1.IsControlledBy(existing, qw) {
		return ctrl.Result{}, stallf(queueworkerv1alpha1.ReasonDeploymentConflict,
			"a Deployment named %q exists and is not managed by this QueueWorker", existing.Name)
	}
	st.deployment = existing

	wantHash := desired.Annotations[resources.AnnotationTemplateHash]
	if existing.Annotations[resources.AnnotationTemplateHash] == wantHash && hasLabels(existing.Labels, desired.Labels) {
		return ctrl.Result{}, nil
	}
	updated := existing.DeepCopy()
	updated.Spec.Template = desired.Spec.Template
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, desired.Labels)
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	updated.Annotations[resources.AnnotationTemplateHash] = wantHash
	if err := r.Client.Update(ctx, updated); err != nil {
		return ctrl.Result{}, fmt.Errorf("updating the worker Deployment: %w", err)
	}
	if existing.Annotations[resources.AnnotationTemplateHash] != wantHash {
		r.rollouts.put(client.ObjectKeyFromObject(qw), updated.Generation)
	}
	log.Info("updated the worker pod template", "deployment", updated.Name, "templateHash", wantHash)
	r.Recorder.Eventf(qw, updated, "Normal", queueworkerv1alpha1.ReasonDeploymentUpdated, "Update",
		"pod template of Deployment %s changed: rolling the workers", updated.Name)
	st.deployment = updated
	return ctrl.Result{}, nil
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
