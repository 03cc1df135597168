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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// The operator writes its objects with server-side apply: fields others
// own survive its writes, and spec.replicas has an owner of its own.

const restartedAt = "kubectl.kubernetes.io/restartedAt"

// waitConcurrency waits until the worker Deployment's template has the
// concurrency env value want, and returns the Deployment.
func waitConcurrency(t *testing.T, ns, name, want string) *appsv1.Deployment {
	t.Helper()
	var dep *appsv1.Deployment
	eventually(t, "template with concurrency "+want, func() (err error) {
		if dep, err = getDeployment(t, ns, name); err != nil {
			return err
		}
		if v := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvConcurrency].Value; v != want {
			return fmt.Errorf("concurrency env %q", v)
		}
		return nil
	})
	return dep
}

// TestRolloutRestartSurvivesTemplateChange: the annotation `kubectl
// rollout restart` puts into the pod template, and a label someone added
// to the Deployment, survive the operator's next write of the template.
func TestRolloutRestartSurvivesTemplateChange(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, newQueueWorker(ns, "restart"))
	dep := waitConcurrency(t, ns, "restart", "4")

	// What `kubectl rollout restart` sends, as its own field manager.
	patch := fmt.Sprintf(`{"metadata":{"labels":{"team":"payments"}},`+
		`"spec":{"template":{"metadata":{"annotations":{%q:"2026-01-01T00:00:00Z"}}}}}`, restartedAt)
	if err := k8sClient.Patch(testCtx, dep, client.RawPatch(types.StrategicMergePatchType, []byte(patch)),
		client.FieldOwner("kubectl-rollout")); err != nil {
		t.Fatal(err)
	}
	updateQueueWorker(t, ns, "restart", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 6 })
	dep = waitConcurrency(t, ns, "restart", "6")
	if got := dep.Spec.Template.Annotations[restartedAt]; got != "2026-01-01T00:00:00Z" {
		t.Errorf("the template's %s annotation is %q after the operator's write", restartedAt, got)
	}
	if dep.Labels["team"] != "payments" {
		t.Errorf("the Deployment's label team=payments was lost: %v", dep.Labels)
	}
}

// TestReplicasOwnedByTheScaleStep: the template applies never own
// spec.replicas once the scale step does, so a template change cannot
// reset it: not even a count of zero, which is what the Deployment's
// default of one would replace. A new Deployment of an autoscaled
// QueueWorker with minReplicas 0 starts with one worker, as before.
func TestReplicasOwnedByTheScaleStep(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "owned", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 4,
		ScaleToZeroDelay: dur(time.Second),
		ScaleDown:        &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	createObject(t, qw)
	eventually(t, "created with one replica", func() error {
		for _, e := range eventsFor(t, ns, "owned") {
			if e.Reason == queueworkerv1alpha1.ReasonDeploymentCreated {
				if e.Note != "created Deployment owned with 1 replicas" {
					return fmt.Errorf("event %q", e.Note)
				}
				return nil
			}
		}
		return errors.New("no DeploymentCreated event")
	})
	waitDeploymentReplicas(t, ns, "owned", 0)

	updateQueueWorker(t, ns, "owned", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 3 })
	dep := waitConcurrency(t, ns, "owned", "3")
	if got := ptr.Deref(dep.Spec.Replicas, -1); got != 0 {
		t.Errorf("the template change left %d replicas, want 0", got)
	}
	if !ownsField(dep, scaleFieldOwner, "spec", "replicas") {
		t.Errorf("%s does not own spec.replicas: %+v", scaleFieldOwner, dep.ManagedFields)
	}
	if ownsField(dep, fieldOwner, "spec", "replicas") {
		t.Errorf("%s still owns spec.replicas after a template write", fieldOwner)
	}
	time.Sleep(2 * time.Second)
	waitDeploymentReplicas(t, ns, "owned", 0)

	// A count the scale step never had to change: the Deployment was
	// created with it, and a template change must not drop it for a
	// moment either (it would come back with a ScaledUp event).
	fixed := newQueueWorker(ns, "fixed")
	fixed.Spec.Replicas = ptr.To[int32](3)
	createObject(t, fixed)
	waitDeploymentReplicas(t, ns, "fixed", 3)
	updateQueueWorker(t, ns, "fixed", func(q *queueworkerv1alpha1.QueueWorker) { q.Spec.Concurrency = 3 })
	dep = waitConcurrency(t, ns, "fixed", "3")
	if got := ptr.Deref(dep.Spec.Replicas, -1); got != 3 {
		t.Errorf("the template change left %d replicas, want 3", got)
	}
	time.Sleep(time.Second)
	for _, e := range eventsFor(t, ns, "fixed") {
		if e.Reason == queueworkerv1alpha1.ReasonScaledUp || e.Reason == queueworkerv1alpha1.ReasonScaledDown {
			t.Errorf("%s event for a count nobody changed: %s", e.Reason, e.Note)
		}
	}
}

// TestIdleQueueWorkerWritesNothing: a settled QueueWorker whose spec,
// Secret and queues do not change costs no write at all: not its
// Deployment, its replicas nor its status.
func TestIdleQueueWorkerWritesNothing(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "pw", map[string]string{"password": "p"}, queueworkerv1alpha1.KindQueueWorker))
	qw := autoscaledQueueWorker(ns, "idle", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](1), MaxReplicas: 3, PollInterval: dur(200 * time.Millisecond)})
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "pw", Key: "password"}
	createObject(t, qw)
	eventually(t, "RedisReachable", func() error {
		return conditionIs(getQueueWorker(t, ns, "idle"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	time.Sleep(3 * time.Second)
	before := writesIn(ns)
	if before == 0 {
		t.Fatal("no write counted: the counter does not see the operator's writes")
	}
	// Several Secret resyncs and autoscaler polls.
	time.Sleep(5 * time.Second)
	if n := writesIn(ns) - before; n != 0 {
		t.Errorf("%d writes in 5s from an idle QueueWorker", n)
	}
}

// TestPersistenceToggleReplacesStatefulSet: switching a managed Redis's
// persistence off changes its claim templates, which a StatefulSet cannot
// change: the operator deletes it (the pod first) and creates it again.
func TestPersistenceToggleReplacesStatefulSet(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, productionRedisConfig(ns, "toggle"))
	key := types.NamespacedName{Namespace: ns, Name: "toggle-redis"}
	sts := &appsv1.StatefulSet{}
	eventually(t, "StatefulSet with a claim template", func() error {
		if err := k8sClient.Get(testCtx, key, sts); err != nil {
			return err
		}
		if len(sts.Spec.VolumeClaimTemplates) != 1 {
			return fmt.Errorf("%d claim templates", len(sts.Spec.VolumeClaimTemplates))
		}
		return nil
	})
	oldUID := sts.UID
	updateRedisConfig(t, ns, "toggle", func(rc *queueworkerv1alpha1.RedisConfig) {
		rc.Spec.Persistence.AOF.Enabled = ptr.To(false)
	})
	eventually(t, "the old StatefulSet is being deleted", func() error {
		if err := k8sClient.Get(testCtx, key, sts); err != nil {
			return err
		}
		if sts.UID != oldUID || sts.DeletionTimestamp.IsZero() {
			return errors.New("not being deleted")
		}
		return nil
	})
	// envtest runs no garbage collector: finish the foreground deletion.
	sts.Finalizers = nil
	if err := k8sClient.Update(testCtx, sts); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		t.Fatal(err)
	}
	eventually(t, "a new StatefulSet without claim templates", func() error {
		if err := k8sClient.Get(testCtx, key, sts); err != nil {
			return err
		}
		if sts.UID == oldUID {
			if len(sts.Finalizers) > 0 {
				sts.Finalizers = nil
				_ = k8sClient.Update(testCtx, sts)
			}
			return errors.New("still the old one")
		}
		if len(sts.Spec.VolumeClaimTemplates) != 0 {
			return fmt.Errorf("%d claim templates", len(sts.Spec.VolumeClaimTemplates))
		}
		return nil
	})
	if n := countEvents(t, ns, "toggle", queueworkerv1alpha1.ReasonConfigChanged); n != 1 {
		t.Errorf("%d ConfigChanged events, want one for the replacement", n)
	}
}
