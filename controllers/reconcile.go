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
	"slices"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Both reconcilers have the same shape: get the object, keep a copy, run
// the steps, let one summary derive the status from what the steps found
// and the error that stopped them, and patch the status once.

// step is one step of a reconcile over the state S its steps share.
type step[S any] func(context.Context, S) (ctrl.Result, error)

// runSteps runs the steps in order and stops at the first error, a
// *stallError included; otherwise it returns the smallest RequeueAfter the
// steps asked for.
func runSteps[S any](ctx context.Context, st S, steps ...step[S]) (ctrl.Result, error) {
	var result ctrl.Result
	for _, s := range steps {
		res, err := s(ctx, st)
		if err != nil {
			return result, err
		}
		if res.RequeueAfter > 0 && (result.RequeueAfter == 0 || res.RequeueAfter < result.RequeueAfter) {
			result.RequeueAfter = res.RequeueAfter
		}
	}
	return result, nil
}

// stallError is a problem the operator cannot fix itself: the object
// stalls with its reason. A terminal one needs a change of the object's
// spec, which a watch delivers; any other (a missing Secret, an object of
// the same name that someone else controls) is looked for again after the
// stalled retry period.
type stallError struct {
	reason   string
	msg      string
	terminal bool
}

func (e *stallError) Error() string { return e.msg }

// stallf is a stall that is looked at again after the stalled retry period.
func stallf(reason, format string, args ...any) *stallError {
	return &stallError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// specStallf is a stall only a change of the spec can end.
func specStallf(reason, format string, args ...any) *stallError {
	return &stallError{reason: reason, msg: fmt.Sprintf(format, args...), terminal: true}
}

// waitError stops the steps to wait for something on its way, a
// RedisConfig that its controller has not reconciled yet: neither a stall
// nor an error to retry with backoff. The object comes back after the
// stalled retry period, or sooner when a watch tells of the change.
type waitError struct {
	reason string
	msg    string
}

func (e *waitError) Error() string { return e.msg }

// waitf is a wait with reason.
func waitf(reason, format string, args ...any) *waitError {
	return &waitError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// asWait returns the *waitError in err's chain, or nil.
func asWait(err error) *waitError {
	we, _ := errors.AsType[*waitError](err)
	return we
}

// transient tells whether err ends a reconcile that is retried with
// backoff: any error but a stall or a wait.
func transient(err error) bool {
	return err != nil && asStall(err) == nil && asWait(err) == nil
}

// asStall returns the *stallError in err's chain, or nil.
func asStall(err error) *stallError {
	se, _ := errors.AsType[*stallError](err)
	return se
}

// resultOf turns how the steps ended into what controller-runtime does
// next: a terminal stall waits for the next change of the object, another
// stall and a wait come back after retry, and any other error is retried
// with backoff.
func resultOf(res ctrl.Result, err error, retry time.Duration) (ctrl.Result, error) {
	se := asStall(err)
	switch {
	case err == nil:
		return res, nil
	case asWait(err) != nil:
		return ctrl.Result{RequeueAfter: retry}, nil
	case se == nil:
		return ctrl.Result{}, err
	case se.terminal:
		return ctrl.Result{}, reconcile.TerminalError(se)
	default:
		return ctrl.Result{RequeueAfter: retry}, nil
	}
}

// readiness is what the steps that finished found about an object: its
// Ready condition, and the work still in progress (a rollout, a pod
// starting), which makes Reconciling True with progressReason.
type readiness struct {
	status                      metav1.ConditionStatus
	reason, msg                 string
	progressReason, progressMsg string
}

// progressing is a readiness of work in progress: Ready Unknown and
// Reconciling True, both with reason and msg.
func progressing(reason, msg string) readiness {
	return readiness{status: metav1.ConditionUnknown, reason: reason, msg: msg, progressReason: reason, progressMsg: msg}
}

// summary sets the conditions every kind has, Ready, Stalled and
// Reconciling, from the error that stopped the steps (nil when they all
// finished) and, when they finished, from ready. It emits the events of
// their transitions: a Warning when a stall begins or changes reason, a
// Normal event when Ready turns True, a Warning when it turns False from
// True or Unknown (a new object that is not ready yet is no news). It
// reports whether the reconcile observed the object's generation: the
// steps finished or stalled. After any other error the conditions keep
// the values they had before this reconcile (orig), whatever the steps
// set before it, except Reconciling, which says the operator is retrying;
// and no event is emitted, as nothing is known to have changed. A wait
// (waitError) keeps them too, but for Reconciling True with the wait's
// reason, Stalled False, and a Ready that was not True, which turns
// Unknown: nothing is wrong, and nothing to tell in an event.
func summary(rec events.EventRecorder, kind string, obj client.Object, conds *[]metav1.Condition,
	orig []metav1.Condition, err error, ready func() readiness) bool {
	gen := obj.GetGeneration()
	se := asStall(err)
	switch we := asWait(err); {
	case we != nil:
		*conds = slices.Clone(orig)
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionTrue, we.reason, we.msg)
		if !apimeta.IsStatusConditionFalse(*conds, queueworkerv1alpha1.ConditionStalled) {
			setCondition(conds, gen, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse, we.reason,
				"nothing blocks the "+kind+": "+we.msg)
		}
		if !apimeta.IsStatusConditionTrue(*conds, queueworkerv1alpha1.ConditionReady) {
			setCondition(conds, gen, queueworkerv1alpha1.ConditionReady, metav1.ConditionUnknown, we.reason, we.msg)
		}
		return false
	case err != nil && se == nil:
		*conds = slices.Clone(orig)
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonRetryingAfterError, err.Error())
		return false
	case se != nil:
		if setCondition(conds, gen, queueworkerv1alpha1.ConditionStalled, metav1.ConditionTrue, se.reason, se.msg) {
			rec.Eventf(obj, nil, "Warning", se.reason, "Reconcile", "%s", se.msg)
		}
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, se.reason, se.msg)
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse, se.reason,
			"stalled: "+se.msg)
		return true
	}
	setCondition(conds, gen, queueworkerv1alpha1.ConditionStalled, metav1.ConditionFalse,
		queueworkerv1alpha1.ReasonReconciled, "nothing blocks the "+kind)
	rd := ready()
	was := apimeta.FindStatusCondition(orig, queueworkerv1alpha1.ConditionReady)
	setCondition(conds, gen, queueworkerv1alpha1.ConditionReady, rd.status, rd.reason, rd.msg)
	switch {
	case rd.status == metav1.ConditionTrue && (was == nil || was.Status != metav1.ConditionTrue):
		rec.Eventf(obj, nil, "Normal", queueworkerv1alpha1.ReasonReady, "Reconcile", "%s", rd.msg)
	case rd.status == metav1.ConditionFalse && was != nil && was.Status != metav1.ConditionFalse:
		rec.Eventf(obj, nil, "Warning", rd.reason, "Reconcile", "not ready: %s", rd.msg)
	}
	if rd.progressReason != "" {
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionTrue, rd.progressReason, rd.progressMsg)
	} else {
		setCondition(conds, gen, queueworkerv1alpha1.ConditionReconciling, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonReconciled, fmt.Sprintf("generation %d is reconciled", gen))
	}
	return true
}

// setCondition sets a condition with the object's generation and reports
// whether its status or reason changed, so callers emit events on
// transitions only.
func setCondition(conds *[]metav1.Condition, generation int64, condType string,
	status metav1.ConditionStatus, reason, msg string) bool {
	old := apimeta.FindStatusCondition(*conds, condType)
	changed := old == nil || old.Status != status || old.Reason != reason
	apimeta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: generation,
	})
	return changed
}

// patchStatus writes obj's status as a merge patch from orig when changed;
// an object deleted meanwhile is no error.
func patchStatus(ctx context.Context, c client.Client, obj, orig client.Object, changed bool, writes *cacheWrites) error {
	if !changed {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	if rv := orig.GetResourceVersion(); obj.GetResourceVersion() != rv {
		writes.wrote(client.ObjectKeyFromObject(obj), rv, obj.GetResourceVersion(), time.Now())
	}
	return nil
}

// Waiting for the cache after a write.
const (
	// cacheLagRetry is how soon a reconcile that found the cache behind
	// the operator's last write looks again.
	cacheLagRetry = 50 * time.Millisecond
	// maxCacheLag is how long a reconcile waits for the cache to show a
	// write before it goes on with what the cache holds.
	maxCacheLag = 5 * time.Second
)

// cacheWrites remembers, per object, the resourceVersion of the
// operator's last write of it (a status patch, a pod's annotations), until
// the cache holds that version or a later one. A reconcile that read the
// object from a cache that has not caught up with the write (the watch
// event is on its way) would act on what the write replaced: tell a
// transition twice, as events, or drain a pod again; it waits for the
// cache instead (behind). Versions are compared as the API server defines
// them (resourceversion.CompareResourceVersion), so a version between the
// one the patch replaced and the patch's own, such as a spec edit that
// landed meanwhile, is behind too. It is safe for concurrent use; the
// zero value is ready.
type cacheWrites struct {
	mu sync.Mutex
	m  map[types.NamespacedName]cacheWrite
}

// cacheWrite is the resourceVersion a write replaced, the one it
// produced, and when.
type cacheWrite struct {
	replaced, produced string
	at                 time.Time
}

// wrote records that a write at now turned version replaced of key into
// produced.
func (w *cacheWrites) wrote(key types.NamespacedName, replaced, produced string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.NamespacedName]cacheWrite{}
	}
	w.m[key] = cacheWrite{replaced: replaced, produced: produced, at: now}
}

// behind reports whether version rv of key, as the cache holds it, is
// older than the last write's, which was less than maxCacheLag ago.
// Versions that do not compare (a server that does not number them) are
// behind when rv is the one the write replaced.
func (w *cacheWrites) behind(key types.NamespacedName, rv string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[key]
	if !ok {
		return false
	}
	older := rv == e.replaced
	if c, err := resourceversion.CompareResourceVersion(rv, e.produced); err == nil {
		older = c < 0
	}
	if !older || now.Sub(e.at) >= maxCacheLag {
		delete(w.m, key)
		return false
	}
	return true
}

// pending reports whether a write may still await the cache at now, and
// forgets those that no longer can (older than maxCacheLag), such as the
// writes of objects deleted since.
func (w *cacheWrites) pending(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, e := range w.m {
		if now.Sub(e.at) >= maxCacheLag {
			delete(w.m, k)
		}
	}
	return len(w.m) > 0
}

// forget drops what is kept about key.
func (w *cacheWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}
