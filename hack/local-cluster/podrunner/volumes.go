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
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// A process cannot mount anything, so the runner materialises each volume
// a container mounts as a directory of this machine, and rewrites the
// paths the container names (in its command, args, env, exec probes and the
// files of its ConfigMap volumes) from the mount path to that directory.
// Values from Secrets are never rewritten: a password that happens to hold
// a mount path must reach the server as the clients send it. A program that opens a mount path it was not told about (a
// path compiled into it) does not find the volume.

// VolumeDirs says where the volumes of one pod live on this machine.
type VolumeDirs struct {
	// Pod is the directory of the volumes that live as long as the pod:
	// Pod/<volume> for emptyDir, ConfigMap, Secret, downwardAPI and
	// projected volumes.
	Pod string
	// Claim returns the directory of a PersistentVolumeClaim. It must
	// outlive the pod: a StatefulSet's new pod finds the data of the old.
	Claim func(namespace, claim string) string
}

// Mounts maps the mount paths a container sees to the paths of this
// machine that hold them.
type Mounts map[string]string

// VolumeContext is what the volumes of one pod are materialised from.
type VolumeContext struct {
	Pod     *corev1.Pod
	Sources Sources
	Dirs    VolumeDirs
	// IP and NodeAllocatable serve downwardAPI items, as for env.
	IP              string
	NodeAllocatable corev1.ResourceList
	// Token returns the pod's service account token, for projected
	// serviceAccountToken sources.
	Token func() ([]byte, error)
}

// MaterializeVolumes writes the volumes that the containers mount, and
// returns the mounts of every container by name. ConfigMap, Secret,
// downwardAPI and projected volumes are written afresh on each call, so a
// container that starts again reads the current data (the kubelet updates
// such volumes in place; the runner only on a start). emptyDir and claim
// directories keep what they hold. A missing ConfigMap or Secret fails
// unless the volume is optional; a volume type the runner does not know
// fails when a container mounts it.
func MaterializeVolumes(ctx context.Context, vc VolumeContext) (map[string]Mounts, error) {
	pod := vc.Pod
	used := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			used[m.Name] = true
		}
	}
	dirs := map[string]string{}
	var files []string // written from ConfigMaps: their paths are rewritten below
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if !used[v.Name] {
			continue
		}
		dir, written, err := materializeVolume(ctx, vc, v)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		dirs[v.Name] = dir
		files = append(files, written...)
	}

	all := Mounts{} // every mount path of the pod, for the files' contents
	byContainer := map[string]Mounts{}
	for _, c := range pod.Spec.Containers {
		m := Mounts{}
		for _, vm := range c.VolumeMounts {
			dir, ok := dirs[vm.Name]
			if !ok {
				return nil, fmt.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, vm.Name)
			}
			path := filepath.Clean(vm.MountPath)
			if path == "/" || !filepath.IsAbs(path) {
				return nil, fmt.Errorf("container %s: mount path %q cannot be mapped", c.Name, vm.MountPath)
			}
			local := dir
			if vm.SubPath != "" {
				sub := filepath.Clean(vm.SubPath)
				if filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, "../") {
					return nil, fmt.Errorf("container %s: subPath %q leaves the volume", c.Name, vm.SubPath)
				}
				local = filepath.Join(dir, sub)
			}
			m[path] = local
			if _, taken := all[path]; !taken {
				all[path] = local
			}
		}
		byContainer[c.Name] = m
	}
	for _, f := range files {
		if err := rewriteFile(f, all); err != nil {
			return nil, err
		}
	}
	return byContainer, nil
}

// materializeVolume writes one volume and returns its directory and the
// files it wrote from ConfigMaps.
func materializeVolume(ctx context.Context, vc VolumeContext, v *corev1.Volume) (string, []string, error) {
	dir := filepath.Join(vc.Dirs.Pod, v.Name)
	ns := vc.Pod.Namespace
	fresh := func() error {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		return os.MkdirAll(dir, 0o755)
	}
	switch {
	case v.EmptyDir != nil:
		return dir, nil, os.MkdirAll(dir, 0o777)
	case v.PersistentVolumeClaim != nil:
		d := vc.Dirs.Claim(ns, v.PersistentVolumeClaim.ClaimName)
		return d, nil, os.MkdirAll(d, 0o777)
	case v.HostPath != nil:
		// No isolation either way: the host's path is the volume.
		return v.HostPath.Path, nil, nil
	case v.ConfigMap != nil:
		if err := fresh(); err != nil {
			return "", nil, err
		}
		files, err := writeConfigMap(ctx, vc, dir, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode)
		return dir, files, err
	case v.Secret != nil:
		if err := fresh(); err != nil {
			return "", nil, err
		}
		return dir, nil, writeSecret(ctx, vc, dir, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode)
	case v.DownwardAPI != nil:
		if err := fresh(); err != nil {
			return "", nil, err
		}
		return dir, nil, writeDownwardAPI(vc, dir, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		if err := fresh(); err != nil {
			return "", nil, err
		}
		var files []string
		mode := v.Projected.DefaultMode
		for _, s := range v.Projected.Sources {
			var written []string
			var err error
			switch {
			case s.ConfigMap != nil:
				written, err = writeConfigMap(ctx, vc, dir, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode)
			case s.Secret != nil:
				err = writeSecret(ctx, vc, dir, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode)
			case s.DownwardAPI != nil:
				err = writeDownwardAPI(vc, dir, s.DownwardAPI.Items, mode)
			case s.ServiceAccountToken != nil:
				var token []byte
				if token, err = vc.Token(); err == nil {
					err = writeItem(dir, s.ServiceAccountToken.Path, token, nil, mode)
				}
			default:
				err = fmt.Errorf("a projected source other than configMap, secret, downwardAPI and serviceAccountToken is not supported by the pod runner")
			}
			if err != nil {
				return "", nil, err
			}
			files = append(files, written...)
		}
		return dir, files, nil
	}
	return "", nil, fmt.Errorf("its type is not supported by the pod runner (emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim and hostPath are)")
}

func writeConfigMap(ctx context.Context, vc VolumeContext, dir, name string, items []corev1.KeyToPath, optional *bool, mode *int32) ([]string, error) {
	cm, err := vc.Sources.ConfigMap(ctx, vc.Pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return writeKeys(dir, "configmap", name, data, items, optional, mode)
}

// writeSecret writes a Secret's keys. It returns no files to rewrite: a
// Secret holds credentials, whose bytes are what clients send, not paths.
func writeSecret(ctx context.Context, vc VolumeContext, dir, name string, items []corev1.KeyToPath, optional *bool, mode *int32) error {
	s, err := vc.Sources.Secret(ctx, vc.Pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return nil
		}
		return fmt.Errorf("secret %q: %w", name, err)
	}
	_, err = writeKeys(dir, "secret", name, s.Data, items, optional, mode)
	return err
}

// writeKeys writes the keys of a ConfigMap or Secret as the kubelet does:
// every key as a file of its name, or only the items, each at its path. A
// missing item key fails unless the source is optional.
func writeKeys(dir, kind, name string, data map[string][]byte, items []corev1.KeyToPath, optional *bool, mode *int32) ([]string, error) {
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	files := make([]string, 0, len(items))
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if isTrue(optional) {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		if err := writeItem(dir, it.Path, v, it.Mode, mode); err != nil {
			return nil, err
		}
		files = append(files, filepath.Join(dir, it.Path))
	}
	return files, nil
}

// writeDownwardAPI writes the fields of the pod that the items name.
func writeDownwardAPI(vc VolumeContext, dir string, items []corev1.DownwardAPIVolumeFile, mode *int32) error {
	ec := EnvContext{Pod: vc.Pod, IP: vc.IP, NodeAllocatable: vc.NodeAllocatable}
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.labels":
			value = formatMap(vc.Pod.Labels)
		case it.FieldRef != nil && it.FieldRef.FieldPath == "metadata.annotations":
			value = formatMap(vc.Pod.Annotations)
		case it.FieldRef != nil:
			value, err = fieldValue(ec, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			if ec.Container, err = containerNamed(vc.Pod, it.ResourceFieldRef.ContainerName); err == nil {
				value, err = resourceValue(ec, it.ResourceFieldRef)
			}
		default:
			err = fmt.Errorf("item %q names no field", it.Path)
		}
		if err != nil {
			return err
		}
		if err := writeItem(dir, it.Path, []byte(value), it.Mode, mode); err != nil {
			return err
		}
	}
	return nil
}

func containerNamed(pod *corev1.Pod, name string) (*corev1.Container, error) {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], nil
		}
	}
	return nil, fmt.Errorf("resourceFieldRef: no container %q", name)
}

// formatMap renders labels or annotations as the kubelet writes them: one
// key="value" line each, sorted by key.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// writeItem writes one file of a volume at its relative path, with the
// item's mode, else the volume's default mode, else 0644.
func writeItem(dir, rel string, data []byte, itemMode, defaultMode *int32) error {
	clean := filepath.Clean(rel)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("path %q leaves the volume", rel)
	}
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode) & os.ModePerm
	}
	if itemMode != nil {
		mode = os.FileMode(*itemMode) & os.ModePerm
	}
	path := filepath.Join(dir, clean)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode) // WriteFile's mode passes through the umask
}

// rewriteFile rewrites the mount paths in a text file written from a
// ConfigMap, keeping its mode. Binary files are left as they are.
func rewriteFile(path string, mounts Mounts) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
		return nil
	}
	out := mounts.Rewrite(string(b))
	if out == string(b) {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	// The item's mode (0444, say) binds a runner that is not root: the
	// file is made writable for the rewrite and gets its mode back.
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, info.Mode().Perm())
}

// Rewrite replaces every mount path in s by its local path. A mount path
// counts only as a whole path or a path's leading directories: "/data"
// matches in "dir /data", "/data/appendonly.aof" and "--dir=/data", not in
// "/database" or "/srv/data". The longest mount path wins.
func (m Mounts) Rewrite(s string) string {
	if len(m) == 0 || !strings.Contains(s, "/") {
		return s
	}
	paths := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return len(b) - len(a) })
	var out strings.Builder
	for i := 0; i < len(s); {
		matched := false
		if s[i] == '/' && (i == 0 || !isPathByte(s[i-1])) {
			for _, p := range paths {
				end := i + len(p)
				if strings.HasPrefix(s[i:], p) && (end == len(s) || s[end] == '/' || !isPathByte(s[end])) {
					out.WriteString(m[p])
					i = end
					matched = true
					break
				}
			}
		}
		if !matched {
			out.WriteByte(s[i])
			i++
		}
	}
	return out.String()
}

// isPathByte reports whether b can be part of a path name around a mount
// path: letters, digits, and the punctuation file names commonly hold.
func isPathByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	case b == '/', b == '.', b == '_', b == '-', b == '~', b == '+', b == '@':
		return true
	}
	return b >= 0x80
}
