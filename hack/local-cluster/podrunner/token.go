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

package podrunner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// kubeconfigName names the cluster and the context of a pod's kubeconfig.
const kubeconfigName = "local"

// tokenLifetime is what the kubelet asks for a projected service account
// token; like the kubelet, the runner renews it at 80% of its life.
const tokenLifetime = time.Hour

// serviceAccountToken writes dir/token, a token of the pod's service account
// bound to the pod (it stops working when the pod is deleted), and, the
// first time, dir/kubeconfig that reads it. client-go reads a token file
// again every minute, so a renewed token reaches a running process. It
// returns the kubeconfig's path and when to renew the token.
func serviceAccountToken(ctx context.Context, cs kubernetes.Interface, api *rest.Config, pod *corev1.Pod, dir string) (string, time.Time, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To(int64(tokenLifetime / time.Second)),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("requesting a token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	tokenPath := filepath.Join(dir, "token")
	if err := writeFileAtomic(tokenPath, []byte(tr.Status.Token)); err != nil {
		return "", time.Time{}, err
	}
	issued := time.Now()
	renew := issued.Add(tr.Status.ExpirationTimestamp.Sub(issued) * 8 / 10)

	path := filepath.Join(dir, "kubeconfig")
	if _, err := os.Stat(path); err == nil {
		return path, renew, nil
	}
	caData := api.CAData
	if len(caData) == 0 && api.CAFile != "" {
		if caData, err = os.ReadFile(api.CAFile); err != nil {
			return "", time.Time{}, fmt.Errorf("reading the API server's CA: %w", err)
		}
	}
	user := "system:serviceaccount:" + pod.Namespace + ":" + sa
	cfg := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{kubeconfigName: {
			Server:                   api.Host,
			CertificateAuthorityData: caData,
			InsecureSkipTLSVerify:    api.Insecure,
		}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{user: {TokenFile: tokenPath}},
		Contexts: map[string]*clientcmdapi.Context{kubeconfigName: {
			Cluster: kubeconfigName, AuthInfo: user, Namespace: pod.Namespace,
		}},
		CurrentContext: kubeconfigName,
	}
	if err := clientcmd.WriteToFile(cfg, path); err != nil {
		return "", time.Time{}, fmt.Errorf("writing kubeconfig: %w", err)
	}
	return path, renew, nil
}

// writeFileAtomic replaces path, so a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
