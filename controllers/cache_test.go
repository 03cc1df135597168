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
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

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
