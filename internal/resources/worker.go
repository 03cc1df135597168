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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// Labels and annotations the operator sets.
const (
	// LabelName is the standard application name label; its value is
	// AppName on every worker pod.
	LabelName = "app.kubernetes.io/name"
	// LabelInstance carries the QueueWorker's name.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelComponent is "worker" on worker pods.
	LabelComponent = "app.kubernetes.io/component"
	// LabelManagedBy is the standard label naming the operator.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelPartOf groups the workers of all QueueWorkers.
	LabelPartOf = "app.kubernetes.io/part-of"

	// AppName is the value of LabelName and LabelPartOf.
	AppName = "queueworker"
	// ManagerName is the value of LabelManagedBy.
	ManagerName = "queueworker-operator"
	// ComponentWorker is the value of LabelComponent on worker pods.
	ComponentWorker = "worker"

	// AnnotationSecretHash on the pod template holds a hash of the Secret
	// data the workers use, so a rotated password rolls the pods.
	AnnotationSecretHash = "queueworker.io/secret-hash"
	// AnnotationTemplateHash on the Deployment holds a hash of the pod
	// template the operator built, so a changed template tells a rollout
	// from a change of anything else.
	AnnotationTemplateHash = "queueworker.io/template-hash"
	// AnnotationAppliedHash on every object the operator writes holds a
	// hash of what it last applied, so an unchanged object is not written.
	AnnotationAppliedHash = "queueworker.io/applied-hash"

	// WorkerContainerName is the name that marks the worker container in a
	// template with several containers.
	WorkerContainerName = "worker"

	// GracePeriodMargin is added to shutdownTimeout for the pod's
	// terminationGracePeriodSeconds: time for asynq to return unfinished
	// tasks to their queue after the shutdown timeout ends.
	GracePeriodMargin = 5 * time.Second

	// MaxQueueWorkerNameLength is the longest QueueWorker name: the name is
	// the value of LabelInstance on the Deployment and its pods, and a
	// label value holds at most 63 characters. The Deployment's own name,
	// and the "<name>-<hash>" of its ReplicaSets, are far within the 253 of
	// an object name.
	MaxQueueWorkerNameLength = validation.LabelValueMaxLength
)

// Defaults applied when a field is unset. The API server's defaulting sets
// them too; the builder repeats them for objects that skipped it.
const (
	DefaultConcurrency         = 4
	DefaultShutdownTimeout     = 25 * time.Second
	DefaultHealthCheckInterval = 15 * time.Second
	DefaultPoolSize            = 50
	DefaultPoolTimeout         = 5 * time.Second
	DefaultConnMaxIdleTime     = 4 * time.Minute
	DefaultMaxRetries          = 3
)

// ErrInvalidQueueWorkerName is returned for a QueueWorker name that cannot
// label the worker Deployment and its pods.
var ErrInvalidQueueWorkerName = errors.New("invalid QueueWorker name")

// CheckQueueWorkerName returns ErrInvalidQueueWorkerName, wrapped, for a
// name longer than MaxQueueWorkerNameLength. The API server refuses such a
// QueueWorker when it is created; one stored before that rule still reaches
// the controller, which refuses it instead of asking for a Deployment the
// API server would reject.
func CheckQueueWorkerName(name string) error {
	if len(name) > MaxQueueWorkerNameLength {
		return fmt.Errorf("%w: it has %d characters, and it is the value of the %s label of the worker "+
			"Deployment and its pods, which holds at most %d; a name cannot change, so create the QueueWorker "+
			"again under a shorter one", ErrInvalidQueueWorkerName, len(name), LabelInstance, MaxQueueWorkerNameLength)
	}
	return nil
}

// ErrNoWorkerContainer is returned for a template with several containers
// and none named "worker". The API server rejects such a template; the
// builder checks again because it must not guess.
var ErrNoWorkerContainer = errors.New(`pod template has no container named "worker" and more than one container`)

// SelectorLabels are the labels that select a QueueWorker's pods. They never
// change after the Deployment is created: a Deployment's selector is
// immutable.
func SelectorLabels(qw *queueworkerv1alpha1.QueueWorker) map[string]string {
	return map[string]string{
		LabelName:     AppName,
		LabelInstance: qw.Name,
	}
}

// WorkerLabels are the labels of a QueueWorker's Deployment and pods.
func WorkerLabels(qw *queueworkerv1alpha1.QueueWorker) map[string]string {
	l := SelectorLabels(qw)
	l[LabelComponent] = ComponentWorker
	l[LabelManagedBy] = ManagerName
	l[LabelPartOf] = AppName
	return l
}

// BuildWorkerDeployment returns the Deployment a QueueWorker wants: the
// user's pod template with the worker settings injected, restricted security
// defaults where the template sets none, a grace period that covers the
// shutdown timeout, and secretHash in a pod annotation. It leaves
// spec.replicas unset: the scale step owns it.
func BuildWorkerDeployment(qw *queueworkerv1alpha1.QueueWorker, ep RedisEndpoint, secretHash string) (*appsv1.Deployment, error) {
	tmpl := qw.Spec.Template.DeepCopy()
	idx, err := WorkerContainerIndex(&tmpl.Spec)
	if err != nil {
		return nil, err
	}

	tmpl.Labels = mergeOwned(tmpl.Labels, WorkerLabels(qw))
	if secretHash != "" {
		tmpl.Annotations = mergeOwned(tmpl.Annotations, map[string]string{AnnotationSecretHash: secretHash})
	}

	worker := &tmpl.Spec.Containers[idx]
	worker.Env = append(withoutContractEnv(worker.Env), WorkerEnv(&qw.Spec, ep)...)
	addHTTPPort(worker)

	grace := int64(math.Ceil((shutdownTimeout(&qw.Spec) + GracePeriodMargin).Seconds()))
	if tmpl.Spec.TerminationGracePeriodSeconds == nil || *tmpl.Spec.TerminationGracePeriodSeconds < grace {
		tmpl.Spec.TerminationGracePeriodSeconds = ptr.To(grace)
	}
	applySecurityDefaults(&tmpl.Spec)

	dep := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      qw.Name,
			Namespace: qw.Namespace,
			Labels:    WorkerLabels(qw),
		},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(qw)},
			Template: *tmpl,
		},
	}
	dep.Annotations = map[string]string{AnnotationTemplateHash: TemplateHash(tmpl)}
	return dep, nil
}

// WorkerContainerIndex finds the worker container: the one named "worker",
// or the only container.
func WorkerContainerIndex(spec *corev1.PodSpec) (int, error) {
	for i := range spec.Containers {
		if spec.Containers[i].Name == WorkerContainerName {
			return i, nil
		}
	}
	if len(spec.Containers) == 1 {
		return 0, nil
	}
	return 0, ErrNoWorkerContainer
}

// TemplateHash is a short stable hash of a pod template.
func TemplateHash(tmpl *corev1.PodTemplateSpec) string {
	b, err := json.Marshal(tmpl)
	if err != nil {
		// A PodTemplateSpec always marshals; a panic here is a bug.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// mergeOwned copies base and sets the owned keys over it.
func mergeOwned(base, owned map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(owned))
	maps.Copy(out, base)
	maps.Copy(out, owned)
	return out
}

// withoutContractEnv drops variables with the contract's prefix: the
// operator owns them, and a stale copy in the template must not win.
func withoutContractEnv(env []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env))
	for _, e := range env {
		if !strings.HasPrefix(e.Name, contract.Prefix) {
			out = append(out, e)
		}
	}
	return out
}

func addHTTPPort(c *corev1.Container) {
	for _, p := range c.Ports {
		if p.Name == contract.HTTPPortName || p.ContainerPort == contract.HTTPPort {
			return
		}
	}
	c.Ports = append(c.Ports, corev1.ContainerPort{
		Name:          contract.HTTPPortName,
		ContainerPort: contract.HTTPPort,
		Protocol:      corev1.ProtocolTCP,
	})
}

// applySecurityDefaults fills the restricted Pod Security Standard's fields
// that the template leaves unset; a value the user set is kept.
func applySecurityDefaults(spec *corev1.PodSpec) {
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := spec.SecurityContext
	if psc.RunAsNonRoot == nil {
		psc.RunAsNonRoot = ptr.To(true)
	}
	if psc.SeccompProfile == nil {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	for i := range spec.InitContainers {
		containerSecurityDefaults(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		containerSecurityDefaults(&spec.Containers[i])
	}
}

func containerSecurityDefaults(c *corev1.Container) {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil {
		sc.AllowPrivilegeEscalation = ptr.To(false)
	}
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
	}
}

// WorkerEnv is the worker settings contract for a QueueWorker: the
// variables pkg/worker reads, secrets by secretKeyRef only.
func WorkerEnv(spec *queueworkerv1alpha1.QueueWorkerSpec, ep RedisEndpoint) []corev1.EnvVar {
	queues := make([]contract.Queue, 0, len(spec.Queues))
	for _, q := range spec.Queues {
		p := int(q.Priority)
		if p == 0 {
			p = 1
		}
		queues = append(queues, contract.Queue{Name: q.Name, Priority: p})
	}
	concurrency := spec.Concurrency
	if concurrency == 0 {
		concurrency = DefaultConcurrency
	}
	hc := DefaultHealthCheckInterval
	if spec.HealthCheckInterval != nil {
		hc = spec.HealthCheckInterval.Duration
	}

	env := []corev1.EnvVar{
		value(contract.EnvQueues, contract.FormatQueues(queues)),
		value(contract.EnvStrictPriority, strconv.FormatBool(spec.StrictPriority)),
		value(contract.EnvConcurrency, strconv.Itoa(int(concurrency))),
		value(contract.EnvShutdownTimeout, shutdownTimeout(spec).String()),
		value(contract.EnvHealthCheckInterval, hc.String()),
		value(contract.EnvHTTPAddr, contract.DefaultHTTPAddr),
		value(contract.EnvRedisMode, ep.Mode),
	}
	switch ep.Mode {
	case contract.ModeStandalone:
		env = append(env, value(contract.EnvRedisAddr, ep.Addr))
	case contract.ModeSentinel:
		env = append(env,
			value(contract.EnvRedisAddrs, contract.FormatList(ep.Addrs)),
			value(contract.EnvRedisMasterName, ep.MasterName))
	case contract.ModeCluster:
		env = append(env, value(contract.EnvRedisAddrs, contract.FormatList(ep.Addrs)))
	}
	env = append(env, value(contract.EnvRedisDB, strconv.Itoa(int(ep.DB))))
	if ep.Username != "" {
		env = append(env, value(contract.EnvRedisUsername, ep.Username))
	}
	if ep.Password != nil {
		env = append(env, secretValue(contract.EnvRedisPassword, *ep.Password))
	}
	env = append(env, value(contract.EnvRedisTLS, strconv.FormatBool(ep.TLS)))
	if ep.TLS {
		if ep.CA != nil {
			env = append(env, secretValue(contract.EnvRedisTLSCACert, *ep.CA))
		}
		if ep.ServerName != "" {
			env = append(env, value(contract.EnvRedisTLSServerName, ep.ServerName))
		}
		env = append(env, value(contract.EnvRedisTLSInsecureSkipVerify, strconv.FormatBool(ep.InsecureSkipVerify)))
	}

	pool := spec.Redis.Pool
	size := pool.Size
	if size == 0 {
		size = DefaultPoolSize
	}
	maxRetries := int32(DefaultMaxRetries)
	if pool.MaxRetries != nil {
		maxRetries = *pool.MaxRetries
	}
	env = append(env,
		value(contract.EnvRedisPoolSize, strconv.Itoa(int(size))),
		value(contract.EnvRedisMinIdleConns, strconv.Itoa(int(pool.MinIdle))),
		value(contract.EnvRedisDialTimeout, durationOr(pool.DialTimeout, DefaultPoolTimeout).String()),
		value(contract.EnvRedisReadTimeout, durationOr(pool.ReadTimeout, DefaultPoolTimeout).String()),
		value(contract.EnvRedisWriteTimeout, durationOr(pool.WriteTimeout, DefaultPoolTimeout).String()),
		value(contract.EnvRedisPoolTimeout, durationOr(pool.PoolTimeout, DefaultPoolTimeout).String()),
		value(contract.EnvRedisConnMaxIdleTime, durationOr(pool.ConnMaxIdleTime, DefaultConnMaxIdleTime).String()),
		value(contract.EnvRedisMaxRetries, strconv.Itoa(int(maxRetries))),
	)
	return env
}

func shutdownTimeout(spec *queueworkerv1alpha1.QueueWorkerSpec) time.Duration {
	return durationOr(spec.ShutdownTimeout, DefaultShutdownTimeout)
}

func durationOr(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}

func value(name, v string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: v} }

func secretValue(name string, ref SecretKey) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
		Key:                  ref.Key,
	}}}
}
