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

package resources

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

func baseQueueWorker() *v1.QueueWorker {
	return &v1.QueueWorker{
		ObjectMeta: metav1.ObjectMeta{Name: "img", Namespace: "ns"},
		Spec: v1.QueueWorkerSpec{
			Queues:      []v1.Queue{{Name: "high", Priority: 5}, {Name: "low", Priority: 1}},
			Concurrency: 8,
			Redis:       v1.RedisConnection{Addr: "redis:6379"},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}},
			}},
		},
	}
}

func mustBuild(t *testing.T, qw *v1.QueueWorker) (*corev1.PodTemplateSpec, *corev1.Container) {
	t.Helper()
	ep, ok := EndpointFromSpec(qw.Spec.Redis)
	if !ok {
		t.Fatal("endpoint not resolvable")
	}
	dep, err := BuildWorkerDeployment(qw, ep, "")
	if err != nil {
		t.Fatal(err)
	}
	if dep.Spec.Replicas != nil {
		t.Fatalf("builder set spec.replicas = %d; only the scale step may", *dep.Spec.Replicas)
	}
	tmpl := &dep.Spec.Template
	idx, err := WorkerContainerIndex(&tmpl.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, &tmpl.Spec.Containers[idx]
}

func env(c *corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			panic("duplicate env " + e.Name)
		}
		m[e.Name] = e
	}
	return m
}

func TestGracePeriod(t *testing.T) {
	cases := []struct {
		name     string
		shutdown *metav1.Duration
		user     *int64
		want     int64
	}{
		{"default shutdownTimeout", nil, nil, 30},
		{"fraction rounds up", &metav1.Duration{Duration: 2500 * time.Millisecond}, nil, 8},
		{"shorter user value is raised", &metav1.Duration{Duration: 60 * time.Second}, ptr.To[int64](30), 65},
		{"exactly enough is kept", &metav1.Duration{Duration: 10 * time.Second}, ptr.To[int64](15), 15},
		{"longer user value is kept", &metav1.Duration{Duration: 10 * time.Second}, ptr.To[int64](120), 120},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qw := baseQueueWorker()
			qw.Spec.ShutdownTimeout = c.shutdown
			qw.Spec.Template.Spec.TerminationGracePeriodSeconds = c.user
			tmpl, _ := mustBuild(t, qw)
			if got := *tmpl.Spec.TerminationGracePeriodSeconds; got != c.want {
				t.Errorf("terminationGracePeriodSeconds = %d, want %d", got, c.want)
			}
		})
	}
}

func TestSecurityDefaultsKeepUserValues(t *testing.T) {
	qw := baseQueueWorker()
	qw.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}}
	qw.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
	qw.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "example.com/init:1"}}
	tmpl, worker := mustBuild(t, qw)

	psc := tmpl.Spec.SecurityContext
	if !*psc.RunAsNonRoot || *psc.RunAsUser != 1000 || psc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost {
		t.Errorf("pod securityContext = %+v: user values lost or runAsNonRoot not defaulted", psc)
	}
	if sc := worker.SecurityContext; len(sc.Capabilities.Add) != 1 || *sc.AllowPrivilegeEscalation {
		t.Errorf("worker securityContext = %+v: user capabilities lost or privilege escalation allowed", sc)
	}
	if sc := tmpl.Spec.InitContainers[0].SecurityContext; sc == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("init container securityContext = %+v, want restricted defaults", sc)
	}
}

func TestWorkerContainerChoice(t *testing.T) {
	qw := baseQueueWorker()
	qw.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "proxy", Image: "example.com/proxy:1"},
		{Name: "worker", Image: "example.com/worker:1"},
	}
	tmpl, worker := mustBuild(t, qw)
	if worker.Name != "worker" {
		t.Fatalf("worker container = %s", worker.Name)
	}
	if len(tmpl.Spec.Containers[0].Env) != 0 {
		t.Errorf("settings injected into the sidecar: %v", tmpl.Spec.Containers[0].Env)
	}

	qw.Spec.Template.Spec.Containers[1].Name = "app"
	ep, _ := EndpointFromSpec(qw.Spec.Redis)
	if _, err := BuildWorkerDeployment(qw, ep, ""); !errors.Is(err, ErrNoWorkerContainer) {
		t.Fatalf("two containers, none named worker: err = %v, want ErrNoWorkerContainer", err)
	}
}

func TestOperatorOwnsPrefixedEnvAndPort(t *testing.T) {
	qw := baseQueueWorker()
	c := &qw.Spec.Template.Spec.Containers[0]
	c.Env = []corev1.EnvVar{
		{Name: "APP_MODE", Value: "prod"},
		{Name: contract.EnvConcurrency, Value: "999"},
	}
	c.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8080}}
	_, worker := mustBuild(t, qw)
	e := env(worker)
	if e["APP_MODE"].Value != "prod" {
		t.Error("the template's own variable was dropped")
	}
	if e[contract.EnvConcurrency].Value != "8" {
		t.Errorf("%s = %q, want the operator's 8", contract.EnvConcurrency, e[contract.EnvConcurrency].Value)
	}
	if len(worker.Ports) != 1 {
		t.Errorf("ports = %v: port 8080 added twice", worker.Ports)
	}
}

func TestEnvByMode(t *testing.T) {
	cases := []struct {
		name   string
		redis  v1.RedisConnection
		want   map[string]string
		absent []string
	}{
		{
			name:   "standalone, no secrets",
			redis:  v1.RedisConnection{Addr: "r:6379", DB: ptr.To[int32](3)},
			want:   map[string]string{contract.EnvRedisMode: "standalone", contract.EnvRedisAddr: "r:6379", contract.EnvRedisDB: "3", contract.EnvRedisTLS: "false"},
			absent: []string{contract.EnvRedisAddrs, contract.EnvRedisPassword, contract.EnvRedisUsername, contract.EnvRedisTLSCACert},
		},
		{
			name: "sentinel with ACL user and TLS",
			redis: v1.RedisConnection{
				Sentinel:          &v1.RedisSentinel{MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}},
				Username:          "jobs",
				PasswordSecretRef: &v1.SecretKeyReference{Name: "redis", Key: "pw"},
				TLS: &v1.RedisTLS{Enabled: true, ServerName: "redis.internal",
					CASecretRef: &v1.SecretKeyReference{Name: "ca", Key: "ca.crt"}},
			},
			want: map[string]string{
				contract.EnvRedisMode: "sentinel", contract.EnvRedisAddrs: "s1:26379,s2:26379",
				contract.EnvRedisMasterName: "mymaster", contract.EnvRedisUsername: "jobs",
				contract.EnvRedisTLS: "true", contract.EnvRedisTLSServerName: "redis.internal",
				contract.EnvRedisTLSInsecureSkipVerify: "false",
			},
			absent: []string{contract.EnvRedisAddr},
		},
		{
			name:   "cluster",
			redis:  v1.RedisConnection{Cluster: &v1.RedisCluster{Addrs: []string{"n1:7000", "n2:7000"}}},
			want:   map[string]string{contract.EnvRedisMode: "cluster", contract.EnvRedisAddrs: "n1:7000,n2:7000", contract.EnvRedisDB: "0"},
			absent: []string{contract.EnvRedisAddr, contract.EnvRedisMasterName},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qw := baseQueueWorker()
			qw.Spec.Redis = c.redis
			_, worker := mustBuild(t, qw)
			e := env(worker)
			for k, v := range c.want {
				if e[k].Value != v {
					t.Errorf("%s = %q, want %q", k, e[k].Value, v)
				}
			}
			for _, k := range c.absent {
				if _, ok := e[k]; ok {
					t.Errorf("%s is set, want it absent", k)
				}
			}
			for _, k := range []string{contract.EnvRedisPassword, contract.EnvRedisTLSCACert} {
				if v, ok := e[k]; ok && (v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s is not a secretKeyRef: %+v", k, v)
				}
			}
		})
	}
}

func TestHashes(t *testing.T) {
	qw := baseQueueWorker()
	qw.Spec.Template.Annotations = map[string]string{"keep": "me"}
	ep, _ := EndpointFromSpec(qw.Spec.Redis)
	a, _ := BuildWorkerDeployment(qw, ep, "aaaa")
	b, _ := BuildWorkerDeployment(qw, ep, "aaaa")
	c, _ := BuildWorkerDeployment(qw, ep, "bbbb")
	if a.Annotations[AnnotationTemplateHash] != b.Annotations[AnnotationTemplateHash] {
		t.Error("the same input gave two template hashes")
	}
	if a.Annotations[AnnotationTemplateHash] == c.Annotations[AnnotationTemplateHash] {
		t.Error("a new secret hash did not change the template hash, so the workers would not roll")
	}
	if a.Spec.Template.Annotations["keep"] != "me" || a.Spec.Template.Annotations[AnnotationSecretHash] != "aaaa" {
		t.Errorf("pod annotations = %v", a.Spec.Template.Annotations)
	}
	if qw.Spec.Template.Annotations[AnnotationSecretHash] != "" || len(qw.Spec.Template.Spec.Containers[0].Env) != 0 {
		t.Error("the builder modified the QueueWorker it was given")
	}
}
