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

// Command benchscale measures one operator process with many QueueWorkers
// on the local control plane of hack/local-cluster.sh (see
// docs/performance.md, "Many QueueWorkers on one operator"):
//
//	benchscale [-n 200] [-bursts 5] [-idle 1m] [-out FILE.md] [-reuse-cluster] [-keep-cluster]
//
// `make bench-scale N=...` runs it. It prints a markdown table and writes
// it to -out when set.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/queueworker/queueworker-operator/hack/benchscale"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

func run() error {
	cache, err := os.UserCacheDir()
	if err != nil {
		return err
	}
	var (
		cfg      benchscale.Config
		out, dir string
	)
	cfg.Cluster.Dir = filepath.Join(cache, "queueworker-operator", "bench-cluster")
	flag.IntVar(&cfg.N, "n", 200, "number of QueueWorkers")
	flag.IntVar(&cfg.CreateWorkers, "create-clients", 16, "parallel clients that create the QueueWorkers")
	flag.IntVar(&cfg.Bursts, "bursts", 5, "QueueWorkers that get a burst, one after the other, while the others idle")
	flag.IntVar(&cfg.BurstTasks, "burst-tasks", 5, "tasks in a burst (the QueueWorkers target 1 task per replica, at most 5)")
	flag.DurationVar(&cfg.Idle, "idle", time.Minute, "window over which the idle costs are measured")
	flag.DurationVar(&cfg.ScaleToZero, "scale-to-zero", 15*time.Second,
		"the QueueWorkers' scaleToZeroDelay and scale-down stabilization window")
	flag.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "bound of each wait (all decided, all at zero, one burst)")
	flag.BoolVar(&cfg.LeaderElect, "leader-elect", true, "run the operator with --leader-elect, as the chart does")
	flag.StringVar(&cfg.Namespace, "namespace", "bench-scale", "namespace of the QueueWorkers and the operator's lease")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the choice of burst targets")
	flag.StringVar(&cfg.Root, "root", ".", "the repository")
	flag.StringVar(&cfg.Cluster.Dir, "cluster-dir", cfg.Cluster.Dir, "state dir of the local cluster (QW_CLUSTER_DIR)")
	flag.IntVar(&cfg.Cluster.PortBase, "port-base", 18400, "QW_PORT_BASE of a new cluster state dir")
	flag.BoolVar(&cfg.Cluster.Reuse, "reuse-cluster", false, "use the running cluster of -cluster-dir instead of a fresh one")
	flag.BoolVar(&cfg.Keep, "keep-cluster", false, "leave the cluster running at the end")
	flag.Func("manager-arg", "one more flag for the manager, e.g. -manager-arg=--max-concurrent-reconciles=16 (repeatable)",
		func(v string) error { cfg.ManagerArgs = append(cfg.ManagerArgs, v); return nil })
	flag.Func("manager-env", "one more NAME=value of the manager's environment, e.g. -manager-env=GOMEMLIMIT=230MiB, the chart's limit (repeatable)",
		func(v string) error {
			if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
				return fmt.Errorf("%q is not NAME=value", v)
			}
			cfg.ManagerEnv = append(cfg.ManagerEnv, v)
			return nil
		})
	flag.BoolVar(&cfg.Profile, "profile", false,
		"write the manager's CPU profiles (start, idle, restart) and idle heap profile into -work-dir")
	flag.DurationVar(&cfg.ProfileFor, "profile-for", 20*time.Second, "length of each CPU profile")
	flag.StringVar(&out, "out", "", "write the markdown table to this file too")
	flag.StringVar(&dir, "work-dir", "", "where the manager binary and its log go (default: a new temporary dir)")
	flag.Parse()
	if cfg.N < 2 {
		return fmt.Errorf("-n %d: at least 2 QueueWorkers", cfg.N)
	}
	if cfg.Root, err = filepath.Abs(cfg.Root); err != nil {
		return err
	}
	cfg.Cluster.Root = cfg.Root
	// A fake node takes 110 pods: one per new QueueWorker, five per burst.
	cfg.Cluster.Nodes = (cfg.N+5*(cfg.Bursts+1))/100 + 1
	if dir == "" {
		if dir, err = os.MkdirTemp("", "benchscale-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg.OutDir = dir
	fmt.Fprintf(os.Stderr, "==> the manager's log: %s\n", filepath.Join(dir, "manager.log"))

	// The harness's watches log only their errors.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := benchscale.Run(ctx, cfg)
	if res == nil {
		return err
	}
	md := res.Markdown()
	fmt.Println(md)
	if out != "" {
		if werr := os.WriteFile(out, []byte(md), 0o644); werr != nil {
			return werr
		}
		fmt.Fprintf(os.Stderr, "==> wrote %s\n", out)
	}
	return err
}
