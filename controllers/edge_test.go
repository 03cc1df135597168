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

// Edge cases of autoscaling and of External mode: hand scaling, fast idle
// polls, a field set then unset.

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// TestScaleSubresourceAndQueueNames: /scale on an autoscaled
// QueueWorker is refused, and queue names that could break out of asynq's
// hash tag ('{', '}') or hold white space are refused; ':' is accepted and
// cannot collide, since every key is asynq:{<name>}:<suffix>.
func TestScaleSubresourceAndQueueNames(t *testing.T) {
	ns := createNamespace(t)
	qw := autoscaledQueueWorker(ns, "sc", redisServer.Addr, queueworkerv1alpha1.Autoscaling{MinReplicas: ptr.To[int32](1), MaxReplicas: 4})
	if err := k8sClient.Create(testCtx, qw); err != nil {
		t.Fatal(err)
	}
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
	if err := k8sClient.SubResource("scale").Update(testCtx, getQueueWorker(t, ns, "sc"), client.WithSubResourceBody(scale)); err == nil {
		t.Error("/scale accepted on an autoscaled QueueWorker")
	}
	for name, ok := range map[string]bool{"a}b": false, "a{b": false, "a b": false, "x:}": false, "a:b": true} {
		q := autoscaledQueueWorker(ns, "n", redisServer.Addr, queueworkerv1alpha1.Autoscaling{MaxReplicas: 1})
		q.Spec.Queues[0].Name = name
		if err := k8sClient.Create(testCtx, q, client.DryRunAll); (err == nil) != ok {
			t.Errorf("queue %q: accepted %v, want %v (%v)", name, err == nil, ok, err)
		}
	}
}

// TestIdleFastPollsWriteNothing: 40 idle QueueWorkers polled every 100ms write no
// status.
func TestIdleFastPollsWriteNothing(t *testing.T) {
	ns := createNamespace(t)
	for i := range 40 {
		qw := autoscaledQueueWorker(ns, fmt.Sprintf("idle-%d", i), redisServer.Addr, queueworkerv1alpha1.Autoscaling{
			MinReplicas: ptr.To[int32](1), MaxReplicas: 4, PollInterval: dur(100 * time.Millisecond)})
		if err := k8sClient.Create(testCtx, qw); err != nil {
			t.Fatal(err)
		}
	}
	writes := func() int64 {
		var n int64
		for i := range 40 {
			n += queueWorkerStatusWrites(ns, fmt.Sprintf("idle-%d", i))
		}
		return n
	}
	time.Sleep(8 * time.Second)
	before := writes()
	time.Sleep(6 * time.Second)
	if n := writes() - before; n != 0 {
		t.Errorf("%d status writes in 6s from 40 idle QueueWorkers at a 100ms poll", n)
	}
}

// TestExternalSetThenUnset: an External RedisConfig sets a field and
// then unsets it. The server keeps the value last applied, and the status
// says so: the key moves to status.serverConfig with that value, and
// QueueSafe is judged again from the server's policy.
func TestExternalSetThenUnset(t *testing.T) {
	srv, err := redistest.Start("maxmemory-policy noeviction", "requirepass own-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "own-pass"})
	t.Cleanup(func() { _ = rdb.Close() })
	ns := createNamespace(t)
	createObject(t, usableSecret(ns, "own", map[string]string{"password": "own-pass"}, queueworkerv1alpha1.KindRedisConfig))
	rc := externalRedisConfig(ns, "unset", srv.Addr, "own")
	rc.Spec.Memory.Policy = "allkeys-lru"
	rc.Spec.Memory.AllowEviction = true
	createObject(t, rc)
	appliedAtGeneration(t, ns, "unset")
	updateRedisConfig(t, ns, "unset", func(rc *queueworkerv1alpha1.RedisConfig) {
		rc.Spec.Memory.Policy = ""
		rc.Spec.Memory.AllowEviction = false
	})
	appliedAtGeneration(t, ns, "unset")
	if v := configGet(t, rdb, "maxmemory-policy"); v != "allkeys-lru" {
		t.Errorf("server policy %q after unsetting, want the last applied allkeys-lru", v)
	}
	got := getRedisConfig(t, ns, "unset")
	found := false
	for _, s := range got.Status.ServerConfig {
		if s.Key == "maxmemory-policy" && s.Value == "allkeys-lru" {
			found = true
		}
	}
	if !found || got.Status.Policy != "allkeys-lru" {
		t.Errorf("status.serverConfig %+v policy %q, want maxmemory-policy allkeys-lru", got.Status.ServerConfig, got.Status.Policy)
	}
	if err := rcConditionIs(got, queueworkerv1alpha1.ConditionQueueSafe, metav1.ConditionFalse,
		queueworkerv1alpha1.ReasonServerPolicyEvicts); err != nil {
		t.Error(err)
	}
}
