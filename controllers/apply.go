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
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/queueworker/queueworker-operator/internal/resources"
)

// The operator writes every object it owns with server-side apply: it
// sends the whole object as it wants it, and the API server changes only
// the fields the operator's field manager owns, so fields that others set
// (`kubectl rollout restart`'s annotation in a pod template, a label
// someone added) survive, and a field the operator stops setting goes.
const (
	// fieldOwner is the field manager of everything the operator writes
	// but the worker Deployment's spec.replicas.
	fieldOwner = resources.ManagerName
	// scaleFieldOwner is the field manager of the worker Deployment's
	// spec.replicas: reconcileScale alone writes it, so that the template
	// applies of fieldOwner never include it, and never reset it.
	scaleFieldOwner = resources.ManagerName + "-scale"
)

// legacyManager is the field manager of the operator's writes before it
// used server-side apply: the API server names a Create or Update without
// a field owner after the binary (/manager).
const legacyManager = "manager"

// errNotControlled is returned by readOwned for an object of the name that
// exists and is not controlled by the owner.
var errNotControlled = errors.New("exists and is not controlled by this owner")

// readOwned reads the object named key, which owner would control, into
// obj, and reports whether it exists. The cache holds only objects labelled
// as the operator's, so an object it does not hold, or holds controlled by
// someone else, is read again with an uncached GET before the operator
// writes to that name: an object that exists and that owner does not
// control is errNotControlled, never adopted or overwritten. cache is nil
// for kinds that are never cached (Secrets).
func readOwned(ctx context.Context, cache, api client.Reader, owner metav1.Object, key client.ObjectKey,
	obj client.Object) (bool, error) {
	if cache != nil {
		err := cache.Get(ctx, key, obj)
		if err == nil && metav1.IsControlledBy(obj, owner) {
			return true, nil
		}
		if client.IgnoreNotFound(err) != nil {
			return false, fmt.Errorf("reading %s %s: %w", kindOf(obj), key.Name, err)
		}
	}
	err := api.Get(ctx, key, obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading %s %s: %w", kindOf(obj), key.Name, err)
	case !metav1.IsControlledBy(obj, owner):
		return true, errNotControlled
	}
	return true, nil
}

// ownedWriter writes the objects that one owner controls.
type ownedWriter struct {
	// client writes, and reads the cache, which holds only objects
	// labelled as the operator's.
	client client.Client
	// api reads straight from the API server.
	api   client.Reader
	owner client.Object
	// conflict is the stall of a name that an object the owner does not
	// control holds.
	conflict func(kind, name string) *stallError
	// refused is the reason of the stall of an object the API server
	// refuses (refusedStall).
	refused string
}

// read reads the object named key, which w.owner would control, into obj
// and reports whether it exists (see readOwned; Secrets, which are never
// cached, are read from the API server only). An object of that name that
// the owner does not control is the conflict stall. What the operator's
// earlier writes own in the object is handed to its apply first
// (handOver).
func (w ownedWriter) read(ctx context.Context, key client.ObjectKey, obj client.Object) (bool, error) {
	var cache client.Reader = w.client
	if _, secret := obj.(*corev1.Secret); secret {
		cache = nil
	}
	found, err := readOwned(ctx, cache, w.api, w.owner, key, obj)
	if errors.Is(err, errNotControlled) {
		return false, w.conflict(kindOf(obj), key.Name)
	}
	if err != nil || !found {
		return false, err
	}
	return true, w.handOver(ctx, obj)
}

// create creates obj, which did not exist when read. It does so with a
// Create, not an apply, which would take over an object of the name that
// someone else created since the read: that one is the conflict stall. The
// Create's Update entry is then handed to the operator's apply (handOver),
// so that a later apply removes what the spec drops.
func (w ownedWriter) create(ctx context.Context, obj client.Object) error {
	err := w.client.Create(ctx, obj, client.FieldOwner(fieldOwner))
	switch {
	case apierrors.IsAlreadyExists(err):
		return w.conflict(kindOf(obj), obj.GetName())
	case err != nil:
		return refusedStall(w.refused, obj, fmt.Errorf("creating %s %s: %w", kindOf(obj), obj.GetName(), err))
	}
	return w.handOver(ctx, obj)
}

// handOver makes the operator's apply (fieldOwner) the owner of the fields
// that its earlier writes own in obj, its Update entries (formerManagers).
// Server-side apply removes a field the operator stops setting only when
// no other manager owns it: without this, a variable or a container that
// the operator wrote before it used server-side apply would stay in the
// object for ever once the spec drops it. Only metadata.managedFields
// changes, with one JSON patch that fails on a conflict; an object with no
// such entries costs no write.
func (w ownedWriter) handOver(ctx context.Context, obj client.Object) error {
	managers := formerManagers(obj, w.owner)
	if managers.Len() == 0 {
		return nil
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, managers, fieldOwner)
	if err != nil {
		return fmt.Errorf("handing the fields of %s %s to server-side apply: %w", kindOf(obj), obj.GetName(), err)
	}
	if patch == nil {
		return nil
	}
	if err := w.client.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return fmt.Errorf("handing the fields of %s %s to server-side apply: %w", kindOf(obj), obj.GetName(), err)
	}
	return nil
}

// formerManagers are the field managers of obj's Update entries that are
// the operator's own writes: fieldOwner, and legacyManager when its entry
// owns owner's controller reference, which the operator's first write set.
// Other controllers built from the same scaffold are named "manager" too,
// and the fields they set are not the operator's to remove.
func formerManagers(obj, owner metav1.Object) sets.Set[string] {
	managers := sets.New[string]()
	ownerRef := fmt.Sprintf(`k:{"uid":%q}`, owner.GetUID())
	for _, e := range obj.GetManagedFields() {
		if e.Operation != metav1.ManagedFieldsOperationUpdate || e.Subresource != "" {
			continue
		}
		switch e.Manager {
		case fieldOwner:
			managers.Insert(fieldOwner)
		case legacyManager:
			if entryOwns(e, "f:metadata", "f:ownerReferences", ownerRef) {
				managers.Insert(legacyManager)
			}
		}
	}
	return managers
}

// stamp makes owner the controller of want and records in its annotation
// AnnotationAppliedHash a hash of want as it stands, which is everything
// the operator will apply but spec.replicas of a Deployment.
func stamp(scheme *runtime.Scheme, owner, want client.Object) error {
	if err := controllerutil.SetControllerReference(owner, want, scheme); err != nil {
		return fmt.Errorf("setting the owner of %s %s: %w", kindOf(want), want.GetName(), err)
	}
	b, err := json.Marshal(want)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	annotations := maps.Clone(want.GetAnnotations())
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[resources.AnnotationAppliedHash] = hex.EncodeToString(sum[:])[:16]
	want.SetAnnotations(annotations)
	return nil
}

// upToDate tells whether applying want, stamped, to have, the object as it
// exists, would change nothing, so that an idle object costs no API
// request. The hash annotation alone says only that want did not change
// since the last apply: the fields of that apply that someone changed
// since (`kubectl set image`, an edited redis.conf) have passed to their
// manager, so what fieldOwner owns in have must also be exactly what want
// sets, or the apply that sets them back is due.
func upToDate[AC any, P applyConfiguration[AC]](have, want client.Object) (bool, error) {
	hash := want.GetAnnotations()[resources.AnnotationAppliedHash]
	if have.GetAnnotations()[resources.AnnotationAppliedHash] != hash {
		return false, nil
	}
	sent, err := applyConfigurationOf[AC, P](want)
	if err != nil {
		return false, err
	}
	held, err := extractApplied(have)
	if err != nil {
		return false, fmt.Errorf("reading what the operator applied to %s %s: %w", kindOf(have), have.GetName(), err)
	}
	a, err := fieldsOf(sent)
	if err != nil {
		return false, err
	}
	b, err := fieldsOf(held)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(a, b), nil
}

// extractApplied is what fieldOwner's apply owns in obj, with the values
// obj holds.
func extractApplied(obj client.Object) (runtime.ApplyConfiguration, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return appsv1ac.ExtractDeployment(o, fieldOwner)
	case *appsv1.StatefulSet:
		return appsv1ac.ExtractStatefulSet(o, fieldOwner)
	case *corev1.ConfigMap:
		return corev1ac.ExtractConfigMap(o, fieldOwner)
	case *corev1.Service:
		return corev1ac.ExtractService(o, fieldOwner)
	case *corev1.Secret:
		return corev1ac.ExtractSecret(o, fieldOwner)
	}
	return nil, fmt.Errorf("no apply configuration for %T", obj)
}

// fieldsOf is an apply configuration as generic JSON, without its
// apiVersion and kind, which the two sides of upToDate may or may not
// spell out, and without empty objects: a typed object always sends its
// struct fields (`strategy: {}`), and what is extracted of a field owned
// that way holds nothing.
func fieldsOf(ac runtime.ApplyConfiguration) (map[string]any, error) {
	b, err := json.Marshal(ac)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	delete(fields, "apiVersion")
	delete(fields, "kind")
	pruneEmpty(fields)
	return fields, nil
}

// pruneEmpty removes from v, recursively, the keys of null values and of
// objects that hold nothing once pruned, and reports whether v is then
// empty itself.
func pruneEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		for k, e := range v {
			if pruneEmpty(e) {
				delete(v, k)
			}
		}
		return len(v) == 0
	case []any:
		for _, e := range v {
			pruneEmpty(e)
		}
	}
	return false
}

// applyConfiguration is a pointer to the apply configuration type AC.
type applyConfiguration[AC any] interface {
	*AC
	runtime.ApplyConfiguration
}

// apply writes want with server-side apply as manager, taking over fields
// another manager set to other values, and leaves in want the object as
// the API server returned it. want goes out as the apply configuration AC
// of its kind holding exactly the fields want sets: a typed object cannot
// tell an unset field from a zero one, its JSON can. Its status is left
// out: the operator never applies status.
func apply[AC any, P applyConfiguration[AC]](ctx context.Context, c client.Client, manager string, want client.Object) error {
	ac, err := applyConfigurationOf[AC, P](want)
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, ac, client.FieldOwner(manager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", kindOf(want), want.GetName(), err)
	}
	b, err := json.Marshal(ac)
	if err != nil {
		return err
	}
	reflect.ValueOf(want).Elem().SetZero()
	return json.Unmarshal(b, want)
}

// applyConfigurationOf is want as the apply configuration AC of its kind,
// holding exactly the fields want sets but its status.
func applyConfigurationOf[AC any, P applyConfiguration[AC]](want client.Object) (P, error) {
	b, err := json.Marshal(want)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	delete(fields, "status")
	if b, err = json.Marshal(fields); err != nil {
		return nil, err
	}
	ac := P(new(AC))
	if err := json.Unmarshal(b, ac); err != nil {
		return nil, fmt.Errorf("building the apply configuration of %s %s: %w", kindOf(want), want.GetName(), err)
	}
	return ac, nil
}

// refusedStall turns an error of the API server refusing obj (422 Invalid,
// 400 Bad Request) into a stall with reason and the API server's message:
// the object can never be written as it is, so retrying cannot help, and
// only a change of the owner's spec can. Any other error is returned as is.
func refusedStall(reason string, obj client.Object, err error) error {
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		return err
	}
	msg := err.Error()
	if se, ok := errors.AsType[*apierrors.StatusError](err); ok {
		msg = se.Status().Message
	}
	return specStallf(reason, "the API server refuses %s %s: %s", kindOf(obj), obj.GetName(), msg)
}

// applyOwned applies want, an object that w.owner controls and that
// exists, as fieldOwner (see apply); an object the API server refuses is
// the refused stall.
func applyOwned[AC any, P applyConfiguration[AC]](ctx context.Context, w ownedWriter, want client.Object) error {
	return refusedStall(w.refused, want, apply[AC, P](ctx, w.client, fieldOwner, want))
}

// ownsField tells whether manager's apply owns the field at path (field
// names, e.g. "spec", "replicas") of obj, from its managedFields.
func ownsField(obj metav1.Object, manager string, path ...string) bool {
	keys := make([]string, len(path))
	for i, name := range path {
		keys[i] = "f:" + name
	}
	for _, e := range obj.GetManagedFields() {
		if e.Manager == manager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			return entryOwns(e, keys...)
		}
	}
	return false
}

// entryOwns tells whether a managedFields entry holds the path of keys
// (as its fieldsV1 spells them: "f:spec", `k:{"uid":"..."}`).
func entryOwns(e metav1.ManagedFieldsEntry, keys ...string) bool {
	if e.FieldsV1 == nil {
		return false
	}
	var fields map[string]any
	if err := json.Unmarshal(e.FieldsV1.GetRawBytes(), &fields); err != nil {
		return false
	}
	for _, key := range keys {
		next, ok := fields[key].(map[string]any)
		if !ok {
			return false
		}
		fields = next
	}
	return true
}
