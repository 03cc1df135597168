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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/scaling"
)

// TestWarmUpRegistersWithoutReconciles: a new leader's autoscaler (here a
// second one, beside the suite's operator) learns of every autoscaled
// QueueWorker with a Deployment of its own from the warm-up alone, before
// any reconcile of its own: its first read decides for them, and a burst
// queued meanwhile shows in that decision. A QueueWorker without
// autoscaling, and one whose Deployment it does not control, are left to
// their reconciles.
func TestWarmUpRegistersWithoutReconciles(t *testing.T) {
	ns := createNamespace(t)
	as := queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10}
	burst := autoscaledQueueWorker(ns, "burst", redisServer.Addr, as)
	createObject(t, burst)
	createObject(t, newQueueWorker(ns, "fixed"))
	waitDeploymentReplicas(t, ns, "fixed", 1)
	// A Deployment of the name of a QueueWorker created after it belongs to
	// someone else.
	foreign := &appsv1.Deployment{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "fixed"}, foreign); err != nil {
		t.Fatal(err)
	}
	foreign.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: "other"}
	foreign.Spec.Template.Labels = map[string]string{"app": "other"}
	foreign.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
	createObject(t, foreign)
	createObject(t, autoscaledQueueWorker(ns, "other", redisServer.Addr, as))
	waitDeploymentReplicas(t, ns, "burst", 0)
	enqueue(t, redisServer.Addr, burst.Spec.Queues[0].Name, 3)

	ctx, cancel := context.WithCancel(testCtx)
	a := scaling.NewAutoscaler(queue.NewPool(nil))
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopping the autoscaler: %v", err)
		}
	})
	r := &QueueWorkerReconciler{Client: namespaceOnly{k8sClient, ns}, APIReader: k8sClient, Autoscaler: a}
	registered, total, err := warmUp{r: r, synced: func(context.Context) bool { return true }, workers: 2}.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if registered != 1 || total != 3 {
		t.Errorf("registered %d of %d QueueWorkers, want 1 of 3", registered, total)
	}
	select {
	case e := <-a.Events():
		if e.Object.GetName() != "burst" || e.Object.GetNamespace() != ns {
			t.Errorf("woke %s/%s, want %s/burst", e.Object.GetNamespace(), e.Object.GetName(), ns)
		}
	case <-time.After(eventuallyTimeout):
		t.Fatal("the autoscaler decided nothing")
	}
	// What a reconcile would now get: the decision of that first read.
	got := getQueueWorker(t, ns, "burst")
	st := &queueWorkerState{qw: got, events: &eventBuffer{}}
	if _, err := r.reconcileConnection(ctx, st); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(got), dep); err != nil {
		t.Fatal(err)
	}
	res, err := a.Update(client.ObjectKeyFromObject(got), scaleTarget(st, dep))
	if err != nil || res == nil {
		t.Fatalf("Update: %+v, %v", res, err)
	}
	if res.Decision.Backlog != 3 || res.Decision.DesiredReplicas == 0 {
		t.Errorf("decision %+v, want a backlog of 3 and workers", res.Decision)
	}
}

// namespaceOnly lists in one namespace only, as if the cluster held nothing
// else: the warm-up lists every namespace.
type namespaceOnly struct {
	client.Client
	ns string
}

func (c namespaceOnly) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.Client.List(ctx, list, append(opts, client.InNamespace(c.ns))...)
}
