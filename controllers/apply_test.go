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
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
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
// QueueWorker with minReplicas 0 starts with no worker: its queues have not
// asked for one.
func TestReplicasOwnedByTheScaleStep(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "owned", redisServer.Addr, queueworkerv1alpha1.Autoscaling{
		MinReplicas: ptr.To[int32](0), MaxReplicas: 4,
		ScaleToZeroDelay: dur(time.Second),
		ScaleDown:        &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: dur(0)}},
	})
	createObject(t, qw)
	eventually(t, "created with no replica", func() error {
		for _, e := range eventsFor(t, ns, "owned") {
			if e.Reason == queueworkerv1alpha1.ReasonDeploymentCreated {
				if e.Note != "created Deployment owned with 0 replicas" {
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

// replicaWatch records every distinct spec.replicas of a Deployment, read
// every 20ms until stop, which returns them in order.
func replicaWatch(t *testing.T, ns, name string) (stop func() []int32) {
	t.Helper()
	var seen []int32
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			dep := &appsv1.Deployment{}
			if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, dep); err != nil {
				continue
			}
			if n := ptr.Deref(dep.Spec.Replicas, -1); len(seen) == 0 || seen[len(seen)-1] != n {
				seen = append(seen, n)
			}
		}
	}()
	return func() []int32 {
		close(done)
		<-finished
		return seen
	}
}

// updateEntries lists the managers of obj's Update entries of the main
// resource.
func updateEntries(obj metav1.Object) []string {
	var managers []string
	for _, e := range obj.GetManagedFields() {
		if e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "" {
			managers = append(managers, e.Manager)
		}
	}
	return managers
}

// TestLegacyFieldsRemovedAfterUpgrade: a worker Deployment that the
// operator wrote before it used server-side apply (Create and Update
// without a field owner: manager "manager") is handed to the operator's
// apply, so a variable and a container that the QueueWorker later drops
// are removed, as on a Deployment the operator created. Its replica count
// never changes on the way, and fields that another "manager" (another
// controller's binary) sets afterwards are not the operator's to remove.
func TestLegacyFieldsRemovedAfterUpgrade(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "legacy")
	qw.Spec.Replicas = ptr.To[int32](3)
	qw.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "LEGACY_FLAG", Value: "on"}}
	qw.Spec.Template.Spec.Containers = append(qw.Spec.Template.Spec.Containers,
		corev1.Container{Name: "sidecar", Image: "sidecar:dev"})
	// Hold the operator before its Deployment step: the Secret is missing.
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "legacy-pw", Key: "password"}
	createObject(t, qw)
	eventually(t, "Stalled: SecretNotFound", func() error {
		return conditionIs(getQueueWorker(t, ns, "legacy"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotFound)
	})

	// The Deployment as the previous version of the operator created it.
	qw = getQueueWorker(t, ns, "legacy")
	ep, _ := resources.EndpointFromSpec(qw.Spec.Redis)
	old, err := resources.BuildWorkerDeployment(qw, ep, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := controllerutil.SetControllerReference(qw, old, k8sClient.Scheme()); err != nil {
		t.Fatal(err)
	}
	old.Spec.Replicas = ptr.To[int32](3)
	if err := k8sClient.Create(testCtx, old, client.FieldOwner(legacyManager)); err != nil {
		t.Fatal(err)
	}
	replicas := replicaWatch(t, ns, "legacy")

	// The new version goes on.
	createObject(t, usableSecret(ns, "legacy-pw", map[string]string{"password": "p"}, queueworkerv1alpha1.KindQueueWorker))
	eventually(t, "the operator applied the Deployment", func() error {
		dep, err := getDeployment(t, ns, "legacy")
		if err != nil {
			return err
		}
		if !ownsField(dep, fieldOwner, "spec", "template") {
			return errors.New("the template not applied yet")
		}
		if !ownsField(dep, scaleFieldOwner, "spec", "replicas") {
			return errors.New("spec.replicas not owned by the scale step yet")
		}
		return nil
	})
	// Another controller built from the same scaffold annotates it.
	dep, err := getDeployment(t, ns, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	patch := `{"metadata":{"annotations":{"other.example/note":"kept"}}}`
	if err := k8sClient.Patch(testCtx, dep, client.RawPatch(types.MergePatchType, []byte(patch)),
		client.FieldOwner(legacyManager)); err != nil {
		t.Fatal(err)
	}

	updateQueueWorker(t, ns, "legacy", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Template.Spec.Containers = q.Spec.Template.Spec.Containers[:1]
		q.Spec.Template.Spec.Containers[0].Env = nil
		q.Spec.Concurrency = 5
	})
	dep = waitConcurrency(t, ns, "legacy", "5")
	if _, ok := envMap(&dep.Spec.Template.Spec.Containers[0])["LEGACY_FLAG"]; ok {
		t.Errorf("LEGACY_FLAG, dropped from the QueueWorker's template, is still in the worker Deployment")
	}
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		t.Errorf("%d containers in the worker Deployment after the sidecar was dropped from the template, want 1", n)
	}
	if m := updateEntries(dep); len(m) != 1 || m[0] != legacyManager {
		t.Errorf("Update entries of %v, want only the later one of %q", m, legacyManager)
	}
	if dep.Annotations["other.example/note"] != "kept" {
		t.Errorf("an annotation another manager named %q set later was removed", legacyManager)
	}
	time.Sleep(time.Second)
	if seen := replicas(); fmt.Sprint(seen) != "[3]" {
		t.Errorf("spec.replicas went %v during the upgrade, want [3]", seen)
	}
}

// TestLegacyServicePortRemovedAfterUpgrade: the same for a managed
// Redis's Service that the previous version created: the exporter's port
// goes once the exporter is switched off.
func TestLegacyServicePortRemovedAfterUpgrade(t *testing.T) {
	ns := createNamespace(t)
	rc := productionRedisConfig(ns, "old")
	rc.Spec.Managed = &queueworkerv1alpha1.ManagedRedis{Exporter: &queueworkerv1alpha1.RedisExporter{Enabled: true}}
	// Held before its objects are written: the password Secret is missing.
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "old-pw", Key: "password"}}
	createObject(t, rc)
	eventually(t, "Stalled: SecretNotFound", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "old"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotFound)
	})
	rc = getRedisConfig(t, ns, "old")
	svc := resources.BuildRedisService(rc)
	if len(svc.Spec.Ports) != 2 {
		t.Fatalf("%d ports in the built Service, want the exporter's too", len(svc.Spec.Ports))
	}
	if err := controllerutil.SetControllerReference(rc, svc, k8sClient.Scheme()); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(testCtx, svc, client.FieldOwner(legacyManager)); err != nil {
		t.Fatal(err)
	}
	createObject(t, usableSecret(ns, "old-pw", map[string]string{"password": "legacy-pass"}, queueworkerv1alpha1.KindRedisConfig))
	key := types.NamespacedName{Namespace: ns, Name: svc.Name}
	eventually(t, "the operator applied the Service", func() error {
		got := &corev1.Service{}
		if err := k8sClient.Get(testCtx, key, got); err != nil {
			return err
		}
		if !ownsField(got, fieldOwner, "spec", "ports") {
			return errors.New("not applied yet")
		}
		return nil
	})
	updateRedisConfig(t, ns, "old", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Managed.Exporter = nil })
	eventually(t, "the Service without the exporter's port", func() error {
		got := &corev1.Service{}
		if err := k8sClient.Get(testCtx, key, got); err != nil {
			return err
		}
		if n := len(got.Spec.Ports); n != 1 {
			return fmt.Errorf("%d ports: %+v", n, got.Spec.Ports)
		}
		return nil
	})
}

// TestFieldsDroppedFromTemplateAreRemoved: on a Deployment the operator
// created, dropping a variable and a container from the QueueWorker's
// template removes them, and a variable another manager added survives.
func TestFieldsDroppedFromTemplateAreRemoved(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "dropped")
	qw.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "FLAG", Value: "on"}}
	qw.Spec.Template.Spec.Containers = append(qw.Spec.Template.Spec.Containers,
		corev1.Container{Name: "sidecar", Image: "sidecar:dev"})
	createObject(t, qw)
	dep := waitConcurrency(t, ns, "dropped", "4")
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"worker","env":[{"name":"KUBECTL_ADDED","value":"x"}]}]}}}}`
	if err := k8sClient.Patch(testCtx, dep, client.RawPatch(types.StrategicMergePatchType, []byte(patch)),
		client.FieldOwner("kubectl-set")); err != nil {
		t.Fatal(err)
	}
	updateQueueWorker(t, ns, "dropped", func(q *queueworkerv1alpha1.QueueWorker) {
		q.Spec.Template.Spec.Containers = q.Spec.Template.Spec.Containers[:1]
		q.Spec.Template.Spec.Containers[0].Env = nil
		q.Spec.Concurrency = 5
	})
	dep = waitConcurrency(t, ns, "dropped", "5")
	env := envMap(&dep.Spec.Template.Spec.Containers[0])
	if _, ok := env["FLAG"]; ok {
		t.Errorf("FLAG survived its removal from the template")
	}
	if _, ok := env["KUBECTL_ADDED"]; !ok {
		t.Errorf("KUBECTL_ADDED, set by another manager, was removed")
	}
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		t.Errorf("%d containers after the sidecar was dropped from the template, want 1", n)
	}
}

// createAfterRead makes the operator's next uncached read of the object
// named name in ns, when it finds nothing, create obj as someone else
// would, before the operator goes on to write that name. It reports
// whether it did.
func createAfterRead(t *testing.T, ns, name string, obj client.Object) *atomic.Bool {
	t.Helper()
	fired := new(atomic.Bool)
	afterAPIGet.Store(ns, func(key client.ObjectKey, read client.Object, err error) {
		if key.Name != name || reflect.TypeOf(read) != reflect.TypeOf(obj) || !apierrors.IsNotFound(err) ||
			!fired.CompareAndSwap(false, true) {
			return
		}
		if err := k8sClient.Create(testCtx, obj, client.FieldOwner("tenant")); err != nil {
			t.Errorf("creating %s %s: %v", kindOf(obj), name, err)
		}
	})
	t.Cleanup(func() { afterAPIGet.Delete(ns) })
	return fired
}

// TestDeploymentCreatedAfterTheReadIsNotTakenOver: a Deployment that
// someone else creates between the operator's read of the name (nothing
// there) and its write is neither taken over nor changed: the QueueWorker
// stalls with DeploymentConflict, as with one that was there before.
func TestDeploymentCreatedAfterTheReadIsNotTakenOver(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "race")
	fired := createAfterRead(t, ns, "race", &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "race", Labels: map[string]string{"team": "tenant"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: resources.SelectorLabels(qw)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: resources.SelectorLabels(qw)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "worker", Image: "tenant:latest", Command: []string{"/bin/tenant"},
				}}},
			},
		},
	})
	createObject(t, qw)
	eventually(t, "Stalled=True: DeploymentConflict", func() error {
		return conditionIs(getQueueWorker(t, ns, "race"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonDeploymentConflict)
	})
	if !fired.Load() {
		t.Fatal("the operator never read the name from the API server")
	}
	dep, err := getDeployment(t, ns, "race")
	if err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if metav1.GetControllerOf(dep) != nil || c.Image != "tenant:latest" || len(dep.Annotations) != 0 {
		t.Errorf("the other Deployment was changed: controller %+v, image %q, annotations %v",
			metav1.GetControllerOf(dep), c.Image, dep.Annotations)
	}
}

// TestSecretCreatedAfterTheReadIsNotTakenOver: the same for the Secret of
// a managed Redis's generated password: one that someone else creates
// between the operator's read and its write keeps its password and is not
// taken over; the RedisConfig stalls with ResourceConflict.
func TestSecretCreatedAfterTheReadIsNotTakenOver(t *testing.T) {
	ns := createNamespace(t)
	rc := productionRedisConfig(ns, "chosen")
	name := resources.RedisPasswordSecretName(rc)
	fired := createAfterRead(t, ns, name, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{resources.RedisPasswordKey: []byte("chosen-by-someone-else")},
	})
	createObject(t, rc)
	eventually(t, "Stalled=True: ResourceConflict", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "chosen"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonResourceConflict)
	})
	if !fired.Load() {
		t.Fatal("the operator never read the name from the API server")
	}
	sec := &corev1.Secret{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, sec); err != nil {
		t.Fatal(err)
	}
	if metav1.GetControllerOf(sec) != nil || string(sec.Data[resources.RedisPasswordKey]) != "chosen-by-someone-else" {
		t.Errorf("the other Secret was taken over: controller %+v", metav1.GetControllerOf(sec))
	}
}

// TestDriftOfAppliedFieldsCorrected: fields of the worker Deployment that
// the operator applies and someone else changes (`kubectl set image`,
// `kubectl set env` of the Redis address the workers get) are set back,
// although the QueueWorker did not change; a variable the other manager
// added stays, and once corrected the Deployment is not written again.
func TestDriftOfAppliedFieldsCorrected(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, newQueueWorker(ns, "drift"))
	dep := waitConcurrency(t, ns, "drift", "4")
	waitDeploymentReplicas(t, ns, "drift", 1)

	// kubectl set image / kubectl set env, as their own field manager.
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"worker","image":"other:latest",`+
		`"env":[{"name":%q,"value":"10.0.0.66:6379"},{"name":"ADDED","value":"x"}]}]}}}}`, contract.EnvRedisAddr)
	if err := k8sClient.Patch(testCtx, dep, client.RawPatch(types.StrategicMergePatchType, []byte(patch)),
		client.FieldOwner("kubectl-set")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the image and the Redis address set back", func() error {
		dep, err := getDeployment(t, ns, "drift")
		if err != nil {
			return err
		}
		c := dep.Spec.Template.Spec.Containers[0]
		if c.Image != "queueworker-worker:dev" {
			return fmt.Errorf("image %q", c.Image)
		}
		if got := envMap(&c)[contract.EnvRedisAddr].Value; got != "127.0.0.1:6379" {
			return fmt.Errorf("%s=%q", contract.EnvRedisAddr, got)
		}
		return nil
	})
	dep, err := getDeployment(t, ns, "drift")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := envMap(&dep.Spec.Template.Spec.Containers[0])["ADDED"]; !ok {
		t.Errorf("the variable another manager added was removed")
	}
	time.Sleep(time.Second)
	before := writesIn(ns)
	time.Sleep(3 * time.Second)
	if n := writesIn(ns) - before; n != 0 {
		t.Errorf("%d writes in 3s after the drift was corrected", n)
	}
}

// TestDriftOfManagedRedisCorrected: the same for a managed Redis: a
// redis.conf edited in its ConfigMap and an image changed in its
// StatefulSet are set back.
func TestDriftOfManagedRedisCorrected(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, productionRedisConfig(ns, "drift"))
	cmKey := types.NamespacedName{Namespace: ns, Name: "drift-redis-config"}
	stsKey := types.NamespacedName{Namespace: ns, Name: "drift-redis"}
	cm, sts := &corev1.ConfigMap{}, &appsv1.StatefulSet{}
	eventually(t, "the ConfigMap and the StatefulSet", func() error {
		if err := k8sClient.Get(testCtx, cmKey, cm); err != nil {
			return err
		}
		return k8sClient.Get(testCtx, stsKey, sts)
	})
	conf, image := cm.Data["redis.conf"], sts.Spec.Template.Spec.Containers[0].Image

	cm.Data["redis.conf"] = "maxmemory-policy allkeys-lru\n"
	if err := k8sClient.Update(testCtx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"redis","image":"example.com/other:1"}]}}}}`
	if err := k8sClient.Patch(testCtx, sts, client.RawPatch(types.StrategicMergePatchType, []byte(patch)),
		client.FieldOwner("kubectl-set")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "redis.conf and the image set back", func() error {
		if err := k8sClient.Get(testCtx, cmKey, cm); err != nil {
			return err
		}
		if cm.Data["redis.conf"] != conf {
			return errors.New("redis.conf still edited")
		}
		if err := k8sClient.Get(testCtx, stsKey, sts); err != nil {
			return err
		}
		if got := sts.Spec.Template.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("image %q", got)
		}
		return nil
	})
}

// TestIdleManagedRedisConfigWritesNothing: a managed RedisConfig whose
// server runs and whose spec and Secrets do not change costs no API write,
// although its objects are compared with what it would apply on every
// reconcile (its Secrets are read again every resync).
func TestIdleManagedRedisConfigWritesNothing(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, productionRedisConfig(ns, "quiet"))
	runManagedRedis(t, ns, "quiet")
	eventually(t, "Ready=True", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "quiet"), queueworkerv1alpha1.ConditionReady,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady)
	})
	time.Sleep(3 * time.Second)
	before := writesIn(ns)
	time.Sleep(5 * time.Second)
	if n := writesIn(ns) - before; n != 0 {
		t.Errorf("%d writes in 5s from an idle managed RedisConfig", n)
	}
}

// TestForeignReplicaWritesReverted: `kubectl scale deployment`
// and an HPA-like writer of the Deployment's spec.replicas are reverted to
// the QueueWorker's count, each with one write, and the operator writes
// nothing more once they stop (no write loop).
func TestForeignReplicaWritesReverted(t *testing.T) {
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "fight")
	qw.Spec.Replicas = ptr.To[int32](3)
	createObject(t, qw)
	waitDeploymentReplicas(t, ns, "fight", 3)
	time.Sleep(time.Second)

	for i, n := range []int32{7, 1, 9} {
		dep, err := getDeployment(t, ns, "fight")
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			// kubectl scale deployment: the /scale subresource.
			if err := scaleDeployment(dep, n); err != nil {
				t.Fatal(err)
			}
		} else {
			// An HPA-like writer: an Update of the Deployment.
			dep.Spec.Replicas = ptr.To(n)
			if err := k8sClient.Update(testCtx, dep, client.FieldOwner("hpa-like")); err != nil {
				t.Fatal(err)
			}
		}
		waitDeploymentReplicas(t, ns, "fight", 3)
	}
	time.Sleep(2 * time.Second)
	before := writesIn(ns)
	time.Sleep(4 * time.Second)
	if n := writesIn(ns) - before; n != 0 {
		t.Errorf("%d writes in 4s after the foreign writers stopped", n)
	}
}

// scaleDeployment writes a Deployment's /scale subresource, as `kubectl
// scale deployment` does.
func scaleDeployment(dep *appsv1.Deployment, replicas int32) error {
	body := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	return k8sClient.SubResource("scale").Patch(testCtx, dep, client.RawPatch(types.MergePatchType, body),
		client.FieldOwner("kubectl-scale"))
}

// TestStorageSizeChangeKeepsClaimTemplates: a change of a persistent
// managed Redis's storage size cannot reach the StatefulSet's claim
// templates, which the API server refuses to change; the operator applies
// the ones it has, so the rest of the StatefulSet (an exporter added, then
// removed) still changes.
func TestStorageSizeChangeKeepsClaimTemplates(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, productionRedisConfig(ns, "disk"))
	key := types.NamespacedName{Namespace: ns, Name: "disk-redis"}
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
	updateRedisConfig(t, ns, "disk", func(rc *queueworkerv1alpha1.RedisConfig) {
		if rc.Spec.Managed == nil {
			rc.Spec.Managed = &queueworkerv1alpha1.ManagedRedis{}
		}
		q := resource.MustParse("5Gi")
		rc.Spec.Managed.Storage.Size = &q
		rc.Spec.Managed.Exporter = &queueworkerv1alpha1.RedisExporter{Enabled: true}
	})
	eventually(t, "exporter added, claims kept", func() error {
		if err := k8sClient.Get(testCtx, key, sts); err != nil {
			return err
		}
		if n := len(sts.Spec.Template.Spec.Containers); n != 2 {
			rc := getRedisConfig(t, ns, "disk")
			return fmt.Errorf("%d containers; RedisConfig conditions %+v", n, rc.Status.Conditions)
		}
		return nil
	})
	updateRedisConfig(t, ns, "disk", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Managed.Exporter = nil })
	eventually(t, "exporter removed from StatefulSet and Service", func() error {
		if err := k8sClient.Get(testCtx, key, sts); err != nil {
			return err
		}
		if n := len(sts.Spec.Template.Spec.Containers); n != 1 {
			return fmt.Errorf("%d containers", n)
		}
		svc := &corev1.Service{}
		if err := k8sClient.Get(testCtx, key, svc); err != nil {
			return err
		}
		if n := len(svc.Spec.Ports); n != 1 {
			return fmt.Errorf("%d Service ports", n)
		}
		return nil
	})
}
