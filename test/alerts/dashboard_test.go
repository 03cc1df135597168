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
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboardFile is the dashboard the chart ships.
const dashboardFile = chartDir + "/files/grafana-dashboard.json"

// datasource is the reference every panel and query must use: the
// dashboard's data source variable, so it works with any Prometheus.
const datasource = "${datasource}"

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *dsRef `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string `json:"refId"`
		Datasource *dsRef `json:"datasource"`
		Expr       string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Datasource *dsRef `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

// grafanaVariable is a reference to a dashboard variable: $name or ${name}
// ($1 in label_replace is a reference to a regular expression's group).
var grafanaVariable = regexp.MustCompile(`\$\{?([A-Za-z_]\w*)\}?`)

// substitute replaces Grafana's variables in a query with what Grafana
// would put there: an interval in a range, a regular expression elsewhere
// (the queries match every variable with =~).
func substitute(expr string) string {
	return grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		switch strings.Trim(v, "${}") {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		default:
			return ".*"
		}
	})
}

// TestDashboard parses the dashboard the chart ships and every PromQL query
// in it (panels and variables), and checks what makes it usable on any
// Grafana: a recent schema, the data source as a variable, the namespace
// and queueworker variables applied to every series of the operator that
// has those labels, distinct panel ids, panels that do not overlap.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: want both", d.UID, d.Title)
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want at least 39 (Grafana 10.4)", d.SchemaVersion)
	}

	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		if v.Datasource == nil || v.Datasource.UID != datasource {
			t.Errorf("variable %s: datasource %+v, want %s", v.Name, v.Datasource, datasource)
		}
		q := variableQuery(t, v.Name, v.Query)
		m := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`).FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
			continue
		}
		if _, err := promQL.ParseExpr(substitute(m[1])); err != nil {
			t.Errorf("variable %s: %q: %v", v.Name, m[1], err)
		}
	}
	for _, want := range []string{"datasource", "namespace", "queueworker"} {
		if !vars[want] {
			t.Errorf("no variable %s", want)
		}
	}

	ids := map[int]string{}
	queries := 0
	for _, p := range d.Panels {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share the id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != datasource {
			t.Errorf("panel %q: datasource %+v, want %s", p.Title, p.Datasource, datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			queries++
			if target.Datasource == nil || target.Datasource.UID != datasource {
				t.Errorf("panel %q query %s: datasource %+v, want %s", p.Title, target.RefID, target.Datasource, datasource)
			}
			for _, v := range grafanaVariable.FindAllStringSubmatch(target.Expr, -1) {
				if !strings.HasPrefix(v[1], "__") && !vars[v[1]] {
					t.Errorf("panel %q query %s uses $%s, which the dashboard does not define", p.Title, target.RefID, v[1])
				}
			}
			expr, err := promQL.ParseExpr(substitute(target.Expr))
			if err != nil {
				t.Errorf("panel %q query %s: %q: %v", p.Title, target.RefID, target.Expr, err)
				continue
			}
			checkDashboardSelectors(t, p.Title, target.Expr, expr)
		}
	}
	if queries < 10 {
		t.Errorf("%d queries in the dashboard, want the panels of docs/monitoring.md", queries)
	}
	checkNoOverlap(t, d.Panels)
}

// variableQuery is the query of a variable, which Grafana stores as a
// string or as an object with a query field.
func variableQuery(t *testing.T, name string, q any) string {
	t.Helper()
	switch q := q.(type) {
	case string:
		return q
	case map[string]any:
		if s, ok := q["query"].(string); ok {
			return s
		}
	}
	t.Fatalf("variable %s: query %v is neither a string nor {query: ...}", name, q)
	return ""
}

// checkDashboardSelectors checks that every series of the operator labelled
// by QueueWorker is filtered by the namespace and queueworker variables,
// and every redis_exporter series by the redis variable: a panel that
// ignores them shows every QueueWorker whatever is selected.
func checkDashboardSelectors(t *testing.T, title, raw string, expr parser.Expr) {
	t.Helper()
	want := func(vs *parser.VectorSelector, label, variable string) {
		if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
			return m.Name == label && m.Type == labels.MatchRegexp
		}) || !strings.Contains(raw, label+`=~"$`+variable+`"`) {
			t.Errorf("panel %q: %s is not filtered by %s=~\"$%s\"", title, vs.Name, label, variable)
		}
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		switch {
		case strings.HasPrefix(vs.Name, "queueworker_redis_read_duration"):
			// Labelled by Redis endpoint only.
		case strings.HasPrefix(vs.Name, "queueworker_"):
			want(vs, "namespace", "namespace")
			want(vs, "queueworker", "queueworker")
		case strings.HasPrefix(vs.Name, "redis_"):
			want(vs, "job", "redis")
		}
		return nil
	})
}

// checkNoOverlap checks that no two panels cover the same cell of the
// dashboard's 24-column grid.
func checkNoOverlap(t *testing.T, panels []panel) {
	t.Helper()
	owner := map[[2]int]string{}
	for _, p := range panels {
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := owner[[2]int{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at (%d, %d)", other, p.Title, x, y)
					return
				}
				owner[[2]int{x, y}] = p.Title
			}
		}
	}
}

// TestDashboardConfigMap checks that the chart ships the dashboard file as
// it is, in a ConfigMap with the label Grafana's sidecar looks for.
func TestDashboardConfigMap(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	cm := onlyObject(t, render(t, "grafanaDashboard:\n  enabled: true\n  label: {key: grafana_dashboard, value: \"1\"}\n"), "ConfigMap")
	if got := cm.Data["queueworker-operator.json"]; strings.TrimSpace(got) != strings.TrimSpace(string(raw)) {
		t.Errorf("the ConfigMap's queueworker-operator.json differs from %s", dashboardFile)
	}
	if cm.Metadata.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v lack grafana_dashboard: \"1\"", cm.Metadata.Labels)
	}
}
