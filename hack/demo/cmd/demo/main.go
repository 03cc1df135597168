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

// Command demo enqueues a burst of demo tasks for a QueueWorker and shows,
// live, the queues read from Redis next to the replicas the operator runs,
// then sums up the run from the ledger the tasks write. hack/demo.sh runs
// it as the last step of `make demo`.
//
//	demo [--kubeconfig FILE] [--namespace default] [--queueworker email]
//	     [--redis-addr 127.0.0.1:PORT] [--count 1500] [--duration 200ms]
//	     [--plot run.svg]
//
// It finds Redis as the operator does (through the QueueWorker's
// RedisConfig, or spec.redis.addr), reads the password from the Secret
// named there, and reads the queues with the operator's reader;
// --redis-addr replaces only the address, for a port-forward to a Redis
// whose address resolves only inside the cluster. With --plot it draws the
// run (backlog and latency of each queue, replicas desired and ready) to
// an SVG or PNG file at the end. It exits 0 when every
// task of the burst completed exactly once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	// The kubeconfig of a cloud cluster may name an auth provider (gcp,
	// azure, oidc); these register them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/hack/demo/demoview"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/redisclient"
	"github.com/queueworker/queueworker-operator/test/runplot"
)

type options struct {
	kubeconfig  string
	namespace   string
	queueWorker string
	redisAddr   string
	count       int
	duration    time.Duration
	parallel    int
	interval    time.Duration
	every       time.Duration
	timeout     time.Duration
	settle      time.Duration
	output      string
	plot        string
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; default $KUBECONFIG, then ~/.kube/config")
	flag.StringVar(&o.namespace, "namespace", "default", "namespace of the QueueWorker")
	flag.StringVar(&o.queueWorker, "queueworker", "email", "QueueWorker to load and watch")
	flag.StringVar(&o.redisAddr, "redis-addr", "", "host:port to reach the QueueWorker's Redis at, such as a port-forward; default its own address")
	flag.IntVar(&o.count, "count", 1500, "demo:sleep tasks in the burst, spread evenly over the QueueWorker's queues")
	flag.DurationVar(&o.duration, "duration", 200*time.Millisecond, "sleep of each task")
	flag.IntVar(&o.parallel, "parallel", 8, "enqueue calls in flight")
	flag.DurationVar(&o.interval, "interval", 250*time.Millisecond, "time between two samples")
	flag.DurationVar(&o.every, "print-every", time.Second, "time between two lines when the output is not a terminal")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up when the burst takes longer")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long the queues must stay empty before missing tasks count as lost")
	flag.StringVar(&o.output, "output", "auto", "table (redrawn in place), lines (one per --print-every) or auto (table on a terminal)")
	flag.StringVar(&o.plot, "plot", "", "write a chart of the run (backlog, latency, replicas over time) to this .svg or .png file at the end")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}

	// go-redis reports failed dials on its own logger, which would tear the
	// table apart; the view shows every read error in its lines instead.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out *os.File) (bool, error) {
	if o.count < 1 || o.parallel < 1 || o.interval <= 0 || o.duration < 0 {
		return false, errors.New("--count and --parallel must be at least 1, --interval above 0, --duration not negative")
	}
	if o.plot != "" {
		if err := runplot.CheckFile(o.plot); err != nil {
			return false, fmt.Errorf("--plot: %w", err)
		}
	}
	table, err := useTable(o.output, out)
	if err != nil {
		return false, err
	}
	kube, err := newKubeClient(o.kubeconfig)
	if err != nil {
		return false, err
	}
	key := types.NamespacedName{Namespace: o.namespace, Name: o.queueWorker}
	qw := &queueworkerv1alpha1.QueueWorker{}
	if err := kube.Get(ctx, key, qw); err != nil {
		return false, fmt.Errorf("reading QueueWorker %s/%s: %w", key.Namespace, key.Name, err)
	}
	conn, err := demoview.ResolveRedis(ctx, kube, qw)
	if err != nil {
		return false, err
	}
	ep := conn.Endpoint
	if o.redisAddr != "" {
		ep.Addr = o.redisAddr
	}
	addr := ep.Addr
	// The queues and the ledger are read with the operator's client, as
	// the operator reads them; the burst is written through a client of
	// its own, sized for --parallel, so enqueueing never holds up a read.
	rdb, err := queue.NewUniversalClient(ep, conn.Credentials)
	if err != nil {
		return false, fmt.Errorf("building the Redis client of %s: %w", conn.From, err)
	}
	defer func() { _ = rdb.Close() }()
	writer, err := redisclient.New(redisclient.Options{
		Mode: contract.ModeStandalone, Addr: addr, Username: ep.Username, Password: conn.Credentials.Password, DB: int(ep.DB),
		PoolSize: o.parallel + 4, MaxRetries: 1, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	if err != nil {
		return false, fmt.Errorf("building the Redis client of %s: %w", conn.From, err)
	}
	defer func() { _ = writer.Close() }()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		via := ""
		if o.redisAddr != "" {
			via = " (--redis-addr; " + conn.From + " says " + conn.Endpoint.Addr + ")"
		}
		return false, fmt.Errorf("reaching Redis of %s at %s%s: %w", conn.From, addr, via, err)
	}

	queues := demoview.QueueNames(qw)
	burst := demoview.Burst{Queues: queues, Count: o.count, Duration: o.duration, Parallel: o.parallel}
	_, _ = fmt.Fprintf(out, "Enqueueing %d demo:sleep tasks of %s over the queues %s of QueueWorker %s/%s;\n",
		o.count, o.duration, strings.Join(queues, ", "), key.Namespace, key.Name)
	_, _ = fmt.Fprintf(out, "reading the queues from Redis at %s (%s) and the replicas from the API server.\n\n", addr, conn.From)

	ids := &demoview.IDs{}
	var display demoview.Display = demoview.NewLines(out, o.every)
	if table {
		display = demoview.NewTable(out, fmt.Sprintf("QueueWorker %s/%s", key.Namespace, key.Name))
	}
	recorder := &demoview.Recorder{Display: display}
	// Once every task is in the ledger, the last ones leave the active lists
	// within moments; tasks of others may keep the queues busy for longer.
	tracker := demoview.NewTracker(o.count, o.settle, 3*time.Second)
	summary, runErr := demoview.Run{
		Source: &demoview.LiveSource{
			Redis: rdb, Kube: kube, Target: key, Queues: queues, IDs: ids,
			Timeout: 5 * time.Second, Now: time.Now,
		},
		Display: recorder,
		Tracker: tracker,
		Enqueue: func(ctx context.Context) error {
			return burst.Enqueue(ctx, asynq.NewClientFromRedisClient(writer), ids)
		},
		Interval:  o.interval,
		Timeout:   o.timeout,
		FailAfter: 30 * time.Second,
	}.Execute(ctx)
	_, _ = fmt.Fprintln(out)
	summary.Write(out, burst)
	if o.plot != "" {
		title := fmt.Sprintf("%d demo:sleep tasks of %s, QueueWorker %s/%s", o.count, o.duration, key.Namespace, key.Name)
		if summary.Outcome != demoview.Completed {
			title += fmt.Sprintf(" (%s)", summary.Outcome)
		}
		if err := demoview.Chart(title, recorder.Samples()).WriteFile(o.plot); err != nil {
			return false, errors.Join(runErr, fmt.Errorf("writing the chart of the run: %w", err))
		}
		_, _ = fmt.Fprintf(out, "\nChart of the run: %s\n", o.plot)
	}
	return summary.OK(), runErr
}

// quietLogger drops go-redis's log messages.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// useTable decides between the table redrawn in place and plain lines.
func useTable(output string, out *os.File) (bool, error) {
	switch output {
	case "table":
		return true, nil
	case "lines":
		return false, nil
	case "auto":
		return isTerminal(out) && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("--output %q: want auto, table or lines", output)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newKubeClient loads the kubeconfig as kubectl does: the file given, else
// $KUBECONFIG, else ~/.kube/config.
func newKubeClient(path string) (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100 // two GETs per sample, four samples a second
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := queueworkerv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the API client: %w", err)
	}
	return c, nil
}
