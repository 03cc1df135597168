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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileManaged writes the ConfigMap with redis.conf, the Service and
// the one-replica StatefulSet of a managed Redis. The pod template carries
// a hash of the restart-only keys and of the password: a change of either
// rolls the pod, while runtime keys reach the running server through
// reconcileManagedApply without a restart. Every image must be on the
// operator's allow-list (AllowedImages), or the RedisConfig stalls until
// its spec changes; an object of the same name that this RedisConfig does
// not control is never touched, and stalls it until that object goes.
func (r *RedisConfigReconciler) reconcileManaged(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	for _, image := range resources.RedisImages(rc) {
		if !imageAllowed(image, r.allowedImages()) {
			return ctrl.Result{}, specStallf(queueworkerv1alpha1.ReasonImageNotAllowed,
				"image %q is not allowed by the operator (allowed: %s); use one of those, or ask the operator's administrator to allow it",
				image, strings.Join(r.allowedImages(), ", "))
		}
	}
	cm := resources.BuildRedisConfigMap(rc, st.conf)
	if err := r.writeOwned(ctx, rc, cm, func(have client.Object) bool {
		h := have.(*corev1.ConfigMap)
		if maps.Equal(h.Data, cm.Data) && hasLabels(h.Labels, cm.Labels) {
			return false
		}
		h.Data = cm.Data
		h.Labels = mergeLabels(h.Labels, cm.Labels)
		return true
	}); err != nil {
		return ctrl.Result{}, err
	}

	svc := resources.BuildRedisService(rc)
	if err := r.writeOwned(ctx, rc, svc, func(have client.Object) bool {
		h := have.(*corev1.Service)
		if equalPorts(h.Spec.Ports, svc.Spec.Ports) && maps.Equal(h.Spec.Selector, svc.Spec.Selector) &&
			hasLabels(h.Labels, svc.Labels) {
			return false
		}
		h.Spec.Ports = svc.Spec.Ports
		h.Spec.Selector = svc.Spec.Selector
		h.Labels = mergeLabels(h.Labels, svc.Labels)
		return true
	}); err != nil {
		return ctrl.Result{}, err
	}

	sts := resources.BuildRedisStatefulSet(rc, st.restartHash, st.secretHash)
	hash := sts.Annotations[resources.AnnotationTemplateHash]
	var rolled, recreate bool
	if err := r.writeOwned(ctx, rc, sts, func(have client.Object) bool {
		h := have.(*appsv1.StatefulSet)
		if h.Annotations[resources.AnnotationTemplateHash] == hash && hasLabels(h.Labels, sts.Labels) {
			return false
		}
		if len(h.Spec.VolumeClaimTemplates) != len(sts.Spec.VolumeClaimTemplates) {
			// Persistence was switched: claim templates cannot change on a
			// StatefulSet, so it is replaced. Claims are retained.
			recreate = true
			return false
		}
		h.Spec.Template = sts.Spec.Template
		h.Labels = mergeLabels(h.Labels, sts.Labels)
		h.Annotations = mergeLabels(h.Annotations, map[string]string{resources.AnnotationTemplateHash: hash})
		rolled = true
		return true
	}); err != nil {
		return ctrl.Result{}, err
	}
	if recreate {
		current := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), current); err != nil {
			return ctrl.Result{}, fmt.Errorf("reading StatefulSet %s: %w", sts.Name, err)
		}
		if err := r.Client.Delete(ctx, current, client.Preconditions{UID: &current.UID},
			client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("replacing StatefulSet %s: %w", sts.Name, err)
		}
		r.Recorder.Eventf(rc, current, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Replace",
			"persistence changed: replacing StatefulSet %s (volume claims are kept)", sts.Name)
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if rolled {
		logf.FromContext(ctx).Info("rolling the managed Redis", "statefulSet", sts.Name, "restartHash", st.restartHash)
		r.Recorder.Eventf(rc, sts, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Update",
			"restart-only settings or the password changed: rolling StatefulSet %s", sts.Name)
	}
	current := &appsv1.StatefulSet{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), current); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading StatefulSet %s: %w", sts.Name, err)
	}
	st.sts = current
	return ctrl.Result{}, nil
}

// writeOwned creates obj with the RedisConfig as controller, or lets
// update change the existing object and writes it when update says so. An
// object of the same name that the RedisConfig does not control is left
// alone and returned as a *stallError.
func (r *RedisConfigReconciler) writeOwned(ctx context.Context, rc *queueworkerv1alpha1.RedisConfig,
	obj client.Object, update func(have client.Object) bool) error {
	have := obj.DeepCopyObject().(client.Object)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), have)
	if apierrors.IsNotFound(err) {
		if err := controllerutil.SetControllerReference(rc, obj, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, obj); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// The cache holds only objects labelled as ours, so a
				// foreign one of the same name shows up here.
				return notOwned(kindOf(obj), obj.GetName())
			}
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %T %s: %w", obj, obj.GetName(), err)
	}
	if !metav1.IsControlledBy(have, rc) {
		return notOwned(kindOf(obj), obj.GetName())
	}
	if !update(have) {
		return nil
	}
	if err := r.Client.Update(ctx, have); err != nil {
		return fmt.Errorf("updating %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

// reconcileManagedApply sets the runtime keys on the running managed
// server with CONFIG SET, so a runtime change needs no restart, and reads
// every key back. It owns the Applied condition in mode Managed.
func (r *RedisConfigReconciler) reconcileManagedApply(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	if st.sts == nil || st.sts.Status.ReadyReplicas < 1 {
		st.appliedReason = queueworkerv1alpha1.ReasonWaitingForRedis
		st.appliedMessage = "the Redis pod is not ready yet"
		return ctrl.Result{}, nil
	}
	addr := resources.RedisAddress(rc)
	if r.DialAddress != nil {
		addr = r.DialAddress(rc)
	}
	ep := resources.RedisEndpoint{Mode: "standalone", Addr: addr, TLS: resources.RedisTLSEnabled(rc)}
	creds := queue.Credentials{Password: st.password}
	if ep.TLS {
		// The operator checks the server against the CA of the mounted
		// certificate Secret (read by reconcileAuth).
		creds.CAPEM = st.caPEM
		ep.ServerName = resources.RedisServiceName(rc) + "." + rc.Namespace + ".svc"
	}
	var settings []redisadmin.Setting
	for _, d := range st.directives {
		if placementKeys[d.Key] {
			continue
		}
		settings = append(settings, redisadmin.Setting{Key: d.Key, Value: d.Value,
			Runtime: redisconf.ModeOf(d.Key) == redisconf.Runtime})
	}
	return r.apply(ctx, st, ep, creds, settings, nil, false, DefaultRecheckInterval)
}

// apply connects, applies, reads back the settings and the observe keys,
// and records the outcome for the summary. When nothing it would send
// changed since the last successful application and recheck has not
// passed, it does not connect at all: the reconcile then only read and
// checked the Secrets again, which it does every SecretResyncPeriod, so
// that a Secret that stops allowing the use is noticed without waiting for
// the recheck.
func (r *RedisConfigReconciler) apply(ctx context.Context, st *redisConfigState, ep resources.RedisEndpoint,
	creds queue.Credentials, settings []redisadmin.Setting, observe []string, persist bool, recheck time.Duration) (ctrl.Result, error) {
	rc := st.rc
	key := client.ObjectKeyFromObject(rc)
	digest := applyDigest(ep, creds, settings, observe, persist)
	now := r.now()
	resync := min(recheck, r.secretResyncPeriod())
	if prev, ok := r.applied.get(key); ok && prev.digest == digest && !now.Before(prev.at) && now.Sub(prev.at) < recheck {
		st.applied, st.nodes, st.values = true, prev.nodes, prev.values
		st.appliedReason, st.appliedMessage = prev.reason, prev.message
		return ctrl.Result{RequeueAfter: min(prev.at.Add(recheck).Sub(now), resync)}, nil
	}
	r.applied.forget(key)
	rdb, err := r.newClient(ep, creds)
	if err != nil {
		st.appliedReason, st.appliedMessage = queueworkerv1alpha1.ReasonInvalidSpec, err.Error()
		return ctrl.Result{RequeueAfter: unreachableRetry}, nil
	}
	defer func() { _ = rdb.Close() }()
	actx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	report, err := redisadmin.Apply(actx, rdb, settings, observe, persist)
	if err != nil {
		reason := queueworkerv1alpha1.ReasonUnreachable
		if errors.Is(err, redisadmin.ErrAuth) {
			reason = queueworkerv1alpha1.ReasonAuthFailed
		}
		st.appliedReason, st.appliedMessage = reason, err.Error()
		return ctrl.Result{RequeueAfter: unreachableRetry}, nil
	}
	st.applied = true
	st.nodes = report.Nodes
	st.values = report.Values
	rc.Status.Drift = nil
	for _, d := range report.Drift {
		rc.Status.Drift = append(rc.Status.Drift, queueworkerv1alpha1.ConfigDrift{
			Key: d.Key, Want: d.Want, Have: d.Have, Node: d.Node, Reason: d.Reason, Message: d.Message,
		})
	}
	if len(report.Drift) == 0 {
		st.appliedReason = queueworkerv1alpha1.ReasonApplied
		st.appliedMessage = fmt.Sprintf("%d keys applied on %d servers", report.Applied, len(report.Nodes))
		if rc.Status.ConfigHash != st.configHash || rc.Status.AppliedAt == nil {
			now := metav1.NewTime(r.now())
			rc.Status.AppliedAt = &now
			r.Recorder.Eventf(rc, nil, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Apply",
				"configuration %s applied to %v", st.configHash, report.Nodes)
		}
	} else {
		st.appliedReason = queueworkerv1alpha1.ReasonDrift
		st.appliedMessage = driftMessage(report.Drift)
	}
	r.applied.put(key, appliedRecord{digest: digest, at: now, nodes: st.nodes, values: st.values,
		reason: st.appliedReason, message: st.appliedMessage})
	return ctrl.Result{RequeueAfter: resync}, nil
}

// appliedCache remembers, per RedisConfig, what was last applied
// successfully and when. It holds a digest of the credentials, never the
// credentials. The zero value is ready; it is safe for concurrent use.
type appliedCache struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]appliedRecord
}

// appliedRecord is one successful application and its outcome.
type appliedRecord struct {
	digest          string
	at              time.Time
	nodes           []string
	values          []redisadmin.Value
	reason, message string
}

func (c *appliedCache) get(key types.NamespacedName) (appliedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

func (c *appliedCache) put(key types.NamespacedName, e appliedRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[types.NamespacedName]appliedRecord{}
	}
	c.entries[key] = e
}

func (c *appliedCache) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// applyDigest hashes everything an application sends: where, as whom,
// and what.
func applyDigest(ep resources.RedisEndpoint, creds queue.Credentials, settings []redisadmin.Setting, observe []string, persist bool) string {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%#v\n%q\n%q\n%q\n%#v\n%q\n%v", ep, creds.Password, creds.CAPEM, creds.AllowedAddrs, settings, observe, persist)
	return hex.EncodeToString(h.Sum(nil))
}

func driftMessage(drift []redisadmin.Drift) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys do not have their rendered value:", len(drift))
	for i, d := range drift {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(drift)-5)
			break
		}
		fmt.Fprintf(&b, " %s (%s)", d.Key, d.Reason)
	}
	b.WriteString("; see status.drift")
	return b.String()
}

// DefaultAllowedImages are the images a Managed RedisConfig may run when
// the operator is not told otherwise: any tag or digest of the official
// Redis image and of redis_exporter, which the RedisConfig defaults to.
var DefaultAllowedImages = []string{"redis", "oliver006/redis_exporter"}

func (r *RedisConfigReconciler) allowedImages() []string {
	if r.AllowedImages != nil {
		return r.AllowedImages
	}
	return DefaultAllowedImages
}

// CheckImagePatterns returns an error naming the first pattern that
// imageAllowed cannot use, so the operator refuses a bad
// --allowed-redis-images at start rather than every image later.
func CheckImagePatterns(patterns []string) error {
	for _, p := range patterns {
		if p == "*" {
			continue
		}
		if _, err := reference.ParseNormalizedNamed(strings.TrimSuffix(p, "/*")); err != nil {
			return fmt.Errorf("image pattern %q: %w", p, err)
		}
	}
	return nil
}

// imageAllowed matches image against the patterns, comparing image
// references the way a container runtime resolves them (redis is
// docker.io/library/redis). A pattern is a repository (any tag or digest of
// it: "redis", "registry.example.com/mirror/redis"), a repository with a
// tag or digest (that one only: "redis:7.4"), a repository path ending in
// "/*" (every repository under it on that registry), or "*" (any image). A
// managed Redis pod mounts the password and certificate Secrets, so who may
// create a RedisConfig must not choose what runs with them.
func imageAllowed(image string, patterns []string) bool {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return false
	}
	for _, p := range patterns {
		if p == "*" {
			return true
		}
		if dir, ok := strings.CutSuffix(p, "/*"); ok {
			d, err := reference.ParseNormalizedNamed(dir)
			if err == nil && strings.HasPrefix(ref.Name(), d.Name()+"/") {
				return true
			}
			continue
		}
		want, err := reference.ParseNormalizedNamed(p)
		if err != nil || want.Name() != ref.Name() {
			continue
		}
		wantTag, tagged := want.(reference.Tagged)
		wantDigest, digested := want.(reference.Digested)
		switch {
		case digested:
			if d, ok := ref.(reference.Digested); ok && d.Digest() == wantDigest.Digest() {
				return true
			}
		case tagged:
			if t, ok := ref.(reference.Tagged); ok && t.Tag() == wantTag.Tag() {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// kindOf names the kind of an object the RedisConfig writes, for messages.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Service:
		return "Service"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *corev1.Secret:
		return "Secret"
	}
	return fmt.Sprintf("%T", obj)
}

func mergeLabels(base, owned map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(owned))
	maps.Copy(out, base)
	maps.Copy(out, owned)
	return out
}

func equalPorts(a, b []corev1.ServicePort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Port != b[i].Port || a[i].TargetPort != b[i].TargetPort || a[i].Protocol != b[i].Protocol {
			return false
		}
	}
	return true
}
