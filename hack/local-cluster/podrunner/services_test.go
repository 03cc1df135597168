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
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestServiceLoopbackAddress(t *testing.T) {
	prefix := net.ParseIP("127.194.0.0")
	tests := []struct {
		clusterIP, want string
		ok              bool
	}{
		{"10.96.0.1", "127.194.0.1", true},
		{"10.96.12.34", "127.194.12.34", true},
		{"None", "", false},
		{"", "", false},
		{"fd00::1", "", false},
	}
	for _, tt := range tests {
		got, ok := ServiceLoopbackAddress(prefix, tt.clusterIP)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ServiceLoopbackAddress(%q) = %q, %v; want %q, %v", tt.clusterIP, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHostsFile(t *testing.T) {
	svc := func(ns, name, ip string) corev1.Service {
		return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip}}
	}
	got := string(HostsFile([]byte("127.0.0.1 localhost"), net.ParseIP("127.164.0.0"), []corev1.Service{
		svc("b", "redis", "10.96.3.4"),
		svc("a", "jobs-redis", "10.96.1.2"),
		svc("a", "headless", "None"),
	}))
	want := "127.0.0.1 localhost\n" +
		"# Services of the local cluster (hack/local-cluster/podrunner)\n" +
		"127.164.1.2 jobs-redis.a.svc jobs-redis.a.svc.cluster.local\n" +
		"127.164.3.4 redis.b.svc redis.b.svc.cluster.local\n"
	if got != want {
		t.Errorf("HostsFile =\n%s\nwant\n%s", got, want)
	}
}

func TestBuildClaimVolume(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "data-jobs-redis-0", UID: "c-1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("1Gi"),
			}},
		},
	}
	pv := BuildClaimVolume(claim, "/state/volumes/apps_data-jobs-redis-0")
	ref := pv.Spec.ClaimRef
	switch {
	case ref == nil || ref.Namespace != "apps" || ref.Name != "data-jobs-redis-0" || ref.UID != "c-1":
		t.Errorf("claimRef = %+v, want the claim", ref)
	case pv.Spec.StorageClassName != "":
		t.Errorf("storageClassName = %q, want the claim's (none)", pv.Spec.StorageClassName)
	case pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != "/state/volumes/apps_data-jobs-redis-0":
		t.Errorf("hostPath = %+v", pv.Spec.HostPath)
	case !pv.Spec.Capacity.Storage().Equal(resource.MustParse("1Gi")):
		t.Errorf("capacity = %v, want the request", pv.Spec.Capacity)
	case pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain:
		t.Errorf("reclaim policy %s, want Retain", pv.Spec.PersistentVolumeReclaimPolicy)
	}
	claim.Spec.StorageClassName = ptr.To("fast")
	if pv := BuildClaimVolume(claim, "/x"); pv.Spec.StorageClassName != "fast" {
		t.Errorf("storageClassName = %q, want the claim's", pv.Spec.StorageClassName)
	}
}
