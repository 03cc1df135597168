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
	"math"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// EnvVar is one resolved environment variable.
type EnvVar struct {
	Name  string
	Value string
	// Secret is true for a value read from a Secret: a credential, whose
	// bytes the runner passes as they are (it rewrites no paths in it).
	Secret bool
}

// Sources reads the Secrets and ConfigMaps that env and envFrom refer to.
// A missing object is an error for which apierrors.IsNotFound is true.
type Sources interface {
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
}

// EnvContext is what the environment of one container is resolved from.
type EnvContext struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	Sources   Sources
	// IP stands for the pod's and the host's IPs in fieldRefs: the process
	// listens there, not at the pod IP kwok invented.
	IP string
	// NodeAllocatable stands for a limit the container leaves unset in a
	// resourceFieldRef, as the kubelet does.
	NodeAllocatable corev1.ResourceList
}

// envNameRE is what the kubelet accepts as a variable name from envFrom;
// other keys are skipped.
var envNameRE = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// ResolveEnv computes a container's environment as the kubelet does: the
// envFrom sources in order, then env; a later variable replaces an earlier
// one of the same name in place; a literal value has its $(VAR) references
// expanded against the variables defined before it. A missing Secret,
// ConfigMap or key fails unless the reference is optional, in which case
// the variable (or source) is left out.
func ResolveEnv(ctx context.Context, ec EnvContext) ([]EnvVar, error) {
	var env []EnvVar
	set := func(name, value string, secret bool) {
		for i := range env {
			if env[i].Name == name {
				env[i].Value, env[i].Secret = value, secret
				return
			}
		}
		env = append(env, EnvVar{Name: name, Value: value, Secret: secret})
	}
	ns := ec.Pod.Namespace

	for _, from := range ec.Container.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := ec.Sources.ConfigMap(ctx, ns, from.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom: configmap %q: %w", from.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := ec.Sources.Secret(ctx, ns, from.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom: secret %q: %w", from.SecretRef.Name, err)
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
		default:
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			if name := from.Prefix + k; envNameRE.MatchString(name) {
				set(name, data[k], from.SecretRef != nil)
			}
		}
	}

	for _, e := range ec.Container.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, envLookup(env)), false)
			continue
		}
		v, ok, err := valueFrom(ctx, ec, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v, e.ValueFrom.SecretKeyRef != nil)
		}
	}
	return env, nil
}

// valueFrom resolves one valueFrom; ok is false when an optional reference
// is missing and the variable is to be left out.
func valueFrom(ctx context.Context, ec EnvContext, from *corev1.EnvVarSource) (value string, ok bool, err error) {
	ns := ec.Pod.Namespace
	switch {
	case from.FieldRef != nil:
		v, err := fieldValue(ec, from.FieldRef.FieldPath)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceValue(ec, from.ResourceFieldRef)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := ec.Sources.ConfigMap(ctx, ns, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q: %w", ref.Name, err)
		}
		v, found := cm.Data[ref.Key]
		if !found {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q has no key %q", ref.Name, ref.Key)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := ec.Sources.Secret(ctx, ns, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q: %w", ref.Name, err)
		}
		v, found := s.Data[ref.Key]
		if !found {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		return string(v), true, nil
	}
	return "", false, fmt.Errorf("valueFrom names no source the pod runner knows")
}

// fieldValue resolves the downward-API fields the kubelet offers to env.
func fieldValue(ec EnvContext, path string) (string, error) {
	pod := ec.Pod
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return ec.IP, nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// subscript reads "prefix['key']".
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// resourceValue resolves a resourceFieldRef: the quantity divided by the
// divisor, rounded up. An unset limit is the node's allocatable amount.
func resourceValue(ec EnvContext, ref *corev1.ResourceFieldSelector) (string, error) {
	c := ec.Container
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		c = nil
		for i := range ec.Pod.Spec.Containers {
			if ec.Pod.Spec.Containers[i].Name == ref.ContainerName {
				c = &ec.Pod.Spec.Containers[i]
			}
		}
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef %q is not supported", ref.Resource)
	}
	res := corev1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		if v, set := c.Resources.Limits[res]; set {
			q = v
		} else {
			q = ec.NodeAllocatable[res]
		}
	} else {
		q = c.Resources.Requests[res]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if res == corev1.ResourceCPU {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

func isTrue(b *bool) bool { return b != nil && *b }
