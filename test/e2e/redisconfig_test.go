//go:build e2e

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

package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// testRedisConfigExternal points a RedisConfig in mode External at a
// running Redis: the server takes the declared maxmemory, takes a changed
// one, and gets it back after someone sets another by hand (the operator
// reads the configuration back every recheckInterval).
func (s *suite) testRedisConfigExternal(t *testing.T) {
	const recheck = 10 * time.Second
	sc := s.newScenario(t, "e2e-redisconfig", true)
	ctx := t.Context()
	rc := &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: sc.ns},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Mode: queueworkerv1alpha1.RedisConfigExternal,
			External: &queueworkerv1alpha1.ExternalRedis{
				Addr:            sc.redis.addr(),
				RecheckInterval: &metav1.Duration{Duration: recheck},
			},
			Memory: queueworkerv1alpha1.RedisMemory{MaxMemory: ptr.To(resource.MustParse("64Mi"))},
		},
	}
	created := time.Now()
	if err := s.client.Create(ctx, rc); err != nil {
		t.Fatalf("creating RedisConfig: %v", err)
	}
	sc.waitMaxMemory(rc, "64Mi")
	sc.result.note("maxmemory 64Mi on the server %s after the create", time.Since(created).Round(100*time.Millisecond))

	orig := rc.DeepCopy()
	rc.Spec.Memory.MaxMemory = ptr.To(resource.MustParse("96Mi"))
	changed := time.Now()
	if err := s.client.Patch(ctx, rc, client.MergeFrom(orig)); err != nil {
		t.Fatalf("changing memory.maxMemory: %v", err)
	}
	sc.waitMaxMemory(rc, "96Mi")
	sc.result.note("maxmemory 96Mi on the server %s after the change", time.Since(changed).Round(100*time.Millisecond))

	if err := sc.rdb.ConfigSet(ctx, "maxmemory", "1gb").Err(); err != nil {
		t.Fatalf("setting maxmemory by hand: %v", err)
	}
	drifted := time.Now()
	sc.waitMaxMemory(rc, "96Mi")
	sc.result.note("maxmemory set to 1gb by hand was put back to 96Mi %s later (recheckInterval %s)",
		time.Since(drifted).Round(100*time.Millisecond), recheck)
}

// waitMaxMemory waits until the server reports maxmemory q and the
// RedisConfig's status describes its current generation as Ready, with
// maxmemory not listed as drifted.
func (sc *scenario) waitMaxMemory(rc *queueworkerv1alpha1.RedisConfig, q string) {
	t := sc.t
	t.Helper()
	quantity := resource.MustParse(q)
	want := strconv.FormatInt(quantity.Value(), 10)
	eventually(t, "redis-server reports maxmemory "+q, shortWait, func() (bool, error) {
		got, err := sc.rdb.ConfigGet(t.Context(), "maxmemory").Result()
		if err != nil {
			return false, err
		}
		return got["maxmemory"] == want, fmt.Errorf("CONFIG GET maxmemory is %q, want %s", got["maxmemory"], want)
	})
	eventually(t, "the RedisConfig's status shows it Ready at its generation", shortWait, func() (bool, error) {
		var got queueworkerv1alpha1.RedisConfig
		if err := sc.s.client.Get(t.Context(), client.ObjectKeyFromObject(rc), &got); err != nil {
			return false, err
		}
		ready := apimeta.FindStatusCondition(got.Status.Conditions, queueworkerv1alpha1.ConditionReady)
		if got.Status.ObservedGeneration != got.Generation || ready == nil || ready.Status != metav1.ConditionTrue {
			return false, fmt.Errorf("observedGeneration %d of %d, conditions %+v",
				got.Status.ObservedGeneration, got.Generation, got.Status.Conditions)
		}
		for _, d := range got.Status.Drift {
			if d.Key == "maxmemory" {
				return false, fmt.Errorf("status.drift lists maxmemory: %+v", d)
			}
		}
		return true, nil
	})
}
