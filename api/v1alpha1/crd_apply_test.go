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

package v1alpha1_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// lastAppliedAnnotation is where a client-side `kubectl apply` keeps the
// applied object, as compact JSON. The API server refuses an object whose
// annotations together pass 256 KiB.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// TestCRDsFitClientSideApply stores each generated CRD with the annotation
// a client-side `kubectl apply -f config/crd/bases` adds, on a real API
// server: the QueueWorker CRD embeds a pod template, whose generated
// descriptions alone once made it too large to apply that way.
func TestCRDsFitClientSideApply(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			applied := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(raw, &applied.Object); err != nil {
				t.Fatal(err)
			}
			compact, err := json.Marshal(applied.Object)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes as compact JSON", applied.GetName(), len(compact))
			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(applied.GroupVersionKind())
			if err := k8s.Get(ctx, client.ObjectKey{Name: applied.GetName()}, stored); err != nil {
				t.Fatal(err)
			}
			annotations := stored.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[lastAppliedAnnotation] = string(compact)
			stored.SetAnnotations(annotations)
			if err := k8s.Update(ctx, stored); err != nil {
				t.Fatalf("storing the CRD with the annotation of a client-side apply: %v", err)
			}
		})
	}
}

// TestKubectlApplyCRDs runs what the README tells users to run, with the
// kubectl on PATH, against the test API server.
func TestKubectlApplyCRDs(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH; TestCRDsFitClientSideApply checks the same limit")
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: restConfig.CertData, ClientKeyData: restConfig.KeyData, Token: restConfig.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "-f", filepath.Join("..", "..", "config", "crd", "bases")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -f config/crd/bases: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
