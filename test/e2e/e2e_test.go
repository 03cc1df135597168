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
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// What the chart installs, under the release name the suite uses.
const (
	release          = "queueworker-operator"
	operatorNS       = "queueworker-system"
	operatorDeploy   = release + "-controller-manager"
	operatorSA       = release + "-controller-manager"
	operatorImage    = "queueworker-operator"
	workerImage      = "queueworker-worker:dev"
	imageTag         = "dev"
	leaseName        = "queueworker-operator.queueworker.io"
	managerContainer = "manager"
	workerContainer  = "worker"
	chartPath        = "charts/queueworker-operator"
)

// Deadlines. They are generous on purpose: the suite checks that things
// happen, not how fast; the report says how fast they were.
const (
	// shortWait bounds what takes seconds on an idle machine.
	shortWait = 2 * time.Minute
	// longWait bounds draining a burst or a scale-down window.
	longWait = 5 * time.Minute
	// pollEvery is how often waits look again.
	pollEvery = 250 * time.Millisecond
)

// suiteLabel marks the namespaces the suite creates, so a later run on a
// reused cluster can remove what an interrupted one left behind.
const suiteLabel = "e2e.queueworker.io/suite"

// suite is the cluster and the tools every scenario uses.
type suite struct {
	provider   provider
	root       string
	kubectl    string
	helm       string
	kubeconfig string
	client     client.WithWatch
	report     *report
}

// TestE2E brings up a cluster, installs the chart and runs the scenarios in
// order; each later scenario needs the operator the first one checks.
func TestE2E(t *testing.T) {
	s := setUp(t)
	if !t.Run("install", s.testInstall) {
		t.Fatal("the operator is not running as installed; the other scenarios need it")
	}
	t.Run("burst", s.testBurst)
	t.Run("scale-in-mid-task", s.testScaleInMidTask)
	t.Run("scale-in-policies", s.testScaleInPolicies)
	t.Run("redis-outage", s.testRedisOutage)
	t.Run("operator-crash", s.testOperatorCrash)
	t.Run("redisconfig-external", s.testRedisConfigExternal)
	t.Run("managed", s.testManaged)
	t.Run("invalid-objects", s.testInvalidObjects)
}

// setUp brings up the provider's cluster and installs the chart. The
// report is written and the cluster torn down when the test ends.
func setUp(t *testing.T) *suite {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(root)
	if err != nil {
		t.Fatal(err)
	}
	s := &suite{provider: p, root: root, report: newReport(p.name())}
	// The scenarios stop Redis on purpose; the suite's clients would log
	// every failed dial. Failures reach the test as errors anyway, and the
	// Kubernetes client has nothing to log that a test reads.
	redis.SetLogger(quietRedisLog{})
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	t.Logf("provider %s", p.name())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := p.down(ctx, t.Failed()); err != nil {
			t.Errorf("tearing down the cluster: %v", err)
		}
	})
	// Registered after the tear-down, so it runs before it.
	t.Cleanup(func() { s.finishReport(t) })

	// The cluster comes first: a provider that cannot run here says so
	// before any tool is built.
	ctx := t.Context()
	start := time.Now()
	if s.kubeconfig, err = p.up(ctx, t); err != nil {
		t.Fatalf("bringing up the %s cluster: %v", p.name(), err)
	}
	s.report.clusterUp = time.Since(start)
	t.Logf("cluster up in %s; kubeconfig %s", s.report.clusterUp.Round(time.Second), s.kubeconfig)
	if s.helm, err = toolPath(root, "HELM", "--path", "helm"); err != nil {
		t.Fatalf("finding helm: %v", err)
	}
	if s.kubectl, err = p.kubectlPath(); err != nil {
		t.Fatalf("finding kubectl: %v", err)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatalf("reading kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, coordinationv1.AddToScheme, queueworkerv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	if s.client, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatalf("creating a client: %v", err)
	}

	start = time.Now()
	s.installOperator(ctx, t)
	s.report.install = time.Since(start)
	t.Logf("chart installed in %s", s.report.install.Round(time.Second))
	return s
}

// installOperator installs the chart with the provider's image values and
// waits until the operator Deployment is available. On a reused cluster a
// release and namespaces left by an earlier run are removed first, and the
// CRDs are updated (helm never upgrades the CRDs of crds/).
func (s *suite) installOperator(ctx context.Context, t *testing.T) {
	if s.provider.reused() {
		if _, err := s.helmRun(ctx, "uninstall", release, "--namespace", operatorNS, "--ignore-not-found", "--wait"); err != nil {
			t.Fatalf("removing an earlier release: %v", err)
		}
		if _, _, err := s.kubectlRun(ctx, "", "delete", "namespaces", "-l", suiteLabel, "--wait=true", "--timeout=3m"); err != nil {
			t.Fatalf("removing namespaces of an earlier run: %v", err)
		}
		if _, _, err := s.kubectlRun(ctx, "", "apply", "--server-side", "--force-conflicts",
			"--field-manager=e2e", "-f", filepath.Join(s.root, chartPath, "crds")); err != nil {
			t.Fatalf("updating the CRDs: %v", err)
		}
	}
	values := s.provider.helmValues()
	args := make([]string, 0, 6+2*len(values))
	args = append(args, "install", release, filepath.Join(s.root, chartPath), "--namespace", operatorNS, "--create-namespace")
	for _, v := range values {
		args = append(args, "--set", v)
	}
	if _, err := s.helmRun(ctx, args...); err != nil {
		t.Fatal(err)
	}
	s.waitOperatorAvailable(t)
}

// crashLoopRestarts is how many restarts of the operator's container mean
// it will not come up by itself.
const crashLoopRestarts = 3

// waitOperatorAvailable waits until the operator Deployment has all its
// replicas available, and fails at once, with the operator's log, when its
// container keeps exiting.
func (s *suite) waitOperatorAvailable(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	eventually(t, "the operator Deployment is available", longWait, func() (bool, error) {
		var dep appsv1.Deployment
		if err := s.client.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: operatorDeploy}, &dep); err != nil {
			return false, err
		}
		pods, err := s.operatorPods(ctx)
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.RestartCount >= crashLoopRestarts {
					s.crashLooping(t, p.Name, cs.RestartCount)
				}
			}
		}
		want := int32(1)
		if dep.Spec.Replicas != nil {
			want = *dep.Spec.Replicas
		}
		return dep.Status.ObservedGeneration == dep.Generation && dep.Status.ReadyReplicas == want &&
				dep.Status.AvailableReplicas == want && dep.Status.UpdatedReplicas == want,
			fmt.Errorf("%d of %d replicas ready and available", dep.Status.AvailableReplicas, want)
	})
}

// crashLooping fails the test with the end of the operator's log.
func (s *suite) crashLooping(t *testing.T, pod string, restarts int32) {
	t.Helper()
	t.Fatalf("the operator's container in pod %s has restarted %d times; its last log lines:\n%s",
		pod, restarts, tail(s.provider.operatorLogs(context.Background()), 15))
}

// quietRedisLog drops go-redis's own log lines.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// helmRun runs the suite's helm against the cluster.
func (s *suite) helmRun(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.helm, append(args, "--kubeconfig", s.kubeconfig)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// kubectlRun runs kubectl against the cluster with stdin, and returns its
// stdout and stderr separately: the API server's messages are on stderr.
func (s *suite) kubectlRun(ctx context.Context, stdin string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), stderr.String(), err
}

// toolPath returns $env when set, else what hack/build-test-binaries.sh
// prints for args (it builds the tool if it is not cached).
func toolPath(root, env string, args ...string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	cmd := exec.Command(filepath.Join(root, "hack", "build-test-binaries.sh"), args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-test-binaries.sh %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// newNamespace creates a namespace with a random suffix, so a run never
// waits for the namespace of an earlier one to finish terminating.
func (s *suite) newNamespace(ctx context.Context, t *testing.T, prefix string) string {
	name := prefix + "-" + strings.ToLower(rand.Text()[:5])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{suiteLabel: "true"}}}
	if err := s.client.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// deleteNamespace deletes a scenario's namespace and waits until its pods
// are gone, so the next scenario does not share the machine with them.
func (s *suite) deleteNamespace(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), shortWait)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := s.client.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", name, err)
		return
	}
	err := poll(ctx, func() (bool, error) {
		var pods corev1.PodList
		if err := s.client.List(ctx, &pods, client.InNamespace(name)); err != nil {
			return false, err
		}
		return len(pods.Items) == 0, fmt.Errorf("%d pods left", len(pods.Items))
	})
	if err != nil {
		t.Logf("namespace %s: pods still there after %s: %v", name, shortWait, err)
	}
}

// poll calls cond every pollEvery until it reports true or ctx ends; the
// error then tells the last state cond saw.
func poll(ctx context.Context, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return last
		case <-time.After(pollEvery):
		}
	}
}

// eventually fails the test when cond does not hold within timeout, with
// what cond last reported.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := poll(ctx, cond); err != nil {
		t.Fatalf("%s: not within %s: %v", what, timeout, err)
	}
}

// diagnostics writes what explains a failed scenario into the state dir:
// the namespace's objects and events and the operator's log.
func (s *suite) diagnostics(t *testing.T, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(s.provider.stateDir(), "diagnostics", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("diagnostics: %v", err)
		return
	}
	write := func(file string, args ...string) {
		out, errOut, err := s.kubectlRun(ctx, "", args...)
		if err != nil {
			out += "\n" + errOut
		}
		_ = os.WriteFile(filepath.Join(dir, file), []byte(out), 0o644)
	}
	write("objects.yaml", "get", "queueworkers,redisconfigs,deployments,pods", "-n", ns, "-o", "yaml")
	write("events.txt", "get", "events", "-n", ns, "--sort-by=.lastTimestamp")
	write("operator-events.txt", "get", "events", "-n", operatorNS, "--sort-by=.lastTimestamp")
	logs := s.provider.operatorLogs(ctx)
	_ = os.WriteFile(filepath.Join(dir, "operator.log"), []byte(logs), 0o644)
	t.Logf("diagnostics in %s; the operator's last log lines:\n%s", dir, tail(logs, 25))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// operatorPods returns the operator's pods that are not being deleted.
func (s *suite) operatorPods(ctx context.Context) ([]corev1.Pod, error) {
	var dep appsv1.Deployment
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: operatorDeploy}, &dep); err != nil {
		return nil, err
	}
	var pods corev1.PodList
	if err := s.client.List(ctx, &pods, client.InNamespace(operatorNS),
		client.MatchingLabels(dep.Spec.Selector.MatchLabels)); err != nil {
		return nil, err
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live, nil
}

// lease returns the operator's leader election Lease.
func (s *suite) lease(ctx context.Context) (*coordinationv1.Lease, error) {
	var l coordinationv1.Lease
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: leaseName}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// leaseHolder returns the Lease's holder and when it last renewed.
func (s *suite) leaseHolder(ctx context.Context) (string, time.Time, error) {
	l, err := s.lease(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	var holder string
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	var renewed time.Time
	if l.Spec.RenewTime != nil {
		renewed = l.Spec.RenewTime.Time
	}
	if holder == "" {
		return "", renewed, errors.New("the Lease has no holder")
	}
	return holder, renewed, nil
}
