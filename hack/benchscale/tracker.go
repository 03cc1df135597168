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

package benchscale

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// replicaChange is a Deployment's spec.replicas as a watch saw it change.
type replicaChange struct {
	at       time.Time
	replicas int32
}

// Tracker watches the benchmark's namespace and records when each
// QueueWorker's status first shows a read of its queues, each Deployment's
// spec.replicas over time, and the writes it sees: changed QueueWorkers
// and Deployments, new Events, renewals of the operator's lease. The times
// are when the watch delivered the change, the same small delay for all.
type Tracker struct {
	mu sync.Mutex
	// decided: the first time RedisReachable left Unknown (or was seen
	// set already).
	decided map[string]time.Time
	// ready: the QueueWorker's Ready condition is True now.
	ready    map[string]bool
	replicas map[string][]replicaChange
	// pods is each Deployment's status.replicas: pods that still exist.
	pods map[string]int32
	// holder of the operator's lease and when it last changed.
	holder        string
	holderChanged time.Time

	qwUpdates, depUpdates, events, leaseUpdates int
}

// Counts are the writes a Tracker has seen so far.
type Counts struct {
	QueueWorkers, Deployments, Events, Lease int
}

// leaseName is the operator's leader election lease (cmd/manager).
const leaseName = "queueworker-operator.queueworker.io"

// StartTracker starts the watches and waits until they have synced.
func StartTracker(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, ns string) (*Tracker, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, err
	}
	t := &Tracker{decided: map[string]time.Time{}, ready: map[string]bool{}, replicas: map[string][]replicaChange{}, pods: map[string]int32{}}
	handlers := []struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}{
		{&queueworkerv1alpha1.QueueWorker{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.queueWorker(o, false) },
			UpdateFunc: func(_, o any) { t.queueWorker(o, true) },
		}},
		{&appsv1.Deployment{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.deployment(o, false) },
			UpdateFunc: func(_, o any) { t.deployment(o, true) },
		}},
		{&corev1.Event{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { t.count(&t.events) },
		}},
		{&coordinationv1.Lease{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.lease(o, false) },
			UpdateFunc: func(_, o any) { t.lease(o, true) },
		}},
	}
	for _, h := range handlers {
		inf, err := c.GetInformer(ctx, h.obj)
		if err != nil {
			return nil, fmt.Errorf("watching %T: %w", h.obj, err)
		}
		if _, err := inf.AddEventHandler(h.h); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the watches of namespace %s did not sync", ns)
	}
	return t, nil
}

func (t *Tracker) count(n *int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*n++
}

func (t *Tracker) queueWorker(o any, update bool) {
	qw, ok := o.(*queueworkerv1alpha1.QueueWorker)
	if !ok {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if update {
		t.qwUpdates++
	}
	t.ready[qw.Name] = apimeta.IsStatusConditionTrue(qw.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	if _, seen := t.decided[qw.Name]; seen {
		return
	}
	c := apimeta.FindStatusCondition(qw.Status.Conditions, queueworkerv1alpha1.ConditionRedisReachable)
	if c != nil && c.Status != metav1.ConditionUnknown {
		t.decided[qw.Name] = now
	}
}

func (t *Tracker) deployment(o any, update bool) {
	d, ok := o.(*appsv1.Deployment)
	if !ok {
		return
	}
	now := time.Now()
	r := ptr.Deref(d.Spec.Replicas, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if update {
		t.depUpdates++
	}
	t.pods[d.Name] = d.Status.Replicas
	h := t.replicas[d.Name]
	if len(h) == 0 || h[len(h)-1].replicas != r {
		t.replicas[d.Name] = append(h, replicaChange{at: now, replicas: r})
	}
}

func (t *Tracker) lease(o any, update bool) {
	l, ok := o.(*coordinationv1.Lease)
	if !ok || l.Name != leaseName {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if update {
		t.leaseUpdates++
	}
	if h := ptr.Deref(l.Spec.HolderIdentity, ""); h != t.holder {
		t.holder, t.holderChanged = h, now
	}
}

// Counts returns the writes seen so far.
func (t *Tracker) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Counts{QueueWorkers: t.qwUpdates, Deployments: t.depUpdates, Events: t.events, Lease: t.leaseUpdates}
}

// DecidedTimes returns when each QueueWorker's status first showed a read.
func (t *Tracker) DecidedTimes() map[string]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.decided)
}

// ReadyCount counts the QueueWorkers whose Ready condition is True.
func (t *Tracker) ReadyCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.ready {
		if r {
			n++
		}
	}
	return n
}

// Replicas returns a Deployment's spec.replicas as last seen, and whether
// the Deployment exists.
func (t *Tracker) Replicas(name string) (int32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.replicas[name]
	if len(h) == 0 {
		return 0, false
	}
	return h[len(h)-1].replicas, true
}

// DeploymentsAt counts the Deployments whose spec.replicas and
// status.replicas are both n now, and all the Deployments.
func (t *Tracker) DeploymentsAt(n int32) (at, all int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, h := range t.replicas {
		if h[len(h)-1].replicas == n && t.pods[name] == n {
			at++
		}
	}
	return at, len(t.replicas)
}

// RoseAfter returns when a Deployment's spec.replicas first rose above
// from at or after since.
func (t *Tracker) RoseAfter(name string, from int32, since time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.replicas[name] {
		if !c.at.Before(since) && c.replicas > from {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// Holder returns the lease's holder and when the tracker saw it change.
func (t *Tracker) Holder() (string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.holder, t.holderChanged
}
