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

	appsv1 "k8s.io/api/apps/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

// reconcileDeployment creates the worker Deployment or brings it up to
// date with server-side apply, as fieldOwner. It writes only when what it
// would apply differs from what it applied last or from what the
// Deployment holds of it (upToDate): a field someone else changed is set
// back.
// A Deployment it did not find is created with a Create, so that one that
// someone else creates meanwhile is not taken over.
// It never includes spec.replicas once reconcileScale's field manager owns
// it: before that (a new Deployment, or one written otherwise) it applies
// the count there is, or the initial count, so that the field always has
// an owner and is never reset. A Deployment of the same name that the
// QueueWorker does not control stalls it until that Deployment goes away
// (it is looked for again periodically: the cache holds only the
// operator's own Deployments, so no event tells). A Deployment the API
// server refuses (a volumeMount of no volume, say) stalls it with
// InvalidTemplate until its spec changes.
func (r *QueueWorkerReconciler) reconcileDeployment(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw := st.qw
	desired, err := resources.BuildWorkerDeployment(qw, st.endpoint, st.secretHash)
	if errors.Is(err, resources.ErrNoWorkerContainer) {
		return ctrl.Result{}, specStallf(queueworkerv1alpha1.ReasonInvalidTemplate, "%v", err)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("building the worker Deployment: %w", err)
	}

	w := r.writer(qw)
	have := &appsv1.Deployment{}
	found, err := w.read(ctx, client.ObjectKeyFromObject(desired), have)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !found {
		have = nil
	}
	if err := stamp(r.Client.Scheme(), qw, desired); err != nil {
		return ctrl.Result{}, err
	}
	st.scaleOwnsReplicas = found && ownsField(have, scaleFieldOwner, "spec", "replicas")
	if !found {
		desired.Spec.Replicas = ptr.To(initialReplicas(qw))
		err = w.create(ctx, desired)
	} else {
		if !st.scaleOwnsReplicas {
			desired.Spec.Replicas = ptr.To(ptr.Deref(have.Spec.Replicas, 1))
		}
		same, uerr := upToDate[appsv1ac.DeploymentApplyConfiguration](have, desired)
		if uerr != nil {
			return ctrl.Result{}, uerr
		}
		if same {
			st.deployment = have
			return ctrl.Result{}, nil
		}
		err = applyOwned[appsv1ac.DeploymentApplyConfiguration](ctx, w, desired)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	st.deployment = desired
	log := logf.FromContext(ctx)
	key := client.ObjectKeyFromObject(qw)
	switch {
	case !found:
		r.rollouts.put(key, desired.Generation)
		log.Info("created the worker Deployment", "deployment", desired.Name, "replicas", *desired.Spec.Replicas)
		st.events.Eventf(qw, desired, "Normal", queueworkerv1alpha1.ReasonDeploymentCreated, "Create",
			"created Deployment %s with %d replicas", desired.Name, *desired.Spec.Replicas)
	case have.Annotations[resources.AnnotationTemplateHash] != desired.Annotations[resources.AnnotationTemplateHash]:
		r.rollouts.put(key, desired.Generation)
		log.Info("updated the worker pod template", "deployment", desired.Name,
			"templateHash", desired.Annotations[resources.AnnotationTemplateHash])
		st.events.Eventf(qw, desired, "Normal", queueworkerv1alpha1.ReasonDeploymentUpdated, "Update",
			"pod template of Deployment %s changed: rolling the workers", desired.Name)
	}
	return ctrl.Result{}, nil
}

// writer writes the objects qw controls: a Deployment of the name that qw
// does not control stalls it with DeploymentConflict, one the API server
// refuses with InvalidTemplate.
func (r *QueueWorkerReconciler) writer(qw *queueworkerv1alpha1.QueueWorker) ownedWriter {
	return ownedWriter{client: r.Client, api: r.APIReader, owner: qw,
		conflict: func(kind, name string) *stallError {
			return stallf(queueworkerv1alpha1.ReasonDeploymentConflict,
				"a %s named %q exists and is not managed by this QueueWorker", kind, name)
		},
		refused: queueworkerv1alpha1.ReasonInvalidTemplate,
	}
}
