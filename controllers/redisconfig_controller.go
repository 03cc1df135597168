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
	"crypto/rand"
	"io"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// Defaults of the RedisConfig reconciler.
const (
	// DefaultRecheckInterval is how often a configuration is read back and
	// applied again where it drifted, unless external.recheckInterval says.
	DefaultRecheckInterval = 5 * time.Minute
	// sentinelRecheckInterval bounds the time until a failover of a
	// sentinel group is noticed and the new master configured.
	sentinelRecheckInterval = 30 * time.Second
	// unreachableRetry is how soon an unreachable server is tried again.
	unreachableRetry = 15 * time.Second
	// applyTimeout bounds one application of the configuration.
	applyTimeout = 30 * time.Second
	// defaultSomaxconn is the pod's net.core.somaxconn unless a sysctl
	// raises it; the kernel silently caps tcp-backlog there.
	defaultSomaxconn = 128
)

// RedisConfigReconciler renders a RedisConfig into redis.conf and either
// runs Redis with it (mode Managed) or applies it to an existing Redis with
// CONFIG SET (mode External).
type RedisConfigReconciler struct {
	// Client reads from the cache and writes to the API server.
	Client client.Client
	// APIReader reads straight from the API server: Secrets, which are
	// never cached, and an object of a name the RedisConfig would write
	// that the cache does not hold (it holds only the operator's own).
	APIReader client.Reader
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// Random is the source of generated passwords; crypto/rand when nil.
	Random io.Reader
	// Now is the clock for status times; time.Now when nil.
	Now func() time.Time
	// DialAddress overrides the address the operator dials to configure a
	// managed Redis (its Service's address when nil). Tests use it to run
	// the managed server outside a cluster.
	DialAddress func(*queueworkerv1alpha1.RedisConfig) string
	// NewClient builds the Redis client; queue.NewUniversalClient when nil.
	NewClient func(resources.RedisEndpoint, queue.Credentials) (redis.UniversalClient, error)
	// AllowedImages are the image patterns a Managed RedisConfig may run
	// (the server and the exporter): an entry ending in "*" matches every
	// image it prefixes, any other entry one image exactly.
	// DefaultAllowedImages when nil.
	AllowedImages []string
	// AllowPasswordlessExternal lets an External RedisConfig without
	// spec.auth configure a server that needs no password.
	AllowPasswordlessExternal bool
	// SecretResyncPeriod is how often the Secrets a RedisConfig names are
	// read and checked again; DefaultSecretResyncPeriod when zero.
	SecretResyncPeriod time.Duration
	// StalledRetryPeriod is how often a missing Secret, or an object of a
	// name the RedisConfig would write that someone else controls, is
	// looked at again; DefaultStalledRetryPeriod when zero.
	StalledRetryPeriod time.Duration
	// MaxConcurrentReconciles is how many RedisConfigs are reconciled at
	// once; controller-runtime's default of one when zero.
	MaxConcurrentReconciles int
	// MemoryRecheckInterval is how often a server whose memory passed 80%
	// of maxmemory is read again for status.capacity;
	// DefaultMemoryRecheckInterval when zero.
	MemoryRecheckInterval time.Duration

	// applied remembers the last successful application per RedisConfig.
	applied appliedCache
	// statuses keeps which status patches the cache has yet to show.
	statuses cacheWrites
}

// redisConfigState is what the steps of one reconcile share.
type redisConfigState struct {
	rc          *queueworkerv1alpha1.RedisConfig
	directives  []redisconf.Directive
	conf        []byte
	configHash  string
	restartHash string
	// password is the server's (mode Managed) or the operator's (mode
	// External) password, and passwordRef where it is.
	password    string
	passwordRef resources.SecretKey
	secretHash  string
	// passwordPins are the addresses the password may be sent to, nil
	// when any.
	passwordPins []string
	// clientPasswordRef and clientUsername are what the RedisConfig's
	// clients get; empty when they get nothing.
	clientPasswordRef resources.SecretKey
	clientUsername    string
	// caPEM is the CA the operator checks the server against, if any.
	caPEM []byte
	sts   *appsv1.StatefulSet
	// applied is set once the configuration reached the server.
	appliedReason, appliedMessage string
	applied                       bool
	nodes                         []string
	// values are what the apply read back from the servers: the keys it
	// set and, in mode External, the typed keys the spec leaves unset.
	values []redisadmin.Value
	// events are the reconcile's events, emitted once its status is
	// written.
	events *eventBuffer
	// demand is what the RedisConfig's QueueWorkers may ask of the server;
	// usage the servers' memory and clients as last read (nil when not
	// read), for status.capacity.
	demand *clientDemand
	usage  *usageReading
	// inForce describes the memory limit, policy and persistence in force,
	// for the status and its printer columns: rendered in mode Managed,
	// read from the server in mode External; nil when unknown.
	inForce *inForce
}

// inForce is what status.maxMemory, status.policy and status.persistence
// say.
type inForce struct {
	maxMemory, policy, persistence string
}

// +kubebuilder:rbac:groups=queueworker.io,resources=redisconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=queueworker.io,resources=redisconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=queueworker.io,resources=redisconfigs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update;patch

// Reconcile renders, runs or applies one RedisConfig.
func (r *RedisConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	rc := &queueworkerv1alpha1.RedisConfig{}
	if err := r.Client.Get(ctx, req.NamespacedName, rc); err != nil {
		if apierrors.IsNotFound(err) {
			r.applied.forget(req.NamespacedName)
			r.statuses.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rc.DeletionTimestamp.IsZero() {
		r.applied.forget(req.NamespacedName)
		r.statuses.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if r.statuses.behind(req.NamespacedName, rc.ResourceVersion, time.Now()) {
		return ctrl.Result{RequeueAfter: cacheLagRetry}, nil
	}
	orig := rc.DeepCopy()
	st := &redisConfigState{rc: rc, events: &eventBuffer{}}
	// err is how the steps ended; the summary derives the status from it
	// and the one status patch follows.
	var err error
	defer func() {
		r.summarizeRedisConfig(st, orig.Status.Conditions, err)
		changed := !equality.Semantic.DeepEqual(orig.Status, rc.Status)
		perr := patchStatus(ctx, r.Client, rc, orig, changed, &r.statuses)
		switch {
		case perr != nil && retErr == nil:
			result, retErr = ctrl.Result{}, perr
		case perr == nil && !transient(err):
			st.events.flush(r.Recorder)
		}
	}()
	steps := []step[*redisConfigState]{r.reconcileRender, r.reconcileAuth, r.reconcileClients}
	if rc.Spec.Mode == queueworkerv1alpha1.RedisConfigExternal {
		steps = append(steps, r.reconcileExternal)
	} else {
		steps = append(steps, r.reconcileManaged, r.reconcileManagedApply)
	}
	var res ctrl.Result
	res, err = runSteps(ctx, st, steps...)
	return resultOf(res, err, r.stalledRetryPeriod())
}

func (r *RedisConfigReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *RedisConfigReconciler) setCondition(rc *queueworkerv1alpha1.RedisConfig, condType string,
	status metav1.ConditionStatus, reason, msg string) bool {
	return setCondition(&rc.Status.Conditions, rc.Generation, condType, status, reason, msg)
}

// SetupWithManager registers the controller. It owns the ConfigMap,
// Service and StatefulSet of a managed Redis (the cache holds only objects
// labelled as the operator's); Secrets are read uncached and not watched.
// It watches the QueueWorkers that use a RedisConfig, whose most pods and
// pool sizes make the worst case of clients in status.capacity.
func (r *RedisConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Recorder = limitNotes(r.Recorder)
	if err := indexConfigRef(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&queueworkerv1alpha1.RedisConfig{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Service{}).
		Owns(&appsv1.StatefulSet{}).
		Watches(&queueworkerv1alpha1.QueueWorker{}, handler.EnqueueRequestsFromMapFunc(redisConfigOfQueueWorker),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("redisconfig").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

func (r *RedisConfigReconciler) secretResyncPeriod() time.Duration {
	if r.SecretResyncPeriod > 0 {
		return r.SecretResyncPeriod
	}
	return DefaultSecretResyncPeriod
}

func (r *RedisConfigReconciler) stalledRetryPeriod() time.Duration {
	if r.StalledRetryPeriod > 0 {
		return r.StalledRetryPeriod
	}
	return DefaultStalledRetryPeriod
}

func (r *RedisConfigReconciler) random() io.Reader {
	if r.Random != nil {
		return r.Random
	}
	return rand.Reader
}

func (r *RedisConfigReconciler) newClient(ep resources.RedisEndpoint, creds queue.Credentials) (redis.UniversalClient, error) {
	if r.NewClient != nil {
		return r.NewClient(ep, creds)
	}
	return queue.NewUniversalClient(ep, creds)
}
