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
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
// reconcileManagedApply without a restart.
func (r *RedisConfigReconciler) reconcileManaged(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
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
// object of the same name that the RedisConfig does not own stalls it.
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
				return fmt.Errorf("%T %s exists and is not managed by this RedisConfig", obj, obj.GetName())
			}
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %T %s: %w", obj, obj.GetName(), err)
	}
	if !metav1.IsControlledBy(have, rc) {
		return fmt.Errorf("%T %s exists and is not managed by this RedisConfig", obj, obj.GetName())
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
		// certificate Secret.
		ca, err := r.readSecretKey(ctx, rc.Namespace, rc.Spec.TLS.CertSecretName, redisconf.TLSCAFile)
		if err != nil {
			st.appliedReason, st.appliedMessage = queueworkerv1alpha1.ReasonUnreachable, err.Error()
			return ctrl.Result{RequeueAfter: unreachableRetry}, nil
		}
		creds.CAPEM = ca
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

// readSecretKey reads one key of a Secret with an uncached GET.
func (r *RedisConfigReconciler) readSecretKey(ctx context.Context, ns, name, key string) ([]byte, error) {
	sec := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sec); err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	v, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %q has no key %q", name, key)
	}
	return v, nil
}

// apply connects, applies, reads back the settings and the observe keys,
// and records the outcome for the summary.
func (r *RedisConfigReconciler) apply(ctx context.Context, st *redisConfigState, ep resources.RedisEndpoint,
	creds queue.Credentials, settings []redisadmin.Setting, observe []string, persist bool, recheck time.Duration) (ctrl.Result, error) {
	rc := st.rc
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
	return ctrl.Result{RequeueAfter: recheck}, nil
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
