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

package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/test/crdtest"
)

// These tests run the CRD's schema, defaults and CEL rules in a real
// kube-apiserver (envtest): what a user's `kubectl apply` meets.

var (
	k8s client.Client
	// restConfig reaches the test API server, for kubectl.
	restConfig *rest.Config
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the Kubernetes test binaries")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	restConfig = cfg
	scheme := runtime.NewScheme()
	_ = v1.AddToScheme(scheme)
	_ = corev1.AddToScheme(scheme)
	_ = autoscalingv1.AddToScheme(scheme)
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating client:", err)
		return 1
	}
	return m.Run()
}

func validQueueWorker(name string) *v1.QueueWorker {
	return &v1.QueueWorker{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1.QueueWorkerSpec{
			Queues: []v1.Queue{{Name: "critical", Priority: 6}, {Name: "default", Priority: 3}},
			Redis:  v1.RedisConnection{Addr: "redis.default.svc:6379"},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "worker", Image: "example.com/worker:1"}},
			}},
		},
	}
}

func TestDefaults(t *testing.T) {
	ctx := context.Background()
	qw := validQueueWorker("defaults")
	qw.Spec.Queues = []v1.Queue{{Name: "default"}}
	qw.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 5}
	qw.Spec.Template.Labels = map[string]string{"team": "images"}
	if err := k8s.Create(ctx, qw); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := &v1.QueueWorker{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(qw), got); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"queue priority", s.Queues[0].Priority, int32(1)},
		{"concurrency", s.Concurrency, int32(4)},
		{"shutdownTimeout", s.ShutdownTimeout.Duration, 25 * time.Second},
		{"healthCheckInterval", s.HealthCheckInterval.Duration, 15 * time.Second},
		{"pool.size", s.Redis.Pool.Size, int32(50)},
		{"pool.minIdle", s.Redis.Pool.MinIdle, int32(0)},
		{"pool.dialTimeout", s.Redis.Pool.DialTimeout.Duration, 5 * time.Second},
		{"pool.readTimeout", s.Redis.Pool.ReadTimeout.Duration, 5 * time.Second},
		{"pool.writeTimeout", s.Redis.Pool.WriteTimeout.Duration, 5 * time.Second},
		{"pool.poolTimeout", s.Redis.Pool.PoolTimeout.Duration, 5 * time.Second},
		{"pool.connMaxIdleTime", s.Redis.Pool.ConnMaxIdleTime.Duration, 4 * time.Minute},
		{"pool.maxRetries", *s.Redis.Pool.MaxRetries, int32(3)},
		{"autoscaling.minReplicas", *s.Autoscaling.MinReplicas, int32(1)},
		{"autoscaling.pollInterval", s.Autoscaling.PollInterval.Duration, time.Second},
		{"autoscaling.activationBacklog", *s.Autoscaling.ActivationBacklog, int32(0)},
		{"autoscaling.scaleToZeroDelay", s.Autoscaling.ScaleToZeroDelay.Duration, 5 * time.Minute},
		// The embedded pod template keeps its metadata.
		{"template labels", s.Template.Labels["team"], "images"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestValidObjectsAccepted(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(*v1.QueueWorker)
	}{
		{"addr", func(*v1.QueueWorker) {}},
		{"sentinel with tls and password", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{
				Sentinel:          &v1.RedisSentinel{MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}},
				DB:                ptr.To[int32](2),
				Username:          "worker",
				PasswordSecretRef: &v1.SecretKeyReference{Name: "redis", Key: "password"},
				TLS: &v1.RedisTLS{Enabled: true, ServerName: "redis.example.com",
					CASecretRef: &v1.SecretKeyReference{Name: "redis-ca", Key: "ca.crt"}},
			}
		}},
		{"cluster", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{Cluster: &v1.RedisCluster{Addrs: []string{"10.0.0.1:7000"}}}
		}},
		{"configRef", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{ConfigRef: &v1.RedisConfigReference{Name: "redis"}}
		}},
		{"name of 63 characters", func(q *v1.QueueWorker) { q.Name = strings.Repeat("q", 63) }},
		{"two containers, one named worker", func(q *v1.QueueWorker) {
			q.Spec.Template.Spec.Containers = append(q.Spec.Template.Spec.Containers,
				corev1.Container{Name: "sidecar", Image: "example.com/sidecar:1"})
		}},
		{"autoscaling to zero", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MinReplicas: ptr.To[int32](0), MaxReplicas: 10,
				TargetLatency: &metav1.Duration{Duration: 30 * time.Second},
				ScaleDown:     &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{StabilizationWindow: &metav1.Duration{}, MaxStep: ptr.To[int32](2)}},
				OnRedisError:  &v1.OnRedisError{FailureThreshold: 5, FallbackReplicas: ptr.To[int32](3)}}
		}},
		{"drain with maxDrainTime", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 10, ScaleDown: &v1.ScaleDownRules{
				Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain, MaxDrainTime: &metav1.Duration{Duration: 2 * time.Hour}}}}
		}},
		{"drain policy defaulted", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 10, ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{}}}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qw := validQueueWorker(fmt.Sprintf("valid-%d", i))
			c.mutate(qw)
			if err := k8s.Create(ctx, qw); err != nil {
				t.Fatalf("rejected a valid object: %v", err)
			}
		})
	}
}

func TestInvalidObjectsRejected(t *testing.T) {
	ctx := context.Background()
	manyQueues := make([]v1.Queue, 65)
	for i := range manyQueues {
		manyQueues[i] = v1.Queue{Name: fmt.Sprintf("q%d", i), Priority: 1}
	}
	dur := func(s string) *metav1.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: d}
	}
	cases := []struct {
		name   string
		mutate func(*v1.QueueWorker)
		want   string
	}{
		{"name of 64 characters", func(q *v1.QueueWorker) { q.Name = strings.Repeat("q", 64) },
			"metadata.name must be at most 63 characters"},
		{"name of 253 characters", func(q *v1.QueueWorker) { q.Name = strings.Repeat("q", 253) },
			"metadata.name must be at most 63 characters"},
		{"no queues", func(q *v1.QueueWorker) { q.Spec.Queues = []v1.Queue{} },
			"spec.queues: Invalid value"},
		{"65 queues", func(q *v1.QueueWorker) { q.Spec.Queues = manyQueues },
			"must have at most 64 items"},
		{"duplicate queue", func(q *v1.QueueWorker) {
			q.Spec.Queues = []v1.Queue{{Name: "a", Priority: 1}, {Name: "a", Priority: 2}}
		}, `spec.queues[1]: Duplicate value: {"name":"a"}`},
		{"queue name with a space", func(q *v1.QueueWorker) { q.Spec.Queues[0].Name = "my queue" },
			"queue name must consist of letters, digits"},
		{"queue name with braces", func(q *v1.QueueWorker) { q.Spec.Queues[0].Name = "{q}" },
			"queue name must consist of letters, digits"},
		{"priority 0", func(q *v1.QueueWorker) { q.Spec.Queues[0].Priority = -1 },
			"spec.queues[0].priority: Invalid value: -1: spec.queues[0].priority in body should be greater than or equal to 1"},
		{"priority 101", func(q *v1.QueueWorker) { q.Spec.Queues[0].Priority = 101 },
			"should be less than or equal to 100"},
		{"concurrency too high", func(q *v1.QueueWorker) { q.Spec.Concurrency = 10001 },
			"spec.concurrency: Invalid value: 10001"},
		{"zero shutdownTimeout", func(q *v1.QueueWorker) { q.Spec.ShutdownTimeout = dur("0s") },
			"shutdownTimeout must be positive and at most 1h"},
		{"healthCheckInterval below 1s", func(q *v1.QueueWorker) { q.Spec.HealthCheckInterval = dur("500ms") },
			"healthCheckInterval must be at least 1s"},
		{"no redis endpoint", func(q *v1.QueueWorker) { q.Spec.Redis = v1.RedisConnection{} },
			"exactly one of redis.configRef, redis.addr, redis.sentinel or redis.cluster must be set"},
		{"addr and cluster", func(q *v1.QueueWorker) {
			q.Spec.Redis.Cluster = &v1.RedisCluster{Addrs: []string{"n1:7000"}}
		}, "exactly one of redis.configRef, redis.addr, redis.sentinel or redis.cluster must be set"},
		{"addr without port", func(q *v1.QueueWorker) { q.Spec.Redis.Addr = "redis" },
			"redis.addr must be host:port"},
		{"sentinel addr without port", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{Sentinel: &v1.RedisSentinel{MasterName: "m", Addrs: []string{"s1"}}}
		}, "every redis.sentinel.addrs entry must be host:port"},
		{"configRef with password", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{ConfigRef: &v1.RedisConfigReference{Name: "r"},
				PasswordSecretRef: &v1.SecretKeyReference{Name: "s", Key: "password"}}
		}, "redis.configRef takes the address, database, credentials and TLS settings from the RedisConfig"},
		{"configRef with a database", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{ConfigRef: &v1.RedisConfigReference{Name: "r"}, DB: ptr.To[int32](2)}
		}, "remove redis.passwordSecretRef, redis.username, redis.tls and redis.db"},
		{"cluster with db 1", func(q *v1.QueueWorker) {
			q.Spec.Redis = v1.RedisConnection{Cluster: &v1.RedisCluster{Addrs: []string{"n1:7000"}}, DB: ptr.To[int32](1)}
		}, "redis.db must be 0 with redis.cluster"},
		{"tls settings without tls", func(q *v1.QueueWorker) {
			q.Spec.Redis.TLS = &v1.RedisTLS{ServerName: "redis.example.com"}
		}, "take effect only with redis.tls.enabled: true"},
		{"insecureSkipVerify with a CA", func(q *v1.QueueWorker) {
			q.Spec.Redis.TLS = &v1.RedisTLS{Enabled: true, InsecureSkipVerify: true,
				CASecretRef: &v1.SecretKeyReference{Name: "ca", Key: "ca.crt"}}
		}, "redis.tls.insecureSkipVerify skips the check"},
		{"secret key with a slash", func(q *v1.QueueWorker) {
			q.Spec.Redis.PasswordSecretRef = &v1.SecretKeyReference{Name: "s", Key: "a/b"}
		}, "spec.redis.passwordSecretRef.key: Invalid value"},
		{"username with a space", func(q *v1.QueueWorker) { q.Spec.Redis.Username = "a b" },
			"redis.username must not contain white space"},
		{"minIdle above size", func(q *v1.QueueWorker) {
			q.Spec.Redis.Pool = v1.RedisPool{Size: 10, MinIdle: 20}
		}, "redis.pool.minIdle must not exceed redis.pool.size"},
		{"zero readTimeout", func(q *v1.QueueWorker) { q.Spec.Redis.Pool.ReadTimeout = dur("0s") },
			"redis.pool.readTimeout must be positive"},
		{"negative replicas", func(q *v1.QueueWorker) { q.Spec.Replicas = ptr.To[int32](-1) },
			"spec.replicas: Invalid value: -1"},
		{"replicas with autoscaling", func(q *v1.QueueWorker) {
			q.Spec.Replicas = ptr.To[int32](2)
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3}
		}, "spec.replicas and spec.autoscaling are mutually exclusive"},
		{"min above max", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MinReplicas: ptr.To[int32](5), MaxReplicas: 3}
		}, "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"},
		{"pollInterval too short", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3, PollInterval: dur("10ms")}
		}, "autoscaling.pollInterval must be between 100ms and 10m"},
		{"negative targetLatency", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3, TargetLatency: dur("-1s")}
		}, "spec.autoscaling.targetLatency: Invalid value"},
		{"fallback above max", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3,
				OnRedisError: &v1.OnRedisError{FailureThreshold: 2, FallbackReplicas: ptr.To[int32](4)}}
		}, "autoscaling.onRedisError.fallbackReplicas must not exceed autoscaling.maxReplicas"},
		{"step period without maxStep", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3, ScaleDown: &v1.ScaleDownRules{ScalingRules: v1.ScalingRules{Period: dur("30s")}}}
		}, "period applies to maxStep: set maxStep too"},
		{"unknown drain policy", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3,
				ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: "Always"}}}
		}, "supported values: \"PreferIdle\", \"Drain\", \"None\""},
		{"maxDrainTime without Drain", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3,
				ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{MaxDrainTime: dur("5m")}}}
		}, "maxDrainTime applies to policy Drain only"},
		{"maxDrainTime zero", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3,
				ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain, MaxDrainTime: dur("0s")}}}
		}, "maxDrainTime must be positive and at most 24h"},
		{"maxDrainTime over a day", func(q *v1.QueueWorker) {
			q.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 3,
				ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain, MaxDrainTime: dur("25h")}}}
		}, "maxDrainTime must be positive and at most 24h"},
		{"no worker container", func(q *v1.QueueWorker) {
			q.Spec.Template.Spec.Containers = []corev1.Container{
				{Name: "app", Image: "example.com/a:1"}, {Name: "sidecar", Image: "example.com/b:1"}}
		}, "spec.template must have a container named 'worker', or exactly one container"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qw := validQueueWorker(fmt.Sprintf("invalid-%d", i))
			c.mutate(qw)
			err := k8s.Create(ctx, qw)
			if err == nil {
				t.Fatalf("accepted an invalid object, want an error containing %q", c.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("error is not Invalid: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not say %q:\n%v", c.want, err)
			}
		})
	}
}

// TestScaleSubresource checks that `kubectl scale` reaches spec.replicas and
// that scaling an autoscaled QueueWorker by hand is refused with the reason.
func TestScaleSubresource(t *testing.T) {
	ctx := context.Background()
	qw := validQueueWorker("scaled")
	if err := k8s.Create(ctx, qw); err != nil {
		t.Fatal(err)
	}
	scaleTo3 := func(obj *v1.QueueWorker) error {
		scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
		return k8s.SubResource("scale").Update(ctx, obj, client.WithSubResourceBody(scale))
	}
	if err := scaleTo3(qw); err != nil {
		t.Fatalf("updating /scale: %v", err)
	}
	got := &v1.QueueWorker{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(qw), got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Replicas == nil || *got.Spec.Replicas != 3 {
		t.Fatalf("spec.replicas = %v after scaling to 3", got.Spec.Replicas)
	}

	auto := validQueueWorker("autoscaled")
	auto.Spec.Autoscaling = &v1.Autoscaling{MaxReplicas: 4}
	if err := k8s.Create(ctx, auto); err != nil {
		t.Fatal(err)
	}
	err := scaleTo3(auto)
	if err == nil || !strings.Contains(err.Error(), "spec.replicas and spec.autoscaling are mutually exclusive") {
		t.Fatalf("scaling an autoscaled QueueWorker by hand: got %v", err)
	}
}

func validRedisConfig(name string) *v1.RedisConfig {
	return &v1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       v1.RedisConfigSpec{},
	}
}

// TestRedisConfigDefaults checks that the API server defaults the mode and
// nothing that would be set on a server: in mode External an unset field
// must stay unset, so that the operator leaves the server's value alone.
// Mode Managed's defaults are the renderer's (internal/redisconf).
func TestRedisConfigDefaults(t *testing.T) {
	ctx := context.Background()
	managed := validRedisConfig("rc-defaults")
	external := validRedisConfig("rc-defaults-external")
	external.Spec.Mode = v1.RedisConfigExternal
	external.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
	for _, rc := range []*v1.RedisConfig{managed, external} {
		if err := k8s.Create(ctx, rc); err != nil {
			t.Fatalf("create %s: %v", rc.Name, err)
		}
		got := &v1.RedisConfig{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(rc), got); err != nil {
			t.Fatal(err)
		}
		s := got.Spec
		wantMode := rc.Spec.Mode
		if wantMode == "" {
			wantMode = v1.RedisConfigManaged
		}
		if s.Mode != wantMode {
			t.Errorf("%s: mode = %q, want %q", rc.Name, s.Mode, wantMode)
		}
		unset := map[string]bool{
			"memory.maxMemory":        s.Memory.MaxMemory == nil,
			"memory.policy":           s.Memory.Policy == "",
			"persistence.aof.enabled": s.Persistence.AOF.Enabled == nil,
			"persistence.aof.fsync":   s.Persistence.AOF.Fsync == "",
			"persistence.rdb":         s.Persistence.RDB == nil,
			"network.tcpBacklog":      s.Network.TCPBacklog == 0,
			"network.timeout":         s.Network.Timeout == nil,
			"network.tcpKeepalive":    s.Network.TCPKeepalive == nil,
			"network.maxClients":      s.Network.MaxClients == 0,
			"lazyFree.eviction":       s.LazyFree.Eviction == nil,
			"lazyFree.expire":         s.LazyFree.Expire == nil,
			"lazyFree.serverDel":      s.LazyFree.ServerDel == nil,
			"lazyFree.userDel":        s.LazyFree.UserDel == nil,
		}
		for field, ok := range unset {
			if !ok {
				t.Errorf("%s: the API server set spec.%s: %+v", rc.Name, field, s)
			}
		}
	}
}

func TestRedisConfigValidAccepted(t *testing.T) {
	ctx := context.Background()
	external := func(r *v1.RedisConfig) {
		r.Spec.Mode = v1.RedisConfigExternal
		r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
	}
	cases := []struct {
		name   string
		mutate func(*v1.RedisConfig)
	}{
		{"Managed, nothing set", func(*v1.RedisConfig) {}},
		{"Managed, name of 46 characters", func(r *v1.RedisConfig) { r.Name = "r" + strings.Repeat("0", 45) }},
		{"External, only the connection", external},
		{"External, a name mode Managed could not use", func(r *v1.RedisConfig) {
			external(r)
			r.Name = "1" + strings.Repeat("r", 60) + ".x"
		}},
		{"External, an evicting policy allowed", func(r *v1.RedisConfig) {
			external(r)
			r.Spec.Memory = v1.RedisMemory{Policy: "allkeys-lru", AllowEviction: true}
		}},
		{"External, noeviction without allowEviction", func(r *v1.RedisConfig) {
			external(r)
			r.Spec.Memory.Policy = "noeviction"
		}},
		{"External, allowEviction without a policy", func(r *v1.RedisConfig) {
			external(r)
			r.Spec.Memory.AllowEviction = true
		}},
		{"External, snapshots off", func(r *v1.RedisConfig) {
			external(r)
			r.Spec.Persistence.RDB = &v1.RedisRDB{Save: []v1.RDBSaveRule{}}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := validRedisConfig(fmt.Sprintf("rc-valid-%d", i))
			c.mutate(rc)
			if err := k8s.Create(ctx, rc); err != nil {
				t.Fatalf("rejected a valid object: %v", err)
			}
		})
	}
}

func TestRedisConfigInvalidRejected(t *testing.T) {
	ctx := context.Background()
	q := func(s string) *resource.Quantity {
		v := resource.MustParse(s)
		return &v
	}
	cases := []struct {
		name   string
		mutate func(*v1.RedisConfig)
		want   string
	}{
		{"evicting policy without allowEviction", func(r *v1.RedisConfig) { r.Spec.Memory.Policy = "allkeys-lru" },
			"evicted task keys are lost tasks: set memory.allowEviction: true"},
		{"evicting policy without allowEviction in mode External", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigExternal
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
			r.Spec.Memory = v1.RedisMemory{Policy: "volatile-ttl", AllowEviction: false}
		}, "evicted task keys are lost tasks: set memory.allowEviction: true"},
		{"Managed, name of 47 characters", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigManaged
			r.Name = "r" + strings.Repeat("0", 46)
		}, "in mode Managed, metadata.name must be at most 46 characters"},
		{"mode unset (Managed), name of 47 characters", func(r *v1.RedisConfig) { r.Name = "r" + strings.Repeat("1", 46) },
			"in mode Managed, metadata.name must be at most 46 characters"},
		{"Managed, name starting with a digit", func(r *v1.RedisConfig) { r.Name = "1redis" },
			"in mode Managed, metadata.name must start with a letter"},
		{"Managed, name with a dot", func(r *v1.RedisConfig) { r.Name = "redis.prod" },
			"in mode Managed, metadata.name must start with a letter and consist of"},
		{"unknown policy", func(r *v1.RedisConfig) { r.Spec.Memory.Policy = "lru" },
			`spec.memory.policy: Unsupported value: "lru"`},
		{"negative maxMemory", func(r *v1.RedisConfig) { r.Spec.Memory.MaxMemory = q("-1Mi") },
			"memory.maxMemory must be positive"},
		{"unknown fsync", func(r *v1.RedisConfig) { r.Spec.Persistence.AOF.Fsync = "sometimes" },
			`spec.persistence.aof.fsync: Unsupported value: "sometimes"`},
		{"unknown extraConfig key", func(r *v1.RedisConfig) {
			r.Spec.ExtraConfig = map[string]v1.ExtraConfigValue{"rename-command": "CONFIG x"}
		},
			"extraConfig keys must be on the allow-list"},
		{"extraConfig key owned by a field", func(r *v1.RedisConfig) { r.Spec.ExtraConfig = map[string]v1.ExtraConfigValue{"maxmemory": "1gb"} },
			"extraConfig keys must be on the allow-list"},
		{"extraConfig value with a newline", func(r *v1.RedisConfig) {
			r.Spec.ExtraConfig = map[string]v1.ExtraConfigValue{"hz": "10\nrequirepass x"}
		}, "extraConfig values must be one line"},
		{"External without a connection", func(r *v1.RedisConfig) { r.Spec.Mode = v1.RedisConfigExternal },
			"mode External needs spec.external"},
		{"external block in Managed mode", func(r *v1.RedisConfig) {
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
		}, "spec.external applies to mode External only"},
		{"two external endpoints", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigExternal
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379", Cluster: &v1.RedisCluster{Addrs: []string{"n:7000"}}}
		}, "exactly one of external.addr, external.sentinel or external.cluster must be set"},
		{"recheck too often", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigExternal
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379", RecheckInterval: &metav1.Duration{Duration: time.Second}}
		}, "external.recheckInterval must be at least 10s"},
		{"tcpBacklog zero", func(r *v1.RedisConfig) { r.Spec.Network.TCPBacklog = -5 },
			"spec.network.tcpBacklog: Invalid value"},
		{"unknown mode", func(r *v1.RedisConfig) { r.Spec.Mode = "Hosted" },
			`spec.mode: Unsupported value: "Hosted"`},
		{"client certificates, which nobody presents", func(r *v1.RedisConfig) {
			r.Spec.TLS = &v1.RedisServerTLS{CertSecretName: "certs", RequireClientCerts: true}
		}, "tls.requireClientCerts is not supported yet"},
		{"clientAuth in Managed mode", func(r *v1.RedisConfig) {
			r.Spec.ClientAuth = &v1.RedisClientAuth{Username: "worker"}
		}, "spec.clientAuth applies to mode External only"},
		{"admin credentials and a client user", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigExternal
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
			r.Spec.ClientAuth = &v1.RedisClientAuth{UseAdminCredentials: true, Username: "worker"}
		}, "clientAuth.useAdminCredentials gives the workers external.username"},
		{"client username with a blank", func(r *v1.RedisConfig) {
			r.Spec.Mode = v1.RedisConfigExternal
			r.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
			r.Spec.ClientAuth = &v1.RedisClientAuth{Username: "a b"}
		}, "clientAuth.username must not contain white space"},
		{"save rule of zero seconds", func(r *v1.RedisConfig) {
			r.Spec.Persistence.RDB = &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 0, Changes: 1}}}
		}, "spec.persistence.rdb.save[0].seconds: Invalid value"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := validRedisConfig(fmt.Sprintf("rc-invalid-%d", i))
			c.mutate(rc)
			err := k8s.Create(ctx, rc)
			if err == nil {
				t.Fatalf("accepted an invalid object, want an error containing %q", c.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not say %q:\n%v", c.want, err)
			}
		})
	}
}

// TestRedisConfigSwitchToManagedChecksName: a name mode External accepts
// is refused when the RedisConfig switches to mode Managed.
func TestRedisConfigSwitchToManagedChecksName(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"s" + strings.Repeat("0", 46), "2redis"} {
		rc := validRedisConfig(name)
		rc.Spec.Mode = v1.RedisConfigExternal
		rc.Spec.External = &v1.ExternalRedis{Addr: "redis:6379"}
		if err := k8s.Create(ctx, rc); err != nil {
			t.Fatalf("create %s in mode External: %v", name, err)
		}
		rc.Spec.Mode = v1.RedisConfigManaged
		rc.Spec.External = nil
		err := k8s.Update(ctx, rc)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "in mode Managed, metadata.name must") {
			t.Errorf("switching %s to mode Managed: %v, want the name refused", name, err)
		}
	}
}

// TestNameRulesKeepStoredObjectsWritable: the name rules judge a name when
// it is created (or, for a RedisConfig, when it enters mode Managed). An
// object stored before the rules existed stays writable, its status
// included, so the operator can report why it cannot use the name: a rule
// that judged every write would refuse those status updates too, since the
// API server runs all rules on the status subresource as well.
func TestNameRulesKeepStoredObjectsWritable(t *testing.T) {
	ctx := context.Background()
	dryRun := func(obj client.Object) func() error {
		return func() error {
			err := k8s.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
			if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "metadata.name must") {
				return nil
			}
			return fmt.Errorf("a dry-run create of %s is not refused for its name: %v", obj.GetName(), err)
		}
	}

	qw := validQueueWorker(strings.Repeat("q", 100))
	err := crdtest.StoreWithoutRootRules(ctx, k8s, "queueworkers.queueworker.io", "metadata.name",
		func() error { return k8s.Create(ctx, qw.DeepCopy()) },
		dryRun(validQueueWorker(strings.Repeat("p", 64))))
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(qw), qw); err != nil {
		t.Fatal(err)
	}
	qw.Status.ObservedGeneration = qw.Generation
	if err := k8s.Status().Update(ctx, qw); err != nil {
		t.Errorf("status update of a QueueWorker stored before the rule: %v", err)
	}
	qw.Spec.Concurrency = 7
	if err := k8s.Update(ctx, qw); err != nil {
		t.Errorf("spec update of a QueueWorker stored before the rule: %v", err)
	}

	rc := validRedisConfig("r" + strings.Repeat("0", 50))
	err = crdtest.StoreWithoutRootRules(ctx, k8s, "redisconfigs.queueworker.io", "metadata.name",
		func() error { return k8s.Create(ctx, rc.DeepCopy()) },
		dryRun(validRedisConfig("9redis")))
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(rc), rc); err != nil {
		t.Fatal(err)
	}
	rc.Status.ObservedGeneration = rc.Generation
	if err := k8s.Status().Update(ctx, rc); err != nil {
		t.Errorf("status update of a RedisConfig stored before the rule: %v", err)
	}
	rc.Spec.Memory.MaxMemory = new(resource.MustParse("1Gi"))
	if err := k8s.Update(ctx, rc); err != nil {
		t.Errorf("spec update of a RedisConfig stored before the rule: %v", err)
	}
}
