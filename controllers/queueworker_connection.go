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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileConnection resolves the Redis endpoint and hashes the data of the
// Secrets it uses. Secrets are read with an uncached GET, one per referenced
// Secret; redis.configRef resolves through the RedisConfig's status. A
// missing or unready RedisConfig, Secret or key stalls the QueueWorker (the
// Stalled condition) and is looked for again after StalledRetryPeriod, so
// the QueueWorker recovers by itself once it appears.
func (r *QueueWorkerReconciler) reconcileConnection(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw := st.qw
	ep, ok := resources.EndpointFromSpec(qw.Spec.Redis)
	if !ok {
		name := qw.Spec.Redis.ConfigRef.Name
		rc := &queueworkerv1alpha1.RedisConfig{}
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: qw.Namespace, Name: name}, rc)
		if apierrors.IsNotFound(err) {
			st.stall(queueworkerv1alpha1.ReasonRedisConfigNotFound, "RedisConfig %q not found", name)
			return ctrl.Result{RequeueAfter: r.stalledRetryPeriod()}, nil
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading RedisConfig %q: %w", name, err)
		}
		if !apimeta.IsStatusConditionTrue(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady) || rc.Status.Address == "" {
			msg := "it has no address yet"
			if c := apimeta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady); c != nil {
				msg = c.Reason + ": " + c.Message
			}
			st.stall(queueworkerv1alpha1.ReasonRedisConfigNotReady, "RedisConfig %q is not ready: %s", name, msg)
			return ctrl.Result{RequeueAfter: r.stalledRetryPeriod()}, nil
		}
		ep = resources.EndpointFromRedisConfig(rc)
	}
	st.endpoint = ep

	keys := ep.SecretKeys()
	if len(keys) == 0 {
		return ctrl.Result{}, nil
	}
	h := sha256.New()
	secrets := map[string]*corev1.Secret{}
	for _, k := range keys {
		sec, found := secrets[k.Name]
		if !found {
			sec = &corev1.Secret{}
			err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: qw.Namespace, Name: k.Name}, sec)
			if apierrors.IsNotFound(err) {
				st.stall(queueworkerv1alpha1.ReasonSecretNotFound, "Secret %q not found", k.Name)
				return ctrl.Result{RequeueAfter: r.stalledRetryPeriod()}, nil
			}
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("reading Secret %q: %w", k.Name, err)
			}
			secrets[k.Name] = sec
		}
		v, found := sec.Data[k.Key]
		if !found {
			st.stall(queueworkerv1alpha1.ReasonSecretKeyNotFound, "Secret %q has no key %q", k.Name, k.Key)
			return ctrl.Result{RequeueAfter: r.stalledRetryPeriod()}, nil
		}
		if ep.Password != nil && k == *ep.Password {
			st.credentials.Password = string(v)
		}
		if ep.CA != nil && k == *ep.CA {
			st.credentials.CAPEM = v
		}
		// Each value enters keyed with its Secret's UID, so the annotation
		// does not let someone who reads pods test password guesses.
		_, _ = fmt.Fprintf(h, "%s/%s:%s;", k.Name, k.Key, secretDigest(sec, v))
	}
	st.secretHash = hex.EncodeToString(h.Sum(nil))[:16]
	// Secrets are not watched: look again later to notice a rotation.
	return ctrl.Result{RequeueAfter: r.secretResyncPeriod()}, nil
}
