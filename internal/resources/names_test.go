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
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// The names Kubernetes derives from the operator's objects, worked out as
// its controllers do. A ControllerRevision's hash, which the StatefulSet
// controller puts into the controller-revision-hash label of its pods, and
// a ReplicaSet's pod-template-hash are a 32-bit FNV hash in decimal,
// safe-encoded: at most ten characters.
const maxControllerHash = "bdf8w2z5ct"

// nameCheck is one name or label value and the validation Kubernetes
// applies to it.
type nameCheck struct {
	what, value string
	valid       func(string) []string
}

func checkNames(t *testing.T, checks []nameCheck) {
	t.Helper()
	for _, c := range checks {
		if errs := c.valid(c.value); len(errs) > 0 {
			t.Errorf("%s %q (%d characters) is refused: %s", c.what, c.value, len(c.value), strings.Join(errs, "; "))
		}
	}
}

// labelChecks checks every label value of obj.
func labelChecks(what string, labels map[string]string) []nameCheck {
	out := make([]nameCheck, 0, len(labels))
	for k, v := range labels {
		out = append(out, nameCheck{what + " label " + k, v, validation.IsValidLabelValue})
	}
	return out
}

// managedRedisNames are the checks of every name and label of the objects
// of a managed Redis, and of the names Kubernetes derives from them.
func managedRedisNames(t *testing.T, rc *v1.RedisConfig) []nameCheck {
	t.Helper()
	sts := BuildRedisStatefulSet(rc, "restart", "secret")
	svc := BuildRedisService(rc)
	cm := BuildRedisConfigMap(rc, nil)
	generated, err := BuildRedisPasswordSecret(rc, "pw")
	if err != nil {
		t.Fatal(err)
	}
	authConf, err := BuildRedisAuthConfSecret(rc, "pw")
	if err != nil {
		t.Fatal(err)
	}
	pod := sts.Name + "-0"
	checks := make([]nameCheck, 0, 64)
	checks = append(checks, []nameCheck{
		{"StatefulSet name", sts.Name, validation.IsDNS1123Subdomain},
		// Clients reach Redis as <service>.<namespace>.svc: the Service
		// name is a DNS-1035 label.
		{"Service name", svc.Name, validation.IsDNS1035Label},
		{"StatefulSet serviceName (the pods' subdomain)", sts.Spec.ServiceName, validation.IsDNS1123Label},
		{"ConfigMap name", cm.Name, validation.IsDNS1123Subdomain},
		{"generated password Secret name", generated.Name, validation.IsDNS1123Subdomain},
		{"derived auth Secret name", authConf.Name, validation.IsDNS1123Subdomain},
		// The StatefulSet's pod is <statefulset>-<ordinal>, and its name is
		// its hostname, a DNS label.
		{"pod name and hostname", pod, validation.IsDNS1123Label},
		{"pod label controller-revision-hash", sts.Name + "-" + maxControllerHash, validation.IsValidLabelValue},
		{"pod label statefulset.kubernetes.io/pod-name", pod, validation.IsValidLabelValue},
		{"ControllerRevision name", sts.Name + "-" + maxControllerHash, validation.IsDNS1123Subdomain},
		{"volume claim name", RedisDataVolumeName + "-" + pod, validation.IsDNS1123Subdomain},
	}...)
	checks = append(checks, labelChecks("StatefulSet", sts.Labels)...)
	checks = append(checks, labelChecks("pod template", sts.Spec.Template.Labels)...)
	checks = append(checks, labelChecks("selector", sts.Spec.Selector.MatchLabels)...)
	for _, claim := range sts.Spec.VolumeClaimTemplates {
		checks = append(checks, labelChecks("claim template", claim.Labels)...)
	}
	checks = append(checks, labelChecks("Service", svc.Labels)...)
	checks = append(checks, labelChecks("Service selector", svc.Spec.Selector)...)
	checks = append(checks, labelChecks("ConfigMap", cm.Labels)...)
	checks = append(checks, labelChecks("Secret", generated.Labels)...)
	return checks
}

// TestManagedRedisNamesAtTheLimit: with a RedisConfig name of
// MaxRedisConfigNameLength characters, every name the operator derives in
// mode Managed, and every name Kubernetes derives from those, passes
// Kubernetes' own validation. One character more is refused by
// CheckRedisConfigName, and rightly: the pods' controller-revision-hash
// label would no longer fit.
func TestManagedRedisNamesAtTheLimit(t *testing.T) {
	name := "r" + strings.Repeat("0", MaxRedisConfigNameLength-1)
	rc := &v1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: v1.RedisConfigSpec{Mode: v1.RedisConfigManaged}}
	if err := CheckRedisConfigName(name); err != nil {
		t.Fatalf("CheckRedisConfigName refuses %d characters: %v", len(name), err)
	}
	checkNames(t, managedRedisNames(t, rc))

	tooLong := name + "0"
	if err := CheckRedisConfigName(tooLong); !errors.Is(err, ErrInvalidRedisConfigName) {
		t.Errorf("CheckRedisConfigName accepts %d characters: %v", len(tooLong), err)
	}
	rc.Name = tooLong
	revision := RedisStatefulSetName(rc) + "-" + maxControllerHash
	if errs := validation.IsValidLabelValue(revision); len(errs) == 0 {
		t.Errorf("the limit is not tight: controller-revision-hash %q is still a valid label value", revision)
	}
}

// TestRedisConfigNamesRefused: names the API server accepts for any object
// but that cannot name the Service of a managed Redis.
func TestRedisConfigNamesRefused(t *testing.T) {
	for _, name := range []string{"1redis", "redis.prod", "r" + strings.Repeat("x", 60)} {
		if err := CheckRedisConfigName(name); !errors.Is(err, ErrInvalidRedisConfigName) {
			t.Errorf("CheckRedisConfigName(%q) = %v, want ErrInvalidRedisConfigName", name, err)
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("%q is no valid object name, so the case shows nothing: %v", name, errs)
		}
	}
	for _, name := range []string{"r", "redis-1", "a-b-c"} {
		if err := CheckRedisConfigName(name); err != nil {
			t.Errorf("CheckRedisConfigName(%q) = %v", name, err)
		}
	}
}

// TestWorkerNamesAtTheLimit: with a QueueWorker name of
// MaxQueueWorkerNameLength characters, the Deployment, its labels and the
// names Kubernetes derives from it pass Kubernetes' own validation; one
// character more is refused by CheckQueueWorkerName, and rightly: the
// instance label would not fit.
func TestWorkerNamesAtTheLimit(t *testing.T) {
	qw := baseQueueWorker()
	qw.Name = strings.Repeat("w", MaxQueueWorkerNameLength)
	if err := CheckQueueWorkerName(qw.Name); err != nil {
		t.Fatalf("CheckQueueWorkerName refuses %d characters: %v", len(qw.Name), err)
	}
	ep, _ := EndpointFromSpec(qw.Spec.Redis)
	dep, err := BuildWorkerDeployment(qw, ep, "hash")
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, workerNames(dep))

	qw.Name += "w"
	if err := CheckQueueWorkerName(qw.Name); !errors.Is(err, ErrInvalidQueueWorkerName) {
		t.Errorf("CheckQueueWorkerName accepts %d characters: %v", len(qw.Name), err)
	}
	if errs := validation.IsValidLabelValue(SelectorLabels(qw)[LabelInstance]); len(errs) == 0 {
		t.Errorf("the limit is not tight: a %d-character instance label is valid", len(qw.Name))
	}
}

// workerNames are the checks of the worker Deployment's names and labels.
func workerNames(dep *appsv1.Deployment) []nameCheck {
	// The Deployment controller names its ReplicaSets
	// <deployment>-<pod-template-hash>.
	checks := make([]nameCheck, 0, 16)
	checks = append(checks,
		nameCheck{"Deployment name", dep.Name, validation.IsDNS1123Subdomain},
		nameCheck{"ReplicaSet name", dep.Name + "-" + maxControllerHash, validation.IsDNS1123Subdomain},
	)
	checks = append(checks, labelChecks("Deployment", dep.Labels)...)
	checks = append(checks, labelChecks("pod template", dep.Spec.Template.Labels)...)
	checks = append(checks, labelChecks("selector", dep.Spec.Selector.MatchLabels)...)
	return checks
}
