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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// usableSecret builds a Secret that the given kinds may use.
func usableSecret(ns, name string, data map[string]string, kinds ...string) *corev1.Secret {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		sec.Data[k] = []byte(v)
	}
	if len(kinds) > 0 {
		sec.Annotations = map[string]string{queueworkerv1alpha1.AnnotationSecretUsableBy: strings.Join(kinds, ",")}
	}
	return sec
}

func createObject(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(testCtx, obj); err != nil {
		t.Fatal(err)
	}
}

// annotateSecret replaces the Secret's annotations.
func annotateSecret(t *testing.T, ns, name string, annotations map[string]string) {
	t.Helper()
	sec := &corev1.Secret{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Annotations = annotations
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
}

// recordingListener stands for a listener of someone who wants passwords:
// it accepts TCP connections and keeps every byte it is sent.
type recordingListener struct {
	ln  net.Listener
	mu  sync.Mutex
	got bytes.Buffer
}

func startRecordingListener(t *testing.T) *recordingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &recordingListener{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go l.serve(conn)
		}
	}()
	return l
}

func (l *recordingListener) serve(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			l.mu.Lock()
			l.got.Write(buf[:n])
			l.mu.Unlock()
			// Any reply will do: the client only has to send its AUTH.
			_, _ = conn.Write([]byte("-ERR unknown command\r\n"))
		}
		if err != nil {
			return
		}
	}
}

func (l *recordingListener) Addr() string { return l.ln.Addr().String() }

func (l *recordingListener) saw(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.got.Bytes(), []byte(s))
}

func TestCheckSecretUse(t *testing.T) {
	qw, rc := queueworkerv1alpha1.KindQueueWorker, queueworkerv1alpha1.KindRedisConfig
	by, with := queueworkerv1alpha1.AnnotationSecretUsableBy, queueworkerv1alpha1.AnnotationSecretUsableWith
	tests := []struct {
		name        string
		annotations map[string]string
		use         secretUse
		wantErr     string
	}{
		{"no annotation", nil, secretUse{kind: qw, sendTo: []string{"r:6379"}}, "does not allow QueueWorkers"},
		{"other kind", map[string]string{by: rc}, secretUse{kind: qw}, "does not allow QueueWorkers"},
		{"kind listed", map[string]string{by: rc + ", " + qw}, secretUse{kind: qw, sendTo: []string{"r:6379"}}, ""},
		{"kind is case sensitive", map[string]string{by: "queueworker"}, secretUse{kind: qw}, "does not allow"},
		{"empty list", map[string]string{by: " , "}, secretUse{kind: rc}, "does not allow"},
		{"pinned address matches", map[string]string{by: rc, with: "a:1, R.example:6379"},
			secretUse{kind: rc, sendTo: []string{"r.example:6379"}}, ""},
		{"pinned address differs", map[string]string{by: rc, with: "a:1"},
			secretUse{kind: rc, sendTo: []string{"evil:6379"}}, "may not be sent to evil:6379"},
		{"every sentinel must be pinned", map[string]string{by: rc, with: "s1:26379"},
			secretUse{kind: rc, sendTo: []string{"s1:26379", "s2:26379"}}, "may not be sent to s2:26379"},
		{"empty pin allows nothing", map[string]string{by: qw, with: ""},
			secretUse{kind: qw, sendTo: []string{"r:6379"}}, "may not be sent to r:6379"},
		{"a CA is not sent anywhere", map[string]string{by: qw, with: "a:1"}, secretUse{kind: qw}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: tt.annotations}}
			err := checkSecretUse(sec, tt.use)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			se, ok := errors.AsType[*stallError](err)
			if !ok || se.reason != queueworkerv1alpha1.ReasonSecretNotAllowed || !strings.Contains(se.msg, tt.wantErr) {
				t.Fatalf("error %v, want a SecretNotAllowed stall containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRedisConfigReady(t *testing.T) {
	ready := func(gen, observed, condGen int64, status metav1.ConditionStatus) *queueworkerv1alpha1.RedisConfig {
		rc := &queueworkerv1alpha1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Generation: gen}}
		rc.Status.Address = "r:6379"
		rc.Status.ObservedGeneration = observed
		rc.Status.Conditions = []metav1.Condition{{Type: queueworkerv1alpha1.ConditionReady, Status: status,
			ObservedGeneration: condGen, Reason: "R", Message: "m"}}
		return rc
	}
	tests := []struct {
		name string
		rc   *queueworkerv1alpha1.RedisConfig
		want bool
	}{
		{"ready", ready(2, 2, 2, metav1.ConditionTrue), true},
		{"spec changed since the status", ready(3, 2, 2, metav1.ConditionTrue), false},
		{"condition of an older generation", ready(3, 3, 2, metav1.ConditionTrue), false},
		{"not ready", ready(2, 2, 2, metav1.ConditionFalse), false},
		{"no status", &queueworkerv1alpha1.RedisConfig{}, false},
	}
	for _, tt := range tests {
		if _, got := redisConfigReady(tt.rc); got != tt.want {
			t.Errorf("%s: ready %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestQueueWorkerSecretMustAllowUse: a Secret named in spec.redis is used
// only when it allows QueueWorkers (and the address). Until then neither
// the workers nor the operator's autoscaler get it: a listener at the
// QueueWorker's address never sees the password, while it does see the
// password of a QueueWorker whose Secret allows it.
func TestQueueWorkerSecretMustAllowUse(t *testing.T) {
	ns := createNamespace(t)
	l := startRecordingListener(t)
	as := queueworkerv1alpha1.Autoscaling{MaxReplicas: 3}

	createObject(t, usableSecret(ns, "victim", map[string]string{"password": "victim-password-8d1f"}))
	victim := autoscaledQueueWorker(ns, "victim", l.Addr(), as)
	victim.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "victim", Key: "password"}
	createObject(t, victim)

	createObject(t, usableSecret(ns, "control", map[string]string{"password": "control-password-27c4"},
		queueworkerv1alpha1.KindQueueWorker))
	control := autoscaledQueueWorker(ns, "control", l.Addr(), as)
	control.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "control", Key: "password"}
	createObject(t, control)

	eventually(t, "the victim stalls with SecretNotAllowed", func() error {
		return conditionIs(getQueueWorker(t, ns, "victim"), queueworkerv1alpha1.ConditionStalled,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonSecretNotAllowed)
	})
	eventually(t, "the listener sees the allowed password", func() error {
		if !l.saw("control-password-27c4") {
			return errors.New("not yet")
		}
		return nil
	})
	// A few more stalled retries (1s each in tests) must not send it either.
	time.Sleep(3 * testStalledRetry)
	if l.saw("victim-password-8d1f") {
		t.Fatal("the operator sent a Secret that does not allow QueueWorkers to an address of the QueueWorker's choice")
	}
	if _, err := getDeployment(t, ns, "victim"); !apierrors.IsNotFound(err) {
		t.Fatalf("a Deployment for the victim: %v", err)
	}
	if err := hasEvent(t, ns, "victim", queueworkerv1alpha1.ReasonSecretNotAllowed); err != nil {
		t.Error(err)
	}

	// Allowed for RedisConfigs only: still refused.
	annotateSecret(t, ns, "victim", map[string]string{queueworkerv1alpha1.AnnotationSecretUsableBy: queueworkerv1alpha1.KindRedisConfig})
	// Allowed for QueueWorkers, but pinned to another address: refused.
	annotateSecret(t, ns, "victim", map[string]string{
		queueworkerv1alpha1.AnnotationSecretUsableBy:   queueworkerv1alpha1.KindQueueWorker,
		queueworkerv1alpha1.AnnotationSecretUsableWith: "redis.prod.svc:6379",
	})
	eventually(t, "the stall names the pin", func() error {
		c := findCondition(getQueueWorker(t, ns, "victim"), queueworkerv1alpha1.ConditionStalled)
		if c == nil || c.Reason != queueworkerv1alpha1.ReasonSecretNotAllowed ||
			!strings.Contains(c.Message, queueworkerv1alpha1.AnnotationSecretUsableWith) {
			return fmt.Errorf("stalled %+v", c)
		}
		return nil
	})
	if l.saw("victim-password-8d1f") {
		t.Fatal("the password was sent to an address its Secret does not allow")
	}

	// Pinned to the QueueWorker's address: used.
	annotateSecret(t, ns, "victim", map[string]string{
		queueworkerv1alpha1.AnnotationSecretUsableBy:   queueworkerv1alpha1.KindQueueWorker,
		queueworkerv1alpha1.AnnotationSecretUsableWith: "redis.prod.svc:6379," + l.Addr(),
	})
	eventually(t, "the Deployment once the Secret allows it", func() error {
		_, err := getDeployment(t, ns, "victim")
		return err
	})
}

func findCondition(qw *queueworkerv1alpha1.QueueWorker, condType string) *metav1.Condition {
	for i := range qw.Status.Conditions {
		if qw.Status.Conditions[i].Type == condType {
			return &qw.Status.Conditions[i]
		}
	}
	return nil
}

func rcCondition(rc *queueworkerv1alpha1.RedisConfig, condType string) *metav1.Condition {
	for i := range rc.Status.Conditions {
		if rc.Status.Conditions[i].Type == condType {
			return &rc.Status.Conditions[i]
		}
	}
	return nil
}

// externalRedisConfig is a minimal External RedisConfig whose operator
// password is in the Secret named secret.
func externalRedisConfig(ns, name, addr, secret string) *queueworkerv1alpha1.RedisConfig {
	rc := &queueworkerv1alpha1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	rc.Spec.Mode = queueworkerv1alpha1.RedisConfigExternal
	rc.Spec.External = &queueworkerv1alpha1.ExternalRedis{Addr: addr}
	if secret != "" {
		rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: secret, Key: "password"}}
	}
	return rc
}

// waitRedisConfigReason waits until the RedisConfig's Ready condition is
// False with reason, and returns its message.
func waitRedisConfigReason(t *testing.T, ns, name, reason string) string {
	t.Helper()
	var msg string
	eventually(t, name+": Ready=False "+reason, func() error {
		c := rcCondition(getRedisConfig(t, ns, name), queueworkerv1alpha1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason {
			return fmt.Errorf("ready %+v", c)
		}
		msg = c.Message
		return nil
	})
	return msg
}

// TestRedisConfigSecretMustAllowUse: an External RedisConfig sends its
// password (AUTH) only when the Secret allows RedisConfigs and the address.
func TestRedisConfigSecretMustAllowUse(t *testing.T) {
	ns := createNamespace(t)
	l := startRecordingListener(t)

	createObject(t, usableSecret(ns, "victim", map[string]string{"password": "rc-victim-4b2e"}))
	createObject(t, externalRedisConfig(ns, "victim", l.Addr(), "victim"))
	createObject(t, usableSecret(ns, "control", map[string]string{"password": "rc-control-91aa"}, queueworkerv1alpha1.KindRedisConfig))
	createObject(t, externalRedisConfig(ns, "control", l.Addr(), "control"))
	// A Secret for QueueWorkers is not one for RedisConfigs.
	createObject(t, usableSecret(ns, "forqw", map[string]string{"password": "rc-forqw-77d0"}, queueworkerv1alpha1.KindQueueWorker))
	createObject(t, externalRedisConfig(ns, "forqw", l.Addr(), "forqw"))
	// Pinned elsewhere.
	pinned := usableSecret(ns, "pinned", map[string]string{"password": "rc-pinned-0c3d"}, queueworkerv1alpha1.KindRedisConfig)
	pinned.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith] = "10.0.0.1:6379"
	createObject(t, pinned)
	createObject(t, externalRedisConfig(ns, "pinned", l.Addr(), "pinned"))

	for _, name := range []string{"victim", "forqw", "pinned"} {
		msg := waitRedisConfigReason(t, ns, name, queueworkerv1alpha1.ReasonSecretNotAllowed)
		if name == "pinned" && !strings.Contains(msg, queueworkerv1alpha1.AnnotationSecretUsableWith) {
			t.Errorf("pinned: message %q does not name the pin", msg)
		}
	}
	eventually(t, "the listener sees the allowed password", func() error {
		if !l.saw("rc-control-91aa") {
			return errors.New("not yet")
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	for _, pw := range []string{"rc-victim-4b2e", "rc-forqw-77d0", "rc-pinned-0c3d"} {
		if l.saw(pw) {
			t.Errorf("the operator sent %s, whose Secret does not allow it", pw)
		}
	}
}

// TestManagedRedisImageNotAllowed: a Managed RedisConfig runs only images
// on the operator's allow-list; nothing is written until it does.
func TestManagedRedisImageNotAllowed(t *testing.T) {
	ns := createNamespace(t)
	rc := productionRedisConfig(ns, "img")
	rc.Spec.Managed = &queueworkerv1alpha1.ManagedRedis{Image: "attacker.example/redis:7.4"}
	createObject(t, rc)
	msg := waitRedisConfigReason(t, ns, "img", queueworkerv1alpha1.ReasonImageNotAllowed)
	if !strings.Contains(msg, "attacker.example/redis:7.4") {
		t.Errorf("message %q does not name the image", msg)
	}
	// The exporter image is checked too.
	updateRedisConfig(t, ns, "img", func(rc *queueworkerv1alpha1.RedisConfig) {
		rc.Spec.Managed.Image = "redis:7.2"
		rc.Spec.Managed.Exporter = &queueworkerv1alpha1.RedisExporter{Enabled: true, Image: "attacker.example/exporter:1"}
	})
	eventually(t, "the exporter image is refused", func() error {
		c := rcCondition(getRedisConfig(t, ns, "img"), queueworkerv1alpha1.ConditionReady)
		if c == nil || c.Reason != queueworkerv1alpha1.ReasonImageNotAllowed || !strings.Contains(c.Message, "attacker.example/exporter:1") {
			return fmt.Errorf("ready %+v", c)
		}
		return nil
	})
	sts := &appsv1.StatefulSet{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "img-redis"}, sts); !apierrors.IsNotFound(err) {
		t.Fatalf("StatefulSet with a refused image: %v", err)
	}
	updateRedisConfig(t, ns, "img", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Managed.Exporter.Image = "" })
	eventually(t, "the StatefulSet once every image is allowed", func() error {
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "img-redis"}, sts)
	})
	if got := sts.Spec.Template.Spec.Containers[0].Image; got != "redis:7.2" {
		t.Errorf("image %q", got)
	}
}

// TestManagedRedisTLSSecretMustAllowUse: the certificate Secret a managed
// Redis mounts must allow RedisConfigs, and must hold all three keys.
func TestManagedRedisTLSSecretMustAllowUse(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "certs", map[string]string{"tls.crt": "c", "tls.key": "k", "ca.crt": "a"}))
	rc := productionRedisConfig(ns, "tls")
	rc.Spec.TLS = &queueworkerv1alpha1.RedisServerTLS{CertSecretName: "certs"}
	createObject(t, rc)
	waitRedisConfigReason(t, ns, "tls", queueworkerv1alpha1.ReasonSecretNotAllowed)
	sts := &appsv1.StatefulSet{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "tls-redis"}, sts); !apierrors.IsNotFound(err) {
		t.Fatalf("StatefulSet mounting a Secret that does not allow it: %v", err)
	}
	sec := &corev1.Secret{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "certs"}, sec); err != nil {
		t.Fatal(err)
	}
	sec.Annotations = map[string]string{queueworkerv1alpha1.AnnotationSecretUsableBy: queueworkerv1alpha1.KindRedisConfig}
	delete(sec.Data, "tls.key")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	updateRedisConfig(t, ns, "tls", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.Network.TCPBacklog = 512 })
	waitRedisConfigReason(t, ns, "tls", queueworkerv1alpha1.ReasonSecretKeyNotFound)
	sec.Data["tls.key"] = []byte("k")
	if err := k8sClient.Update(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the StatefulSet once the Secret allows it", func() error {
		return k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "tls-redis"}, sts)
	})
}

// TestRedisConfigNeverAdoptsForeignObjects: a Secret or ConfigMap with the
// name the operator would write, not controlled by the RedisConfig, is
// neither read, updated nor adopted; the RedisConfig stalls with
// ResourceConflict.
func TestRedisConfigNeverAdoptsForeignObjects(t *testing.T) {
	ns := createNamespace(t)

	// The generated password Secret.
	createObject(t, usableSecret(ns, "gen-redis-auth", map[string]string{"password": "chosen-by-someone-else"}))
	createObject(t, productionRedisConfig(ns, "gen"))
	msg := waitRedisConfigReason(t, ns, "gen", queueworkerv1alpha1.ReasonResourceConflict)
	if !strings.Contains(msg, "gen-redis-auth") {
		t.Errorf("message %q does not name the Secret", msg)
	}
	if got := getRedisConfig(t, ns, "gen"); got.Status.PasswordSecretRef != nil {
		t.Errorf("status hands clients the foreign Secret: %+v", got.Status.PasswordSecretRef)
	}

	// The derived password-file Secret of a user password.
	createObject(t, usableSecret(ns, "mine", map[string]string{"password": "mine-pw"}, queueworkerv1alpha1.KindRedisConfig))
	createObject(t, usableSecret(ns, "conf-redis-auth-conf", map[string]string{"password": "keep", "requirepass.conf": "keep"}))
	rc := productionRedisConfig(ns, "conf")
	rc.Spec.Auth = &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "mine", Key: "password"}}
	createObject(t, rc)
	waitRedisConfigReason(t, ns, "conf", queueworkerv1alpha1.ReasonResourceConflict)

	// The ConfigMap with redis.conf.
	createObject(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm-redis-config"},
		Data: map[string]string{"redis.conf": "keep"}})
	createObject(t, productionRedisConfig(ns, "cm"))
	waitRedisConfigReason(t, ns, "cm", queueworkerv1alpha1.ReasonResourceConflict)

	time.Sleep(2 * testStalledRetry)
	for _, name := range []string{"gen-redis-auth", "conf-redis-auth-conf"} {
		sec := &corev1.Secret{}
		if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name}, sec); err != nil {
			t.Fatal(err)
		}
		if len(sec.OwnerReferences) != 0 {
			t.Errorf("Secret %s was adopted: %+v", name, sec.OwnerReferences)
		}
		if v := string(sec.Data["password"]); v != "chosen-by-someone-else" && v != "keep" {
			t.Errorf("Secret %s was rewritten: password %q", name, v)
		}
	}
	cm := &corev1.ConfigMap{}
	if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: "cm-redis-config"}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["redis.conf"] != "keep" || len(cm.OwnerReferences) != 0 {
		t.Errorf("ConfigMap was taken over: %+v", cm)
	}
	for _, name := range []string{"gen", "conf", "cm"} {
		sts := &appsv1.StatefulSet{}
		if err := k8sClient.Get(testCtx, types.NamespacedName{Namespace: ns, Name: name + "-redis"}, sts); !apierrors.IsNotFound(err) {
			t.Errorf("%s: StatefulSet written despite the conflict: %v", name, err)
		}
	}
}

// TestWorkersGetClientCredentials: the QueueWorkers of an External
// RedisConfig get spec.clientAuth (an ACL user of their own), never the
// password the operator configures the server with; and the autoscaler
// reads the queues as that user.
func TestWorkersGetClientCredentials(t *testing.T) {
	srv, err := redistest.Start("requirepass admin-pass-5e1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "admin-pass-5e1"})
	defer func() { _ = admin.Close() }()
	// The workers' user may touch the queues but not the configuration.
	if err := admin.Do(testCtx, "ACL", "SETUSER", "worker", "on", ">worker-pass-a97", "~asynq:*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	ns := createNamespace(t)
	// The workers get the client Secret, and with useAdminCredentials the
	// admin one: both must allow QueueWorkers too.
	createObject(t, usableSecret(ns, "admin", map[string]string{"password": "admin-pass-5e1"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker))
	createObject(t, usableSecret(ns, "worker", map[string]string{"pw": "worker-pass-a97"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker))
	rc := externalRedisConfig(ns, "acl", srv.Addr, "admin")
	rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{Username: "worker",
		PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "worker", Key: "pw"}}
	createObject(t, rc)

	qw := autoscaledQueueWorker(ns, "acl", "unused:1", queueworkerv1alpha1.Autoscaling{MaxReplicas: 2})
	qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "acl"}}
	createObject(t, qw)

	eventually(t, "the workers get the client user and password", func() error {
		dep, err := getDeployment(t, ns, "acl")
		if err != nil {
			return err
		}
		env := envMap(&dep.Spec.Template.Spec.Containers[0])
		if got := env[contract.EnvRedisUsername].Value; got != "worker" {
			return fmt.Errorf("username env %q", got)
		}
		pw := env[contract.EnvRedisPassword].ValueFrom
		if pw == nil || pw.SecretKeyRef == nil || pw.SecretKeyRef.Name != "worker" || pw.SecretKeyRef.Key != "pw" {
			return fmt.Errorf("password env %+v", env[contract.EnvRedisPassword])
		}
		return nil
	})
	eventually(t, "the autoscaler reads the queues as the client user", func() error {
		return conditionIs(getQueueWorker(t, ns, "acl"), queueworkerv1alpha1.ConditionRedisReachable,
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonRedisReachable)
	})
	if got := getRedisConfig(t, ns, "acl"); got.Status.Username != "worker" || got.Status.PasswordSecretRef == nil ||
		got.Status.PasswordSecretRef.Name != "worker" {
		t.Errorf("status username %q passwordSecretRef %+v", got.Status.Username, got.Status.PasswordSecretRef)
	}

	// Without clientAuth the workers get no credentials at all.
	updateRedisConfig(t, ns, "acl", func(rc *queueworkerv1alpha1.RedisConfig) { rc.Spec.ClientAuth = nil })
	eventually(t, "no credentials without clientAuth", func() error {
		dep, err := getDeployment(t, ns, "acl")
		if err != nil {
			return err
		}
		env := envMap(&dep.Spec.Template.Spec.Containers[0])
		if _, ok := env[contract.EnvRedisPassword]; ok {
			return fmt.Errorf("password env %+v", env[contract.EnvRedisPassword])
		}
		if _, ok := env[contract.EnvRedisUsername]; ok {
			return errors.New("username env set")
		}
		return nil
	})
	dep, err := getDeployment(t, ns, "acl")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "admin" {
			t.Errorf("env %s names the operator's Secret", e.Name)
		}
	}

	// Only when the RedisConfig says so do they get the operator's.
	updateRedisConfig(t, ns, "acl", func(rc *queueworkerv1alpha1.RedisConfig) {
		rc.Spec.ClientAuth = &queueworkerv1alpha1.RedisClientAuth{UseAdminCredentials: true}
	})
	eventually(t, "the operator's password with useAdminCredentials", func() error {
		dep, err := getDeployment(t, ns, "acl")
		if err != nil {
			return err
		}
		pw := envMap(&dep.Spec.Template.Spec.Containers[0])[contract.EnvRedisPassword].ValueFrom
		if pw == nil || pw.SecretKeyRef == nil || pw.SecretKeyRef.Name != "admin" {
			return fmt.Errorf("password env %+v", pw)
		}
		return nil
	})
}

// countingReader counts the Secret GETs made through it.
type countingReader struct {
	client.Reader
	secretGets atomic.Int64
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		c.secretGets.Add(1)
	}
	return c.Reader.Get(ctx, key, obj, opts...)
}

// TestConnectionSecretsCached: reconciles of an unchanged connection reuse
// the Secret values read last; they are read again when the endpoint
// changes and after SecretResyncPeriod.
func TestConnectionSecretsCached(t *testing.T) {
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "pw", map[string]string{"password": "p"}, queueworkerv1alpha1.KindQueueWorker))
	qw := newQueueWorker(ns, "cached")
	qw.Spec.Redis.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: "pw", Key: "password"}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reader := &countingReader{Reader: k8sClient}
	r := &QueueWorkerReconciler{Client: k8sClient, APIReader: reader, SecretResyncPeriod: time.Minute,
		Now: func() time.Time { return now }}
	reconcileOnce := func() *queueWorkerState {
		t.Helper()
		st := &queueWorkerState{qw: qw}
		if _, err := r.reconcileConnection(testCtx, st); err != nil {
			t.Fatal(err)
		}
		if st.credentials.Password != "p" || st.secretHash == "" {
			t.Fatalf("state %+v", st)
		}
		return st
	}
	first := reconcileOnce()
	for range 10 {
		now = now.Add(5 * time.Second)
		if st := reconcileOnce(); st.secretHash != first.secretHash {
			t.Fatalf("hash %s, want %s", st.secretHash, first.secretHash)
		}
	}
	if n := reader.secretGets.Load(); n != 1 {
		t.Fatalf("%d Secret GETs within the resync period, want 1", n)
	}
	now = now.Add(10 * time.Second) // 60s after the read
	reconcileOnce()
	if n := reader.secretGets.Load(); n != 2 {
		t.Fatalf("%d Secret GETs after the resync period, want 2", n)
	}
	qw.Spec.Redis.Addr = "other:6379"
	reconcileOnce()
	if n := reader.secretGets.Load(); n != 3 {
		t.Fatalf("%d Secret GETs after the endpoint changed, want 3", n)
	}
	// A Secret that stops allowing the use is noticed at the next read.
	annotateSecret(t, ns, "pw", nil)
	now = now.Add(time.Minute)
	_, err := r.reconcileConnection(testCtx, &queueWorkerState{qw: qw})
	if se := asStall(err); se == nil || se.reason != queueworkerv1alpha1.ReasonSecretNotAllowed {
		t.Fatalf("error %v, want a %s stall", err, queueworkerv1alpha1.ReasonSecretNotAllowed)
	}
}

// TestRequireClientCertsStalls: a RedisConfig stored before the API server
// refused tls.requireClientCerts stalls instead of running a server that
// neither the operator nor the workers could talk to.
func TestRequireClientCertsStalls(t *testing.T) {
	rc := productionRedisConfig("default", "mtls")
	rc.Spec.TLS = &queueworkerv1alpha1.RedisServerTLS{CertSecretName: "certs", RequireClientCerts: true}
	r := &RedisConfigReconciler{Client: k8sClient, APIReader: k8sClient}
	err := r.readServerTLS(testCtx, &redisConfigState{rc: rc})
	se, ok := errors.AsType[*stallError](err)
	if !ok || se.reason != queueworkerv1alpha1.ReasonUnsupported {
		t.Fatalf("error %v, want an Unsupported stall", err)
	}
}

func TestShortNote(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	got := shortNote(long)
	if len(got) > maxEventNote || !strings.HasSuffix(got, " [...]") || !utf8.ValidString(got) {
		t.Fatalf("shortNote: %d bytes, valid %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-8:])
	}
	if s := strings.Repeat("x", maxEventNote); shortNote(s) != s {
		t.Fatal("a note of exactly the limit was cut")
	}
}
