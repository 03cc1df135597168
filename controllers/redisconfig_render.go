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
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// reconcileRender renders the spec into redis.conf and hashes it, the whole
// file (status.configHash) and its restart-only keys (the pod annotation
// that rolls a managed Redis). It owns the Rendered condition, and
// QueueSafe in mode Managed, where the rendered configuration decides the
// policy: an evicting policy the user allowed makes QueueSafe False with a
// Warning event. In mode External the server's policy is what counts, and
// reconcileExternal judges it after applying.
func (r *RedisConfigReconciler) reconcileRender(_ context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	opts := redisconf.Options{}
	if rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal {
		// The API server refuses such names on create; one stored before
		// that rule still arrives here.
		if err := resources.CheckRedisConfigName(rc.Name); err != nil {
			return r.renderFailedFor(st, queueworkerv1alpha1.ReasonInvalidName, err)
		}
		opts.PasswordFile = resources.RedisPasswordConfPath
		opts.TLSDir = resources.RedisTLSDir
		opts.DataDir = resources.RedisDataDir
	}
	ds, err := redisconf.Directives(rc.Spec, opts)
	if err != nil {
		return r.renderFailed(st, err)
	}
	conf, err := redisconf.Render(rc.Spec, opts)
	if err != nil {
		return r.renderFailed(st, err)
	}
	st.directives, st.conf = ds, conf
	st.configHash = redisconf.Hash(conf)
	st.restartHash = redisconf.RestartHash(ds)

	r.setCondition(rc, queueworkerv1alpha1.ConditionRendered, metav1.ConditionTrue,
		queueworkerv1alpha1.ReasonRendered, "redis.conf rendered: "+st.configHash)

	if rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal {
		st.inForce = renderedInForce(ds)
	}
	// In mode External the server's policy counts: reconcileExternal
	// owns QueueSafe there.
	if rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal {
		r.judgeSpecPolicy(st)
	}
	return ctrl.Result{}, nil
}

// warnBacklogCapped emits a Warning when the redis.conf that reconcileManaged
// just wrote (the ConfigMap held was before) sets a tcp-backlog above the pod's
// somaxconn: once per configuration written, not on every reconcile until
// the configuration reaches the server. It judges the rendered value, not
// the spec's: an unset tcpBacklog is 511 on the server the operator runs,
// and the kernel caps that too.
func warnBacklogCapped(st *redisConfigState, was string) {
	backlog := renderedInt(st.directives, "tcp-backlog")
	if was == string(st.conf) || backlog <= defaultSomaxconn {
		return
	}
	st.events.Eventf(st.rc, nil, "Warning", queueworkerv1alpha1.ReasonTCPBacklogCapped, "Render",
		"tcp-backlog %d is above the pod's net.core.somaxconn (%d unless a sysctl raises it): the kernel caps the backlog at %d",
		backlog, defaultSomaxconn, defaultSomaxconn)
}

// renderedInt is the value of key among ds as a number, 0 when it is not
// rendered.
func renderedInt(ds []redisconf.Directive, key string) int {
	n, _ := strconv.Atoi(rendered(ds, key))
	return n
}

// rendered is the value of key among ds, "" when it is not rendered.
func rendered(ds []redisconf.Directive, key string) string {
	for _, d := range ds {
		if d.Key == key {
			return d.Value
		}
	}
	return ""
}

// renderedInForce describes the configuration the operator runs Redis with.
func renderedInForce(ds []redisconf.Directive) *inForce {
	return &inForce{
		maxMemory:   formatMaxMemory(rendered(ds, "maxmemory")),
		policy:      rendered(ds, "maxmemory-policy"),
		persistence: persistenceOf(rendered(ds, "appendonly"), rendered(ds, "appendfsync"), rendered(ds, "save")),
	}
}

// judgeSpecPolicy sets QueueSafe from the policy the spec sets (noeviction
// when unset): an evicting policy the user allowed makes it False, with a
// Warning event when it turns so.
func (r *RedisConfigReconciler) judgeSpecPolicy(st *redisConfigState) {
	rc := st.rc
	policy := rc.Spec.Memory.Policy
	switch {
	case policy == "" || policy == noEviction:
		r.setCondition(rc, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonNoEviction, "maxmemory-policy noeviction: Redis refuses writes at the limit and never drops a task")
	case r.setCondition(rc, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionFalse,
		queueworkerv1alpha1.ReasonEvictionAllowed, "maxmemory-policy "+string(policy)+
			" evicts keys at the memory limit: queued tasks can be lost"):
		st.events.Eventf(rc, nil, "Warning", queueworkerv1alpha1.ReasonEvictionAllowed, "Render",
			"maxmemory-policy %s evicts keys at the memory limit: queued tasks can be lost", policy)
	}
}

func (r *RedisConfigReconciler) renderFailed(st *redisConfigState, err error) (ctrl.Result, error) {
	return r.renderFailedFor(st, queueworkerv1alpha1.ReasonInvalidSpec, err)
}

// renderFailedFor stalls the RedisConfig with reason: only the user can fix
// it, so the stall is terminal.
func (r *RedisConfigReconciler) renderFailedFor(st *redisConfigState, reason string, err error) (ctrl.Result, error) {
	r.setCondition(st.rc, queueworkerv1alpha1.ConditionRendered, metav1.ConditionFalse, reason, err.Error())
	return ctrl.Result{}, specStallf(reason, "%v", err)
}
