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

// Package controllers holds the operator's reconcilers. Each reconcile is a
// list of small steps; the objects they write come from internal/resources.
package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// Defaults of the reconciler's tunables.
const (
	// DefaultSecretResyncPeriod is how often a QueueWorker whose connection
	// uses Secrets is reconciled to notice a rotated password. Secrets are
	// not watched, so the operator neither caches nor lists them.
	DefaultSecretResyncPeriod = time.Minute
	// DefaultStalledRetryPeriod is how often a missing Secret or RedisConfig
	// is looked for again.
	DefaultStalledRetryPeriod = 10 * time.Second
)

// QueueWorkerReconciler turns a QueueWorker into a worker Deployment and
// keeps its replica count and status.
type QueueWorkerReconciler struct {
	// Client reads from the cache and writes to the API server.
	Client client.Client
	// APIReader reads Secrets straight from the API server, uncached.
	APIReader client.Reader
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// SecretResyncPeriod overrides DefaultSecretResyncPeriod.
	SecretResyncPeriod time.Duration
	// StalledRetryPeriod overrides DefaultStalledRetryPeriod.
	StalledRetryPeriod time.Duration
	// Autoscaler reads the queues of autoscaled QueueWorkers and decides
	// their replica counts; nil keeps them within their bounds only.
	Autoscaler *Autoscaler
	// Now is the clock for status times; time.Now when nil.
	Now func() time.Time

	// connections keeps the Secret values each connection uses between
	// reconciles.
	connections connectionCache
}

// queueWorkerState is what the steps of one reconcile share.
type queueWorkerState struct {
	qw *queueworkerv1alpha1.QueueWorker
	// endpoint is the resolved Redis connection.
	endpoint resources.RedisEndpoint
	// secretHash hashes the Secret data the connection uses.
	secretHash string
	// credentials are the password and CA the operator's own Redis client
	// uses to read the queues.
	credentials queue.Credentials
	// deployment is the worker Deployment as last read or written.
	deployment *appsv1.Deployment
	// stalled holds the reason and message of a problem the operator
	// cannot fix itself; empty when there is none.
	stalledReason, stalledMessage string
}

// queueWorkerStep is one step of a reconcile.
type queueWorkerStep func(context.Context, *queueWorkerState) (ctrl.Result, error)

// +kubebuilder:rbac:groups=queueworker.io,resources=queueworkers,verbs=get;list;watch
// +kubebuilder:rbac:groups=queueworker.io,resources=queueworkers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=queueworker.io,resources=queueworkers/finalizers,verbs=update
// +kubebuilder:rbac:groups=queueworker.io,resources=redisconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one QueueWorker's Deployment and status up to date.
func (r *QueueWorkerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	qw := &queueworkerv1alpha1.QueueWorker{}
	if err := r.Client.Get(ctx, req.NamespacedName, qw); err != nil {
		if apierrors.IsNotFound(err) {
			r.connections.forget(req.NamespacedName)
			forgetScaleEvents(req.NamespacedName)
			if r.Autoscaler != nil {
				r.Autoscaler.Remove(req.NamespacedName)
			}
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !qw.DeletionTimestamp.IsZero() {
		// The garbage collector removes the Deployment through its owner
		// reference; only the autoscaler's poller needs to stop.
		r.connections.forget(req.NamespacedName)
		forgetScaleEvents(req.NamespacedName)
		if r.Autoscaler != nil {
			r.Autoscaler.Remove(req.NamespacedName)
		}
		return ctrl.Result{}, nil
	}
	orig := qw.DeepCopy()
	st := &queueWorkerState{qw: qw}

	defer func() {
		r.summarize(st)
		if equality.Semantic.DeepEqual(orig.Status, qw.Status) {
			return
		}
		if err := r.Client.Status().Patch(ctx, qw, client.MergeFrom(orig)); err != nil && retErr == nil {
			retErr = fmt.Errorf("patching status: %w", client.IgnoreNotFound(err))
			if client.IgnoreNotFound(err) == nil {
				retErr = nil
			}
		}
	}()

	return runSteps(ctx, st,
		r.reconcileName,
		r.reconcileConnection,
		r.reconcileDeployment,
		r.reconcileScale,
	)
}

// runSteps runs the steps in order, stops at the first error or non-zero
// result, and otherwise returns the smallest RequeueAfter asked for.
func runSteps(ctx context.Context, st *queueWorkerState, steps ...queueWorkerStep) (ctrl.Result, error) {
	var result ctrl.Result
	for _, step := range steps {
		res, err := step(ctx, st)
		if err != nil {
			return res, err
		}
		if st.stalledReason != "" {
			return res, nil
		}
		if res.RequeueAfter > 0 && (result.RequeueAfter == 0 || res.RequeueAfter < result.RequeueAfter) {
			result.RequeueAfter = res.RequeueAfter
		}
	}
	return result, nil
}

// stall records a problem only the user (or another controller) can fix.
func (st *queueWorkerState) stall(reason, format string, args ...any) {
	st.stalledReason = reason
	st.stalledMessage = fmt.Sprintf(format, args...)
}

// summarize derives status fields and the Stalled and Ready conditions from
// what the steps found, and emits events when a condition flips.
func (r *QueueWorkerReconciler) summarize(st *queueWorkerState) {
	qw := st.qw
	qw.Status.ObservedGeneration = qw.Generation
	qw.Status.Selector = selectorString(qw)

	if st.stalledReason != "" {
		if r.setCondition(qw, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue, st.stalledReason, st.stalledMessage) {
			r.Recorder.Eventf(qw, nil, "Warning", st.stalledReason, "Reconcile", "%s", st.stalledMessage)
		}
	} else {
		r.setCondition(qw, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonReconciled, "nothing blocks the QueueWorker")
	}

	if dep := st.deployment; dep != nil {
		qw.Status.Replicas = dep.Status.Replicas
		qw.Status.ReadyReplicas = dep.Status.ReadyReplicas
	}

	status, reason, msg := readiness(st)
	wasReady := apimeta.IsStatusConditionTrue(qw.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	r.setCondition(qw, queueworkerv1alpha1.ConditionReady, status, reason, msg)
	// A new object starts not ready, and a stall has its own event; only a
	// flip of Ready is news.
	switch isReady := status == metav1.ConditionTrue; {
	case isReady && !wasReady:
		r.Recorder.Eventf(qw, nil, "Normal", queueworkerv1alpha1.ReasonReady, "Reconcile", "workers ready: %s", msg)
	case !isReady && wasReady && st.stalledReason == "":
		r.Recorder.Eventf(qw, nil, "Warning", reason, "Reconcile", "workers not ready: %s", msg)
	}
}

// readiness decides the Ready condition: the Deployment runs the current
// template and is available. A rollout or a scale-up in progress is not a
// failure, so scaling alone never flips Ready.
func readiness(st *queueWorkerState) (metav1.ConditionStatus, string, string) {
	if st.stalledReason != "" {
		return metav1.ConditionFalse, st.stalledReason, st.stalledMessage
	}
	dep := st.deployment
	if dep == nil {
		return metav1.ConditionFalse, queueworkerv1alpha1.ReasonProgressing, "the worker Deployment does not exist yet"
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	counts := fmt.Sprintf("%d of %d workers ready", dep.Status.ReadyReplicas, want)
	if dep.Status.ObservedGeneration < dep.Generation || dep.Status.UpdatedReplicas < dep.Status.Replicas ||
		dep.Status.UpdatedReplicas < want {
		return metav1.ConditionFalse, queueworkerv1alpha1.ReasonProgressing, "rolling out the pod template: " + counts
	}
	available := false
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == "True" {
			available = true
		}
	}
	if !available {
		return metav1.ConditionFalse, queueworkerv1alpha1.ReasonProgressing, "the worker Deployment is not available: " + counts
	}
	return metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled, counts
}

// setCondition sets a condition with the object's generation and reports
// whether its status or reason changed.
func (r *QueueWorkerReconciler) setCondition(qw *queueworkerv1alpha1.QueueWorker, condType string,
	status metav1.ConditionStatus, reason, msg string) bool {
	return setCondition(&qw.Status.Conditions, qw.Generation, condType, status, reason, msg)
}

// setCondition sets a condition with the object's generation and reports
// whether its status or reason changed, so callers emit events on
// transitions only. Both reconcilers use it.
func setCondition(conds *[]metav1.Condition, generation int64, condType string,
	status metav1.ConditionStatus, reason, msg string) bool {
	old := apimeta.FindStatusCondition(*conds, condType)
	changed := old == nil || old.Status != status || old.Reason != reason
	apimeta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: generation,
	})
	return changed
}

func selectorString(qw *queueworkerv1alpha1.QueueWorker) string {
	sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: resources.SelectorLabels(qw)})
	if err != nil {
		return ""
	}
	return sel.String()
}

func (r *QueueWorkerReconciler) secretResyncPeriod() time.Duration {
	if r.SecretResyncPeriod > 0 {
		return r.SecretResyncPeriod
	}
	return DefaultSecretResyncPeriod
}

func (r *QueueWorkerReconciler) stalledRetryPeriod() time.Duration {
	if r.StalledRetryPeriod > 0 {
		return r.StalledRetryPeriod
	}
	return DefaultStalledRetryPeriod
}

// configRefIndex indexes QueueWorkers by the RedisConfig they use.
const configRefIndex = "spec.redis.configRef.name"

// queueWorkersUsing maps a RedisConfig to the QueueWorkers that use it, so
// a change of its address, password or readiness reaches them at once.
func (r *QueueWorkerReconciler) queueWorkersUsing(ctx context.Context, o client.Object) []reconcile.Request {
	list := &queueworkerv1alpha1.QueueWorkerList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{configRefIndex: o.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing the QueueWorkers of a RedisConfig", "redisConfig", o.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, qw := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&qw)})
	}
	return reqs
}

func (r *QueueWorkerReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller: it reconciles on spec changes
// of a QueueWorker, on any change of the Deployments it owns, and when the
// autoscaler has news for it. The autoscaler runs as a manager runnable.
func (r *QueueWorkerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Recorder = limitNotes(r.Recorder)
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &queueworkerv1alpha1.QueueWorker{}, configRefIndex,
		func(o client.Object) []string {
			if ref := o.(*queueworkerv1alpha1.QueueWorker).Spec.Redis.ConfigRef; ref != nil {
				return []string{ref.Name}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("indexing QueueWorkers by RedisConfig: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&queueworkerv1alpha1.QueueWorker{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Watches(&queueworkerv1alpha1.RedisConfig{}, handler.EnqueueRequestsFromMapFunc(r.queueWorkersUsing)).
		Named("queueworker")
	if r.Autoscaler != nil {
		if err := mgr.Add(r.Autoscaler); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.Channel(r.Autoscaler.Events, &handler.TypedEnqueueRequestForObject[client.Object]{}))
	}
	return b.Complete(r)
}
