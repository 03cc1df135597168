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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// lastAppliedAnnotation is where `kubectl apply` keeps the whole object it
// last applied: as large as the spec, and never read by the operator.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheByObject tells the manager's cache what to hold, and how, for the
// reconcilers of this package. Of the Deployments, StatefulSets, Services,
// ConfigMaps and pods only the operator's own (the label
// app.kubernetes.io/managed-by); Secrets are never cached, they are read
// with direct GETs. The pods are held as metadata only (workerPodMetadata):
// their names, labels and annotations are what the scale-down ranks and
// drains them by. The QueueWorkers, RedisConfigs and pods are held without
// their managed fields and kubectl's last-applied annotation
// (stripForCache), which the operator never reads and which make up most
// of such an object's size; the objects it writes with server-side apply
// keep their managed fields, from which it tells what it owns.
func CacheByObject() map[client.Object]cache.ByObject {
	ours := labels.SelectorFromSet(labels.Set{resources.LabelManagedBy: resources.ManagerName})
	return map[client.Object]cache.ByObject{
		&appsv1.Deployment{}:               {Label: ours},
		&appsv1.StatefulSet{}:              {Label: ours},
		&corev1.Service{}:                  {Label: ours},
		&corev1.ConfigMap{}:                {Label: ours},
		workerPodMetadata():                {Label: ours, Transform: stripForCache},
		&queueworkerv1alpha1.QueueWorker{}: {Transform: stripForCache},
		&queueworkerv1alpha1.RedisConfig{}: {Transform: stripForCache},
	}
}

// stripForCache drops from an object on its way into the cache what the
// operator never reads: its managed fields and kubectl's last-applied
// annotation. A status patch computed from such an object leaves both as
// they are on the server: neither differs between the object read and the
// object written.
func stripForCache(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	o.SetManagedFields(nil)
	if a := o.GetAnnotations(); a != nil {
		if _, ok := a[lastAppliedAnnotation]; ok {
			kept := make(map[string]string, len(a)-1)
			for k, v := range a {
				if k != lastAppliedAnnotation {
					kept[k] = v
				}
			}
			o.SetAnnotations(kept)
		}
	}
	return obj, nil
}
