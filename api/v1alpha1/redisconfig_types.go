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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RedisConfigMode says whether the operator runs Redis or configures one
// that exists.
// +kubebuilder:validation:Enum=Managed;External
type RedisConfigMode string

// The modes of a RedisConfig.
const (
	// RedisConfigManaged: the operator runs Redis as a StatefulSet.
	RedisConfigManaged RedisConfigMode = "Managed"
	// RedisConfigExternal: the operator applies the configuration to a
	// Redis it does not run, with CONFIG SET.
	RedisConfigExternal RedisConfigMode = "External"
)

// MaxMemoryPolicy is Redis's maxmemory-policy.
// +kubebuilder:validation:Enum=noeviction;allkeys-lru;allkeys-lfu;allkeys-random;volatile-lru;volatile-lfu;volatile-random;volatile-ttl
type MaxMemoryPolicy string

// AppendFsync is Redis's appendfsync.
// +kubebuilder:validation:Enum=always;everysec;no
type AppendFsync string

// RedisConfigSpec declares a Redis server's configuration for task queues,
// and whether the operator runs that server or applies the configuration to
// one that exists.
//
// The defaults named on the fields below apply in mode Managed only, where
// the operator renders the whole redis.conf. Mode External changes only what
// the spec sets: a field left unset keeps the server's own value, which
// status.serverConfig reports. The API server fills in none of these
// defaults, so the operator can tell what the user set.
//
// +kubebuilder:validation:XValidation:rule="self.mode != 'External' || has(self.external)",message="mode External needs spec.external: the connection to the Redis to configure"
// +kubebuilder:validation:XValidation:rule="self.mode != 'Managed' || !has(self.external)",message="spec.external applies to mode External only"
// +kubebuilder:validation:XValidation:rule="self.mode != 'External' || !has(self.managed)",message="spec.managed applies to mode Managed only"
// +kubebuilder:validation:XValidation:rule="self.mode != 'External' || !has(self.tls)",message="spec.tls configures the server the operator runs (mode Managed); for mode External set spec.external.tls"
// +kubebuilder:validation:XValidation:rule="self.mode == 'External' || !has(self.clientAuth)",message="spec.clientAuth applies to mode External only: a Managed Redis has one password, which the QueueWorkers that name it receive"
type RedisConfigSpec struct {
	// Mode is Managed (the operator runs Redis) or External (the operator
	// configures a Redis it does not run).
	// +kubebuilder:default=Managed
	// +optional
	Mode RedisConfigMode `json:"mode,omitempty"`

	// Managed configures the Redis the operator runs.
	// +optional
	Managed *ManagedRedis `json:"managed,omitempty"`

	// External is the connection to a Redis the operator configures.
	// +optional
	External *ExternalRedis `json:"external,omitempty"`

	// Auth is the password of the server. In mode Managed it is the
	// password of the server the operator runs, and every QueueWorker that
	// names this RedisConfig in redis.configRef receives it; a random one is
	// generated into a new Secret when it is unset. In mode External it is
	// the password the operator authenticates with (as external.username) to
	// run CONFIG SET; QueueWorkers do not receive it unless
	// clientAuth.useAdminCredentials says so.
	// +optional
	Auth *RedisAuth `json:"auth,omitempty"`

	// ClientAuth is what the QueueWorkers that name this RedisConfig in
	// redis.configRef authenticate with (mode External). Unset, they connect
	// without credentials: the credentials that may run CONFIG are never
	// handed to workers unless useAdminCredentials is true.
	// +optional
	ClientAuth *RedisClientAuth `json:"clientAuth,omitempty"`

	// TLS serves Redis over TLS (mode Managed).
	// +optional
	TLS *RedisServerTLS `json:"tls,omitempty"`

	// Memory limits Redis's memory and says what happens at the limit.
	// +optional
	Memory RedisMemory `json:"memory,omitempty"`

	// Persistence keeps the queues across restarts.
	// +optional
	Persistence RedisPersistence `json:"persistence,omitempty"`

	// Network tunes connections.
	// +optional
	Network RedisNetwork `json:"network,omitempty"`

	// LazyFree frees memory in a background thread instead of blocking.
	// +optional
	LazyFree RedisLazyFree `json:"lazyFree,omitempty"`

	// ExtraConfig sets further redis.conf keys from an allow-list
	// (hz, io-threads, slowlog-log-slower-than, ...). Keys the typed fields
	// own are refused.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['hz', 'dynamic-hz', 'io-threads', 'io-threads-do-reads', 'slowlog-log-slower-than', 'slowlog-max-len', 'latency-monitor-threshold', 'activedefrag', 'active-defrag-ignore-bytes', 'active-defrag-threshold-lower', 'active-defrag-threshold-upper', 'active-defrag-cycle-min', 'active-defrag-cycle-max', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lfu-log-factor', 'lfu-decay-time', 'aof-use-rdb-preamble', 'aof-rewrite-incremental-fsync', 'auto-aof-rewrite-percentage', 'auto-aof-rewrite-min-size', 'no-appendfsync-on-rewrite', 'rdbcompression', 'rdbchecksum', 'client-output-buffer-limit', 'notify-keyspace-events', 'list-max-listpack-size', 'list-compress-depth', 'hash-max-listpack-entries', 'hash-max-listpack-value', 'zset-max-listpack-entries', 'zset-max-listpack-value', 'set-max-intset-entries', 'stream-node-max-bytes', 'stream-node-max-entries', 'lua-time-limit', 'busy-reply-threshold', 'proto-max-bulk-len', 'client-query-buffer-limit', 'replica-lazy-flush', 'lazyfree-lazy-user-flush', 'jemalloc-bg-thread', 'oom-score-adj', 'oom-score-adj-values', 'loglevel'])",message="extraConfig keys must be on the allow-list (see the RedisConfig documentation); keys the typed fields own (maxmemory, appendonly, save, timeout, tcp-backlog, requirepass, ...) are set through those fields"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !self[k].contains('\\n') && !self[k].contains('\\r'))",message="extraConfig values must be one line"
	// +optional
	ExtraConfig map[string]ExtraConfigValue `json:"extraConfig,omitempty"`
}

// ExtraConfigValue is the value of an extraConfig key.
// +kubebuilder:validation:MaxLength=256
type ExtraConfigValue string

// ManagedRedis is the Redis the operator runs: a one-replica StatefulSet.
type ManagedRedis struct {
	// Image of the Redis server.
	// +kubebuilder:default="redis:7.4"
	// +kubebuilder:validation:MinLength=1
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the Redis container. Set a memory limit above
	// memory.maxMemory: Redis needs room for buffers and forks.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Storage is the volume for the append-only file and snapshots, used
	// when persistence is on.
	// +kubebuilder:default={}
	// +optional
	Storage ManagedStorage `json:"storage,omitempty"`

	// Exporter runs a redis_exporter sidecar for Prometheus.
	// +optional
	Exporter *RedisExporter `json:"exporter,omitempty"`
}

// ManagedStorage sizes the data volume.
type ManagedStorage struct {
	// Size of the volume.
	// +kubebuilder:default="1Gi"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the volume; the cluster's default when unset.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// RedisExporter is the Prometheus exporter sidecar.
type RedisExporter struct {
	// Enabled runs the sidecar.
	Enabled bool `json:"enabled"`

	// Image of redis_exporter.
	// +kubebuilder:default="oliver006/redis_exporter:v1.62.0"
	// +optional
	Image string `json:"image,omitempty"`

	// Resources of the exporter container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalRedis is a Redis the operator configures but does not run.
//
// +kubebuilder:validation:XValidation:rule="[has(self.addr), has(self.sentinel), has(self.cluster)].filter(x, x).size() == 1",message="exactly one of external.addr, external.sentinel or external.cluster must be set"
type ExternalRedis struct {
	// Addr is the host:port of a standalone Redis server.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^\\\\s,/]+:[0-9]{1,5}$')",message="external.addr must be host:port"
	// +optional
	Addr string `json:"addr,omitempty"`

	// Sentinel reaches the master of a Sentinel group; the configuration
	// is applied to the master and again after a failover.
	// +optional
	Sentinel *RedisSentinel `json:"sentinel,omitempty"`

	// Cluster reaches a Redis Cluster; the configuration is applied to
	// every node.
	// +optional
	Cluster *RedisCluster `json:"cluster,omitempty"`

	// Username is the ACL user the operator applies the configuration as;
	// it needs the CONFIG command. Empty means the default user.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Username string `json:"username,omitempty"`

	// TLS of the connection.
	// +optional
	TLS *RedisTLS `json:"tls,omitempty"`

	// RecheckInterval is how often the configuration is read back and
	// applied again where it drifted.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="external.recheckInterval must be at least 10s"
	// +optional
	RecheckInterval *metav1.Duration `json:"recheckInterval,omitempty"`

	// PersistToFile runs CONFIG REWRITE after applying, so the server's
	// own config file keeps the values across its restarts.
	// +optional
	PersistToFile bool `json:"persistToFile,omitempty"`
}

// RedisAuth is the password of Redis's default user.
type RedisAuth struct {
	// PasswordSecretRef selects the password in a Secret of the same
	// namespace.
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty"`
}

// RedisClientAuth are the credentials a RedisConfig hands to the workers
// that use it.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.useAdminCredentials) && self.useAdminCredentials) || (!has(self.username) && !has(self.passwordSecretRef))",message="clientAuth.useAdminCredentials gives the workers external.username and auth.passwordSecretRef: remove clientAuth.username and clientAuth.passwordSecretRef, or set useAdminCredentials to false"
type RedisClientAuth struct {
	// Username is the Redis ACL user of the workers. Empty means the
	// default user.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.matches('[\\\\s]')",message="clientAuth.username must not contain white space"
	// +optional
	Username string `json:"username,omitempty"`

	// PasswordSecretRef selects the workers' password in a Secret of the
	// same namespace. The Secret must allow RedisConfigs to use it (see
	// docs/security.md).
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty"`

	// UseAdminCredentials gives the workers the credentials the operator
	// configures the server with (external.username and
	// auth.passwordSecretRef). Only for a server whose only user may also run
	// CONFIG: every worker pod then holds that password.
	// +optional
	UseAdminCredentials bool `json:"useAdminCredentials,omitempty"`
}

// RedisServerTLS serves Redis over TLS.
//
// +kubebuilder:validation:XValidation:rule="!has(self.requireClientCerts) || !self.requireClientCerts",message="tls.requireClientCerts is not supported yet: neither the operator nor the workers present a client certificate, so Redis would refuse every one of them; remove it"
type RedisServerTLS struct {
	// CertSecretName names a Secret with tls.crt, tls.key and ca.crt (as
	// cert-manager writes them).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	CertSecretName string `json:"certSecretName"`

	// RequireClientCerts would make clients present a certificate signed by
	// ca.crt. It is refused until the operator and the workers can present
	// one.
	// +optional
	RequireClientCerts bool `json:"requireClientCerts,omitempty"`
}

// RedisMemory limits memory. Task queues must never lose data to eviction:
// the policy of mode Managed is noeviction unless set, and an evicting
// policy needs allowEviction.
//
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || self.policy == 'noeviction' || (has(self.allowEviction) && self.allowEviction)",message="memory.policy other than noeviction evicts keys, and evicted task keys are lost tasks: set memory.allowEviction: true to accept that"
type RedisMemory struct {
	// MaxMemory is the memory limit of the data set (maxmemory). Unset
	// means no limit in mode Managed, and the server's own limit in mode
	// External. On a pod, set it below the container's memory limit.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('0')) > 0",message="memory.maxMemory must be positive"
	// +optional
	MaxMemory *resource.Quantity `json:"maxMemory,omitempty"`

	// Policy is what Redis does at maxMemory (maxmemory-policy). With
	// noeviction writes fail and no task is ever dropped. Unset means
	// noeviction in mode Managed, and the server's own policy in mode
	// External (QueueSafe turns False when that one evicts).
	// +optional
	Policy MaxMemoryPolicy `json:"policy,omitempty"`

	// AllowEviction accepts an evicting policy knowing that tasks can be
	// lost.
	// +optional
	AllowEviction bool `json:"allowEviction,omitempty"`
}

// RedisPersistence configures the append-only file and snapshots.
type RedisPersistence struct {
	// AOF is the append-only file.
	// +optional
	AOF RedisAOF `json:"aof,omitempty"`

	// RDB is point-in-time snapshots. Unset means none in mode Managed,
	// and the server's own save rules in mode External.
	// +optional
	RDB *RedisRDB `json:"rdb,omitempty"`
}

// RedisAOF is the append-only file: at most a second of writes is lost
// with everysec.
type RedisAOF struct {
	// Enabled turns the append-only file on (appendonly). Default true in
	// mode Managed.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Fsync is appendfsync. Default everysec in mode Managed.
	// +optional
	Fsync AppendFsync `json:"fsync,omitempty"`
}

// RedisRDB is Redis's snapshotting (save).
type RedisRDB struct {
	// Save rules: snapshot after Seconds if at least Changes keys changed.
	// Empty turns snapshots off, in either mode.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	Save []RDBSaveRule `json:"save,omitempty"`
}

// RDBSaveRule is one "save <seconds> <changes>" rule.
type RDBSaveRule struct {
	// Seconds since the last snapshot.
	// +kubebuilder:validation:Minimum=1
	Seconds int32 `json:"seconds"`
	// Changes since the last snapshot.
	// +kubebuilder:validation:Minimum=1
	Changes int32 `json:"changes"`
}

// RedisNetwork tunes connections.
type RedisNetwork struct {
	// TCPBacklog is tcp-backlog, default 511 in mode Managed. The kernel
	// caps it at the pod's net.core.somaxconn (128 unless the pod sets the
	// sysctl).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	TCPBacklog int32 `json:"tcpBacklog,omitempty"`

	// Timeout closes a client connection idle this long; 0s never does.
	// Default 300s in mode Managed.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="network.timeout must be between 0s and 24h"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// TCPKeepalive is how often Redis sends TCP keep-alives to clients.
	// Default 300s in mode Managed.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="network.tcpKeepalive must be between 0s and 24h"
	// +optional
	TCPKeepalive *metav1.Duration `json:"tcpKeepalive,omitempty"`

	// MaxClients is the most client connections (maxclients), default
	// 10000 in mode Managed. Size it for every worker's pool: replicas x
	// pool.size, plus the operator's.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	MaxClients int32 `json:"maxClients,omitempty"`
}

// RedisLazyFree frees memory in a background thread. Each key defaults to
// true in mode Managed.
type RedisLazyFree struct {
	// Eviction is lazyfree-lazy-eviction.
	// +optional
	Eviction *bool `json:"eviction,omitempty"`
	// Expire is lazyfree-lazy-expire.
	// +optional
	Expire *bool `json:"expire,omitempty"`
	// ServerDel is lazyfree-lazy-server-del.
	// +optional
	ServerDel *bool `json:"serverDel,omitempty"`
	// UserDel is lazyfree-lazy-user-del.
	// +optional
	UserDel *bool `json:"userDel,omitempty"`
}

// RedisCapacity is the server's headroom. Counts of a cluster are of its
// fullest node: every worker connects to every node.
type RedisCapacity struct {
	// QueueWorkers is how many QueueWorkers name this RedisConfig in
	// spec.redis.configRef. A client that connects by address is not
	// counted.
	QueueWorkers int32 `json:"queueWorkers"`

	// WorstCaseClients is the most connections those QueueWorkers and the
	// operator may hold at once: per QueueWorker its most pods
	// (autoscaling.maxReplicas, else replicas) times the connections of
	// one worker (redis.pool.size, plus the client's pipeline pool of 10
	// and one subscription), plus the operator's.
	WorstCaseClients int64 `json:"worstCaseClients"`

	// MaxClients is the server's maxclients as last read; unset until read.
	// +optional
	MaxClients *int64 `json:"maxClients,omitempty"`

	// ConnectedClients is connected_clients as last read.
	// +optional
	ConnectedClients *int64 `json:"connectedClients,omitempty"`

	// UsedMemoryBytes is used_memory as last read.
	// +optional
	UsedMemoryBytes *int64 `json:"usedMemoryBytes,omitempty"`

	// MaxMemoryBytes is maxmemory as last read; 0 is no limit.
	// +optional
	MaxMemoryBytes *int64 `json:"maxMemoryBytes,omitempty"`

	// UsedMemoryPercent is UsedMemoryBytes in percent of MaxMemoryBytes;
	// unset without a limit.
	// +optional
	UsedMemoryPercent *int32 `json:"usedMemoryPercent,omitempty"`

	// ReadAt is when the server was last read. The operator reads it when
	// it applies the configuration (spec changes and every recheck), and
	// every 30 seconds while memory is above 80% of maxmemory.
	// +optional
	ReadAt *metav1.Time `json:"readAt,omitempty"`
}

// ConfigDrift is a key whose value on the server is not the rendered one.
type ConfigDrift struct {
	// Key is the redis.conf key.
	Key string `json:"key"`
	// Want is the rendered value.
	Want string `json:"want"`
	// Have is the server's value, empty when it could not be read.
	// +optional
	Have string `json:"have,omitempty"`
	// Node is the server (host:port) the drift was seen on.
	// +optional
	Node string `json:"node,omitempty"`
	// Reason says why it was not applied: RestartRequired, Refused or
	// Unreadable.
	Reason string `json:"reason"`
	// Message is the server's error, if any.
	// +optional
	Message string `json:"message,omitempty"`
}

// ServerSetting is the value a server has for a key the spec leaves unset.
type ServerSetting struct {
	// Key is the redis.conf key.
	Key string `json:"key"`
	// Value is the server's value, as CONFIG GET reports it (memory in
	// bytes, durations in seconds, "" for save without snapshots).
	Value string `json:"value"`
	// Node is the server (host:port) that reported it.
	// +optional
	Node string `json:"node,omitempty"`
}

// RedisConfigStatus is what the operator observed.
type RedisConfigStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Address is host:port of Redis: the Service's DNS name in mode
	// Managed, the configured address in mode External.
	// +optional
	Address string `json:"address,omitempty"`

	// PasswordSecretRef is where clients (the QueueWorkers that name this
	// RedisConfig) find their password; unset when they get none.
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty"`

	// Username is the ACL user clients authenticate as; empty for the
	// default user.
	// +optional
	Username string `json:"username,omitempty"`

	// TLS is true when clients must use TLS.
	// +optional
	TLS bool `json:"tls,omitempty"`

	// ConfigHash is a hash of the rendered redis.conf.
	// +optional
	ConfigHash string `json:"configHash,omitempty"`

	// AppliedAt is when the configuration was last applied.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`

	// Persistence summarises the persistence in force: "aof everysec",
	// "aof everysec + rdb", "rdb" or "off". In mode External it is read from
	// the server (appendonly, appendfsync, save), values that differ between
	// nodes joined by commas.
	// +optional
	Persistence string `json:"persistence,omitempty"`

	// MaxMemory is the memory limit in force (maxmemory), e.g. "512Mi", or
	// "unlimited". In mode External it is read from the server.
	// +optional
	MaxMemory string `json:"maxMemory,omitempty"`

	// Policy is the maxmemory-policy in force. In mode External it is read
	// from the server.
	// +optional
	Policy string `json:"policy,omitempty"`

	// ServerConfig lists, in mode External, the server's values of the
	// keys of the typed fields (memory, persistence, network, lazyFree)
	// that the spec leaves unset: the operator does not change them, and
	// they are what the server runs with. Sorted by node and key; every
	// node of a cluster is listed.
	// +listType=atomic
	// +optional
	ServerConfig []ServerSetting `json:"serverConfig,omitempty"`

	// Nodes are the servers the configuration was last applied to (the
	// current master of a sentinel group).
	// +listType=atomic
	// +optional
	Nodes []string `json:"nodes,omitempty"`

	// Drift lists keys whose value on the server is not the rendered one.
	// +listType=atomic
	// +optional
	Drift []ConfigDrift `json:"drift,omitempty"`

	// Capacity compares what the server's clients may need with its
	// limits: the connections the QueueWorkers that use this RedisConfig
	// may open against maxclients, and the memory in use against
	// maxmemory. The CapacityOK condition sums it up.
	// +optional
	Capacity *RedisCapacity `json:"capacity,omitempty"`

	// Conditions: Ready, Stalled, Reconciling, Rendered, Applied, QueueSafe,
	// CapacityOK.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rcfg
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="MaxMemory",type=string,JSONPath=`.status.maxMemory`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.status.policy`
// +kubebuilder:printcolumn:name="Persistence",type=string,JSONPath=`.status.persistence`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// RedisConfig declares the configuration of the Redis behind task queues
// and runs that Redis (mode Managed) or applies the configuration to an
// existing one (mode External).
//
// In mode Managed the name names the StatefulSet and the Service
// "<name>-redis". The Service name is a DNS-1035 label, so the name starts
// with a letter and holds no dots; and the StatefulSet's pods carry a
// controller-revision-hash label "<name>-redis-<hash>" of up to 63
// characters, so the name has at most 46. The rules judge a name when the
// RedisConfig is created or enters mode Managed (oldSelf is absent on
// create; a name never changes), so that one stored before the rules keeps
// accepting writes, its status included, and the controller can say why it
// runs no Redis for it.
// +kubebuilder:validation:XValidation:rule="self.spec.mode != 'Managed' || (oldSelf.hasValue() && oldSelf.value().spec.mode == 'Managed') || self.metadata.name.size() <= 46",message="in mode Managed, metadata.name must be at most 46 characters: the StatefulSet <name>-redis labels its pods with controller-revision-hash <name>-redis-<hash>, which must fit in 63",optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="self.spec.mode != 'Managed' || (oldSelf.hasValue() && oldSelf.value().spec.mode == 'Managed') || self.metadata.name.matches('^[a-z][-a-z0-9]*$')",message="in mode Managed, metadata.name must start with a letter and consist of lower-case letters, digits and '-': the Service <name>-redis is a DNS-1035 label",optionalOldSelf=true
type RedisConfig struct {
	metav1.TypeMeta `json:",inline"`

	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec RedisConfigSpec `json:"spec"`

	// +optional
	Status RedisConfigStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// RedisConfigList contains a list of RedisConfig.
type RedisConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []RedisConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &RedisConfig{}, &RedisConfigList{})
		return nil
	})
}
