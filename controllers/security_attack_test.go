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

// Attacks on the Secret and image rules of docs/security.md, played with
// the suite's real parts: a kube-apiserver and etcd with both reconcilers
// running, real redis-server and redis-sentinel processes, and plain TCP
// listeners standing for a tenant's server.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// reset forgets what the listener received so far.
func (l *recordingListener) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got.Reset()
}

// count tells how often s was received.
func (l *recordingListener) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.got.Bytes(), []byte(s))
}

func secretRef(name, key string) *queueworkerv1alpha1.SecretKeyReference {
	return &queueworkerv1alpha1.SecretKeyReference{Name: name, Key: key}
}

// TestRevokedSecretStopsAutoscalerReads: once the Secret owner removes
// queueworker.io/usable-by, the QueueWorker stalls and the autoscaler
// stops sending the password.
func TestRevokedSecretStopsAutoscalerReads(t *testing.T) {
	ns := createNamespace(t)
	l := startRecordingListener(t)
	const pw = "revoked-pw-31f7c0"
	createObject(t, usableSecret(ns, "shared", map[string]string{"password": pw}, queueworkerv1alpha1.KindQueueWorker))
	qw := autoscaledQueueWorker(ns, "w", l.Addr(), queueworkerv1alpha1.Autoscaling{MaxReplicas: 2})
	qw.Spec.Redis.PasswordSecretRef = secretRef("shared", "password")
	createObject(t, qw)
	eventually(t, "the listener sees the (still allowed) password", func() error {
		if !l.saw(pw) {
			return errors.New("not yet")
		}
		return nil
	})

	annotateSecret(t, ns, "shared", nil)
	eventually(t, "the QueueWorker stalls with SecretNotAllowed", func() error {
		return conditionIs(getQueueWorker(t, ns, "w"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotAllowed)
	})
	l.reset()
	time.Sleep(5 * testSecretResync)
	if n := l.count(pw); n > 0 {
		t.Fatalf("%d AUTHs with the revoked password reached %s after the QueueWorker stalled", n, l.Addr())
	}
}

// TestRedisConfigSecretRevocationNoticed: revoking a RedisConfig's
// Secrets takes effect within the Secret resync period whatever the
// RedisConfig's recheckInterval: the RedisConfig and its QueueWorkers
// stall, the operator stops logging in with the revoked credentials, and
// a QueueWorker created afterwards gets nothing from them.
func TestRedisConfigSecretRevocationNoticed(t *testing.T) {
	srv, err := redistest.Start("requirepass admin-pass-r3v0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "admin-pass-r3v0"})
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.Do(testCtx, "ACL", "SETUSER", "revworker", "on", ">worker-pass-r3v0", "~asynq:*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "admin", map[string]string{"password": "admin-pass-r3v0"}, queueworkerv1alpha1.KindRedisConfig))
	createObject(t, usableSecret(ns, "worker", map[string]string{"pw": "worker-pass-r3v0"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker))
	rc := externalRedisConfig(ns, "rev", srv.Addr, "admin")
	rc.Spec.External.RecheckInterval = &metav1.Duration{Duration: time.Hour}
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{Username: "revworker", PasswordSecretRef: secretRef("worker", "pw")}
	createObject(t, rc)
	qw := autoscaledQueueWorker(ns, "early", "unused:1", queueworkerv1alpha1.Autoscaling{MaxReplicas: 2})
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "rev"}}
	createObject(t, qw)
	eventually(t, "the autoscaler reads the queues as the client user", func() error {
		return conditionIs(getQueueWorker(t, ns, "early"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})

	annotateSecret(t, ns, "admin", nil)
	annotateSecret(t, ns, "worker", nil)
	waitRedisConfigReason(t, ns, "rev", queueworkerv1alpha1.ReasonSecretNotAllowed)
	eventually(t, "the QueueWorker stalls", func() error {
		if c := findCondition(getQueueWorker(t, ns, "early"), queueworkerv1alpha1.ConditionStalled); c == nil ||
			c.Status != metav1.ConditionTrue {
			return fmt.Errorf("stalled %+v", c)
		}
		return nil
	})
	// Drop the operator's connections and watch whether it logs in again.
	if err := admin.Do(testCtx, "CLIENT", "KILL", "USER", "revworker").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * testSecretResync)
	for time.Now().Before(deadline) {
		list, err := admin.ClientList(testCtx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(list, "user=revworker") {
			t.Fatal("after the revocation the operator logged in again with the revoked password")
		}
		time.Sleep(100 * time.Millisecond)
	}

	late := newQueueWorker(ns, "late")
	late.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "rev"}}
	createObject(t, late)
	eventually(t, "the late QueueWorker stalls", func() error {
		return conditionIs(getQueueWorker(t, ns, "late"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisConfigNotReady)
	})
	if _, err := getDeployment(t, ns, "late"); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment for a QueueWorker created after the revocation: %v", err)
	}
}

// TestImageAllowListByReference: images are compared as references, not
// strings: a registry host named "redis" is not the official image.
func TestImageAllowListByReference(t *testing.T) {
	for _, image := range []string{
		"redis:5000/attacker/exfil:1",
		"redis:443/anything",
		"redis:80/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"docker.io/library/redis-evil:1", "docker.io/library/redisx", "oliver006/redis_exporterx:1",
		"evil.io/redis:7.4", "REDIS:7.4", "Redis:7.4", "localhost/redis:7", "redis/redis:7",
	} {
		if imageAllowed(image, DefaultAllowedImages) {
			t.Errorf("imageAllowed(%q, DefaultAllowedImages) = true", image)
		}
	}
	for _, image := range []string{"redis", "redis:7.4", "docker.io/library/redis:7.2-alpine", "index.docker.io/library/redis:7",
		"redis@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"oliver006/redis_exporter:v1.62.0", "docker.io/oliver006/redis_exporter"} {
		if !imageAllowed(image, DefaultAllowedImages) {
			t.Errorf("imageAllowed(%q, DefaultAllowedImages) = false", image)
		}
	}
	pinned := []string{"redis:7.4", "mirror.example:5000/cache/*",
		"exporter@sha256:1111111111111111111111111111111111111111111111111111111111111111"}
	for image, want := range map[string]bool{
		"redis:7.4": true, "docker.io/library/redis:7.4": true, "redis:7.4.1": false, "redis": false,
		"mirror.example:5000/cache/redis:7": true, "mirror.example:5000/cache/a/b:1": true,
		"mirror.example:5000/cachex/redis:7": false, "mirror.example/cache/redis:7": false,
		"exporter@sha256:1111111111111111111111111111111111111111111111111111111111111111": true,
		"exporter:latest": false,
	} {
		if got := imageAllowed(image, pinned); got != want {
			t.Errorf("imageAllowed(%q, %q) = %v, want %v", image, pinned, got, want)
		}
	}
	if err := CheckImagePatterns([]string{"redis:*"}); err == nil {
		t.Error(`CheckImagePatterns accepted "redis:*"`)
	}
	if err := CheckImagePatterns(append(DefaultAllowedImages, "*", "registry.example.com/mirror/*", "redis:7.4")); err != nil {
		t.Error(err)
	}
}

// TestManagedRedisForeignRegistryRefused: end to end, an image of a
// registry called "redis" never runs with the managed Secrets mounted.
func TestManagedRedisForeignRegistryRefused(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "certs", map[string]string{"tls.crt": "c", "tls.key": "PRIVATE-KEY", "ca.crt": "a"},
		queueworkerv1alpha1.KindRedisConfig))
	rc := productionRedisConfig(ns, "exfil")
	rc.Spec.Managed = &queueworkerv1alpha1.ManagedRedis{Image: "redis:5000/attacker/exfil:1"}
	rc.Spec.TLS = &queueworkerv1alpha1.RedisServerTLS{CertSecretName: "certs"}
	createObject(t, rc)
	waitRedisConfigReason(t, ns, "exfil", queueworkerv1alpha1.ReasonImageNotAllowed)
	sts := &appsv1.StatefulSet{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "exfil-redis"}, sts); !apierrors.IsNotFound(err) {
		t.Fatalf("StatefulSet of a refused image: %v", err)
	}
}

// startSentinel runs a real redis-sentinel (redis-server --sentinel) on a
// free loopback port, monitoring the given masters (name -> ip:port).
func startSentinel(t *testing.T, masters map[string]string) string {
	t.Helper()
	srv, err := redistest.StartSentinel(masters)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.Addr
}

// TestSentinelMasterMustBePinned: a password pinned to a sentinel is not
// sent to whatever master that sentinel names: a tenant who registers a
// master of their own (SENTINEL MONITOR on an unauthenticated sentinel)
// gets nothing, because the operator's client dials only pinned addresses.
func TestSentinelMasterMustBePinned(t *testing.T) {
	ns := createNamespace(t)
	sentinel := startSentinel(t, map[string]string{"orders": redisServer.Addr})
	l := startRecordingListener(t)
	attacker := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	t.Cleanup(func() { _ = attacker.Close() })
	host, port, _ := net.SplitHostPort(l.Addr())
	if err := attacker.Monitor(testCtx, "evil", host, port, "1").Err(); err != nil {
		t.Fatalf("SENTINEL MONITOR: %v", err)
	}

	const qwPW, adminPW = "orders-workers-pw-5e7a", "orders-admin-pw-0b19"
	pinned := func(name, kind, pw string) *corev1.Secret {
		s := usableSecret(ns, name, map[string]string{"password": pw}, kind)
		s.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith] = sentinel
		return s
	}
	createObject(t, pinned("orders-workers", queueworkerv1alpha1.KindQueueWorker, qwPW))
	createObject(t, pinned("orders-admin", queueworkerv1alpha1.KindRedisConfig, adminPW))

	qw := autoscaledQueueWorker(ns, "thief", "", queueworkerv1alpha1.Autoscaling{MaxReplicas: 1})
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{
		Sentinel:          &queueworkerv1alpha1.RedisSentinel{MasterName: "evil", Addrs: []string{sentinel}},
		PasswordSecretRef: secretRef("orders-workers", "password"),
	}
	createObject(t, qw)
	rc := &queueworkerv1alpha1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "thief"}}
	rc.Spec.Mode = queueworkerv1alpha1.RedisConfigExternal
	rc.Spec.External = &queueworkerv1alpha1.ExternalRedis{
		Sentinel: &queueworkerv1alpha1.RedisSentinel{MasterName: "evil", Addrs: []string{sentinel}}}
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: secretRef("orders-admin", "password")}
	createObject(t, rc)

	eventually(t, "the QueueWorker's reads are refused", func() error {
		c := findCondition(getQueueWorker(t, ns, "thief"), queueworkerv1alpha1.ConditionRedisReachable)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "not allowed") {
			return fmt.Errorf("RedisReachable %+v", c)
		}
		return nil
	})
	eventually(t, "the RedisConfig cannot apply", func() error {
		c := rcCondition(getRedisConfig(t, ns, "thief"), queueworkerv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "not allowed") {
			return fmt.Errorf("Ready %+v", c)
		}
		return nil
	})
	for _, pw := range []string{qwPW, adminPW} {
		if l.saw(pw) {
			t.Errorf("%s, pinned to sentinel %s, reached the master it named (%s)", pw, sentinel, l.Addr())
		}
	}
}

// TestPasswordlessExternalRefused: without a password nothing shows that
// the author may configure a server; the operator refuses it unless told
// otherwise, and the server keeps its settings and data.
func TestPasswordlessExternalRefused(t *testing.T) {
	victim, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = victim.Close() })
	vc := redis.NewClient(&redis.Options{Addr: victim.Addr})
	t.Cleanup(func() { _ = vc.Close() })
	for i := range 200 {
		if err := vc.Set(testCtx, fmt.Sprintf("orders:%d", i), strings.Repeat("x", 1024), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ns := createNamespace(t)
	mem := resource.MustParse("1Mi")
	rc := externalRedisConfig(ns, "squat", victim.Addr, "")
	rc.Spec.Memory = queueworkerv1alpha1.RedisMemory{MaxMemory: &mem, Policy: "allkeys-lru", AllowEviction: true}
	createObject(t, rc)
	waitRedisConfigReason(t, ns, "squat", queueworkerv1alpha1.ReasonPasswordRequired)
	time.Sleep(2 * testSecretResync)
	if maxmem, policy := configGet(t, vc, "maxmemory"), configGet(t, vc, "maxmemory-policy"); maxmem != "0" || policy != "noeviction" {
		t.Fatalf("a password-less RedisConfig changed the server: maxmemory=%s maxmemory-policy=%s", maxmem, policy)
	}
	if n, _ := vc.DBSize(testCtx).Result(); n != 200 {
		t.Fatalf("%d keys left of 200", n)
	}

	// An operator told to allow it configures the server.
	r := &RedisConfigReconciler{Client: k8sClient, APIReader: k8sClient, AllowPasswordlessExternal: true}
	if err := r.readAuth(testCtx, &redisConfigState{rc: getRedisConfig(t, ns, "squat")}); err != nil {
		t.Fatalf("with --allow-passwordless-external-redis: %v", err)
	}
}

// TestRedisConfigOnlySecretNeverReachesWorkers: a Secret allowed for
// RedisConfigs only (an admin password, as docs/security.md recommends)
// does not reach worker pods through redis.configRef either: the Secrets a
// RedisConfig publishes to its QueueWorkers must allow QueueWorkers.
func TestRedisConfigOnlySecretNeverReachesWorkers(t *testing.T) {
	srv, err := redistest.Start("requirepass prod-admin-pw-c4d2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	sec := usableSecret(ns, "prod-admin", map[string]string{"password": "prod-admin-pw-c4d2"}, queueworkerv1alpha1.KindRedisConfig)
	sec.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith] = srv.Addr
	createObject(t, sec)
	rc := externalRedisConfig(ns, "prod", srv.Addr, "prod-admin")
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{PasswordSecretRef: secretRef("prod-admin", "password")}
	createObject(t, rc)

	exfil := newQueueWorker(ns, "exfil")
	exfil.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "prod"}}
	exfil.Spec.Template.Spec.Containers[0].Image = "attacker.example/exfil:latest"
	createObject(t, exfil)
	var msg string
	eventually(t, "the QueueWorker is refused the RedisConfig's Secret", func() error {
		c := findCondition(getQueueWorker(t, ns, "exfil"), queueworkerv1alpha1.ConditionStalled)
		if c == nil || c.Reason != queueworkerv1alpha1.ReasonSecretNotAllowed {
			return fmt.Errorf("stalled %+v", c)
		}
		msg = c.Message
		return nil
	})
	if !strings.Contains(msg, `RedisConfig "prod"`) {
		t.Errorf("message %q does not say where the Secret came from", msg)
	}
	if dep, err := getDeployment(t, ns, "exfil"); err == nil {
		if ref := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvRedisPassword].ValueFrom; ref != nil {
			t.Fatalf("worker env names %+v", ref.SecretKeyRef)
		}
	}
}

// TestStallMessagesDoNotEchoPins: the addresses a Secret is pinned to are
// not shown to authors who may not read the Secret. (Whether a Secret of
// some name exists does show, as SecretNotFound or SecretNotAllowed: the
// difference is what tells the author what to ask for.)
func TestStallMessagesDoNotEchoPins(t *testing.T) {
	ns := createNamespace(t)
	pinned := usableSecret(ns, "pinned", map[string]string{"password": "x"}, queueworkerv1alpha1.KindQueueWorker)
	pinned.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith] = "10.20.30.40:6379,payments-redis.internal:6380"
	createObject(t, pinned)
	qw := newQueueWorker(ns, "probe")
	qw.Spec.Redis.PasswordSecretRef = secretRef("pinned", "password")
	createObject(t, qw)
	var c *metav1.Condition
	eventually(t, "the probe stalls", func() error {
		c = findCondition(getQueueWorker(t, ns, "probe"), queueworkerv1alpha1.ConditionStalled)
		if c == nil || c.Reason != queueworkerv1alpha1.ReasonSecretNotAllowed {
			return fmt.Errorf("%+v", c)
		}
		return nil
	})
	for _, pin := range []string{"10.20.30.40", "payments-redis.internal"} {
		if strings.Contains(c.Message, pin) {
			t.Errorf("the condition shows the pinned address %s: %s", pin, c.Message)
		}
	}
	for _, e := range eventsFor(t, ns, "probe") {
		if strings.Contains(e.Note, "payments-redis.internal") {
			t.Errorf("an event shows the pinned address: %s", e.Note)
		}
	}
}

// TestAnnotationParsing: whitespace and blanks are trimmed, kinds are
// case-sensitive, and no address written differently from the pin passes.
func TestAnnotationParsing(t *testing.T) {
	by, with := queueworkerv1alpha1.AnnotationSecretUsableBy, queueworkerv1alpha1.AnnotationSecretUsableWith
	sec := func(kinds, pins string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{by: kinds, with: pins}}}
	}
	use := func(addrs ...string) secretUse {
		return secretUse{kind: queueworkerv1alpha1.KindQueueWorker, field: "f", sendTo: addrs}
	}
	if err := checkSecretUse(sec(" , QueueWorker ,", " redis.prod.svc:6379 ,"), use("REDIS.prod.svc:6379")); err != nil {
		t.Errorf("trimmed list refused: %v", err)
	}
	for _, addr := range []string{
		"redis.prod.svc.:6379", "redis.prod.svc.cluster.local:6379", "redis.prod.svc:06379", "redis.prod.svc:6379 ",
		"redis.prod.svc:6379,evil:1", "[::ffff:10.0.0.1]:6379", "redis.prod.svc:6379\x00evil", "redis.prod.svc:6379/0",
		"user@redis.prod.svc:6379", "redis.prod.svc:6379:6380", "redis.prod.svc%2e:6379", "redis.prod.svc:\uff16\uff13\uff17\uff19",
	} {
		if err := checkSecretUse(sec("QueueWorker", "redis.prod.svc:6379,10.0.0.1:6379"), use(addr)); err == nil {
			t.Errorf("%q passed a pin to redis.prod.svc:6379", addr)
		}
	}
	if err := checkSecretUse(sec("queueworker,QUEUEWORKER,QueueWorkers", ""), use("a:1")); err == nil {
		t.Error("kind matched case-insensitively or as a prefix")
	}
}

// TestRedisConfigMovedAwayLeaksNothing: a RedisConfig whose Secrets are
// pinned to its server is moved to a tenant's listener, back and forth
// and then for good. It stalls, its QueueWorkers wait, and neither the
// operator nor the autoscaler sends a password to the listener.
func TestRedisConfigMovedAwayLeaksNothing(t *testing.T) {
	srv, err := redistest.Start("requirepass admin-mv-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	l := startRecordingListener(t)
	s := usableSecret(ns, "admin", map[string]string{"password": "admin-mv-1"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker)
	s.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith] = srv.Addr
	createObject(t, s)
	rc := externalRedisConfig(ns, "mv", srv.Addr, "admin")
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{UseAdminCredentials: true}
	createObject(t, rc)
	qw := autoscaledQueueWorker(ns, "mv", "", queueworkerv1alpha1.Autoscaling{MaxReplicas: 1})
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "mv"}}
	createObject(t, qw)
	eventually(t, "the QueueWorker reads the queues", func() error {
		return conditionIs(getQueueWorker(t, ns, "mv"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	for range 3 {
		updateRedisConfig(t, ns, "mv", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.External.Addr = l.Addr() })
		time.Sleep(300 * time.Millisecond)
		updateRedisConfig(t, ns, "mv", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.External.Addr = srv.Addr })
		time.Sleep(300 * time.Millisecond)
	}
	updateRedisConfig(t, ns, "mv", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.External.Addr = l.Addr() })
	waitRedisConfigReason(t, ns, "mv", queueworkerv1alpha1.ReasonSecretNotAllowed)
	time.Sleep(3 * testSecretResync)
	if l.saw("admin-mv-1") {
		t.Error("the password reached the listener")
	}
	if dep, err := getDeployment(t, ns, "mv"); err == nil {
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if strings.Contains(e.Value, l.Addr()) {
				t.Errorf("worker env %s points at the listener", e.Name)
			}
		}
	}
}
