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

package drain

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return now.Add(d) }

// busy is a known pod with one active server running n tasks, the
// oldest started at oldest.
func busy(name string, n int64, oldest time.Time) Pod {
	return Pod{Name: name, Ready: true, Known: true, Created: at(-time.Hour),
		Servers: []Server{{ID: name, Status: "active", Running: n, OldestStart: oldest, Expires: at(10 * time.Second)}}}
}

func names(pods []Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

func TestRank(t *testing.T) {
	young, old := Pod{Name: "idle-young", Created: at(-time.Minute), Known: true, Ready: true,
		Servers: []Server{{ID: "a", Status: "active"}}}, Pod{Name: "idle-old", Created: at(-time.Hour), Known: true, Ready: true,
		Servers: []Server{{ID: "b", Status: "active"}}}
	tests := []struct {
		name string
		pods []Pod
		want []string
	}{
		{name: "none"},
		{name: "idle before busy", pods: []Pod{busy("b1", 1, at(-time.Second)), old},
			want: []string{"idle-old", "b1"}},
		{name: "fewer tasks first", pods: []Pod{busy("b3", 3, at(-time.Second)), busy("b1", 1, at(-time.Hour)), busy("b2", 2, at(-time.Second))},
			want: []string{"b1", "b2", "b3"}},
		{name: "younger work first", pods: []Pod{busy("old-work", 2, at(-time.Hour)), busy("new-work", 2, at(-time.Second))},
			want: []string{"new-work", "old-work"}},
		{name: "untimed work counts as the oldest", pods: []Pod{busy("untimed", 2, time.Time{}), busy("timed", 2, at(-time.Hour))},
			want: []string{"timed", "untimed"}},
		{name: "younger idle pod first", pods: []Pod{old, young}, want: []string{"idle-young", "idle-old"}},
		{name: "unknown and not ready is idle", pods: []Pod{busy("b1", 1, now), {Name: "starting", Created: at(-time.Hour)}},
			want: []string{"starting", "b1"}},
		{name: "unknown and ready is dearer than busy", pods: []Pod{{Name: "ready", Ready: true}, busy("b9", 9, now)},
			want: []string{"b9", "ready"}},
		{name: "known without server and not ready is idle", pods: []Pod{busy("b1", 1, now), {Name: "gone", Known: true}},
			want: []string{"gone", "b1"}},
		{name: "several servers of a pod add up", pods: []Pod{
			{Name: "two", Known: true, Ready: true, Servers: []Server{{ID: "x", Running: 1}, {ID: "y", Running: 1}}},
			busy("b1", 1, now)},
			want: []string{"b1", "two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(Rank(tt.pods))
			if !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("Rank = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCosts(t *testing.T) {
	pods := []Pod{busy("b2", 2, now), busy("b1", 1, now), {Name: "idle", Known: true}, {Name: "done", Released: true}}
	got := Costs(pods)
	want := map[string]int32{"idle": 0, "b1": 1, "b2": 2, "done": ReleasedCost}
	if len(got) != len(want) {
		t.Fatalf("Costs = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Costs = %v, want %v", got, want)
		}
	}
}

// TestCostsStableWhileTheOrderHolds: once the ReplicaSet removed the
// cheapest pods, the others keep their costs (no PATCH each); a change of
// order numbers them anew.
func TestCostsStableWhileTheOrderHolds(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	pods := make([]Pod, 0, 100)
	for i := range 100 {
		pods = append(pods, Pod{Name: fmt.Sprintf("pod-%03d", i), Created: base.Add(time.Duration(i) * time.Second),
			Known: true, Ready: true, Servers: []Server{{ID: "s", Status: "active"}}})
	}
	before := Costs(pods)
	for i := range pods {
		pods[i].Cost = ptr(before[pods[i].Name])
	}
	// The ReplicaSet removes the 10 cheapest (the youngest idle pods).
	left := Rank(pods)[10:]
	after := Costs(left)
	for _, p := range left {
		if after[p.Name] != before[p.Name] {
			t.Fatalf("after removing the 10 cheapest of 100 pods, %s's cost changes from %d to %d",
				p.Name, before[p.Name], after[p.Name])
		}
	}
	// The dearest pod turns idle: the order changes, and so do the costs.
	dearest := slices.Clone(left)
	dearest[len(dearest)-1].Servers = nil
	dearest[len(dearest)-1].Ready = false
	got := Costs(dearest)
	ranked := Rank(dearest)
	for i := 1; i < len(ranked); i++ {
		if got[ranked[i].Name] <= got[ranked[i-1].Name] {
			t.Fatalf("costs %d, %d do not follow the rank of %s, %s", got[ranked[i-1].Name], got[ranked[i].Name],
				ranked[i-1].Name, ranked[i].Name)
		}
	}
}

func ptr(v int32) *int32 { return &v }

func TestHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	tests := []struct{ pod, want string }{
		{"worker-abc", "worker-abc"},
		{strings.Repeat("a", 63), strings.Repeat("a", 63)},
		{long, strings.Repeat("a", 62)},
		{strings.Repeat("a", 61) + "-.xyz", strings.Repeat("a", 61)},
	}
	for _, tt := range tests {
		if got := Hostname(tt.pod); got != tt.want {
			t.Errorf("Hostname(%q) = %q, want %q", tt.pod, got, tt.want)
		}
	}
}

func TestPolicyAndMaxDrainTime(t *testing.T) {
	d := func(x time.Duration) *metav1.Duration { return &metav1.Duration{Duration: x} }
	tests := []struct {
		name       string
		spec       v1.QueueWorkerSpec
		wantPolicy v1.DrainPolicy
		wantMax    time.Duration
	}{
		{name: "no autoscaling", wantPolicy: v1.DrainPolicyNone, wantMax: 250 * time.Second},
		{name: "default", spec: v1.QueueWorkerSpec{Autoscaling: &v1.Autoscaling{}},
			wantPolicy: v1.DrainPolicyPreferIdle, wantMax: 250 * time.Second},
		{name: "empty drain", spec: v1.QueueWorkerSpec{Autoscaling: &v1.Autoscaling{ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{}}}},
			wantPolicy: v1.DrainPolicyPreferIdle, wantMax: 250 * time.Second},
		{name: "ten shutdown timeouts", spec: v1.QueueWorkerSpec{ShutdownTimeout: d(time.Minute), Autoscaling: &v1.Autoscaling{
			ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain}}}},
			wantPolicy: v1.DrainPolicyDrain, wantMax: 10 * time.Minute},
		{name: "at most an hour", spec: v1.QueueWorkerSpec{ShutdownTimeout: d(7 * time.Minute), Autoscaling: &v1.Autoscaling{
			ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain}}}},
			wantPolicy: v1.DrainPolicyDrain, wantMax: time.Hour},
		{name: "set", spec: v1.QueueWorkerSpec{ShutdownTimeout: d(7 * time.Minute), Autoscaling: &v1.Autoscaling{
			ScaleDown: &v1.ScaleDownRules{Drain: &v1.ScaleDownDrain{Policy: v1.DrainPolicyDrain, MaxDrainTime: d(3 * time.Hour)}}}},
			wantPolicy: v1.DrainPolicyDrain, wantMax: 3 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PolicyOf(tt.spec.Autoscaling); got != tt.wantPolicy {
				t.Errorf("PolicyOf = %s, want %s", got, tt.wantPolicy)
			}
			if got := MaxDrainTime(&tt.spec); got != tt.wantMax {
				t.Errorf("MaxDrainTime = %v, want %v", got, tt.wantMax)
			}
		})
	}
	if got := KeyTTL(time.Minute); got <= time.Minute {
		t.Errorf("KeyTTL(1m) = %v, want more than the drain", got)
	}
}

// TestDrained follows one pod's heartbeats through a drain: idle only
// from a stopped heartbeat that follows the first stopped one, with no
// task running on any of its servers.
func TestDrained(t *testing.T) {
	hb := func(expires time.Duration, servers ...Server) Pod {
		for i := range servers {
			servers[i].Expires = at(expires)
		}
		return Pod{Name: "p", Known: true, Ready: false, Servers: servers}
	}
	stops := Stops{}
	steps := []struct {
		name string
		pod  Pod
		want bool
	}{
		{"active", hb(10*time.Second, Server{ID: "s1", Status: "active"}), false},
		{"first stopped heartbeat", hb(15*time.Second, Server{ID: "s1", Status: "stopped"}), false},
		{"same heartbeat read again", hb(15*time.Second, Server{ID: "s1", Status: "stopped"}), false},
		{"a task the last dequeue let through", hb(20*time.Second, Server{ID: "s1", Status: "stopped", Running: 1}), false},
		{"cancelled: a new active server", hb(25*time.Second, Server{ID: "s1", Status: "stopped", Running: 1},
			Server{ID: "s2", Status: "active"}), false},
		{"drained again: the new server's first stop", hb(30*time.Second, Server{ID: "s1", Status: "stopped", Running: 1},
			Server{ID: "s2", Status: "stopped"}), false},
		{"the old server still runs its task", hb(35*time.Second, Server{ID: "s1", Status: "stopped", Running: 1},
			Server{ID: "s2", Status: "stopped"}), false},
		{"all done", hb(40*time.Second, Server{ID: "s1", Status: "stopped"}, Server{ID: "s2", Status: "stopped"}), true},
		{"unknown status", hb(45*time.Second, Server{ID: "s1", Status: ""}), false},
	}
	for _, s := range steps {
		if got := Drained(s.pod, now, stops); got != s.want {
			t.Fatalf("%s: Drained = %v, want %v (stops %v)", s.name, got, s.want, stops)
		}
	}

	for _, tt := range []struct {
		name string
		pod  Pod
		want bool
	}{
		{"no server, not ready", Pod{Name: "q", Known: true}, true},
		{"no server, ready", Pod{Name: "q", Known: true, Ready: true}, false},
		{"unknown", Pod{Name: "q"}, false},
		{"no server, not ready, seen busy just before", Pod{Name: "q", Known: true, LastBusy: at(-time.Second)}, false},
		{"no server, not ready, seen busy just within a lease",
			Pod{Name: "q", Known: true, LastBusy: at(-LeaseDuration + time.Second)}, false},
		{"no server, not ready, seen busy a lease ago", Pod{Name: "q", Known: true, LastBusy: at(-LeaseDuration)}, true},
	} {
		if got := Drained(tt.pod, now, Stops{}); got != tt.want {
			t.Errorf("%s: Drained = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPlanDrain(t *testing.T) {
	draining := func(p Pod, since time.Time) Pod { p.DrainingSince = since; return p }
	stopped := func(p Pod) Pod {
		p.Servers = slices.Clone(p.Servers)
		for i := range p.Servers {
			p.Servers[i].Status = "stopped"
		}
		return p
	}
	idleStopped := stopped(busy("i", 0, time.Time{}))
	tests := []struct {
		name  string
		in    Input
		stops Stops
		want  Plan
	}{
		{name: "steady", in: Input{Current: 2, Desired: 2, Pods: []Pod{busy("a", 1, now), busy("b", 1, now)}},
			want: Plan{Replicas: 2}},
		{name: "scale-down drains the cheapest and keeps the replicas",
			in:   Input{Current: 3, Desired: 1, Pods: []Pod{busy("a", 3, now), busy("b", 1, now), busy("c", 2, now)}},
			want: Plan{Start: []string{"b", "c"}, Replicas: 3}},
		{name: "a busy drained pod stays",
			in:   Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 3, now), draining(stopped(busy("b", 1, now)), at(-time.Minute))}},
			want: Plan{Replicas: 2}},
		{name: "an idle drained pod goes, one replica less",
			in:    Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 3, now), draining(idleStopped, at(-time.Minute))}},
			stops: Stops{"i": {"i": at(-time.Minute)}},
			want:  Plan{Release: []string{"i"}, Replicas: 1}},
		{name: "a pod without heartbeat that is not ready goes at once",
			in:   Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 3, now), {Name: "pending", Known: true}}},
			want: Plan{Start: []string{"pending"}, Release: []string{"pending"}, Replicas: 1}},
		{name: "overdue",
			in: Input{Current: 2, Desired: 1, MaxDrainTime: time.Minute,
				Pods: []Pod{busy("a", 3, now), draining(stopped(busy("b", 1, now)), at(-time.Minute))}},
			want: Plan{Release: []string{"b"}, Overdue: []string{"b"}, Replicas: 1}},
		{name: "scale-up cancels every drain first",
			in:   Input{Current: 2, Desired: 4, Pods: []Pod{busy("a", 3, now), draining(busy("b", 1, now), at(-time.Minute))}},
			want: Plan{Cancel: []string{"b"}, Replicas: 4}},
		{name: "back to the current count cancels too",
			in:   Input{Current: 2, Desired: 2, Pods: []Pod{busy("a", 3, now), draining(busy("b", 1, now), at(-time.Minute))}},
			want: Plan{Cancel: []string{"b"}, Replicas: 2}},
		{name: "a smaller scale-down cancels the busiest drain",
			in: Input{Current: 3, Desired: 2, Pods: []Pod{busy("a", 3, now),
				draining(busy("b", 5, now), at(-time.Minute)), draining(busy("c", 1, now), at(-time.Minute))}},
			want: Plan{Cancel: []string{"b"}, Replicas: 3}},
		{name: "a released pod on its way out is not counted again",
			in: Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 3, now), busy("b", 3, now),
				{Name: "r", Released: true, DrainingSince: at(-time.Minute)}}},
			want: Plan{Start: []string{"a"}, Replicas: 2}},
		{name: "a released pod the ReplicaSet kept is a replica again, drained anew",
			in: Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 3, now),
				{Name: "r", Released: true, DrainingSince: at(-time.Minute), Known: true, Ready: true,
					Servers: []Server{{ID: "r", Status: "active", Running: 1}}}}},
			want: Plan{Cancel: []string{"r"}, Start: []string{"r"}, Replicas: 2}},
		{name: "a released pod the ReplicaSet kept is not released again while busy",
			in: Input{Current: 2, Desired: 1, Pods: []Pod{busy("a", 1, now),
				{Name: "r", Released: true, DrainingSince: at(-time.Minute), Known: true, Ready: true,
					Servers: []Server{{ID: "r", Status: "active", Running: 3}}}}},
			want: Plan{Cancel: []string{"r"}, Start: []string{"a"}, Replicas: 2}},
		{name: "a release stays at the current count",
			in: Input{Current: 2, Desired: 2, Pods: []Pod{busy("a", 1, now), busy("b", 1, now),
				{Name: "r", Released: true, DrainingSince: at(-time.Minute)}}},
			want: Plan{Replicas: 2}},
		{name: "a scale-up cancels a release",
			in: Input{Current: 2, Desired: 3, Pods: []Pod{busy("a", 1, now), busy("b", 1, now),
				{Name: "r", Released: true, DrainingSince: at(-time.Minute)}}},
			want: Plan{Cancel: []string{"r"}, Replicas: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			if tt.in.MaxDrainTime == 0 {
				tt.in.MaxDrainTime = time.Hour
			}
			if tt.stops == nil {
				tt.stops = Stops{}
			}
			got := PlanDrain(tt.in, tt.stops)
			if !slices.Equal(got.Start, tt.want.Start) || !slices.Equal(got.Cancel, tt.want.Cancel) ||
				!slices.Equal(got.Release, tt.want.Release) || !slices.Equal(got.Overdue, tt.want.Overdue) ||
				got.Replicas != tt.want.Replicas {
				t.Errorf("PlanDrain = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzPlanDrain: a plan never lowers the replicas below the decision, nor
// raises them above the larger of the decision and the current count,
// and releases only pods that drained.
func FuzzPlanDrain(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(4), uint16(0x0f0f))
	f.Fuzz(func(t *testing.T, current, desired, npods uint8, bits uint16) {
		in := Input{Current: int32(current % 20), Desired: int32(desired % 20), Now: now, MaxDrainTime: time.Minute}
		for i := range int(npods % 12) {
			b := bits >> (i % 16)
			p := busy(string(rune('a'+i)), int64(b%3), now)
			if b&4 != 0 {
				p.DrainingSince = at(-time.Duration(b%5) * 20 * time.Second)
			}
			if b&8 != 0 {
				p.Servers[0].Status = "stopped"
			}
			in.Pods = append(in.Pods, p)
		}
		plan := PlanDrain(in, Stops{})
		if plan.Replicas < in.Desired || plan.Replicas > max(in.Desired, in.Current) {
			t.Fatalf("replicas %d from current %d, desired %d", plan.Replicas, in.Current, in.Desired)
		}
		for _, name := range plan.Release {
			if !slices.Contains(plan.Overdue, name) && !slices.ContainsFunc(in.Pods, func(p Pod) bool {
				return p.Name == name && p.Running() == 0
			}) {
				t.Fatalf("released %s, which runs tasks and is not overdue", name)
			}
		}
	})
}
