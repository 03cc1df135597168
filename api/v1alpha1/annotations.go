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

// Annotations on a Secret that let QueueWorkers and RedisConfigs use it.
// The operator reads every Secret of the namespaces it watches, so a
// reference alone must not be enough: whoever may edit a Secret decides
// which kinds of object may use it, and where its password may be sent.
// docs/security.md explains the model.
const (
	// AnnotationSecretUsableBy lists, comma-separated, the kinds that may
	// name the Secret: "QueueWorker", "RedisConfig" or both. A Secret
	// without it is refused with the reason SecretNotAllowed. The Secrets
	// the operator generates carry none: QueueWorkers reach them only
	// through the RedisConfig that made them (redis.configRef).
	AnnotationSecretUsableBy = "queueworker.io/usable-by"
	// AnnotationSecretUsableWith optionally lists, comma-separated, the
	// Redis addresses (host:port) a password from the Secret may be sent
	// to: the operator refuses to use it for any other address. For
	// sentinel and cluster connections every sentinel or seed address must
	// be listed; for a Managed RedisConfig the address is its Service,
	// <name>-redis.<namespace>.svc:6379.
	AnnotationSecretUsableWith = "queueworker.io/usable-with"
)

// The kinds named in AnnotationSecretUsableBy.
const (
	KindQueueWorker = "QueueWorker"
	KindRedisConfig = "RedisConfig"
)

// AnnotationDrainingSince marks a worker pod the operator asked to drain
// before a scale-down removes it (scaleDown.drain.policy Drain), with the
// time it asked, RFC 3339 in UTC. The operator removes it when the drain
// ends or is cancelled.
const AnnotationDrainingSince = "queueworker.io/draining-since"
