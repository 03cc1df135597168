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
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// The conditions every kind has: Ready, Stalled and Reconciling.

// noWarnings fails the test for any Warning event about the named object.
func noWarnings(t *testing.T, ns, name string) {
	t.Helper()
	for _, e := range eventsFor(t, ns, name) {
		if e.Type == "Warning" {
			t.Errorf("Warning event %s: %s", e.Reason, e.Note)
		}
	}
}

// readyQueueWorker creates a QueueWorker with a password Secret and
// replicas workers, plays the Deployment's controller until it is
// available, and waits for Ready=True.
func readyQueueWorker(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	createObject(t, usableSecret(ns, name+"-pw", map[string]string{"password": "p"}, queueworkerv1alpha1.KindQueueWorker))
	qw := newQueueWorker(ns, name)
	qw.Spec.Replicas = ptr.To(replicas)
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: name + "-pw", Key: "password"}
	createObject(t, qw)
	waitDeploymentReplicas(t, ns, name, replicas)
	setDeploymentStatus(t, ns, name, func(dep *appsv1.Deployment) { markAvailable(dep, replicas) })
	eventually(t, "Ready=True", func() error {
		got := getQueueWorker(t, ns, name)
		if err := conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled); err != nil {
			return err
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled)
	})
}

// setDeploymentStatus writes the Deployment's status as its controller
// would.
func setDeploymentStatus(t *testing.T, ns, name string, mutate func(*appsv1.Deployment)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := getDeployment(t, ns, name)
		if err != nil {
			return err
		}
		mutate(dep)
		return k8sClient.Status().Update(testCtx, dep)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// markAvailable is the status of a Deployment whose n pods all run its
// current template.
func markAvailable(dep *appsv1.Deployment, n int32) {
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()},
		},
	}
}

// TestTransientErrorKeepsStatus: a read that fails for a while (the API
// server away) neither moves status.observedGeneration nor changes Ready
// or Stalled of a healthy QueueWorker, and emits no event: Reconciling
// says the operator is retrying, and why. Once the reads work again the
// new generation is reconciled.
func TestTransientErrorKeepsStatus(t *testing.T) {
	ns := createNamespace(t)
	readyQueueWorker(t, ns, "flaky", 2)
	failReads(ns, 1<<30)
	t.Cleanup(func() { failReads(ns, 0) })
	// The Secret is read again every SecretResyncPeriod.
	eventually(t, "Reconciling=True: RetryingAfterError", func() error {
		return conditionIs(getQueueWorker(t, ns, "flaky"), queueworkerv1alpha1.ConditionReconciling,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRetryingAfterError)
	})
	updateQueueWorker(t, ns, "flaky", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 7 })
	eventually(t, "the new generation meets the error", func() error {
		got := getQueueWorker(t, ns, "flaky")
		c := findCondition(got, queueworkerv1alpha1.ConditionReconciling)
		if c == nil || c.ObservedGeneration != got.Generation || c.Reason != queueworkerv1alpha1.ReasonRetryingAfterError {
			return fmt.Errorf("Reconciling %+v at generation %d", c, got.Generation)
		}
		if !strings.Contains(c.Message, errInjected.Error()) {
			return fmt.Errorf("Reconciling message %q does not carry the error", c.Message)
		}
		return nil
	})
	got := getQueueWorker(t, ns, "flaky")
	if got.Status.ObservedGeneration != 1 {
		t.Errorf("status.observedGeneration %d during the errors, want 1", got.Status.ObservedGeneration)
	}
	for _, want := range []struct {
		condType string
		status   metav1.ConditionStatus
	}{{queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue}, {queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse}} {
		c := findCondition(got, want.condType)
		if c == nil || c.Status != want.status || c.Reason != queueworkerv1alpha1.ReasonReconciled || c.ObservedGeneration != 1 {
			t.Errorf("%s %+v during the errors, want %s/Reconciled of generation 1", want.condType, c, want.status)
		}
	}

	failReads(ns, 0)
	eventually(t, "generation 2 reconciled: the new template rolls out", func() error {
		got := getQueueWorker(t, ns, "flaky")
		if got.Status.ObservedGeneration != got.Generation {
			return fmt.Errorf("observedGeneration %d of %d", got.Status.ObservedGeneration, got.Generation)
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionTrue, queueworkerv1alpha1.ReasonProgressing)
	})
	dep, err := getDeployment(t, ns, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	if v := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvConcurrency].Value; v != "7" {
		t.Errorf("concurrency env %q after the errors, want 7", v)
	}
	noWarnings(t, ns, "flaky")
}

// TestScaleUpKeepsReady: scaling a ready QueueWorker up is no trouble,
// neither while the Deployment has not observed the new count nor while
// the new pods start (when the Deployment itself may say it is not
// available): Ready stays True and no Warning is emitted.
func TestScaleUpKeepsReady(t *testing.T) {
	ns := createNamespace(t)
	readyQueueWorker(t, ns, "grow", 3)
	scaleTo(t, getQueueWorker(t, ns, "grow"), 8)
	waitDeploymentReplicas(t, ns, "grow", 8)
	eventually(t, "status.desiredReplicas 8", func() error {
		if got := getQueueWorker(t, ns, "grow").Status.DesiredReplicas; got != 8 {
			return fmt.Errorf("desiredReplicas %d", got)
		}
		return nil
	})
	ready := func(what string) {
		t.Helper()
		time.Sleep(2 * testSecretResync) // a few reconciles
		got := getQueueWorker(t, ns, "grow")
		if err := conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReconciled); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		noWarnings(t, ns, "grow")
	}
	ready("the scale-up not observed yet")

	// The Deployment's controller has made the pods: 3 of 8 available,
	// below its minimum of 8 - 25%.
	setDeploymentStatus(t, ns, "grow", func(dep *appsv1.Deployment) {
		markAvailable(dep, 3)
		dep.Status.Replicas, dep.Status.UpdatedReplicas = 8, 8
		dep.Status.Conditions[0].Status, dep.Status.Conditions[0].Reason = corev1.ConditionFalse, "MinimumReplicasUnavailable"
		dep.Status.Conditions[1].Reason = "ReplicaSetUpdated"
	})
	eventually(t, "status.replicas 8", func() error {
		if got := getQueueWorker(t, ns, "grow").Status.Replicas; got != 8 {
			return fmt.Errorf("replicas %d", got)
		}
		return nil
	})
	ready("the new pods starting")
}

// TestTemplateChangeIsProgress: a new pod template rolling out makes
// Reconciling True and Ready Unknown, without a Warning; Ready turns False,
// with one Warning, only when the Deployment's controller gives up on the
// rollout.
func TestTemplateChangeIsProgress(t *testing.T) {
	ns := createNamespace(t)
	readyQueueWorker(t, ns, "roll", 2)
	updateQueueWorker(t, ns, "roll", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 9 })
	eventually(t, "Reconciling=True, Ready=Unknown: Progressing", func() error {
		got := getQueueWorker(t, ns, "roll")
		if err := conditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionTrue, queueworkerv1alpha1.ReasonProgressing); err != nil {
			return err
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionUnknown, queueworkerv1alpha1.ReasonProgressing)
	})
	// The controller observes the template: one new pod, two old ones.
	setDeploymentStatus(t, ns, "roll", func(dep *appsv1.Deployment) {
		markAvailable(dep, 2)
		dep.Status.Replicas, dep.Status.UpdatedReplicas = 3, 1
		dep.Status.Conditions[1].Reason = "ReplicaSetUpdated"
	})
	time.Sleep(2 * testSecretResync)
	if err := conditionIs(getQueueWorker(t, ns, "roll"), queueworkerv1alpha1.ConditionReady, metav1.ConditionUnknown,
		queueworkerv1alpha1.ReasonProgressing); err != nil {
		t.Errorf("while old pods run: %v", err)
	}
	noWarnings(t, ns, "roll")
	if err := hasEvent(t, ns, "roll", queueworkerv1alpha1.ReasonDeploymentUpdated); err != nil {
		t.Error(err)
	}

	// The new pods never become ready: the Deployment's progress deadline
	// passes.
	setDeploymentStatus(t, ns, "roll", func(dep *appsv1.Deployment) {
		markAvailable(dep, 0)
		dep.Status.Replicas, dep.Status.UpdatedReplicas = 2, 2
		dep.Status.Conditions[0].Status = corev1.ConditionFalse
		dep.Status.Conditions[1].Status, dep.Status.Conditions[1].Reason = corev1.ConditionFalse, "ProgressDeadlineExceeded"
	})
	eventually(t, "Ready=False: DeploymentUnavailable", func() error {
		got := getQueueWorker(t, ns, "roll")
		if err := conditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled); err != nil {
			return err
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonDeploymentUnavailable)
	})
	eventually(t, "one DeploymentUnavailable Warning", func() error {
		if n := countEvents(t, ns, "roll", queueworkerv1alpha1.ReasonDeploymentUnavailable); n != 1 {
			return fmt.Errorf("%d DeploymentUnavailable events", n)
		}
		return nil
	})
}

// TestRedisConfigStalledAndRetrying: a RedisConfig whose password Secret
// is missing shows Stalled=True with the reason, and recovers by itself
// once the Secret exists; a read that fails later only sets Reconciling.
func TestRedisConfigStalledAndRetrying(t *testing.T) {
	srv, err := redistest.Start("requirepass stall-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	createObject(t, externalRedisConfig(ns, "late", srv.Addr, "late-pw"))
	eventually(t, "Stalled=True: SecretNotFound", func() error {
		got := getRedisConfig(t, ns, "late")
		for _, c := range []string{queueworkerv1alpha1.ConditionStalled, queueworkerv1alpha1.ConditionReady} {
			want := metav1.ConditionTrue
			if c == queueworkerv1alpha1.ConditionReady {
				want = metav1.ConditionFalse
			}
			if err := rcConditionIs(got, c, want, queueworkerv1alpha1.ReasonSecretNotFound); err != nil {
				return err
			}
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse, queueworkerv1alpha1.ReasonSecretNotFound)
	})
	createObject(t, usableSecret(ns, "late-pw", map[string]string{"password": "stall-pass"}, queueworkerv1alpha1.KindRedisConfig))
	eventually(t, "recovered: Ready=True, Stalled=False", func() error {
		got := getRedisConfig(t, ns, "late")
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled); err != nil {
			return err
		}
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady)
	})
	if n := countEvents(t, ns, "late", queueworkerv1alpha1.ReasonSecretNotFound); n != 1 {
		t.Errorf("%d SecretNotFound events, want one, when the stall began", n)
	}

	failReads(ns, 1<<30)
	t.Cleanup(func() { failReads(ns, 0) })
	eventually(t, "Reconciling=True: RetryingAfterError", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "late"), queueworkerv1alpha1.ConditionReconciling,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRetryingAfterError)
	})
	got := getRedisConfig(t, ns, "late")
	if err := errors.Join(
		rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady),
		rcConditionIs(got, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled),
	); err != nil {
		t.Errorf("during the errors: %v", err)
	}
}

// TestRefusedTemplateStalls: a pod template the CRD's schema accepts but
// the API server refuses in a Deployment (a volumeMount of a volume that
// does not exist) can never be written, so it is a stall, not an error to
// retry: Stalled=True and Ready=False with InvalidTemplate and the API
// server's message, and one Warning event. A fixed template ends it.
func TestRefusedTemplateStalls(t *testing.T) {
	ns := createNamespace(t)
	readyQueueWorker(t, ns, "refused", 1)
	updateQueueWorker(t, ns, "refused", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/data"}}
	})
	eventually(t, "Stalled=True, Ready=False: InvalidTemplate", func() error {
		got := getQueueWorker(t, ns, "refused")
		if err := conditionIs(got, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonInvalidTemplate); err != nil {
			return err
		}
		return conditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidTemplate)
	})
	got := getQueueWorker(t, ns, "refused")
	if c := findCondition(got, queueworkerv1alpha1.ConditionStalled); !strings.Contains(c.Message, "volumeMounts[0].name") {
		t.Errorf("the stall does not carry the API server's message: %q", c.Message)
	}
	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("status.observedGeneration %d, want %d: a stall observes the generation", got.Status.ObservedGeneration, got.Generation)
	}
	time.Sleep(2 * time.Second)
	if n := countEvents(t, ns, "refused", queueworkerv1alpha1.ReasonInvalidTemplate); n != 1 {
		t.Errorf("%d InvalidTemplate events, want one", n)
	}

	updateQueueWorker(t, ns, "refused", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "missing",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	})
	eventually(t, "Stalled=False once the template is fixed", func() error {
		return conditionIs(getQueueWorker(t, ns, "refused"), queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonReconciled)
	})
}

// TestRefusedManagedRedisStalls: managed resources that request more
// memory than their limit pass the CRD's schema, but the API server
// refuses the StatefulSet: the RedisConfig stalls with InvalidSpec and the
// API server's message, rather than retrying for ever.
func TestRefusedManagedRedisStalls(t *testing.T) {
	ns := createNamespace(t)
	rc := productionRedisConfig(ns, "tight")
	rc.Spec.Managed = &queueworkerv1alpha1.ManagedRedis{Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}}
	createObject(t, rc)
	eventually(t, "Stalled=True: InvalidSpec", func() error {
		got := getRedisConfig(t, ns, "tight")
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidSpec); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue, queueworkerv1alpha1.ReasonInvalidSpec)
	})
	c := rcCondition(getRedisConfig(t, ns, "tight"), queueworkerv1alpha1.ConditionStalled)
	if !strings.Contains(c.Message, "StatefulSet") || !strings.Contains(c.Message, "must be less than or equal to memory limit") {
		t.Errorf("the stall does not name the StatefulSet and the API server's message: %q", c.Message)
	}
}

// TestTransientErrorEmitsNoStepEvents: the events of a reconcile that
// ends in an error to retry are not emitted, as the conditions its steps
// set are not kept: each retry would emit them again. Here reconcileRender
// judges an evicting policy (EvictionAllowed) and then the Secret reads
// fail; once they succeed the Warning goes out once.
func TestTransientErrorEmitsNoStepEvents(t *testing.T) {
	ns := createNamespace(t)
	failReads(ns, 1<<30)
	t.Cleanup(func() { failReads(ns, 0) })
	rc := productionRedisConfig(ns, "evict")
	rc.Spec.Memory.Policy = "allkeys-lru"
	rc.Spec.Memory.AllowEviction = true
	createObject(t, rc)
	eventually(t, "Reconciling=True: RetryingAfterError", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "evict"), queueworkerv1alpha1.ConditionReconciling,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRetryingAfterError)
	})
	time.Sleep(3 * time.Second)
	if w := warnings(t, ns, "evict"); len(w) != 0 {
		t.Errorf("while the Secret reads fail: Warning events %v", w)
	}
	failReads(ns, 0)
	eventually(t, "QueueSafe=False: EvictionAllowed", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "evict"), queueworkerv1alpha1.ConditionQueueSafe,
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonEvictionAllowed)
	})
	eventually(t, "one EvictionAllowed Warning", func() error {
		if n := timesEmitted(t, ns, "evict", queueworkerv1alpha1.ReasonEvictionAllowed); n != 1 {
			return fmt.Errorf("%d EvictionAllowed Warnings", n)
		}
		return nil
	})
}

// TestFailedStatusWriteDelaysEvents: the events of a transition (a stall
// beginning) go out after the status patch that records it; while that
// patch fails, the retries find the same transition, and it is told once.
func TestFailedStatusWriteDelaysEvents(t *testing.T) {
	ns := createNamespace(t)
	suffix := "/namespaces/" + ns + "/queueworkers/lost/status"
	failWrites(suffix, 4)
	t.Cleanup(func() { failWrites(suffix, 0) })
	qw := newQueueWorker(ns, "lost")
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "nowhere", Key: "password"}
	createObject(t, qw)
	eventually(t, "Stalled: SecretNotFound", func() error {
		return conditionIs(getQueueWorker(t, ns, "lost"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotFound)
	})
	time.Sleep(time.Second)
	if n := timesEmitted(t, ns, "lost", queueworkerv1alpha1.ReasonSecretNotFound); n != 1 {
		t.Errorf("%d SecretNotFound Warnings for one stall (4 status patches failed)", n)
	}
}
