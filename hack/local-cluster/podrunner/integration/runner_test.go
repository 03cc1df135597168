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

// Package integration tests the pod runner against a real API server
// (envtest): pods bound to a fake node run as processes, with their
// environment resolved, their service account's kubeconfig, free loopback
// ports, restarts, and SIGTERM (then SIGKILL) on deletion. No kwok runs: the
// tests play its part where a pod must be Running. The processes are this
// test binary itself, as a helper selected by the pod's environment.
package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/queueworker/queueworker-operator/hack/local-cluster/podrunner"
)

// The helper's switches, set in the pod's environment.
const (
	envHelper      = "PODRUNNER_TEST_HELPER" // "1": this process is a pod's
	envOut         = "HELPER_OUT"            // where the helper reports
	envExitCode    = "HELPER_EXIT"           // exit at once with this code
	envIgnoreTerm  = "HELPER_IGNORE_TERM"    // "1": keep running after SIGTERM
	fakeNode       = "fake-node"
	testTimeout    = 60 * time.Second
	restartBackoff = 200 * time.Millisecond
)

var (
	k8sClient    client.Client
	testCtx      context.Context
	stateDir     string
	self         string // the manager's and the worker's binary
	dashboardBin string // the operator image's /dashboard
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		helperMain()
		return
	}
	os.Exit(runSuite(m))
}

// report is what the helper writes to HELPER_OUT once it serves HTTP.
type report struct {
	Pid  int      `json:"pid"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

// helperMain stands for a container's program: it records each start, exits
// when told to, else reports its args and environment, serves /healthz on
// QUEUEWORKER_HTTP_ADDR and exits on SIGTERM (or notes it and goes on).
func helperMain() {
	out := os.Getenv(envOut)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	appendLine(out+".starts", strconv.Itoa(os.Getpid()))
	if code := os.Getenv(envExitCode); code != "" {
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	if addr := os.Getenv("QUEUEWORKER_HTTP_ADDR"); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
		go func() { _ = http.Serve(l, mux) }()
	}
	b, _ := json.Marshal(report{Pid: os.Getpid(), Args: os.Args[1:], Env: os.Environ()})
	if err := os.WriteFile(out+".tmp", b, 0o600); err != nil || os.Rename(out+".tmp", out) != nil {
		os.Exit(2)
	}
	for range sigs {
		appendLine(out+".signals", "SIGTERM")
		if os.Getenv(envIgnoreTerm) != "1" {
			os.Exit(0)
		}
	}
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		os.Exit(2)
	}
	_, _ = fmt.Fprintln(f, line)
	_ = f.Close()
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the Kubernetes test binaries")
		return 1
	}
	level := zapcore.ErrorLevel
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		level = zapcore.DebugLevel
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	var err error
	if self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if stateDir, err = os.MkdirTemp("", "podrunner-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(stateDir) }()
	// The dashboard binary is the helper too, under its own name, so that
	// a process shows which of the two ran it.
	dashboardBin = filepath.Join(stateDir, "dashboard")
	if err := os.Symlink(self, dashboardBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	testEnv := &envtest.Environment{}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	selector := labels.SelectorFromSet(labels.Set{"type": "kwok"})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   podrunner.CacheOptions(selector),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := podrunner.New(mgr, podrunner.Options{
		Images:            podrunner.DefaultImages(self, self, dashboardBin),
		StateDir:          stateDir,
		NodeSelector:      selector,
		RestartBackoff:    restartBackoff,
		MaxRestartBackoff: time.Second,
		ShutdownTimeout:   10 * time.Second,
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testCtx = ctx
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fakeNode, Labels: map[string]string{"type": "kwok"}}}
	if err := k8sClient.Create(ctx, node); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	code := m.Run()
	cancel() // the runner stops the processes still running
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// eventually polls f until it returns nil or the test timeout passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, testTimeout, err)
}

func createNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "podrunner-"}}
	if err := k8sClient.Create(testCtx, ns); err != nil {
		t.Fatal(err)
	}
	// kube-controller-manager, which envtest lacks, would create it.
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "default"}})
	return ns.Name
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8sClient.Create(testCtx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// helperPod is a pod of the worker image on the fake node whose process is
// the helper, reporting to out.
func helperPod(ns, name, out string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			NodeName: fakeNode,
			// The ServiceAccount admission plugin, which envtest turns
			// off, would fill it in.
			ServiceAccountName:            "default",
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			Containers: []corev1.Container{{
				Name:  "worker",
				Image: "queueworker-worker:dev",
				Env:   append([]corev1.EnvVar{{Name: envHelper, Value: "1"}, {Name: envOut, Value: out}}, env...),
			}},
		},
	}
}

func readReport(out string) (report, error) {
	var r report
	b, err := os.ReadFile(out)
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

func envOf(r report) map[string]string {
	m := map[string]string{}
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func alive(pid int) bool {
	// A zombie has no cmdline; the runner reaps its children, so this
	// only guards a moment.
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && len(b) > 0
}

func lines(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}

func TestRunsPodWithResolvedEnvironment(t *testing.T) {
	ns := createNamespace(t)
	out := filepath.Join(t.TempDir(), "report.json")
	create(t,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "worker-sa"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "redis"}, StringData: map[string]string{"password": "s3cret"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tuning"}, Data: map[string]string{"QUEUEWORKER_CONCURRENCY": "8"}},
		// A pod of another image on the same node: left to kwok.
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "foreign"}, Spec: corev1.PodSpec{
			NodeName: fakeNode, Containers: []corev1.Container{{Name: "redis", Image: "redis:7", Env: []corev1.EnvVar{
				{Name: envHelper, Value: "1"}, {Name: envOut, Value: out + ".foreign"}}}}}},
	)
	pod := helperPod(ns, "worker-0", out,
		corev1.EnvVar{Name: "LEVEL", Value: "debug"},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		corev1.EnvVar{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		corev1.EnvVar{Name: "QUEUEWORKER_REDIS_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "redis"}, Key: "password"}}},
		corev1.EnvVar{Name: "QUEUEWORKER_HTTP_ADDR", Value: ":8080"},
	)
	c := &pod.Spec.Containers[0]
	c.Args = []string{"--log-level", "$(LEVEL)"}
	c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "tuning"}}}}
	pod.Spec.ServiceAccountName = "worker-sa"
	create(t, pod)

	var rep report
	eventually(t, "the process reports", func() (err error) { rep, err = readReport(out); return err })
	if want := []string{"--log-level", "debug"}; !slices.Equal(rep.Args, want) {
		t.Errorf("args = %q, want %q", rep.Args, want)
	}
	env := envOf(rep)
	for k, want := range map[string]string{
		"POD_NAME":                   "worker-0",
		"POD_NAMESPACE":              ns,
		"POD_IP":                     podrunner.LocalIP,
		"QUEUEWORKER_REDIS_PASSWORD": "s3cret",
		"QUEUEWORKER_CONCURRENCY":    "8",
		"HOSTNAME":                   "worker-0",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if v, ok := env["KUBEBUILDER_ASSETS"]; ok {
		t.Errorf("the runner's own environment leaked in: KUBEBUILDER_ASSETS=%q", v)
	}
	httpAddr := env["QUEUEWORKER_HTTP_ADDR"]
	if host, port, err := net.SplitHostPort(httpAddr); err != nil || host != podrunner.LocalIP || port == "8080" {
		t.Errorf("QUEUEWORKER_HTTP_ADDR = %q, want a free port on %s", httpAddr, podrunner.LocalIP)
	}

	// The address is published on the pod, and the process serves there.
	eventually(t, "the address annotation", func() error {
		var p corev1.Pod
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		if got, _ := podrunner.LocalAddress(&p, "worker", 8080); got != httpAddr {
			return fmt.Errorf("annotation gives %q, the process listens on %q", got, httpAddr)
		}
		return nil
	})
	resp, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}

	// The kubeconfig authenticates as the pod's service account.
	restCfg, err := clientcmd.BuildConfigFromFlags("", env["KUBECONFIG"])
	if err != nil {
		t.Fatalf("loading KUBECONFIG %q: %v", env["KUBECONFIG"], err)
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(testCtx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview with the pod's kubeconfig: %v", err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:"+ns+":worker-sa"; got != want {
		t.Errorf("kubeconfig authenticates as %q, want %q", got, want)
	}

	// Nothing ran for the pod of another image.
	if _, err := os.Stat(out + ".foreign.starts"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pod of image redis:7 ran a process (stat: %v)", err)
	}

	// Deleting the pod sends SIGTERM; the process exits and the runner
	// removes the pod.
	if err := k8sClient.Delete(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGTERM reaches the process", func() error {
		if !slices.Contains(lines(out+".signals"), "SIGTERM") {
			return errors.New("no SIGTERM yet")
		}
		return nil
	})
	eventually(t, "the process ends", func() error {
		if alive(rep.Pid) {
			return fmt.Errorf("pid %d still runs", rep.Pid)
		}
		return nil
	})
	eventually(t, "the runner deletes the pod", func() error {
		err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod still there (err %v)", err)
	})
}

func TestKillsProcessAfterGracePeriod(t *testing.T) {
	ns := createNamespace(t)
	out := filepath.Join(t.TempDir(), "report.json")
	pod := helperPod(ns, "stubborn", out, corev1.EnvVar{Name: envIgnoreTerm, Value: "1"})
	create(t, pod)
	var rep report
	eventually(t, "the process reports", func() (err error) { rep, err = readReport(out); return err })

	if err := k8sClient.Delete(testCtx, pod, client.GracePeriodSeconds(2)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "SIGTERM reaches the process", func() error {
		if !slices.Contains(lines(out+".signals"), "SIGTERM") {
			return errors.New("no SIGTERM yet")
		}
		return nil
	})
	eventually(t, "SIGKILL ends the process that ignores SIGTERM", func() error {
		if alive(rep.Pid) {
			return fmt.Errorf("pid %d still runs", rep.Pid)
		}
		return nil
	})
	eventually(t, "the runner deletes the pod", func() error {
		err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod still there (err %v)", err)
	})
}

func TestRestartsExitedProcessAndReportsIt(t *testing.T) {
	ns := createNamespace(t)
	out := filepath.Join(t.TempDir(), "report.json")
	pod := helperPod(ns, "crasher", out, corev1.EnvVar{Name: envExitCode, Value: "3"})
	create(t, pod)

	// kwok's local-pod-start stage moves such a pod to Running; after
	// that, the runner owns its status.
	eventually(t, "the pod is marked Running", func() error {
		var p corev1.Pod
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "worker", Image: "queueworker-worker:dev",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
		return k8sClient.Status().Update(testCtx, &p)
	})
	eventually(t, "the process is started again after each exit", func() error {
		if n := len(lines(out + ".starts")); n < 3 {
			return fmt.Errorf("%d starts", n)
		}
		return nil
	})
	eventually(t, "the pod status shows the restarts and the last exit", func() error {
		var p corev1.Pod
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) != 1 {
			return fmt.Errorf("container statuses: %+v", p.Status.ContainerStatuses)
		}
		s := p.Status.ContainerStatuses[0]
		if s.RestartCount < 2 || s.Ready {
			return fmt.Errorf("restartCount %d, ready %v", s.RestartCount, s.Ready)
		}
		if term := s.LastTerminationState.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
			return fmt.Errorf("lastState %+v", s.LastTerminationState)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
				return fmt.Errorf("Ready condition %s", c.Status)
			}
		}
		return nil
	})
	if err := k8sClient.Delete(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the runner deletes the pod", func() error {
		err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("pod still there (err %v)", err)
	})
}

func TestRunsNothingForPodsOfOtherNodes(t *testing.T) {
	ns := createNamespace(t)
	create(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "real-node-" + ns}})
	out := filepath.Join(t.TempDir(), "report.json")
	pod := helperPod(ns, "elsewhere", out)
	pod.Spec.NodeName = "real-node-" + ns
	// A pod the runner does run, created after, proves it has looked.
	witnessOut := filepath.Join(t.TempDir(), "witness.json")
	create(t, pod, helperPod(ns, "witness", witnessOut))
	eventually(t, "the witness runs", func() error { _, err := readReport(witnessOut); return err })
	if _, err := os.Stat(out + ".starts"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a pod of a node without type=kwok ran a process (stat: %v)", err)
	}
}

// argv0 returns the program a process runs, as it was started.
func argv0(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	first, _, _ := strings.Cut(string(b), "\x00")
	return first
}

// TestRunsDashboardBesideManager: in a pod of the operator image, a
// container whose command is /dashboard (here through a $(VAR) reference,
// which the kubelet expands) runs the dashboard binary on a port of its
// own, and one without a command runs the manager.
func TestRunsDashboardBesideManager(t *testing.T) {
	ns := createNamespace(t)
	dir := t.TempDir()
	helperEnv := func(out string, env ...corev1.EnvVar) []corev1.EnvVar {
		return append([]corev1.EnvVar{{Name: envHelper, Value: "1"}, {Name: envOut, Value: filepath.Join(dir, out)}}, env...)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "operator"},
		Spec: corev1.PodSpec{
			NodeName:                      fakeNode,
			ServiceAccountName:            "default",
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			Containers: []corev1.Container{
				{Name: "manager", Image: "queueworker-operator:dev", Env: helperEnv("manager.json")},
				{
					Name: "dashboard", Image: "queueworker-operator:dev",
					Command: []string{"$(PROGRAM)"},
					Args:    []string{"--bind-address", ":8080", "--read-only=true"},
					Env:     helperEnv("dashboard.json", corev1.EnvVar{Name: "PROGRAM", Value: "/dashboard"}),
					Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				},
			},
		},
	}
	create(t, pod)

	var manager, dashboard report
	eventually(t, "both processes report", func() (err error) {
		if manager, err = readReport(filepath.Join(dir, "manager.json")); err != nil {
			return err
		}
		dashboard, err = readReport(filepath.Join(dir, "dashboard.json"))
		return err
	})
	if got := argv0(manager.Pid); got != self {
		t.Errorf("the manager container runs %q, want %q", got, self)
	}
	if got := argv0(dashboard.Pid); got != dashboardBin {
		t.Errorf("the dashboard container runs %q, want %q", got, dashboardBin)
	}
	if len(dashboard.Args) != 3 || dashboard.Args[0] != "--bind-address" || dashboard.Args[2] != "--read-only=true" {
		t.Fatalf("dashboard args = %q, want --bind-address, a local address, --read-only=true", dashboard.Args)
	}
	bind := dashboard.Args[1]
	if host, port, err := net.SplitHostPort(bind); err != nil || host != podrunner.LocalIP || port == "8080" {
		t.Errorf("--bind-address %q, want a free port on %s", bind, podrunner.LocalIP)
	}
	eventually(t, "the dashboard's address annotation", func() error {
		var p corev1.Pod
		if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		if got, _ := podrunner.LocalAddress(&p, "dashboard", 8080); got != bind {
			return fmt.Errorf("annotation gives %q, the process listens on %q", got, bind)
		}
		return nil
	})
	if err := k8sClient.Delete(testCtx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the processes end", func() error {
		for _, pid := range []int{manager.Pid, dashboard.Pid} {
			if alive(pid) {
				return fmt.Errorf("pid %d still runs", pid)
			}
		}
		return nil
	})
}
