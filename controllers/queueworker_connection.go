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
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileConnection resolves the Redis endpoint and reads the Secret
// values it uses. Secrets are read with uncached GETs; redis.configRef
// resolves through the RedisConfig's spec and status. Every Secret the
// workers get must allow QueueWorkers to use it (and, when it says so, the
// address the password goes to; the operator's own client then dials no
// other). A RedisConfig with a change its controller has not reconciled
// yet, or whose Redis is starting or rolling out, makes the QueueWorker
// wait (Reconciling True, WaitingForRedisConfig) without touching its
// Deployment. A missing or unready RedisConfig, a missing Secret or key, or a
// Secret that does not allow the use stalls the QueueWorker (the Stalled
// condition) and is looked for again after StalledRetryPeriod, so the
// QueueWorker recovers by itself; a Secret problem also stops the
// autoscaler's reads with it. The values are kept in memory and read again
// when the endpoint changes and every SecretResyncPeriod, so the
// autoscaler's wake-ups do not GET them each time.
func (r *QueueWorkerReconciler) reconcileConnection(ctx context.Context, st *queueWorkerState) (ctrl.Result, error) {
	qw := st.qw
	key := client.ObjectKeyFromObject(qw)
	ep, direct := resources.EndpointFromSpec(qw.Spec.Redis)
	if !direct {
		name := qw.Spec.Redis.ConfigRef.Name
		rc := &queueworkerv1alpha1.RedisConfig{}
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: qw.Namespace, Name: name}, rc)
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, stallf(queueworkerv1alpha1.ReasonRedisConfigNotFound, "RedisConfig %q not found", name)
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading RedisConfig %q: %w", name, err)
		}
		if msg, pending := redisConfigPending(rc); pending {
			// Its spec may already say what its status does not: using
			// both would mix two generations.
			return ctrl.Result{}, waitf(queueworkerv1alpha1.ReasonWaitingForRedisConfig,
				"waiting for RedisConfig %q: %s", name, msg)
		}
		if msg, ready := redisConfigReady(rc); !ready {
			if !serverTrouble(rc) {
				// The RedisConfig itself is refused (a Secret that no
				// longer allows it, say): stop reading with what it
				// published. While its server is merely unreachable, the
				// autoscaler keeps holding or falling back as configured.
				r.connections.forget(key)
				if r.Autoscaler != nil {
					r.Autoscaler.Remove(key)
				}
			}
			return ctrl.Result{}, stallf(queueworkerv1alpha1.ReasonRedisConfigNotReady,
				"RedisConfig %q is not ready: %s", name, msg)
		}
		ep = resources.EndpointFromRedisConfig(rc)
	}
	st.endpoint = ep

	uses := connectionSecretUses(ep, qw.Spec.Redis.ConfigRef)
	if len(uses) == 0 {
		r.connections.forget(key)
		return ctrl.Result{}, nil
	}
	now := r.now()
	if c, ok := r.connections.get(key, ep, now, r.secretResyncPeriod()); ok {
		st.credentials, st.secretHash = c.credentials, c.secretHash
		return ctrl.Result{RequeueAfter: c.readAt.Add(r.secretResyncPeriod()).Sub(now)}, nil
	}

	h := sha256.New()
	for _, use := range uses {
		sec, v, err := readSecretKey(ctx, r.APIReader, qw.Namespace, use)
		if asStall(err) != nil {
			// Stop using what the Secret no longer allows: the cached
			// values, and the autoscaler's connection with them.
			r.connections.forget(key)
			if r.Autoscaler != nil {
				r.Autoscaler.Remove(key)
			}
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		if use.sendTo != nil {
			st.credentials.Password = string(v)
			st.credentials.AllowedAddrs = secretPins(sec)
		} else {
			st.credentials.CAPEM = v
		}
		// Each value enters keyed with its Secret's UID, so the annotation
		// does not let someone who reads pods test password guesses.
		_, _ = fmt.Fprintf(h, "%s/%s:%s;", use.name, use.key, secretDigest(sec, v))
	}
	st.secretHash = hex.EncodeToString(h.Sum(nil))[:16]
	r.connections.put(key, cachedConnection{endpoint: ep, credentials: st.credentials, secretHash: st.secretHash, readAt: now})
	// Secrets are not watched: look again later to notice a rotation, or a
	// Secret that no longer allows the use.
	return ctrl.Result{RequeueAfter: r.secretResyncPeriod()}, nil
}

// redisConfigPending tells whether a RedisConfig is on its way to a status
// that describes its spec, and what it waits for: a generation its
// controller has not reconciled yet, or a Redis starting or rolling out. A
// QueueWorker using it waits rather than stalls: an edit of a healthy
// RedisConfig is no trouble of its QueueWorkers.
func redisConfigPending(rc *queueworkerv1alpha1.RedisConfig) (string, bool) {
	c := apimeta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	switch {
	case rc.Status.ObservedGeneration < rc.Generation || c == nil || c.ObservedGeneration < rc.Generation:
		return fmt.Sprintf("its generation %d is not reconciled yet", rc.Generation), true
	case c.Status != metav1.ConditionTrue &&
		(c.Reason == queueworkerv1alpha1.ReasonWaitingForRedis || c.Reason == queueworkerv1alpha1.ReasonProgressing):
		return c.Reason + ": " + c.Message, true
	}
	return "", false
}

// redisConfigReady tells whether a RedisConfig's status may be used, and
// why not. Its status must describe its current spec: the endpoint comes
// from the spec and the credentials from the status, and a spec that moved
// to another address must not get the credentials its controller checked
// for the old one.
func redisConfigReady(rc *queueworkerv1alpha1.RedisConfig) (string, bool) {
	c := apimeta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	switch {
	case c == nil || rc.Status.Address == "":
		return "it has no address yet", false
	case rc.Status.ObservedGeneration != rc.Generation || c.ObservedGeneration != rc.Generation:
		// redisConfigPending waits for these first.
		return fmt.Sprintf("its generation %d is not reconciled yet", rc.Generation), false
	case c.Status != metav1.ConditionTrue:
		return c.Reason + ": " + c.Message, false
	}
	return "", true
}

// serverTrouble tells whether a RedisConfig is not ready only because of its
// server (unreachable, refusing the operator's credentials, starting) or a
// change its controller has not reconciled yet, rather than because it is
// refused.
func serverTrouble(rc *queueworkerv1alpha1.RedisConfig) bool {
	c := apimeta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	if c == nil || c.ObservedGeneration != rc.Generation {
		return true
	}
	switch c.Reason {
	case queueworkerv1alpha1.ReasonUnreachable, queueworkerv1alpha1.ReasonAuthFailed,
		queueworkerv1alpha1.ReasonWaitingForRedis, queueworkerv1alpha1.ReasonProgressing, queueworkerv1alpha1.ReasonReady:
		return true
	}
	return false
}

// connectionSecretUses lists the Secret keys the endpoint uses, password
// first. Every one reaches the worker pods, so every one must allow
// QueueWorkers, whether spec.redis names it or the RedisConfig of
// redis.configRef publishes it; a password also the addresses it is sent
// to.
func connectionSecretUses(ep resources.RedisEndpoint, ref *queueworkerv1alpha1.RedisConfigReference) []secretUse {
	passwordField, caField := "spec.redis.passwordSecretRef", "spec.redis.tls.caSecretRef"
	if ref != nil {
		passwordField = fmt.Sprintf("the password of RedisConfig %q", ref.Name)
		caField = fmt.Sprintf("the CA of RedisConfig %q", ref.Name)
	}
	var uses []secretUse
	if ep.Password != nil {
		uses = append(uses, secretUse{kind: queueworkerv1alpha1.KindQueueWorker, field: passwordField,
			name: ep.Password.Name, key: ep.Password.Key, sendTo: ep.Addresses()})
	}
	if ep.CA != nil {
		uses = append(uses, secretUse{kind: queueworkerv1alpha1.KindQueueWorker, field: caField,
			name: ep.CA.Name, key: ep.CA.Key})
	}
	return uses
}

// connectionCache keeps the Secret values of each QueueWorker's connection
// between reconciles. It is safe for concurrent use; the zero value is
// ready.
type connectionCache struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]cachedConnection
}

// cachedConnection is what one read of a connection's Secrets found.
type cachedConnection struct {
	endpoint    resources.RedisEndpoint
	credentials queue.Credentials
	secretHash  string
	readAt      time.Time
}

// get returns the entry of key when it was read for the same endpoint less
// than maxAge before now.
func (c *connectionCache) get(key types.NamespacedName, ep resources.RedisEndpoint, now time.Time,
	maxAge time.Duration) (cachedConnection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !reflect.DeepEqual(e.endpoint, ep) || now.Sub(e.readAt) >= maxAge || now.Before(e.readAt) {
		return cachedConnection{}, false
	}
	return e, true
}

func (c *connectionCache) put(key types.NamespacedName, e cachedConnection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[types.NamespacedName]cachedConnection{}
	}
	c.entries[key] = e
}

func (c *connectionCache) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
