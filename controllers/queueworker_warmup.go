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
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// warmUp registers every autoscaled QueueWorker the cache holds with the
// autoscaler as soon as this process leads (at its start, or when it
// takes over from a leader that failed), without waiting for their
// reconciles. A reconcile checks and writes the whole Deployment, and
// thousands of them take a while; registering takes the QueueWorker's
// connection and its Deployment's replica count from the cache, so every
// QueueWorker is decided on within a read of its start, and a burst that
// arrived meanwhile scales at once. The reconciles follow as usual, each
// refreshing its QueueWorker's registration.
//
// It writes nothing: a QueueWorker whose connection does not resolve, or
// that has no Deployment of its own yet, is left to its reconcile, which
// says why.
type warmUp struct {
	r *QueueWorkerReconciler
	// synced waits for the manager's cache to sync (its
	// WaitForCacheSync).
	synced func(context.Context) bool
	// workers is how many QueueWorkers are registered at once: a Secret's
	// GET is the slow part.
	workers int
}

// NeedLeaderElection runs the warm-up on the leader only, with the
// autoscaler.
func (warmUp) NeedLeaderElection() bool { return true }

// Start registers the QueueWorkers once the cache has synced, and returns.
func (w warmUp) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("warm-up")
	if !w.synced(ctx) {
		return nil
	}
	start := time.Now()
	registered, total, err := w.run(ctx)
	if err != nil {
		// The reconciles register them all the same, later.
		log.Error(err, "listing the QueueWorkers to register with the autoscaler")
		return nil
	}
	log.Info("registered the autoscaled QueueWorkers with the autoscaler", "registered", registered,
		"queueWorkers", total, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// run registers the QueueWorkers and returns how many it registered of
// how many there are.
func (w warmUp) run(ctx context.Context) (registered, total int, err error) {
	list := &queueworkerv1alpha1.QueueWorkerList{}
	if err := w.r.Client.List(ctx, list); err != nil {
		return 0, 0, err
	}
	items := make(chan *queueworkerv1alpha1.QueueWorker)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range max(w.workers, 1) {
		wg.Go(func() {
			for qw := range items {
				if w.r.register(ctx, qw) {
					mu.Lock()
					registered++
					mu.Unlock()
				}
			}
		})
	}
	for i := range list.Items {
		if ctx.Err() != nil {
			break
		}
		items <- &list.Items[i]
	}
	close(items)
	wg.Wait()
	return registered, len(list.Items), nil
}

// register registers qw with the autoscaler from what the cache holds,
// and reports whether it did; see warmUp.
func (r *QueueWorkerReconciler) register(ctx context.Context, qw *queueworkerv1alpha1.QueueWorker) bool {
	if qw.Spec.Autoscaling == nil || !qw.DeletionTimestamp.IsZero() || resources.CheckQueueWorkerName(qw.Name) != nil {
		return false
	}
	st := &queueWorkerState{qw: qw, events: &eventBuffer{}}
	if _, err := r.reconcileConnection(ctx, st); err != nil {
		return false
	}
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(qw), dep); err != nil || !metav1.IsControlledBy(dep, qw) {
		return false
	}
	_, err := r.Autoscaler.Update(client.ObjectKeyFromObject(qw), scaleTarget(st, dep))
	return err == nil
}
