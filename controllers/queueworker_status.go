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
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// summarize derives the status from what the steps found and the error
// that stopped them (see summary for Ready, Stalled and Reconciling).
// status.observedGeneration moves only when the steps finished or stalled:
// after any other error the status still describes the last generation
// reconciled.
func (r *QueueWorkerReconciler) summarize(st *queueWorkerState, orig []metav1.Condition, err error) {
	qw := st.qw
	qw.Status.Selector = selectorString(qw)
	if dep := st.deployment; dep != nil {
		qw.Status.Replicas = dep.Status.Replicas
		qw.Status.ReadyReplicas = dep.Status.ReadyReplicas
	}
	key := client.ObjectKeyFromObject(qw)
	observed := summary(st.events, queueworkerv1alpha1.KindQueueWorker, qw, &qw.Status.Conditions, orig, err,
		func() readiness { return deploymentReadiness(st.deployment, r.rollouts.get(key)) })
	if observed {
		qw.Status.ObservedGeneration = qw.Generation
	}
}

// setCondition sets a condition of the QueueWorker with its generation.
func (r *QueueWorkerReconciler) setCondition(qw *queueworkerv1alpha1.QueueWorker, condType string,
	status metav1.ConditionStatus, reason, msg string) {
	setCondition(&qw.Status.Conditions, qw.Generation, condType, status, reason, msg)
}

// deploymentReadiness judges the worker Deployment. A pod template rolling
// out (old pods still running, or a template the Deployment's controller
// has not observed yet: templateGeneration is the Deployment generation at
// which the operator last changed it) and workers starting while none is
// available are work in progress: Ready is Unknown. A scale-up is not: the
// workers that run keep Ready True while the others start, although the
// Deployment may say it is not available until enough of them do. Only a
// Deployment whose controller gave up waiting for progress is trouble.
func deploymentReadiness(dep *appsv1.Deployment, templateGeneration int64) readiness {
	s := dep.Status
	counts := fmt.Sprintf("%d of %d workers ready", s.ReadyReplicas, ptr.Deref(dep.Spec.Replicas, 1))
	switch {
	case s.ObservedGeneration == 0 || s.ObservedGeneration < templateGeneration || s.UpdatedReplicas < s.Replicas:
		return progressing(queueworkerv1alpha1.ReasonProgressing,
			fmt.Sprintf("rolling out the pod template: %d of %d workers updated, %s", s.UpdatedReplicas, s.Replicas, counts))
	case deploymentCondition(dep, appsv1.DeploymentAvailable) == corev1.ConditionTrue:
		return readiness{status: metav1.ConditionTrue, reason: queueworkerv1alpha1.ReasonReconciled, msg: counts}
	case deploymentCondition(dep, appsv1.DeploymentProgressing) == corev1.ConditionFalse:
		msg := "the worker Deployment is not available: " + counts
		if c := findDeploymentCondition(dep, appsv1.DeploymentProgressing); c.Message != "" {
			msg += ": " + c.Message
		}
		return readiness{status: metav1.ConditionFalse, reason: queueworkerv1alpha1.ReasonDeploymentUnavailable, msg: msg}
	case s.AvailableReplicas > 0:
		return readiness{status: metav1.ConditionTrue, reason: queueworkerv1alpha1.ReasonReconciled,
			msg: counts + ", the others starting"}
	default:
		return progressing(queueworkerv1alpha1.ReasonProgressing, "workers are starting: "+counts)
	}
}

func findDeploymentCondition(dep *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range dep.Status.Conditions {
		if dep.Status.Conditions[i].Type == t {
			return &dep.Status.Conditions[i]
		}
	}
	return nil
}

func deploymentCondition(dep *appsv1.Deployment, t appsv1.DeploymentConditionType) corev1.ConditionStatus {
	if c := findDeploymentCondition(dep, t); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}

// generations remembers a generation per object. It is safe for
// concurrent use; the zero value is ready.
type generations struct {
	mu sync.Mutex
	m  map[types.NamespacedName]int64
}

// get is the generation kept for key, 0 when none is.
func (g *generations) get(key types.NamespacedName) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[key]
}

func (g *generations) put(key types.NamespacedName, gen int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[types.NamespacedName]int64{}
	}
	g.m[key] = gen
}

func (g *generations) forget(key types.NamespacedName) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, key)
}
