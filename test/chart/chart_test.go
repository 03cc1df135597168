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

// Package chart_test renders the Helm chart in charts/queueworker-operator
// with the pinned helm and checks the output: golden files for a few value
// sets, and the invariants that must hold for any values (least-privilege
// RBAC equal to the generated role, a restricted pod, leader election).
package chart_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the chart's current output")

const (
	repoRoot     = "../.."
	chartDir     = repoRoot + "/charts/queueworker-operator"
	release      = "queueworker-operator"
	namespace    = "queueworker-system"
	managerRole  = release + "-manager-role"
	serviceAcct  = release + "-controller-manager"
	deployment   = release + "-controller-manager"
	helmEnv      = "HELM"
	managerRBAC  = "templates/manager-rbac.yaml"
	rulesPending = "rules: # files/manager-rules.yaml; TestManagerRulesMatchGeneratedRole compares them with config/rbac/role.yaml"
)

// valueSet is one set of chart values, rendered into testdata/<name>.yaml.
type valueSet struct {
	name   string
	values string
}

// valueSets are the golden cases: the defaults, a namespaced install with a
// ServiceMonitor, an install from a private registry with every pod
// setting changed, the Grafana dashboard with the alerts, and the task
// dashboard on a Redis with a password and TLS.
var valueSets = []valueSet{
	{name: "defaults"},
	{
		name: "watch-namespaces-service-monitor",
		values: `
watchNamespaces: [team-a, team-b]
metrics:
  serviceMonitor:
    enabled: true
    interval: 30s
    labels:
      release: kube-prometheus-stack
`,
	},
	{
		name: "custom-image-resources",
		values: `
image:
  repository: registry.example.com/platform/queueworker-operator
  tag: v0.1.0-rc.1
  pullPolicy: Always
imagePullSecrets:
  - name: regcred
replicaCount: 2
resources:
  limits:
    cpu: "1"
    memory: 512Mi
  requests:
    cpu: 100m
    memory: 128Mi
podAnnotations:
  example.com/team: platform
podLabels:
  example.com/cost-center: infra
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: platform
    effect: NoSchedule
priorityClassName: system-cluster-critical
secretResyncPeriod: 30s
logging:
  level: debug
  encoder: console
extraArgs:
  - --enable-http2=false
metrics:
  certSecretName: metrics-server-cert
  serviceMonitor:
    enabled: true
`,
	},
	{
		name: "dashboard-and-alerts",
		values: `
metrics:
  serviceMonitor:
    enabled: true
grafanaDashboard:
  enabled: true
  namespace: monitoring
  annotations:
    grafana_folder: Queues
prometheusRule:
  enabled: true
  labels:
    release: kube-prometheus-stack
  alertLabels:
    team: platform
  redisSelector: container="exporter"
  alerts:
    queueLatencyHigh:
      thresholdSeconds: 600
    redisClientsNearMax:
      enabled: false
`,
	},
	{
		name: "dashboard",
		values: `
dashboard:
  enabled: true
  redis:
    addr: redis.queues.svc:6379
    db: 2
    username: dashboard
    passwordSecretRef:
      name: redis-dashboard
      key: pw
    tls:
      enabled: true
      caSecretRef:
        name: redis-ca
      serverName: redis.queues.svc
`,
	},
}

// helmPath finds the pinned helm once per test binary: $HELM when set, else
// what hack/build-test-binaries.sh builds (or finds in its cache).
var helmPath = sync.OnceValues(func() (string, error) {
	if p := os.Getenv(helmEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", helmEnv, p, err)
		}
		return p, nil
	}
	cmd := exec.Command("hack/build-test-binaries.sh", "--path", "helm")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-test-binaries.sh --path helm: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
})

// helm runs the pinned helm with args and returns its standard output, or
// an error holding its standard error.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatalf("the chart tests need helm: set %s to a helm v3 binary, or run `make test`, which builds the pinned one: %v", helmEnv, err)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// valuesFile writes values into a temporary file, removed when the test
// ends. Its path never holds a comma (t.TempDir's would, from the test name):
// helm splits --values at commas.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	f, err := os.CreateTemp("", "queueworker-chart-values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	if _, err := f.WriteString(values); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// render runs helm template on the chart with values (YAML), as the release
// queueworker-operator in the namespace queueworker-system.
func render(t *testing.T, values string) ([]byte, error) {
	t.Helper()
	return helm(t, "template", release, chartDir, "--namespace", namespace, "--values", valuesFile(t, values))
}

// mustRender is render for values that must render.
func mustRender(t *testing.T, values string) []byte {
	t.Helper()
	out, err := render(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// object is one rendered manifest: its kind, name and namespace, and its
// YAML to decode into a typed object.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte
}

func (o object) String() string {
	return fmt.Sprintf("%s %s/%s", o.Kind, o.Metadata.Namespace, o.Metadata.Name)
}

// decode decodes the object into a typed one, strictly: a field the type
// does not know (a misspelt key in a template) fails the test.
func (o object) decode(t *testing.T, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.raw, into); err != nil {
		t.Fatalf("decoding %s: %v", o, err)
	}
}

// parse splits helm's output into its objects.
func parse(t *testing.T, manifests []byte) []object {
	t.Helper()
	reader := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	var objects []object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatalf("reading the rendered manifests: %v", err)
		}
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("decoding a rendered manifest: %v\n%s", err, doc)
		}
		if o.Kind == "" {
			continue // a document holding only comments
		}
		o.raw = doc
		objects = append(objects, o)
	}
}

// find returns the objects of kind, in their rendered order.
func find(objects []object, kind string) []object {
	var found []object
	for _, o := range objects {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	return found
}

// one returns the only object of kind named name (and in namespace, unless
// empty), failing the test when there is not exactly one.
func one(t *testing.T, objects []object, kind, ns, name string) object {
	t.Helper()
	var found []object
	for _, o := range find(objects, kind) {
		if o.Metadata.Name == name && (ns == "" || o.Metadata.Namespace == ns) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %s/%s, found %d", kind, ns, name, len(found))
	}
	return found[0]
}

// elideManagerRules replaces the rules of the manager's roles with one line,
// so that the golden files do not change whenever a +kubebuilder:rbac marker
// does; TestManagerRulesMatchGeneratedRole checks those rules instead.
func elideManagerRules(manifests []byte) []byte {
	lines := strings.SplitAfter(string(manifests), "\n")
	var out strings.Builder
	inManagerRBAC, skipping := false, false
	for _, line := range lines {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case trimmed == "---":
			inManagerRBAC, skipping = false, false
		case strings.HasPrefix(trimmed, "# Source: "):
			inManagerRBAC = strings.HasSuffix(trimmed, "/"+managerRBAC)
		}
		if skipping {
			if strings.HasPrefix(trimmed, " ") || strings.HasPrefix(trimmed, "-") {
				continue
			}
			skipping = false
		}
		if inManagerRBAC && trimmed == "rules:" {
			out.WriteString(rulesPending + "\n")
			skipping = true
			continue
		}
		out.WriteString(line)
	}
	return []byte(out.String())
}

// TestGolden compares helm template's output for each value set with
// testdata/<name>.yaml. Run `go test ./test/chart -update` to accept a
// change, and review the diff of testdata/.
func TestGolden(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			got := elideManagerRules(mustRender(t, vs.values))
			if !bytes.Contains(got, []byte(rulesPending)) {
				t.Fatalf("no rules of the manager's roles found to elide in the output of %s", managerRBAC)
			}
			golden := filepath.Join("testdata", vs.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./test/chart -update` to create it)", err)
			}
			if diff := firstDifference(want, got); diff != "" {
				t.Errorf("helm template differs from %s; if the change is intended, run `go test ./test/chart -update` and review the diff:\n%s", golden, diff)
			}
		})
	}
}

// firstDifference describes the first line where got differs from want, or
// returns "" when they are equal.
func firstDifference(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	line := func(lines []string, i int) string {
		if i < len(lines) {
			return lines[i]
		}
		return "<end of file>"
	}
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	from := max(0, i-3)
	return fmt.Sprintf("first difference at line %d, after:\n%s\n  want: %q\n  got:  %q",
		i+1, strings.Join(g[from:min(i, len(g))], "\n"), line(w, i), line(g, i))
}

// rbacRules returns every rule of every Role and ClusterRole, keyed by the
// object that holds it.
func rbacRules(t *testing.T, objects []object) map[string][]rbacv1.PolicyRule {
	t.Helper()
	rules := map[string][]rbacv1.PolicyRule{}
	for _, o := range objects {
		switch o.Kind {
		case "Role":
			var r rbacv1.Role
			o.decode(t, &r)
			rules[o.String()] = r.Rules
		case "ClusterRole":
			var r rbacv1.ClusterRole
			o.decode(t, &r)
			if r.AggregationRule != nil {
				t.Errorf("%s aggregates other roles; its rules would not be fixed by the chart", o)
			}
			rules[o.String()] = r.Rules
		}
	}
	return rules
}

// TestNoWildcardsInRBAC checks that no role of the chart grants "*" in any
// field, for every value set.
func TestNoWildcardsInRBAC(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			all := rbacRules(t, parse(t, mustRender(t, vs.values)))
			if len(all) == 0 {
				t.Fatal("no Role or ClusterRole rendered")
			}
			for holder, rules := range all {
				for i, r := range rules {
					fields := map[string][]string{
						"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
						"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
					}
					for field, values := range fields {
						for _, v := range values {
							if strings.Contains(v, "*") {
								t.Errorf("%s rule %d: %s has a wildcard %q", holder, i, field, v)
							}
						}
					}
					if len(r.Verbs) == 0 {
						t.Errorf("%s rule %d grants no verb", holder, i)
					}
				}
			}
		})
	}
}

// generatedManagerRules reads the rules of the ClusterRole manager-role that
// controller-gen generates from the +kubebuilder:rbac markers.
func generatedManagerRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "config/rbac/role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range parse(t, data) {
		if o.Kind == "ClusterRole" && o.Metadata.Name == "manager-role" {
			var r rbacv1.ClusterRole
			o.decode(t, &r)
			if len(r.Rules) == 0 {
				t.Fatal("config/rbac/role.yaml: the ClusterRole manager-role has no rules")
			}
			return r.Rules
		}
	}
	t.Fatal("config/rbac/role.yaml holds no ClusterRole manager-role")
	return nil
}

// TestManagerRulesMatchGeneratedRole checks that the operator is granted
// exactly the generated rules: by a ClusterRole bound cluster-wide by
// default, by a Role bound in each watched namespace (and nothing
// cluster-wide) when watchNamespaces is set.
func TestManagerRulesMatchGeneratedRole(t *testing.T) {
	want := generatedManagerRules(t)
	const syncHint = "run `make manifests`, which copies them into charts/queueworker-operator/files/manager-rules.yaml"

	t.Run("all namespaces", func(t *testing.T) {
		objects := parse(t, mustRender(t, ""))
		var role rbacv1.ClusterRole
		one(t, objects, "ClusterRole", "", managerRole).decode(t, &role)
		if !reflect.DeepEqual(role.Rules, want) {
			t.Errorf("the chart's manager ClusterRole rules differ from config/rbac/role.yaml; %s\n got: %+v\nwant: %+v", syncHint, role.Rules, want)
		}
		var binding rbacv1.ClusterRoleBinding
		one(t, objects, "ClusterRoleBinding", "", release+"-manager-rolebinding").decode(t, &binding)
		checkBinding(t, binding.RoleRef, binding.Subjects, "ClusterRole")
		if n := len(find(objects, "Role")); n != 1 {
			t.Errorf("want only the leader-election Role, found %d Roles", n)
		}
	})

	t.Run("watched namespaces", func(t *testing.T) {
		objects := parse(t, mustRender(t, "watchNamespaces: [team-a, team-b]"))
		for _, ns := range []string{"team-a", "team-b"} {
			var role rbacv1.Role
			one(t, objects, "Role", ns, managerRole).decode(t, &role)
			if !reflect.DeepEqual(role.Rules, want) {
				t.Errorf("the chart's manager Role in %s differs from config/rbac/role.yaml; %s\n got: %+v\nwant: %+v", ns, syncHint, role.Rules, want)
			}
			var binding rbacv1.RoleBinding
			one(t, objects, "RoleBinding", ns, release+"-manager-rolebinding").decode(t, &binding)
			checkBinding(t, binding.RoleRef, binding.Subjects, "Role")
		}
		for _, o := range find(objects, "ClusterRole") {
			if o.Metadata.Name == managerRole {
				t.Errorf("%s is rendered although the operator watches only some namespaces", o)
			}
		}
		for _, o := range find(objects, "ClusterRoleBinding") {
			var b rbacv1.ClusterRoleBinding
			o.decode(t, &b)
			if b.RoleRef.Name != release+"-metrics-auth-role" {
				t.Errorf("%s binds %s cluster-wide; with watchNamespaces only the metrics authentication role may be", o, b.RoleRef.Name)
			}
		}
		for _, o := range find(objects, "Role") {
			if o.Metadata.Namespace != "team-a" && o.Metadata.Namespace != "team-b" &&
				o.Metadata.Name != release+"-leader-election-role" {
				t.Errorf("unexpected %s", o)
			}
		}
	})
}

// checkBinding checks that a binding grants the manager role of kind to the
// operator's ServiceAccount and to nothing else.
func checkBinding(t *testing.T, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind string) {
	t.Helper()
	wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: managerRole}
	if ref != wantRef {
		t.Errorf("roleRef = %+v, want %+v", ref, wantRef)
	}
	wantSubjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAcct, Namespace: namespace}}
	if !reflect.DeepEqual(subjects, wantSubjects) {
		t.Errorf("subjects = %+v, want %+v", subjects, wantSubjects)
	}
}

// TestLeaderElectionRBAC checks that leader election is granted only in the
// release namespace, on Leases and core Events.
func TestLeaderElectionRBAC(t *testing.T) {
	objects := parse(t, mustRender(t, "watchNamespaces: [team-a]"))
	var role rbacv1.Role
	one(t, objects, "Role", namespace, release+"-leader-election-role").decode(t, &role)
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("leader-election rules = %+v, want %+v", role.Rules, want)
	}
	var binding rbacv1.RoleBinding
	one(t, objects, "RoleBinding", namespace, release+"-leader-election-rolebinding").decode(t, &binding)
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 || binding.Subjects[0].Name != serviceAcct {
		t.Errorf("leader-election binding = %+v %+v", binding.RoleRef, binding.Subjects)
	}
}

// managerContainer returns the operator Deployment and its manager container.
func managerContainer(t *testing.T, objects []object) (appsv1.Deployment, corev1.Container) {
	t.Helper()
	var d appsv1.Deployment
	one(t, objects, "Deployment", namespace, deployment).decode(t, &d)
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return d, c
		}
	}
	t.Fatalf("Deployment %s has no container named manager", d.Name)
	return d, corev1.Container{}
}

// checkRestricted checks that the pod and its container c meet the
// restricted Pod Security Standard with a read-only root filesystem.
func checkRestricted(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot and the RuntimeDefault seccomp profile", psc)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatalf("the %s container has no securityContext", c.Name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("the container is privileged")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities = %+v, want drop [ALL] and none added", sc.Capabilities)
	}
}

// TestDeploymentIsRestricted checks, for every value set, that the operator
// pod meets the restricted Pod Security Standard, elects a leader, probes
// its health endpoints and serves metrics only over authenticated HTTPS.
func TestDeploymentIsRestricted(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			d, c := managerContainer(t, parse(t, mustRender(t, vs.values)))
			pod := d.Spec.Template.Spec
			checkRestricted(t, pod, c)
			for _, arg := range []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure"} {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("args %q lack %s", c.Args, arg)
				}
			}
			if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--leader-elect=") }) {
				t.Errorf("args %q override --leader-elect", c.Args)
			}
			for name, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.String() != "health" {
					t.Errorf("probe of %s = %+v", name, probe)
				}
			}
			if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "health" && p.ContainerPort == 8081 }) {
				t.Errorf("ports %+v lack health 8081", c.Ports)
			}
			if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
				t.Errorf("resources = %+v, want a memory limit and a CPU request", c.Resources)
			}
			if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != 10 {
				t.Errorf("terminationGracePeriodSeconds = %v, want 10", pod.TerminationGracePeriodSeconds)
			}
			if pod.ServiceAccountName != serviceAcct {
				t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, serviceAcct)
			}
		})
	}
}

// TestDeploymentValues checks how values reach the Deployment.
func TestDeploymentValues(t *testing.T) {
	tests := []struct {
		name      string
		values    string
		wantImage string
		wantArgs  []string
		noArgs    []string
	}{
		{
			name:      "defaults",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--allowed-redis-images=redis,oliver006/redis_exporter"},
			noArgs:    []string{"--watch-namespaces", "--secret-resync-period", "--metrics-cert-path", "--allow-passwordless-external-redis"},
		},
		{
			name:      "allowed Redis images",
			values:    "{allowedRedisImages: [registry.example.com/redis:7.4, registry.example.com/mirror/*], allowPasswordlessExternalRedis: true}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--allowed-redis-images=registry.example.com/redis:7.4,registry.example.com/mirror/*", "--allow-passwordless-external-redis"},
		},
		{
			name:      "no Managed Redis at all",
			values:    "allowedRedisImages: []",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--allowed-redis-images="},
		},
		{
			name:      "watched namespaces",
			values:    "watchNamespaces: [team-a, team-b]",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--watch-namespaces=team-a,team-b"},
		},
		{
			name:      "image, resync, logging and extra args",
			values:    "{image: {repository: reg.example.com/qw, tag: v2}, secretResyncPeriod: 5m, logging: {level: debug}, extraArgs: [--enable-http2=false]}",
			wantImage: "reg.example.com/qw:v2",
			wantArgs:  []string{"--secret-resync-period=5m", "--zap-log-level=debug", "--enable-http2=false"},
		},
		{
			name:      "metrics certificate",
			values:    "metrics: {certSecretName: metrics-server-cert}",
			wantImage: "queueworker-operator:0.1.0",
			wantArgs:  []string{"--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := managerContainer(t, parse(t, mustRender(t, tt.values)))
			if c.Image != tt.wantImage {
				t.Errorf("image = %q, want %q", c.Image, tt.wantImage)
			}
			for _, arg := range tt.wantArgs {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("args %q lack %s", c.Args, arg)
				}
			}
			for _, prefix := range tt.noArgs {
				if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
					t.Errorf("args %q hold %s", c.Args, prefix)
				}
			}
			certMounted := slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
				return v.Secret != nil && v.Secret.SecretName == "metrics-server-cert"
			})
			if wantCert := strings.Contains(tt.values, "certSecretName"); certMounted != wantCert {
				t.Errorf("metrics certificate Secret mounted = %v, want %v", certMounted, wantCert)
			}
		})
	}
}

// TestMetricsDisabled checks that metrics.enabled=false turns the endpoint
// off and leaves out everything that serves or guards it.
func TestMetricsDisabled(t *testing.T) {
	objects := parse(t, mustRender(t, "metrics: {enabled: false}"))
	_, c := managerContainer(t, objects)
	if !slices.Contains(c.Args, "--metrics-bind-address=0") {
		t.Errorf("args %q do not turn the metrics endpoint off", c.Args)
	}
	if n := len(find(objects, "Service")); n != 0 {
		t.Errorf("%d Services rendered, want none", n)
	}
	for _, o := range find(objects, "ClusterRole") {
		if strings.Contains(o.Metadata.Name, "metrics") {
			t.Errorf("%s rendered without metrics", o)
		}
	}
}

// TestMetricsServiceSelectsTheOperator checks that the metrics Service
// reaches the operator pods on the named metrics port, and that the
// ServiceMonitor scrapes that Service over HTTPS with a bearer token.
func TestMetricsServiceSelectsTheOperator(t *testing.T) {
	objects := parse(t, mustRender(t, "metrics: {serviceMonitor: {enabled: true}}"))
	d, _ := managerContainer(t, objects)
	var svc corev1.Service
	one(t, objects, "Service", namespace, release+"-controller-manager-metrics-service").decode(t, &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the operator pods lack", k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "https" || svc.Spec.Ports[0].Port != 8443 ||
		svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("Service ports = %+v, want https 8443 -> metrics", svc.Spec.Ports)
	}

	var monitor struct {
		Spec struct {
			Endpoints []struct {
				Port            string         `json:"port"`
				Scheme          string         `json:"scheme"`
				BearerTokenFile string         `json:"bearerTokenFile"`
				HonorLabels     bool           `json:"honorLabels"`
				TLSConfig       map[string]any `json:"tlsConfig"`
			} `json:"endpoints"`
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(one(t, objects, "ServiceMonitor", namespace, release+"-controller-manager-metrics-monitor").raw, &monitor); err != nil {
		t.Fatal(err)
	}
	if len(monitor.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints = %+v, want one", monitor.Spec.Endpoints)
	}
	ep := monitor.Spec.Endpoints[0]
	if !ep.HonorLabels {
		t.Error("the ServiceMonitor does not honor the operator's labels: Prometheus would move the QueueWorkers' namespace label to exported_namespace")
	}
	if ep.Port != "https" || ep.Scheme != "https" || ep.BearerTokenFile == "" || ep.TLSConfig["insecureSkipVerify"] != true {
		t.Errorf("ServiceMonitor endpoint = %+v, want https with a bearer token, skipping verification of the self-signed certificate", ep)
	}
	for k, v := range monitor.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the metrics Service lacks", k, v)
		}
	}
}

// TestDashboardAndAlertsAreOptional checks that the Grafana dashboard and
// the PrometheusRule are rendered only when asked for, where asked for,
// with the labels Grafana's sidecar and Prometheus select them by. What
// they hold is tested in test/alerts, with Prometheus' own code.
func TestDashboardAndAlertsAreOptional(t *testing.T) {
	defaults := parse(t, mustRender(t, ""))
	if n := len(find(defaults, "ConfigMap")) + len(find(defaults, "PrometheusRule")); n != 0 {
		t.Errorf("the defaults render %d dashboard ConfigMaps and PrometheusRules, want none", n)
	}

	objects := parse(t, mustRender(t, `
grafanaDashboard:
  enabled: true
  namespace: monitoring
  label: {key: dashboards, value: queueworker}
  labels: {team: platform}
prometheusRule:
  enabled: true
  labels: {release: kube-prometheus-stack}
`))
	dashboard := one(t, objects, "ConfigMap", "monitoring", release+"-grafana-dashboard")
	for k, v := range map[string]string{"dashboards": "queueworker", "team": "platform"} {
		if got := dashboard.Metadata.Labels[k]; got != v {
			t.Errorf("%s: label %s = %q, want %q", dashboard, k, got, v)
		}
	}
	if _, ok := dashboard.Metadata.Labels["grafana_dashboard"]; ok {
		t.Errorf("%s keeps the default label grafana_dashboard although grafanaDashboard.label replaces it", dashboard)
	}
	var cm corev1.ConfigMap
	dashboard.decode(t, &cm)
	shipped, err := os.ReadFile(filepath.Join(chartDir, "files/grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["queueworker-operator.json"]; got != strings.TrimRight(string(shipped), "\n") {
		t.Errorf("%s does not hold files/grafana-dashboard.json as it is", dashboard)
	}

	rule := one(t, objects, "PrometheusRule", namespace, release+"-alerts")
	if got := rule.Metadata.Labels["release"]; got != "kube-prometheus-stack" {
		t.Errorf("%s: label release = %q, want kube-prometheus-stack", rule, got)
	}
}

// TestObjectsCarryStandardLabels checks the standard labels on every object.
func TestObjectsCarryStandardLabels(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			for _, o := range parse(t, mustRender(t, vs.values)) {
				// The dashboard's pods must not match the operator's
				// selectors, so its objects carry a name of their own.
				name := "queueworker-operator"
				if o.Metadata.Labels["app.kubernetes.io/component"] == "dashboard" {
					name = "queueworker-operator-dashboard"
				}
				want := map[string]string{
					"app.kubernetes.io/name":       name,
					"app.kubernetes.io/instance":   release,
					"app.kubernetes.io/version":    "0.1.0",
					"app.kubernetes.io/managed-by": "Helm",
					"helm.sh/chart":                "queueworker-operator-0.1.0",
				}
				for k, v := range want {
					if got := o.Metadata.Labels[k]; got != v {
						t.Errorf("%s: label %s = %q, want %q", o, k, got, v)
					}
				}
			}
		})
	}
}

// TestChartCRDsMatchGenerated checks that the chart ships the CRDs that
// controller-gen generated, byte for byte.
func TestChartCRDsMatchGenerated(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join(repoRoot, "config/crd/bases/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := filepath.Glob(filepath.Join(chartDir, "crds/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		n := make([]string, 0, len(paths))
		for _, p := range paths {
			n = append(n, filepath.Base(p))
		}
		return n
	}
	if len(generated) == 0 || !slices.Equal(names(generated), names(shipped)) {
		t.Fatalf("the chart's crds/ holds %v, config/crd/bases holds %v; run `make manifests`", names(shipped), names(generated))
	}
	for i := range generated {
		g, err := os.ReadFile(generated[i])
		if err != nil {
			t.Fatal(err)
		}
		s, err := os.ReadFile(shipped[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g, s) {
			t.Errorf("crds/%s differs from config/crd/bases; run `make manifests`", filepath.Base(shipped[i]))
		}
	}
}

// TestLint runs helm lint --strict with every value set.
func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			if _, err := helm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--values", valuesFile(t, vs.values)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestInvalidValuesAreRejected checks that values the operator could not
// run with fail the rendering with a message that names the problem.
func TestInvalidValuesAreRejected(t *testing.T) {
	tests := []struct {
		name, values, wantErr string
	}{
		{"namespaces as one string", `watchNamespaces: "team-a,team-b"`, "watchNamespaces"},
		{"namespace not a DNS label", `watchNamespaces: [Team_A]`, "watchNamespaces"},
		{"unknown key", `replicas: 2`, "replicas"},
		{"zero replicas", `replicaCount: 0`, "replicaCount"},
		{"bad log level", `logging: {level: verbose}`, "/logging/level"},
		{"bad resync period", `secretResyncPeriod: "1 minute"`, "/secretResyncPeriod"},
		{"image list with a comma", `allowedRedisImages: ["redis:7,redis:8"]`, "/allowedRedisImages"},
		{"passwordless as a string", `allowPasswordlessExternalRedis: "yes"`, "/allowPasswordlessExternalRedis"},
		{"empty image repository", `image: {repository: ""}`, "/image/repository"},
		{"metrics on the probe port", `metrics: {port: 8081}`, "metrics.port must not be 8081"},
		{"monitor without metrics", `metrics: {enabled: false, serviceMonitor: {enabled: true}}`, "metrics.serviceMonitor.enabled needs metrics.enabled"},
		{"existing service account unnamed", `serviceAccount: {create: false}`, "serviceAccount.name must name an existing ServiceAccount"},
		{"alerts without metrics", `{metrics: {enabled: false}, prometheusRule: {enabled: true}}`, "prometheusRule.enabled needs metrics.enabled"},
		{"alerts all turned off", `prometheusRule: {enabled: true, alerts: {queueLatencyHigh: {enabled: false}, atMaxReplicas: {enabled: false}, tasksOrphaned: {enabled: false}, redisReadErrors: {enabled: false}, redisDown: {enabled: false}, redisMemoryHigh: {enabled: false}, redisClientsNearMax: {enabled: false}}}`, "every alert of prometheusRule.alerts disabled"},
		{"dashboard label without a key", `grafanaDashboard: {enabled: true, label: {key: ""}}`, "/grafanaDashboard/label/key"},
		{"alert duration as a Go duration", `prometheusRule: {enabled: true, alerts: {redisDown: {for: 1m30.5s}}}`, "/prometheusRule/alerts/redisDown/for"},
		{"dashboard without Redis", `dashboard: {enabled: true}`, "dashboard.redis.addr must be set"},
		{"dashboard Redis without port", `dashboard: {enabled: true, redis: {addr: redis.queues.svc}}`, "/dashboard/redis/addr"},
		{"dashboard password as a value", `dashboard: {enabled: true, redis: {addr: "r:6379", password: hunter2}}`, "password"},
		{"dashboard read-only as a string", `dashboard: {readOnly: "no"}`, "/dashboard/readOnly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.values)
			if err == nil {
				t.Fatalf("values %s rendered, want an error about %s", tt.values, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}
