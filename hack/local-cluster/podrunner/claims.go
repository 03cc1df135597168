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
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Claims. The local cluster has no storage provisioner, and the scheduler
// keeps a pod whose claim is unbound Pending. The runner provisions every
// claim that waits for a volume: it creates a PersistentVolume pre-bound to
// the claim (its claimRef), whose hostPath is the claim's directory under
// the state dir, and the controller manager's binder binds the two. The
// directory is keyed by namespace and claim name, so it outlives the pods
// that mount it, as a StatefulSet's data does. It outlives the claim too,
// until the state dir goes or a new claim of that name is provisioned,
// which starts empty.

// ClaimDir is the directory of claim ns/name under stateDir.
func ClaimDir(stateDir, namespace, claim string) string {
	return filepath.Join(stateDir, "volumes", namespace+"_"+claim)
}

// BuildClaimVolume returns the PersistentVolume that serves claim from dir.
func BuildClaimVolume(claim *corev1.PersistentVolumeClaim, dir string) *corev1.PersistentVolume {
	size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	modes := claim.Spec.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "podrunner-" + string(claim.UID),
			Labels: map[string]string{"app.kubernetes.io/managed-by": "podrunner"},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes: modes,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              ptr.Deref(claim.Spec.StorageClassName, ""),
			VolumeMode:                    claim.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dir, Type: ptr.To(corev1.HostPathDirectoryOrCreate),
			}},
		},
	}
}

// claimProvisioner creates the volume of each claim that waits for one.
type claimProvisioner struct{ r *Runner }

func (p claimProvisioner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var claim corev1.PersistentVolumeClaim
	if err := p.r.client.Get(ctx, req.NamespacedName, &claim); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if claim.Spec.VolumeName != "" || claim.Status.Phase != corev1.ClaimPending || claim.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	// A Pending claim without a volume is a new one: a directory left by a
	// deleted claim of the same name holds that claim's data, which a new
	// volume does not have.
	dir := ClaimDir(p.r.opts.StateDir, claim.Namespace, claim.Name)
	if err := os.RemoveAll(dir); err != nil {
		return ctrl.Result{}, fmt.Errorf("emptying the directory of claim %s: %w", req, err)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return ctrl.Result{}, fmt.Errorf("creating the directory of claim %s: %w", req, err)
	}
	pv := BuildClaimVolume(&claim, dir)
	if err := p.r.client.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating a volume for claim %s: %w", req, err)
	}
	logf.FromContext(ctx).Info("provisioned a volume", "claim", req.String(), "volume", pv.Name, "path", pv.Spec.HostPath.Path)
	return ctrl.Result{}, nil
}
