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
	"maps"
	"slices"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
)

// reconcileExternal applies every runtime key the spec sets to an existing
// Redis with CONFIG SET (to each node of a cluster, to the current master of
// a sentinel group), reads every key back, and lists what differs in
// status.drift: restart-only keys, and keys the server refused. CONFIG
// REWRITE runs only with external.persistToFile. It owns the Applied
// condition in mode External and comes back every recheckInterval; a
// sentinel group is looked at every 30s so that a failover is noticed and
// the new master configured.
//
// The typed keys the spec leaves unset are not the operator's to change:
// it reads them on the same connection and reports them in
// status.serverConfig, and the memory limit, policy and persistence in
// status come from the server. When the spec leaves memory.policy unset,
// this step owns QueueSafe: from the server's own policy when the spec
// leaves it unset or the server did not take the spec's (False, with a
// Warning event, when it evicts keys), else from the spec's.
func (r *RedisConfigReconciler) reconcileExternal(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	x := rc.Spec.External
	ep := externalEndpoint(rc)
	creds := queue.Credentials{Password: st.password, CAPEM: st.caPEM, AllowedAddrs: st.passwordPins}
	recheck := DefaultRecheckInterval
	if x.RecheckInterval != nil && x.RecheckInterval.Duration > 0 {
		recheck = x.RecheckInterval.Duration
	}
	if x.Sentinel != nil {
		recheck = min(recheck, sentinelRecheckInterval)
	}
	settings := make([]redisadmin.Setting, 0, len(st.directives))
	for _, d := range st.directives {
		settings = append(settings, redisadmin.Setting{Key: d.Key, Value: d.Value,
			Runtime: redisconf.ModeOf(d.Key) == redisconf.Runtime})
	}
	observe := unsetTypedKeys(st.directives)
	res, err := r.apply(ctx, st, ep, creds, settings, observe, x.PersistToFile, recheck)
	if err == nil && st.applied && x.Sentinel != nil {
		// Name the master, so a failover shows as a change of nodes.
		if master, merr := queue.SentinelMaster(ctx, ep, creds); merr == nil {
			st.nodes = []string{master}
		}
	}
	if st.applied {
		rc.Status.ServerConfig = serverConfig(st.values, observe)
		st.inForce = serverInForce(st.values)
	}
	// The server's policy decides whether tasks are safe when the spec
	// leaves it to the server, and when the server did not take the one
	// the spec asks for (refused by its ACL, say).
	if rc.Spec.Memory.Policy == "" || policyDrifted(rc.Status.Drift) {
		r.judgeServerPolicy(st)
	} else {
		r.judgeSpecPolicy(st)
	}
	return res, err
}

// unsetTypedKeys are the keys of the typed fields that ds does not set.
func unsetTypedKeys(ds []redisconf.Directive) []string {
	var unset []string
	for _, key := range redisconf.TypedKeys() {
		if !slices.ContainsFunc(ds, func(d redisconf.Directive) bool { return d.Key == key }) {
			unset = append(unset, key)
		}
	}
	return unset
}

// serverConfig is status.serverConfig: the values of the keys in observe,
// in the order of values (by node and key).
func serverConfig(values []redisadmin.Value, observe []string) []queueworkerv1alpha1.ServerSetting {
	var out []queueworkerv1alpha1.ServerSetting
	for _, v := range values {
		if slices.Contains(observe, v.Key) {
			out = append(out, queueworkerv1alpha1.ServerSetting{Key: v.Key, Value: v.Value, Node: v.Node})
		}
	}
	return out
}

// serverInForce describes what the servers run with, from every node's
// values; where nodes differ, the summary lists each distinct value.
func serverInForce(values []redisadmin.Value) *inForce {
	byNode := map[string]map[string]string{}
	for _, v := range values {
		if byNode[v.Node] == nil {
			byNode[v.Node] = map[string]string{}
		}
		byNode[v.Node][v.Key] = v.Value
	}
	maxMemory := make([]string, 0, len(byNode))
	policy := make([]string, 0, len(byNode))
	persistence := make([]string, 0, len(byNode))
	for _, m := range byNode {
		if v, ok := m["maxmemory"]; ok {
			maxMemory = append(maxMemory, formatMaxMemory(v))
		}
		policy = append(policy, m["maxmemory-policy"])
		if _, ok := m["appendonly"]; ok {
			if _, ok := m["save"]; ok {
				persistence = append(persistence, persistenceOf(m["appendonly"], m["appendfsync"], m["save"]))
			}
		}
	}
	return &inForce{maxMemory: distinct(maxMemory), policy: distinct(policy), persistence: distinct(persistence)}
}

// distinct joins the distinct non-empty values, sorted, with commas.
func distinct(values []string) string {
	values = slices.DeleteFunc(slices.Clone(values), func(v string) bool { return v == "" })
	slices.Sort(values)
	return strings.Join(slices.Compact(values), ",")
}

// noEviction is the one maxmemory-policy that never drops a key.
const noEviction = "noeviction"

// policyDrifted tells whether maxmemory-policy is not what the spec set on
// some node.
func policyDrifted(drift []queueworkerv1alpha1.ConfigDrift) bool {
	return slices.ContainsFunc(drift, func(d queueworkerv1alpha1.ConfigDrift) bool { return d.Key == "maxmemory-policy" })
}

// judgeServerPolicy sets QueueSafe from the servers' own maxmemory-policy,
// for a spec that leaves memory.policy unset or whose policy the server did
// not take. Until a policy has been read for the current generation it is
// Unknown; a server that cannot be reached later leaves the last reading in
// place.
func (r *RedisConfigReconciler) judgeServerPolicy(st *redisConfigState) {
	rc := st.rc
	evicting := map[string][]string{} // policy -> nodes
	read := false
	for _, v := range st.values {
		if v.Key != "maxmemory-policy" {
			continue
		}
		read = true
		if v.Value != noEviction {
			evicting[v.Value] = append(evicting[v.Value], v.Node)
		}
	}
	switch {
	case !read:
		// Only this step sets QueueSafe for this spec: a condition of the
		// current generation is its last reading, which stands.
		c := apimeta.FindStatusCondition(rc.Status.Conditions, queueworkerv1alpha1.ConditionQueueSafe)
		if c != nil && c.ObservedGeneration == rc.Generation {
			return
		}
		r.setCondition(rc, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionUnknown,
			queueworkerv1alpha1.ReasonPolicyUnknown,
			"spec.memory.policy is unset and the server's maxmemory-policy has not been read yet")
	case len(evicting) == 0:
		r.setCondition(rc, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionTrue,
			queueworkerv1alpha1.ReasonNoEviction,
			"the server's maxmemory-policy is noeviction: Redis refuses writes at the limit and never drops a task")
	default:
		var parts []string
		for _, policy := range slices.Sorted(maps.Keys(evicting)) {
			parts = append(parts, policy+" on "+strings.Join(evicting[policy], ", "))
		}
		fix := "spec.memory.policy is unset, so the operator leaves it: set spec.memory.policy: noeviction to have it applied"
		if rc.Spec.Memory.Policy != "" {
			fix = "the server did not take spec.memory.policy " + string(rc.Spec.Memory.Policy) +
				" (see status.drift): let the operator's user run CONFIG SET maxmemory-policy, or set it on the server"
		}
		msg := fmt.Sprintf("the server's maxmemory-policy (%s) evicts keys at the memory limit, and evicted "+
			"task keys are lost tasks; %s", strings.Join(parts, "; "), fix)
		if r.setCondition(rc, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionFalse,
			queueworkerv1alpha1.ReasonServerPolicyEvicts, msg) {
			st.events.Eventf(rc, nil, "Warning", queueworkerv1alpha1.ReasonServerPolicyEvicts, "Apply", "%s", msg)
		}
	}
}
