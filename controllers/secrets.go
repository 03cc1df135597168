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
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// secretUse is one key of a Secret that an object refers to, and what the
// operator would do with it.
type secretUse struct {
	// kind is the kind of the referring object, as the Secret must name it
	// in AnnotationSecretUsableBy; empty for a Secret a RedisConfig
	// published, which its controller checked.
	kind string
	// field names the reference in messages, e.g. spec.auth.passwordSecretRef.
	field     string
	name, key string
	// sendTo are the Redis addresses a password from the Secret would be
	// sent to; nil for data that is not a password (a CA, a certificate).
	sendTo []string
}

// checkSecretUse tells whether the Secret lets use.kind use it, and a
// password be sent to every address of use.sendTo. The operator may read
// every Secret of the namespaces it watches; without this check anyone who
// may create a QueueWorker or RedisConfig could have it send any of them to
// an address of their choice.
func checkSecretUse(sec *corev1.Secret, use secretUse) error {
	kinds := splitList(sec.Annotations[queueworkerv1alpha1.AnnotationSecretUsableBy])
	if !slices.Contains(kinds, use.kind) {
		return stallf(queueworkerv1alpha1.ReasonSecretNotAllowed,
			"Secret %q (%s) does not allow %ss to use it: someone who may edit Secrets in this namespace must annotate it %s=%s",
			use.name, use.field, use.kind, queueworkerv1alpha1.AnnotationSecretUsableBy, use.kind)
	}
	addrs := secretPins(sec)
	if addrs == nil || use.sendTo == nil {
		return nil
	}
	for _, a := range use.sendTo {
		if !slices.ContainsFunc(addrs, func(b string) bool { return strings.EqualFold(a, b) }) {
			// The allowed addresses are not repeated: whoever reads the
			// condition may not be allowed to read the Secret.
			return stallf(queueworkerv1alpha1.ReasonSecretNotAllowed,
				"Secret %q (%s) may not be sent to %s: its annotation %s lists other addresses",
				use.name, use.field, a, queueworkerv1alpha1.AnnotationSecretUsableWith)
		}
	}
	return nil
}

// secretPins are the addresses the Secret's password may be sent to, nil
// when it does not pin any (and an empty, non-nil list when it pins none).
func secretPins(sec *corev1.Secret) []string {
	v, ok := sec.Annotations[queueworkerv1alpha1.AnnotationSecretUsableWith]
	if !ok {
		return nil
	}
	addrs := splitList(v)
	if addrs == nil {
		addrs = []string{}
	}
	return addrs
}

// readSecretKey reads the Secret of use with an uncached GET (Secrets are
// never cached or listed) and returns it with the value of use.key. A
// missing Secret or key, or a Secret that does not allow the use, is a
// *stallError; anything else is transient.
func readSecretKey(ctx context.Context, r client.Reader, namespace string, use secretUse) (*corev1.Secret, []byte, error) {
	sec := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: use.name}, sec)
	if apierrors.IsNotFound(err) {
		return nil, nil, stallf(queueworkerv1alpha1.ReasonSecretNotFound, "Secret %q (%s) not found", use.name, use.field)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading Secret %q: %w", use.name, err)
	}
	// An empty kind is a reference another controller checked already.
	if use.kind != "" {
		if err := checkSecretUse(sec, use); err != nil {
			return nil, nil, err
		}
	}
	v, ok := sec.Data[use.key]
	if !ok {
		return nil, nil, stallf(queueworkerv1alpha1.ReasonSecretKeyNotFound,
			"Secret %q (%s) has no key %q", use.name, use.field, use.key)
	}
	return sec, v, nil
}

// splitList splits a comma-separated annotation value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
