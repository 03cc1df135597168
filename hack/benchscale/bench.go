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

package benchscale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// Config is one run of the benchmark.
type Config struct {
	// Root is the repository.
	Root string
	// Cluster is the local control plane; Keep leaves it running.
	Cluster Cluster
	Keep    bool
	// N QueueWorkers are created by CreateWorkers parallel clients.
	N             int
	CreateWorkers int
	// Bursts is the number of QueueWorkers that get a burst of BurstTasks
	// tasks, one after the other, while the others idle.
	Bursts     int
	BurstTasks int
	// Idle is the window over which the idle costs are measured.
	Idle time.Duration
	// ScaleToZero is the QueueWorkers' scaleToZeroDelay and scale-down
	// stabilization window, so they reach zero replicas before the idle
	// window.
	ScaleToZero time.Duration
	// Timeout bounds each wait: all decided, all at zero, one burst.
	Timeout time.Duration
	// LeaderElect runs the operator with --leader-elect, as the chart does.
	LeaderElect bool
	// Namespace holds the QueueWorkers and the operator's lease.
	Namespace string
	// OutDir receives the operator's log.
	OutDir string
	// Seed picks the burst targets.
	Seed uint64
	// ManagerArgs are more flags for the manager, after the harness's own.
	ManagerArgs []string
	// ManagerEnv are more NAME=value variables of the manager's
	// environment, e.g. the GOMEMLIMIT it computes in a container.
	ManagerEnv []string
	// Profile writes the manager's CPU profiles of the first start, of the
	// idle window and of the restart (cpu-start.pprof, cpu-idle.pprof,
	// cpu-restart.pprof, each over ProfileFor at most) and its heap at the
	// end of the idle window (heap-idle.pprof) into OutDir, through
	// --pprof-bind-address. Read them with `go tool pprof`.
	Profile    bool
	ProfileFor time.Duration
}

// Result is what a run measured, in the order of the report.
type Result struct {
	Config  Config
	Started time.Time
	Machine string

	Create       time.Duration
	CreateP50    time.Duration
	CreateP99    time.Duration
	CreateErrors int

	Start StartResult

	// SettleAfter: every Deployment at zero replicas and no pods, every
	// QueueWorker Ready (the Deployment controller has caught up), then the
	// operator's work queue empty for settleQuiet.
	SettleAfter time.Duration
	SettledAt0  int

	Idle IdleResult

	Bursts      []time.Duration
	BurstMissed int

	Restart StartResult
	// RestartBurst is a burst enqueued the instant the new process starts.
	RestartBurst       time.Duration
	RestartBurstMissed bool
}

// StartResult times an operator start.
type StartResult struct {
	// Leader: the lease changed hands (zero without leader election).
	Leader time.Duration
	// FirstStatus, StatusP50, StatusP99, AllStatus: when the QueueWorkers'
	// status showed their first read (RedisReachable no longer Unknown);
	// StatusDecided counts them. Not measured on a restart, where the
	// status already shows a read and an unchanged reading writes nothing.
	FirstStatus, StatusP50, StatusP99, AllStatus time.Duration
	StatusDecided                                int
	// AllInOperator: every QueueWorker has its queueworker_desired_replicas
	// series, that is the autoscaler decided for it.
	AllInOperator time.Duration
	// CPUSeconds the operator used until AllStatus (or AllInOperator).
	CPUSeconds float64
	// OthersCPUSeconds is what the local cluster's processes and
	// redis-server used meanwhile, by command name (kube-controller is
	// kube-controller-manager, cut to 15 characters by the kernel), and
	// MachineCPUSeconds what the whole machine did.
	OthersCPUSeconds  map[string]float64
	MachineCPUSeconds float64
	// RSSKiB after it; HWMKiB the peak.
	RSSKiB, HWMKiB int64
	// Writes the operator sent until then, by method.
	Writes map[string]float64
	// Reconciles of QueueWorkers until then, and the time they took in
	// all: the controller runs one at a time (controller-runtime's default
	// of MaxConcurrentReconciles).
	Reconciles, ReconcileSeconds float64
	// Seen are the changes the watches saw until then: a write that
	// changes nothing shows among Writes but not here.
	Seen Counts
}

// IdleResult is the cost of N QueueWorkers that idle at zero replicas.
type IdleResult struct {
	Seconds        float64
	CPUPercent     float64
	RSSKiB, HWMKiB int64
	// Writes per minute by method, from the operator's
	// rest_client_requests_total.
	WritesPerMin map[string]float64
	// Changes per minute the watches saw.
	Seen Counts
	// RedisClients: connections named as the operator names them.
	RedisClients int
	// Redis: commands per second, reads (ticks) per second, Redis time per
	// tick from INFO commandstats, Redis main-thread CPU per tick, the
	// operator's own time per read.
	RedisCmdPerSec, TicksPerSec, UsecPerTick, CPUUsecPerTick, ReadMsPerTick float64
}

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	res := &Result{Config: cfg, Started: time.Now(), Machine: machine()}
	logf("bringing up the local cluster in %s", cfg.Cluster.Dir)
	kubeconfig, err := cfg.Cluster.Up(ctx)
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer func() {
			if err := cfg.Cluster.Down(context.WithoutCancel(ctx)); err != nil {
				logf("stopping the cluster: %v", err)
			}
		}()
	} else {
		defer logf("the cluster keeps running: export KUBECONFIG=%s; stop it with QW_CLUSTER_DIR=%s hack/local-cluster.sh down",
			kubeconfig, cfg.Cluster.Dir)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// No client-side limit: the API server's priority and fairness sets
	// the pace, as it does for the operator (controller-runtime's default).
	restCfg.QPS, restCfg.Burst = -1, -1
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := queueworkerv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}

	logf("installing the CRDs")
	if _, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(cfg.Root, "config", "crd", "bases")}, ErrorIfPathMissing: true,
	}); err != nil {
		return nil, fmt.Errorf("installing the CRDs: %w", err)
	}
	if err := freshNamespace(ctx, c, cfg.Namespace, cfg.Timeout); err != nil {
		return nil, err
	}

	srv, err := redistest.Start()
	if err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	defer func() { _ = srv.Close() }()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { _ = rdb.Close() }()
	logf("redis-server on %s", srv.Addr)

	bin, err := BuildManager(ctx, cfg.Root, cfg.OutDir)
	if err != nil {
		return nil, err
	}
	op := &Operator{Bin: bin, Kubeconfig: kubeconfig, Namespace: cfg.Namespace,
		LogPath: filepath.Join(cfg.OutDir, "manager.log"), LeaderElect: cfg.LeaderElect,
		ExtraArgs: cfg.ManagerArgs, ExtraEnv: cfg.ManagerEnv, Pprof: cfg.Profile}
	defer op.Stop(10 * time.Second)

	tr, err := StartTracker(ctx, restCfg, scheme, cfg.Namespace)
	if err != nil {
		return nil, err
	}

	// 1. Create, with no operator running: the control plane's share.
	logf("creating %d QueueWorkers with %d clients", cfg.N, cfg.CreateWorkers)
	if err := createAll(ctx, c, cfg, srv.Addr, res); err != nil {
		return nil, err
	}
	logf("created in %s (p50 %s, p99 %s per create, %d errors)", res.Create.Round(time.Millisecond),
		res.CreateP50.Round(time.Millisecond), res.CreateP99.Round(time.Millisecond), res.CreateErrors)

	// 2. Start the operator: its share.
	logf("starting the operator")
	res.Start, err = measureStart(ctx, op, tr, cfg, true, "cpu-start.pprof")
	if err != nil {
		return res, err
	}
	logf("all decided: in the operator after %s, in status after %s", res.Start.AllInOperator.Round(time.Millisecond),
		res.Start.AllStatus.Round(time.Millisecond))

	// 3. Wait for every Deployment to reach zero replicas, then idle.
	logf("waiting for every Deployment at zero replicas and every QueueWorker Ready")
	t0 := time.Now()
	err = poll(ctx, cfg.Timeout+cfg.ScaleToZero, func() (bool, error) {
		at0, all := tr.DeploymentsAt(0)
		return at0 == cfg.N && all == cfg.N && tr.ReadyCount() == cfg.N, nil
	})
	res.SettleAfter = time.Since(t0)
	res.SettledAt0, _ = tr.DeploymentsAt(0)
	if err != nil {
		logf("only %d of %d Deployments at zero and %d QueueWorkers Ready after %s; measuring the idle window anyway",
			res.SettledAt0, cfg.N, tr.ReadyCount(), res.SettleAfter.Round(time.Second))
	}
	// The pods' deletion still moves Deployment status, which the operator
	// reconciles one QueueWorker at a time; the idle window starts once its
	// work queue has stayed empty for settleQuiet.
	var empty time.Time
	err = poll(ctx, cfg.Timeout, func() (bool, error) {
		text, err := op.Metrics(ctx)
		if err != nil {
			return false, err
		}
		if workQueueDepth(text) > 0 {
			empty = time.Time{}
			return false, nil
		}
		if empty.IsZero() {
			empty = time.Now()
		}
		return time.Since(empty) >= settleQuiet, nil
	})
	res.SettleAfter = time.Since(t0)
	if err != nil {
		return res, fmt.Errorf("waiting for the operator's work queue to stay empty: %w", err)
	}
	logf("idle window of %s", cfg.Idle)
	if res.Idle, err = measureIdle(ctx, op, tr, rdb, cfg); err != nil {
		return res, err
	}

	// 4. Bursts on random QueueWorkers while the others idle.
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	order := rng.Perm(cfg.N)
	aq := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
	defer func() { _ = aq.Close() }()
	for i := range min(cfg.Bursts, cfg.N-1) {
		d, ok, err := burst(ctx, aq, tr, cfg, order[i], time.Now())
		if err != nil {
			return res, err
		}
		if !ok {
			res.BurstMissed++
			logf("burst %d on %s: no scale-up within %s", i+1, name(order[i]), cfg.Timeout)
			continue
		}
		res.Bursts = append(res.Bursts, d)
		logf("burst %d on %s: scaled up after %s", i+1, name(order[i]), d.Round(time.Millisecond))
		sleep(ctx, time.Second)
	}

	// 5. A crash: SIGKILL, start again at once, and a burst right then.
	logf("SIGKILL the operator and start it again")
	if err := op.Kill(); err != nil {
		return res, err
	}
	// The burst goes in while no operator runs; it is timed from then.
	target := order[min(cfg.Bursts, cfg.N-1)]
	type burstResult struct {
		d   time.Duration
		ok  bool
		err error
	}
	burstDone := make(chan burstResult, 1)
	go func() {
		d, ok, err := burst(ctx, aq, tr, cfg, target, time.Now())
		burstDone <- burstResult{d, ok, err}
	}()
	restart, err := measureStart(ctx, op, tr, cfg, false, "cpu-restart.pprof")
	res.Restart = restart
	if err != nil {
		return res, err
	}
	b := <-burstDone
	if b.err != nil {
		return res, b.err
	}
	res.RestartBurst, res.RestartBurstMissed = b.d, !b.ok
	d := b.d
	logf("after the restart: all decided in the operator after %s, burst on %s scaled up after %s",
		restart.AllInOperator.Round(time.Millisecond), name(target), d.Round(time.Millisecond))
	return res, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func machine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(load))
	if len(fields) > 3 {
		fields = fields[:3]
	}
	return fmt.Sprintf("%d CPUs, %s, load average at start %s", runtime.NumCPU(), runtime.Version(), strings.Join(fields, " "))
}

func name(i int) string    { return fmt.Sprintf("qw-%05d", i) }
func queueOf(i int) string { return fmt.Sprintf("bench-%05d", i) }

// freshNamespace deletes the namespace of an earlier run (QueueWorkers
// have no finalizers; the garbage collector takes their Deployments) and
// creates it again.
func freshNamespace(ctx context.Context, c client.Client, ns string, timeout time.Duration) error {
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if err := c.Delete(ctx, obj); err == nil {
		logf("deleting namespace %s of an earlier run", ns)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	err := poll(ctx, timeout, func() (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), &corev1.Namespace{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	if err != nil {
		return fmt.Errorf("waiting for namespace %s to go: %w", ns, err)
	}
	return c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
}

// newQueueWorker is QueueWorker i: autoscaled 0..5 on its own queue, with
// a worker image no pod runs (kwok fakes the pods), scaling to zero after
// ScaleToZero of idling.
func newQueueWorker(cfg Config, i int, addr string) *queueworkerv1alpha1.QueueWorker {
	window := &metav1.Duration{Duration: cfg.ScaleToZero}
	return &queueworkerv1alpha1.QueueWorker{
		ObjectMeta: metav1.ObjectMeta{Name: name(i), Namespace: cfg.Namespace},
		Spec: queueworkerv1alpha1.QueueWorkerSpec{
			Queues: []queueworkerv1alpha1.Queue{{Name: queueOf(i), Priority: 1}},
			Redis:  queueworkerv1alpha1.RedisConnection{Addr: addr},
			Autoscaling: &queueworkerv1alpha1.Autoscaling{
				MinReplicas:             ptr.To[int32](0),
				MaxReplicas:             5,
				TargetBacklogPerReplica: ptr.To[int32](1),
				ScaleToZeroDelay:        window,
				ScaleDown:               &queueworkerv1alpha1.ScaleDownRules{ScalingRules: queueworkerv1alpha1.ScalingRules{StabilizationWindow: window}},
			},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  "worker",
				Image: "registry.invalid/benchscale-worker:none",
			}}}},
		},
	}
}

func createAll(ctx context.Context, c client.Client, cfg Config, addr string, res *Result) error {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lats     = make([]time.Duration, 0, cfg.N)
		errCount int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range cfg.CreateWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.N || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := c.Create(ctx, newQueueWorker(cfg, i, addr))
				d := time.Since(t)
				mu.Lock()
				lats = append(lats, d)
				if err != nil {
					errCount++
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Create = time.Since(start)
	res.CreateP50, res.CreateP99 = Percentile(lats, 50), Percentile(lats, 99)
	res.CreateErrors = errCount
	if errCount > 0 {
		return fmt.Errorf("%d of %d creates failed, the first with: %w", errCount, cfg.N, firstErr)
	}
	return ctx.Err()
}

// measureStart starts the operator and waits until every QueueWorker is
// decided: in its status when status is set (a first start), else in the
// operator's metrics.
func measureStart(ctx context.Context, op *Operator, tr *Tracker, cfg Config, status bool, profile string) (StartResult, error) {
	var r StartResult
	holder, _ := tr.Holder()
	before := tr.DecidedTimes()
	c0 := tr.Counts()
	others0, machine0 := cpuByCommand(controlPlane...), machineCPUTicks()
	t0 := time.Now()
	if err := op.Start(); err != nil {
		return r, err
	}
	if cfg.Profile {
		op.Profile(ctx, "profile", cfg.ProfileFor, filepath.Join(cfg.OutDir, profile))
	}
	ps0, err := ReadProc(op.Pid())
	if err != nil {
		return r, err
	}
	var scraped time.Time
	err = poll(ctx, cfg.Timeout, func() (bool, error) {
		if op.Exited() {
			return false, fmt.Errorf("the operator exited; see %s", op.LogPath)
		}
		if h, at := tr.Holder(); cfg.LeaderElect && r.Leader == 0 && h != holder && h != "" {
			r.Leader = at.Sub(t0)
		}
		if r.AllInOperator == 0 && time.Since(scraped) >= scrapeEvery {
			scraped = time.Now()
			if text, err := op.Metrics(ctx); err == nil && CountSeries(text, "queueworker_desired_replicas") >= cfg.N {
				r.AllInOperator = time.Since(t0)
			}
		}
		done := r.AllInOperator > 0
		if status {
			done = done && len(tr.DecidedTimes())-len(before) >= cfg.N
		}
		return done, nil
	})
	c1 := tr.Counts()
	r.Seen = Counts{QueueWorkers: c1.QueueWorkers - c0.QueueWorkers, Deployments: c1.Deployments - c0.Deployments,
		Events: c1.Events - c0.Events, Lease: c1.Lease - c0.Lease}
	ps1, perr := ReadProc(op.Pid())
	if perr == nil {
		r.CPUSeconds = float64(ps1.CPUTicks-ps0.CPUTicks) / clockTicks
		r.MachineCPUSeconds = float64(machineCPUTicks()-machine0) / clockTicks
		r.OthersCPUSeconds = map[string]float64{}
		for name, ticks := range cpuByCommand(controlPlane...) {
			r.OthersCPUSeconds[name] = float64(ticks-others0[name]) / clockTicks
		}
		r.RSSKiB, r.HWMKiB = ps1.RSSKiB, ps1.HWMKiB
	}
	if text, merr := op.Metrics(ctx); merr == nil {
		r.Writes = writesByMethod(text)
		r.Reconciles, r.ReconcileSeconds = reconciles(text)
	}
	if status {
		var ds []time.Duration
		for name, at := range tr.DecidedTimes() {
			if _, old := before[name]; !old {
				ds = append(ds, at.Sub(t0))
			}
		}
		r.StatusDecided = len(ds)
		if len(ds) > 0 {
			r.FirstStatus, r.StatusP50, r.StatusP99, r.AllStatus = Percentile(ds, 0), Percentile(ds, 50),
				Percentile(ds, 99), Percentile(ds, 100)
		}
	}
	if err != nil {
		return r, fmt.Errorf("waiting for every QueueWorker to be decided: %w", err)
	}
	return r, nil
}

// settleQuiet is how long the operator's work queue stays empty before the
// idle window.
const settleQuiet = 5 * time.Second

// scrapeEvery spaces the scrapes of the operator's metrics while it
// starts: with thousands of QueueWorkers a scrape is not free.
const scrapeEvery = 500 * time.Millisecond

// writesByMethod reads the operator's writes to the API server by method.
func writesByMethod(metrics string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		out[m] = SumSamples(metrics, "rest_client_requests_total", func(l map[string]string) bool { return l["method"] == m })
	}
	return out
}

// redisSample is what one INFO tells.
type redisSample struct {
	commands int64
	usec     int64
	cpu      float64
}

func readRedis(ctx context.Context, rdb *redis.Client) (redisSample, error) {
	info, err := rdb.Info(ctx, "stats", "cpu", "commandstats").Result()
	if err != nil {
		return redisSample{}, err
	}
	var s redisSample
	s.commands, _ = InfoField(info, "total_commands_processed")
	s.usec = CommandStatsUsec(info)
	user, _ := InfoSeconds(info, "used_cpu_user_main_thread")
	sys, _ := InfoSeconds(info, "used_cpu_sys_main_thread")
	s.cpu = user + sys
	return s, nil
}

// reconciles returns the count and total time of the QueueWorker
// controller's reconciles.
func reconciles(metrics string) (count, seconds float64) {
	qw := func(l map[string]string) bool { return l["controller"] == controllerName }
	return SumSamples(metrics, "controller_runtime_reconcile_time_seconds_count", qw),
		SumSamples(metrics, "controller_runtime_reconcile_time_seconds_sum", qw)
}

// controllerName labels the QueueWorker controller's metrics.
const controllerName = "queueworker"

// workQueueDepth is the number of QueueWorkers waiting for a reconcile.
func workQueueDepth(metrics string) float64 {
	return SumSamples(metrics, "workqueue_depth", func(l map[string]string) bool {
		return l["name"] == controllerName || l["controller"] == controllerName
	})
}

// readTicks returns the count and sum of the operator's reads of Redis.
func readTicks(metrics string) (count, seconds float64) {
	return SumSamples(metrics, "queueworker_redis_read_duration_seconds_count", nil),
		SumSamples(metrics, "queueworker_redis_read_duration_seconds_sum", nil)
}

func measureIdle(ctx context.Context, op *Operator, tr *Tracker, rdb *redis.Client, cfg Config) (IdleResult, error) {
	var r IdleResult
	window := cfg.Idle
	if cfg.Profile {
		op.Profile(ctx, "profile", min(cfg.ProfileFor, window), filepath.Join(cfg.OutDir, "cpu-idle.pprof"))
		defer op.Profile(ctx, "heap", 0, filepath.Join(cfg.OutDir, "heap-idle.pprof"))
	}
	m0, err := op.Metrics(ctx)
	if err != nil {
		return r, err
	}
	p0, err := ReadProc(op.Pid())
	if err != nil {
		return r, err
	}
	rs0, err := readRedis(ctx, rdb)
	if err != nil {
		return r, err
	}
	c0 := tr.Counts()
	t0 := time.Now()

	sleep(ctx, window/2)
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return r, err
	}
	r.RedisClients = CountClients(list, queue.ClientName)
	sleep(ctx, window-window/2)
	if err := ctx.Err(); err != nil {
		return r, err
	}

	rs1, err := readRedis(ctx, rdb)
	if err != nil {
		return r, err
	}
	secs := time.Since(t0).Seconds()
	p1, err := ReadProc(op.Pid())
	if err != nil {
		return r, err
	}
	m1, err := op.Metrics(ctx)
	if err != nil {
		return r, err
	}
	c1 := tr.Counts()

	r.Seconds = secs
	r.CPUPercent = CPUPercent(p0, p1, secs)
	r.RSSKiB, r.HWMKiB = p1.RSSKiB, p1.HWMKiB
	w0, w1 := writesByMethod(m0), writesByMethod(m1)
	r.WritesPerMin = map[string]float64{}
	for m := range w1 {
		r.WritesPerMin[m] = (w1[m] - w0[m]) / secs * 60
	}
	perMin := func(a, b int) int { return int(float64(b-a)/secs*60 + 0.5) }
	r.Seen = Counts{
		QueueWorkers: perMin(c0.QueueWorkers, c1.QueueWorkers), Deployments: perMin(c0.Deployments, c1.Deployments),
		Events: perMin(c0.Events, c1.Events), Lease: perMin(c0.Lease, c1.Lease),
	}
	n0, s0 := readTicks(m0)
	n1, s1 := readTicks(m1)
	ticks := n1 - n0
	r.RedisCmdPerSec = float64(rs1.commands-rs0.commands) / secs
	r.TicksPerSec = ticks / secs
	if ticks > 0 {
		r.UsecPerTick = float64(rs1.usec-rs0.usec) / ticks
		r.CPUUsecPerTick = (rs1.cpu - rs0.cpu) * 1e6 / ticks
		r.ReadMsPerTick = (s1 - s0) * 1e3 / ticks
	}
	return r, nil
}

// burst enqueues BurstTasks tasks into QueueWorker i's queue at t0 and
// waits until its Deployment's spec.replicas rises.
func burst(ctx context.Context, aq *asynq.Client, tr *Tracker, cfg Config, i int, t0 time.Time) (time.Duration, bool, error) {
	from, _ := tr.Replicas(name(i))
	for range cfg.BurstTasks {
		if _, err := aq.EnqueueContext(ctx, asynq.NewTask("bench", nil), asynq.Queue(queueOf(i))); err != nil {
			return 0, false, fmt.Errorf("enqueueing into %s: %w", queueOf(i), err)
		}
	}
	var rose time.Time
	err := poll(ctx, cfg.Timeout, func() (bool, error) {
		var ok bool
		rose, ok = tr.RoseAfter(name(i), from, t0)
		return ok, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		return 0, false, nil
	}
	return rose.Sub(t0), true, nil
}

// poll checks cond every 100ms until it holds, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// sortedKeys lists a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
