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

// Command manager runs the queueworker-operator: the QueueWorker controller
// with its autoscaler and the RedisConfig controller, the metrics and health
// endpoints, with leader election.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/go-logr/logr"
	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/leaderelection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/controllers"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/scaling"
	// +kubebuilder:scaffold:imports
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(queueworkerv1alpha1.AddToScheme(scheme))
	// +kubebuilder:scaffold:scheme
}

// redisLogger sends go-redis's messages to the operator's log at V(1).
type redisLogger struct{ log logr.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.V(1).Info(fmt.Sprintf(format, v...))
}

// checkLeaderElection checks the leader election's timing as client-go
// will, so that a bad combination of flags is an error at the start rather
// than a manager that exits once it runs: lease duration > renew deadline >
// JitterFactor (1.2) × retry period > 0.
func checkLeaderElection(lease, renew, retry time.Duration) error {
	if retry <= 0 || lease <= renew || float64(renew) <= leaderelection.JitterFactor*float64(retry) {
		return fmt.Errorf("lease duration %v, renew deadline %v, retry period %v: want lease duration > renew "+
			"deadline > %v × retry period > 0", lease, renew, retry, leaderelection.JitterFactor)
	}
	return nil
}

// splitImages splits the --allowed-redis-images list; an empty list allows
// no image at all.
func splitImages(s string) []string {
	images := []string{}
	for image := range strings.SplitSeq(s, ",") {
		if image = strings.TrimSpace(image); image != "" {
			images = append(images, image)
		}
	}
	return images
}

func main() {
	var (
		metricsAddr, metricsCertPath, metricsCertName, metricsCertKey string
		probeAddr, watchNamespaces, leaderElectionNamespace           string
		enableLeaderElection, secureMetrics, enableHTTP2              bool
		secretResync                                                  time.Duration
		allowedImages                                                 string
		allowPasswordless                                             bool
		maxConcurrentReconciles, kubeAPIBurst                         int
		kubeAPIQPS                                                    float64
		pprofAddr                                                     string
		leaseDuration, renewDeadline, retryPeriod                     time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election, so that only one replica of the operator is active.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization. Use --metrics-secure=false for HTTP.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "",
		"The directory that contains the metrics server certificate; self-signed when empty.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Rapid Reset and Stream Cancellation CVEs).")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"),
		"Namespace of the leader-election Lease; defaults to $POD_NAMESPACE, else the namespace of the "+
			"in-cluster service account.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces to watch; all namespaces when empty.")
	flag.DurationVar(&secretResync, "secret-resync-period", controllers.DefaultSecretResyncPeriod,
		"How often the Secrets QueueWorkers and RedisConfigs use are read again, to notice a rotated password "+
			"or a Secret that no longer allows the use.")
	flag.StringVar(&allowedImages, "allowed-redis-images", strings.Join(controllers.DefaultAllowedImages, ","),
		"Comma-separated images a Managed RedisConfig may run (the Redis server and its exporter): a repository "+
			"(any tag or digest of it, e.g. redis), a repository with a tag or digest (that one only, e.g. redis:7.4), "+
			"a path ending in /* (every repository under it, e.g. registry.example.com/mirror/*) or * (any image). "+
			"References are compared normalized (redis is docker.io/library/redis). A RedisConfig with another image "+
			"stalls with the reason ImageNotAllowed.")
	flag.BoolVar(&allowPasswordless, "allow-passwordless-external-redis", false,
		"Let an External RedisConfig without spec.auth configure a Redis that needs no password. Off by default: "+
			"nothing would show that its author may change that server, which any pod of the operator can reach.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 8,
		"How many QueueWorkers (and, separately, RedisConfigs) are reconciled at once. A reconcile mostly waits for "+
			"the API server, so more than the number of cores helps an operator with many objects start quickly.")
	flag.Float64Var(&kubeAPIQPS, "kube-api-qps", 0,
		"Requests per second the operator's API client may send on average. 0 sets no client-side limit: the "+
			"API server's priority and fairness sets the pace (controller-runtime's default).")
	flag.IntVar(&kubeAPIBurst, "kube-api-burst", 0,
		"Requests the operator's API client may send at once above --kube-api-qps; twice --kube-api-qps when 0.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "",
		"The address the Go profiler (net/http/pprof) binds to, e.g. 127.0.0.1:6060; off when empty.")
	flag.DurationVar(&leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a standby waits, after the leader stopped renewing, before it takes over. A leader that exits "+
			"releases the lease at once; this is the wait after a crash.")
	flag.DurationVar(&renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leading; less than the lease duration.")
	flag.DurationVar(&retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often the leader renews, and a standby tries to take over.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	// GOMEMLIMIT, when set, is the user's choice; else 90% of the
	// container's memory limit keeps the heap's growth within it.
	if os.Getenv("GOMEMLIMIT") == "" {
		if limit := goMemoryLimit(cgroupMemoryLimitFiles, 0.9); limit > 0 {
			debug.SetMemoryLimit(limit)
			setupLog.Info("Set the Go memory limit to 90% of the container's", "bytes", limit)
		}
	}
	images := splitImages(allowedImages)
	if err := controllers.CheckImagePatterns(images); err != nil {
		setupLog.Error(err, "Invalid --allowed-redis-images")
		os.Exit(1)
	}
	// go-redis reports dial failures on its own logger; the autoscaler
	// already turns them into conditions and metrics, so they are detail.
	redis.SetLogger(redisLogger{log: ctrl.Log.WithName("redis")})

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsServerOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		// Only callers allowed to GET /metrics by RBAC (a TokenReview and a
		// SubjectAccessReview per request) may scrape.
		metricsServerOptions.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if metricsCertPath != "" {
		metricsServerOptions.CertDir = metricsCertPath
		metricsServerOptions.CertName = metricsCertName
		metricsServerOptions.KeyName = metricsCertKey
	}

	// Cache only the objects this operator manages, without what it never
	// reads (controllers.CacheByObject).
	cacheOpts := cache.Options{ByObject: controllers.CacheByObject()}
	if watchNamespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for ns := range strings.SplitSeq(watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				cacheOpts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}

	if maxConcurrentReconciles < 1 {
		setupLog.Error(fmt.Errorf("%d is less than 1", maxConcurrentReconciles), "Invalid --max-concurrent-reconciles")
		os.Exit(1)
	}
	if kubeAPIQPS < 0 || kubeAPIBurst < 0 {
		setupLog.Error(fmt.Errorf("qps %v and burst %d may not be negative", kubeAPIQPS, kubeAPIBurst),
			"Invalid --kube-api-qps or --kube-api-burst")
		os.Exit(1)
	}
	if err := checkLeaderElection(leaseDuration, renewDeadline, retryPeriod); err != nil {
		setupLog.Error(err, "Invalid leader election timing")
		os.Exit(1)
	}
	restConfig := ctrl.GetConfigOrDie()
	if kubeAPIQPS > 0 {
		restConfig.QPS = float32(kubeAPIQPS)
		restConfig.Burst = kubeAPIBurst
		if kubeAPIBurst == 0 {
			restConfig.Burst = int(2 * kubeAPIQPS)
		}
	}

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsServerOptions,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "queueworker-operator.queueworker.io",
		LeaderElectionNamespace: leaderElectionNamespace,
		// The process exits right after the manager stops, so releasing the
		// lease on the way out is safe and lets a new leader start at once.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
		PprofBindAddress:              pprofAddr,
		Cache:                         cacheOpts,
	})
	if err != nil {
		setupLog.Error(err, "Failed to start manager")
		os.Exit(1)
	}

	if err := (&controllers.QueueWorkerReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                mgr.GetEventRecorder("queueworker-operator"),
		SecretResyncPeriod:      secretResync,
		Autoscaler:              scaling.NewAutoscaler(queue.NewPool(nil)),
		MaxConcurrentReconciles: maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "queueworker")
		os.Exit(1)
	}
	if err := (&controllers.RedisConfigReconciler{
		Client:                    mgr.GetClient(),
		APIReader:                 mgr.GetAPIReader(),
		Recorder:                  mgr.GetEventRecorder("queueworker-operator"),
		AllowedImages:             images,
		AllowPasswordlessExternal: allowPasswordless,
		SecretResyncPeriod:        secretResync,
		MaxConcurrentReconciles:   maxConcurrentReconciles,
	}).SetupWithManager(mgr); err != nil {
		setupLog.Error(err, "Failed to create controller", "controller", "redisconfig")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Failed to run manager")
		os.Exit(1)
	}
}
