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
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileManaged writes the ConfigMap with redis.conf, the Service and
// the one-replica StatefulSet of a managed Redis, with server-side apply.
// The pod template carries a hash of the restart-only keys and of the
// password: a change of either rolls the pod, while runtime keys reach the
// running server through reconcileManagedApply without a restart. Every
// image must be on the operator's allow-list (AllowedImages), or the
// RedisConfig stalls until its spec changes; an object of the same name
// that this RedisConfig does not control is never touched, and stalls it
// until that object goes. Claim templates cannot change on a StatefulSet:
// when persistence is switched the StatefulSet is deleted (its claims are
// kept) and created again once it is gone. An object the API server
// refuses (resources that request more than their limit, say) stalls the
// RedisConfig with InvalidSpec until its spec changes. A redis.conf written
// with a tcp-backlog the kernel caps earns a Warning event
// (warnBacklogCapped).
func (r *RedisConfigReconciler) reconcileManaged(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	for _, image := range resources.RedisImages(rc) {
		if !imageAllowed(image, r.allowedImages()) {
			return ctrl.Result{}, specStallf(queueworkerv1alpha1.ReasonImageNotAllowed,
				"image %q is not allowed by the operator (allowed: %s); use one of those, or ask the operator's administrator to allow it",
				image, strings.Join(r.allowedImages(), ", "))
		}
	}
	cm := &corev1.ConfigMap{}
	if err := writeOwned[corev1ac.ConfigMapApplyConfiguration](ctx, r, rc, cm,
		resources.BuildRedisConfigMap(rc, st.conf)); err != nil {
		return ctrl.Result{}, err
	}
	warnBacklogCapped(st, cm.Data[resources.RedisConfigKey])
	if err := writeOwned[corev1ac.ServiceApplyConfiguration](ctx, r, rc, &corev1.Service{},
		resources.BuildRedisService(rc)); err != nil {
		return ctrl.Result{}, err
	}

	sts := resources.BuildRedisStatefulSet(rc, st.restartHash, st.secretHash)
	w := r.writer(rc)
	have := &appsv1.StatefulSet{}
	found, err := w.read(ctx, client.ObjectKeyFromObject(sts), have)
	if err != nil {
		return ctrl.Result{}, err
	}
	if found && !have.DeletionTimestamp.IsZero() {
		// Being replaced: created again once it is gone.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if !found {
		have = nil
	}
	if err := stamp(r.Client.Scheme(), rc, sts); err != nil {
		return ctrl.Result{}, err
	}
	if found && len(have.Spec.VolumeClaimTemplates) != len(sts.Spec.VolumeClaimTemplates) {
		// Persistence was switched. Foreground deletion removes the pod
		// before the StatefulSet, so the new one does not race the old pod.
		if err := r.Client.Delete(ctx, have, client.Preconditions{UID: &have.UID},
			client.PropagationPolicy(metav1.DeletePropagationForeground)); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("replacing StatefulSet %s: %w", sts.Name, err)
		}
		st.events.Eventf(rc, have, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Replace",
			"persistence changed: replacing StatefulSet %s (volume claims are kept)", sts.Name)
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if found {
		// Any other change of the claim templates would be refused: keep
		// the ones it has.
		sts.Spec.VolumeClaimTemplates = have.Spec.VolumeClaimTemplates
		same, uerr := upToDate[appsv1ac.StatefulSetApplyConfiguration](have, sts)
		if uerr != nil {
			return ctrl.Result{}, uerr
		}
		if same {
			st.sts = have
			return ctrl.Result{}, nil
		}
		err = applyOwned[appsv1ac.StatefulSetApplyConfiguration](ctx, w, sts)
	} else {
		err = w.create(ctx, sts)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	st.sts = sts
	if found && have.Annotations[resources.AnnotationTemplateHash] != sts.Annotations[resources.AnnotationTemplateHash] {
		logf.FromContext(ctx).Info("rolling the managed Redis", "statefulSet", sts.Name, "restartHash", st.restartHash)
		st.events.Eventf(rc, sts, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Update",
			"restart-only settings or the password changed: rolling StatefulSet %s", sts.Name)
	}
	return ctrl.Result{}, nil
}

// writer writes the objects rc controls: an object of a name it would
// write that rc does not control stalls it with ResourceConflict, one the
// API server refuses with InvalidSpec.
func (r *RedisConfigReconciler) writer(rc *queueworkerv1alpha1.RedisConfig) ownedWriter {
	return ownedWriter{client: r.Client, api: r.APIReader, owner: rc, conflict: notOwned,
		refused: queueworkerv1alpha1.ReasonInvalidSpec}
}

// writeOwned creates want, an object the RedisConfig controls, or applies
// it unless it is already as wanted (upToDate); have receives the object as it
// exists. An object of the same name that the RedisConfig does not control
// is left alone and returned as a *stallError.
func writeOwned[AC any, P applyConfiguration[AC], T client.Object](ctx context.Context, r *RedisConfigReconciler,
	rc *queueworkerv1alpha1.RedisConfig, have, want T) error {
	w := r.writer(rc)
	found, err := w.read(ctx, client.ObjectKeyFromObject(want), have)
	if err != nil {
		return err
	}
	if err := stamp(r.Client.Scheme(), rc, want); err != nil {
		return err
	}
	if !found {
		return w.create(ctx, want)
	}
	same, err := upToDate[AC, P](have, want)
	if err != nil || same {
		return err
	}
	return applyOwned[AC, P](ctx, w, want)
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
		if redisconf.IsPlacement(d.Key) {
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
		next := prev.at.Add(recheck)
		// A server filling up is read more often, for status.capacity,
		// but only read: a failed reading falls through to a full
		// application, which reports why.
		if prev.usage.nearFull() {
			due := prev.usage.at.Add(r.memoryRecheckInterval())
			if !now.Before(due) {
				due = now
				if usage, ok := r.readUsage(ctx, ep, creds, now); ok {
					prev.usage = usage
					r.applied.put(key, prev)
					due = next
					if usage.nearFull() {
						due = now.Add(r.memoryRecheckInterval())
					}
				}
			}
			if due.Before(next) {
				next = due
			}
		}
		if next.After(now) {
			st.applied, st.nodes, st.values, st.usage = true, prev.nodes, prev.values, prev.usage
			st.appliedReason, st.appliedMessage = prev.reason, prev.message
			return ctrl.Result{RequeueAfter: min(next.Sub(now), resync)}, nil
		}
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
	if len(report.Usage) > 0 {
		st.usage = &usageReading{nodes: report.Usage, at: now}
		if st.usage.nearFull() {
			recheck = min(recheck, r.memoryRecheckInterval())
		}
	}
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
			st.events.Eventf(rc, nil, "Normal", queueworkerv1alpha1.ReasonConfigChanged, "Apply",
				"configuration %s applied to %v", st.configHash, report.Nodes)
		}
	} else {
		st.appliedReason = queueworkerv1alpha1.ReasonDrift
		st.appliedMessage = driftMessage(report.Drift)
	}
	r.applied.put(key, appliedRecord{digest: digest, at: now, nodes: st.nodes, values: st.values,
		usage: st.usage, reason: st.appliedReason, message: st.appliedMessage})
	return ctrl.Result{RequeueAfter: min(recheck, resync)}, nil
}

// readUsage reads the servers' memory and clients for status.capacity;
// false when they could not be read. A reading without any node (INFO
// refused) is nil.
func (r *RedisConfigReconciler) readUsage(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials,
	now time.Time) (*usageReading, bool) {
	rdb, err := r.newClient(ep, creds)
	if err != nil {
		return nil, false
	}
	defer func() { _ = rdb.Close() }()
	rctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	nodes, err := redisadmin.ReadUsage(rctx, rdb)
	if err != nil {
		return nil, false
	}
	if len(nodes) == 0 {
		return nil, true
	}
	return &usageReading{nodes: nodes, at: now}, true
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
	usage           *usageReading
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
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Secret:
		return "Secret"
	}
	return fmt.Sprintf("%T", obj)
}
