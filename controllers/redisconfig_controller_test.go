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
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

func getRedisConfig(t *testing.T, ns, name string) *queueworkerv1alpha1.RedisConfig {
	t.Helper()
	rc := &queueworkerv1alpha1.RedisConfig{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, rc); err != nil {
		t.Fatal(err)
	}
	return rc
}

func rcConditionIs(rc *queueworkerv1alpha1.RedisConfig, condType string, status metav1.ConditionStatus, reason string) error {
	for _, c := range rc.Status.Conditions {
		if c.Type == condType {
			if c.Status != status || c.Reason != reason {
				return fmt.Errorf("%s = %s/%s (%s), want %s/%s", condType, c.Status, c.Reason, c.Message, status, reason)
			}
			return nil
		}
	}
	return fmt.Errorf("no %s condition", condType)
}

func updateRedisConfig(t *testing.T, ns, name string, mutate func(*queueworkerv1alpha1.RedisConfig)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc := getRedisConfig(t, ns, name)
		mutate(rc)
		return k8sClient.Update(testCtx, rc)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func configGet(t *testing.T, rdb *redis.Client, key string) string {
	t.Helper()
	v, err := rdb.ConfigGet(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("CONFIG GET %s: %v", key, err)
	}
	return v[key]
}

func productionRedisConfig(ns, name string) *queueworkerv1alpha1.RedisConfig {
	mem := resource.MustParse("512Mi")
	return &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Memory: queueworkerv1alpha1.RedisMemory{MaxMemory: &mem},
		},
	}
}

// startRenderedRedis runs a real redis-server with the configuration the
// operator rendered into the ConfigMap and the password file from the
// auth Secret, as the managed pod would, on a free loopback port.
func startRenderedRedis(t *testing.T, conf string, passwordConf []byte) (addr string) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	pwPath := filepath.Join(dir, "password.conf")
	if err := os.WriteFile(pwPath, passwordConf, 0o600); err != nil {
		t.Fatal(err)
	}
	// Only the placement differs from the pod: paths and port.
	conf = strings.ReplaceAll(conf, resources.RedisPasswordConfPath, pwPath)
	conf = strings.ReplaceAll(conf, "dir "+resources.RedisDataDir, "dir "+dir)
	conf = strings.ReplaceAll(conf, "port 6379", "port "+strconv.Itoa(port))
	conf += "bind 127.0.0.1\n"
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, confPath)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	probe := &redistest.Server{Addr: addr}
	eventually(t, "the rendered redis-server answers", probe.Ping)
	return addr
}

// TestRedisConfigManaged: mode Managed writes the ConfigMap (no password
// in it), the generated password Secret, the Service and the StatefulSet;
// once the server runs, a runtime change reaches it with CONFIG SET and no
// restart, while a restart-only change rolls the pod and shows as drift.
func TestRedisConfigManaged(t *testing.T) {
	ns := createNamespace(t)
	rc := productionRedisConfig(ns, "jobs")
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}

	cm := &corev1.ConfigMap{}
	eventually(t, "ConfigMap written", func() error {
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "jobs-redis-config"}, cm)
	})
	conf := cm.Data["redis.conf"]
	for _, want := range []string{"maxmemory 536870912\n", "maxmemory-policy noeviction\n", "appendonly yes\n",
		"appendfsync everysec\n", "tcp-backlog 511\n", "timeout 300\n", "tcp-keepalive 300\n", "maxclients 10000\n",
		"lazyfree-lazy-eviction yes\n", "include " + resources.RedisPasswordConfPath + "\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("redis.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "requirepass") {
		t.Error("the ConfigMap carries requirepass")
	}
	// tcpBacklog is unset, so the server gets 511, above the pod's
	// somaxconn of 128: the kernel caps it, and a Warning says so.
	eventually(t, "a TCPBacklogCapped event for the default tcp-backlog", func() error {
		for _, e := range eventsFor(t, ns, "jobs") {
			if e.Reason == queueworkerv1alpha1.ReasonTCPBacklogCapped && e.Type == "Warning" &&
				strings.Contains(e.Note, "tcp-backlog 511") {
				return nil
			}
		}
		return errors.New("no TCPBacklogCapped event")
	})

	sec := &corev1.Secret{}
	eventually(t, "password Secret generated", func() error {
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "jobs-redis-auth"}, sec)
	})
	password := string(sec.Data["password"])
	if len(password) < 32 {
		t.Fatalf("generated password has %d characters", len(password))
	}
	if strings.Contains(conf, password) {
		t.Fatal("the ConfigMap carries the password")
	}

	svc := &corev1.Service{}
	sts := &appsv1.StatefulSet{}
	eventually(t, "Service and StatefulSet written", func() error {
		if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "jobs-redis"}, svc); err != nil {
			return err
		}
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "jobs-redis"}, sts)
	})
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("StatefulSet has %d claim templates, want 1 (AOF is on)", len(sts.Spec.VolumeClaimTemplates))
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.Exec == nil || c.LivenessProbe == nil {
		t.Errorf("redis container probes: readiness %+v liveness %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	for _, e := range c.Env {
		if e.Value == password {
			t.Errorf("env %s carries the password by value", e.Name)
		}
	}
	for _, a := range append(c.Command, c.Args...) {
		if strings.Contains(a, password) {
			t.Error("the password is in the container's command line")
		}
	}
	restartHash := sts.Spec.Template.Annotations[resources.AnnotationConfigHash]
	if restartHash == "" {
		t.Fatalf("pod template lacks %s", resources.AnnotationConfigHash)
	}
	eventually(t, "status before the pod is ready", func() error {
		got := getRedisConfig(t, ns, "jobs")
		if got.Status.Address != "jobs-redis."+ns+".svc:6379" {
			return fmt.Errorf("address %q", got.Status.Address)
		}
		if got.Status.PasswordSecretRef == nil || got.Status.PasswordSecretRef.Name != "jobs-redis-auth" {
			return fmt.Errorf("passwordSecretRef %+v", got.Status.PasswordSecretRef)
		}
		// The printer columns: what the operator runs Redis with, the
		// defaults of mode Managed included.
		if got.Status.MaxMemory != "512Mi" || got.Status.Policy != "noeviction" || got.Status.Persistence != "aof everysec" {
			return fmt.Errorf("maxMemory %q policy %q persistence %q, want 512Mi, noeviction, aof everysec",
				got.Status.MaxMemory, got.Status.Policy, got.Status.Persistence)
		}
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionTrue, queueworkerv1alpha1.ReasonNoEviction); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionFalse, queueworkerv1alpha1.ReasonWaitingForRedis)
	})

	// The pod starts: a real redis-server from the rendered files.
	addr, _ := runManagedRedis(t, ns, "jobs")
	eventually(t, "Ready and Applied", func() error {
		got := getRedisConfig(t, ns, "jobs")
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionTrue, queueworkerv1alpha1.ReasonApplied); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady)
	})
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer func() { _ = rdb.Close() }()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("the generated password does not open the server: %v", err)
	}

	// A runtime key: CONFIG SET on the running server, no roll.
	updateRedisConfig(t, ns, "jobs", func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("256Mi")
		rc.Spec.Memory.MaxMemory = &q
	})
	eventually(t, "maxmemory reaches the running server", func() error {
		if v := configGet(t, rdb, "maxmemory"); v != "268435456" {
			return fmt.Errorf("maxmemory %s", v)
		}
		return nil
	})
	if err := k8sClient.Get(testCtx, client2key(sts), sts); err != nil {
		t.Fatal(err)
	}
	if got := sts.Spec.Template.Annotations[resources.AnnotationConfigHash]; got != restartHash {
		t.Errorf("a runtime change rolled the pod: hash %s -> %s", restartHash, got)
	}

	// A restart-only key: the pod rolls, and until it restarts the running
	// server shows the drift.
	updateRedisConfig(t, ns, "jobs", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Network.TCPBacklog = 1024 })
	eventually(t, "restart-only change rolls the pod and shows drift", func() error {
		if err := k8sClient.Get(testCtx, client2key(sts), sts); err != nil {
			return err
		}
		if sts.Spec.Template.Annotations[resources.AnnotationConfigHash] == restartHash {
			return errors.New("config hash unchanged")
		}
		got := getRedisConfig(t, ns, "jobs")
		for _, d := range got.Status.Drift {
			if d.Key == "tcp-backlog" && d.Reason == "RestartRequired" && d.Want == "1024" && d.Have == "511" {
				return rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionFalse, queueworkerv1alpha1.ReasonDrift)
			}
		}
		return fmt.Errorf("drift %+v", got.Status.Drift)
	})
}

// runManagedRedis plays the managed Redis pod of a RedisConfig: it starts a
// redis-server with the ConfigMap's redis.conf and the auth Secret's
// password file, points the operator at it and marks the StatefulSet
// ready, as kube-controller-manager would once the pod runs.
func runManagedRedis(t *testing.T, ns, name string) (addr, password string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	sec := &corev1.Secret{}
	sts := &appsv1.StatefulSet{}
	eventually(t, "the managed Redis objects", func() error {
		if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name + "-redis-config"}, cm); err != nil {
			return err
		}
		if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name + "-redis-auth"}, sec); err != nil {
			return err
		}
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name + "-redis"}, sts)
	})
	addr = startRenderedRedis(t, cm.Data["redis.conf"], sec.Data[resources.RedisPasswordConfKey])
	managedRedisAddrs.Store(ns+"/"+name, addr)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(testCtx, client2key(sts), sts); err != nil {
			return err
		}
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: 1,
			CurrentReplicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		return k8sClient.Status().Update(testCtx, sts)
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr, string(sec.Data["password"])
}

func client2key(o metav1.Object) types.NamespacedName {
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
}

// TestRedisConfigExternal: mode External applies every runtime key the spec
// sets to a running redis-server, a later change reaches it within one
// reconcile, a restart-only key shows as drift, and a wrong password is
// reported.
func TestRedisConfigExternal(t *testing.T) {
	srv, err := redistest.Start("requirepass ext-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	sec := usableSecret(ns, "ext", map[string]string{"password": "ext-pass"}, queueworkerv1alpha1.KindRedisConfig)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	rc := productionRedisConfig(ns, "ext")
	rc.Spec.Mode = queueworkerv1alpha1.RedisConfigExternal
	rc.Spec.External = &queueworkerv1alpha1.ExternalRedis{Addr: srv.Addr}
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "ext", Key: "password"}}
	// Mode External sets only what the spec sets: these are the settings
	// the checks below expect on the server.
	rc.Spec.Memory.Policy = "noeviction"
	rc.Spec.Persistence.AOF = queueworkerv1alpha1.RedisAOF{Enabled: new(true), Fsync: "everysec"}
	rc.Spec.Network = queueworkerv1alpha1.RedisNetwork{Timeout: &metav1.Duration{Duration: 300 * time.Second},
		TCPKeepalive: &metav1.Duration{Duration: 300 * time.Second}, MaxClients: 10000}
	rc.Spec.LazyFree.UserDel = new(true)
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "ext-pass"})
	defer func() { _ = rdb.Close() }()

	eventually(t, "Applied and Ready", func() error {
		got := getRedisConfig(t, ns, "ext")
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionTrue, queueworkerv1alpha1.ReasonApplied); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady)
	})
	for key, want := range map[string]string{"maxmemory": "536870912", "maxmemory-policy": "noeviction",
		"appendonly": "yes", "appendfsync": "everysec", "timeout": "300", "tcp-keepalive": "300",
		"maxclients": "10000", "lazyfree-lazy-user-del": "yes"} {
		if got := configGet(t, rdb, key); got != want {
			t.Errorf("CONFIG GET %s = %q, want %q", key, got, want)
		}
	}
	if got := getRedisConfig(t, ns, "ext"); got.Status.Address != srv.Addr || got.Status.AppliedAt == nil {
		t.Errorf("status address %q appliedAt %v", got.Status.Address, got.Status.AppliedAt)
	}

	updateRedisConfig(t, ns, "ext", func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("1Gi")
		rc.Spec.Memory.MaxMemory = &q
		rc.Spec.Network.TCPBacklog = 2048
	})
	eventually(t, "the change reaches the server and tcp-backlog drifts", func() error {
		if v := configGet(t, rdb, "maxmemory"); v != "1073741824" {
			return fmt.Errorf("maxmemory %s", v)
		}
		got := getRedisConfig(t, ns, "ext")
		if len(got.Status.Drift) != 1 || got.Status.Drift[0].Key != "tcp-backlog" || got.Status.Drift[0].Reason != "RestartRequired" {
			return fmt.Errorf("drift %+v", got.Status.Drift)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionFalse, queueworkerv1alpha1.ReasonDrift)
	})

	sec.Data["password"] = []byte("wrong")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	// Secrets are not watched: a spec touch makes the next reconcile now.
	updateRedisConfig(t, ns, "ext", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Network.TCPBacklog = 511 })
	eventually(t, "a wrong password is reported", func() error {
		got := getRedisConfig(t, ns, "ext")
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionFalse, queueworkerv1alpha1.ReasonAuthFailed); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonAuthFailed)
	})
}

// ownSettings are the settings a Redis that predates the operator runs with,
// none of them Redis's default nor the one mode Managed would render.
var ownSettings = map[string]string{
	"maxmemory":        "104857600",
	"save":             "3600 1",
	"maxmemory-policy": "allkeys-lru",
	"appendonly":       "no",
	"maxclients":       "500",
}

// TestRedisConfigExternalChangesOnlyWhatIsSet: a minimal External
// RedisConfig (nothing but the address and the password the operator
// authenticates with) leaves every setting of an existing
// Redis as it was, and is Applied with nothing to apply. Its status shows
// what the server runs with: status.serverConfig, the memory limit, policy
// and persistence, and QueueSafe=False (one Warning event) because the
// server's own policy evicts. Setting memory.maxMemory later changes
// maxmemory and nothing else; setting memory.policy: noeviction makes the
// RedisConfig QueueSafe.
func TestRedisConfigExternalChangesOnlyWhatIsSet(t *testing.T) {
	srv, err := redistest.Start("maxmemory 100mb", "save 3600 1", "maxmemory-policy allkeys-lru",
		"appendonly no", "maxclients 500", "requirepass own-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "own-pass"})
	defer func() { _ = rdb.Close() }()
	before := map[string]string{}
	for _, key := range redisconf.TypedKeys() {
		before[key] = configGet(t, rdb, key)
	}
	for key, want := range ownSettings {
		if before[key] != want {
			t.Fatalf("the test server runs with %s %q, want %q", key, before[key], want)
		}
	}

	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "own", map[string]string{"password": "own-pass"}, queueworkerv1alpha1.KindRedisConfig))
	createObject(t, externalRedisConfig(ns, "own", srv.Addr, "own"))
	appliedAtGeneration(t, ns, "own")
	for _, key := range redisconf.TypedKeys() {
		if got := configGet(t, rdb, key); got != before[key] {
			t.Errorf("a minimal External RedisConfig changed %s from %q to %q", key, before[key], got)
		}
	}
	got := getRedisConfig(t, ns, "own")
	if err := rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady); err != nil {
		t.Error(err)
	}
	if len(got.Status.Drift) != 0 {
		t.Errorf("drift %+v, want none", got.Status.Drift)
	}
	if c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionApplied); c == nil ||
		!strings.HasPrefix(c.Message, "0 keys applied") {
		t.Errorf("Applied %+v, want 0 keys applied", c)
	}
	// Every typed key is unset, so status.serverConfig lists them all with
	// the server's values.
	if want := serverSettings(srv.Addr, before); !slices.Equal(got.Status.ServerConfig, want) {
		t.Errorf("status.serverConfig\n%+v\nwant\n%+v", got.Status.ServerConfig, want)
	}
	if got.Status.MaxMemory != "100Mi" || got.Status.Policy != "allkeys-lru" || got.Status.Persistence != "rdb" {
		t.Errorf("status maxMemory %q policy %q persistence %q, want the server's: 100Mi, allkeys-lru, rdb",
			got.Status.MaxMemory, got.Status.Policy, got.Status.Persistence)
	}
	if err := rcConditionIs(got, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionFalse,
		queueworkerv1alpha1.ReasonServerPolicyEvicts); err != nil {
		t.Error(err)
	} else if c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionQueueSafe); !strings.Contains(c.Message, "allkeys-lru on "+srv.Addr) ||
		!strings.Contains(c.Message, "set spec.memory.policy: noeviction") {
		t.Errorf("QueueSafe message %q names neither the server's policy nor the fix", c.Message)
	}

	updateRedisConfig(t, ns, "own", func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("256Mi")
		rc.Spec.Memory.MaxMemory = &q
	})
	appliedAtGeneration(t, ns, "own")
	for _, key := range redisconf.TypedKeys() {
		want := before[key]
		if key == "maxmemory" {
			want = "268435456"
		}
		if got := configGet(t, rdb, key); got != want {
			t.Errorf("after setting memory.maxMemory, %s = %q, want %q", key, got, want)
		}
	}
	got = getRedisConfig(t, ns, "own")
	unset := maps.Clone(before)
	delete(unset, "maxmemory")
	if want := serverSettings(srv.Addr, unset); !slices.Equal(got.Status.ServerConfig, want) {
		t.Errorf("status.serverConfig once maxMemory is set\n%+v\nwant\n%+v", got.Status.ServerConfig, want)
	}
	if got.Status.MaxMemory != "256Mi" {
		t.Errorf("status.maxMemory %q, want 256Mi", got.Status.MaxMemory)
	}

	// The fix the QueueSafe message names.
	updateRedisConfig(t, ns, "own", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Memory.Policy = "noeviction" })
	appliedAtGeneration(t, ns, "own")
	if v := configGet(t, rdb, "maxmemory-policy"); v != "noeviction" {
		t.Errorf("maxmemory-policy %q after setting memory.policy: noeviction", v)
	}
	got = getRedisConfig(t, ns, "own")
	if err := rcConditionIs(got, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionTrue, queueworkerv1alpha1.ReasonNoEviction); err != nil {
		t.Error(err)
	}
	warnings := 0
	for _, e := range eventsFor(t, ns, "own") {
		if e.Reason == queueworkerv1alpha1.ReasonServerPolicyEvicts {
			warnings++
			if e.Type != "Warning" {
				t.Errorf("%s event of type %s", e.Reason, e.Type)
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d %s events over three reconciled generations, want one, on the transition",
			warnings, queueworkerv1alpha1.ReasonServerPolicyEvicts)
	}
}

// serverSettings is status.serverConfig for one node with these values.
func serverSettings(node string, values map[string]string) []queueworkerv1alpha1.ServerSetting {
	out := make([]queueworkerv1alpha1.ServerSetting, 0, len(values))
	for _, key := range slices.Sorted(maps.Keys(values)) {
		out = append(out, queueworkerv1alpha1.ServerSetting{Key: key, Value: values[key], Node: node})
	}
	return out
}

// appliedAtGeneration waits until the RedisConfig's Applied condition is
// True for its current generation.
func appliedAtGeneration(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, "Applied for the current generation", func() error {
		got := getRedisConfig(t, ns, name)
		c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionApplied)
		if c == nil || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("Applied %+v at generation %d", c, got.Generation)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionApplied, metav1.ConditionTrue, queueworkerv1alpha1.ReasonApplied)
	})
}

// TestQueueWorkerWithConfigRef: a QueueWorker waits for its RedisConfig,
// then takes its address and password; the workers roll when the password
// changes.
func TestQueueWorkerWithConfigRef(t *testing.T) {
	srv, err := redistest.Start("requirepass first")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	qw := newQueueWorker(ns, "refd")
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "shared"}}
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Stalled: RedisConfig not found", func() error {
		return conditionIs(getQueueWorker(t, ns, "refd"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisConfigNotFound)
	})

	sec := usableSecret(ns, "shared-pw", map[string]string{"password": "first"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	rc := productionRedisConfig(ns, "shared")
	rc.Spec.Mode = queueworkerv1alpha1.RedisConfigExternal
	rc.Spec.External = &queueworkerv1alpha1.ExternalRedis{Addr: srv.Addr}
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "shared-pw", Key: "password"}}
	// The server has one user: the workers get the operator's password.
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{UseAdminCredentials: true}
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}
	var before string
	eventually(t, "Deployment from the RedisConfig", func() error {
		dep, err := getDeployment(t, ns, "refd")
		if err != nil {
			return err
		}
		env := envMap(&dep.Spec.Template.Spec.Containers[0])
		if env[contract.EnvRedisAddr].Value != srv.Addr {
			return fmt.Errorf("addr env %q", env[contract.EnvRedisAddr].Value)
		}
		pw := env[contract.EnvRedisPassword]
		if pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil || pw.ValueFrom.SecretKeyRef.Name != "shared-pw" {
			return fmt.Errorf("password env %+v", pw)
		}
		before = dep.Spec.Template.Annotations[resources.AnnotationSecretHash]
		return nil
	})
	eventually(t, "Stalled=False", func() error {
		return conditionIs(getQueueWorker(t, ns, "refd"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonReconciled)
	})

	sec.Data["password"] = []byte("second")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "workers roll on the new password", func() error {
		dep, err := getDeployment(t, ns, "refd")
		if err != nil {
			return err
		}
		if dep.Spec.Template.Annotations[resources.AnnotationSecretHash] == before {
			return errors.New("secret hash unchanged")
		}
		return nil
	})

}

// TestRedisConfigNameTooLongForManaged: a managed RedisConfig whose name
// cannot name its StatefulSet's pods, stored before the API server refused
// such names, is not rendered (InvalidName, one Warning event), and the
// operator creates none of its objects.
func TestRedisConfigNameTooLongForManaged(t *testing.T) {
	ns := createNamespace(t)
	name := "r" + strings.Repeat("0", resources.MaxRedisConfigNameLength)
	rc := &queueworkerv1alpha1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	probe := &queueworkerv1alpha1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "9redis"}}
	storeBeforeNameRules(t, "redisconfigs.queueworker.io", rc, probe)

	eventually(t, "Rendered and Ready False: InvalidName", func() error {
		got := getRedisConfig(t, ns, name)
		if err := rcConditionIs(got, queueworkerv1alpha1.ConditionRendered, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidName); err != nil {
			return err
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidName)
	})
	updateRedisConfig(t, ns, name, func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("64Mi")
		rc.Spec.Memory.MaxMemory = &q
	})
	eventually(t, "still InvalidName for the new generation", func() error {
		got := getRedisConfig(t, ns, name)
		c := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionReady)
		if c == nil || c.ObservedGeneration != got.Generation {
			return fmt.Errorf("Ready %+v at generation %d", c, got.Generation)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, queueworkerv1alpha1.ReasonInvalidName)
	})
	invalid := 0
	for _, e := range eventsFor(t, ns, name) {
		if e.Reason == queueworkerv1alpha1.ReasonInvalidName && e.Type == "Warning" {
			invalid++
		}
	}
	if invalid != 1 {
		t.Errorf("%d InvalidName Warning events, want one", invalid)
	}
	for _, path := range []string{"/api/v1/namespaces/" + ns + "/configmaps", "/api/v1/namespaces/" + ns + "/services",
		"/api/v1/namespaces/" + ns + "/secrets", "/apis/apps/v1/namespaces/" + ns + "/statefulsets"} {
		if n := createsOf(path); n != 0 {
			t.Errorf("the operator sent %d creates to %s", n, path)
		}
	}
}

// TestTCPBacklogWarningOncePerConfiguration: the TCPBacklogCapped Warning
// is emitted when a redis.conf with a capped tcp-backlog is written, not
// on every reconcile while the managed pod is not ready (the
// configuration has not reached the server); a new configuration with
// one earns another.
func TestTCPBacklogWarningOncePerConfiguration(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, productionRedisConfig(ns, "backlog"))
	key := types.NamespacedName{Namespace: ns, Name: "backlog-redis"}
	eventually(t, "StatefulSet", func() error { return k8sClient.Get(testCtx, key, &appsv1.StatefulSet{}) })
	eventually(t, "a TCPBacklogCapped Warning", func() error {
		if timesEmitted(t, ns, "backlog", queueworkerv1alpha1.ReasonTCPBacklogCapped) == 0 {
			return errors.New("none")
		}
		return nil
	})
	// kube-controller-manager reports the pod's progress; it never gets
	// ready.
	for i := range 5 {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			sts := &appsv1.StatefulSet{}
			if err := k8sClient.Get(testCtx, key, sts); err != nil {
				return err
			}
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1,
				CurrentRevision: fmt.Sprintf("backlog-redis-%d", i), UpdateRevision: fmt.Sprintf("backlog-redis-%d", i)}
			return k8sClient.Status().Update(testCtx, sts)
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if n := timesEmitted(t, ns, "backlog", queueworkerv1alpha1.ReasonTCPBacklogCapped); n != 1 {
		t.Errorf("%d TCPBacklogCapped Warnings for one configuration", n)
	}
	updateRedisConfig(t, ns, "backlog", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Network.TCPBacklog = 1024 })
	eventually(t, "a second TCPBacklogCapped Warning", func() error {
		if n := timesEmitted(t, ns, "backlog", queueworkerv1alpha1.ReasonTCPBacklogCapped); n != 2 {
			return fmt.Errorf("%d TCPBacklogCapped Warnings", n)
		}
		return nil
	})
}

// TestLabelledObjectsOfOthersLeftAlone: a StatefulSet and a Service that
// carry the operator's managed-by label (so its cache holds them) are
// neither deleted, changed nor adopted, the StatefulSet even with a plain
// (not controller) owner reference to the RedisConfig and other claim
// templates than it would write, which a persistence switch replaces: the
// RedisConfig stalls with ResourceConflict.
func TestLabelledObjectsOfOthersLeftAlone(t *testing.T) {
	ns := createNamespace(t)
	ours := map[string]string{resources.LabelManagedBy: resources.ManagerName}
	createObject(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other-redis", Labels: ours},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "x", Port: 1}}},
	})
	rc := productionRedisConfig(ns, "lbl")
	// Held before its objects are written: the password Secret is missing.
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{
		PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "lbl-pw", Key: "password"}}
	createObject(t, rc)
	eventually(t, "Stalled: SecretNotFound", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "lbl"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotFound)
	})
	owner := getRedisConfig(t, ns, "lbl")
	selector := map[string]string{"app": "foreign"}
	foreign := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lbl-redis", Labels: ours,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "queueworker.io/v1alpha1", Kind: "RedisConfig",
				Name: owner.Name, UID: owner.UID}}},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "example.com/x:1"}}}},
		},
	}
	createObject(t, foreign)
	createObject(t, usableSecret(ns, "lbl-pw", map[string]string{"password": "p"}, queueworkerv1alpha1.KindRedisConfig))
	eventually(t, "Stalled: ResourceConflict", func() error {
		return rcConditionIs(getRedisConfig(t, ns, "lbl"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonResourceConflict)
	})
	time.Sleep(2 * time.Second)
	got := &appsv1.StatefulSet{}
	if err := k8sClient.Get(testCtx, client.ObjectKeyFromObject(foreign), got); err != nil {
		t.Fatalf("the foreign StatefulSet: %v", err)
	}
	if got.UID != foreign.UID || !got.DeletionTimestamp.IsZero() || metav1.GetControllerOf(got) != nil ||
		got.Generation != foreign.Generation {
		t.Errorf("the foreign StatefulSet was touched: uid %s (was %s), deleting %v, controller %+v, generation %d (was %d)",
			got.UID, foreign.UID, got.DeletionTimestamp, metav1.GetControllerOf(got), got.Generation, foreign.Generation)
	}
	svc := &corev1.Service{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "other-redis"}, svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.OwnerReferences) != 0 {
		t.Errorf("an unrelated labelled Service was adopted: %+v", svc.OwnerReferences)
	}
}
