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

package chart_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const dashboardName = release + "-dashboard"

// dashboardObjects returns the dashboard's Deployment, its container and
// its Service.
func dashboardObjects(t *testing.T, objects []object) (appsv1.Deployment, corev1.Container, corev1.Service) {
	t.Helper()
	var d appsv1.Deployment
	one(t, objects, "Deployment", namespace, dashboardName).decode(t, &d)
	var svc corev1.Service
	one(t, objects, "Service", namespace, dashboardName).decode(t, &svc)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 || d.Spec.Template.Spec.Containers[0].Name != "dashboard" {
		t.Fatalf("the dashboard pod has containers %+v, want one named dashboard", d.Spec.Template.Spec.Containers)
	}
	return d, d.Spec.Template.Spec.Containers[0], svc
}

// TestDashboardOffByDefault: no value set but the dashboard's renders a
// dashboard object.
func TestDashboardOffByDefault(t *testing.T) {
	for _, vs := range valueSets {
		if vs.name == "dashboard" {
			continue
		}
		t.Run(vs.name, func(t *testing.T) {
			for _, o := range parse(t, mustRender(t, vs.values)) {
				if strings.HasPrefix(o.Metadata.Name, dashboardName) || o.Metadata.Labels["app.kubernetes.io/component"] == "dashboard" {
					t.Errorf("%s rendered without dashboard.enabled", o)
				}
			}
		})
	}
}

// TestDashboard checks the dashboard's Deployment and Service: restricted,
// probed, read-only by default, the password and CA only as mounted files,
// selected by its Service and by none of the operator's selectors.
func TestDashboard(t *testing.T) {
	var values string
	for _, vs := range valueSets {
		if vs.name == "dashboard" {
			values = vs.values
		}
	}
	objects := parse(t, mustRender(t, values))
	d, c, svc := dashboardObjects(t, objects)
	pod := d.Spec.Template.Spec

	checkRestricted(t, pod, c)
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the dashboard pod mounts a ServiceAccount token; it never talks to the API server")
	}
	if c.Image != "queueworker-operator:0.1.0" || !slices.Equal(c.Command, []string{"/dashboard"}) {
		t.Errorf("image %q command %q, want the operator image running /dashboard", c.Image, c.Command)
	}
	wantArgs := []string{
		"--bind-address=:8080",
		"--read-only=true",
		"--redis-addr=redis.queues.svc:6379",
		"--redis-db=2",
		"--redis-username=dashboard",
		"--redis-password-file=/etc/queueworker-dashboard/redis-password/password",
		"--redis-tls",
		"--redis-tls-ca-file=/etc/queueworker-dashboard/redis-ca/ca.crt",
		"--redis-tls-server-name=redis.queues.svc",
	}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if len(c.Env) != 0 || len(c.EnvFrom) != 0 {
		t.Errorf("env = %+v %+v, want none: the password comes from a file", c.Env, c.EnvFrom)
	}
	for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/healthz" || probe.HTTPGet.Port.String() != "http" {
			t.Errorf("probe = %+v, want GET /healthz on http", probe)
		}
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
		t.Errorf("ports %+v lack http 8080", c.Ports)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources = %+v, want a memory limit and a CPU request", c.Resources)
	}

	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted writable", m.Name)
		}
		mounts[m.Name] = m.MountPath
	}
	secrets := map[string]string{}
	for _, v := range pod.Volumes {
		if v.Secret == nil || len(v.Secret.Items) != 1 {
			t.Fatalf("volume %+v, want one key of a Secret", v)
		}
		it := v.Secret.Items[0]
		secrets[mounts[v.Name]+"/"+it.Path] = v.Secret.SecretName + "/" + it.Key
	}
	wantSecrets := map[string]string{
		"/etc/queueworker-dashboard/redis-password/password": "redis-dashboard/pw",
		"/etc/queueworker-dashboard/redis-ca/ca.crt":         "redis-ca/ca.crt",
	}
	if len(secrets) != len(wantSecrets) {
		t.Errorf("mounted Secret keys = %v, want %v", secrets, wantSecrets)
	}
	for path, want := range wantSecrets {
		if secrets[path] != want {
			t.Errorf("%s holds %q, want %q", path, secrets[path], want)
		}
	}

	if svc.Spec.Type != corev1.ServiceTypeClusterIP || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 ||
		svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service spec = %+v, want ClusterIP port 80 to http", svc.Spec)
	}
	dashboardPods := labels.Set(d.Spec.Template.Labels)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(dashboardPods) {
		t.Errorf("the Service selects %v, which the dashboard pods %v lack", svc.Spec.Selector, dashboardPods)
	}
	if sel, err := metaSelector(d); err != nil || !sel.Matches(dashboardPods) {
		t.Errorf("the Deployment's selector does not match its pods (%v)", err)
	}

	// The operator's Deployment and metrics Service must not take the
	// dashboard pods for operator pods, nor the dashboard the operator's.
	op, _ := managerContainer(t, objects)
	if sel, err := metaSelector(op); err != nil || sel.Matches(dashboardPods) {
		t.Errorf("the operator's Deployment selector matches the dashboard pods (%v)", err)
	}
	var metrics corev1.Service
	one(t, objects, "Service", namespace, release+"-controller-manager-metrics-service").decode(t, &metrics)
	if labels.SelectorFromSet(metrics.Spec.Selector).Matches(dashboardPods) {
		t.Error("the metrics Service selects the dashboard pods")
	}
	if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(op.Spec.Template.Labels)) {
		t.Error("the dashboard Service selects the operator pods")
	}
}

// metaSelector is the label selector of d.
func metaSelector(d appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil {
		return labels.Nothing(), nil
	}
	return labels.ValidatedSelectorFromSet(d.Spec.Selector.MatchLabels)
}

// TestDashboardValues checks how the dashboard values reach its container.
func TestDashboardValues(t *testing.T) {
	tests := []struct {
		name      string
		values    string
		wantImage string
		wantArgs  []string
		noArgs    []string
		volumes   int
	}{
		{
			name:      "no password, no TLS",
			values:    "dashboard: {enabled: true, redis: {addr: 'redis:6379'}}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--read-only=true", "--redis-addr=redis:6379", "--redis-db=0"},
			noArgs:    []string{"--redis-password-file", "--redis-tls", "--redis-username"},
		},
		{
			name:      "writes allowed",
			values:    "dashboard: {enabled: true, readOnly: false, redis: {addr: 'redis:6379'}}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--read-only=false"},
		},
		{
			name:      "the operator's image and tag",
			values:    "{image: {repository: reg.example.com/qw, tag: v2}, dashboard: {enabled: true, redis: {addr: 'redis:6379'}}}",
			wantImage: "reg.example.com/qw:v2",
		},
		{
			name:      "an image of its own",
			values:    "{image: {tag: v2}, dashboard: {enabled: true, image: {repository: reg.example.com/dash, tag: v9}, redis: {addr: 'redis:6379'}}}",
			wantImage: "reg.example.com/dash:v9",
		},
		{
			name:      "TLS with the system roots",
			values:    "dashboard: {enabled: true, redis: {addr: 'redis:6379', tls: {enabled: true, insecureSkipVerify: true}}, extraArgs: [--log-level=debug]}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--redis-tls", "--redis-tls-insecure-skip-verify", "--log-level=debug"},
			noArgs:    []string{"--redis-tls-ca-file", "--redis-password-file"},
		},
		{
			name:      "a CA without TLS is not mounted",
			values:    "dashboard: {enabled: true, redis: {addr: 'redis:6379', tls: {caSecretRef: {name: redis-ca}}}}",
			wantImage: "queueworker-operator:0.1.0",
			noArgs:    []string{"--redis-tls"},
		},
		{
			// Each value is one argument, whatever it holds: a line break
			// does not start another flag, a colon does not make a map.
			name: "values that look like YAML",
			values: `dashboard: {enabled: true, redis: {addr: 'redis:6379', username: 'ops: admin',
				passwordSecretRef: {name: "auth\n            - --read-only=false", key: "p: w"},
				tls: {enabled: true, serverName: "redis.example\n            - --read-only=false"}}}`,
			wantImage: "queueworker-operator:0.1.0",
			wantArgs: []string{"--read-only=true", "--redis-username=ops: admin",
				"--redis-tls-server-name=redis.example\n            - --read-only=false"},
			noArgs:  []string{"--read-only=false"},
			volumes: 1,
		},
		{
			// A number in a values file reaches the template as a float.
			name:      "a large database number",
			values:    "dashboard: {enabled: true, redis: {addr: 'redis:6379', db: 10000000}}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--redis-db=10000000"},
		},
		{
			name:      "password only",
			values:    "dashboard: {enabled: true, redis: {addr: 'redis:6379', passwordSecretRef: {name: redis-auth}}}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--redis-password-file=/etc/queueworker-dashboard/redis-password/password"},
			volumes:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c, _ := dashboardObjects(t, parse(t, mustRender(t, tt.values)))
			if c.Image != tt.wantImage {
				t.Errorf("image = %q, want %q", c.Image, tt.wantImage)
			}
			for _, arg := range tt.wantArgs {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("args %q lack %s", c.Args, arg)
				}
			}
			for _, prefix := range tt.noArgs {
				if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
					t.Errorf("args %q hold %s", c.Args, prefix)
				}
			}
			if n := len(d.Spec.Template.Spec.Volumes); n != tt.volumes || len(c.VolumeMounts) != tt.volumes {
				t.Errorf("%d volumes and %d mounts, want %d", n, len(c.VolumeMounts), tt.volumes)
			}
		})
	}
}
