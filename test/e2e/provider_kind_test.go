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
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kindProvider runs the suite on a kind cluster: both images are built with
// `make docker-build` and loaded into it, Redis runs in the cluster, and the
// suite reaches Redis through `kubectl port-forward`. It needs kind and a
// running Docker engine (CONTAINER_TOOL, as in the Makefile).
type kindProvider struct {
	root       string
	kind       string
	engine     string
	cluster    string
	dir        string
	redisImage string
	reuse      bool
	keep       bool
	kubeconfig string
	kubectl    string
}

func newKindProvider(root string) (*kindProvider, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("finding the cache dir for the suite's state: %w", err)
	}
	return &kindProvider{
		root:       root,
		kind:       envOr("KIND", "kind"),
		engine:     envOr("CONTAINER_TOOL", "docker"),
		cluster:    envOr("E2E_KIND_CLUSTER", "queueworker-e2e"),
		dir:        envOr("E2E_CLUSTER_DIR", filepath.Join(cache, "queueworker-operator", "e2e-kind")),
		redisImage: envOr("E2E_REDIS_IMAGE", "redis:7.4"),
		reuse:      envTrue("E2E_REUSE_CLUSTER"),
		keep:       envTrue("E2E_KEEP_CLUSTER"),
	}, nil
}

func (p *kindProvider) name() string { return "kind" }

func (p *kindProvider) reused() bool { return p.reuse }

func (p *kindProvider) stateDir() string { return p.dir }

// kubectlPath prefers KUBECTL, then kubectl on PATH (a kind machine has
// one), then the pinned build.
func (p *kindProvider) kubectlPath() (string, error) {
	if v := os.Getenv("KUBECTL"); v != "" {
		p.kubectl = v
		return v, nil
	}
	if v, err := exec.LookPath("kubectl"); err == nil {
		p.kubectl = v
		return v, nil
	}
	var err error
	p.kubectl, err = toolPath(p.root, "KUBECTL", "--path", "kubectl")
	return p.kubectl, err
}

// preflight fails early, and says what is missing, when kind or the
// container engine cannot run here.
func (p *kindProvider) preflight(ctx context.Context) error {
	if _, err := exec.LookPath(p.kind); err != nil {
		return fmt.Errorf("E2E_PROVIDER=kind needs kind, and %q is not on PATH: install kind "+
			"(https://kind.sigs.k8s.io) or set KIND to its path", p.kind)
	}
	if _, err := exec.LookPath(p.engine); err != nil {
		return fmt.Errorf("E2E_PROVIDER=kind needs a container engine, and %q is not on PATH (set CONTAINER_TOOL)", p.engine)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, p.engine, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("E2E_PROVIDER=kind needs a running container engine, and `%s info` failed (%v): %s",
			p.engine, err, strings.TrimSpace(tail(string(out), 5)))
	}
	return nil
}

// run runs a command in the checkout with its output on stderr.
func (p *kindProvider) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

func (p *kindProvider) up(ctx context.Context, _ *testing.T) (string, error) {
	if err := p.preflight(ctx); err != nil {
		return "", err
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return "", err
	}
	p.kubeconfig = filepath.Join(p.dir, "kubeconfig")
	if p.reuse {
		out, err := exec.CommandContext(ctx, p.kind, "get", "kubeconfig", "--name", p.cluster).Output()
		if err != nil {
			return "", fmt.Errorf("kind get kubeconfig --name %s: %w", p.cluster, err)
		}
		if err := os.WriteFile(p.kubeconfig, out, 0o600); err != nil {
			return "", err
		}
	} else {
		// A cluster an earlier run kept is replaced by a fresh one.
		if err := p.run(ctx, p.kind, "delete", "cluster", "--name", p.cluster); err != nil {
			return "", err
		}
		if err := p.run(ctx, p.kind, "create", "cluster", "--name", p.cluster,
			"--kubeconfig", p.kubeconfig, "--wait", "5m"); err != nil {
			return "", err
		}
	}
	operator := operatorImage + ":" + imageTag
	if err := p.run(ctx, "make", "docker-build", "IMG="+operator, "WORKER_IMG="+workerImage,
		"CONTAINER_TOOL="+p.engine); err != nil {
		return "", err
	}
	// Redis is pulled here once rather than by the node, so the cluster
	// needs no registry access.
	if err := p.run(ctx, p.engine, "pull", p.redisImage); err != nil {
		return "", err
	}
	if err := p.run(ctx, p.kind, "load", "docker-image", operator, workerImage, p.redisImage, "--name", p.cluster); err != nil {
		return "", err
	}
	return p.kubeconfig, nil
}

func (p *kindProvider) down(ctx context.Context, failed bool) error {
	if p.kubeconfig == "" {
		return nil
	}
	if failed {
		dir := filepath.Join(p.dir, "kind-logs")
		if err := p.run(ctx, p.kind, "export", "logs", dir, "--name", p.cluster); err == nil {
			fmt.Fprintf(os.Stderr, "==> the cluster's logs are in %s\n", dir)
		}
	}
	switch {
	case p.reuse:
		fmt.Fprintf(os.Stderr, "==> leaving the reused kind cluster %s running\n", p.cluster)
		return nil
	case p.keep:
		fmt.Fprintf(os.Stderr, "==> E2E_KEEP_CLUSTER: kind cluster %s keeps running; export KUBECONFIG=%s; "+
			"delete it with kind delete cluster --name %s\n", p.cluster, p.kubeconfig, p.cluster)
		return nil
	}
	return p.run(ctx, p.kind, "delete", "cluster", "--name", p.cluster)
}

// helmValues: the images are loaded into the nodes, never pulled.
func (p *kindProvider) helmValues() []string {
	// The suite's redis-server has no password, and its External
	// RedisConfig none either.
	return []string{"image.repository=" + operatorImage, "image.tag=" + imageTag, "allowPasswordlessExternalRedis=true", "image.pullPolicy=Never"}
}

// operatorIdentity: a container cannot be asked who it is (the image has no
// shell), so this is what the kubelet gives it: the token of the pod's
// service account, mounted at the standard path in the manager container.
func (p *kindProvider) operatorIdentity(_ context.Context, pod *corev1.Pod) (string, error) {
	if pod.Spec.AutomountServiceAccountToken != nil && !*pod.Spec.AutomountServiceAccountToken {
		return "", fmt.Errorf("pod %s does not mount a service account token", pod.Name)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name != managerContainer {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount" {
				sa := pod.Spec.ServiceAccountName
				if sa == "" {
					sa = "default"
				}
				return "system:serviceaccount:" + pod.Namespace + ":" + sa, nil
			}
		}
	}
	return "", fmt.Errorf("the manager container of pod %s mounts no service account token", pod.Name)
}

// killOperator stops the manager container with a zero timeout, which the
// container runtime carries out with SIGKILL; the kubelet restarts it.
func (p *kindProvider) killOperator(ctx context.Context, pod *corev1.Pod) error {
	var id string
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == managerContainer {
			_, id, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if id == "" {
		return fmt.Errorf("pod %s reports no manager container id", pod.Name)
	}
	// kind names each node's container after the node.
	out, err := exec.CommandContext(ctx, p.engine, "exec", pod.Spec.NodeName,
		"crictl", "stop", "--timeout", "0", id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("crictl stop on node %s: %w: %s", pod.Spec.NodeName, err, out)
	}
	return nil
}

func (p *kindProvider) operatorLogs(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, p.kubectl, "--kubeconfig", p.kubeconfig, "logs", "-n", operatorNS,
		"-l", "app.kubernetes.io/instance="+release, "--all-containers", "--prefix", "--tail=2000").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("kubectl logs: %v\n%s", err, out)
	}
	return string(out)
}

// workerProcess: in a pod the host name is the pod's name.
func (p *kindProvider) workerProcess(pod *corev1.Pod) (string, int, bool) {
	return pod.Name, 0, true
}

// kindRedisManifest is a Redis whose append-only file lives on a volume
// (kind's default local-path storage), so scaling it to zero and back
// keeps every task.
const kindRedisManifest = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: redis-data
  namespace: {{NS}}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
  namespace: {{NS}}
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: redis
  template:
    metadata:
      labels:
        app: redis
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: redis
          image: {{IMAGE}}
          imagePullPolicy: IfNotPresent
          args: ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
          ports:
            - name: redis
              containerPort: 6379
          readinessProbe:
            tcpSocket:
              port: redis
            periodSeconds: 1
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: redis-data
---
apiVersion: v1
kind: Service
metadata:
  name: redis
  namespace: {{NS}}
spec:
  selector:
    app: redis
  ports:
    - name: redis
      port: 6379
      targetPort: redis
`

func (p *kindProvider) startRedis(ctx context.Context, _ *testing.T, ns string) (redisServer, error) {
	manifest := strings.NewReplacer("{{NS}}", ns, "{{IMAGE}}", p.redisImage).Replace(kindRedisManifest)
	if err := p.kubectlStdin(ctx, manifest, "apply", "-f", "-"); err != nil {
		return nil, err
	}
	r := &kindRedis{p: p, ns: ns}
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	r.rdb = redis.NewClient(&redis.Options{
		Addr: "redis." + ns,
		// Every connection goes through the current port-forward, which
		// is started again after Redis was.
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, err := r.forwardAddr(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	return r, nil
}

// serviceClient reaches the Service through a port-forward, started again
// when the pod it picked goes away.
func (p *kindProvider) serviceClient(t *testing.T, _ client.Client, ns, name, password string) *redis.Client {
	r := &kindRedis{p: p, ns: ns, svc: name}
	rdb := redis.NewClient(&redis.Options{
		Addr:     name + "." + ns,
		Password: password,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, err := r.forwardAddr(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	t.Cleanup(func() {
		_ = rdb.Close()
		r.stopForward()
	})
	return rdb
}

func (p *kindProvider) serviceDialer(t *testing.T, _ client.Client, ns, name string, port int32) func(ctx context.Context) (string, error) {
	r := &kindRedis{p: p, ns: ns, svc: name, port: port}
	t.Cleanup(r.stopForward)
	return r.forwardAddr
}

func (p *kindProvider) kubectlStdin(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, p.kubectl, append([]string{"--kubeconfig", p.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// kindRedis is the Redis Deployment of one namespace and a port-forward to
// its Service.
type kindRedis struct {
	p    *kindProvider
	ns   string
	svc  string // the Service forwarded to; "redis" when empty
	port int32  // its port forwarded to; 6379 when 0
	rdb  *redis.Client

	mu      sync.Mutex
	stopped bool
	fwd     *exec.Cmd
	fwdDone chan struct{}
	local   string
}

// The Service address, resolved by the cluster's DNS in every pod.
func (r *kindRedis) addr() string { return "redis." + r.ns + ".svc:6379" }

func (r *kindRedis) client() *redis.Client { return r.rdb }

var forwardingRE = regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+)`)

// forwardAddr returns the local address of the port-forward, starting a
// new one when there is none or the last one ended (it ends when the pod
// it picked goes away).
func (r *kindRedis) forwardAddr(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return "", errors.New("redis is stopped")
	}
	if r.fwd != nil {
		select {
		case <-r.fwdDone:
			r.fwd = nil
		default:
			return r.local, nil
		}
	}
	svc := r.svc
	if svc == "" {
		svc = "redis"
	}
	port := r.port
	if port == 0 {
		port = 6379
	}
	cmd := exec.Command(r.p.kubectl, "--kubeconfig", r.p.kubeconfig, "port-forward", "-n", r.ns,
		"svc/"+svc, fmt.Sprintf(":%d", port), "--address", "127.0.0.1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("kubectl port-forward: %w", err)
	}
	found := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := forwardingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case addr := <-found:
		r.fwd, r.fwdDone, r.local = cmd, done, addr
		return addr, nil
	case <-done:
		return "", fmt.Errorf("kubectl port-forward to svc/%s ended before it forwarded", svc)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-done
	return "", fmt.Errorf("kubectl port-forward to svc/%s did not start forwarding", svc)
}

func (r *kindRedis) stopForward() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fwd != nil {
		_ = r.fwd.Process.Kill()
		<-r.fwdDone
		r.fwd = nil
	}
}

func (r *kindRedis) stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.stopForward()
	if err := r.p.kubectlStdin(ctx, "", "scale", "deployment/redis", "-n", r.ns, "--replicas=0"); err != nil {
		return err
	}
	return r.p.kubectlStdin(ctx, "", "wait", "--for=delete", "pod", "-l", "app=redis", "-n", r.ns, "--timeout=2m")
}

func (r *kindRedis) start(ctx context.Context) error {
	if err := r.p.kubectlStdin(ctx, "", "scale", "deployment/redis", "-n", r.ns, "--replicas=1"); err != nil {
		return err
	}
	if err := r.p.kubectlStdin(ctx, "", "rollout", "status", "deployment/redis", "-n", r.ns, "--timeout=3m"); err != nil {
		return err
	}
	r.mu.Lock()
	r.stopped = false
	r.mu.Unlock()
	_, err := r.forwardAddr(ctx)
	return err
}

func (r *kindRedis) close() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.stopForward()
	if r.rdb != nil {
		_ = r.rdb.Close()
	}
}
