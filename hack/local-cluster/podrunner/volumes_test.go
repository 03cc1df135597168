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

package podrunner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMountsRewrite(t *testing.T) {
	m := Mounts{
		"/data":            "/state/claims/apps_data-redis-0",
		"/etc/redis/conf":  "/state/pod/config",
		"/etc/redis":       "/state/pod/etc",
		"/etc/redis/x.pem": "/state/pod/tls/x.pem",
	}
	tests := []struct{ name, in, want string }{
		{"whole path", "/data", "/state/claims/apps_data-redis-0"},
		{"config line", "dir /data", "dir /state/claims/apps_data-redis-0"},
		{"file below", "include /data/appendonly.aof", "include /state/claims/apps_data-redis-0/appendonly.aof"},
		{"flag value", "--dir=/data", "--dir=/state/claims/apps_data-redis-0"},
		{"quoted", `dir "/data"`, `dir "/state/claims/apps_data-redis-0"`},
		{"longest mount wins", "/etc/redis/conf/redis.conf", "/state/pod/config/redis.conf"},
		{"shorter mount for the rest", "/etc/redis/secret/password.conf", "/state/pod/etc/secret/password.conf"},
		{"file mount", "--cacert /etc/redis/x.pem", "--cacert /state/pod/tls/x.pem"},
		{"prefix of a longer name", "/database", "/database"},
		{"inside another path", "/srv/data", "/srv/data"},
		{"relative", "data/x", "data/x"},
		{"several", "/data:/etc/redis/conf", "/state/claims/apps_data-redis-0:/state/pod/config"},
		{"nothing", "redis-server", "redis-server"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Rewrite(tt.in); got != tt.want {
				t.Errorf("Rewrite(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := Mounts(nil).Rewrite("/data"); got != "/data" {
		t.Errorf("no mounts: Rewrite = %q", got)
	}
}

// managedRedisPod is a pod shaped like the operator's managed Redis
// (internal/resources.BuildRedisStatefulSet), with a downwardAPI volume
// and an emptyDir besides.
func managedRedisPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jobs-redis-0", Namespace: "apps", UID: "u-1",
			Labels: map[string]string{"app": "redis", "tier": "queue"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "redis",
				Image: "redis:7.4",
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/redis/conf", ReadOnly: true},
					{Name: "auth", MountPath: "/etc/redis/secret", ReadOnly: true},
					{Name: "data", MountPath: "/data"},
					{Name: "info", MountPath: "/etc/podinfo"},
					{Name: "scratch", MountPath: "/tmp/scratch"},
					{Name: "config", MountPath: "/etc/redis.conf", SubPath: "redis.conf"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "jobs-redis-config"},
					Items:                []corev1.KeyToPath{{Key: "redis.conf", Path: "redis.conf"}},
				}}},
				{Name: "auth", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  "jobs-redis-auth",
					Items:       []corev1.KeyToPath{{Key: "password.conf", Path: "password.conf"}},
					DefaultMode: ptr.To[int32](0o440),
				}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "data-jobs-redis-0",
				}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					Items: []corev1.DownwardAPIVolumeFile{
						{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
						{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
						{Path: "sub/ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"},
							Mode: ptr.To[int32](0o600)},
					},
				}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "unused", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "x", Path: "/"}}},
			},
		},
	}
}

func TestMaterializeVolumes(t *testing.T) {
	dir := t.TempDir()
	vc := VolumeContext{
		Pod: managedRedisPod(),
		Sources: fakeSources{
			configMaps: map[string]map[string]string{"jobs-redis-config": {
				"redis.conf": "dir /data\ninclude /etc/redis/secret/password.conf\nport 6379\n",
				"other":      "not an item",
			}},
			secrets: map[string]map[string][]byte{"jobs-redis-auth": {
				"password.conf": []byte("requirepass s3cret\n"),
				"password":      []byte("s3cret"),
			}},
		},
		Dirs: VolumeDirs{
			Pod:   filepath.Join(dir, "pod"),
			Claim: func(ns, claim string) string { return ClaimDir(filepath.Join(dir, "state"), ns, claim) },
		},
	}
	mounts, err := MaterializeVolumes(context.Background(), vc)
	if err != nil {
		t.Fatal(err)
	}
	m := mounts["redis"]
	claim := filepath.Join(dir, "state", "volumes", "apps_data-jobs-redis-0")
	want := Mounts{
		"/etc/redis/conf":   filepath.Join(dir, "pod", "config"),
		"/etc/redis/secret": filepath.Join(dir, "pod", "auth"),
		"/data":             claim,
		"/etc/podinfo":      filepath.Join(dir, "pod", "info"),
		"/tmp/scratch":      filepath.Join(dir, "pod", "scratch"),
		"/etc/redis.conf":   filepath.Join(dir, "pod", "config", "redis.conf"),
	}
	for path, local := range want {
		if m[path] != local {
			t.Errorf("mount %s -> %q, want %q", path, m[path], local)
		}
	}
	if len(m) != len(want) {
		t.Errorf("mounts = %v, want %v", m, want)
	}

	read := func(path string) (string, os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), info.Mode().Perm()
	}
	conf, mode := read(filepath.Join(dir, "pod", "config", "redis.conf"))
	wantConf := "dir " + claim + "\ninclude " + filepath.Join(dir, "pod", "auth", "password.conf") + "\nport 6379\n"
	if conf != wantConf || mode != 0o644 {
		t.Errorf("redis.conf = %q (mode %o), want %q (mode 644): the mount paths in it rewritten", conf, mode, wantConf)
	}
	if _, err := os.Stat(filepath.Join(dir, "pod", "config", "other")); !os.IsNotExist(err) {
		t.Errorf("a key that is not an item was written (stat: %v)", err)
	}
	if pw, mode := read(filepath.Join(dir, "pod", "auth", "password.conf")); pw != "requirepass s3cret\n" || mode != 0o440 {
		t.Errorf("password.conf = %q (mode %o), want the Secret's key with defaultMode 440", pw, mode)
	}
	if _, err := os.Stat(filepath.Join(dir, "pod", "auth", "password")); !os.IsNotExist(err) {
		t.Errorf("a Secret key that is not an item was written (stat: %v)", err)
	}
	if labels, _ := read(filepath.Join(dir, "pod", "info", "labels")); labels != "app=\"redis\"\ntier=\"queue\"" {
		t.Errorf("downwardAPI labels = %q", labels)
	}
	if name, _ := read(filepath.Join(dir, "pod", "info", "name")); name != "jobs-redis-0" {
		t.Errorf("downwardAPI name = %q", name)
	}
	if ns, mode := read(filepath.Join(dir, "pod", "info", "sub", "ns")); ns != "apps" || mode != 0o600 {
		t.Errorf("downwardAPI sub/ns = %q (mode %o), want apps with the item's mode 600", ns, mode)
	}

	// What the process wrote stays in the claim and the emptyDir across
	// a second start; the pod's own volumes are written afresh.
	for _, f := range []string{filepath.Join(claim, "appendonly.aof"), filepath.Join(dir, "pod", "scratch", "x")} {
		if err := os.WriteFile(f, []byte("kept"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pod", "config", "stale"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MaterializeVolumes(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(claim, "appendonly.aof"), filepath.Join(dir, "pod", "scratch", "x")} {
		if b, err := os.ReadFile(f); err != nil || string(b) != "kept" {
			t.Errorf("%s after a second start: %q, %v; want it kept", f, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pod", "config", "stale")); !os.IsNotExist(err) {
		t.Errorf("a ConfigMap volume kept a file of an earlier start (stat: %v)", err)
	}

	// A claim lives under its namespace and name: a new pod of the
	// StatefulSet finds it.
	vc.Pod.UID, vc.Pod.Name = "u-2", "jobs-redis-0"
	again, err := MaterializeVolumes(context.Background(), vc)
	if err != nil {
		t.Fatal(err)
	}
	if again["redis"]["/data"] != claim {
		t.Errorf("a new pod mounts its claim from %q, want %q", again["redis"]["/data"], claim)
	}
}

// TestMaterializeVolumesSecretKept checks that a Secret's files keep their
// bytes: a password that holds a mount path (a user's "pa ss /data") is
// the password, and the workers that read it from the Secret send it as
// it is.
func TestMaterializeVolumesSecretKept(t *testing.T) {
	dir := t.TempDir()
	conf := "requirepass \"pa ss /data\"\nmasterauth \"pa ss /data\"\n"
	vc := VolumeContext{
		Pod: managedRedisPod(),
		Sources: fakeSources{
			configMaps: map[string]map[string]string{"jobs-redis-config": {"redis.conf": "dir /data\n"}},
			secrets:    map[string]map[string][]byte{"jobs-redis-auth": {"password.conf": []byte(conf)}},
		},
		Dirs: VolumeDirs{
			Pod:   filepath.Join(dir, "pod"),
			Claim: func(ns, claim string) string { return ClaimDir(filepath.Join(dir, "state"), ns, claim) },
		},
	}
	if _, err := MaterializeVolumes(context.Background(), vc); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pod", "auth", "password.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != conf {
		t.Errorf("password.conf = %q, want the Secret's bytes %q", b, conf)
	}
	b, err = os.ReadFile(filepath.Join(dir, "pod", "config", "redis.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "dir " + ClaimDir(filepath.Join(dir, "state"), "apps", "data-jobs-redis-0") + "\n"; string(b) != want {
		t.Errorf("redis.conf = %q, want %q", b, want)
	}
}

// TestMaterializeVolumesReadOnlyMode materialises a ConfigMap volume with
// defaultMode 0444, as config is often mounted, whose file names a mount
// path. The runner need not run as root (only the host names want it), and
// a file's mode binds any other user: as root the test runs itself again as
// nobody.
func TestMaterializeVolumesReadOnlyMode(t *testing.T) {
	if os.Getuid() == 0 {
		bin := filepath.Join(t.TempDir(), "podrunner.test")
		self, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, self, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(bin, "-test.run=^TestMaterializeVolumesReadOnlyMode$", "-test.count=1", "-test.v")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		return
	}
	dir := t.TempDir()
	pod := managedRedisPod()
	pod.Spec.Volumes[0].ConfigMap.DefaultMode = ptr.To[int32](0o444)
	vc := VolumeContext{
		Pod: pod,
		Sources: fakeSources{
			configMaps: map[string]map[string]string{"jobs-redis-config": {"redis.conf": "dir /data\n"}},
			secrets:    map[string]map[string][]byte{"jobs-redis-auth": {"password.conf": []byte("requirepass s3cret\n")}},
		},
		Dirs: VolumeDirs{
			Pod:   filepath.Join(dir, "pod"),
			Claim: func(ns, claim string) string { return ClaimDir(filepath.Join(dir, "state"), ns, claim) },
		},
	}
	if _, err := MaterializeVolumes(context.Background(), vc); err != nil {
		t.Fatalf("a ConfigMap volume with defaultMode 0444: %v", err)
	}
	path := filepath.Join(dir, "pod", "config", "redis.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "dir " + ClaimDir(filepath.Join(dir, "state"), "apps", "data-jobs-redis-0") + "\n"; string(b) != want {
		t.Errorf("redis.conf = %q, want %q", b, want)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o444 {
		t.Errorf("redis.conf: %v, %v; want mode 444", info, err)
	}
}

func TestMaterializeVolumesErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*corev1.Pod)
		want   string // in the error; "" for none
	}{
		{"missing configmap", func(p *corev1.Pod) { p.Spec.Volumes[0].ConfigMap.Name = "nope" }, `configmap "nope"`},
		{"missing configmap, optional", func(p *corev1.Pod) {
			p.Spec.Volumes[0].ConfigMap.Name = "nope"
			p.Spec.Volumes[0].ConfigMap.Optional = ptr.To(true)
		}, ""},
		{"missing key", func(p *corev1.Pod) { p.Spec.Volumes[1].Secret.Items[0].Key = "nope" }, `has no key "nope"`},
		{"item leaves the volume", func(p *corev1.Pod) { p.Spec.Volumes[1].Secret.Items[0].Path = "../x" }, "leaves the volume"},
		{"subPath leaves the volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts[0].SubPath = "../../x"
		}, "leaves the volume"},
		{"unknown volume type mounted", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts,
				corev1.VolumeMount{Name: "unused", MountPath: "/nfs"})
		}, "not supported"},
		{"mount of a volume the pod lacks", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts[0].Name = "gone"
		}, `volume "gone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pod := managedRedisPod()
			tt.modify(pod)
			_, err := MaterializeVolumes(context.Background(), VolumeContext{
				Pod: pod,
				Sources: fakeSources{
					configMaps: map[string]map[string]string{"jobs-redis-config": {"redis.conf": "port 6379\n"}},
					secrets:    map[string]map[string][]byte{"jobs-redis-auth": {"password.conf": []byte("x")}},
				},
				Dirs: VolumeDirs{Pod: filepath.Join(dir, "pod"), Claim: func(ns, c string) string { return ClaimDir(dir, ns, c) }},
			})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestMaterializeProjected(t *testing.T) {
	dir := t.TempDir()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: "apps"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "manager", VolumeMounts: []corev1.VolumeMount{
				{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"},
			}}},
			Volumes: []corev1.Volume{{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: ptr.To[int32](0o444),
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{
						LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
					}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
						{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
					}}},
				},
			}}}},
		},
	}
	_, err := MaterializeVolumes(context.Background(), VolumeContext{
		Pod:     pod,
		Sources: fakeSources{configMaps: map[string]map[string]string{"kube-root-ca.crt": {"ca.crt": "PEM"}}},
		Dirs:    VolumeDirs{Pod: dir},
		Token:   func() ([]byte, error) { return []byte("tok"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"token": "tok", "ca.crt": "PEM", "namespace": "apps"} {
		path := filepath.Join(dir, "kube-api-access", file)
		b, err := os.ReadFile(path)
		info, _ := os.Stat(path)
		if err != nil || string(b) != want || info.Mode().Perm() != 0o444 {
			t.Errorf("%s = %q (%v), want %q with mode 444", file, b, err, want)
		}
	}
}
