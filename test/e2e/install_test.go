//go:build e2e

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

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// testInstall checks what `helm install` (done by setUp) left running: a
// deployed release, an available operator Deployment whose pods run under
// the chart's ServiceAccount and whose process authenticates as it, and a
// leader that holds and keeps renewing the Lease, which that account, and
// not the namespace's default one, may update.
func (s *suite) testInstall(t *testing.T) {
	res := s.report.start(t.Name())
	t.Cleanup(func() { res.finish(t) })
	ctx := t.Context()

	out, err := s.helmRun(ctx, "status", release, "--namespace", operatorNS, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Info struct {
			Status string `json:"status"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("reading helm status: %v\n%s", err, out)
	}
	if status.Info.Status != "deployed" {
		t.Fatalf("release %s is %q, want deployed", release, status.Info.Status)
	}

	s.waitOperatorAvailable(t)
	var dep appsv1.Deployment
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: operatorDeploy}, &dep); err != nil {
		t.Fatal(err)
	}
	if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != operatorSA {
		t.Errorf("the operator pods run as service account %q, want the chart's %q", sa, operatorSA)
	}

	pods, err := s.operatorPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) == 0 {
		t.Fatal("no operator pod")
	}
	wantUser := "system:serviceaccount:" + operatorNS + ":" + operatorSA
	for _, pod := range pods {
		if !podReady(&pod) {
			t.Errorf("operator pod %s is not Ready: %+v", pod.Name, pod.Status.Conditions)
		}
		user, err := s.provider.operatorIdentity(ctx, &pod)
		if err != nil {
			t.Fatalf("finding who the process of pod %s is: %v", pod.Name, err)
		}
		if user != wantUser {
			t.Errorf("the process of operator pod %s authenticates as %q, want %q", pod.Name, user, wantUser)
		}
		res.note("pod %s authenticates as %s", pod.Name, user)
	}

	// A leader holds the Lease and renews it: the renew time moves on.
	holder, renewed := s.waitLeader(t, "")
	eventually(t, "the leader renews the Lease", shortWait, func() (bool, error) {
		_, again, err := s.leaseHolder(ctx)
		return err == nil && again.After(renewed), err
	})
	res.note("lease %s/%s held by %s", operatorNS, leaseName, holder)

	// The Lease is the operator's account's to update, and no other
	// account of the namespace's.
	for sa, want := range map[string]string{operatorSA: "yes", "default": "no"} {
		got, _, _ := s.kubectlRun(ctx, "", "auth", "can-i", "update", "leases.coordination.k8s.io/"+leaseName,
			"--namespace", operatorNS, "--as", "system:serviceaccount:"+operatorNS+":"+sa)
		if strings.TrimSpace(got) != want {
			t.Errorf("can service account %s update the Lease? %q, want %q", sa, strings.TrimSpace(got), want)
		}
	}
}

// waitLeader waits for a holder of the Lease other than not (any holder
// when not is empty) whose renewal is recent, and returns it.
func (s *suite) waitLeader(t *testing.T, not string) (string, time.Time) {
	t.Helper()
	var holder string
	var renewed time.Time
	what := "a leader holds the Lease"
	if not != "" {
		what = "another leader takes the Lease over from " + not
	}
	eventually(t, what, shortWait, func() (bool, error) {
		var err error
		holder, renewed, err = s.leaseHolder(t.Context())
		if err != nil {
			return false, err
		}
		if holder == not {
			return false, fmt.Errorf("still held by %s, renewed %s", holder, renewed.Format(time.RFC3339))
		}
		// The Lease's times have a second's precision.
		if time.Since(renewed) > 30*time.Second {
			return false, fmt.Errorf("held by %s, last renewed %s ago", holder, time.Since(renewed).Round(time.Second))
		}
		return true, nil
	})
	return holder, renewed
}

// waitOperatorReady waits until every operator pod is Ready.
func (s *suite) waitOperatorReady(t *testing.T) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, "the operator pod is Ready", shortWait, func() (bool, error) {
		var err error
		if pods, err = s.operatorPods(t.Context()); err != nil {
			return false, err
		}
		if len(pods) == 0 {
			return false, errors.New("no operator pod")
		}
		for _, p := range pods {
			if !podReady(&p) {
				return false, fmt.Errorf("pod %s is not Ready", p.Name)
			}
		}
		return true, nil
	})
	return pods
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
