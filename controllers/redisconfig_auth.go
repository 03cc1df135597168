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
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

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
// reads it back on every later reconcile. A Secret of that name that this
// RedisConfig does not control is neither read nor adopted: its password
// would become the server's and be handed to every client.
func (r *RedisConfigReconciler) ensureGeneratedPassword(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	name := resources.RedisPasswordSecretName(rc)
	sec := &corev1.Secret{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: rc.Namespace, Name: name}, sec)
	if apierrors.IsNotFound(err) {
		pw, err := resources.GeneratePassword(r.random())
		if err != nil {
			return err
		}
		sec, err = resources.BuildRedisPasswordSecret(rc, pw)
		if err != nil {
			return err
		}
		if err := controllerutil.SetControllerReference(rc, sec, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, sec); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return notOwned("Secret", name)
			}
			return fmt.Errorf("creating the password Secret: %w", err)
		}
		r.Recorder.Eventf(rc, sec, "Normal", queueworkerv1alpha1.ReasonPasswordGenerated, "Create",
			"generated a password into Secret %s", name)
	} else if err != nil {
		return fmt.Errorf("reading the password Secret: %w", err)
	} else if !metav1.IsControlledBy(sec, rc) {
		return notOwned("Secret", name)
	} else if want := resources.RedisPasswordSecretAnnotations(rc); !hasLabels(sec.Annotations, want) {
		// A Secret generated before it carried them: the QueueWorkers
		// that use this RedisConfig need them.
		sec.Annotations = mergeLabels(sec.Annotations, want)
		if err := r.Client.Update(ctx, sec); err != nil {
			return fmt.Errorf("annotating the password Secret: %w", err)
		}
	}
	key := resources.RedisPasswordSecretKey(rc)
	pw, ok := sec.Data[key.Key]
	if !ok {
		return stallf(queueworkerv1alpha1.ReasonSecretKeyNotFound,
			"the generated Secret %q has no key %q: delete it and a new password is generated", name, key.Key)
	}
	st.password = string(pw)
	st.passwordRef = key
	st.secretHash = secretDigest(sec, pw)
	return nil
}

// ensureAuthConf writes the derived Secret a managed server mounts when
// the password is the user's. It never updates a Secret this RedisConfig
// does not control.
func (r *RedisConfigReconciler) ensureAuthConf(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	want, err := resources.BuildRedisAuthConfSecret(rc, st.password)
	if err != nil {
		return stallf(queueworkerv1alpha1.ReasonInvalidSpec, "the password in Secret %q cannot be used: %v",
			rc.Spec.Auth.PasswordSecretRef.Name, err)
	}
	have := &corev1.Secret{}
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: rc.Namespace, Name: want.Name}, have)
	if apierrors.IsNotFound(err) {
		if err := controllerutil.SetControllerReference(rc, want, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return notOwned("Secret", want.Name)
			}
			return fmt.Errorf("creating Secret %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", want.Name, err)
	}
	if !metav1.IsControlledBy(have, rc) {
		return notOwned("Secret", want.Name)
	}
	if secretDataEqual(have.Data, want.Data) {
		return nil
	}
	have.Data = want.Data
	have.StringData = nil
	if err := r.Client.Update(ctx, have); err != nil {
		return fmt.Errorf("updating Secret %s: %w", want.Name, err)
	}
	return nil
}

// notOwned is the stall for an object the RedisConfig would write that
// exists and is controlled by someone else.
func notOwned(kind, name string) *stallError {
	return stallf(queueworkerv1alpha1.ReasonResourceConflict,
		"a %s named %q exists and is not controlled by this RedisConfig: rename or delete it", kind, name)
}

func secretDataEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
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
