//go:build e2e

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

package e2e

import (
	"strings"
	"testing"
)

// validQueueWorker and validRedisConfig are accepted as they are; each
// invalid object below is one of them with one mistake.
const (
	validQueueWorker = `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: valid
spec:
  queues:
    - name: default
  redis:
    addr: redis.example.svc:6379
  autoscaling:
    minReplicas: 1
    maxReplicas: 5
  template:
    spec:
      containers:
        - name: worker
          image: queueworker-worker:dev
`
	validRedisConfig = `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: valid
spec:
  mode: External
  external:
    addr: redis.example.svc:6379
  memory:
    maxMemory: 256Mi
`
)

// invalidObjects are applied with kubectl as a user would; the API server
// must refuse each with a message that says what is wrong. resource is the
// full resource name: kubectl reads a bare "queueworker" as the category
// that holds both kinds.
var invalidObjects = []struct {
	name, resource, yaml, want string
}{
	{"replicas-and-autoscaling", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: replicas-and-autoscaling
spec:
  queues: [{name: default}]
  redis: {addr: redis.example.svc:6379}
  replicas: 2
  autoscaling: {maxReplicas: 5}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "spec.replicas and spec.autoscaling are mutually exclusive"},
	{"two-redis-endpoints", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: two-redis-endpoints
spec:
  queues: [{name: default}]
  redis: {addr: redis.example.svc:6379, cluster: {addrs: ["node-1:7000"]}}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "exactly one of redis.configRef, redis.addr, redis.sentinel or redis.cluster must be set"},
	{"addr-without-port", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: addr-without-port
spec:
  queues: [{name: default}]
  redis: {addr: redis}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "redis.addr must be host:port"},
	{"min-above-max", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: min-above-max
spec:
  queues: [{name: default}]
  redis: {addr: redis.example.svc:6379}
  autoscaling: {minReplicas: 5, maxReplicas: 3}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"},
	{"duplicate-queue", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: duplicate-queue
spec:
  queues: [{name: default, priority: 1}, {name: default, priority: 2}]
  redis: {addr: redis.example.svc:6379}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "Duplicate value"},
	{"queue-name-with-a-space", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: queue-name-with-a-space
spec:
  queues: [{name: "my queue"}]
  redis: {addr: redis.example.svc:6379}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "queue name must consist of letters, digits"},
	{"priority-above-100", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: priority-above-100
spec:
  queues: [{name: default, priority: 101}]
  redis: {addr: redis.example.svc:6379}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "should be less than or equal to 100"},
	{"no-worker-container", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: no-worker-container
spec:
  queues: [{name: default}]
  redis: {addr: redis.example.svc:6379}
  template:
    spec:
      containers:
        - {name: app, image: queueworker-worker:dev}
        - {name: sidecar, image: busybox:1.36}
`, "spec.template must have a container named 'worker', or exactly one container"},
	{"min-idle-above-pool-size", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: min-idle-above-pool-size
spec:
  queues: [{name: default}]
  redis: {addr: redis.example.svc:6379, pool: {size: 10, minIdle: 20}}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "redis.pool.minIdle must not exceed redis.pool.size"},
	{"zero-shutdown-timeout", "queueworkers.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: QueueWorker
metadata:
  name: zero-shutdown-timeout
spec:
  queues: [{name: default}]
  shutdownTimeout: 0s
  redis: {addr: redis.example.svc:6379}
  template: {spec: {containers: [{name: worker, image: queueworker-worker:dev}]}}
`, "shutdownTimeout must be positive and at most 1h"},
	{"evicting-policy", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: evicting-policy
spec:
  mode: External
  external: {addr: redis.example.svc:6379}
  memory: {maxMemory: 256Mi, policy: allkeys-lru}
`, "evicted task keys are lost tasks: set memory.allowEviction: true"},
	{"extra-config-owned-key", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: extra-config-owned-key
spec:
  mode: External
  external: {addr: redis.example.svc:6379}
  extraConfig: {maxmemory: 1gb}
`, "extraConfig keys must be on the allow-list"},
	{"extra-config-two-lines", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: extra-config-two-lines
spec:
  mode: External
  external: {addr: redis.example.svc:6379}
  extraConfig: {hz: "10\nrequirepass hunter2"}
`, "extraConfig values must be one line"},
	{"external-without-connection", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: external-without-connection
spec:
  mode: External
`, "mode External needs spec.external"},
	{"zero-max-memory", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: zero-max-memory
spec:
  mode: External
  external: {addr: redis.example.svc:6379}
  memory: {maxMemory: "0"}
`, "memory.maxMemory must be positive"},
	{"recheck-too-often", "redisconfigs.queueworker.io", `apiVersion: queueworker.io/v1alpha1
kind: RedisConfig
metadata:
  name: recheck-too-often
spec:
  mode: External
  external: {addr: redis.example.svc:6379, recheckInterval: 1s}
`, "external.recheckInterval must be at least 10s"},
}

// testInvalidObjects applies invalid QueueWorkers and RedisConfigs with
// kubectl: each is refused with its message on stderr and does not exist
// afterwards. The valid objects they derive from pass a server-side dry
// run, so a refusal is the mistake's and not the base's.
func (s *suite) testInvalidObjects(t *testing.T) {
	sc := s.newScenario(t, "e2e-invalid", false)
	ctx := t.Context()
	for _, valid := range []string{validQueueWorker, validRedisConfig} {
		if _, _, err := s.kubectlRun(ctx, valid, "apply", "--dry-run=server", "-n", sc.ns, "-f", "-"); err != nil {
			t.Fatalf("a valid object is refused: %v\n%s", err, valid)
		}
	}
	refused := 0
	for _, c := range invalidObjects {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, err := s.kubectlRun(ctx, c.yaml, "apply", "-n", sc.ns, "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply accepted an invalid %s; want it refused with %q", c.resource, c.want)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("kubectl apply failed without saying %q:\n%s", c.want, stderr)
			}
			if _, stderr, err := s.kubectlRun(ctx, "", "get", c.resource, c.name, "-n", sc.ns); err == nil ||
				!strings.Contains(stderr, "NotFound") {
				t.Fatalf("the refused %s %s exists: %v %s", c.resource, c.name, err, stderr)
			}
			refused++
		})
	}
	sc.result.note("%d of %d invalid objects refused with their message", refused, len(invalidObjects))
}
