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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// QueueWorkerSpec declares the task queues a pool of asynq workers serves, how
// many tasks each worker runs at once, how the workers reach Redis, and how many
// workers run.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="spec.replicas and spec.autoscaling are mutually exclusive: remove spec.replicas to let the autoscaler own the replica count, or remove spec.autoscaling to scale by hand"
// +kubebuilder:validation:XValidation:rule="self.template.spec.containers.size() == 1 || self.template.spec.containers.exists(c, c.name == 'worker')",message="spec.template must have a container named 'worker', or exactly one container"
type QueueWorkerSpec struct {
	// Queues the workers serve, each with a priority. With weighted priority
	// (the default) a queue of priority 6 is served about twice as often as a
	// queue of priority 3.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Queues []Queue `json:"queues"`

	// StrictPriority serves a lower-priority queue only when every
	// higher-priority queue is empty.
	// +optional
	StrictPriority bool `json:"strictPriority,omitempty"`

	// Concurrency is the number of tasks each worker pod processes at once.
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`

	// ShutdownTimeout is how long a worker waits for running tasks to finish
	// after SIGTERM before it returns them to their queue. The pod's
	// terminationGracePeriodSeconds is kept at least 5s above it.
	// +kubebuilder:default="25s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('1h')",message="shutdownTimeout must be positive and at most 1h"
	// +optional
	ShutdownTimeout *metav1.Duration `json:"shutdownTimeout,omitempty"`

	// HealthCheckInterval is how often a worker checks that Redis answers.
	// +kubebuilder:default="15s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="healthCheckInterval must be at least 1s"
	// +optional
	HealthCheckInterval *metav1.Duration `json:"healthCheckInterval,omitempty"`

	// Redis is how the workers (and the operator's autoscaler) reach Redis.
	Redis RedisConnection `json:"redis"`

	// Replicas is the number of worker pods when autoscaling is not set. It
	// backs the /scale subresource, so `kubectl scale queueworker` works.
	// Left unset without autoscaling, one worker runs.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Autoscaling scales the workers on the queues' backlog and latency read
	// from Redis. When set, the operator owns the replica count.
	// +optional
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`

	// Template is the pod template of the workers. The worker container is
	// the one named "worker", or the only container. The operator adds the
	// worker settings (environment variables prefixed QUEUEWORKER_) to it and
	// restricted security defaults where the template sets none.
	Template corev1.PodTemplateSpec `json:"template"`
}

// Queue is one task queue and its priority.
type Queue struct {
	// Name of the asynq queue: letters, digits and . _ : -, starting and
	// ending with a letter or digit.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([A-Za-z0-9._:-]*[A-Za-z0-9])?$')",message="queue name must consist of letters, digits and '.', '_', ':' or '-', and start and end with a letter or digit"
	Name string `json:"name"`

	// Priority of the queue, 1 (lowest) to 100.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Priority int32 `json:"priority,omitempty"`
}

// RedisConnection is how clients reach Redis: exactly one of configRef, addr,
// sentinel or cluster, plus credentials, TLS and connection-pool tuning.
//
// +kubebuilder:validation:XValidation:rule="[has(self.configRef), has(self.addr), has(self.sentinel), has(self.cluster)].filter(x, x).size() == 1",message="exactly one of redis.configRef, redis.addr, redis.sentinel or redis.cluster must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.configRef) || (!has(self.passwordSecretRef) && !has(self.username) && !has(self.tls) && !has(self.db))",message="redis.configRef takes the address, database, credentials and TLS settings from the RedisConfig: remove redis.passwordSecretRef, redis.username, redis.tls and redis.db"
// +kubebuilder:validation:XValidation:rule="!has(self.cluster) || !has(self.db) || self.db == 0",message="redis.db must be 0 with redis.cluster: Redis Cluster has only database 0"
type RedisConnection struct {
	// ConfigRef names a RedisConfig in the same namespace; the connection
	// takes its address, password and TLS settings.
	// +optional
	ConfigRef *RedisConfigReference `json:"configRef,omitempty"`

	// Addr is the host:port of a standalone Redis server.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^\\\\s,/]+:[0-9]{1,5}$')",message="redis.addr must be host:port, such as redis.default.svc:6379"
	// +optional
	Addr string `json:"addr,omitempty"`

	// Sentinel reaches the master of a Redis Sentinel group.
	// +optional
	Sentinel *RedisSentinel `json:"sentinel,omitempty"`

	// Cluster reaches a Redis Cluster through its seed nodes.
	// +optional
	Cluster *RedisCluster `json:"cluster,omitempty"`

	// DB is the Redis database number (not with configRef: a RedisConfig's
	// clients use database 0).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +optional
	DB *int32 `json:"db,omitempty"`

	// Username is the Redis ACL user. Empty means the default user.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\s]')",message="redis.username must not contain white space"
	// +optional
	Username string `json:"username,omitempty"`

	// PasswordSecretRef selects the Redis password in a Secret of the same
	// namespace. It reaches the workers by secretKeyRef, never by value.
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty"`

	// TLS encrypts the connection.
	// +optional
	TLS *RedisTLS `json:"tls,omitempty"`

	// Pool tunes the client connection pool of every worker.
	// +kubebuilder:default={}
	// +optional
	Pool RedisPool `json:"pool,omitempty"`
}

// RedisConfigReference names a RedisConfig in the same namespace.
type RedisConfigReference struct {
	// Name of the RedisConfig.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// RedisSentinel reaches the master of a Sentinel group.
type RedisSentinel struct {
	// MasterName is the name of the master the sentinels monitor.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	MasterName string `json:"masterName"`

	// Addrs are host:port addresses of the sentinels.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.matches('^[^\\\\s,/]+:[0-9]{1,5}$'))",message="every redis.sentinel.addrs entry must be host:port"
	// +listType=set
	Addrs []string `json:"addrs"`
}

// RedisCluster reaches a Redis Cluster.
type RedisCluster struct {
	// Addrs are host:port addresses of seed nodes of the cluster.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.matches('^[^\\\\s,/]+:[0-9]{1,5}$'))",message="every redis.cluster.addrs entry must be host:port"
	// +listType=set
	Addrs []string `json:"addrs"`
}

// SecretKeyReference selects a key of a Secret in the same namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Key in the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// RedisTLS configures TLS to Redis.
//
// +kubebuilder:validation:XValidation:rule="self.enabled || (!has(self.caSecretRef) && !has(self.serverName) && !has(self.insecureSkipVerify))",message="redis.tls.caSecretRef, serverName and insecureSkipVerify take effect only with redis.tls.enabled: true"
// +kubebuilder:validation:XValidation:rule="!(has(self.insecureSkipVerify) && self.insecureSkipVerify && has(self.caSecretRef))",message="redis.tls.insecureSkipVerify skips the check that redis.tls.caSecretRef exists for: set one or the other"
type RedisTLS struct {
	// Enabled turns TLS on.
	Enabled bool `json:"enabled"`

	// CASecretRef selects a PEM bundle of CA certificates in a Secret; without
	// it the system roots verify the server.
	// +optional
	CASecretRef *SecretKeyReference `json:"caSecretRef,omitempty"`

	// ServerName overrides the name checked against the server certificate.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServerName string `json:"serverName,omitempty"`

	// InsecureSkipVerify turns off verification of the server certificate.
	// For tests only: it lets anyone in the path read the tasks.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// RedisPool tunes the client connection pool. The defaults suit a production
// worker: 50 connections and 5s timeouts.
//
// +kubebuilder:validation:XValidation:rule="(has(self.minIdle) ? self.minIdle : 0) <= (has(self.size) ? self.size : 50)",message="redis.pool.minIdle must not exceed redis.pool.size"
type RedisPool struct {
	// Size is the most connections a worker keeps open. Keep it above
	// concurrency: every running task may hold a connection, and asynq needs a
	// few of its own for heartbeats, scheduling and recovery.
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Size int32 `json:"size,omitempty"`

	// MinIdle is the number of idle connections kept open.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MinIdle int32 `json:"minIdle,omitempty"`

	// DialTimeout bounds opening a connection.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="redis.pool.dialTimeout must be positive"
	// +optional
	DialTimeout *metav1.Duration `json:"dialTimeout,omitempty"`

	// ReadTimeout bounds reading a reply.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="redis.pool.readTimeout must be positive"
	// +optional
	ReadTimeout *metav1.Duration `json:"readTimeout,omitempty"`

	// WriteTimeout bounds writing a command.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="redis.pool.writeTimeout must be positive"
	// +optional
	WriteTimeout *metav1.Duration `json:"writeTimeout,omitempty"`

	// PoolTimeout bounds waiting for a free connection when all are busy.
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="redis.pool.poolTimeout must be positive"
	// +optional
	PoolTimeout *metav1.Duration `json:"poolTimeout,omitempty"`

	// ConnMaxIdleTime closes connections idle for longer. The default, 4m,
	// stays below the 300s idle timeout a RedisConfig sets on the server, so
	// the client retires a connection before the server drops it.
	// +kubebuilder:default="4m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="redis.pool.connMaxIdleTime must be positive"
	// +optional
	ConnMaxIdleTime *metav1.Duration `json:"connMaxIdleTime,omitempty"`

	// MaxRetries is how often a failed command is retried (with backoff)
	// before the error reaches the worker; 0 turns retries off.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`
}

// Autoscaling scales the workers on the backlog and latency of their queues,
// read directly from Redis.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must not exceed autoscaling.maxReplicas"
// +kubebuilder:validation:XValidation:rule="!has(self.onRedisError) || !has(self.onRedisError.fallbackReplicas) || self.onRedisError.fallbackReplicas <= self.maxReplicas",message="autoscaling.onRedisError.fallbackReplicas must not exceed autoscaling.maxReplicas"
type Autoscaling struct {
	// MinReplicas is the fewest workers; 0 lets the workers scale to zero
	// when the queues are empty.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// MaxReplicas is the most workers.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	MaxReplicas int32 `json:"maxReplicas"`

	// PollInterval is how often the queues are read from Redis.
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('10m')",message="autoscaling.pollInterval must be between 100ms and 10m"
	// +optional
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// TargetBacklogPerReplica is the backlog (pending, active, due and
	// aggregating tasks) one worker should carry. Defaults to the
	// concurrency.
	// +kubebuilder:validation:Minimum=1
	// +optional
	TargetBacklogPerReplica *int32 `json:"targetBacklogPerReplica,omitempty"`

	// TargetLatency is the age the oldest pending task should stay under;
	// when it is exceeded the workers scale up by the ratio. The age comes
	// from the enqueue time the producer wrote, on its own clock, bounded by
	// what the operator saw on its clock: no older than the last time the
	// operator saw the queue empty, no younger than the time since it first
	// saw the task as the queue's oldest. Until the operator has seen the
	// queue empty, a producer whose clock runs behind makes tasks look older
	// than they are. A task without an enqueue time (asynq leaves none on a
	// task a graceful shutdown put back) is as old as the time since the
	// operator first saw it as the queue's oldest. At zero
	// replicas it is also how long a task (pending, or scheduled or retry
	// and due) may wait before the workers wake, whatever activationBacklog
	// says.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="autoscaling.targetLatency must be positive"
	// +optional
	TargetLatency *metav1.Duration `json:"targetLatency,omitempty"`

	// ActivationBacklog is the backlog above which workers scaled to zero
	// wake up. A smaller backlog wakes them too once its oldest task
	// (pending, or scheduled or retry and due) has waited targetLatency, or
	// scaleToZeroDelay when targetLatency is unset: at zero no asynq server
	// runs, so nothing else would ever serve it, nor move due scheduled and
	// retry tasks to pending. Aggregating tasks count toward the backlog
	// but their age is not read, so on their own they wake the workers only
	// above activationBacklog.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	ActivationBacklog *int32 `json:"activationBacklog,omitempty"`

	// ScaleToZeroDelay is how long the backlog (running tasks included)
	// must stay at zero before the workers scale to zero.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="autoscaling.scaleToZeroDelay must be positive"
	// +optional
	ScaleToZeroDelay *metav1.Duration `json:"scaleToZeroDelay,omitempty"`

	// ScaleUp shapes scaling up. By default it is immediate: one step from
	// the current count to the recommendation.
	// +optional
	ScaleUp *ScalingRules `json:"scaleUp,omitempty"`

	// ScaleDown shapes scaling down. By default the highest recommendation of
	// the last 5 minutes wins, and the ReplicaSet removes idle workers first
	// (drain.policy PreferIdle).
	// +optional
	ScaleDown *ScaleDownRules `json:"scaleDown,omitempty"`

	// OnRedisError says what happens when Redis cannot be read. The replicas
	// are always held at first; never scaled down blind, and a fallback
	// below the current count scales down only as the scaleDown rules allow.
	// +optional
	OnRedisError *OnRedisError `json:"onRedisError,omitempty"`
}

// ScalingRules shapes one direction of scaling.
//
// +kubebuilder:validation:XValidation:rule="!has(self.period) || has(self.maxStep)",message="period applies to maxStep: set maxStep too"
type ScalingRules struct {
	// StabilizationWindow is how far back recommendations are remembered.
	// Scaling down takes the highest recommendation of the window, scaling
	// up the lowest, so a short spike or dip does not move the workers.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('1h')",message="stabilizationWindow must be between 0s and 1h"
	// +optional
	StabilizationWindow *metav1.Duration `json:"stabilizationWindow,omitempty"`

	// MaxStep is the most replicas added or removed per period.
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxStep *int32 `json:"maxStep,omitempty"`

	// Period is the length of a step of at most maxStep replicas; 15s when
	// unset.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="period must be positive"
	// +optional
	Period *metav1.Duration `json:"period,omitempty"`
}

// ScaleDownRules shapes scaling down: the rules of either direction, and
// which workers go. The rules' own validation (period needs maxStep) comes
// with the embedded ScalingRules.
type ScaleDownRules struct {
	ScalingRules `json:",inline"`

	// Drain chooses the workers a scale-down removes, and whether they
	// finish their running tasks first. PreferIdle when unset.
	// +optional
	Drain *ScaleDownDrain `json:"drain,omitempty"`
}

// DrainPolicy says how a scale-down treats the workers' running tasks.
// +kubebuilder:validation:Enum=PreferIdle;Drain;None
type DrainPolicy string

// The drain policies.
const (
	// DrainPolicyPreferIdle ranks the pods by pod deletion cost right
	// before each scale-down, so that the ReplicaSet removes idle workers
	// first, then those with the fewest running tasks, then the youngest.
	// A busy worker may still be removed, and its running tasks then get
	// shutdownTimeout to finish.
	DrainPolicyPreferIdle DrainPolicy = "PreferIdle"
	// DrainPolicyDrain removes no busy worker: the workers to remove are
	// asked to drain (to take no new task and finish those they run,
	// docs/worker-contract.md) and each is removed once idle, or after
	// maxDrainTime.
	DrainPolicyDrain DrainPolicy = "Drain"
	// DrainPolicyNone leaves the choice to the ReplicaSet.
	DrainPolicyNone DrainPolicy = "None"
)

// ScaleDownDrain chooses the workers a scale-down removes.
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxDrainTime) || (has(self.policy) && self.policy == 'Drain')",message="maxDrainTime applies to policy Drain only"
type ScaleDownDrain struct {
	// Policy is PreferIdle, Drain or None; see DrainPolicy.
	// +kubebuilder:default=PreferIdle
	// +optional
	Policy DrainPolicy `json:"policy,omitempty"`

	// MaxDrainTime bounds how long a draining worker is waited for; it is
	// then removed with its tasks still running (and a Warning event),
	// which gives them shutdownTimeout to finish. Defaults to ten times
	// shutdownTimeout, at most 1h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('24h')",message="maxDrainTime must be positive and at most 24h"
	// +optional
	MaxDrainTime *metav1.Duration `json:"maxDrainTime,omitempty"`
}

// OnRedisError is the autoscaler's answer to Redis being unreachable.
type OnRedisError struct {
	// FailureThreshold is the number of consecutive failed reads after which
	// fallbackReplicas applies. The failures must also have lasted
	// failureThreshold × pollInterval, and at least 30s, so that a short
	// poll interval does not turn a blip (a Redis pod rolling over) into an
	// outage.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +optional
	FailureThreshold int32 `json:"failureThreshold,omitempty"`

	// FallbackReplicas is the replica count after failureThreshold failed
	// reads. Unset, the current count is held. Above the current count it
	// applies at once; below it, it is a scale-down like any other: the
	// scaleDown stabilization window keeps the highest recommendation made
	// before the outage while it is in the window, and scaleDown.maxStep
	// limits each period.
	// +kubebuilder:validation:Minimum=0
	// +optional
	FallbackReplicas *int32 `json:"fallbackReplicas,omitempty"`
}

// QueueWorkerStatus is what the operator observed.
type QueueWorkerStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Replicas is the number of worker pods (the Deployment's status).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// ReadyReplicas is the number of ready worker pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// DesiredReplicas is the replica count the operator asks for.
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas,omitempty"`

	// Selector is the label selector of the worker pods, for /scale.
	// +optional
	Selector string `json:"selector,omitempty"`

	// Queues are the statistics of each queue, last read from Redis.
	// +listType=map
	// +listMapKey=name
	// +optional
	Queues []QueueStatus `json:"queues,omitempty"`

	// Backlog is the sum of pending, active, due and aggregating tasks over
	// the queues that are not paused.
	// +optional
	Backlog int64 `json:"backlog,omitempty"`

	// Latency is the age of the oldest pending task over all queues.
	// +optional
	Latency *metav1.Duration `json:"latency,omitempty"`

	// LastScaleTime is when the operator last changed the replica count.
	// +optional
	LastScaleTime *metav1.Time `json:"lastScaleTime,omitempty"`

	// LastActiveTime is when the backlog was last above zero.
	// +optional
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`

	// Draining lists the worker pods asked to drain before a scale-down
	// removes them (scaleDown.drain.policy Drain).
	// +listType=map
	// +listMapKey=pod
	// +optional
	Draining []DrainingPod `json:"draining,omitempty"`

	// Conditions: Ready, Stalled, Reconciling, RedisReachable, ScalingActive.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DrainingPod is a worker pod that drains before it is removed.
type DrainingPod struct {
	// Pod is the pod's name.
	Pod string `json:"pod"`
	// Since is when the operator asked it to drain.
	Since metav1.Time `json:"since"`
	// Running is the number of tasks it still ran at the last read of its
	// heartbeat; absent when unknown (the heartbeats cannot be read, as in
	// Redis Cluster).
	// +optional
	Running *int64 `json:"running,omitempty"`
}

// QueueStatus holds the statistics of one queue.
type QueueStatus struct {
	// Name of the queue.
	Name string `json:"name"`
	// Pending tasks wait for a worker.
	Pending int64 `json:"pending"`
	// Active tasks run now: a worker took them and its heartbeat keeps
	// their lease alive.
	Active int64 `json:"active"`
	// Orphaned tasks were taken by a worker that stopped heartbeating (it
	// died, or lost Redis for the 30s of their lease). They run nowhere and
	// wait in the active list for the recoverer of a running asynq server
	// to retry them; they count neither as active nor in the backlog.
	// +optional
	Orphaned int64 `json:"orphaned,omitempty"`
	// Scheduled tasks are due within the look-ahead horizon.
	Scheduled int64 `json:"scheduled"`
	// Retry tasks are due for another try within the horizon.
	Retry int64 `json:"retry"`
	// Aggregating tasks (enqueued with asynq.Group) wait in their group for
	// an asynq server to aggregate them into one task.
	// +optional
	Aggregating int64 `json:"aggregating,omitempty"`
	// Archived tasks failed for good.
	Archived int64 `json:"archived"`
	// Paused is true while the queue is paused.
	Paused bool `json:"paused"`
	// Latency is the age of the oldest pending task.
	// +optional
	Latency *metav1.Duration `json:"latency,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=qw;qws
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredReplicas`
// +kubebuilder:printcolumn:name="Backlog",type=integer,JSONPath=`.status.backlog`
// +kubebuilder:printcolumn:name="Latency",type=string,JSONPath=`.status.latency`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// QueueWorker runs a Deployment of asynq workers for a set of task queues and
// scales it on the queues' backlog.
//
// Its name is at most 63 characters: it is the value of the
// app.kubernetes.io/instance label of the Deployment and its pods. The rule
// judges a name when it is created (oldSelf is absent only then; a name
// never changes), so that a QueueWorker stored before the rule keeps
// accepting writes, its status included, and the controller can say why it
// makes no Deployment for it.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: it is the app.kubernetes.io/instance label of the worker Deployment and its pods",optionalOldSelf=true
type QueueWorker struct {
	metav1.TypeMeta `json:",inline"`

	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec QueueWorkerSpec `json:"spec"`

	// +optional
	Status QueueWorkerStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// QueueWorkerList contains a list of QueueWorker.
type QueueWorkerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []QueueWorker `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &QueueWorker{}, &QueueWorkerList{})
		return nil
	})
}
