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
// list of small steps; the objects they write come from internal/resources,
// and the replica counts of autoscaled QueueWorkers from a Scaler
// (internal/scaling).
package controllers

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
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
	// APIReader reads straight from the API server: Secrets, which are
	// never cached, and a Deployment the cache does not hold (the cache
	// holds only the operator's own).
	APIReader client.Reader
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// SecretResyncPeriod overrides DefaultSecretResyncPeriod.
	SecretResyncPeriod time.Duration
	// StalledRetryPeriod overrides DefaultStalledRetryPeriod.
	StalledRetryPeriod time.Duration
	// Autoscaler reads the queues of autoscaled QueueWorkers and decides
	// their replica counts; nil keeps them within their bounds only.
	Autoscaler Scaler
	// Drainer writes the drain keys of the Drain policy; the Autoscaler
	// when nil and it is one. Without it no pod is drained.
	Drainer Drainer
	// Now is the clock for status times; time.Now when nil.
	Now func() time.Time
	// MaxConcurrentReconciles is how many QueueWorkers are reconciled at
	// once (one key is never reconciled twice at the same time);
	// controller-runtime's default of one when zero.
	MaxConcurrentReconciles int

	// connections keeps the Secret values each connection uses between
	// reconciles.
	connections connectionCache
	// rollouts keeps the Deployment generation at which each QueueWorker's
	// pod template last changed.
	rollouts generations
	// drains keeps what each QueueWorker's drains need between reconciles.
	drains drainMemories
	// statuses keeps which status patches the cache has yet to show, and
	// podWrites which annotations of worker pods.
	statuses, podWrites cacheWrites
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
	// scaleOwnsReplicas tells whether reconcileScale's field manager owns
	// the Deployment's spec.replicas.
	scaleOwnsReplicas bool
	// events are the reconcile's events, emitted once its status is
	// written.
	events *eventBuffer
}

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
			r.forget(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !qw.DeletionTimestamp.IsZero() {
		// The garbage collector removes the Deployment through its owner
		// reference; only the autoscaler's poller needs to stop, and the
		// drains to end.
		r.forget(ctx, req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if r.statuses.behind(req.NamespacedName, qw.ResourceVersion, time.Now()) || r.podsBehind(ctx, qw) {
		return ctrl.Result{RequeueAfter: cacheLagRetry}, nil
	}
	orig := qw.DeepCopy()
	st := &queueWorkerState{qw: qw, events: &eventBuffer{}}
	// err is how the steps ended; the summary derives the status from it
	// and the one status patch follows.
	var err error
	defer func() {
		r.summarize(st, orig.Status.Conditions, err)
		changed := !equality.Semantic.DeepEqual(orig.Status, qw.Status)
		perr := patchStatus(ctx, r.Client, qw, orig, changed, &r.statuses)
		switch {
		case perr != nil && retErr == nil:
			result, retErr = ctrl.Result{}, perr
		case perr == nil && !transient(err):
			st.events.flush(r.Recorder)
		}
	}()
	var res ctrl.Result
	res, err = runSteps(ctx, st,
		r.reconcileName,
		r.reconcileConnection,
		r.reconcileDeployment,
		r.reconcileScale,
	)
	return resultOf(res, err, r.stalledRetryPeriod())
}

// forget drops what the reconciler keeps in memory about a QueueWorker
// that is gone or going, and deletes the drain keys it set for it.
func (r *QueueWorkerReconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.forgetDrains(ctx, key)
	r.connections.forget(key)
	r.rollouts.forget(key)
	r.statuses.forget(key)
	forgetScaleEvents(key)
	if r.Autoscaler != nil {
		r.Autoscaler.Remove(key)
	}
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
// of a QueueWorker, on any change of the Deployments it owns, when one of
// its pods goes away (a drain may go on), and when the autoscaler has news
// for it. The autoscaler runs as a manager runnable, and so does its
// warm-up (warmUp), which registers the autoscaled QueueWorkers when the
// process starts leading. The manager's cache
// should hold the pods' metadata only, restricted to the operator's own
// pods (CacheByObject).
func (r *QueueWorkerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Recorder = limitNotes(r.Recorder)
	if err := indexConfigRef(mgr); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&queueworkerv1alpha1.QueueWorker{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Watches(&queueworkerv1alpha1.RedisConfig{}, handler.EnqueueRequestsFromMapFunc(r.queueWorkersUsing)).
		WatchesMetadata(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(queueWorkerOfPod), builder.WithPredicates(podGone)).
		Named("queueworker").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles})
	if d, ok := r.Autoscaler.(Drainer); ok && r.Drainer == nil {
		r.Drainer = d
	}
	if r.Autoscaler != nil {
		if err := mgr.Add(r.Autoscaler); err != nil {
			return err
		}
		if err := mgr.Add(warmUp{r: r, synced: mgr.GetCache().WaitForCacheSync, workers: r.MaxConcurrentReconciles}); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.Channel(r.Autoscaler.Events(), &handler.TypedEnqueueRequestForObject[client.Object]{}))
	}
	return b.Complete(r)
}
