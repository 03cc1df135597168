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
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// summarizeRedisConfig derives the status from what the steps found and
// the error that stopped them: where clients find Redis and its password,
// the config hash, the memory limit, policy and persistence in force, the
// Applied condition, and Ready, Stalled and Reconciling (see summary).
// Ready means clients can use the server: it answered and authenticated
// the operator (a managed pod is ready too); keys that drifted show in
// Applied, not in Ready. While a managed pod starts it is Unknown, and
// Reconciling True. After an error that is retried nothing but
// Reconciling changes: the status still describes the last generation
// reconciled.
func (r *RedisConfigReconciler) summarizeRedisConfig(st *redisConfigState, orig []metav1.Condition, err error) {
	rc := st.rc
	stall := asStall(err)
	if err != nil && stall == nil {
		summary(st.events, queueworkerv1alpha1.KindRedisConfig, rc, &rc.Status.Conditions, orig, err, nil)
		return
	}
	rc.Status.ObservedGeneration = rc.Generation
	external := rc.Spec.Mode == queueworkerv1alpha1.RedisConfigExternal
	// What is in force stays as last seen while it cannot be known (a spec
	// that does not render, a server that cannot be read).
	if f := st.inForce; f != nil {
		rc.Status.MaxMemory, rc.Status.Policy, rc.Status.Persistence = f.maxMemory, f.policy, f.persistence
	}
	if !external {
		rc.Status.ServerConfig = nil
	}
	switch {
	case external && rc.Spec.External.Addr != "":
		rc.Status.Address = rc.Spec.External.Addr
	case external && rc.Spec.External.Sentinel != nil:
		rc.Status.Address = rc.Spec.External.Sentinel.Addrs[0]
	case external && rc.Spec.External.Cluster != nil:
		rc.Status.Address = rc.Spec.External.Cluster.Addrs[0]
	default:
		rc.Status.Address = resources.RedisAddress(rc)
	}
	rc.Status.TLS = (external && rc.Spec.External.TLS != nil && rc.Spec.External.TLS.Enabled) ||
		(!external && resources.RedisTLSEnabled(rc))
	// A stall keeps what clients were told last: they still work.
	if stall == nil {
		rc.Status.PasswordSecretRef = nil
		if ref := st.clientPasswordRef; ref.Name != "" {
			rc.Status.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: ref.Name, Key: ref.Key}
		}
		rc.Status.Username = st.clientUsername
		if st.configHash != "" && st.applied {
			rc.Status.ConfigHash = st.configHash
		}
		if st.appliedReason != "" {
			status := metav1.ConditionFalse
			if st.appliedReason == queueworkerv1alpha1.ReasonApplied {
				status = metav1.ConditionTrue
			}
			r.setCondition(rc, queueworkerv1alpha1.ConditionApplied, status, st.appliedReason, st.appliedMessage)
		}
	}
	if len(st.nodes) > 0 {
		rc.Status.Nodes = st.nodes
	}
	r.judgeCapacity(st)
	summary(st.events, queueworkerv1alpha1.KindRedisConfig, rc, &rc.Status.Conditions, orig, err,
		func() readiness { return redisReadiness(st) })
}

// redisReadiness decides Ready from the outcome of the application: True
// once the server answered, Unknown while the managed pod is not ready,
// else False with the reason it could not be configured. A managed
// StatefulSet rolling to a new pod template is work in progress.
func redisReadiness(st *redisConfigState) readiness {
	rc := st.rc
	switch {
	case st.applied:
		msg := "Redis answers at " + rc.Status.Address
		if rc.Spec.Mode != queueworkerv1alpha1.RedisConfigExternal {
			msg = fmt.Sprintf("the managed Redis is ready at %s", rc.Status.Address)
		}
		rd := readiness{status: metav1.ConditionTrue, reason: queueworkerv1alpha1.ReasonReady, msg: msg}
		if statefulSetRolling(st.sts) {
			rd.progressReason = queueworkerv1alpha1.ReasonProgressing
			rd.progressMsg = fmt.Sprintf("rolling StatefulSet %s to a new pod template", st.sts.Name)
		}
		return rd
	case st.appliedReason == queueworkerv1alpha1.ReasonWaitingForRedis:
		return progressing(st.appliedReason, st.appliedMessage)
	case st.appliedReason == "":
		return progressing(queueworkerv1alpha1.ReasonProgressing, "not applied yet")
	}
	return readiness{status: metav1.ConditionFalse, reason: st.appliedReason, msg: st.appliedMessage}
}

// statefulSetRolling tells whether a StatefulSet has not yet rolled all its
// pods to its current template.
func statefulSetRolling(sts *appsv1.StatefulSet) bool {
	if sts == nil {
		return false
	}
	s := sts.Status
	return s.ObservedGeneration < sts.Generation || s.UpdatedReplicas < s.Replicas ||
		(s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision)
}

// persistenceOf is the Persistence printer column, from the values of
// appendonly, appendfsync and save: "aof everysec", "aof everysec + rdb",
// "rdb" or "off".
func persistenceOf(appendonly, appendfsync, save string) string {
	var parts []string
	if appendonly == "yes" {
		parts = append(parts, strings.TrimSpace("aof "+appendfsync))
	}
	if strings.TrimSpace(save) != "" {
		parts = append(parts, "rdb")
	}
	if len(parts) == 0 {
		return "off"
	}
	return strings.Join(parts, " + ")
}

// formatMaxMemory is the MaxMemory printer column, from maxmemory in bytes:
// the shorter of the binary and decimal quantities (512Mi, 2G), or
// "unlimited" for 0, which is what 0 means to Redis.
func formatMaxMemory(bytes string) string {
	n, err := strconv.ParseInt(bytes, 10, 64)
	switch {
	case err != nil:
		return bytes
	case n == 0:
		return "unlimited"
	}
	bin := resource.NewQuantity(n, resource.BinarySI).String()
	if dec := resource.NewQuantity(n, resource.DecimalSI).String(); len(dec) < len(bin) {
		return dec
	}
	return bin
}
