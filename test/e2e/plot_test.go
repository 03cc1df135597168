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
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/queueworker/queueworker-operator/test/runplot"
)

// runSeries is what a monitor recorded, as the lines of a chart.
type runSeries struct {
	backlog, latency, desired, ready runplot.Series
}

// series returns the monitor's recording: the backlog (pending + active,
// read from Redis) and the latency (the QueueWorker's status) at every
// poll, and the Deployment's desired and ready replicas at every change.
// A poll that could not read a value leaves a gap.
func (m *monitor) series() runSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	label := m.name + "/" + m.queue
	rs := runSeries{
		backlog: runplot.Series{Name: label},
		latency: runplot.Series{Name: label},
		desired: runplot.Series{Name: "desired", Steps: true},
		ready:   runplot.Series{Name: "ready", Steps: true},
	}
	for _, o := range m.obs {
		b, l := math.NaN(), math.NaN()
		if o.active >= 0 && o.pending >= 0 {
			b = float64(o.active + o.pending)
		}
		if o.latency >= 0 {
			l = o.latency.Seconds()
		}
		rs.backlog.Points = append(rs.backlog.Points, runplot.Point{At: o.at, Value: b})
		rs.latency.Points = append(rs.latency.Points, runplot.Point{At: o.at, Value: l})
	}
	for _, s := range m.samples {
		rs.desired.Points = append(rs.desired.Points, runplot.Point{At: s.at, Value: float64(s.desired)})
		rs.ready.Points = append(rs.ready.Points, runplot.Point{At: s.at, Value: float64(s.ready)})
	}
	return rs
}

// chart draws the scenario from its monitors, from the scenario's start
// to the monitors' last record (not the scenario's end, which includes
// the deletion of its namespace). With more than one monitor the replica
// lines carry the QueueWorker's name.
func (res *scenarioResult) chart() runplot.Chart {
	backlog := runplot.Panel{Title: "Backlog (pending + active, from Redis)", Unit: "tasks"}
	latency := runplot.Panel{Title: "Latency (QueueWorker status.latency)", Unit: "seconds"}
	replicas := runplot.Panel{Title: "Worker Deployment replicas", Unit: "replicas"}
	for _, m := range res.monitors {
		rs := m.series()
		if len(res.monitors) > 1 {
			rs.desired.Name = m.name + " desired"
			rs.ready.Name = m.name + " ready"
		}
		backlog.Series = append(backlog.Series, rs.backlog)
		latency.Series = append(latency.Series, rs.latency)
		replicas.Series = append(replicas.Series, rs.desired, rs.ready)
	}
	title := fmt.Sprintf("e2e %s (%s, %s)", res.name, res.status, res.duration.Round(time.Second))
	return runplot.Chart{
		Title:  title,
		Start:  res.started,
		Panels: []runplot.Panel{backlog, latency, replicas},
	}
}

// chartFile names the chart of a scenario: e2e-burst.svg,
// e2e-scale-in-policies-Drain.svg.
func chartFile(scenario string) string {
	return "e2e-" + strings.ReplaceAll(scenario, "/", "-") + ".svg"
}

// writeCharts writes, next to the report in dir, the chart of every
// scenario that monitored its workers, and records its file name for the
// report.
func (r *report) writeCharts(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range r.results {
		if len(res.monitors) == 0 {
			continue
		}
		name := chartFile(res.name)
		if err := res.chart().WriteFile(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("chart of %s: %w", res.name, err)
		}
		res.chartFile = name
	}
	return nil
}

// TestReportCharts draws the chart of a scenario from a monitor's
// recording, without a cluster: the report links the file, and the chart
// holds every poll, with a gap where Redis did not answer.
func TestReportCharts(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	m := &monitor{name: "burst", queue: "burst",
		obs: []observation{
			{at: t0.Add(time.Second), active: 0, pending: 0, latency: 0},
			{at: t0.Add(2 * time.Second), active: 4, pending: 900, latency: 1500 * time.Millisecond},
			{at: t0.Add(3 * time.Second), active: -1, pending: -1, latency: -1},
			{at: t0.Add(4 * time.Second), active: 20, pending: 0, latency: 0},
		},
		samples: []sample{{at: t0, desired: 1, ready: 1}, {at: t0.Add(2 * time.Second), desired: 5, ready: 1}},
	}
	r := newReport("local")
	r.start("TestE2E/install")
	res := r.start("TestE2E/burst")
	r.attach("TestE2E/burst", m)
	res.started, res.duration, res.status = t0, 10*time.Second, "passed"

	dir := t.TempDir()
	if err := r.writeCharts(dir); err != nil {
		t.Fatal(err)
	}
	if res.chartFile != "e2e-burst.svg" {
		t.Errorf("chart file %q, want e2e-burst.svg", res.chartFile)
	}
	if _, err := os.Stat(filepath.Join(dir, res.chartFile)); err != nil {
		t.Errorf("the chart was not written: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files written, want only the chart of the monitored scenario", len(entries))
	}
	if md := r.markdown(); !strings.Contains(md, "[burst](e2e-burst.svg)") {
		t.Errorf("the report does not link the chart:\n%s", md)
	}

	c := res.chart()
	if !c.Start.Equal(t0) || !c.End.IsZero() {
		t.Errorf("time axis %s to %s, want from the scenario's start to the last record", c.Start, c.End)
	}
	backlog := c.Panels[0].Series[0]
	if backlog.Name != "burst/burst" || len(backlog.Points) != 4 || backlog.Points[1].Value != 904 ||
		!math.IsNaN(backlog.Points[2].Value) || backlog.Points[3].Value != 20 {
		t.Errorf("backlog series %+v", backlog)
	}
	if lat := c.Panels[1].Series[0]; lat.Points[1].Value != 1.5 || !math.IsNaN(lat.Points[2].Value) {
		t.Errorf("latency series %+v", lat)
	}
	if d := c.Panels[2].Series[0]; d.Name != "desired" || !d.Steps || len(d.Points) != 2 || d.Points[1].Value != 5 {
		t.Errorf("desired series %+v", d)
	}
	if got := chartFile("scale-in-policies/Drain"); got != "e2e-scale-in-policies-Drain.svg" {
		t.Errorf("chartFile = %q", got)
	}
}
