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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// report collects the figures of a run: how fast the workers followed the
// load, and whether any task was lost or run twice.
type report struct {
	mu        sync.Mutex
	provider  string
	started   time.Time
	clusterUp time.Duration
	install   time.Duration
	results   []*scenarioResult
}

// scenarioResult is one line of the report. Zero durations and a nil tally
// are shown as "–": the scenario does not measure them.
type scenarioResult struct {
	name     string
	started  time.Time
	duration time.Duration
	status   string
	// Tasks enqueued, and what the ledger said of them.
	tally *tally
	// peak is the highest replica count the operator asked for.
	peak int32
	// reaction is the time from the start of the burst to the first
	// scale-up decision; drained to the last task done; backToMin to the
	// last extra pod gone.
	reaction, drained, backToMin time.Duration
	notes                        []string
	// monitors recorded the scenario's workers; writeCharts draws them
	// to chartFile, next to the report.
	monitors  []*monitor
	chartFile string
}

func newReport(provider string) *report {
	return &report{provider: provider, started: time.Now()}
}

// start adds a scenario's line.
func (r *report) start(name string) *scenarioResult {
	res := &scenarioResult{name: strings.TrimPrefix(name, "TestE2E/"), started: time.Now(), status: "running"}
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	return res
}

// attach hands a monitor to the line of the scenario testName, for its
// chart.
func (r *report) attach(testName string, m *monitor) {
	name := strings.TrimPrefix(testName, "TestE2E/")
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range slices.Backward(r.results) {
		if res.name == name {
			res.monitors = append(res.monitors, m)
			return
		}
	}
}

// finish records how the scenario ended.
func (res *scenarioResult) finish(t *testing.T) {
	res.duration = time.Since(res.started)
	switch {
	case t.Failed():
		res.status = "FAILED"
	case t.Skipped():
		res.status = "skipped"
	default:
		res.status = "passed"
	}
}

// note adds a line under the table.
func (res *scenarioResult) note(format string, args ...any) {
	res.notes = append(res.notes, fmt.Sprintf(format, args...))
}

func dash(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return d.Round(100 * time.Millisecond).String()
}

// markdown renders the report.
func (r *report) markdown() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# queueworker-operator end-to-end report\n\n")
	fmt.Fprintf(&b, "Provider `%s`, started %s, %s in all (cluster up %s, helm install %s).\n\n",
		r.provider, r.started.UTC().Format(time.RFC3339), time.Since(r.started).Round(time.Second),
		r.clusterUp.Round(time.Second), r.install.Round(time.Second))
	b.WriteString("| Scenario | Result | Time | Tasks | Lost | Duplicated | Restarted | Peak replicas | First scale-up | Drained | Back to min |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range r.results {
		tasks, lost, dup, restarted := "–", "–", "–", "–"
		if res.tally != nil {
			tasks = fmt.Sprint(res.tally.enqueued)
			lost = fmt.Sprint(res.tally.lost)
			dup = fmt.Sprint(res.tally.duplicated)
			restarted = fmt.Sprint(res.tally.restarted)
		}
		peak := "–"
		if res.peak > 0 {
			peak = fmt.Sprint(res.peak)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			res.name, res.status, res.duration.Round(time.Second), tasks, lost, dup, restarted, peak,
			dash(res.reaction), dash(res.drained), dash(res.backToMin))
	}
	b.WriteString("\nFirst scale-up, Drained and Back to min count from the start of the scenario's first burst. " +
		"Restarted counts the tasks that a worker started more than once: it was stopped while they ran.\n")
	var charts []string
	for _, res := range r.results {
		if res.chartFile != "" {
			charts = append(charts, fmt.Sprintf("[%s](%s)", res.name, res.chartFile))
		}
	}
	if len(charts) > 0 {
		b.WriteString("\nCharts of the backlog, latency and replicas over time, next to this report: " +
			strings.Join(charts, ", ") + ".\n")
	}
	var notes []string
	for _, res := range r.results {
		for _, n := range res.notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", res.name, n))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

// finishReport writes the report to $E2E_REPORT (or e2e-report.md in the
// state dir), with the charts of the scenarios beside it, and prints it.
func (s *suite) finishReport(t *testing.T) {
	s.report.mu.Lock()
	ran := len(s.report.results)
	s.report.mu.Unlock()
	if ran == 0 {
		return // set-up failed, and said why
	}
	path := os.Getenv("E2E_REPORT")
	if path == "" {
		dir := s.provider.stateDir()
		if dir == "" {
			dir = os.TempDir()
		}
		path = filepath.Join(dir, "e2e-report.md")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("writing the report: %v", err)
	} else if err := s.report.writeCharts(filepath.Dir(path)); err != nil {
		t.Errorf("writing the charts: %v", err)
	}
	md := s.report.markdown()
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		t.Errorf("writing the report: %v", err)
	}
	t.Logf("report written to %s:\n\n%s", path, md)
	fmt.Printf("\n%s\n(written to %s)\n", md, path)
}
