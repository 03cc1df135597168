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
	"io"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
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

// TestServiceProxy forwards a connection to the Service's port to the
// moved address of a ready container that the Service selects, by the
// target port's name, and closes it at once when none is ready.
func TestServiceProxy(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = backend.Close() }()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				_, _ = c.Write(append([]byte("echo "), buf[:n]...))
			}()
		}
	}()

	cs := &containerState{
		name:  "redis",
		addrs: Addresses{6379: backend.Addr().String()},
		ports: map[string]int32{"redis": 6379},
		proc:  &process{done: make(chan struct{})}, // running
	}
	r := &Runner{pods: map[types.NamespacedName]*podState{
		{Namespace: "apps", Name: "jobs-redis-0"}: {
			key:        types.NamespacedName{Namespace: "apps", Name: "jobs-redis-0"},
			labels:     map[string]string{"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "jobs"},
			containers: map[string]*containerState{"redis": cs},
		},
	}}
	p := &serviceProxy{r: r, listeners: map[string]*serviceListener{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl := &serviceListener{l: l, namespace: "apps", targetPort: intstr.FromString("redis"),
		selector: labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": "jobs"})}
	p.listeners[l.Addr().String()] = sl
	go p.serve(sl)
	defer p.close()

	roundTrip := func() (string, error) {
		c, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
		if err != nil {
			return "", err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return "", err
		}
		b, err := io.ReadAll(c)
		return string(b), err
	}
	cs.ready.Store(true)
	if got, err := roundTrip(); got != "echo ping" {
		t.Errorf("through the Service: %q, %v; want the backend's echo", got, err)
	}

	cs.ready.Store(false)
	if got, _ := roundTrip(); got != "" {
		t.Errorf("with no ready container: %q; want the connection closed without an answer", got)
	}

	cs.ready.Store(true)
	p.mu.Lock() // as Reconcile changes a listener's Service
	sl.selector = labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": "other"})
	p.mu.Unlock()
	if got, _ := roundTrip(); got != "" {
		t.Errorf("with a selector that matches no pod: %q; want the connection closed", got)
	}
}
