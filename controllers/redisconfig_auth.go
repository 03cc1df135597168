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
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileAuth finds the password. With spec.auth.passwordSecretRef it is
// read from the user's Secret; in mode Managed without one, a random
// password is generated once into a Secret the RedisConfig owns. A managed
// server reads it from a derived Secret holding only the redis.conf lines
// that set it. Secrets are read with uncached GETs; a missing one stalls
// the RedisConfig until it appears.
func (r *RedisConfigReconciler) reconcileAuth(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	managed := rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal
	switch {
	case resources.RedisUserPassword(rc):
		ref := rc.Spec.Auth.PasswordSecretRef
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: rc.Namespace, Name: ref.Name}, sec)
		if apierrors.IsNotFound(err) {
			st.stall(queueworkerv1alpha1.ReasonSecretNotFound, "Secret %q not found", ref.Name)
			return ctrl.Result{RequeueAfter: DefaultStalledRetryPeriod}, nil
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading Secret %q: %w", ref.Name, err)
		}
		pw, ok := sec.Data[ref.Key]
		if !ok {
			st.stall(queueworkerv1alpha1.ReasonSecretKeyNotFound, "Secret %q has no key %q", ref.Name, ref.Key)
			return ctrl.Result{RequeueAfter: DefaultStalledRetryPeriod}, nil
		}
		st.password = string(pw)
		st.passwordRef = resources.SecretKey{Name: ref.Name, Key: ref.Key}
		st.secretHash = secretDigest(sec, pw)
		if managed {
			if err := r.ensureAuthConf(ctx, st); err != nil {
				return ctrl.Result{}, err
			}
		}
	case managed:
		if err := r.ensureGeneratedPassword(ctx, st); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// ensureGeneratedPassword creates the generated password Secret once and
// reads it back on every later reconcile.
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
			return fmt.Errorf("creating the password Secret: %w", err)
		}
		r.Recorder.Eventf(rc, sec, "Normal", queueworkerv1alpha1.ReasonPasswordGenerated, "Create",
			"generated a password into Secret %s", name)
	} else if err != nil {
		return fmt.Errorf("reading the password Secret: %w", err)
	}
	key := resources.RedisPasswordSecretKey(rc)
	pw, ok := sec.Data[key.Key]
	if !ok {
		return fmt.Errorf("the generated Secret %s lacks key %q", name, key.Key)
	}
	st.password = string(pw)
	st.passwordRef = key
	st.secretHash = secretDigest(sec, pw)
	return nil
}

// ensureAuthConf writes the derived Secret a managed server mounts when
// the password is the user's.
func (r *RedisConfigReconciler) ensureAuthConf(ctx context.Context, st *redisConfigState) error {
	rc := st.rc
	want, err := resources.BuildRedisAuthConfSecret(rc, st.password)
	if err != nil {
		st.stall(queueworkerv1alpha1.ReasonInvalidSpec, "the password in Secret %q cannot be used: %v",
			rc.Spec.Auth.PasswordSecretRef.Name, err)
		return nil
	}
	have := &corev1.Secret{}
	err = r.APIReader.Get(ctx, types.NamespacedName{Namespace: rc.Namespace, Name: want.Name}, have)
	if apierrors.IsNotFound(err) {
		if err := controllerutil.SetControllerReference(rc, want, r.Client.Scheme()); err != nil {
			return err
		}
		if err := r.Client.Create(ctx, want); err != nil {
			return fmt.Errorf("creating Secret %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Secret %s: %w", want.Name, err)
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
