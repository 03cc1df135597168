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

// Package podrunner runs the pods of this project's own images, and of the
// Redis image a Managed RedisConfig uses, as local processes, on a control
// plane whose nodes are kwok's fakes (hack/local-cluster.sh). It plays the
// kubelet for those pods: it resolves their environment, materialises their
// volumes as directories and rewrites the mount paths they name, gives a
// process a kubeconfig for its pod's service account, moves its listen
// addresses to free loopback ports, restarts it by the restart policy,
// probes it, reports its state in the pod status, and stops it within the
// grace period when the pod is deleted. It also provisions a directory for
// every claim, and serves the Services of its pods on loopback addresses
// under their names. Pods of other images are left to kwok. There is no
// isolation: a process sees the host's file system and network.
package podrunner

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// LocalIP is where the processes listen, and what they are told their pod
// and host IPs are.
const LocalIP = "127.0.0.1"

// Event reasons, the kubelet's.
const (
	ReasonStarted   = "Started"
	ReasonKilling   = "Killing"
	ReasonBackOff   = "BackOff"
	ReasonFailed    = "Failed"
	ReasonUnhealthy = "Unhealthy"
)

// Defaults of Options.
const (
	DefaultRestartBackoff    = time.Second
	DefaultMaxRestartBackoff = 30 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	// backoffReset is how long a process must run for its next restart to
	// wait only the initial backoff again.
	backoffReset = time.Minute
	// nodeNameField indexes pods by node.
	nodeNameField = "spec.nodeName"
)

// Options configure a Runner.
type Options struct {
	// Images are the images the runner runs; pods of other images are
	// left to kwok.
	Images Images
	// StateDir receives pods/<ns>_<pod>_<container>.log (each process's
	// output), pods/<ns>_<pod>/ (its working directory, HOME, token,
	// kubeconfig and volumes/), run/pods/<ns>_<pod>_<container>.pid,
	// volumes/<ns>_<claim>/ (the claims' data) and hosts (the processes'
	// /etc/hosts, with ServiceLoopback).
	StateDir string
	// NodeSelector picks the nodes whose pods the runner runs.
	NodeSelector labels.Selector
	// RestartBackoff is the first wait before a process that exited is
	// started again; it doubles up to MaxRestartBackoff.
	RestartBackoff, MaxRestartBackoff time.Duration
	// ShutdownTimeout bounds the grace period of every process when the
	// runner itself stops.
	ShutdownTimeout time.Duration
	// ServiceLoopback is the /16 of 127.0.0.0/8 where Services get their
	// loopback addresses (ServiceLoopbackAddress); nil leaves Services
	// unserved and their names unresolved.
	ServiceLoopback net.IP
}

// CacheOptions restricts a manager's cache to what a runner reads: pods
// bound to a node and the nodes the selector picks.
func CacheOptions(nodeSelector labels.Selector) cache.Options {
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:  {Field: fields.OneTermNotEqualSelector(nodeNameField, "")},
		&corev1.Node{}: {Label: nodeSelector},
	}}
}

// hostsFilePath is the hosts file the runner keeps for the processes
// under stateDir.
func hostsFilePath(stateDir string) string { return filepath.Join(stateDir, "hosts") }

// Runner is the controller that runs pods as processes.
type Runner struct {
	client    client.Client
	apiReader client.Reader
	clientset kubernetes.Interface
	api       *rest.Config
	recorder  recorder.EventRecorder
	opts      Options

	spawner *spawner
	proxy   *serviceProxy // nil without ServiceLoopback
	events  chan event.GenericEvent
	// ctx ends when the runner shuts down; probes run under it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pods    map[types.NamespacedName]*podState
	ports   map[string]bool // addresses given out and not yet released
	closing bool
}

// podState is what the runner knows of one pod it runs.
type podState struct {
	key        types.NamespacedName
	uid        types.UID
	labels     map[string]string // under Runner.mu: Services select by them
	dir        string
	grace      time.Duration
	stopping   bool // under Runner.mu: Services read it
	kubeconfig string
	tokenRenew time.Time
	containers map[string]*containerState
}

// containerState is one container run as a process.
type containerState struct {
	name string
	// image is the program of the container's image; the one its command
	// runs (Program.For) is known once its environment is resolved.
	image Program
	addrs Addresses        // written under Runner.mu: Services read them
	ports map[string]int32 // the container's named ports

	proc         *process // the current or last run
	counted      *process // the run whose exit has been dealt with
	cancelProbes context.CancelFunc
	ready        atomic.Bool
	starts       int32
	backoff      time.Duration
	nextStart    time.Time
	last         *corev1.ContainerStateTerminated
	finished     bool // ended for good under the restart policy
	waiting      corev1.ContainerStateWaiting
}

// stateDirUnsafe are the characters a state dir's path must not hold. The
// path replaces mount paths in config files (redis.conf reads "dir <path>"
// as words) and in exec probes' shell commands, where whitespace, quotes
// and shell syntax would split or change it.
const stateDirUnsafe = " \t\n\r\"'\\$`#;&|<>()*?["

// CheckStateDir refuses a state dir whose path cannot stand in for a mount
// path in a config file or a shell command.
func CheckStateDir(dir string) error {
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("state dir %q: want an absolute path", dir)
	}
	if i := strings.IndexAny(dir, stateDirUnsafe); i >= 0 {
		return fmt.Errorf("state dir %q: %q would be read as a separator or syntax where the runner writes the path (redis.conf, exec probes); choose a path without it", dir, dir[i])
	}
	return nil
}

// New builds a Runner and registers it, its controller and its shutdown
// with mgr. The manager's cache should be restricted by CacheOptions.
func New(mgr manager.Manager, opts Options) (*Runner, error) {
	if err := CheckStateDir(opts.StateDir); err != nil {
		return nil, err
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = DefaultRestartBackoff
	}
	if opts.MaxRestartBackoff < opts.RestartBackoff {
		opts.MaxRestartBackoff = max(DefaultMaxRestartBackoff, opts.RestartBackoff)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.NodeSelector == nil {
		opts.NodeSelector = labels.Everything()
	}
	for _, d := range []string{filepath.Join(opts.StateDir, "pods"), filepath.Join(opts.StateDir, "run", "pods")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	cs, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		client:    mgr.GetClient(),
		apiReader: mgr.GetAPIReader(),
		clientset: cs,
		api:       mgr.GetConfig(),
		recorder:  mgr.GetEventRecorder("podrunner"),
		opts:      opts,
		spawner:   newSpawner(),
		events:    make(chan event.GenericEvent, 1024),
		ctx:       ctx,
		cancel:    cancel,
		pods:      map[types.NamespacedName]*podState{},
		ports:     map[string]bool{},
	}
	r.killLeftovers()
	if opts.ServiceLoopback != nil {
		r.proxy = &serviceProxy{r: r, hostsFile: hostsFilePath(opts.StateDir), prefix: opts.ServiceLoopback,
			listeners: map[string]*serviceListener{}}
		// The processes' /etc/hosts is bound to this file: it exists
		// before the first starts, with the machine's own entries.
		base, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(r.proxy.hostsFile, HostsFile(base, opts.ServiceLoopback, nil), 0o644); err != nil {
			return nil, err
		}
		err = ctrl.NewControllerManagedBy(mgr).Named("podrunner-services").For(&corev1.Service{}).Complete(r.proxy)
		if err != nil {
			return nil, err
		}
	}
	err = ctrl.NewControllerManagedBy(mgr).Named("podrunner-claims").For(&corev1.PersistentVolumeClaim{}).
		Complete(claimProvisioner{r})
	if err != nil {
		return nil, err
	}

	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, nodeNameField, func(o client.Object) []string {
		return []string{o.(*corev1.Pod).Spec.NodeName}
	}); err != nil {
		return nil, err
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("podrunner").
		For(&corev1.Pod{}).
		// A node that shows up after its pods brings them in.
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.podsOnNode)).
		// Process exits and probe results.
		WatchesRawSource(source.Channel(r.events, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
	if err != nil {
		return nil, err
	}
	return r, mgr.Add(r)
}

func (r *Runner) podsOnNode(ctx context.Context, o client.Object) []reconcile.Request {
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.MatchingFields{nodeNameField: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(pods.Items))
	for _, p := range pods.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}

// Start waits for the manager to stop, then stops every process within its
// grace period, capped by ShutdownTimeout. The pods stay as they are: the
// runner starts their processes again when it comes back.
func (r *Runner) Start(ctx context.Context) error {
	<-ctx.Done()
	log := logf.FromContext(ctx).WithName("podrunner")
	r.mu.Lock()
	r.closing = true
	var running []*process
	for _, st := range r.pods {
		for _, cs := range st.containers {
			if cs.proc != nil && !cs.proc.exited() {
				cs.proc.stop(min(st.grace, r.opts.ShutdownTimeout))
				running = append(running, cs.proc)
			}
		}
	}
	r.mu.Unlock()
	log.Info("stopping processes", "count", len(running))
	for _, p := range running {
		select {
		case <-p.done:
		case <-time.After(r.opts.ShutdownTimeout + 5*time.Second):
		}
	}
	r.cancel()
	if r.proxy != nil {
		r.proxy.close()
	}
	return nil
}

// NeedLeaderElection is false: the runner is the only one of its node set.
func (r *Runner) NeedLeaderElection() bool { return false }

// notify asks for pod key to be reconciled.
func (r *Runner) notify(key types.NamespacedName) {
	go func() {
		r.events <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
	}()
}

// Reconcile brings the processes of one pod in line with the pod: started
// (again, after a backoff) while it exists, stopped within the grace period
// once it is deleted, after which the runner deletes it for good.
func (r *Runner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.client.Get(ctx, req.NamespacedName, pod); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		pod = nil
	}
	ours := pod != nil && r.runs(ctx, pod)

	r.mu.Lock()
	st := r.pods[req.NamespacedName]
	r.mu.Unlock()
	if st != nil && (!ours || pod.UID != st.uid) {
		// Gone, or a new pod of the same name.
		if !r.stopPod(ctx, st, nil) {
			return ctrl.Result{}, nil // each exit brings the pod back here
		}
		r.forget(st)
		st = nil
	}
	if !ours {
		return ctrl.Result{}, nil
	}

	if pod.DeletionTimestamp != nil {
		if st != nil {
			if !r.stopPod(ctx, st, pod) {
				return ctrl.Result{}, nil
			}
			r.forget(st)
		}
		// kwok leaves the deletion of these pods to the runner
		// (hack/local-cluster/pod-stages.yaml), as a node does.
		err := r.client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if st == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) {
		return ctrl.Result{}, nil
	}

	if st == nil {
		if st = r.track(pod); st == nil {
			return ctrl.Result{}, nil // shutting down
		}
	}
	r.mu.Lock()
	st.labels = maps.Clone(pod.Labels)
	r.mu.Unlock()
	requeue := r.runContainers(ctx, pod, st)
	if err := r.annotate(ctx, pod, AnnotationAddresses, st.addresses()); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.updateStatus(ctx, pod, st); err != nil {
		if apierrors.IsConflict(err) {
			// kwok or a controller wrote the pod meanwhile; its event is
			// on the way, but do not count on it.
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// runs reports whether the pod is bound to one of the runner's nodes and has
// a container of one of its images.
func (r *Runner) runs(ctx context.Context, pod *corev1.Pod) bool {
	if pod.Spec.NodeName == "" {
		return false
	}
	var node corev1.Node
	if err := r.client.Get(ctx, types.NamespacedName{Name: pod.Spec.NodeName}, &node); err != nil {
		return false
	}
	if !r.opts.NodeSelector.Matches(labels.Set(node.Labels)) {
		return false
	}
	for _, c := range pod.Spec.Containers {
		if _, ok := r.opts.Images.Lookup(c.Image); ok {
			return true
		}
	}
	return false
}

// track starts keeping state for a pod; nil when the runner is stopping.
func (r *Runner) track(pod *corev1.Pod) *podState {
	key := client.ObjectKeyFromObject(pod)
	st := &podState{
		key:        key,
		uid:        pod.UID,
		dir:        filepath.Join(r.opts.StateDir, "pods", key.Namespace+"_"+key.Name),
		grace:      time.Duration(ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, corev1.DefaultTerminationGracePeriodSeconds)) * time.Second,
		containers: map[string]*containerState{},
	}
	for _, c := range pod.Spec.Containers {
		if p, ok := r.opts.Images.Lookup(c.Image); ok {
			ports := map[string]int32{}
			for _, port := range c.Ports {
				if port.Name != "" {
					ports[port.Name] = port.ContainerPort
				}
			}
			st.containers[c.Name] = &containerState{name: c.Name, image: p, addrs: Addresses{}, ports: ports}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil
	}
	r.pods[key] = st
	return st
}

// forget drops a pod whose processes have all ended.
func (r *Runner) forget(st *podState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pods[st.key] == st {
		delete(r.pods, st.key)
	}
	for _, cs := range st.containers {
		for _, addr := range cs.addrs {
			delete(r.ports, addr)
		}
		if cs.cancelProbes != nil {
			cs.cancelProbes()
		}
		_ = os.Remove(r.pidFile(st, cs))
	}
	_ = os.RemoveAll(st.dir)
}

// stopPod stops every process of the pod, with the deletion's grace period
// (pod nil: the pod is gone, the spec's). It reports whether all have ended.
func (r *Runner) stopPod(ctx context.Context, st *podState, pod *corev1.Pod) bool {
	grace := st.grace
	if pod != nil && pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	r.mu.Lock() // Services read it
	first := !st.stopping
	st.stopping = true
	r.mu.Unlock()
	done := true
	for _, cs := range st.containers {
		if cs.proc == nil || cs.proc.exited() {
			continue
		}
		done = false
		if first {
			logf.FromContext(ctx).Info("stopping process", "container", cs.name, "pid", cs.proc.pid, "grace", grace)
			if pod != nil {
				r.recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonKilling, "Kill",
					"Stopping container %s (local process %d)", cs.name, cs.proc.pid)
			}
		}
		cs.proc.stop(grace)
	}
	return done
}

// runContainers starts the containers that should run and are not running:
// for the first time, or after an exit and its backoff. It returns when to
// look again (0: only when something happens).
func (r *Runner) runContainers(ctx context.Context, pod *corev1.Pod, st *podState) time.Duration {
	log := logf.FromContext(ctx)
	var requeue time.Duration
	soonest := func(d time.Duration) {
		d = max(d, 10*time.Millisecond)
		if requeue == 0 || d < requeue {
			requeue = d
		}
	}
	if st.kubeconfig != "" && !time.Now().Before(st.tokenRenew) {
		if err := r.renewToken(ctx, pod, st); err != nil {
			log.Error(err, "renewing the service account token")
			soonest(10 * time.Second)
		}
	}
	if st.kubeconfig != "" {
		soonest(time.Until(st.tokenRenew))
	}

	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := st.containers[c.Name]
		if cs == nil || cs.finished || (cs.proc != nil && !cs.proc.exited()) {
			continue
		}
		if cs.proc != nil && cs.counted != cs.proc {
			cs.counted = cs.proc
			if !r.exited(ctx, pod, cs) {
				continue
			}
		}
		if wait := time.Until(cs.nextStart); wait > 0 {
			soonest(wait)
			continue
		}
		if err := r.startContainer(ctx, pod, st, c, cs); err != nil {
			cs.backoff = r.nextBackoff(cs.backoff)
			cs.nextStart = time.Now().Add(cs.backoff)
			cs.waiting = corev1.ContainerStateWaiting{Reason: err.reason, Message: err.Error()}
			log.Info("cannot start container", "container", c.Name, "reason", err.reason, "error", err.Error(), "retryIn", cs.backoff)
			r.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonFailed, "Start", "Error: %s", err.Error())
			soonest(cs.backoff)
		}
	}
	return requeue
}

// exited deals with a process that has ended: it records the exit and, when
// the restart policy brings the container back, schedules the restart after
// a backoff. It reports whether the container is to run again.
func (r *Runner) exited(ctx context.Context, pod *corev1.Pod, cs *containerState) bool {
	code, finished := cs.proc.exit()
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	cs.ready.Store(false)
	if cs.cancelProbes != nil {
		cs.cancelProbes()
	}
	cs.last = &corev1.ContainerStateTerminated{
		ExitCode:   int32(code),
		Reason:     reason,
		StartedAt:  apiTime(cs.proc.started),
		FinishedAt: apiTime(finished),
	}
	restart := pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" ||
		(pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && code != 0)
	log := logf.FromContext(ctx)
	if !restart {
		cs.finished = true
		log.Info("process exited", "container", cs.name, "pid", cs.proc.pid, "exitCode", code, "restart", false)
		return false
	}
	if finished.Sub(cs.proc.started) >= backoffReset {
		cs.backoff = 0
	}
	cs.backoff = r.nextBackoff(cs.backoff)
	cs.nextStart = finished.Add(cs.backoff)
	cs.waiting = corev1.ContainerStateWaiting{
		Reason:  "CrashLoopBackOff",
		Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", cs.backoff, cs.name, pod.Name),
	}
	log.Info("process exited", "container", cs.name, "pid", cs.proc.pid, "exitCode", code, "restartIn", cs.backoff)
	r.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonBackOff, "Start",
		"Back-off restarting container %s (local process %d exited with code %d)", cs.name, cs.proc.pid, code)
	return true
}

func (r *Runner) nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return r.opts.RestartBackoff
	}
	return min(2*d, r.opts.MaxRestartBackoff)
}

// The kubelet's reasons of a container that could not start.
const (
	reasonCreateContainerConfigError = "CreateContainerConfigError"
	reasonCreateContainerError       = "CreateContainerError"
)

// startError is why a container could not start, with the kubelet's reason.
type startError struct {
	reason string
	err    error
}

func (e *startError) Error() string { return e.err.Error() }

// startContainer resolves a container's environment and command and starts
// its process.
func (r *Runner) startContainer(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, cs *containerState) *startError {
	var node corev1.Node
	_ = r.client.Get(ctx, types.NamespacedName{Name: pod.Spec.NodeName}, &node)
	env, err := ResolveEnv(ctx, EnvContext{
		Pod: pod, Container: c, Sources: apiSources{r.apiReader}, IP: LocalIP, NodeAllocatable: node.Status.Allocatable,
	})
	if err != nil {
		return &startError{reasonCreateContainerConfigError, err}
	}
	program := cs.image.For(c, env)
	argv, err := Command(program, c, env)
	if err != nil {
		return &startError{reasonCreateContainerError, err}
	}
	alloc := func(port int32) (string, error) {
		if addr, ok := cs.addrs[port]; ok {
			return addr, nil // the same address across restarts
		}
		return r.freeAddress()
	}
	args, env, addrs, err := RewriteAddresses(program.Addresses, argv[1:], env, alloc)
	if err != nil {
		return &startError{reasonCreateContainerError, err}
	}
	if program.ListenFlags != nil && len(c.Ports) > 0 {
		port := c.Ports[0].ContainerPort
		addr, err := alloc(port)
		if err != nil {
			return &startError{reasonCreateContainerError, err}
		}
		host, p, _ := net.SplitHostPort(addr)
		args = append(args, program.ListenFlags(host, p)...)
		addrs[port] = addr
	}
	args = append(args, program.Flags...)
	r.mu.Lock()
	maps.Copy(cs.addrs, addrs)
	r.mu.Unlock()
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return &startError{"RunContainerError", err}
	}
	if ptr.Deref(pod.Spec.AutomountServiceAccountToken, true) && st.kubeconfig == "" {
		if err := r.renewToken(ctx, pod, st); err != nil {
			return &startError{reasonCreateContainerConfigError, err}
		}
	}
	mounts, err := MaterializeVolumes(ctx, VolumeContext{
		Pod: pod, Sources: apiSources{r.apiReader}, IP: LocalIP, NodeAllocatable: node.Status.Allocatable,
		Dirs: VolumeDirs{
			Pod:   filepath.Join(st.dir, "volumes"),
			Claim: func(ns, claim string) string { return ClaimDir(r.opts.StateDir, ns, claim) },
		},
		Token: func() ([]byte, error) {
			if st.kubeconfig == "" {
				return nil, fmt.Errorf("the pod has no service account token (automountServiceAccountToken is false)")
			}
			return os.ReadFile(filepath.Join(st.dir, "token"))
		},
	})
	if err != nil {
		return &startError{reasonCreateContainerConfigError, err}
	}
	m := mounts[c.Name]
	for i := range args {
		args[i] = m.Rewrite(args[i])
	}
	for i := range env {
		if !env[i].Secret {
			env[i].Value = m.Rewrite(env[i].Value)
		}
	}
	// The environment is the container's alone, as in an image: nothing of
	// the runner's (its own KUBECONFIG least of all) leaks in.
	procEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + st.dir, "HOSTNAME=" + PodHostname(pod.Name)}
	if ptr.Deref(pod.Spec.AutomountServiceAccountToken, true) {
		procEnv = append(procEnv, "KUBECONFIG="+st.kubeconfig)
	}
	for _, e := range env {
		procEnv = append(procEnv, e.Name+"="+e.Value)
	}

	key := st.key
	logPath := filepath.Join(r.opts.StateDir, "pods", key.Namespace+"_"+key.Name+"_"+c.Name+".log")
	hosts := ""
	if r.proxy != nil {
		hosts = r.proxy.hostsFile
	}
	proc, err := r.spawner.start(append(argv[:1:1], args...), procEnv, st.dir, logPath, PodHostname(pod.Name), hosts, func(*process) { r.notify(key) })
	if err != nil {
		return &startError{"RunContainerError", err}
	}
	r.mu.Lock()
	cs.proc = proc // under the lock: Start reads it while shutting down
	closing := r.closing
	r.mu.Unlock()
	if closing {
		proc.stop(0)
	}
	cs.starts++
	cs.waiting = corev1.ContainerStateWaiting{}
	_ = os.WriteFile(r.pidFile(st, cs), []byte(strconv.Itoa(proc.pid)), 0o644)

	probeCtx, cancel := context.WithCancel(r.ctx)
	cs.cancelProbes = cancel
	grace := st.grace
	r.mu.Lock()
	probeAddrs := maps.Clone(cs.addrs)
	r.mu.Unlock()
	ex := &execContext{env: procEnv, dir: st.dir, mounts: m, addrs: probeAddrs, program: cs.image}
	go runProbes(probeCtx, c.DeepCopy(), probeAddrs, ex, func(res probeResult, msg string) {
		switch res {
		case probeReady:
			cs.ready.Store(true)
		case probeNotReady:
			cs.ready.Store(false)
			r.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonUnhealthy, "Probe", "%s", msg)
		case probeKill:
			cs.ready.Store(false)
			r.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonUnhealthy, "Probe", "%s; restarting container %s", msg, cs.name)
			proc.stop(grace)
		}
		r.notify(key)
	})

	logf.FromContext(ctx).Info("started process", "container", c.Name, "pid", proc.pid, "argv", strings.Join(append(argv[:1:1], args...), " "), "addresses", addrs, "log", logPath, "ownHostname", proc.ownHostname)
	r.recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonStarted, "Start",
		"Started container %s as local process %d", c.Name, proc.pid)
	return nil
}

func (r *Runner) renewToken(ctx context.Context, pod *corev1.Pod, st *podState) error {
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return err
	}
	path, renew, err := serviceAccountToken(ctx, r.clientset, r.api, pod, st.dir)
	if err != nil {
		return err
	}
	st.kubeconfig, st.tokenRenew = path, renew
	return nil
}

func (r *Runner) pidFile(st *podState, cs *containerState) string {
	return filepath.Join(r.opts.StateDir, "run", "pods", st.key.Namespace+"_"+st.key.Name+"_"+cs.name+".pid")
}

// freeAddress finds a loopback port nothing listens on and that the runner
// has not given out.
func (r *Runner) freeAddress() (string, error) {
	for range 20 {
		l, err := net.Listen("tcp", net.JoinHostPort(LocalIP, "0"))
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		_ = l.Close()
		r.mu.Lock()
		taken := r.ports[addr]
		r.ports[addr] = true
		r.mu.Unlock()
		if !taken {
			return addr, nil
		}
	}
	return "", fmt.Errorf("no free loopback port found")
}

// killLeftovers ends the processes a previous runner left behind (it was
// killed before it could stop them): their pods' processes start afresh.
func (r *Runner) killLeftovers() {
	dir := filepath.Join(r.opts.StateDir, "run", "pods")
	entries, _ := os.ReadDir(dir)
	bins := map[string]bool{}
	for _, p := range r.opts.Images {
		for _, b := range p.binaries() {
			bins[b] = true
		}
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); bins[argv0] {
				_ = killGroup(pid)
			}
		}
		_ = os.Remove(path)
	}
}

// annotate sets one annotation of the pod, when it differs.
func (r *Runner) annotate(ctx context.Context, pod *corev1.Pod, key, value string) error {
	if pod.Annotations[key] == value {
		return nil
	}
	orig := pod.DeepCopy()
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = value
	if err := r.client.Patch(ctx, pod, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("annotating pod: %w", err)
	}
	return nil
}

// addresses renders AnnotationAddresses for the pod.
func (st *podState) addresses() string {
	by := map[string]Addresses{}
	for name, cs := range st.containers {
		if len(cs.addrs) > 0 {
			by[name] = cs.addrs
		}
	}
	return EncodeAddresses(by)
}

// updateStatus reports the processes in the pod status: container states,
// restarts, readiness, and the phase once every container has ended. It
// waits until kwok has moved the pod to Running and given it its IPs
// (hack/local-cluster/pod-stages.yaml); kwok does not touch the status after
// that.
func (r *Runner) updateStatus(ctx context.Context, pod *corev1.Pod, st *podState) error {
	if pod.Status.Phase != corev1.PodRunning {
		return nil
	}
	desired := pod.DeepCopy()
	status := &desired.Status
	allReady, allEnded, allSucceeded := true, true, true
	for _, c := range pod.Spec.Containers {
		i := -1
		for j := range status.ContainerStatuses {
			if status.ContainerStatuses[j].Name == c.Name {
				i = j
			}
		}
		if i < 0 {
			status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image})
			i = len(status.ContainerStatuses) - 1
		}
		s := &status.ContainerStatuses[i]
		cs := st.containers[c.Name]
		if cs == nil {
			// Another image: faked, as kwok fakes the pods of other
			// images, running and ready since the pod started.
			allEnded = false
			if s.State.Running == nil {
				start := metav1.Now()
				if status.StartTime != nil {
					start = *status.StartTime
				}
				s.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}}
			}
			s.Ready, s.Started = true, ptr.To(true)
			continue
		}
		cs.fill(s)
		allReady = allReady && s.Ready
		allEnded = allEnded && cs.finished
		allSucceeded = allSucceeded && cs.finished && cs.last != nil && cs.last.ExitCode == 0
	}
	now := apiTime(time.Now())
	setCondition(status, corev1.PodReady, allReady, now)
	setCondition(status, corev1.ContainersReady, allReady, now)
	if allEnded {
		status.Phase = corev1.PodFailed
		if allSucceeded {
			status.Phase = corev1.PodSucceeded
		}
	}
	if equality.Semantic.DeepEqual(pod.Status, desired.Status) {
		return nil
	}
	if err := r.client.Status().Patch(ctx, desired, client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("updating pod status: %w", err)
	}
	return nil
}

// fill writes the container's state into its status.
func (cs *containerState) fill(s *corev1.ContainerStatus) {
	running := cs.proc != nil && !cs.proc.exited()
	s.RestartCount = max(cs.starts-1, 0)
	s.Started = ptr.To(running)
	s.Ready = running && cs.ready.Load()
	s.State = corev1.ContainerState{}
	switch {
	case running:
		s.ContainerID = "podrunner://" + strconv.Itoa(cs.proc.pid)
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: apiTime(cs.proc.started)}
	case cs.finished:
		s.State.Terminated = cs.last.DeepCopy()
	case cs.waiting.Reason != "":
		s.State.Waiting = cs.waiting.DeepCopy()
	default:
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	if cs.last != nil && !cs.finished {
		s.LastTerminationState = corev1.ContainerState{Terminated: cs.last.DeepCopy()}
	}
}

// setCondition sets a pod condition's status, moving its transition time
// only when the status changes.
func setCondition(status *corev1.PodStatus, t corev1.PodConditionType, ok bool, now metav1.Time) {
	want := corev1.ConditionFalse
	if ok {
		want = corev1.ConditionTrue
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			if status.Conditions[i].Status != want {
				status.Conditions[i].Status = want
				status.Conditions[i].LastTransitionTime = now
			}
			return
		}
	}
	status.Conditions = append(status.Conditions, corev1.PodCondition{Type: t, Status: want, LastTransitionTime: now})
}

// apiTime is t as the API server stores it (whole seconds), so a status
// compares equal to what was written.
func apiTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second).UTC()) }

// apiSources reads Secrets and ConfigMaps straight from the API server: the
// runner caches neither.
type apiSources struct{ r client.Reader }

func (s apiSources) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var o corev1.Secret
	return &o, s.r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &o)
}

func (s apiSources) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	var o corev1.ConfigMap
	return &o, s.r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &o)
}
