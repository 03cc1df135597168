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

package podrunner

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestClaimProvisionerNewClaim checks that a claim created again under the
// name of a deleted one starts empty, as a new volume does in a cluster:
// the data of the deleted claim (a Redis's append-only file, with its
// tasks) does not come back.
func TestClaimProvisionerNewClaim(t *testing.T) {
	state := t.TempDir()
	dir := ClaimDir(state, "apps", "data-jobs-redis-0")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "appendonly.aof")
	if err := os.WriteFile(old, []byte("tasks of the deleted claim"), 0o644); err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "data-jobs-redis-0", UID: "c-2"},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	c := fake.NewClientBuilder().WithObjects(claim).WithStatusSubresource(claim).Build()
	p := claimProvisioner{r: &Runner{client: c, opts: Options{StateDir: state}}}
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "apps", Name: "data-jobs-redis-0"}}
	if _, err := p.Reconcile(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var pv corev1.PersistentVolume
	if err := c.Get(context.Background(), types.NamespacedName{Name: "podrunner-c-2"}, &pv); err != nil {
		t.Fatalf("the claim's volume: %v", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("a new claim finds the file of a deleted one (stat: %v)", err)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Errorf("the claim's directory: %v, want an empty one", err)
	}
}
