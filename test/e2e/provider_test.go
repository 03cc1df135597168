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
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

// provider is a kind of cluster the suite runs on: what differs between a
// local control plane whose pods are local processes and a kind cluster.
type provider interface {
	name() string
	// kubectlPath returns the kubectl to use with this cluster.
	kubectlPath() (string, error)
	// up brings the cluster up (or finds the one to reuse) with the
	// operator and worker images available, and returns an admin
	// kubeconfig.
	up(ctx context.Context, t *testing.T) (kubeconfig string, err error)
	// down tears the cluster down unless it is kept or reused; failed says
	// whether to save logs first.
	down(ctx context.Context, failed bool) error
	// reused reports whether the cluster existed before the suite.
	reused() bool
	// helmValues are the chart values (--set) that point the operator at
	// the image the cluster has.
	helmValues() []string
	// stateDir is where the report and diagnostics go.
	stateDir() string
	// startRedis starts a Redis that keeps its data across stop and start,
	// reachable by the operator and the workers of namespace ns.
	startRedis(ctx context.Context, t *testing.T, ns string) (redisServer, error)
	// serviceClient returns a client for the suite itself of the Redis
	// behind port 6379 of Service ns/name, which follows the Service to
	// its current pod; it is closed when the test ends.
	serviceClient(t *testing.T, c ctrlclient.Client, ns, name, password string) *redis.Client
	// serviceDialer returns what the suite dials to reach port of Service
	// ns/name: a local address that follows the Service to its current
	// ready pod; a port-forward, if any, ends with the test.
	serviceDialer(t *testing.T, c ctrlclient.Client, ns, name string, port int32) func(ctx context.Context) (string, error)
	// operatorIdentity returns the user the process of the operator pod
	// authenticates to the API server as.
	operatorIdentity(ctx context.Context, pod *corev1.Pod) (string, error)
	// killOperator kills the process of the operator pod with SIGKILL, as a
	// crash would; the pod stays and its container restarts.
	killOperator(ctx context.Context, pod *corev1.Pod) error
	// operatorLogs returns the log of the operator's current pod(s).
	operatorLogs(ctx context.Context) string
	// workerProcess identifies the process of a worker pod as asynq sees
	// it: the host name and, when the host is shared, the pid.
	workerProcess(pod *corev1.Pod) (host string, pid int, ok bool)
}

// redisServer is a Redis for one scenario.
type redisServer interface {
	// addr is the host:port the operator and the workers use.
	addr() string
	// client returns a client for the suite itself.
	client() *redis.Client
	// stop stops the server; its data stays.
	stop(ctx context.Context) error
	// start starts a stopped server again at the same address.
	start(ctx context.Context) error
	// close stops the server for good.
	close()
}

// newProvider returns the provider E2E_PROVIDER names.
func newProvider(root string) (provider, error) {
	switch p := os.Getenv("E2E_PROVIDER"); p {
	case "", "local":
		return newLocalProvider(root)
	case "kind":
		return newKindProvider(root)
	default:
		return nil, fmt.Errorf("E2E_PROVIDER=%q: want local or kind", p)
	}
}

// envTrue reports whether an environment variable is set to 1 or true.
func envTrue(name string) bool {
	v := os.Getenv(name)
	return v == "1" || v == "true"
}

// envOr returns the variable's value, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
