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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileAuth reads every Secret the RedisConfig names and decides what
// its clients receive. The server's password comes from
// spec.auth.passwordSecretRef or, in mode Managed without one, from a
// random password generated once into a Secret the RedisConfig owns; a
// managed server reads it from a derived Secret holding only the redis.conf
// lines that set it. Every Secret the user names must allow RedisConfigs to
// use it (and, when it says so, the address the password goes to); a Secret
// the operator writes must be controlled by this RedisConfig. In mode
// External the clients (QueueWorkers through redis.configRef) get
// spec.clientAuth, never the operator's credentials unless
// clientAuth.useAdminCredentials says so; in mode Managed they get the
// server's password. Secrets are read with uncached GETs; a missing or
// refused one stalls the RedisConfig until it is fixed.
func (r *RedisConfigReconciler) reconcileAuth(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	return ctrl.Result{}, r.readAuth(ctx, st)
}

func (r *RedisConfigReconciler) readAuth(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	managed := rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal
	sendTo := redisConfigAddresses(rc)
	switch {
	case resources.RedisUserPassword(rc):
		ref := rc.Spec.Auth.PasswordSecretRef
		sec, pw, err := readSecretKey(ctx, r.APIReader, rc.Namespace, secretUse{kind: queueworkerv1alpha1.KindRedisConfig,
			field: "spec.auth.passwordSecretRef", name: ref.Name, key: ref.Key, sendTo: sendTo})
		if err != nil {
			return err
		}
		st.password = string(pw)
		st.passwordRef = resources.SecretKey{Name: ref.Name, Key: ref.Key}
		st.secretHash = secretDigest(sec, pw)
		if !managed {
			// The operator's client dials no address the Secret does not
			// allow; a managed server is the operator's own Service.
			st.passwordPins = secretPins(sec)
		}
		if managed {
			if err := r.ensureAuthConf(ctx, st); err != nil {
				return err
			}
		}
	case managed:
		if err := r.ensureGeneratedPassword(ctx, st); err != nil {
			return err
		}
	case !r.AllowPasswordlessExternal:
		// Without a password nothing shows that the author may configure
		// that server: the operator would reach, and rewrite, any Redis
		// its own pod can reach.
		return specStallf(queueworkerv1alpha1.ReasonPasswordRequired,
			"mode External needs spec.auth.passwordSecretRef: the operator configures only servers whose password it was given "+
				"(an administrator can allow password-less servers with --allow-passwordless-external-redis)")
	}

	if managed {
		// A managed server has one user: its clients get its password.
		st.clientPasswordRef = st.passwordRef
		return r.readServerTLS(ctx, st)
	}
	x := rc.Spec.External
	if x.TLS != nil && x.TLS.Enabled && x.TLS.CASecretRef != nil {
		ref := x.TLS.CASecretRef
		_, ca, err := readSecretKey(ctx, r.APIReader, rc.Namespace, secretUse{kind: queueworkerv1alpha1.KindRedisConfig,
			field: "spec.external.tls.caSecretRef", name: ref.Name, key: ref.Key})
		if err != nil {
			return err
		}
		st.caPEM = ca
	}
	switch ca := rc.Spec.ClientAuth; {
	case ca == nil:
		// No client credentials: the workers connect as the default user
		// without a password.
	case ca.UseAdminCredentials:
		st.clientPasswordRef = st.passwordRef
		st.clientUsername = x.Username
	default:
		st.clientUsername = ca.Username
		if ref := ca.PasswordSecretRef; ref != nil {
			if _, _, err := readSecretKey(ctx, r.APIReader, rc.Namespace, secretUse{kind: queueworkerv1alpha1.KindRedisConfig,
				field: "spec.clientAuth.passwordSecretRef", name: ref.Name, key: ref.Key, sendTo: sendTo}); err != nil {
				return err
			}
			st.clientPasswordRef = resources.SecretKey{Name: ref.Name, Key: ref.Key}
		}
	}
	return nil
}

// readServerTLS checks the certificate Secret a managed server mounts, and
// keeps its CA for the operator's own connection. Client certificates are
// refused: nobody would present one.
func (r *RedisConfigReconciler) readServerTLS(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	if !resources.RedisTLSEnabled(rc) {
		return nil
	}
	if rc.Spec.TLS.RequireClientCerts {
		// The API server refuses the field; an object stored before it did
		// would lock out the operator and every worker.
		return specStallf(queueworkerv1alpha1.ReasonUnsupported,
			"spec.tls.requireClientCerts is not supported yet: neither the operator nor the workers present a client certificate; remove it")
	}
	name := rc.Spec.TLS.CertSecretName
	sec, ca, err := readSecretKey(ctx, r.APIReader, rc.Namespace, secretUse{kind: queueworkerv1alpha1.KindRedisConfig,
		field: "spec.tls.certSecretName", name: name, key: redisconf.TLSCAFile})
	if err != nil {
		return err
	}
	for _, k := range []string{redisconf.TLSCertFile, redisconf.TLSKeyFile} {
		if _, ok := sec.Data[k]; !ok {
			return stallf(queueworkerv1alpha1.ReasonSecretKeyNotFound, "Secret %q (spec.tls.certSecretName) has no key %q", name, k)
		}
	}
	st.caPEM = ca
	return nil
}

// redisConfigAddresses are the addresses the RedisConfig's passwords are
// sent to: the managed Service, or the external server, sentinels or seeds.
func redisConfigAddresses(rc *queueworkerv1alpha1.RedisConfig) []string {
	if rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal {
		return []string{resources.RedisAddress(rc)}
	}
	return externalEndpoint(rc).Addresses()
}

// externalEndpoint is how the operator reaches the server of an External
// RedisConfig, with the operator's own username.
func externalEndpoint(rc *queueworkerv1alpha1.RedisConfig) resources.RedisEndpoint {
	x := rc.Spec.External
	ep, _ := resources.EndpointFromSpec(queueworkerv1alpha1.RedisConnection{
		Addr: x.Addr, Sentinel: x.Sentinel, Cluster: x.Cluster, Username: x.Username, TLS: x.TLS,
	})
	return ep
}

// ensureGeneratedPassword creates the generated password Secret once and
// reads it back on every later reconcile; its password never changes. A
// Secret of that name that this RedisConfig does not control is neither
// read nor adopted: its password would become the server's and be handed
// to every client.
func (r *RedisConfigReconciler) ensureGeneratedPassword(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	name := resources.RedisPasswordSecretName(rc)
	key := resources.RedisPasswordSecretKey(rc)
	w := r.writer(rc)
	have := &corev1.Secret{}
	found, err := w.read(ctx, types.NamespacedName{Namespace: rc.Namespace, Name: name}, have)
	if err != nil {
		return err
	}
	var pw string
	if found {
		v, ok := have.Data[key.Key]
		if !ok {
			return stallf(queueworkerv1alpha1.ReasonSecretKeyNotFound,
				"the generated Secret %q has no key %q: delete it and a new password is generated", name, key.Key)
		}
		pw = string(v)
	} else {
		have = nil
		if pw, err = resources.GeneratePassword(r.random()); err != nil {
			return err
		}
	}
	want, err := resources.BuildRedisPasswordSecret(rc, pw)
	if err != nil {
		return stallf(queueworkerv1alpha1.ReasonInvalidSpec,
			"the generated Secret %q holds a password that cannot be used: %v; delete it and a new password is generated", name, err)
	}
	// The hash of the Secret's data goes into its own annotation, which
	// only those who may read the data can read.
	if err := stamp(r.Client.Scheme(), rc, want); err != nil {
		return err
	}
	sec := have
	if !found {
		err = w.create(ctx, want)
		sec = want
	} else {
		var same bool
		if same, err = upToDate[corev1ac.SecretApplyConfiguration](have, want); err == nil && !same {
			err = applyOwned[corev1ac.SecretApplyConfiguration](ctx, w, want)
			sec = want
		}
	}
	if err != nil {
		return err
	}
	if !found {
		st.events.Eventf(rc, sec, "Normal", queueworkerv1alpha1.ReasonPasswordGenerated, "Create",
			"generated a password into Secret %s", name)
	}
	st.password = pw
	st.passwordRef = key
	st.secretHash = secretDigest(sec, []byte(pw))
	return nil
}

// ensureAuthConf writes the derived Secret a managed server mounts when
// the password is the user's. It never writes a Secret this RedisConfig
// does not control.
func (r *RedisConfigReconciler) ensureAuthConf(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	want, err := resources.BuildRedisAuthConfSecret(rc, st.password)
	if err != nil {
		return stallf(queueworkerv1alpha1.ReasonInvalidSpec, "the password in Secret %q cannot be used: %v",
			rc.Spec.Auth.PasswordSecretRef.Name, err)
	}
	return writeOwned[corev1ac.SecretApplyConfiguration](ctx, r, rc, &corev1.Secret{}, want)
}

// notOwned is the stall for an object the RedisConfig would write that
// exists and is controlled by someone else.
func notOwned(kind, name string) *stallError {
	return stallf(queueworkerv1alpha1.ReasonResourceConflict,
		"a %s named %q exists and is not controlled by this RedisConfig: rename or delete it", kind, name)
}

// secretDigest is a short digest of secret data for a pod annotation,
// keyed with the Secret's UID so that someone who can read pods but not
// Secrets cannot test password guesses against it.
func secretDigest(sec *corev1.Secret, data ...[]byte) string {
	mac := hmac.New(sha256.New, []byte(sec.UID))
	for _, d := range data {
		_, _ = fmt.Fprintf(mac, "%d:", len(d))
		_, _ = mac.Write(d)
	}
	return hex.EncodeToString(mac.Sum(nil))[:16]
}
