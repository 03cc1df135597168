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
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/drain"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/internal/scaling"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch

// Drainer writes the workers' drain keys (pkg/contract.DrainKey) in their
// Redis and tells what their asynq servers run: a *scaling.Autoscaler in
// the operator, on the clients its pollers share.
type Drainer interface {
	// LatestServers returns the asynq servers of a QueueWorker's endpoint
	// from the autoscaler's last successful read; ok is false before it.
	LatestServers(name types.NamespacedName) (servers queue.Servers, ok bool)
	// SetDrains sets or renews the drain key of each host to its value
	// with ttl.
	SetDrains(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials,
		values map[string]string, ttl time.Duration) error
	// DeleteDrains deletes the drain keys of hosts.
	DeleteDrains(ctx context.Context, ep resources.RedisEndpoint, creds queue.Credentials, hosts []string) error
}

// workerPod is a worker pod as the metadata cache holds it.
type workerPod = metav1.PartialObjectMetadata

// newWorkerPodList is an empty list of worker pods' metadata.
func newWorkerPodList() *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	return l
}

// workerPodMetadata is the object under which the manager's cache holds
// the worker pods: their metadata only, which is all the operator reads
// from the watch (readiness, rarely needed, comes from a direct GET).
func workerPodMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	return m
}

// queueWorkerOfPod maps a worker pod to its QueueWorker by its labels.
func queueWorkerOfPod(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[resources.LabelManagedBy] != resources.ManagerName || l[resources.LabelComponent] != resources.ComponentWorker ||
		l[resources.LabelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l[resources.LabelInstance]}}}
}

// podGone passes the events of a pod going away, which may let a drain
// go on; a pod's other changes are seen at the next poll.
var podGone = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// drainMemory is what the reconciler keeps between reconciles about a
// QueueWorker's drains: the stopped servers seen (drain.Stops), and the
// drain keys it set with where each lives, so that they are deleted
// there, also after the QueueWorker moved to another Redis or database
// (its pods read the old one until replaced), and when it goes.
type drainMemory struct {
	stops drain.Stops
	hosts map[string]*keyPlace
	// lastBusy is, per pod, drain.Pod.LastBusy.
	lastBusy map[string]time.Time
}

// keyPlace is the Redis, and the credentials, a drain key was set in.
type keyPlace struct {
	endpoint resources.RedisEndpoint
	creds    queue.Credentials
}

// placeOf is the keyPlace of the reconcile's endpoint.
func placeOf(st *queueWorkerState) *keyPlace {
	return &keyPlace{endpoint: st.endpoint, creds: st.credentials}
}

// deleteDrainKeys deletes the drain keys of hosts where the memory says
// they were set, at the reconcile's endpoint when it knows nothing (a key
// set before an operator restart), and forgets them.
func (r *QueueWorkerReconciler) deleteDrainKeys(ctx context.Context, mem *drainMemory, at *keyPlace, hosts []string) error {
	var places []*keyPlace
	byPlace := map[*keyPlace][]string{}
	for _, h := range hosts {
		p := at
		if mem != nil && mem.hosts[h] != nil {
			p = mem.hosts[h]
		}
		i := slices.IndexFunc(places, func(q *keyPlace) bool { return reflect.DeepEqual(q, p) })
		if i < 0 {
			places = append(places, p)
			i = len(places) - 1
		}
		byPlace[places[i]] = append(byPlace[places[i]], h)
	}
	for _, p := range places {
		if err := r.Drainer.DeleteDrains(ctx, p.endpoint, p.creds, byPlace[p]); err != nil {
			return err
		}
		if mem != nil {
			for _, h := range byPlace[p] {
				delete(mem.hosts, h)
			}
		}
	}
	return nil
}

// drainMemories holds the drainMemory of each QueueWorker.
type drainMemories struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*drainMemory
}

func (d *drainMemories) get(key types.NamespacedName) *drainMemory {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[types.NamespacedName]*drainMemory{}
	}
	m := d.m[key]
	if m == nil {
		m = &drainMemory{stops: drain.Stops{}, hosts: map[string]*keyPlace{}, lastBusy: map[string]time.Time{}}
		d.m[key] = m
	}
	return m
}

func (d *drainMemories) take(key types.NamespacedName) *drainMemory {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.m[key]
	delete(d.m, key)
	return m
}

// forgetDrains deletes the drain keys a QueueWorker that is gone left
// set, so that its pods, until they are gone too, do not stay drained;
// keys the operator set before a restart expire with their TTL.
func (r *QueueWorkerReconciler) forgetDrains(ctx context.Context, key types.NamespacedName) {
	m := r.drains.take(key)
	if m == nil || len(m.hosts) == 0 || r.Drainer == nil {
		return
	}
	hosts := slices.Sorted(maps.Keys(m.hosts))
	if err := r.deleteDrainKeys(ctx, m, nil, hosts); err != nil {
		logf.FromContext(ctx).Error(err, "deleting the drain keys of a deleted QueueWorker", "pods", hosts)
	}
}

// ownWorkerPod says whether a pod with the worker labels is one of the
// worker Deployment's: its controller is a ReplicaSet named as the
// Deployment names its ReplicaSets, after the pod's pod-template-hash. A
// pod someone else controls (a copy for debugging, a Job, a pod of the
// user's own) is no replica the scale-down could remove: the operator
// neither drains, ranks nor releases it.
func ownWorkerPod(qw *queueworkerv1alpha1.QueueWorker, p *workerPod) bool {
	hash := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	ref := metav1.GetControllerOfNoCopy(p)
	return hash != "" && ref != nil && ref.Kind == "ReplicaSet" && ref.APIVersion == appsv1.SchemeGroupVersion.String() &&
		ref.Name == qw.Name+"-"+hash
}

// listWorkerPods lists the QueueWorker's pods (ownWorkerPod) that are not
// being deleted, from the metadata cache, in the order of their names.
func (r *QueueWorkerReconciler) listWorkerPods(ctx context.Context, qw *queueworkerv1alpha1.QueueWorker) ([]workerPod, error) {
	pods, _, err := r.listAllWorkerPods(ctx, qw)
	return pods, err
}

// listAllWorkerPods is listWorkerPods that also returns the host names of
// every pod, those being deleted included.
func (r *QueueWorkerReconciler) listAllWorkerPods(ctx context.Context, qw *queueworkerv1alpha1.QueueWorker) (
	[]workerPod, map[string]bool, error) {
	list := newWorkerPodList()
	if err := r.Client.List(ctx, list, client.InNamespace(qw.Namespace), client.MatchingLabels(resources.SelectorLabels(qw))); err != nil {
		return nil, nil, fmt.Errorf("listing the worker pods: %w", err)
	}
	pods := make([]workerPod, 0, len(list.Items))
	hosts := make(map[string]bool, len(list.Items))
	for _, p := range list.Items {
		if !ownWorkerPod(qw, &p) {
			continue
		}
		hosts[drain.Hostname(p.Name)] = true
		if p.DeletionTimestamp.IsZero() {
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b workerPod) int { return strings.Compare(a.Name, b.Name) })
	return pods, hosts, nil
}

// podReady reads a pod's Ready condition straight from the API server:
// the cache holds metadata only. A pod that is gone is not ready.
func (r *QueueWorkerReconciler) podReady(ctx context.Context, ns, name string) (bool, error) {
	pod := &corev1.Pod{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading pod %s: %w", name, err)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, nil
		}
	}
	return false, nil
}

// drainPods describes the pods for internal/drain: their asynq servers
// from the autoscaler's last read (Host is the pod's host name) and, for
// a pod the read shows no server of, its readiness, when it tells
// something: a complete read shows the pod has none, or the pod may be
// ranked for a new drain (rank) and does not drain. In Redis Cluster, or
// while the servers cannot be read, a drain that only waits thus GETs no
// pod.
func (r *QueueWorkerReconciler) drainPods(ctx context.Context, pods []workerPod, servers queue.Servers,
	rank bool) ([]drain.Pod, error) {
	complete := servers.Err == nil && int64(len(servers.List)) == servers.Live
	byHost := map[string][]drain.Server{}
	for _, s := range servers.List {
		byHost[s.Host] = append(byHost[s.Host], drain.Server{ID: s.ID, Status: s.Status, Running: s.Running,
			OldestStart: s.OldestStart, Expires: s.Expires})
	}
	out := make([]drain.Pod, 0, len(pods))
	for _, p := range pods {
		dp := drain.Pod{Name: p.Name, Created: p.CreationTimestamp.Time}
		dp.Servers = byHost[drain.Hostname(p.Name)]
		dp.Known = servers.Err == nil && (complete || len(dp.Servers) > 0)
		_, draining := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]
		if len(dp.Servers) == 0 && (dp.Known || (rank && !draining)) {
			ready, err := r.podReady(ctx, p.Namespace, p.Name)
			if err != nil {
				return nil, err
			}
			dp.Ready = ready
		}
		if c, err := strconv.ParseInt(p.Annotations[corev1.PodDeletionCost], 10, 32); err == nil {
			dp.Cost = ptr.To(int32(c))
		}
		if since, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok {
			t, err := time.Parse(time.RFC3339, since)
			if err != nil {
				// Not the operator's value: drain from now on.
				t = r.now()
			}
			dp.DrainingSince = t
			dp.Released = p.Annotations[corev1.PodDeletionCost] == strconv.Itoa(drain.ReleasedCost)
		}
		out = append(out, dp)
	}
	return out, nil
}

// patchPodAnnotations sets (a non-nil value) or removes (nil) annotations
// of a pod, with a merge patch of its metadata; a pod that is gone is no
// error.
func (r *QueueWorkerReconciler) patchPodAnnotations(ctx context.Context, p *workerPod, set map[string]*string) error {
	changed := false
	for k, v := range set {
		old, ok := p.Annotations[k]
		if (v == nil && ok) || (v != nil && (!ok || old != *v)) {
			changed = true
		}
	}
	if !changed {
		return nil
	}
	orig := p.DeepCopy()
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	for k, v := range set {
		if v == nil {
			delete(p.Annotations, k)
		} else {
			p.Annotations[k] = *v
		}
	}
	rv := orig.ResourceVersion
	if err := r.Client.Patch(ctx, p, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("annotating pod %s: %w", p.Name, err)
	}
	if p.ResourceVersion != rv {
		r.podWrites.wrote(client.ObjectKeyFromObject(p), rv, p.ResourceVersion, time.Now())
	}
	return nil
}

// podsBehind reports whether the cache still holds one of qw's worker
// pods at a version older than the operator's last annotation of it:
// the drains, their releases and the deletion costs are read back from the
// pods' annotations, and a reconcile that read them stale would start a
// drain again or release a pod twice, lowering the count once too often.
// It lists the pods only while an annotation of the operator's awaits
// the cache.
func (r *QueueWorkerReconciler) podsBehind(ctx context.Context, qw *queueworkerv1alpha1.QueueWorker) bool {
	if !r.podWrites.pending(time.Now()) {
		return false
	}
	pods, _, err := r.listAllWorkerPods(ctx, qw)
	if err != nil {
		return false
	}
	now := time.Now()
	behind := false
	// Every pod is looked at, not only up to the first behind: behind
	// forgets the writes the cache has caught up with.
	for i := range pods {
		if r.podWrites.behind(client.ObjectKeyFromObject(&pods[i]), pods[i].ResourceVersion, now) {
			behind = true
		}
	}
	return behind
}

// setDeletionCosts gives the pods the deletion costs of drain.Costs, so
// that the scale-down about to be written removes the cheapest pods. Only
// the costs that change are written.
func (r *QueueWorkerReconciler) setDeletionCosts(ctx context.Context, qw *queueworkerv1alpha1.QueueWorker, servers queue.Servers) error {
	pods, err := r.listWorkerPods(ctx, qw)
	if err != nil {
		return err
	}
	described, err := r.drainPods(ctx, pods, servers, true)
	if err != nil {
		return err
	}
	costs := drain.Costs(described)
	for i := range pods {
		v := strconv.Itoa(int(costs[pods[i].Name]))
		if err := r.patchPodAnnotations(ctx, &pods[i], map[string]*string{corev1.PodDeletionCost: &v}); err != nil {
			return err
		}
	}
	return nil
}

// reconcileDrain runs one step of the Drain policy (drain.PlanDrain) and
// returns the replica count to write instead of the decision's: it starts
// and renews drains, cancels those no longer needed, and releases drained
// pods, each with the lowest deletion cost and one replica less. It lists
// the draining pods in the status and emits DrainStarted,
// DrainCancelled and, for a pod removed with tasks running, DrainTimedOut.
func (r *QueueWorkerReconciler) reconcileDrain(ctx context.Context, st *queueWorkerState, res *scaling.Result,
	servers queue.Servers, current, desired int32) (int32, error) {
	qw := st.qw
	key := client.ObjectKeyFromObject(qw)
	mem := r.drains.get(key)
	here := placeOf(st)
	pods, present, err := r.listAllWorkerPods(ctx, qw)
	if err != nil {
		return current, err
	}
	if res.Err != nil {
		// Redis is not read: the drains are left as they are, and only a
		// scale-up proceeds.
		r.setDrainingStatus(qw, pods, nil)
		return max(current, desired), nil
	}
	if err := r.deleteStaleDrains(ctx, st, mem, present); err != nil {
		return current, err
	}
	if err := r.cancelMovedDrains(ctx, st, mem, pods, here); err != nil {
		return current, err
	}
	if desired >= current && !slices.ContainsFunc(pods, func(p workerPod) bool {
		_, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]
		return ok
	}) {
		// Nothing drains and nothing should: the pods need no closer look,
		// and a key whose annotation never came (its PATCH failed) goes.
		qw.Status.Draining = nil
		if err := r.deleteDrainKeys(ctx, mem, here, slices.Sorted(maps.Keys(mem.hosts))); err != nil {
			return current, err
		}
		return desired, nil
	}
	described, err := r.drainPods(ctx, pods, servers, desired < current && countDraining(pods) < int(current-desired))
	if err != nil {
		return current, err
	}
	now := r.now()
	rememberBusy(mem, described, now)
	maxDrain := drain.MaxDrainTime(&qw.Spec)
	plan := drain.PlanDrain(drain.Input{Current: current, Desired: desired, Pods: described,
		Now: now, MaxDrainTime: maxDrain}, mem.stops)

	byName := map[string]*workerPod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
	info := map[string]drain.Pod{}
	for _, p := range described {
		info[p.Name] = p
	}

	// Cancel first: a cancelled pod serves again within 2s.
	if err := r.cancelDrains(ctx, st, mem, plan.Cancel, byName, info, desired); err != nil {
		return current, err
	}

	// Start and renew: every drain that goes on gets its key (again).
	sinceStr := now.UTC().Format(time.RFC3339)
	values := map[string]string{}
	for _, p := range described {
		if !p.DrainingSince.IsZero() && !p.Released && !slices.Contains(plan.Cancel, p.Name) {
			values[drain.Hostname(p.Name)] = p.DrainingSince.UTC().Format(time.RFC3339)
		}
	}
	for _, name := range plan.Start {
		values[drain.Hostname(name)] = sinceStr
	}
	for _, name := range plan.Release {
		delete(values, drain.Hostname(name))
	}
	// The annotation first: a key is never set for a drain the pods do
	// not show, which nothing would cancel.
	for _, name := range plan.Start {
		if err := r.patchPodAnnotations(ctx, byName[name],
			map[string]*string{queueworkerv1alpha1.AnnotationDrainingSince: &sinceStr}); err != nil {
			return current, err
		}
	}
	for h := range values {
		mem.hosts[h] = here
	}
	if err := r.Drainer.SetDrains(ctx, st.endpoint, st.credentials, values, drain.KeyTTL(maxDrain)); err != nil {
		return current, err
	}
	if len(plan.Start) > 0 {
		logf.FromContext(ctx).Info("draining worker pods before a scale-down", "pods", plan.Start,
			"currentReplicas", current, "desiredReplicas", desired)
		st.events.Eventf(qw, nil, "Normal", queueworkerv1alpha1.ReasonDrainStarted, "Drain",
			"draining %s before scaling from %d to %d replicas", strings.Join(plan.Start, ", "), current, desired)
	}

	if err := r.releaseDrained(ctx, st, plan, byName, info, sinceStr, maxDrain); err != nil {
		return current, err
	}
	r.setDrainingStatus(qw, pods, info)
	return plan.Replicas, nil
}

// countDraining counts the pods that drain and are not released.
func countDraining(pods []workerPod) int {
	n := 0
	for _, p := range pods {
		if _, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok &&
			p.Annotations[corev1.PodDeletionCost] != strconv.Itoa(drain.ReleasedCost) {
			n++
		}
	}
	return n
}

// cancelDrains ends the drains of the pods named: their keys go, then
// their annotations, and a released pod that is a replica again loses its
// lowest cost too.
func (r *QueueWorkerReconciler) cancelDrains(ctx context.Context, st *queueWorkerState, mem *drainMemory,
	names []string, byName map[string]*workerPod, info map[string]drain.Pod, desired int32) error {
	if len(names) == 0 {
		return nil
	}
	if err := r.deleteDrainKeys(ctx, mem, placeOf(st), hostsOf(names)); err != nil {
		return err
	}
	for _, name := range names {
		unset := map[string]*string{queueworkerv1alpha1.AnnotationDrainingSince: nil}
		if info[name].Released {
			unset[corev1.PodDeletionCost] = nil
		}
		if err := r.patchPodAnnotations(ctx, byName[name], unset); err != nil {
			return err
		}
	}
	st.events.Eventf(st.qw, nil, "Normal", queueworkerv1alpha1.ReasonDrainCancelled, "Drain",
		"cancelled the drain of %s: %d replicas wanted", strings.Join(names, ", "), desired)
	return nil
}

// releaseDrained gives the pods the plan releases the lowest cost, before
// the replicas drop by as many. The drain key stays until the pod is
// gone: it must not resume meanwhile.
func (r *QueueWorkerReconciler) releaseDrained(ctx context.Context, st *queueWorkerState, plan drain.Plan,
	byName map[string]*workerPod, info map[string]drain.Pod, since string, maxDrain time.Duration) error {
	released := strconv.Itoa(drain.ReleasedCost)
	for _, name := range plan.Release {
		p := byName[name]
		set := map[string]*string{corev1.PodDeletionCost: &released}
		if _, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; !ok {
			set[queueworkerv1alpha1.AnnotationDrainingSince] = &since
		}
		if err := r.patchPodAnnotations(ctx, p, set); err != nil {
			return err
		}
		if slices.Contains(plan.Overdue, name) {
			st.events.Eventf(st.qw, nil, "Warning", queueworkerv1alpha1.ReasonDrainTimedOut, "Drain",
				"pod %s still runs %s tasks after draining for %s (maxDrainTime): removing it, its tasks get shutdownTimeout to finish",
				name, runningText(info[name]), maxDrain)
		}
	}
	return nil
}

// rememberBusy records when each pod's heartbeats last showed it busy
// (drain.MayRun) and gives the pods their LastBusy: a heartbeat that
// vanishes, with a Redis restart or a worker's lost link, does not make a
// busy pod idle.
func rememberBusy(mem *drainMemory, pods []drain.Pod, now time.Time) {
	seen := map[string]bool{}
	for i := range pods {
		p := &pods[i]
		seen[p.Name] = true
		if p.Known && len(p.Servers) > 0 {
			if drain.MayRun(*p) {
				mem.lastBusy[p.Name] = now
			} else {
				delete(mem.lastBusy, p.Name)
			}
		}
		p.LastBusy = mem.lastBusy[p.Name]
	}
	for name := range mem.lastBusy {
		if !seen[name] {
			delete(mem.lastBusy, name)
		}
	}
}

// runningText is the number of tasks a pod runs, "an unknown number of"
// when its heartbeats were not read.
func runningText(p drain.Pod) string {
	if !p.Known {
		return "an unknown number of"
	}
	return strconv.FormatInt(p.Running(), 10)
}

// latestServers are the servers of the autoscaler's last read for a
// QueueWorker, when the Drainer knows them.
func (r *QueueWorkerReconciler) latestServers(key types.NamespacedName) (queue.Servers, bool) {
	if r.Drainer == nil {
		return queue.Servers{}, false
	}
	return r.Drainer.LatestServers(key)
}

// deleteStaleDrains deletes the drain keys this operator set for pods that
// are gone, not only being deleted (a released pod keeps its key until
// then, so that it never resumes), rather than leave them to their TTL.
func (r *QueueWorkerReconciler) deleteStaleDrains(ctx context.Context, st *queueWorkerState, mem *drainMemory,
	present map[string]bool) error {
	var stale []string
	for h := range mem.hosts {
		if !present[h] {
			stale = append(stale, h)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	slices.Sort(stale)
	return r.deleteDrainKeys(ctx, mem, placeOf(st), stale)
}

// cancelMovedDrains cancels the drains whose keys were set in another
// Redis or database than the QueueWorker's now: the pods read the key
// where it is, and their heartbeats are written there too, out of sight.
// Their keys are deleted where they were set and their annotations
// removed; a released pod keeps its key there until it is gone.
func (r *QueueWorkerReconciler) cancelMovedDrains(ctx context.Context, st *queueWorkerState, mem *drainMemory,
	pods []workerPod, here *keyPlace) error {
	var moved []string
	var names []string
	for i := range pods {
		p := &pods[i]
		h := drain.Hostname(p.Name)
		if at := mem.hosts[h]; at == nil || reflect.DeepEqual(at, here) ||
			p.Annotations[corev1.PodDeletionCost] == strconv.Itoa(drain.ReleasedCost) {
			continue
		}
		moved = append(moved, h)
		names = append(names, p.Name)
	}
	if len(moved) == 0 {
		return nil
	}
	if err := r.deleteDrainKeys(ctx, mem, here, moved); err != nil {
		return err
	}
	for i := range pods {
		if slices.Contains(names, pods[i].Name) {
			delete(mem.stops, pods[i].Name)
			if err := r.patchPodAnnotations(ctx, &pods[i],
				map[string]*string{queueworkerv1alpha1.AnnotationDrainingSince: nil}); err != nil {
				return err
			}
		}
	}
	st.events.Eventf(st.qw, nil, "Normal", queueworkerv1alpha1.ReasonDrainCancelled, "Drain",
		"cancelled the drain of %s: the workers' Redis endpoint changed", strings.Join(names, ", "))
	return nil
}

// hostsOf maps pod names to their host names.
func hostsOf(pods []string) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = drain.Hostname(p)
	}
	return out
}

// setDrainingStatus lists in status.draining the pods that drain and are
// not released yet, with the tasks they ran at the last read (info, nil
// when unread: the counts are kept), none when their heartbeats could not
// be read.
func (r *QueueWorkerReconciler) setDrainingStatus(qw *queueworkerv1alpha1.QueueWorker, pods []workerPod, info map[string]drain.Pod) {
	prev := map[string]*int64{}
	for _, d := range qw.Status.Draining {
		prev[d.Pod] = d.Running
	}
	var out []queueworkerv1alpha1.DrainingPod
	for _, p := range pods {
		since, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]
		if !ok || p.Annotations[corev1.PodDeletionCost] == strconv.Itoa(drain.ReleasedCost) {
			continue
		}
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			continue
		}
		running := prev[p.Name]
		if i, ok := info[p.Name]; ok {
			running = nil
			if i.Known {
				running = ptr.To(i.Running())
			}
		}
		out = append(out, queueworkerv1alpha1.DrainingPod{Pod: p.Name, Since: metav1.NewTime(t), Running: running})
	}
	qw.Status.Draining = out
}

// clearDrains ends every drain of a QueueWorker whose policy is not Drain
// (any more), or whose autoscaling is off: it deletes the drain keys (the
// pods serve again) and the pods' annotations, the lowest cost of a
// released pod included. Under None (autoscaling off included) it also
// removes every pod deletion cost, such as PreferIdle's: a ranking of
// the past would otherwise still choose the pods of any later
// scale-down.
func (r *QueueWorkerReconciler) clearDrains(ctx context.Context, st *queueWorkerState,
	policy queueworkerv1alpha1.DrainPolicy) error {
	qw := st.qw
	qw.Status.Draining = nil
	noCosts := policy == queueworkerv1alpha1.DrainPolicyNone
	if r.Drainer == nil && !noCosts {
		return nil
	}
	pods, err := r.listWorkerPods(ctx, qw)
	if err != nil {
		return err
	}
	released := strconv.Itoa(drain.ReleasedCost)
	var draining []string
	unset := map[string]map[string]*string{}
	for _, p := range pods {
		set := map[string]*string{}
		if _, ok := p.Annotations[queueworkerv1alpha1.AnnotationDrainingSince]; ok && r.Drainer != nil {
			draining = append(draining, p.Name)
			set[queueworkerv1alpha1.AnnotationDrainingSince] = nil
			if p.Annotations[corev1.PodDeletionCost] == released {
				set[corev1.PodDeletionCost] = nil
			}
		}
		if _, ok := p.Annotations[corev1.PodDeletionCost]; ok && noCosts {
			set[corev1.PodDeletionCost] = nil
		}
		if len(set) > 0 {
			unset[p.Name] = set
		}
	}
	if r.Drainer != nil {
		mem := r.drains.take(client.ObjectKeyFromObject(qw))
		hosts := map[string]bool{}
		if mem != nil {
			for h := range mem.hosts {
				hosts[h] = true
			}
		}
		for _, name := range draining {
			hosts[drain.Hostname(name)] = true
		}
		if len(hosts) > 0 {
			if err := r.deleteDrainKeys(ctx, mem, placeOf(st), slices.Sorted(maps.Keys(hosts))); err != nil {
				return err
			}
		}
	}
	var errs []error
	for i := range pods {
		if set, ok := unset[pods[i].Name]; ok {
			errs = append(errs, r.patchPodAnnotations(ctx, &pods[i], set))
		}
	}
	return errors.Join(errs...)
}
