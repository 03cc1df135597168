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

package controllers

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

func getDeployment(t *testing.T, ns, name string) (*appsv1.Deployment, error) {
	t.Helper()
	dep := &appsv1.Deployment{}
	err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, dep)
	return dep, err
}

func getQueueWorker(t *testing.T, ns, name string) *queueworkerv1alpha1.QueueWorker {
	t.Helper()
	qw := &queueworkerv1alpha1.QueueWorker{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, qw); err != nil {
		t.Fatal(err)
	}
	return qw
}

func envMap(c *corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func conditionIs(qw *queueworkerv1alpha1.QueueWorker, condType string, status metav1.ConditionStatus, reason string) error {
	c := apimeta.FindStatusCondition(qw.Status.Conditions, condType)
	if c == nil {
		return fmt.Errorf("no %s condition", condType)
	}
	if c.Status != status || c.Reason != reason {
		return fmt.Errorf("%s = %s/%s (%s), want %s/%s", condType, c.Status, c.Reason, c.Message, status, reason)
	}
	if c.ObservedGeneration != qw.Generation {
		return fmt.Errorf("%s observedGeneration %d, want %d", condType, c.ObservedGeneration, qw.Generation)
	}
	return nil
}

// markDeploymentAvailable writes the status kube-controller-manager would
// write once every pod of the Deployment is up.
func markDeploymentAvailable(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	// The operator may have written the Deployment since dep was read.
	setDeploymentStatus(t, dep.Namespace, dep.Name, func(dep *appsv1.Deployment) {
		n := ptr.Deref(dep.Spec.Replicas, 1)
		dep.Status = appsv1.DeploymentStatus{
			ObservedGeneration: dep.Generation,
			Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
				Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
	})
}

// TestSampleYieldsWorkerDeployment applies config/samples with the real
// kubectl, as a user would, and checks the Deployment the operator builds.
func TestSampleYieldsWorkerDeployment(t *testing.T) {
	ns := createNamespace(t)
	user, err := testEnv.AddUser(envtest.User{Name: "sample-applier", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := user.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	samples := filepath.Join("..", "config", "samples")
	if _, stderr, err := kubectl.Run("apply", "--namespace", ns,
		"-f", filepath.Join(samples, "queueworker_v1alpha1_redisconfig.yaml"),
		"-f", filepath.Join(samples, "queueworker_v1alpha1_queueworker.yaml")); err != nil {
		b, _ := io.ReadAll(stderr)
		t.Fatalf("kubectl apply of %s: %v\n%s", samples, err, b)
	}
	// The QueueWorker waits for its RedisConfig until the Redis runs.
	eventually(t, "QueueWorker waits for the RedisConfig", func() error {
		return conditionIs(getQueueWorker(t, ns, "email"), queueworkerv1alpha1.ConditionReconciling,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWaitingForRedisConfig)
	})
	_, password := runManagedRedis(t, ns, "redis")

	var dep *appsv1.Deployment
	eventually(t, "worker Deployment created", func() (err error) {
		dep, err = getDeployment(t, ns, "email")
		return err
	})
	qw := getQueueWorker(t, ns, "email")

	// Owned by the QueueWorker, so it is garbage-collected with it.
	if !metav1.IsControlledBy(dep, qw) {
		t.Errorf("Deployment owner references %v do not name QueueWorker %s as controller", dep.OwnerReferences, qw.UID)
	}
	if got := ptr.Deref(dep.Spec.Replicas, -1); got != 1 {
		t.Errorf("spec.replicas = %d, want autoscaling.minReplicas 1 from the sample", got)
	}

	wantLabels := map[string]string{
		"app.kubernetes.io/name":       "queueworker",
		"app.kubernetes.io/instance":   "email",
		"app.kubernetes.io/component":  "worker",
		"app.kubernetes.io/managed-by": "queueworker-operator",
		"app.kubernetes.io/part-of":    "queueworker",
	}
	for k, v := range wantLabels {
		if dep.Labels[k] != v {
			t.Errorf("Deployment label %s = %q, want %q", k, dep.Labels[k], v)
		}
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("pod label %s = %q, want %q", k, dep.Spec.Template.Labels[k], v)
		}
	}
	if dep.Spec.Template.Labels["team"] != "messaging" {
		t.Errorf("the template's own label team=messaging was lost: %v", dep.Spec.Template.Labels)
	}

	pod := dep.Spec.Template.Spec
	if got := ptr.Deref(pod.TerminationGracePeriodSeconds, 0); got != 30 {
		t.Errorf("terminationGracePeriodSeconds = %d, want 30 (shutdownTimeout 25s + 5s)", got)
	}
	if psc := pod.SecurityContext; psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v is not runAsNonRoot with RuntimeDefault seccomp", psc)
	}
	worker := pod.Containers[0]
	if sc := worker.SecurityContext; sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("worker securityContext %+v does not forbid privilege escalation and drop ALL", sc)
	}

	env := envMap(&worker)
	wantEnv := map[string]string{
		contract.EnvQueues:               "critical=6,default=3,low=1",
		contract.EnvStrictPriority:       "false",
		contract.EnvConcurrency:          "4",
		contract.EnvShutdownTimeout:      "25s",
		contract.EnvHealthCheckInterval:  "15s",
		contract.EnvRedisMode:            "standalone",
		contract.EnvRedisAddr:            "redis-redis." + ns + ".svc:6379",
		contract.EnvRedisDB:              "0",
		contract.EnvRedisTLS:             "false",
		contract.EnvRedisPoolSize:        "50",
		contract.EnvRedisMinIdleConns:    "2",
		contract.EnvRedisDialTimeout:     "5s",
		contract.EnvRedisReadTimeout:     "5s",
		contract.EnvRedisWriteTimeout:    "5s",
		contract.EnvRedisPoolTimeout:     "5s",
		contract.EnvRedisConnMaxIdleTime: "4m0s",
		contract.EnvRedisMaxRetries:      "3",
	}
	for k, v := range wantEnv {
		if got, ok := env[k]; !ok || got.Value != v {
			t.Errorf("env %s = %q, want %q", k, got.Value, v)
		}
	}
	pw, ok := env[contract.EnvRedisPassword]
	switch {
	case !ok:
		t.Errorf("no %s in the worker env", contract.EnvRedisPassword)
	case pw.Value != "" || pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil:
		t.Errorf("%s is not set by secretKeyRef: %+v", contract.EnvRedisPassword, pw)
	case pw.ValueFrom.SecretKeyRef.Name != "redis-redis-auth" || pw.ValueFrom.SecretKeyRef.Key != "password":
		t.Errorf("%s refers to %s/%s, want redis-redis-auth/password", contract.EnvRedisPassword,
			pw.ValueFrom.SecretKeyRef.Name, pw.ValueFrom.SecretKeyRef.Key)
	}
	for _, e := range worker.Env {
		if strings.Contains(e.Value, password) {
			t.Errorf("env %s carries the password by value", e.Name)
		}
	}
	if dep.Spec.Template.Annotations[resources.AnnotationSecretHash] == "" {
		t.Errorf("pod template has no %s annotation", resources.AnnotationSecretHash)
	}

	// Status: selector for /scale, observed generation, not stalled.
	eventually(t, "status summarised", func() error {
		qw = getQueueWorker(t, ns, "email")
		if qw.Status.Selector != "app.kubernetes.io/instance=email,app.kubernetes.io/name=queueworker" {
			return fmt.Errorf("selector %q", qw.Status.Selector)
		}
		if qw.Status.ObservedGeneration != qw.Generation {
			return fmt.Errorf("observedGeneration %d of %d", qw.Status.ObservedGeneration, qw.Generation)
		}
		return conditionIs(qw, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled)
	})
}

// TestReadyFollowsDeployment checks the Ready condition and its event once
// the Deployment becomes available, and the counts in status.
func TestReadyFollowsDeployment(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "ready")
	qw.Spec.Replicas = ptr.To[int32](3)
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	eventually(t, "Deployment created", func() (err error) {
		dep, err = getDeployment(t, ns, "ready")
		return err
	})
	eventually(t, "Ready=Unknown while the new Deployment rolls out", func() error {
		return conditionIs(getQueueWorker(t, ns, "ready"), queueworkerv1alpha1.ConditionReady,
			metav1.ConditionUnknown, queueworkerv1alpha1.ReasonProgressing)
	})
	markDeploymentAvailable(t, dep)
	eventually(t, "Ready=True", func() error {
		got := getQueueWorker(t, ns, "ready")
		if got.Status.Replicas != 3 || got.Status.ReadyReplicas != 3 || got.Status.DesiredReplicas != 3 {
			return fmt.Errorf("replicas %d ready %d desired %d, want 3/3/3",
				got.Status.Replicas, got.Status.ReadyReplicas, got.Status.DesiredReplicas)
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled)
	})
	eventually(t, "a Ready event", func() error {
		return hasEvent(t, ns, "ready", queueworkerv1alpha1.ReasonReady)
	})
}

// TestMissingSecretStallsAndRecovers: a QueueWorker whose password Secret
// does not exist reports it, and goes on by itself once the Secret appears.
func TestMissingSecretStallsAndRecovers(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "nosecret")
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "later", Key: "password"}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled=True with SecretNotFound", func() error {
		got := getQueueWorker(t, ns, "nosecret")
		if err := conditionIs(got, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonSecretNotFound); err != nil {
			return err
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonSecretNotFound)
	})
	eventually(t, "a SecretNotFound event", func() error {
		return hasEvent(t, ns, "nosecret", queueworkerv1alpha1.ReasonSecretNotFound)
	})
	if _, err := getDeployment(t, ns, "nosecret"); err == nil {
		t.Fatal("a Deployment was created although its password Secret is missing")
	}

	// A Secret without the key is a different problem with its own reason.
	sec := usableSecret(ns, "later", map[string]string{"other": "x"}, queueworkerv1alpha1.KindQueueWorker)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled=True with SecretKeyNotFound", func() error {
		return conditionIs(getQueueWorker(t, ns, "nosecret"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretKeyNotFound)
	})

	sec.Data = map[string][]byte{"password": []byte("s3cret")}
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Deployment created after the Secret appeared", func() error {
		_, err := getDeployment(t, ns, "nosecret")
		return err
	})
	eventually(t, "Stalled=False", func() error {
		return conditionIs(getQueueWorker(t, ns, "nosecret"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled)
	})
	// The stall was reported once per transition, not on every retry.
	if n := countEvents(t, ns, "nosecret", queueworkerv1alpha1.ReasonSecretNotFound); n != 1 {
		t.Errorf("%d SecretNotFound events, want 1 (events on transitions only)", n)
	}
}

// TestPasswordRotationRollsWorkers: changing the Secret's data changes the
// pod template's hash annotation, which rolls the workers.
func TestPasswordRotationRollsWorkers(t *testing.T) {
	ns := createNamespace(t)
	sec := usableSecret(ns, "redis", map[string]string{"password": "one"}, queueworkerv1alpha1.KindQueueWorker)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	qw := newQueueWorker(ns, "rotate")
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "redis", Key: "password"}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	var before string
	eventually(t, "Deployment with a secret hash", func() error {
		dep, err := getDeployment(t, ns, "rotate")
		if err != nil {
			return err
		}
		before = dep.Spec.Template.Annotations[resources.AnnotationSecretHash]
		if before == "" {
			return errors.New("no secret hash")
		}
		return nil
	})
	sec.Data["password"] = []byte("two")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "secret hash changed after rotation", func() error {
		dep, err := getDeployment(t, ns, "rotate")
		if err != nil {
			return err
		}
		if after := dep.Spec.Template.Annotations[resources.AnnotationSecretHash]; after == before {
			return fmt.Errorf("hash still %s", after)
		}
		return nil
	})
}

// TestReplicasOwnership: /scale sets the Deployment's replicas, and a
// template change never resets the replica count.
func TestReplicasOwnership(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "scale")
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	waitReplicas := func(want int32) {
		t.Helper()
		eventually(t, fmt.Sprintf("Deployment at %d replicas", want), func() error {
			dep, err := getDeployment(t, ns, "scale")
			if err != nil {
				return err
			}
			if got := ptr.Deref(dep.Spec.Replicas, -1); got != want {
				return fmt.Errorf("replicas %d", got)
			}
			return nil
		})
	}
	waitReplicas(1) // spec.replicas unset: one worker
	scaleTo(t, getQueueWorker(t, ns, "scale"), 4)
	waitReplicas(4)
	eventually(t, "ScaledUp event", func() error { return hasEvent(t, ns, "scale", queueworkerv1alpha1.ReasonScaledUp) })

	// A spec change rolls the template and keeps the 4 replicas.
	updateQueueWorker(t, ns, "scale", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 9 })
	eventually(t, "template updated", func() error {
		dep, err := getDeployment(t, ns, "scale")
		if err != nil {
			return err
		}
		if v := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvConcurrency].Value; v != "9" {
			return fmt.Errorf("concurrency env %q", v)
		}
		if got := ptr.Deref(dep.Spec.Replicas, -1); got != 4 {
			t.Fatalf("template update reset replicas to %d", got)
		}
		return nil
	})

	// With autoscaling, a count the scaler set inside the bounds stays.
	updateQueueWorker(t, ns, "scale", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Replicas = nil
		q.Spec.Autoscaling = &queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 3}
	})
	waitReplicas(3) // 4 clamped to maxReplicas
	eventually(t, "ScaledDown event", func() error { return hasEvent(t, ns, "scale", queueworkerv1alpha1.ReasonScaledDown) })
	// The autoscaler's stand-in sets 2 replicas, inside [1, 3].
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := getDeployment(t, ns, "scale")
		if err != nil {
			return err
		}
		dep.Spec.Replicas = ptr.To[int32](2)
		return k8sClient.Update(testCtx, dep)
	})
	if err != nil {
		t.Fatal(err)
	}
	updateQueueWorker(t, ns, "scale", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 5 })
	eventually(t, "template updated again", func() error {
		dep, err := getDeployment(t, ns, "scale")
		if err != nil {
			return err
		}
		if v := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvConcurrency].Value; v != "5" {
			return fmt.Errorf("concurrency env %q", v)
		}
		return nil
	})
	waitReplicas(2)
}

// TestForeignDeploymentConflict: a Deployment of the same name that the
// QueueWorker does not own is left alone and reported.
func TestForeignDeploymentConflict(t *testing.T) {
	ns := createNamespace(t)
	labels := map[string]string{"app": "other"}
	foreign := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "example.com/x:1"}}},
			},
		},
	}
	if err := k8sClient.Create(testCtx, foreign); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(testCtx, newQueueWorker(ns, "taken")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled=True with DeploymentConflict", func() error {
		return conditionIs(getQueueWorker(t, ns, "taken"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonDeploymentConflict)
	})
	dep, err := getDeployment(t, ns, "taken")
	if err != nil {
		t.Fatal(err)
	}
	if len(dep.OwnerReferences) != 0 || dep.Spec.Template.Spec.Containers[0].Name != "x" {
		t.Errorf("the foreign Deployment was changed: %+v", dep.OwnerReferences)
	}

	// Once the other Deployment is gone, the QueueWorker goes on by itself.
	if err := k8sClient.Delete(testCtx, dep, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the QueueWorker's own Deployment replaces it", func() error {
		dep, err := getDeployment(t, ns, "taken")
		if err != nil {
			return err
		}
		if !metav1.IsControlledBy(dep, getQueueWorker(t, ns, "taken")) {
			return errors.New("not owned by the QueueWorker yet")
		}
		return nil
	})
}

// updateQueueWorker changes a QueueWorker's spec, retrying on conflicts with
// the operator's status writes.
func updateQueueWorker(t *testing.T, ns, name string, mutate func(*queueworkerv1alpha1.QueueWorker)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		qw := getQueueWorker(t, ns, name)
		mutate(qw)
		return k8sClient.Update(testCtx, qw)
	})
	if err != nil {
		t.Fatalf("updating QueueWorker %s: %v", name, err)
	}
}

func newQueueWorker(ns, name string) *queueworkerv1alpha1.QueueWorker {
	return &queueworkerv1alpha1.QueueWorker{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: queueworkerv1alpha1.QueueWorkerSpec{
			Queues: []queueworkerv1alpha1.Queue{{Name: "default", Priority: 1}},
			Redis:  queueworkerv1alpha1.RedisConnection{Addr: "127.0.0.1:6379"},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "worker", Image: "queueworker-worker:dev"}},
			}},
		},
	}
}

func countEvents(t *testing.T, ns, name, reason string) int {
	t.Helper()
	n := 0
	for _, e := range eventsFor(t, ns, name) {
		if e.Reason == reason {
			n++
		}
	}
	return n
}

func hasEvent(t *testing.T, ns, name, reason string) error {
	t.Helper()
	if countEvents(t, ns, name, reason) == 0 {
		return fmt.Errorf("no %s event for %s", reason, name)
	}
	return nil
}

// TestQueueWorkerNameTooLong: a QueueWorker whose name cannot label its
// pods, stored before the API server refused such names, stalls with
// InvalidName and one Warning event, and the operator never asks for its
// Deployment, not even after a spec change.
func TestQueueWorkerNameTooLong(t *testing.T) {
	ns := createNamespace(t)
	name := strings.Repeat("n", resources.MaxQueueWorkerNameLength+1)
	storeBeforeNameRules(t, "queueworkers.queueworker.io", newQueueWorker(ns, name),
		newQueueWorker(ns, strings.Repeat("p", resources.MaxQueueWorkerNameLength+1)))

	eventually(t, "Stalled: InvalidName", func() error {
		qw := getQueueWorker(t, ns, name)
		if err := conditionIs(qw, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue, queueworkerv1alpha1.ReasonInvalidName); err != nil {
			return err
		}
		return conditionIs(qw, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidName)
	})
	c := apimeta.FindStatusCondition(getQueueWorker(t, ns, name).Status.Conditions, queueworkerv1alpha1.ConditionStalled)
	if !strings.Contains(c.Message, "63") || !strings.Contains(c.Message, resources.LabelInstance) {
		t.Errorf("Stalled message %q says neither the limit nor the label", c.Message)
	}

	// A spec change is reconciled again, and changes nothing.
	updateQueueWorker(t, ns, name, func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 2 })
	eventually(t, "Stalled for the new generation", func() error {
		return conditionIs(getQueueWorker(t, ns, name), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonInvalidName)
	})
	if n := countEvents(t, ns, name, queueworkerv1alpha1.ReasonInvalidName); n != 1 {
		t.Errorf("%d InvalidName events, want one", n)
	}
	for _, e := range eventsFor(t, ns, name) {
		if e.Reason == queueworkerv1alpha1.ReasonInvalidName && e.Type != "Warning" {
			t.Errorf("InvalidName event of type %s", e.Type)
		}
	}
	if n := createsOf("/apis/apps/v1/namespaces/" + ns + "/deployments"); n != 0 {
		t.Errorf("the operator sent %d Deployment creates for a name no Deployment can carry", n)
	}
}

// timesEmitted is how many times events of reason about the named object
// were emitted: an Event object counts once, or as often as its series
// says.
func timesEmitted(t *testing.T, ns, name, reason string) int32 {
	t.Helper()
	var n int32
	for _, e := range eventsFor(t, ns, name) {
		if e.Reason != reason {
			continue
		}
		if e.Series != nil {
			n += e.Series.Count
		} else {
			n++
		}
	}
	return n
}

// sharedRedisConfig creates an External RedisConfig of the server at addr
// whose password, in Secret name+"-pw", its QueueWorkers get too.
func sharedRedisConfig(t *testing.T, ns, name, addr, password string) {
	t.Helper()
	createObject(t, usableSecret(ns, name+"-pw", map[string]string{"password": password},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker))
	rc := externalRedisConfig(ns, name, addr, name+"-pw")
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{UseAdminCredentials: true}
	createObject(t, rc)
}

// readyQueueWorkerOf creates a QueueWorker using RedisConfig rc and waits
// until it is Ready, its Deployment marked available.
func readyQueueWorkerOf(t *testing.T, ns, name, rc string) {
	t.Helper()
	qw := newQueueWorker(ns, name)
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: rc}}
	createObject(t, qw)
	waitDeploymentReplicas(t, ns, name, 1)
	setDeploymentStatus(t, ns, name, func(dep *appsv1.Deployment) { markAvailable(dep, 1) })
	eventually(t, "Ready=True", func() error {
		return conditionIs(getQueueWorker(t, ns, name), queueworkerv1alpha1.ConditionReady,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled)
	})
}

// warnings lists the reasons of the Warning events about the named object.
func warnings(t *testing.T, ns, name string) []string {
	t.Helper()
	var reasons []string
	for _, e := range eventsFor(t, ns, name) {
		if e.Type == corev1.EventTypeWarning {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

// TestRedisConfigEditKeepsQueueWorkersQuiet: ordinary edits of a healthy
// RedisConfig (its memory limit) neither stall the QueueWorkers that use
// it nor make them emit events: until its controller reconciles the new
// generation they wait, and then they are Ready as before.
func TestRedisConfigEditKeepsQueueWorkersQuiet(t *testing.T) {
	srv, err := redistest.Start("requirepass first")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	sharedRedisConfig(t, ns, "shared", srv.Addr, "first")
	readyQueueWorkerOf(t, ns, "user", "shared")

	time.Sleep(time.Second)
	readiesBefore := countEvents(t, ns, "user", queueworkerv1alpha1.ReasonReady)
	for i, mem := range []string{"256Mi", "300Mi", "320Mi", "384Mi", "400Mi"} {
		updateRedisConfig(t, ns, "shared", func(rc *queueworkerv1alpha1.RedisConfig) {
			q := resource.MustParse(mem)
			rc.Spec.Memory.MaxMemory = &q
		})
		eventually(t, fmt.Sprintf("edit %d reconciled", i), func() error {
			got := getRedisConfig(t, ns, "shared")
			if got.Status.ObservedGeneration != got.Generation {
				return errors.New("not yet")
			}
			return conditionIs(getQueueWorker(t, ns, "user"), queueworkerv1alpha1.ConditionReconciling,
				metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled)
		})
	}
	time.Sleep(time.Second)
	if w := warnings(t, ns, "user"); len(w) != 0 {
		t.Errorf("5 edits of a healthy RedisConfig: Warning events %v on its QueueWorker", w)
	}
	if n := countEvents(t, ns, "user", queueworkerv1alpha1.ReasonReady) - readiesBefore; n != 0 {
		t.Errorf("5 edits of a healthy RedisConfig: %d Ready events on its QueueWorker, want none", n)
	}
	if err := conditionIs(getQueueWorker(t, ns, "user"), queueworkerv1alpha1.ConditionReady,
		metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled); err != nil {
		t.Error(err)
	}
}

// TestQueueWorkerWaitsForRedisConfigChange: while the RedisConfig's
// controller has not reconciled its new generation (its status patches
// fail here), a QueueWorker using it waits: Reconciling=True with
// WaitingForRedisConfig, Ready as it was, not Stalled, no Warning event,
// and its workers keep the address the RedisConfig's status vouches for
// rather than the new one of its spec. Once the RedisConfig is reconciled
// the workers move to the new address.
func TestQueueWorkerWaitsForRedisConfigChange(t *testing.T) {
	addrs := make([]string, 0, 2)
	for range 2 {
		srv, err := redistest.Start("requirepass pw")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		addrs = append(addrs, srv.Addr)
	}
	ns := createNamespace(t)
	sharedRedisConfig(t, ns, "moving", addrs[0], "pw")
	readyQueueWorkerOf(t, ns, "user", "moving")
	workerAddr := func() (string, error) {
		dep, err := getDeployment(t, ns, "user")
		if err != nil {
			return "", err
		}
		return envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvRedisAddr].Value, nil
	}

	suffix := "/namespaces/" + ns + "/redisconfigs/moving/status"
	failWrites(suffix, 1<<30)
	t.Cleanup(func() { failWrites(suffix, 0) })
	updateRedisConfig(t, ns, "moving", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.External.Addr = addrs[1] })
	eventually(t, "Reconciling=True: WaitingForRedisConfig", func() error {
		return conditionIs(getQueueWorker(t, ns, "user"), queueworkerv1alpha1.ConditionReconciling,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWaitingForRedisConfig)
	})
	time.Sleep(2 * time.Second)
	got := getQueueWorker(t, ns, "user")
	if err := conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue,
		queueworkerv1alpha1.ReasonReconciled); err != nil {
		t.Errorf("while waiting: %v", err)
	}
	if c := findCondition(got, queueworkerv1alpha1.ConditionStalled); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("while waiting: Stalled %+v", c)
	}
	if addr, err := workerAddr(); err != nil || addr != addrs[0] {
		t.Errorf("while the RedisConfig's new spec is not reconciled the workers got %q (%v), want the old %q",
			addr, err, addrs[0])
	}

	failWrites(suffix, 0)
	eventually(t, "the workers at the new address", func() error {
		addr, err := workerAddr()
		if err != nil {
			return err
		}
		if addr != addrs[1] {
			return fmt.Errorf("%s=%q", contract.EnvRedisAddr, addr)
		}
		return nil
	})
	if w := warnings(t, ns, "user"); len(w) != 0 {
		t.Errorf("Warning events %v on a QueueWorker that only waited", w)
	}
}
