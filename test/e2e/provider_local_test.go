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
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/queueworker/queueworker-operator/hack/local-cluster/podrunner"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// localProvider runs the suite on the control plane of
// hack/local-cluster.sh, whose pod runner runs the pods of the operator and
// worker images as local processes (see docs/local-cluster.md). Unless
// E2E_REUSE_CLUSTER is set it uses a state dir and ports of its own, so it
// never touches a cluster a developer is using.
type localProvider struct {
	root   string
	script string
	// env is added to the script's environment: the suite's own state dir
	// and ports.
	env   []string
	dir   string
	reuse bool
	keep  bool
	// kubectl is used with the operator's own kubeconfig.
	kubectl string
}

func newLocalProvider(root string) (*localProvider, error) {
	p := &localProvider{
		root:   root,
		script: filepath.Join(root, "hack", "local-cluster.sh"),
		reuse:  envTrue("E2E_REUSE_CLUSTER"),
		keep:   envTrue("E2E_KEEP_CLUSTER"),
	}
	if !p.reuse {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("finding the cache dir for the cluster's state: %w", err)
		}
		p.dir = envOr("E2E_CLUSTER_DIR", filepath.Join(cache, "queueworker-operator", "e2e-cluster"))
		p.env = []string{"QW_CLUSTER_DIR=" + p.dir, "QW_PORT_BASE=" + envOr("E2E_PORT_BASE", "17400")}
	}
	return p, nil
}

func (p *localProvider) name() string { return "local" }

func (p *localProvider) reused() bool { return p.reuse }

func (p *localProvider) stateDir() string { return p.dir }

func (p *localProvider) kubectlPath() (string, error) {
	var err error
	p.kubectl, err = toolPath(p.root, "KUBECTL", "--path", "kubectl")
	return p.kubectl, err
}

// runScript runs hack/local-cluster.sh; its progress goes to stderr.
func (p *localProvider) runScript(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, p.script, args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.root
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	// The components it starts are detached from its output, but never
	// wait forever on a pipe a stray child holds.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/local-cluster.sh %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

func (p *localProvider) up(ctx context.Context, t *testing.T) (string, error) {
	if !p.reuse {
		// A cluster an earlier run kept is replaced by a fresh one.
		if _, err := p.runScript(ctx, "down", "--purge"); err != nil {
			return "", err
		}
	}
	out, err := p.runScript(ctx, "up")
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kubeconfig := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(kubeconfig); err != nil {
		return "", fmt.Errorf("hack/local-cluster.sh up printed %q, not a kubeconfig: %w", out, err)
	}
	p.dir = filepath.Dir(kubeconfig)
	return kubeconfig, nil
}

func (p *localProvider) down(ctx context.Context, _ bool) error {
	switch {
	case p.dir == "":
		return nil
	case p.reuse:
		fmt.Fprintf(os.Stderr, "==> leaving the reused cluster running (state dir %s)\n", p.dir)
		return nil
	case p.keep:
		fmt.Fprintf(os.Stderr, "==> E2E_KEEP_CLUSTER: the cluster keeps running; export KUBECONFIG=%s; "+
			"stop it with QW_CLUSTER_DIR=%s hack/local-cluster.sh down\n", filepath.Join(p.dir, "kubeconfig"), p.dir)
		return nil
	}
	// The logs stay in the state dir; the next run purges them.
	_, err := p.runScript(ctx, "down")
	return err
}

func (p *localProvider) helmValues() []string {
	// The suite's redis-server has no password, and its External
	// RedisConfig none either.
	return []string{"image.repository=" + operatorImage, "image.tag=" + imageTag, "allowPasswordlessExternalRedis=true"}
}

// startRedis starts a redis-server on a free loopback port that writes
// every change to its append-only file before it answers, so a stop (a
// SIGKILL) loses nothing that a client was told was done.
func (p *localProvider) startRedis(_ context.Context, _ *testing.T, _ string) (redisServer, error) {
	srv, err := redistest.Start("appendonly yes", "appendfsync always")
	if err != nil {
		return nil, err
	}
	return &localRedis{srv: srv, rdb: redis.NewClient(&redis.Options{Addr: srv.Addr})}, nil
}

// serviceClient dials, on each new connection, the loopback address where
// the pod runner runs the process of a ready pod of the Service (its
// podrunner.queueworker.io/addresses annotation), so it follows the Service
// to a new pod as a client in the cluster does.
func (p *localProvider) serviceClient(t *testing.T, c client.Client, ns, name, password string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:     name + "." + ns + ".svc:6379",
		Password: password,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, err := localServiceAddr(ctx, c, ns, name, 6379)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func (p *localProvider) serviceDialer(_ *testing.T, c client.Client, ns, name string, port int32) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) { return localServiceAddr(ctx, c, ns, name, port) }
}

// localServiceAddr returns the local address of port of Service ns/name on
// a ready pod it selects.
func localServiceAddr(ctx context.Context, c client.Client, ns, name string, port int32) (string, error) {
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return "", err
	}
	var target intstr.IntOrString
	for _, sp := range svc.Spec.Ports {
		if sp.Port == port {
			target = sp.TargetPort
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns),
		client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(svc.Spec.Selector)}); err != nil {
		return "", err
	}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || !podReady(&pod) {
			continue
		}
		for _, ct := range pod.Spec.Containers {
			for _, cp := range ct.Ports {
				if (target.Type == intstr.String && cp.Name == target.StrVal) || (target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
					if addr, ok := podrunner.LocalAddress(&pod, ct.Name, cp.ContainerPort); ok {
						return addr, nil
					}
				}
			}
		}
	}
	return "", fmt.Errorf("no ready pod of Service %s/%s serves port %d", ns, name, port)
}

// pidOf returns the pid the pod runner recorded for a container of a pod.
func (p *localProvider) pidOf(pod *corev1.Pod, container string) (int, error) {
	path := filepath.Join(p.dir, "run", "pods", pod.Namespace+"_"+pod.Name+"_"+container+".pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the pod runner's record: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s holds %q, not a pid", path, b)
	}
	return pid, nil
}

// managerPid returns the pid of the operator pod's process, after checking
// that it runs the manager binary the cluster built.
func (p *localProvider) managerPid(pod *corev1.Pod) (int, error) {
	pid, err := p.pidOf(pod, managerContainer)
	if err != nil {
		return 0, err
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return 0, fmt.Errorf("process %d of pod %s: %w", pid, pod.Name, err)
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	if want := filepath.Join(p.dir, "bin", "manager"); argv0 != want {
		return 0, fmt.Errorf("process %d of pod %s runs %q, not %s", pid, pod.Name, argv0, want)
	}
	return pid, nil
}

// operatorIdentity asks the API server who the operator's process is, with
// the kubeconfig the pod runner handed that process (its KUBECONFIG): the
// credentials of the pod's service account and nothing else.
func (p *localProvider) operatorIdentity(ctx context.Context, pod *corev1.Pod) (string, error) {
	pid, err := p.managerPid(pod)
	if err != nil {
		return "", err
	}
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return "", fmt.Errorf("reading the environment of process %d: %w", pid, err)
	}
	vars := strings.Split(string(environ), "\x00")
	i := slices.IndexFunc(vars, func(v string) bool { return strings.HasPrefix(v, "KUBECONFIG=") })
	if i < 0 {
		return "", fmt.Errorf("process %d has no KUBECONFIG in its environment", pid)
	}
	kubeconfig := strings.TrimPrefix(vars[i], "KUBECONFIG=")
	out, err := exec.CommandContext(ctx, p.kubectl, "--kubeconfig", kubeconfig,
		"auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl auth whoami with %s: %w: %s", kubeconfig, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (p *localProvider) killOperator(_ context.Context, pod *corev1.Pod) error {
	pid, err := p.managerPid(pod)
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// operatorLogs returns the pod runner's log files of every operator pod,
// oldest first.
func (p *localProvider) operatorLogs(context.Context) string {
	files, _ := filepath.Glob(filepath.Join(p.dir, "pods", operatorNS+"_*_"+managerContainer+".log"))
	modTime := func(f string) time.Time {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}
		}
		return st.ModTime()
	}
	slices.SortFunc(files, func(a, b string) int { return modTime(a).Compare(modTime(b)) })
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s", f, data)
	}
	return b.String()
}

// workerProcess: every local process has this machine's host name, so the
// pid tells them apart.
func (p *localProvider) workerProcess(pod *corev1.Pod) (string, int, bool) {
	// The pod runner gives each pod its own host name when it may (as
	// root); otherwise every worker shares the machine's.
	host := podrunner.PodHostname(pod.Name)
	if os.Geteuid() != 0 {
		var err error
		if host, err = os.Hostname(); err != nil {
			return "", 0, false
		}
	}
	pid, err := p.pidOf(pod, workerContainer)
	if err != nil {
		return "", 0, false
	}
	return host, pid, true
}

// localRedis is a redis-server of this machine.
type localRedis struct {
	srv *redistest.Server
	rdb *redis.Client
}

func (r *localRedis) addr() string { return r.srv.Addr }

func (r *localRedis) client() *redis.Client { return r.rdb }

func (r *localRedis) stop(context.Context) error { return r.srv.Stop() }

func (r *localRedis) start(context.Context) error {
	if err := r.srv.Restart(); err != nil {
		return err
	}
	if err := r.srv.Ping(); err != nil {
		return errors.Join(errors.New("redis-server restarted but does not answer"), err)
	}
	return nil
}

func (r *localRedis) close() {
	_ = r.rdb.Close()
	_ = r.srv.Close()
}
