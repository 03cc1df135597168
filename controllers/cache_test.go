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
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// TestStripForCache: the cache keeps an object without its managed fields
// and kubectl's last-applied annotation, and with everything else,
// annotations included; what is not an object passes as it is.
func TestStripForCache(t *testing.T) {
	qw := &queueworkerv1alpha1.QueueWorker{}
	qw.Name = "w"
	qw.Annotations = map[string]string{lastAppliedAnnotation: `{"spec":{}}`, "team": "payments"}
	qw.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	qw.Spec.Concurrency = 7
	shared := qw.Annotations
	out, err := stripForCache(qw)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*queueworkerv1alpha1.QueueWorker)
	if got.ManagedFields != nil {
		t.Errorf("managed fields kept: %v", got.ManagedFields)
	}
	if want := map[string]string{"team": "payments"}; !maps.Equal(got.Annotations, want) {
		t.Errorf("annotations %v, want %v", got.Annotations, want)
	}
	if got.Name != "w" || got.Spec.Concurrency != 7 {
		t.Errorf("the object changed beyond the two: %+v", got)
	}
	if _, ok := shared[lastAppliedAnnotation]; !ok {
		t.Error("the map the object held before was changed in place")
	}

	pod := workerPodMetadata()
	pod.Annotations = map[string]string{"a": "b"}
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	out, _ = stripForCache(pod)
	if p := out.(*metav1.PartialObjectMetadata); p.ManagedFields != nil || !maps.Equal(p.Annotations, map[string]string{"a": "b"}) {
		t.Errorf("pod metadata %+v", p.ObjectMeta)
	}

	tomb := cache.DeletedFinalStateUnknown{Key: "ns/w"}
	if out, err := stripForCache(tomb); err != nil || out != tomb {
		t.Errorf("a tombstone came out as %v, %v", out, err)
	}
}

// TestCacheStripKeepsServerFields: the cache drops kubectl's last-applied
// annotation and the managed fields; the operator's status writes leave
// both as they are on the server.
func TestCacheStripKeepsServerFields(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "kubectl", redisServer.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 3})
	qw.TypeMeta = metav1.TypeMeta{APIVersion: queueworkerv1alpha1.GroupVersion.String(), Kind: "QueueWorker"}
	raw, err := json.Marshal(qw)
	if err != nil {
		t.Fatal(err)
	}
	qw.Annotations = map[string]string{lastAppliedAnnotation: string(raw), "team": "a"}
	if err := k8sClient.Create(testCtx, qw, client.FieldOwner("kubectl-client-side-apply")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RedisReachable=True", func() error {
		return conditionIs(getQueueWorker(t, ns, "kubectl"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	enqueue(t, redisServer.Addr, qw.Spec.Queues[0].Name, 2)
	eventually(t, "backlog 2", func() error {
		if b := getQueueWorker(t, ns, "kubectl").Status.Backlog; b != 2 {
			return fmt.Errorf("backlog %d", b)
		}
		return nil
	})
	got := getQueueWorker(t, ns, "kubectl")
	if got.Annotations[lastAppliedAnnotation] != string(raw) || got.Annotations["team"] != "a" {
		t.Errorf("annotations after the operator's writes: %v", got.Annotations)
	}
	managers := make([]string, 0, len(got.ManagedFields))
	for _, e := range got.ManagedFields {
		managers = append(managers, e.Manager+"/"+string(e.Operation)+"/"+e.Subresource)
	}
	if !strings.Contains(strings.Join(managers, ","), "kubectl-client-side-apply/Update/") {
		t.Errorf("managed fields after the operator's writes: %v", managers)
	}
}
