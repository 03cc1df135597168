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
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// fakeSources holds Secrets and ConfigMaps of namespace "apps".
type fakeSources struct {
	secrets    map[string]map[string][]byte
	configMaps map[string]map[string]string
}

func (f fakeSources) Secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	d, ok := f.secrets[name]
	if !ok || ns != "apps" {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
	}
	return &corev1.Secret{Data: d}, nil
}

func (f fakeSources) ConfigMap(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
	d, ok := f.configMaps[name]
	if !ok || ns != "apps" {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
	}
	return &corev1.ConfigMap{Data: d}, nil
}

func secretRef(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
}

func configMapRef(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: ptr.To(optional)}}
}

func fieldRef(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
}

func TestResolveEnv(t *testing.T) {
	src := fakeSources{
		secrets: map[string]map[string][]byte{
			"redis":  {"password": []byte("s3cret")},
			"bundle": {"TOKEN": []byte("t"), "not a name": []byte("x")},
		},
		configMaps: map[string]map[string]string{
			"tuning": {"QUEUEWORKER_CONCURRENCY": "8", "QUEUEWORKER_REDIS_POOL_SIZE": "20", "1BAD": "x"},
			"app":    {"level": "debug"},
		},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "w-1", Namespace: "apps", UID: "uid-1",
			Labels: map[string]string{"app": "email"}, Annotations: map[string]string{"team": "mail"}},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0", ServiceAccountName: "worker",
			Containers: []corev1.Container{{Name: "worker"}, {Name: "sidecar", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
		Status: corev1.PodStatus{PodIP: "10.244.0.7"},
	}
	limited := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
	}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi")}

	tests := []struct {
		name      string
		env       []corev1.EnvVar
		envFrom   []corev1.EnvFromSource
		resources corev1.ResourceRequirements
		want      []EnvVar
		wantErr   string
	}{
		{name: "literal values in order",
			env:  []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
			want: []EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}},
		{name: "a reference sees only earlier variables",
			env:  []corev1.EnvVar{{Name: "X", Value: "$(Y)"}, {Name: "Y", Value: "y"}, {Name: "Z", Value: "$(Y)-$$(Y)"}},
			want: []EnvVar{{Name: "X", Value: "$(Y)"}, {Name: "Y", Value: "y"}, {Name: "Z", Value: "y-$(Y)"}}},
		{name: "a later variable replaces an earlier one in place",
			env:  []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "A", Value: "3"}},
			want: []EnvVar{{Name: "A", Value: "3"}, {Name: "B", Value: "2"}}},
		{name: "secretKeyRef and configMapKeyRef",
			env: []corev1.EnvVar{
				{Name: "QUEUEWORKER_REDIS_PASSWORD", ValueFrom: secretRef("redis", "password", false)},
				{Name: "LEVEL", ValueFrom: configMapRef("app", "level", false)},
				{Name: "ARG", Value: "--log-level=$(LEVEL)"},
			},
			want: []EnvVar{{Name: "QUEUEWORKER_REDIS_PASSWORD", Value: "s3cret", Secret: true}, {Name: "LEVEL", Value: "debug"}, {Name: "ARG", Value: "--log-level=debug"}}},
		{name: "optional references to missing objects or keys are left out",
			env: []corev1.EnvVar{
				{Name: "P1", ValueFrom: secretRef("absent", "password", true)},
				{Name: "P2", ValueFrom: secretRef("redis", "absent", true)},
				{Name: "C1", ValueFrom: configMapRef("absent", "k", true)},
				{Name: "C2", ValueFrom: configMapRef("app", "absent", true)},
				{Name: "KEPT", Value: "k"},
			},
			want: []EnvVar{{Name: "KEPT", Value: "k"}}},
		{name: "missing secret", env: []corev1.EnvVar{{Name: "P", ValueFrom: secretRef("absent", "password", false)}},
			wantErr: "env P: secret \"absent\""},
		{name: "missing secret key", env: []corev1.EnvVar{{Name: "P", ValueFrom: secretRef("redis", "nope", false)}},
			wantErr: "secret \"redis\" has no key \"nope\""},
		{name: "missing configmap key", env: []corev1.EnvVar{{Name: "C", ValueFrom: configMapRef("app", "nope", false)}},
			wantErr: "configmap \"app\" has no key \"nope\""},
		{name: "fieldRefs",
			env: []corev1.EnvVar{
				{Name: "NAME", ValueFrom: fieldRef("metadata.name")},
				{Name: "NS", ValueFrom: fieldRef("metadata.namespace")},
				{Name: "UID", ValueFrom: fieldRef("metadata.uid")},
				{Name: "APP", ValueFrom: fieldRef("metadata.labels['app']")},
				{Name: "TEAM", ValueFrom: fieldRef("metadata.annotations['team']")},
				{Name: "NODE", ValueFrom: fieldRef("spec.nodeName")},
				{Name: "SA", ValueFrom: fieldRef("spec.serviceAccountName")},
				{Name: "POD_IP", ValueFrom: fieldRef("status.podIP")},
				{Name: "HOST_IP", ValueFrom: fieldRef("status.hostIP")},
			},
			want: []EnvVar{{Name: "NAME", Value: "w-1"}, {Name: "NS", Value: "apps"}, {Name: "UID", Value: "uid-1"}, {Name: "APP", Value: "email"}, {Name: "TEAM", Value: "mail"},
				{Name: "NODE", Value: "kwok-node-0"}, {Name: "SA", Value: "worker"}, {Name: "POD_IP", Value: "127.0.0.1"}, {Name: "HOST_IP", Value: "127.0.0.1"}}},
		{name: "unknown fieldRef", env: []corev1.EnvVar{{Name: "F", ValueFrom: fieldRef("spec.hostname")}},
			wantErr: "fieldRef \"spec.hostname\" is not supported"},
		{name: "envFrom in order, sorted keys, invalid names skipped, env wins",
			envFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "tuning"}}},
				{Prefix: "BUNDLE_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "bundle"}}},
			},
			env:  []corev1.EnvVar{{Name: "QUEUEWORKER_CONCURRENCY", Value: "2"}},
			want: []EnvVar{{Name: "QUEUEWORKER_CONCURRENCY", Value: "2"}, {Name: "QUEUEWORKER_REDIS_POOL_SIZE", Value: "20"}, {Name: "BUNDLE_TOKEN", Value: "t", Secret: true}}},
		{name: "optional envFrom source missing",
			envFrom: []corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
			},
			want: nil},
		{name: "envFrom source missing",
			envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}}}},
			wantErr: "envFrom: configmap \"absent\""},
		{name: "resourceFieldRefs round up by the divisor; an unset limit is the node's",
			resources: limited,
			env: []corev1.EnvVar{
				{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
				{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
				{Name: "SIDECAR_MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "sidecar", Resource: "limits.memory"}}},
				{Name: "SIDECAR_CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "sidecar", Resource: "limits.cpu"}}},
			},
			want: []EnvVar{{Name: "CPU", Value: "2"}, {Name: "CPU_M", Value: "250"}, {Name: "MEM_MI", Value: "256"}, {Name: "SIDECAR_MEM", Value: "67108864"}, {Name: "SIDECAR_CPU", Value: "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pod.DeepCopy()
			c := &p.Spec.Containers[0]
			c.Env, c.EnvFrom, c.Resources = tt.env, tt.envFrom, tt.resources
			got, err := ResolveEnv(context.Background(), EnvContext{Pod: p, Container: c, Sources: src, IP: "127.0.0.1", NodeAllocatable: alloc})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("env =\n  %v\nwant\n  %v", got, tt.want)
			}
		})
	}
}
