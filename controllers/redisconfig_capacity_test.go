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
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

func TestCapacityVerdict(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name       string
		c          queueworkerv1alpha1.RedisCapacity
		want       metav1.ConditionStatus
		wantReason string
		wantIn     []string
	}{
		{"never read", queueworkerv1alpha1.RedisCapacity{QueueWorkers: 2, WorstCaseClients: 500},
			metav1.ConditionUnknown, queueworkerv1alpha1.ReasonCapacityUnknown, []string{"500"}},
		{"exactly maxclients fits", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 100, MaxClients: i64(100)},
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits, []string{"within maxclients 100"}},
		{"one more than maxclients", queueworkerv1alpha1.RedisCapacity{QueueWorkers: 3, WorstCaseClients: 101, MaxClients: i64(100)},
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonTooManyClients, []string{"3 QueueWorkers", "101", "maxclients 100"}},
		{"memory just below 90%", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 10, MaxClients: i64(100),
			UsedMemoryBytes: i64(89), MaxMemoryBytes: i64(100), UsedMemoryPercent: i32(89)},
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits, []string{"89%"}},
		{"memory at 90%", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 10, MaxClients: i64(100),
			UsedMemoryBytes: i64(90), MaxMemoryBytes: i64(100), UsedMemoryPercent: i32(90)},
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonMemoryNearLimit, []string{"90%", "refuses every enqueue"}},
		{"no memory limit", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 10, MaxClients: i64(100),
			UsedMemoryBytes: i64(1 << 30), MaxMemoryBytes: i64(0)},
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits, nil},
		{"both", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 200, MaxClients: i64(100),
			UsedMemoryBytes: i64(95), MaxMemoryBytes: i64(100), UsedMemoryPercent: i32(95)},
			metav1.ConditionFalse, queueworkerv1alpha1.ReasonTooManyClients, []string{"maxclients 100", "95%"}},
		{"memory read, maxclients not", queueworkerv1alpha1.RedisCapacity{WorstCaseClients: 1 << 20,
			UsedMemoryBytes: i64(10), MaxMemoryBytes: i64(100), UsedMemoryPercent: i32(10)},
			metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits, []string{"10%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, reason, msg := capacityVerdict(&tt.c, false)
			if status != tt.want || reason != tt.wantReason {
				t.Errorf("got %s/%s, want %s/%s (%s)", status, reason, tt.want, tt.wantReason, msg)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
		})
	}
}

// TestReadCapacityOfACluster: the fullest node's memory, the most
// connected clients, the smallest maxclients, CONFIG GET's value before
// INFO's.
func TestReadCapacityOfACluster(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// A reading's time is stored in whole seconds, as the API server does.
	readAt := at.Add(700 * time.Millisecond)
	c := &queueworkerv1alpha1.RedisCapacity{}
	readCapacity(c, &usageReading{at: readAt, nodes: []redisadmin.Usage{
		{Node: "a", UsedMemory: 500, MaxMemory: 1000, ConnectedClients: 7, MaxClients: 10000},
		{Node: "b", UsedMemory: 300, MaxMemory: 400, ConnectedClients: 3, MaxClients: 10000},
		{Node: "c", UsedMemory: 900, MaxMemory: 0, ConnectedClients: 9},
	}}, []redisadmin.Value{{Node: "c", Key: "maxclients", Value: "50"}, {Node: "a", Key: "maxmemory", Value: "1000"}})
	if c.UsedMemoryPercent == nil || *c.UsedMemoryPercent != 75 || *c.UsedMemoryBytes != 300 || *c.MaxMemoryBytes != 400 {
		t.Errorf("memory %v/%v %v%%, want node b's 300/400 75%%", deref(c.UsedMemoryBytes), deref(c.MaxMemoryBytes), c.UsedMemoryPercent)
	}
	if c.ConnectedClients == nil || *c.ConnectedClients != 9 {
		t.Errorf("connected clients %v, want 9", deref(c.ConnectedClients))
	}
	if c.MaxClients == nil || *c.MaxClients != 50 {
		t.Errorf("maxclients %v, want 50 (node c's CONFIG GET)", deref(c.MaxClients))
	}
	if c.ReadAt == nil || !c.ReadAt.Time.Equal(at) {
		t.Errorf("readAt %v, want %v", c.ReadAt, at)
	}
	// A reading without a memory limit anywhere leaves the percent unset.
	readCapacity(c, &usageReading{at: at, nodes: []redisadmin.Usage{{Node: "a", UsedMemory: 5, ConnectedClients: 1}}}, nil)
	if c.UsedMemoryPercent != nil || c.MaxClients != nil {
		t.Errorf("percent %v maxclients %v, want both unset", c.UsedMemoryPercent, c.MaxClients)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRedisConfigCapacity: an External RedisConfig reports the worst case
// of clients of the QueueWorkers that name it against the server's
// maxclients, and its memory against maxmemory. A QueueWorker whose
// maxReplicas pushes the sum over maxclients makes CapacityOK False with
// one Warning event; memory past 90% does too; and once the server has
// room again, without any spec change, CapacityOK turns True.
func TestRedisConfigCapacity(t *testing.T) {
	srv, err := redistest.Start("requirepass cap-pass", "maxclients 200")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	sec := usableSecret(ns, "cap", map[string]string{"password": "cap-pass"},
		queueworkerv1alpha1.KindRedisConfig, queueworkerv1alpha1.KindQueueWorker)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	rc := &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cap"},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Mode:       queueworkerv1alpha1.RedisConfigExternal,
			External:   &queueworkerv1alpha1.ExternalRedis{Addr: srv.Addr},
			Auth:       &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "cap", Key: "password"}},
			ClientAuth: &queueworkerv1alpha1.RedisClientAuth{UseAdminCredentials: true},
		},
	}
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}
	// Per pod: a pool of 20, the pipeline pool of 10 and a subscription.
	perPod := int64(20 + resources.WorkerPipelinePoolSize + 1)
	for _, name := range []string{"images", "mail"} {
		qw := newQueueWorker(ns, name)
		qw.Spec.Redis = queueworkerv1alpha1.RedisConnection{
			ConfigRef: &queueworkerv1alpha1.RedisConfigReference{Name: "cap"},
			Pool:      queueworkerv1alpha1.RedisPool{Size: 20},
		}
		qw.Spec.Autoscaling = &queueworkerv1alpha1.Autoscaling{MaxReplicas: 2}
		if err := k8sClient.Create(testCtx, qw); err != nil {
			t.Fatal(err)
		}
	}
	// Not counted: another RedisConfig's and an address's QueueWorkers.
	other := newQueueWorker(ns, "elsewhere")
	other.Spec.Autoscaling = &queueworkerv1alpha1.Autoscaling{MaxReplicas: 50}
	if err := k8sClient.Create(testCtx, other); err != nil {
		t.Fatal(err)
	}
	// 2 QueueWorkers × (2 pods + 1 of a rollout's surge) × 31, plus the
	// operator's 11.
	within := 2*3*perPod + operatorConnections
	eventually(t, "CapacityOK True with the worst case counted", func() error {
		got := getRedisConfig(t, ns, "cap")
		c := got.Status.Capacity
		if c == nil || c.QueueWorkers != 2 || c.WorstCaseClients != within || c.MaxClients == nil || *c.MaxClients != 200 {
			return fmt.Errorf("capacity %+v", c)
		}
		if c.UsedMemoryBytes == nil || *c.UsedMemoryBytes == 0 || c.ConnectedClients == nil || *c.ConnectedClients == 0 || c.ReadAt == nil {
			return fmt.Errorf("no reading of the server in %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits)
	})

	// 4 most pods + 1 surge for one of them: 31×(5+3) + 11 = 259 > 200.
	updateQueueWorker(t, ns, "mail", func(qw *queueworkerv1alpha1.QueueWorker) { qw.Spec.Autoscaling.MaxReplicas = 4 })
	over := (5+3)*perPod + operatorConnections
	eventually(t, "TooManyClients", func() error {
		got := getRedisConfig(t, ns, "cap")
		if c := got.Status.Capacity; c == nil || c.WorstCaseClients != over {
			return fmt.Errorf("capacity %+v, want worst case %d", c, over)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionFalse, queueworkerv1alpha1.ReasonTooManyClients)
	})
	eventually(t, "one TooManyClients Warning", func() error {
		if n := countEvents(t, ns, "cap", queueworkerv1alpha1.ReasonTooManyClients); n != 1 {
			return fmt.Errorf("%d TooManyClients events", n)
		}
		return nil
	})
	// Deleting it brings the sum back under the limit.
	if err := k8sClient.Delete(testCtx, getQueueWorker(t, ns, "mail")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "WithinLimits once the QueueWorker is gone", func() error {
		got := getRedisConfig(t, ns, "cap")
		if c := got.Status.Capacity; c == nil || c.QueueWorkers != 1 || c.WorstCaseClients != 3*perPod+operatorConnections {
			return fmt.Errorf("capacity %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits)
	})

	// Fill the server, then give it a limit just above what it holds.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "cap-pass"})
	defer func() { _ = rdb.Close() }()
	if err := rdb.Set(testCtx, "ballast", strings.Repeat("x", 4<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	updateRedisConfig(t, ns, "cap", func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("5Mi")
		rc.Spec.Memory.MaxMemory = &q
	})
	eventually(t, "MemoryNearLimit", func() error {
		got := getRedisConfig(t, ns, "cap")
		c := got.Status.Capacity
		if c == nil || c.MaxMemoryBytes == nil || *c.MaxMemoryBytes != 5<<20 || c.UsedMemoryPercent == nil || *c.UsedMemoryPercent < 90 {
			return fmt.Errorf("capacity %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionFalse, queueworkerv1alpha1.ReasonMemoryNearLimit)
	})
	if n := countEvents(t, ns, "cap", queueworkerv1alpha1.ReasonMemoryNearLimit); n != 1 {
		t.Errorf("%d MemoryNearLimit events, want 1", n)
	}
	// The tasks drain: no spec change, but a server above 80% is read
	// every MemoryRecheckInterval.
	if err := rdb.Del(testCtx, "ballast").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "WithinLimits after the memory was freed", func() error {
		got := getRedisConfig(t, ns, "cap")
		if c := got.Status.Capacity; c == nil || c.UsedMemoryPercent == nil || *c.UsedMemoryPercent >= 80 {
			return fmt.Errorf("capacity %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits)
	})
}

// TestReadCapacityPastTheLimit: a server far past its maxmemory (a
// maxmemory of 1 byte, or values near the int64 limit from a proxy) reads
// as full, never as a percent that wrapped around to fit.
func TestReadCapacityPastTheLimit(t *testing.T) {
	const maxInt64 = 1<<63 - 1
	tests := []struct {
		name      string
		used, max int64
		want      int32
	}{
		{"exactly the watch mark", 80, 100, 80},
		{"just below the warning", 899, 1000, 89},
		{"maxmemory of 1 byte", 30 << 20, 1, 1<<31 - 1},
		{"twice a huge limit", maxInt64, maxInt64 / 2, 200},
		{"huge, just below the warning", maxInt64 / 100 * 89, maxInt64 / 100 * 99, 89},
		{"used beyond 92 PB of a 100 PB limit", 92e15, 100e15, 92},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &usageReading{at: time.Now(), nodes: []redisadmin.Usage{{Node: "a", UsedMemory: tt.used, MaxMemory: tt.max}}}
			c := &queueworkerv1alpha1.RedisCapacity{}
			readCapacity(c, u, nil)
			if c.UsedMemoryPercent == nil || *c.UsedMemoryPercent != tt.want {
				got := "unset"
				if c.UsedMemoryPercent != nil {
					got = fmt.Sprint(*c.UsedMemoryPercent)
				}
				t.Fatalf("percent %s, want %d", got, tt.want)
			}
			if got, want := u.nearFull(), tt.want >= memoryWatchPercent; got != want {
				t.Errorf("nearFull %v, want %v", got, want)
			}
			status, _, msg := capacityVerdict(c, false)
			if want := tt.want >= memoryWarnPercent; (status == metav1.ConditionFalse) != want {
				t.Errorf("CapacityOK %s (%s), want False %v", status, msg, want)
			}
		})
	}
}

// TestMemoryRecheckOnlyReads: a server above 80% of maxmemory is read
// every MemoryRecheckInterval, but only read: the configuration is set
// again at the RedisConfig's own recheckInterval, not every reading.
func TestMemoryRecheckOnlyReads(t *testing.T) {
	srv, err := redistest.Start("requirepass full-pass")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "full-pass"})
	defer func() { _ = rdb.Close() }()
	if err := rdb.Set(testCtx, "ballast", strings.Repeat("x", 4<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	ns := createNamespace(t)
	sec := usableSecret(ns, "full", map[string]string{"password": "full-pass"}, queueworkerv1alpha1.KindRedisConfig)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	q := resource.MustParse("5Mi")
	rc := &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "full"},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Mode: queueworkerv1alpha1.RedisConfigExternal,
			External: &queueworkerv1alpha1.ExternalRedis{Addr: srv.Addr,
				RecheckInterval: &metav1.Duration{Duration: time.Hour}},
			Memory: queueworkerv1alpha1.RedisMemory{MaxMemory: &q},
			Auth:   &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "full", Key: "password"}},
		},
	}
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}
	var first time.Time
	eventually(t, "MemoryNearLimit", func() error {
		got := getRedisConfig(t, ns, "full")
		if c := got.Status.Capacity; c == nil || c.ReadAt == nil {
			return fmt.Errorf("capacity %+v", c)
		} else {
			first = c.ReadAt.Time
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionFalse, queueworkerv1alpha1.ReasonMemoryNearLimit)
	})
	configSets := func() string {
		info, err := rdb.Info(testCtx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			if stats, ok := strings.CutPrefix(line, "cmdstat_config|set:"); ok {
				calls, _, _ := strings.Cut(stats, ",")
				return calls
			}
		}
		return ""
	}
	before := configSets()
	if before == "" {
		t.Fatal("the server saw no CONFIG SET")
	}
	eventually(t, "two more readings", func() error {
		got := getRedisConfig(t, ns, "full")
		if c := got.Status.Capacity; c == nil || c.ReadAt == nil || !c.ReadAt.After(first.Add(3*time.Second)) {
			return fmt.Errorf("capacity %+v, read at %v first", c, first)
		}
		return nil
	})
	if after := configSets(); after != before {
		t.Errorf("CONFIG SET %s before the readings, %s after: the memory recheck configured the server again", before, after)
	}
}

// TestMemoryWarningDoesNotFlap: memory that hovers around 90% makes
// CapacityOK False once, with one event; it turns True again only below
// memoryClearPercent.
func TestMemoryWarningDoesNotFlap(t *testing.T) {
	r := &RedisConfigReconciler{}
	rc := &queueworkerv1alpha1.RedisConfig{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []struct {
		percent int64
		want    metav1.ConditionStatus
	}{
		{89, metav1.ConditionTrue},
		{90, metav1.ConditionFalse},
		{89, metav1.ConditionFalse},
		{90, metav1.ConditionFalse},
		{memoryClearPercent, metav1.ConditionFalse},
		{memoryClearPercent - 1, metav1.ConditionTrue},
		{89, metav1.ConditionTrue},
		{90, metav1.ConditionFalse},
	}
	events := 0
	for i, s := range steps {
		st := &redisConfigState{rc: rc, events: &eventBuffer{}, demand: &clientDemand{worstCase: operatorConnections},
			usage: &usageReading{at: at.Add(time.Duration(i) * time.Minute),
				nodes: []redisadmin.Usage{{Node: "a", UsedMemory: s.percent, MaxMemory: 100, MaxClients: 1000}}}}
		r.judgeCapacity(st)
		events += len(st.events.events)
		reason := queueworkerv1alpha1.ReasonWithinLimits
		if s.want == metav1.ConditionFalse {
			reason = queueworkerv1alpha1.ReasonMemoryNearLimit
		}
		if err := rcConditionIs(rc, queueworkerv1alpha1.ConditionCapacityOK, s.want, reason); err != nil {
			t.Errorf("step %d at %d%%: %v", i, s.percent, err)
		}
	}
	if events != 2 {
		t.Errorf("%d Warning events, want 2 (one per time memory reached 90%% from below %d%%)", events, memoryClearPercent)
	}
}

// TestCapacityForgetsReadingsINFONoLongerGives: once the server refuses
// INFO (its ACL changed, or the RedisConfig now names another server),
// the readings of before are not shown as the server's: they are unset
// and CapacityOK is Unknown.
func TestCapacityForgetsReadingsINFONoLongerGives(t *testing.T) {
	srv, err := redistest.Start("requirepass acl-pass", "maxclients 100")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ns := createNamespace(t)
	sec := usableSecret(ns, "acl", map[string]string{"password": "acl-pass"}, queueworkerv1alpha1.KindRedisConfig)
	if err := k8sClient.Create(testCtx, sec); err != nil {
		t.Fatal(err)
	}
	rc := &queueworkerv1alpha1.RedisConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acl"},
		Spec: queueworkerv1alpha1.RedisConfigSpec{
			Mode: queueworkerv1alpha1.RedisConfigExternal,
			External: &queueworkerv1alpha1.ExternalRedis{Addr: srv.Addr,
				RecheckInterval: &metav1.Duration{Duration: time.Hour}},
			Auth: &queueworkerv1alpha1.RedisAuth{PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "acl", Key: "password"}},
		},
	}
	if err := k8sClient.Create(testCtx, rc); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a reading", func() error {
		got := getRedisConfig(t, ns, "acl")
		if c := got.Status.Capacity; c == nil || c.MaxClients == nil || *c.MaxClients != 100 {
			return fmt.Errorf("capacity %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionTrue, queueworkerv1alpha1.ReasonWithinLimits)
	})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: "acl-pass"})
	defer func() { _ = rdb.Close() }()
	if err := rdb.Do(testCtx, "ACL", "SETUSER", "default", "-info").Err(); err != nil {
		t.Fatal(err)
	}
	// A spec change applies the configuration, and reads the server, now.
	updateRedisConfig(t, ns, "acl", func(rc *queueworkerv1alpha1.RedisConfig) {
		q := resource.MustParse("64Mi")
		rc.Spec.Memory.MaxMemory = &q
	})
	eventually(t, "the readings unset", func() error {
		got := getRedisConfig(t, ns, "acl")
		if got.Status.MaxMemory != "64Mi" {
			return fmt.Errorf("maxMemory %q: not applied yet", got.Status.MaxMemory)
		}
		if c := got.Status.Capacity; c == nil || c.MaxClients != nil || c.UsedMemoryBytes != nil || c.ConnectedClients != nil || c.ReadAt != nil {
			return fmt.Errorf("capacity %+v", c)
		}
		return rcConditionIs(got, queueworkerv1alpha1.ConditionCapacityOK, metav1.ConditionUnknown, queueworkerv1alpha1.ReasonCapacityUnknown)
	})
}
