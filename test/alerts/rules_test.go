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

package alerts_test

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"
)

// enabled turns the PrometheusRule on; the chart's defaults do the rest.
const enabled = "prometheusRule:\n  enabled: true\n"

// evalInterval is how often the tests evaluate the rules, Prometheus'
// default evaluation interval.
const evalInterval = time.Minute

// promQL parses PromQL as Prometheus does by default.
var promQL = parser.NewParser(parser.Options{})

// ruleGroups renders the chart with values and returns its PrometheusRule's
// groups, parsed and validated as Prometheus loads a rule file: names,
// durations, label names, every PromQL expression and every annotation
// template.
func ruleGroups(t *testing.T, values string) *rulefmt.RuleGroups {
	t.Helper()
	rule := onlyObject(t, render(t, values), "PrometheusRule")
	file, err := yaml.Marshal(map[string]*yaml.Node{"groups": &rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(file, false, model.UTF8Validation, promQL, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("Prometheus refuses the rules of %s: %v\n%s", rule.Metadata.Name, joinErrors(errs), file)
	}
	return groups
}

// joinErrors lists errs one a line.
func joinErrors(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&b, "\n  %v", err)
	}
	return b.String()
}

// alertingRules turns the groups' alerts into Prometheus' alerting rules.
func alertingRules(t *testing.T, groups *rulefmt.RuleGroups) []*rules.AlertingRule {
	t.Helper()
	var out []*rules.AlertingRule
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: recording rule %s; the chart has alerts only", g.Name, r.Record)
				continue
			}
			expr, err := promQL.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			out = append(out, rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
				labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true,
				slog.New(slog.DiscardHandler)))
		}
	}
	return out
}

// firing is an alert that fires: its name, its severity and the labels of
// the series it fired for, as "name=value" pairs (sorted), so that cases
// can list what they expect in one line.
type firing struct {
	alert, severity, series string
}

func (f firing) String() string { return fmt.Sprintf("%s/%s{%s}", f.alert, f.severity, f.series) }

// evaluate loads series (promqltest's load syntax, one sample a minute from
// time 0), evaluates every rule once a minute from time 0 to at, as
// Prometheus would, and returns the alerts that fire at at. It fails the
// test on an annotation that does not expand.
func evaluate(t *testing.T, alerting []*rules.AlertingRule, series string, at time.Duration) []firing {
	t.Helper()
	storage := promqltest.LoadedStorage(t, "load 1m\n"+series)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	query := rules.EngineQueryFunc(engine, storage)
	start := time.Unix(0, 0).UTC()
	var fired []firing
	for _, r := range alerting {
		for ts := time.Duration(0); ts <= at; ts += evalInterval {
			if _, err := r.Eval(t.Context(), 0, start.Add(ts), query, nil, 0); err != nil {
				t.Fatalf("evaluating %s at %v: %v", r.Name(), ts, err)
			}
		}
		for _, a := range r.ActiveAlerts() {
			if a.State != rules.StateFiring {
				continue
			}
			a.Annotations.Range(func(l labels.Label) {
				if strings.Contains(l.Value, "<error expanding template") || strings.Contains(l.Value, "<no value>") {
					t.Errorf("%s: annotation %s does not expand: %s", r.Name(), l.Name, l.Value)
				}
			})
			var pairs []string
			a.Labels.Range(func(l labels.Label) {
				switch l.Name {
				case labels.AlertName, "severity":
				default:
					pairs = append(pairs, l.Name+"="+l.Value)
				}
			})
			fired = append(fired, firing{alert: r.Name(), severity: a.Labels.Get("severity"), series: strings.Join(pairs, ",")})
		}
	}
	slices.SortFunc(fired, func(a, b firing) int { return strings.Compare(a.String(), b.String()) })
	return fired
}

// Series of the operator for a QueueWorker shop/email and its queue
// critical, and of a redis_exporter, in promqltest's load syntax.
const (
	qwLabels    = `namespace="shop",queueworker="email"`
	queueLabels = `namespace="shop",queueworker="email",queue="critical"`
	redisLabels = `namespace="shop",instance="10.0.0.7:9121",job="email-redis"`

	qwSeries    = "namespace=shop,queueworker=email"
	queueSeries = "namespace=shop,queue=critical,queueworker=email"
	redisSeries = "instance=10.0.0.7:9121,job=email-redis,namespace=shop"
)

// TestAlertsFireAndStayQuiet evaluates each alert of the chart, with its
// default thresholds unless a case sets values, on series that must fire
// it and on series that must not; every case lists all the alerts that
// fire, so a case also checks that no other alert does.
func TestAlertsFireAndStayQuiet(t *testing.T) {
	tests := []struct {
		name   string
		values string // chart values after enabled
		series string
		at     time.Duration
		want   []firing
	}{
		{
			name: "latency above 300s for 10m",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+60x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at:   20 * time.Minute,
			want: []firing{{"QueueWorkerQueueLatencyHigh", "warning", queueSeries}},
		},
		{
			name: "latency above 300s, not yet for 10m",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+60x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			// Above 300 from 6m on: still pending at 15m.
			at: 15 * time.Minute,
		},
		{
			name: "latency of a paused queue",
			// The operator reports a paused queue's backlog as 0.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+60x30
queueworker_queue_backlog{` + queueLabels + `} 0x30`,
			at: 20 * time.Minute,
		},
		{
			name: "latency under the default threshold",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 200x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at: 30 * time.Minute,
		},
		{
			name:   "latency above a threshold set in values",
			values: "  alerts: {queueLatencyHigh: {thresholdSeconds: 120, for: 5m}}\n",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 200x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at:   10 * time.Minute,
			want: []firing{{"QueueWorkerQueueLatencyHigh", "warning", queueSeries}},
		},
		{
			name: "latency above the QueueWorker's own target",
			// 60s target: above it from 2m on, firing after 10m.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+30x30
queueworker_target_latency_seconds{` + qwLabels + `} 60x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at:   13 * time.Minute,
			want: []firing{{"QueueWorkerQueueLatencyHigh", "warning", queueSeries}},
		},
		{
			name: "latency under the QueueWorker's own target, above the threshold",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 400x30
queueworker_target_latency_seconds{` + qwLabels + `} 600x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at: 25 * time.Minute,
		},
		{
			name: "another QueueWorker's target does not apply",
			// The target belongs to "other": this QueueWorker's 200s stay
			// under the 300s threshold.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 200x30
queueworker_target_latency_seconds{namespace="shop", queueworker="other"} 60x30
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at: 25 * time.Minute,
		},
		{
			name: "latency of a paused queue above the QueueWorker's own target",
			// The paused queue's backlog is 0: its own target does not fire
			// the alert any more than the threshold does.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+60x30
queueworker_target_latency_seconds{` + qwLabels + `} 60x30
queueworker_queue_backlog{` + queueLabels + `} 0x30`,
			at: 20 * time.Minute,
		},
		{
			name: "target removed while the alert is pending, latency above the threshold",
			// Above the 60s target from 2m, the target gone at 6m: above the
			// 300s threshold from 6m on, the alert stays pending and fires
			// 10m after 2m.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 0+60x30
queueworker_target_latency_seconds{` + qwLabels + `} 60x5
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at:   13 * time.Minute,
			want: []firing{{"QueueWorkerQueueLatencyHigh", "warning", queueSeries}},
		},
		{
			name: "target removed while the alert is pending, latency under the threshold",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `} 200x30
queueworker_target_latency_seconds{` + qwLabels + `} 60x5
queueworker_queue_backlog{` + queueLabels + `} 10x30`,
			at: 25 * time.Minute,
		},
		{
			name:   "operator selector excludes another job's target",
			values: "  operatorSelector: 'job=\"qw-operator\"'\n",
			// A target of another job does not lower this QueueWorker's
			// threshold.
			series: `queueworker_queue_latency_seconds{` + queueLabels + `,job="qw-operator"} 200x30
queueworker_target_latency_seconds{` + qwLabels + `,job="other"} 60x30
queueworker_queue_backlog{` + queueLabels + `,job="qw-operator"} 10x30`,
			at: 25 * time.Minute,
		},
		{
			name: "two operator replicas exporting the same target",
			series: `queueworker_queue_latency_seconds{` + queueLabels + `,pod="a"} 0+30x30
queueworker_queue_latency_seconds{` + queueLabels + `,pod="b"} 0+30x30
queueworker_target_latency_seconds{` + qwLabels + `,pod="a"} 60x30
queueworker_target_latency_seconds{` + qwLabels + `,pod="b"} 60x30
queueworker_queue_backlog{` + queueLabels + `,pod="a"} 10x30
queueworker_queue_backlog{` + queueLabels + `,pod="b"} 10x30`,
			at:   13 * time.Minute,
			want: []firing{{"QueueWorkerQueueLatencyHigh", "warning", queueSeries}},
		},
		{
			name: "at maxReplicas with a growing backlog",
			series: `queueworker_desired_replicas{` + qwLabels + `} 5x40
queueworker_max_replicas{` + qwLabels + `} 5x40
queueworker_queue_backlog{` + queueLabels + `} 100+10x40`,
			at:   30 * time.Minute,
			want: []firing{{"QueueWorkerAtMaxReplicas", "warning", qwSeries}},
		},
		{
			name: "at maxReplicas with a shrinking backlog",
			series: `queueworker_desired_replicas{` + qwLabels + `} 5x40
queueworker_max_replicas{` + qwLabels + `} 5x40
queueworker_queue_backlog{` + queueLabels + `} 500-10x40`,
			at: 30 * time.Minute,
		},
		{
			name: "below maxReplicas with a growing backlog",
			series: `queueworker_desired_replicas{` + qwLabels + `} 3x40
queueworker_max_replicas{` + qwLabels + `} 5x40
queueworker_queue_backlog{` + queueLabels + `} 100+10x40`,
			at: 30 * time.Minute,
		},
		{
			name:   "orphaned tasks for 20m",
			series: `queueworker_queue_orphaned{` + queueLabels + `} 2x20`,
			at:     20 * time.Minute,
			want:   []firing{{"QueueWorkerTasksOrphaned", "warning", queueSeries}},
		},
		{
			name:   "orphaned tasks recovered after 5m",
			series: `queueworker_queue_orphaned{` + queueLabels + `} 2x5 0x15`,
			at:     20 * time.Minute,
		},
		{
			name:   "Redis reads failing",
			series: `queueworker_redis_read_errors_total{` + qwLabels + `} 0+4x20`,
			at:     15 * time.Minute,
			want:   []firing{{"QueueWorkerRedisReadErrors", "critical", qwSeries}},
		},
		{
			name:   "Redis read errors long past",
			series: `queueworker_redis_read_errors_total{` + qwLabels + `} 0+4x5 20x15`,
			at:     20 * time.Minute,
		},
		{
			name:   "redis_exporter cannot reach Redis",
			series: `redis_up{` + redisLabels + `} 1x5 0x10`,
			at:     10 * time.Minute,
			want:   []firing{{"QueueWorkerRedisDown", "critical", redisSeries}},
		},
		{
			name:   "Redis up",
			series: `redis_up{` + redisLabels + `} 1x15`,
			at:     15 * time.Minute,
		},
		{
			name: "memory at 85% of maxmemory",
			series: `redis_memory_used_bytes{` + redisLabels + `} 850x10
redis_memory_max_bytes{` + redisLabels + `} 1000x10`,
			at:   10 * time.Minute,
			want: []firing{{"QueueWorkerRedisMemoryHigh", "warning", redisSeries}},
		},
		{
			name: "memory at 95% of maxmemory",
			series: `redis_memory_used_bytes{` + redisLabels + `} 950x10
redis_memory_max_bytes{` + redisLabels + `} 1000x10`,
			at: 10 * time.Minute,
			want: []firing{
				{"QueueWorkerRedisMemoryHigh", "critical", redisSeries},
				{"QueueWorkerRedisMemoryHigh", "warning", redisSeries},
			},
		},
		{
			name: "memory at 50% of maxmemory",
			series: `redis_memory_used_bytes{` + redisLabels + `} 500x10
redis_memory_max_bytes{` + redisLabels + `} 1000x10`,
			at: 10 * time.Minute,
		},
		{
			name: "memory of a Redis without maxmemory",
			series: `redis_memory_used_bytes{` + redisLabels + `} 1e9x10
redis_memory_max_bytes{` + redisLabels + `} 0x10`,
			at: 10 * time.Minute,
		},
		{
			name: "clients at 95% of maxclients",
			series: `redis_connected_clients{` + redisLabels + `} 9500x10
redis_config_maxclients{` + redisLabels + `} 10000x10`,
			at:   10 * time.Minute,
			want: []firing{{"QueueWorkerRedisClientsNearMax", "warning", redisSeries}},
		},
		{
			name: "clients at half of maxclients",
			series: `redis_connected_clients{` + redisLabels + `} 5000x10
redis_config_maxclients{` + redisLabels + `} 10000x10`,
			at: 10 * time.Minute,
		},
		{
			name: "clients of a Redis whose maxclients is unknown",
			series: `redis_connected_clients{` + redisLabels + `} 5000x10
redis_config_maxclients{` + redisLabels + `} 0x10`,
			at: 10 * time.Minute,
		},
		{
			name:   "severity and alert labels from values",
			values: "  alertLabels: {team: platform}\n  alerts: {redisDown: {severity: page}}\n",
			series: `redis_up{` + redisLabels + `} 0x10`,
			at:     10 * time.Minute,
			want:   []firing{{"QueueWorkerRedisDown", "page", redisSeries + ",team=platform"}},
		},
		{
			name:   "an alert turned off",
			values: "  alerts: {redisDown: {enabled: false}}\n",
			series: `redis_up{` + redisLabels + `} 0x10`,
			at:     10 * time.Minute,
		},
		{
			name:   "operator selector excludes other series",
			values: "  operatorSelector: 'job=\"qw-operator\"'\n",
			series: `queueworker_queue_orphaned{` + queueLabels + `,job="other"} 2x20`,
			at:     20 * time.Minute,
		},
		{
			name:   "operator selector keeps its series",
			values: "  operatorSelector: 'job=\"qw-operator\"'\n",
			series: `queueworker_queue_orphaned{` + queueLabels + `,job="qw-operator"} 2x20`,
			at:     20 * time.Minute,
			// max by (namespace, queueworker, queue) keeps only those labels.
			want: []firing{{"QueueWorkerTasksOrphaned", "warning", queueSeries}},
		},
		{
			name:   "Redis selector excludes other series",
			values: "  redisSelector: 'container=\"exporter\"'\n",
			series: `redis_up{` + redisLabels + `,container="redis-exporter"} 0x10`,
			at:     10 * time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerting := alertingRules(t, ruleGroups(t, enabled+tt.values))
			got := evaluate(t, alerting, tt.series, tt.at)
			if !slices.Equal(got, tt.want) {
				t.Errorf("at %v firing %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// TestEveryAlertHasARunbook checks that every alert has a severity, a
// summary, a description and a runbook_url pointing at its section of
// docs/monitoring.md, and that the operator's and Redis' series the rules
// read carry the selectors of the values.
func TestEveryAlertHasARunbook(t *testing.T) {
	groups := ruleGroups(t, enabled+`  operatorSelector: 'job="qw-operator"'
  redisSelector: 'container="exporter"'
`)
	doc := readMonitoringDoc(t)
	names := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			names[r.Alert] = true
			if r.Labels["severity"] == "" {
				t.Errorf("%s has no severity", r.Alert)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s has no %s", r.Alert, a)
				}
			}
			if want := "docs/monitoring.md#" + strings.ToLower(r.Alert); !strings.HasSuffix(r.Annotations["runbook_url"], want) {
				t.Errorf("%s: runbook_url %q does not end in %s", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !strings.Contains(doc, "\n### "+r.Alert+"\n") {
				t.Errorf("docs/monitoring.md has no section ### %s", r.Alert)
			}
			if time.Duration(r.For) == 0 {
				t.Errorf("%s fires at once (no for); every alert of the chart waits", r.Alert)
			}
			checkSelectors(t, r.Alert, r.Expr, map[string]string{"queueworker_": `job="qw-operator"`, "redis_": `container="exporter"`})
		}
	}
	want := []string{"QueueWorkerAtMaxReplicas", "QueueWorkerQueueLatencyHigh", "QueueWorkerRedisClientsNearMax",
		"QueueWorkerRedisDown", "QueueWorkerRedisMemoryHigh", "QueueWorkerRedisReadErrors", "QueueWorkerTasksOrphaned"}
	if got := slices.Sorted(maps.Keys(names)); !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

// checkSelectors checks that every series expr selects whose name has one
// of the prefixes carries that prefix's matcher.
func checkSelectors(t *testing.T, name, expr string, matchers map[string]string) {
	t.Helper()
	parsed, err := promQL.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	n := 0
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		n++
		for prefix, want := range matchers {
			if !strings.HasPrefix(vs.Name, prefix) {
				continue
			}
			if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.String() == want }) {
				t.Errorf("%s: %s lacks %s", name, vs, want)
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("%s: %q selects no series", name, expr)
	}
}

// TestInvalidRuleValues checks that values Prometheus could not load fail
// the rendering with a message that names them.
func TestInvalidRuleValues(t *testing.T) {
	tests := []struct{ name, values, wantErr string }{
		{"duration without a unit", "  alerts: {tasksOrphaned: {for: \"15\"}}\n", "/prometheusRule/alerts/tasksOrphaned/for"},
		{"Go duration", "  alerts: {redisDown: {for: 1m30.5s}}\n", "/prometheusRule/alerts/redisDown/for"},
		{"ratio above 1", "  alerts: {redisClientsNearMax: {ratio: 90}}\n", "/prometheusRule/alerts/redisClientsNearMax/ratio"},
		{"warning above critical", "  alerts: {redisMemoryHigh: {warningRatio: 0.95}}\n", "warningRatio must be below criticalRatio"},
		{"selector with braces", "  redisSelector: '{job=\"x\"}'\n", "/prometheusRule/redisSelector"},
		{"unknown alert", "  alerts: {redisSlow: {enabled: true}}\n", "redisSlow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderErr(t, enabled+tt.values)
			if err == nil {
				t.Fatalf("values %q rendered, want an error about %s", tt.values, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}
