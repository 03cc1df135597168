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

// Command podrunner runs the pods of the project's own images and of the
// redis image that are bound to kwok's fake nodes as local processes, for the local control plane
// of hack/local-cluster.sh (see docs/local-cluster.md and
// hack/local-cluster/podrunner).
//
//	podrunner --kubeconfig FILE --state-dir DIR --manager-bin BIN --worker-bin BIN [--node-selector type=kwok]
//	          [--redis-server-bin /usr/bin/redis-server] [--service-loopback-net 127.96.0.0/16]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/queueworker/queueworker-operator/hack/local-cluster/podrunner"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "podrunner:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts                             podrunner.Options
		managerBin, workerBin, nodeLabel string
		probeAddr, redisBin, serviceNet  string
		dashboardBin                     string
	)
	flag.StringVar(&opts.StateDir, "state-dir", "", "directory for the processes' logs, working directories, tokens and pid files (required)")
	flag.StringVar(&managerBin, "manager-bin", "", "the binary that runs image "+podrunner.ManagerRepository+" (a build of cmd/manager)")
	flag.StringVar(&workerBin, "worker-bin", "", "the binary that runs image "+podrunner.WorkerRepository+" (a build of cmd/worker)")
	flag.StringVar(&dashboardBin, "dashboard-bin", "", "the binary that runs /dashboard of image "+podrunner.ManagerRepository+" (a build of cmd/dashboard); empty: such pods do not start")
	flag.StringVar(&redisBin, "redis-server-bin", "/usr/bin/redis-server",
		"the binary that runs image "+podrunner.RedisRepository+" (a Managed RedisConfig's server); empty: leave those pods to kwok")
	flag.StringVar(&serviceNet, "service-loopback-net", "",
		"a /16 of 127.0.0.0/8 where Services get loopback addresses and their names resolve (empty: Services are not served)")
	flag.StringVar(&nodeLabel, "node-selector", "type=kwok", "label selector of the nodes whose pods run here")
	flag.StringVar(&probeAddr, "health-probe-bind-address", "127.0.0.1:8089", "address of /healthz and /readyz")
	flag.DurationVar(&opts.RestartBackoff, "restart-backoff", podrunner.DefaultRestartBackoff,
		"wait before a process that exited starts again; doubles on each exit")
	flag.DurationVar(&opts.MaxRestartBackoff, "max-restart-backoff", podrunner.DefaultMaxRestartBackoff, "longest wait before a restart")
	flag.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", podrunner.DefaultShutdownTimeout,
		"longest grace period of the processes when the runner stops")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if opts.StateDir == "" || managerBin == "" || workerBin == "" {
		return fmt.Errorf("--state-dir, --manager-bin and --worker-bin are required")
	}
	for _, p := range []*string{&opts.StateDir, &managerBin, &workerBin, &dashboardBin} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	selector, err := labels.Parse(nodeLabel)
	if err != nil {
		return fmt.Errorf("--node-selector: %w", err)
	}
	opts.NodeSelector = selector
	opts.Images = podrunner.DefaultImages(managerBin, workerBin, dashboardBin)
	if redisBin != "" {
		opts.Images[podrunner.RedisRepository] = podrunner.RedisImage(redisBin)
	}
	if serviceNet != "" {
		ip, ipnet, err := net.ParseCIDR(serviceNet)
		if err != nil {
			return fmt.Errorf("--service-loopback-net: %w", err)
		}
		if ones, _ := ipnet.Mask.Size(); ones != 16 || !ip.IsLoopback() || ip.To4() == nil {
			return fmt.Errorf("--service-loopback-net %q: want a /16 of 127.0.0.0/8", serviceNet)
		}
		opts.ServiceLoopback = ipnet.IP
	}

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	shutdown := opts.ShutdownTimeout + 10*time.Second
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  probeAddr,
		Cache:                   podrunner.CacheOptions(selector),
		GracefulShutdownTimeout: &shutdown,
	})
	if err != nil {
		return err
	}
	if _, err := podrunner.New(mgr, opts); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
