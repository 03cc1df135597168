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

// Condition types of both kinds.
const (
	// ConditionReady is True when the object does what its spec asks: a
	// QueueWorker's Deployment runs the current pod template and is
	// available, a RedisConfig's server answers with its configuration.
	// It is Unknown while that is in progress (a rollout, a pod starting)
	// and False for trouble: a stall, or a Deployment that is not
	// available. Scaling does not change it: the ready count is in
	// status.readyReplicas.
	ConditionReady = "Ready"
	// ConditionStalled is True when the operator cannot make progress until
	// something outside it changes: a Secret or RedisConfig is missing, an
	// object of the name it would write belongs to someone else, the spec
	// cannot be turned into what it asks for, or the name cannot label it
	// (an object stored before the API server refused such names).
	ConditionStalled = "Stalled"
	// ConditionReconciling is True while the operator's work is in
	// progress: a pod template rolling out, a managed Redis pod starting,
	// or a retry after an error (reason RetryingAfterError: the other
	// conditions and status.observedGeneration then still describe the
	// last reconcile that finished). False when done or stalled.
	ConditionReconciling = "Reconciling"
)

// Condition types of a QueueWorker.
const (
	// ConditionRedisReachable is True while the autoscaler reads the queues.
	ConditionRedisReachable = "RedisReachable"
	// ConditionScalingActive is True while the autoscaler decides the
	// replica count from the queues.
	ConditionScalingActive = "ScalingActive"
)

// Condition types of a RedisConfig.
const (
	// ConditionRendered is True when the spec rendered into redis.conf.
	ConditionRendered = "Rendered"
	// ConditionApplied is True when every key has its rendered value on
	// the server; status.drift lists the keys that do not.
	ConditionApplied = "Applied"
	// ConditionQueueSafe is False when the configuration can lose queued
	// tasks (an evicting maxmemory-policy).
	ConditionQueueSafe = "QueueSafe"
	// ConditionCapacityOK is False when the QueueWorkers that use the
	// RedisConfig may open more connections than maxclients allows, or
	// memory in use passed 90% of maxmemory, until it falls below 85%
	// (see status.capacity). It does
	// not change Ready: the server still works, but a burst may meet
	// refused connections or refused writes.
	ConditionCapacityOK = "CapacityOK"
)

// Reasons used in conditions and events.
const (
	// ReasonReconciled: everything the spec asks for exists.
	ReasonReconciled = "Reconciled"
	// ReasonReady: the workers became ready.
	ReasonReady = "Ready"
	// ReasonProgressing: a new pod template is rolling out, or pods are
	// starting.
	ReasonProgressing = "Progressing"
	// ReasonRetryingAfterError: a reconcile failed for a reason that may
	// pass (the API server or a read failing) and is retried with backoff.
	ReasonRetryingAfterError = "RetryingAfterError"
	// ReasonDeploymentUnavailable: the worker Deployment is not available
	// and not making progress towards it.
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	// ReasonSecretNotFound: a Secret the connection refers to is missing.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyNotFound: a referenced Secret lacks the referenced key.
	ReasonSecretKeyNotFound = "SecretKeyNotFound"
	// ReasonSecretNotAllowed: a referenced Secret does not allow this kind
	// of object to use it, or not with this Redis address (see
	// AnnotationSecretUsableBy and AnnotationSecretUsableWith).
	ReasonSecretNotAllowed = "SecretNotAllowed"
	// ReasonResourceConflict: an object the operator writes for a
	// RedisConfig (its Secrets, ConfigMap, Service or StatefulSet) exists
	// and is not controlled by that RedisConfig.
	ReasonResourceConflict = "ResourceConflict"
	// ReasonPasswordRequired: an External RedisConfig names no password,
	// and the operator configures only servers whose password it was given.
	ReasonPasswordRequired = "PasswordRequired"
	// ReasonImageNotAllowed: an image is not on the operator's allow-list.
	ReasonImageNotAllowed = "ImageNotAllowed"
	// ReasonUnsupported: the spec asks for something this version cannot
	// do safely.
	ReasonUnsupported = "Unsupported"
	// ReasonRedisConfigNotFound: redis.configRef names no RedisConfig.
	ReasonRedisConfigNotFound = "RedisConfigNotFound"
	// ReasonRedisConfigNotReady: the RedisConfig exists but is not Ready.
	ReasonRedisConfigNotReady = "RedisConfigNotReady"
	// ReasonWaitingForRedisConfig: the RedisConfig has a change its
	// controller has not reconciled yet, or its Redis is starting or
	// rolling out: the QueueWorker waits for it (Reconciling True).
	ReasonWaitingForRedisConfig = "WaitingForRedisConfig"
	// ReasonDeploymentConflict: a Deployment of the same name belongs to
	// something else.
	ReasonDeploymentConflict = "DeploymentConflict"
	// ReasonInvalidTemplate: the pod template cannot be turned into a
	// worker Deployment, or the API server refuses the Deployment.
	ReasonInvalidTemplate = "InvalidTemplate"
	// ReasonInvalidName: the object's name cannot name or label the
	// objects the operator would derive from it; only a new object with
	// another name helps.
	ReasonInvalidName = "InvalidName"
	// ReasonDeploymentCreated: the worker Deployment was created.
	ReasonDeploymentCreated = "DeploymentCreated"
	// ReasonDeploymentUpdated: the worker Deployment's template changed.
	ReasonDeploymentUpdated = "DeploymentUpdated"
	// ReasonAwaitingRead: the autoscaler has not read the queues yet.
	ReasonAwaitingRead = "AwaitingRead"
	// ReasonRedisUnreachable: the queues could not be read from Redis.
	ReasonRedisUnreachable = "RedisUnreachable"
	// ReasonRedisReachable: the queues were read from Redis.
	ReasonRedisReachable = "RedisReachable"
	// ReasonRendered: the spec rendered into redis.conf.
	ReasonRendered = "Rendered"
	// ReasonInvalidSpec: the spec cannot be rendered, or the API server
	// refuses an object it asks for (a managed Redis's StatefulSet, say).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonWithinLimits: the worst case of clients fits in maxclients and
	// memory is below 90% of maxmemory.
	ReasonWithinLimits = "WithinLimits"
	// ReasonTooManyClients: the worst case of clients exceeds maxclients.
	ReasonTooManyClients = "TooManyClients"
	// ReasonMemoryNearLimit: memory in use passed 90% of maxmemory.
	ReasonMemoryNearLimit = "MemoryNearLimit"
	// ReasonCapacityUnknown: the server's limits have not been read yet.
	ReasonCapacityUnknown = "CapacityUnknown"
	// ReasonNoEviction: maxmemory-policy is noeviction.
	ReasonNoEviction = "NoEviction"
	// ReasonEvictionAllowed: an evicting maxmemory-policy is allowed.
	ReasonEvictionAllowed = "EvictionAllowed"
	// ReasonServerPolicyEvicts: the spec sets no memory.policy (mode
	// External) and the server's own maxmemory-policy evicts keys.
	ReasonServerPolicyEvicts = "ServerPolicyEvicts"
	// ReasonPolicyUnknown: the spec sets no memory.policy (mode External)
	// and the server's has not been read.
	ReasonPolicyUnknown = "PolicyUnknown"
	// ReasonTCPBacklogCapped: tcpBacklog is above the pod's somaxconn.
	ReasonTCPBacklogCapped = "TCPBacklogCapped"
	// ReasonApplied: every key has its rendered value on the server.
	ReasonApplied = "Applied"
	// ReasonDrift: some keys do not have their rendered value.
	ReasonDrift = "Drift"
	// ReasonAuthFailed: the server refused the credentials.
	ReasonAuthFailed = "AuthFailed"
	// ReasonUnreachable: the server did not answer.
	ReasonUnreachable = "Unreachable"
	// ReasonWaitingForRedis: the managed Redis is not ready yet.
	ReasonWaitingForRedis = "WaitingForRedis"
	// ReasonPasswordGenerated: a password was generated into a Secret.
	ReasonPasswordGenerated = "PasswordGenerated"
	// ReasonConfigChanged: a new configuration was applied.
	ReasonConfigChanged = "ConfigChanged"
	// ReasonScaledUp: the replica count went up.
	ReasonScaledUp = "ScaledUp"
	// ReasonScaledDown: the replica count went down.
	ReasonScaledDown = "ScaledDown"
	// ReasonDrainStarted: worker pods were asked to drain before a
	// scale-down removes them.
	ReasonDrainStarted = "DrainStarted"
	// ReasonDrainCancelled: drains were cancelled, the pods serve again.
	ReasonDrainCancelled = "DrainCancelled"
	// ReasonDrainTimedOut: a draining pod still ran tasks after
	// maxDrainTime and is removed anyway.
	ReasonDrainTimedOut = "DrainTimedOut"
)
