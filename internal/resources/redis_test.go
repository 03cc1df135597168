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

package resources

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// The package's -update flag rewrites golden files. It is registered only if
// no other test file of the package registered it first.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func baseRedisConfig() *v1.RedisConfig {
	return &v1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs", Namespace: "ns"},
		Spec:       v1.RedisConfigSpec{Mode: v1.RedisConfigManaged},
	}
}

// withTLS serves TLS from the Secret "jobs-tls".
func withTLS(clientCerts bool) func(*v1.RedisConfig) {
	return func(rc *v1.RedisConfig) {
		rc.Spec.TLS = &v1.RedisServerTLS{CertSecretName: "jobs-tls", RequireClientCerts: clientCerts}
	}
}

func withExporter(rc *v1.RedisConfig) {
	if rc.Spec.Managed == nil {
		rc.Spec.Managed = &v1.ManagedRedis{}
	}
	rc.Spec.Managed.Exporter = &v1.RedisExporter{Enabled: true}
}

func withUserPassword(rc *v1.RedisConfig) {
	rc.Spec.Auth = &v1.RedisAuth{PasswordSecretRef: &v1.SecretKeyReference{Name: "team-redis", Key: "pw"}}
}

func redisConfigWith(opts ...func(*v1.RedisConfig)) *v1.RedisConfig {
	rc := baseRedisConfig()
	for _, o := range opts {
		o(rc)
	}
	return rc
}

func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

func redisContainerOf(t *testing.T, sts *appsv1.StatefulSet) *corev1.Container {
	t.Helper()
	c := findContainer(&sts.Spec.Template.Spec, RedisContainerName)
	if c == nil {
		t.Fatalf("no container %q", RedisContainerName)
	}
	return c
}

func findVolume(sts *appsv1.StatefulSet, name string) *corev1.Volume {
	for i := range sts.Spec.Template.Spec.Volumes {
		if sts.Spec.Template.Spec.Volumes[i].Name == name {
			return &sts.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func findMount(c *corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func envByName(c *corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			panic("duplicate env " + e.Name)
		}
		m[e.Name] = e
	}
	return m
}

func isSubset(sub, set map[string]string) bool {
	for k, v := range sub {
		if got, ok := set[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func TestRedisNamesAndAddress(t *testing.T) {
	rc := baseRedisConfig()
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"statefulset", RedisStatefulSetName(rc), "jobs-redis"},
		{"service", RedisServiceName(rc), "jobs-redis"},
		{"configmap", RedisConfigMapName(rc), "jobs-redis-config"},
		{"generated password secret", RedisPasswordSecretName(rc), "jobs-redis-auth"},
		{"derived auth secret", RedisAuthConfSecretName(rc), "jobs-redis-auth-conf"},
		{"address", RedisAddress(rc), "jobs-redis.ns.svc:6379"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestRedisLabelsConsistent(t *testing.T) {
	cases := []struct {
		name string
		rc   *v1.RedisConfig
	}{
		{"plain", redisConfigWith()},
		{"tls and exporter", redisConfigWith(withTLS(false), withExporter)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel := RedisSelectorLabels(c.rc)
			want := map[string]string{
				LabelName: "redis", LabelInstance: "jobs", LabelComponent: "redis",
				LabelManagedBy: "queueworker-operator", LabelPartOf: "queueworker",
			}
			if got := RedisLabels(c.rc); !reflect.DeepEqual(got, want) {
				t.Errorf("RedisLabels = %v, want %v", got, want)
			}
			if !isSubset(sel, want) {
				t.Errorf("selector %v is not a subset of the labels", sel)
			}

			svc := BuildRedisService(c.rc)
			sts := BuildRedisStatefulSet(c.rc, "", "")
			if !reflect.DeepEqual(svc.Spec.Selector, sel) || !reflect.DeepEqual(sts.Spec.Selector.MatchLabels, sel) {
				t.Errorf("Service selector %v, StatefulSet selector %v, want both %v",
					svc.Spec.Selector, sts.Spec.Selector.MatchLabels, sel)
			}
			if !isSubset(sel, sts.Spec.Template.Labels) {
				t.Errorf("pod labels %v do not match the selector %v", sts.Spec.Template.Labels, sel)
			}
			for _, claim := range sts.Spec.VolumeClaimTemplates {
				if !reflect.DeepEqual(claim.Labels, sel) {
					t.Errorf("claim template labels %v, want the immutable selector labels %v", claim.Labels, sel)
				}
			}
			for _, m := range []metav1.Object{svc, sts, BuildRedisConfigMap(c.rc, nil)} {
				if !reflect.DeepEqual(m.GetLabels(), want) || m.GetNamespace() != "ns" {
					t.Errorf("%s: labels %v namespace %q", m.GetName(), m.GetLabels(), m.GetNamespace())
				}
			}

			// A QueueWorker of the same name must not select the Redis pod.
			qw := &v1.QueueWorker{ObjectMeta: metav1.ObjectMeta{Name: "jobs", Namespace: "ns"}}
			if isSubset(SelectorLabels(qw), sts.Spec.Template.Labels) {
				t.Error("the worker selector of a QueueWorker with the same name selects the Redis pod")
			}

			// Every Service port targets a named port of some container.
			ports := map[string]int32{}
			for _, ctr := range sts.Spec.Template.Spec.Containers {
				for _, p := range ctr.Ports {
					ports[p.Name] = p.ContainerPort
				}
			}
			for _, p := range svc.Spec.Ports {
				if got, ok := ports[p.TargetPort.StrVal]; !ok || got != p.Port {
					t.Errorf("Service port %s targets %q, which no container serves on %d", p.Name, p.TargetPort.String(), p.Port)
				}
			}
		})
	}
}

func TestBuildRedisService(t *testing.T) {
	svc := BuildRedisService(baseRedisConfig())
	if svc.Name != "jobs-redis" || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service %s of type %s, want jobs-redis of type ClusterIP", svc.Name, svc.Spec.Type)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "redis" || svc.Spec.Ports[0].Port != 6379 {
		t.Errorf("ports = %+v, want only redis 6379", svc.Spec.Ports)
	}
	if svc.OwnerReferences != nil {
		t.Error("the builder set owner references; the controller does")
	}
}

func TestBuildRedisConfigMap(t *testing.T) {
	conf := []byte("maxmemory 100mb\ninclude /etc/redis/secret/password.conf\n")
	cm := BuildRedisConfigMap(baseRedisConfig(), conf)
	if cm.Name != "jobs-redis-config" {
		t.Errorf("name = %q", cm.Name)
	}
	if len(cm.Data) != 1 || len(cm.BinaryData) != 0 || cm.Data[RedisConfigKey] != string(conf) {
		t.Errorf("data = %v, want exactly %s holding the rendered bytes", cm.Data, RedisConfigKey)
	}
	if !strings.Contains(cm.Data[RedisConfigKey], "include "+RedisPasswordConfPath) {
		t.Errorf("RedisPasswordConfPath %q is not the path the test's redis.conf includes", RedisPasswordConfPath)
	}
}

func TestRedisStatefulSetBasics(t *testing.T) {
	cases := []struct {
		name      string
		managed   *v1.ManagedRedis
		wantImage string
	}{
		{"no managed block", nil, DefaultRedisImage},
		{"empty managed block", &v1.ManagedRedis{}, DefaultRedisImage},
		{"custom image", &v1.ManagedRedis{Image: "registry.example/redis:7.2"}, "registry.example/redis:7.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := baseRedisConfig()
			rc.Spec.Managed = c.managed
			sts := BuildRedisStatefulSet(rc, "", "")
			if sts.Name != "jobs-redis" || sts.Namespace != "ns" || sts.Spec.ServiceName != "jobs-redis" {
				t.Errorf("name %s/%s, serviceName %s", sts.Namespace, sts.Name, sts.Spec.ServiceName)
			}
			if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
				t.Errorf("replicas = %v, want 1", sts.Spec.Replicas)
			}
			if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
				t.Errorf("terminationGracePeriodSeconds = %v, want at least 30", g)
			}
			redis := redisContainerOf(t, sts)
			if redis.Image != c.wantImage {
				t.Errorf("image = %q, want %q", redis.Image, c.wantImage)
			}
			if want := []string{"redis-server", RedisConfigPath}; !reflect.DeepEqual(redis.Command, want) {
				t.Errorf("command = %v, want %v", redis.Command, want)
			}
			cfg := findMount(redis, redisConfigVolumeName)
			vol := findVolume(sts, redisConfigVolumeName)
			if cfg == nil || vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != "jobs-redis-config" ||
				filepath.Join(cfg.MountPath, vol.ConfigMap.Items[0].Path) != RedisConfigPath || cfg.SubPath != "" {
				t.Errorf("redis.conf is not the ConfigMap mounted as a directory at %s: mount %+v volume %+v", RedisConfigPath, cfg, vol)
			}
			if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil ||
				p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				t.Errorf("claim retention = %+v, want Retain: deleting a RedisConfig must not delete the queues", p)
			}
			if len(sts.OwnerReferences) != 0 {
				t.Error("the builder set owner references; the controller does")
			}
		})
	}
}

func TestRedisDataVolume(t *testing.T) {
	fiveGi := resource.MustParse("5Gi")
	cases := []struct {
		name        string
		persistence v1.RedisPersistence
		storage     *v1.ManagedStorage
		wantClaim   bool
		wantSize    string
		wantClass   *string
	}{
		{name: "aof by default", wantClaim: true, wantSize: "1Gi"},
		{name: "aof explicitly on", persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: ptr.To(true)}},
			wantClaim: true, wantSize: "1Gi"},
		{name: "aof off, no rdb", persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: ptr.To(false)}}},
		{name: "aof off, rdb without rules", persistence: v1.RedisPersistence{
			AOF: v1.RedisAOF{Enabled: ptr.To(false)}, RDB: &v1.RedisRDB{}}},
		{name: "aof off, rdb rules", persistence: v1.RedisPersistence{
			AOF: v1.RedisAOF{Enabled: ptr.To(false)}, RDB: &v1.RedisRDB{Save: []v1.RDBSaveRule{{Seconds: 60, Changes: 1}}}},
			wantClaim: true, wantSize: "1Gi"},
		{name: "size and class", storage: &v1.ManagedStorage{Size: &fiveGi, StorageClassName: ptr.To("fast")},
			wantClaim: true, wantSize: "5Gi", wantClass: ptr.To("fast")},
		{name: "storage ignored without persistence", persistence: v1.RedisPersistence{AOF: v1.RedisAOF{Enabled: ptr.To(false)}},
			storage: &v1.ManagedStorage{Size: &fiveGi}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := baseRedisConfig()
			rc.Spec.Persistence = c.persistence
			if c.storage != nil {
				rc.Spec.Managed = &v1.ManagedRedis{Storage: *c.storage}
			}
			if got := RedisPersistent(rc); got != c.wantClaim {
				t.Errorf("RedisPersistent = %v, want %v", got, c.wantClaim)
			}
			sts := BuildRedisStatefulSet(rc, "", "")
			vol := findVolume(sts, RedisDataVolumeName)
			m := findMount(redisContainerOf(t, sts), RedisDataVolumeName)
			if m == nil || m.MountPath != RedisDataDir || m.ReadOnly {
				t.Fatalf("data mount = %+v, want %s writable", m, RedisDataDir)
			}
			if !c.wantClaim {
				if len(sts.Spec.VolumeClaimTemplates) != 0 {
					t.Errorf("claim templates %v without persistence", sts.Spec.VolumeClaimTemplates)
				}
				if vol == nil || vol.EmptyDir == nil {
					t.Errorf("data volume = %+v, want an emptyDir", vol)
				}
				return
			}
			if vol != nil {
				t.Errorf("pod volume %+v shadows the claim template %q", vol, RedisDataVolumeName)
			}
			if len(sts.Spec.VolumeClaimTemplates) != 1 {
				t.Fatalf("claim templates = %d, want 1", len(sts.Spec.VolumeClaimTemplates))
			}
			claim := sts.Spec.VolumeClaimTemplates[0]
			size := claim.Spec.Resources.Requests[corev1.ResourceStorage]
			if claim.Name != RedisDataVolumeName || size.String() != c.wantSize ||
				!reflect.DeepEqual(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
				t.Errorf("claim %s of %s %v, want %s of %s ReadWriteOnce", claim.Name, size.String(), claim.Spec.AccessModes,
					RedisDataVolumeName, c.wantSize)
			}
			if !reflect.DeepEqual(claim.Spec.StorageClassName, c.wantClass) {
				t.Errorf("storageClassName = %v, want %v", claim.Spec.StorageClassName, c.wantClass)
			}
		})
	}
}

// TestRedisPasswordWiring resolves every Secret reference of the pod against
// the Secret the builders produce for it, under both password schemes.
func TestRedisPasswordWiring(t *testing.T) {
	const password = "s3cr3t-Value_that-stands-out"
	cases := []struct {
		name        string
		rc          *v1.RedisConfig
		build       func(*v1.RedisConfig, string) (*corev1.Secret, error)
		wantSecret  string
		wantClients SecretKey
	}{
		{"generated", redisConfigWith(withExporter, withTLS(true)), BuildRedisPasswordSecret,
			"jobs-redis-auth", SecretKey{Name: "jobs-redis-auth", Key: "password"}},
		{"user-provided", redisConfigWith(withExporter, withTLS(true), withUserPassword), BuildRedisAuthConfSecret,
			"jobs-redis-auth-conf", SecretKey{Name: "team-redis", Key: "pw"}},
	}
	wantConf, err := redisconf.RenderPasswordFile(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sec, err := c.build(c.rc, password)
			if err != nil {
				t.Fatal(err)
			}
			if sec.Name != c.wantSecret || RedisAuthSecretName(c.rc) != c.wantSecret {
				t.Fatalf("built Secret %q, RedisAuthSecretName %q, want %q", sec.Name, RedisAuthSecretName(c.rc), c.wantSecret)
			}
			if got := RedisPasswordSecretKey(c.rc); got != c.wantClients {
				t.Errorf("clients read %+v, want %+v", got, c.wantClients)
			}
			if string(sec.Data[RedisPasswordKey]) != password ||
				!bytes.Equal(sec.Data[RedisPasswordConfKey], wantConf) {
				t.Errorf("Secret data = %q", sec.Data)
			}

			sts := BuildRedisStatefulSet(c.rc, "h", "s")
			spec := &sts.Spec.Template.Spec
			for _, ctr := range spec.Containers {
				e := envByName(&ctr)
				pw, ok := e[RedisPasswordEnv]
				if !ok || pw.Value != "" || pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil {
					t.Errorf("%s: %s = %+v, want a secretKeyRef", ctr.Name, RedisPasswordEnv, pw)
				}
				for _, ev := range ctr.Env {
					if ref := ev.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
						if _, ok := sec.Data[ref.SecretKeyRef.Key]; ref.SecretKeyRef.Name != sec.Name || !ok {
							t.Errorf("%s: %s refers to %s/%s, which the auth Secret does not hold",
								ctr.Name, ev.Name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key)
						}
					}
				}
			}

			auth := findVolume(sts, redisAuthVolumeName)
			if auth == nil || auth.Secret == nil || auth.Secret.SecretName != sec.Name {
				t.Fatalf("auth volume = %+v, want Secret %s", auth, sec.Name)
			}
			for _, item := range auth.Secret.Items {
				if _, ok := sec.Data[item.Key]; !ok {
					t.Errorf("auth volume item %q is not in the Secret", item.Key)
				}
			}
			m := findMount(redisContainerOf(t, sts), redisAuthVolumeName)
			if m == nil || len(auth.Secret.Items) != 1 ||
				filepath.Join(m.MountPath, auth.Secret.Items[0].Path) != RedisPasswordConfPath {
				t.Errorf("password.conf is not mounted at %s: mount %+v items %+v", RedisPasswordConfPath, m, auth.Secret.Items)
			}

			for _, obj := range []any{sts, BuildRedisService(c.rc), BuildRedisConfigMap(c.rc, []byte("include "+RedisPasswordConfPath+"\n"))} {
				b, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(password)) {
					t.Errorf("the password appears in %s", b)
				}
			}
		})
	}
}

// TestRedisPasswordRejected: both builders refuse what
// redisconf.CheckPassword refuses, and say why without the password.
func TestRedisPasswordRejected(t *testing.T) {
	cases := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"empty", "", true},
		{"nul byte", "ab\x00cd", true},
		{"newline", "a\n\"b'", true},
		{"trailing newline", "s3cret\n", true},
		{"carriage return", "a\rb", true},
		{"one character", "x", false},
		{"quotes, tab and utf-8", "a\t\"b' \u00e9", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := redisconf.CheckPassword(c.password) != nil; got != c.wantErr {
				t.Fatalf("CheckPassword refused %v, want %v", got, c.wantErr)
			}
			for _, build := range []func(*v1.RedisConfig, string) (*corev1.Secret, error){BuildRedisPasswordSecret, BuildRedisAuthConfSecret} {
				sec, err := build(baseRedisConfig(), c.password)
				if (err != nil) != c.wantErr || (sec == nil) != c.wantErr {
					t.Errorf("builder returned %v, %v", sec, err)
				}
				if _, ok := errors.AsType[*redisconf.FieldError](err); err != nil && !ok {
					t.Errorf("error %v is not a FieldError", err)
				}
				if err != nil && c.password != "" && strings.Contains(err.Error(), c.password) {
					t.Errorf("error %q holds the password", err)
				}
			}
		})
	}
}

func TestRedisProbesAuthenticate(t *testing.T) {
	cases := []struct {
		name        string
		rc          *v1.RedisConfig
		wantArgs    []string
		notWantArgs []string
	}{
		{"plain", redisConfigWith(), []string{"-h 127.0.0.1", "-p 6379"}, []string{"--tls", "--cert"}},
		{"tls", redisConfigWith(withTLS(false)), []string{"--tls", "--cacert " + RedisTLSCAPath}, []string{"--cert"}},
		{"tls with client certificates", redisConfigWith(withTLS(true)),
			[]string{"--tls", "--cacert " + RedisTLSCAPath, "--cert " + RedisTLSCertPath, "--key " + RedisTLSKeyPath}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			redis := redisContainerOf(t, BuildRedisStatefulSet(c.rc, "", ""))
			probes := map[string]*corev1.Probe{"readiness": redis.ReadinessProbe, "liveness": redis.LivenessProbe}
			for kind, p := range probes {
				if p == nil || p.Exec == nil || len(p.Exec.Command) != 3 || p.Exec.Command[0] != "sh" || p.Exec.Command[1] != "-c" {
					t.Fatalf("%s probe = %+v, want sh -c", kind, p)
				}
				script := p.Exec.Command[2]
				if !strings.Contains(script, `REDISCLI_AUTH="$`+RedisPasswordEnv+`"`) || !strings.Contains(script, " ping ") {
					t.Errorf("%s probe does not authenticate its PING: %s", kind, script)
				}
				if strings.Contains(script, " -a ") {
					t.Errorf("%s probe puts the password in redis-cli's argv: %s", kind, script)
				}
				for _, a := range c.wantArgs {
					if !strings.Contains(script, " "+a) {
						t.Errorf("%s probe lacks %q: %s", kind, a, script)
					}
				}
				for _, a := range c.notWantArgs {
					if strings.Contains(script, " "+a) {
						t.Errorf("%s probe has %q: %s", kind, a, script)
					}
				}
				if p.TimeoutSeconds < 1 || p.PeriodSeconds < 1 || p.FailureThreshold < 1 {
					t.Errorf("%s probe timings = %+v", kind, p)
				}
			}
			if s := redis.ReadinessProbe.Exec.Command[2]; strings.Contains(s, "LOADING") {
				t.Errorf("readiness accepts LOADING; a loading Redis must not get traffic: %s", s)
			}
			if s := redis.LivenessProbe.Exec.Command[2]; !strings.Contains(s, "LOADING") {
				t.Errorf("liveness kills Redis while it loads its data: %s", s)
			}
		})
	}
}

// TestRedisProbesAgainstRedisServer runs the probes' scripts against a real
// redis-server that includes the rendered password.conf of a hostile
// password.
func TestRedisProbesAgainstRedisServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	for _, tool := range []string{"redis-cli", "sh", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	const password = "p'a\"s s\\w requirepass x\t$(id)`\u00e9#;"
	dir := t.TempDir()
	conf := filepath.Join(dir, RedisPasswordConfKey)
	b, err := redisconf.RenderPasswordFile(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := redistest.Start("include " + conf)
	if err != nil {
		t.Skipf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	redis := redisContainerOf(t, BuildRedisStatefulSet(baseRedisConfig(), "", ""))
	probes := map[string]*corev1.Probe{"readiness": redis.ReadinessProbe, "liveness": redis.LivenessProbe}
	for kind, p := range probes {
		script := strings.Replace(p.Exec.Command[2], " -p 6379 ", " -p "+strconv.Itoa(srv.Port)+" ", 1)
		if script == p.Exec.Command[2] {
			t.Fatalf("cannot point the %s probe at port %d: %s", kind, srv.Port, script)
		}
		cases := []struct {
			password string
			wantPass bool
		}{
			{password, true},
			{"wrong", false},
			{"x", false}, // the value of the "requirepass x" inside the password
			{"", false},
		}
		for _, c := range cases {
			cmd := exec.Command(p.Exec.Command[0], p.Exec.Command[1], script)
			cmd.Env = append(os.Environ(), RedisPasswordEnv+"="+c.password)
			out, err := cmd.CombinedOutput()
			if passed := err == nil; passed != c.wantPass {
				t.Errorf("%s probe with password %q: passed=%v, want %v (%v: %s)", kind, c.password, passed, c.wantPass, err, out)
			}
		}
	}
}

func TestRedisSecurityContexts(t *testing.T) {
	cases := []struct {
		name string
		rc   *v1.RedisConfig
	}{
		{"plain", redisConfigWith()},
		{"tls with client certificates and exporter", redisConfigWith(withTLS(true), withExporter)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := BuildRedisStatefulSet(c.rc, "", "").Spec.Template.Spec
			psc := spec.SecurityContext
			if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) != 999 ||
				ptr.Deref(psc.RunAsGroup, 0) != 999 || ptr.Deref(psc.FSGroup, 0) != 999 ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("pod securityContext = %+v, want non-root 999:999, fsGroup 999, RuntimeDefault seccomp", psc)
			}
			if ptr.Deref(spec.AutomountServiceAccountToken, true) {
				t.Error("the service account token is mounted")
			}
			if len(spec.Containers) == 0 || len(spec.InitContainers) != 0 {
				t.Fatalf("containers %d, init containers %d", len(spec.Containers), len(spec.InitContainers))
			}
			for _, ctr := range spec.Containers {
				sc := ctr.SecurityContext
				if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || ptr.Deref(sc.Privileged, false) ||
					!ptr.Deref(sc.ReadOnlyRootFilesystem, false) || !ptr.Deref(sc.RunAsNonRoot, false) ||
					sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
					len(sc.Capabilities.Add) != 0 {
					t.Errorf("%s securityContext = %+v, want restricted with a read-only root", ctr.Name, sc)
				}
				for _, m := range ctr.VolumeMounts {
					if !m.ReadOnly && m.MountPath != RedisDataDir {
						t.Errorf("%s mounts %s writable; only %s should be", ctr.Name, m.MountPath, RedisDataDir)
					}
				}
			}
			for _, v := range spec.Volumes {
				if v.Secret != nil && ptr.Deref(v.Secret.DefaultMode, 0o644)&0o047 != 0o040 {
					t.Errorf("Secret volume %s mode %o: want group-readable (fsGroup) and nothing for others",
						v.Name, ptr.Deref(v.Secret.DefaultMode, 0))
				}
			}
		})
	}
}

func TestRedisExporter(t *testing.T) {
	limits := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}
	cases := []struct {
		name       string
		rc         *v1.RedisConfig
		want       bool
		wantImage  string
		wantAddr   string
		wantEnv    map[string]string
		absentEnv  []string
		wantTLSMnt bool
	}{
		{name: "no managed block", rc: redisConfigWith()},
		{name: "disabled", rc: redisConfigWith(func(rc *v1.RedisConfig) {
			rc.Spec.Managed = &v1.ManagedRedis{Exporter: &v1.RedisExporter{Enabled: false, Image: "x"}}
		})},
		{name: "enabled with defaults", rc: redisConfigWith(withExporter), want: true,
			wantImage: DefaultRedisExporterImage, wantAddr: "redis://localhost:6379",
			absentEnv: []string{"REDIS_EXPORTER_SKIP_TLS_VERIFICATION", "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"}},
		{name: "custom image and resources", rc: redisConfigWith(func(rc *v1.RedisConfig) {
			rc.Spec.Managed = &v1.ManagedRedis{Exporter: &v1.RedisExporter{Enabled: true, Image: "mirror/exporter:1", Resources: limits}}
		}), want: true, wantImage: "mirror/exporter:1", wantAddr: "redis://localhost:6379"},
		{name: "tls", rc: redisConfigWith(withExporter, withTLS(false)), want: true,
			wantImage: DefaultRedisExporterImage, wantAddr: "rediss://localhost:6379",
			wantEnv:   map[string]string{"REDIS_EXPORTER_SKIP_TLS_VERIFICATION": "true"},
			absentEnv: []string{"REDIS_EXPORTER_TLS_CLIENT_CERT_FILE", "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE"}},
		{name: "tls with client certificates", rc: redisConfigWith(withExporter, withTLS(true)), want: true,
			wantImage: DefaultRedisExporterImage, wantAddr: "rediss://localhost:6379",
			wantEnv: map[string]string{
				"REDIS_EXPORTER_TLS_CLIENT_CERT_FILE": RedisTLSCertPath,
				"REDIS_EXPORTER_TLS_CLIENT_KEY_FILE":  RedisTLSKeyPath,
			}, wantTLSMnt: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sts := BuildRedisStatefulSet(c.rc, "", "")
			svc := BuildRedisService(c.rc)
			exp := findContainer(&sts.Spec.Template.Spec, RedisExporterContainerName)
			hasPort := false
			for _, p := range svc.Spec.Ports {
				hasPort = hasPort || (p.Name == RedisExporterPortName && p.Port == RedisExporterPort)
			}
			if (exp != nil) != c.want || hasPort != c.want {
				t.Fatalf("exporter container %v, Service metrics port %v, want %v", exp != nil, hasPort, c.want)
			}
			if !c.want {
				return
			}
			if exp.Image != c.wantImage {
				t.Errorf("image = %q, want %q", exp.Image, c.wantImage)
			}
			if !reflect.DeepEqual(exp.Resources, c.rc.Spec.Managed.Exporter.Resources) {
				t.Errorf("resources = %+v, want %+v", exp.Resources, c.rc.Spec.Managed.Exporter.Resources)
			}
			if len(exp.Ports) != 1 || exp.Ports[0].Name != "metrics" || exp.Ports[0].ContainerPort != 9121 {
				t.Errorf("ports = %+v, want metrics 9121", exp.Ports)
			}
			if exp.ReadinessProbe != nil {
				t.Error("an exporter readiness probe would take Redis out of its Service")
			}
			e := envByName(exp)
			if e["REDIS_ADDR"].Value != c.wantAddr {
				t.Errorf("REDIS_ADDR = %q, want %q", e["REDIS_ADDR"].Value, c.wantAddr)
			}
			for k, v := range c.wantEnv {
				if e[k].Value != v {
					t.Errorf("%s = %q, want %q", k, e[k].Value, v)
				}
			}
			for _, k := range c.absentEnv {
				if _, ok := e[k]; ok {
					t.Errorf("%s is set", k)
				}
			}
			if got := findMount(exp, redisTLSVolumeName) != nil; got != c.wantTLSMnt {
				t.Errorf("exporter mounts the TLS Secret: %v, want %v", got, c.wantTLSMnt)
			}
		})
	}
}

func TestRedisTLS(t *testing.T) {
	cases := []struct {
		name     string
		rc       *v1.RedisConfig
		wantPort string
	}{
		{"plain", redisConfigWith(), RedisPortName},
		{"tls", redisConfigWith(withTLS(false)), RedisTLSPortName},
		{"empty cert secret name is no tls", redisConfigWith(func(rc *v1.RedisConfig) { rc.Spec.TLS = &v1.RedisServerTLS{} }), RedisPortName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tls := c.wantPort == RedisTLSPortName
			if RedisTLSEnabled(c.rc) != tls {
				t.Errorf("RedisTLSEnabled = %v, want %v", !tls, tls)
			}
			sts := BuildRedisStatefulSet(c.rc, "", "")
			redis := redisContainerOf(t, sts)
			if len(redis.Ports) != 1 || redis.Ports[0].Name != c.wantPort || redis.Ports[0].ContainerPort != 6379 {
				t.Errorf("container ports = %+v, want %s 6379", redis.Ports, c.wantPort)
			}
			if p := BuildRedisService(c.rc).Spec.Ports[0]; p.Name != c.wantPort || p.Port != 6379 {
				t.Errorf("Service port = %+v, want %s 6379", p, c.wantPort)
			}
			vol := findVolume(sts, redisTLSVolumeName)
			m := findMount(redis, redisTLSVolumeName)
			if !tls {
				if vol != nil || m != nil {
					t.Errorf("TLS volume %+v mount %+v without TLS", vol, m)
				}
				return
			}
			if vol == nil || vol.Secret == nil || vol.Secret.SecretName != "jobs-tls" || len(vol.Secret.Items) != 0 {
				t.Errorf("TLS volume = %+v, want all of Secret jobs-tls", vol)
			}
			if m == nil || m.MountPath != RedisTLSDir || !m.ReadOnly {
				t.Errorf("TLS mount = %+v, want %s read-only", m, RedisTLSDir)
			}
			for _, p := range []string{RedisTLSCertPath, RedisTLSKeyPath, RedisTLSCAPath} {
				if filepath.Dir(p) != RedisTLSDir {
					t.Errorf("%s is not in %s", p, RedisTLSDir)
				}
			}
		})
	}
}

func TestRedisPodAnnotations(t *testing.T) {
	rc := redisConfigWith(withExporter)
	base := BuildRedisStatefulSet(rc, "restart-a", "secret-a")
	if got := base.Spec.Template.Annotations; got[AnnotationConfigHash] != "restart-a" || got[AnnotationSecretHash] != "secret-a" {
		t.Fatalf("pod annotations = %v", got)
	}
	if !reflect.DeepEqual(base, BuildRedisStatefulSet(rc, "restart-a", "secret-a")) {
		t.Error("the same input built two different StatefulSets")
	}
	if got := BuildRedisStatefulSet(rc, "", "").Spec.Template.Annotations; len(got) != 0 {
		t.Errorf("empty hashes gave pod annotations %v", got)
	}

	cases := []struct {
		name          string
		restart       string
		secret        string
		mutate        func(*v1.RedisConfig)
		wantPodChange bool
	}{
		{name: "restart-only key changed", restart: "restart-b", secret: "secret-a", wantPodChange: true},
		{name: "password changed", restart: "restart-a", secret: "secret-b", wantPodChange: true},
		{name: "runtime keys changed", restart: "restart-a", secret: "secret-a", mutate: func(rc *v1.RedisConfig) {
			rc.Spec.Memory = v1.RedisMemory{MaxMemory: ptr.To(resource.MustParse("1Gi")), Policy: "allkeys-lru", AllowEviction: true}
			rc.Spec.Network = v1.RedisNetwork{MaxClients: 500, Timeout: &metav1.Duration{}}
			rc.Spec.LazyFree = v1.RedisLazyFree{Eviction: ptr.To(false)}
			rc.Spec.Persistence.AOF.Fsync = "always"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			changed := rc.DeepCopy()
			if c.mutate != nil {
				c.mutate(changed)
			}
			got := BuildRedisStatefulSet(changed, c.restart, c.secret)
			podChanged := !reflect.DeepEqual(got.Spec.Template, base.Spec.Template)
			hashChanged := got.Annotations[AnnotationTemplateHash] != base.Annotations[AnnotationTemplateHash]
			if podChanged != c.wantPodChange || hashChanged != c.wantPodChange {
				t.Errorf("pod template changed %v, template hash changed %v, want %v", podChanged, hashChanged, c.wantPodChange)
			}
			got.Spec.Template.Annotations = base.Spec.Template.Annotations
			got.Annotations = base.Annotations
			if !reflect.DeepEqual(got, base) {
				t.Error("more than the pod annotations changed")
			}
		})
	}
}

func TestRedisBuildersKeepInputIntact(t *testing.T) {
	size := resource.MustParse("2Gi")
	rc := redisConfigWith(withTLS(true), withExporter, func(rc *v1.RedisConfig) {
		rc.Spec.Managed.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
		rc.Spec.Managed.Exporter.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
		rc.Spec.Managed.Storage = v1.ManagedStorage{Size: &size, StorageClassName: ptr.To("fast")}
	})
	orig := rc.DeepCopy()

	sts := BuildRedisStatefulSet(rc, "h", "s")
	spec := &sts.Spec.Template.Spec
	redis := findContainer(spec, RedisContainerName)
	if !reflect.DeepEqual(redis.Resources, rc.Spec.Managed.Resources) {
		t.Errorf("redis resources = %+v, want %+v", redis.Resources, rc.Spec.Managed.Resources)
	}
	redis.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("9Gi")
	findContainer(spec, RedisExporterContainerName).Resources.Limits[corev1.ResourceCPU] = resource.MustParse("9")
	claim := &sts.Spec.VolumeClaimTemplates[0]
	claim.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("9Gi")
	*claim.Spec.StorageClassName = "slow"
	sts.Spec.Selector.MatchLabels[LabelInstance] = "other"

	if !reflect.DeepEqual(rc, orig) {
		t.Error("changing the built StatefulSet changed the RedisConfig: the builder shares memory with its input")
	}
}

func TestCheckRedisConfigName(t *testing.T) {
	cases := []struct {
		name    string
		rcName  string
		wantErr bool
	}{
		{"short", "jobs", false},
		{"longest", strings.Repeat("a", MaxRedisConfigNameLength), false},
		{"one too long", strings.Repeat("a", MaxRedisConfigNameLength+1), true},
		{"leading digit", "1jobs", true},
		{"dot", "jobs.eu", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckRedisConfigName(c.rcName)
			if got := errors.Is(err, ErrInvalidRedisConfigName); got != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if c.wantErr {
				return
			}
			rc := &v1.RedisConfig{ObjectMeta: metav1.ObjectMeta{Name: c.rcName}}
			// The StatefulSet controller labels pods with
			// controller-revision-hash "<statefulset>-<up to 10 characters>".
			if n := len(RedisStatefulSetName(rc)) + 1 + 10; n > 63 {
				t.Errorf("controller-revision-hash would be %d characters", n)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	seq := make([]byte, 64)
	for i := range seq {
		seq[i] = byte(i * 7)
	}
	a, err := GeneratePassword(bytes.NewReader(seq))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := GeneratePassword(bytes.NewReader(seq))
	other, _ := GeneratePassword(bytes.NewReader(seq[1:]))
	if a != again || a == other {
		t.Errorf("passwords %q %q %q: want the output a function of the random bytes", a, again, other)
	}
	if len(a) != 43 || strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("password %q: want 43 base64url characters", a)
	}
	if err := redisconf.CheckPassword(a); err != nil {
		t.Error(err)
	}
	if _, err := GeneratePassword(bytes.NewReader(seq[:31])); err == nil {
		t.Error("31 random bytes were accepted")
	}
}

func TestRedisStatefulSetGolden(t *testing.T) {
	cases := []struct {
		name    string
		rc      *v1.RedisConfig
		restart string
		secret  string
	}{
		{name: "minimal", rc: redisConfigWith(func(rc *v1.RedisConfig) {
			rc.Spec.Persistence.AOF.Enabled = ptr.To(false)
		})},
		{name: "full", restart: "0123456789abcdef", secret: "fedcba9876543210", rc: redisConfigWith(withUserPassword, withTLS(true), withExporter,
			func(rc *v1.RedisConfig) {
				size := resource.MustParse("10Gi")
				rc.Spec.Managed.Image = "redis:7.4.2"
				rc.Spec.Managed.Storage = v1.ManagedStorage{Size: &size, StorageClassName: ptr.To("ssd")}
				rc.Spec.Managed.Resources = corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1536Mi")},
				}
				rc.Spec.Managed.Exporter.Resources = corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				}
			})},
	}
	serializer := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, nil, nil, kjson.SerializerOptions{Yaml: true})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			var obj runtime.Object = BuildRedisStatefulSet(c.rc, c.restart, c.secret)
			if err := serializer.Encode(obj, &buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "redis-statefulset-"+c.name+".yaml")
			if updateGolden() {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("StatefulSet differs from %s (run go test -update and review the diff):\n%s", path, buf.String())
			}
		})
	}
}
