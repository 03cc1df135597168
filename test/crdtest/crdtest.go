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

// Package crdtest lets envtest suites store an object that a CRD's current
// validation refuses, as an older CRD would have accepted it: the state a
// cluster is in after an upgrade adds a rule. It talks to the API server
// with unstructured objects, so it needs no scheme.
package crdtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// timeout bounds the wait for the API server to take up a CRD change, which
// it does asynchronously; generous for a busy machine.
const timeout = 60 * time.Second

var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// StoreWithoutRootRules removes from every version of the CRD crd the rules
// at the root of the schema (x-kubernetes-validations) whose expression
// contains match, runs store until it succeeds, and puts the rules back. It
// returns once refused returns nil, which it must do when the rules are in
// force again (a dry-run create of an object they refuse, say), so that
// what the caller tests next runs under the current CRD.
func StoreWithoutRootRules(ctx context.Context, c client.Client, crd, match string, store, refused func() error) (err error) {
	saved, err := rootRules(ctx, c, crd)
	if err != nil {
		return err
	}
	matches := func(r any) bool {
		rule, _ := r.(map[string]any)["rule"].(string)
		return strings.Contains(rule, match)
	}
	found := false
	for _, rules := range saved {
		found = found || slices.ContainsFunc(rules, matches)
	}
	if !found {
		return fmt.Errorf("CRD %s has no root rule containing %q", crd, match)
	}
	err = setRootRules(ctx, c, crd, func(_ string, rules []any) []any {
		return slices.DeleteFunc(rules, matches)
	})
	if err != nil {
		return err
	}
	defer func() {
		rerr := setRootRules(ctx, c, crd, func(version string, _ []any) []any { return saved[version] })
		if rerr == nil {
			rerr = poll(ctx, "the restored rules refuse again", refused)
		}
		if err == nil {
			err = rerr
		}
	}()
	return poll(ctx, "storing the object without the rules", store)
}

// rootRules reads the root rules of each version of the CRD.
func rootRules(ctx context.Context, c client.Client, crd string) (map[string][]any, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(crdGVK)
	if err := c.Get(ctx, client.ObjectKey{Name: crd}, u); err != nil {
		return nil, fmt.Errorf("reading CRD %s: %w", crd, err)
	}
	versions, _, err := unstructured.NestedSlice(u.Object, "spec", "versions")
	if err != nil {
		return nil, fmt.Errorf("reading the versions of CRD %s: %w", crd, err)
	}
	out := map[string][]any{}
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _, _ := unstructured.NestedString(m, "name")
		rules, _, _ := unstructured.NestedSlice(m, "schema", "openAPIV3Schema", "x-kubernetes-validations")
		out[name] = rules
	}
	return out, nil
}

// setRootRules replaces the root rules of each version of the CRD with what
// change returns for them.
func setRootRules(ctx context.Context, c client.Client, crd string, change func(version string, rules []any) []any) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(crdGVK)
		if err := c.Get(ctx, client.ObjectKey{Name: crd}, u); err != nil {
			return fmt.Errorf("reading CRD %s: %w", crd, err)
		}
		versions, _, err := unstructured.NestedSlice(u.Object, "spec", "versions")
		if err != nil {
			return fmt.Errorf("reading the versions of CRD %s: %w", crd, err)
		}
		for i, v := range versions {
			m, _ := v.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "name")
			old, _, _ := unstructured.NestedSlice(m, "schema", "openAPIV3Schema", "x-kubernetes-validations")
			var copied []any
			if old != nil {
				copied = runtime.DeepCopyJSONValue(old).([]any)
			}
			rules := change(name, copied)
			if len(rules) == 0 {
				unstructured.RemoveNestedField(m, "schema", "openAPIV3Schema", "x-kubernetes-validations")
			} else if err := unstructured.SetNestedSlice(m, rules, "schema", "openAPIV3Schema", "x-kubernetes-validations"); err != nil {
				return err
			}
			versions[i] = m
		}
		if err := unstructured.SetNestedSlice(u.Object, versions, "spec", "versions"); err != nil {
			return err
		}
		return c.Update(ctx, u)
	})
}

// poll calls f until it returns nil or the timeout passes.
func poll(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still failing after %s: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
