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
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/scaling"
	"github.com/queueworker/queueworker-operator/test/crdtest"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// The controller tests run the reconciler in a manager against a real
// kube-apiserver and etcd (envtest). envtest runs no kube-controller-manager,
// so tests that need a Deployment's status write it themselves.

var (
	// redisServer is a private redis-server for the autoscaling tests.
	redisServer *redistest.Server
	// redisPool holds the autoscaler's Redis clients.
	redisPool *queue.Pool
	// scaler is the reconciler's Scaler.
	scaler    *gatedScaler
	testEnv   *envtest.Environment
	k8sClient client.Client
	testCtx   context.Context
)

// Periods short enough for tests to watch recovery and rotation happen.
const (
	testSecretResync  = time.Second
	testStalledRetry  = time.Second
	eventuallyTimeout = 60 * time.Second
	// testReconcilers is the suite's MaxConcurrentReconciles: several, as
	// the operator runs (its --max-concurrent-reconciles default is 8).
	testReconcilers = 4
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run `make test`, which builds the Kubernetes test binaries")
		return 1
	}
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, queueworkerv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()

	// Count the operator's writes to the API server (for the idle-write
	// benchmark); the test client below uses its own copy of the config.
	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &writeCounter{next: rt} })

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// The same cache as cmd/manager's.
		Cache: cache.Options{ByObject: CacheByObject()},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	redisServer, err = redistest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = redisServer.Close() }()
	redisPool = queue.NewPool(nil)
	autoscaler := scaling.NewAutoscaler(redisPool)
	autoscaler.StatusInterval = time.Second
	scaler = &gatedScaler{Autoscaler: autoscaler}
	err = (&QueueWorkerReconciler{
		Autoscaler:         scaler,
		Client:             mgr.GetClient(),
		APIReader:          faultyReader{mgr.GetAPIReader()},
		Recorder:           mgr.GetEventRecorder("queueworker-operator"),
		SecretResyncPeriod: testSecretResync,
		StalledRetryPeriod: testStalledRetry,
		// Concurrent reconciles, as the operator runs them.
		MaxConcurrentReconciles: testReconcilers,
	}).SetupWithManager(mgr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = (&RedisConfigReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               faultyReader{mgr.GetAPIReader()},
		Recorder:                mgr.GetEventRecorder("queueworker-operator"),
		SecretResyncPeriod:      testSecretResync,
		StalledRetryPeriod:      testStalledRetry,
		MaxConcurrentReconciles: testReconcilers,
		MemoryRecheckInterval:   2 * time.Second,
		DialAddress: func(rc *queueworkerv1alpha1.RedisConfig) string {
			if addr, ok := managedRedisAddrs.Load(rc.Namespace + "/" + rc.Name); ok {
				return addr.(string)
			}
			return "127.0.0.1:1" // nothing listens: the managed pod "is not reachable"
		},
	}).SetupWithManager(mgr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testCtx = ctx
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// gatedScaler is the autoscaler behind a gate: while a test holds gate, the
// reconcile that calls Update waits in it, as behind a busy controller.
type gatedScaler struct {
	*scaling.Autoscaler
	gate sync.Mutex
}

func (g *gatedScaler) Update(name types.NamespacedName, in scaling.Target) (*scaling.Result, error) {
	g.gate.Lock()
	defer g.gate.Unlock()
	return g.Autoscaler.Update(name, in)
}

// zapLevel keeps test output to errors unless TEST_VERBOSE_LOGS is set.
func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE_LOGS") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// managedRedisAddrs maps namespace/name of a managed RedisConfig to the
// address of a redis-server a test runs for it with the rendered
// configuration: envtest runs no pods.
var managedRedisAddrs sync.Map

// operatorWrites counts the operator's requests that write to the API
// server (everything but GET, LIST and WATCH).
var operatorWrites atomic.Int64

// operatorCreates counts the operator's create requests (POST) by URL path,
// e.g. /apis/apps/v1/namespaces/<ns>/deployments, so a test can show that
// something was never even tried.
var operatorCreates sync.Map

type writeCounter struct{ next http.RoundTripper }

// pathWrites counts the operator's writes per URL path.
var pathWrites sync.Map

// writesIn is the number of writes the operator sent for objects in
// namespace ns, events left out.
func writesIn(ns string) int64 {
	var total int64
	pathWrites.Range(func(k, v any) bool {
		p := k.(string)
		if strings.Contains(p, "/namespaces/"+ns+"/") && !strings.Contains(p, "/events") {
			total += v.(*atomic.Int64).Load()
		}
		return true
	})
	return total
}

// statusPatchCounts counts the operator's writes per status subresource path
// (/apis/.../namespaces/NS/queueworkers/NAME/status).
var statusPatchCounts sync.Map

// writeFaults makes the operator's writes whose URL path ends in a suffix
// fail, as an API server that is away would: failWrites sets how many.
var writeFaults sync.Map // path suffix -> *atomic.Int64

// failWrites makes the next n writes of the operator to a path ending in
// suffix fail; 0 ends the faults.
func failWrites(suffix string, n int64) {
	c := new(atomic.Int64)
	c.Store(n)
	writeFaults.Store(suffix, c)
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		var fail bool
		writeFaults.Range(func(k, v any) bool {
			if strings.HasSuffix(req.URL.Path, k.(string)) && v.(*atomic.Int64).Add(-1) >= 0 {
				fail = true
				return false
			}
			return true
		})
		if fail {
			return nil, errInjected
		}
	}
	if req.Method != http.MethodGet {
		operatorWrites.Add(1)
		n, _ := pathWrites.LoadOrStore(req.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if strings.HasSuffix(req.URL.Path, "/status") {
			n, _ := statusPatchCounts.LoadOrStore(req.URL.Path, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
	}
	if req.Method == http.MethodPost {
		n, _ := operatorCreates.LoadOrStore(req.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	return w.next.RoundTrip(req)
}

// readFaults makes the reconcilers' uncached reads (Secrets, objects the
// cache does not hold) in a namespace fail, as an API server that is away
// would: failReads sets how many.
var readFaults sync.Map // namespace -> *atomic.Int64

// errInjected is the error of a read that readFaults fails.
var errInjected = errors.New("injected fault: the API server is unavailable")

// faultyReader is the reconcilers' APIReader in the tests.
type faultyReader struct{ client.Reader }

func (f faultyReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if n, ok := readFaults.Load(key.Namespace); ok && n.(*atomic.Int64).Add(-1) >= 0 {
		return errInjected
	}
	err := f.Reader.Get(ctx, key, obj, opts...)
	if hook, ok := afterAPIGet.Load(key.Namespace); ok {
		hook.(func(client.ObjectKey, client.Object, error))(key, obj, err)
	}
	return err
}

// afterAPIGet holds, per namespace, a function the reconcilers' uncached
// reads call with what they read, before the reconciler goes on: a test
// can change the API server's state between a read and the write that
// follows it.
var afterAPIGet sync.Map // namespace -> func(client.ObjectKey, client.Object, error)

// failReads makes the next n uncached reads in namespace ns fail; 0 ends
// the faults.
func failReads(ns string, n int64) {
	c := new(atomic.Int64)
	c.Store(n)
	readFaults.Store(ns, c)
}

// createsOf is how many create requests the operator sent to path.
func createsOf(path string) int64 {
	if n, ok := operatorCreates.Load(path); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// storeBeforeNameRules creates obj as the API server accepted it before the
// CRD's rules on metadata.name: with those rules taken out for the moment.
// probe is an object the rules refuse, to tell when they are back.
func storeBeforeNameRules(t *testing.T, crd string, obj, probe client.Object) {
	t.Helper()
	err := crdtest.StoreWithoutRootRules(testCtx, k8sClient, crd, "metadata.name",
		func() error { return k8sClient.Create(testCtx, obj.DeepCopyObject().(client.Object)) },
		func() error {
			err := k8sClient.Create(testCtx, probe.DeepCopyObject().(client.Object), client.DryRunAll)
			if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "metadata.name must") {
				return nil
			}
			return fmt.Errorf("the name rules do not refuse %s yet: %v", probe.GetName(), err)
		})
	if err != nil {
		t.Fatal(err)
	}
}

// queueWorkerStatusWrites is the number of status writes the operator sent
// for one QueueWorker.
func queueWorkerStatusWrites(ns, name string) int64 {
	n, ok := statusPatchCounts.Load("/apis/queueworker.io/v1alpha1/namespaces/" + ns + "/queueworkers/" + name + "/status")
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(eventuallyTimeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, eventuallyTimeout, err)
}

// createNamespace gives each test its own namespace.
func createNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.GenerateName = "qw-test-"
	if err := k8sClient.Create(testCtx, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// eventsFor lists the events whose regarding object is the named object.
func eventsFor(t *testing.T, namespace, name string) []eventsv1.Event {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := k8sClient.List(testCtx, list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// scaleTo scales a QueueWorker through its /scale subresource, as
// `kubectl scale` does.
func scaleTo(t *testing.T, qw *queueworkerv1alpha1.QueueWorker, replicas int32) {
	t.Helper()
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
	if err := k8sClient.SubResource("scale").Update(testCtx, qw, client.WithSubResourceBody(scale)); err != nil {
		t.Fatalf("scaling to %d: %v", replicas, err)
	}
}

func inNamespace(ns string) client.InNamespace { return client.InNamespace(ns) }
