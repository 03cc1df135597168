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
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
)

// summarizeRedisConfig derives the status: where clients find Redis and
// its password, the config hash, and the Applied and Ready conditions.
// Ready means clients can use the server: it answered and authenticated
// the operator (a managed pod is ready too); keys that drifted show in
// Applied, not in Ready.
func (r *RedisConfigReconciler) summarizeRedisConfig(st *redisConfigState) {
	rc := st.rc
	rc.Status.ObservedGeneration = rc.Generation
	rc.Status.Persistence = persistenceSummary(rc)
	external := rc.Spec.Mode == queueworkerv1alpha1.RedisConfigExternal
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
	if st.stalledReason == "" {
		rc.Status.PasswordSecretRef = nil
		if ref := st.clientPasswordRef; ref.Name != "" {
			rc.Status.PasswordSecretRef = &queueworkerv1alpha1.SecretKeyReference{Name: ref.Name, Key: ref.Key}
		}
		rc.Status.Username = st.clientUsername
	}
	if len(st.nodes) > 0 {
		rc.Status.Nodes = st.nodes
	}

	if st.stalledReason != "" {
		if r.setCondition(rc, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, st.stalledReason, st.stalledMessage) {
			r.Recorder.Eventf(rc, nil, "Warning", st.stalledReason, "Reconcile", "%s", st.stalledMessage)
		}
		return
	}
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
	wasReady := apimeta.IsStatusConditionTrue(rc.Status.Conditions, queueworkerv1alpha1.ConditionReady)
	if st.applied {
		msg := "Redis answers at " + rc.Status.Address
		if !external {
			msg = fmt.Sprintf("the managed Redis is ready at %s", rc.Status.Address)
		}
		r.setCondition(rc, queueworkerv1alpha1.ConditionReady, metav1.ConditionTrue, queueworkerv1alpha1.ReasonReady, msg)
		if !wasReady {
			r.Recorder.Eventf(rc, nil, "Normal", queueworkerv1alpha1.ReasonReady, "Reconcile", "%s", msg)
		}
		return
	}
	reason, msg := st.appliedReason, st.appliedMessage
	if reason == "" {
		reason, msg = queueworkerv1alpha1.ReasonProgressing, "not applied yet"
	}
	if r.setCondition(rc, queueworkerv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg) && wasReady {
		r.Recorder.Eventf(rc, nil, "Warning", reason, "Reconcile", "Redis is not ready: %s", msg)
	}
}

// persistenceSummary is the Persistence printer column: "aof everysec",
// "aof everysec + rdb", "rdb" or "off".
func persistenceSummary(rc *queueworkerv1alpha1.RedisConfig) string {
	p := rc.Spec.Persistence
	var parts []string
	if p.AOF.Enabled == nil || *p.AOF.Enabled {
		fsync := string(p.AOF.Fsync)
		if fsync == "" {
			fsync = "everysec"
		}
		parts = append(parts, "aof "+fsync)
	}
	if p.RDB != nil && len(p.RDB.Save) > 0 {
		parts = append(parts, "rdb")
	}
	if len(parts) == 0 {
		return "off"
	}
	return strings.Join(parts, " + ")
}
