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

package demoview

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/queueworker/queueworker-operator/test/runplot"
)

// values returns a series' values, NaN written as -1 so slices compare.
func values(s runplot.Series) []float64 {
	out := make([]float64, len(s.Points))
	for i, p := range s.Points {
		out[i] = p.Value
		if math.IsNaN(p.Value) {
			out[i] = -1
		}
	}
	return out
}

func TestChart(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	samples := []Sample{
		{At: t0, Queues: []QueueSample{{Name: "critical"}}, Workers: Workers{Desired: 1, Ready: 1}},
		{At: t0.Add(time.Second), Queues: []QueueSample{
			{Name: "critical", Pending: 90, Active: 4, Latency: 2 * time.Second, LatencyKnown: true},
			{Name: "default", Pending: 30, Active: 0}, // no enqueue time: latency unknown
		}, Workers: Workers{Desired: 5, Ready: 1}},
		{At: t0.Add(2 * time.Second), RedisErr: errors.New("i/o timeout"), KubeErr: errors.New("refused")},
		{At: t0.Add(3 * time.Second), Queues: []QueueSample{
			{Name: "critical", Pending: 0, Active: 2},
			{Name: "default", Pending: 0, Active: 1},
		}, Workers: Workers{Desired: 5, Ready: 5}},
	}
	c := Chart("run", samples)
	if !c.Start.Equal(t0) || !c.End.Equal(t0.Add(3*time.Second)) {
		t.Errorf("time axis %s to %s, want the first and last sample", c.Start, c.End)
	}
	if len(c.Panels) != 3 {
		t.Fatalf("%d panels, want backlog, latency and workers", len(c.Panels))
	}
	want := map[string][][]float64{
		// A queue seen only from the second sample on is unknown before.
		"backlog": {{0, 94, -1, 2}, {-1, 30, -1, 1}},
		"latency": {{0, 2, -1, 0}, {-1, -1, -1, 0}},
		"workers": {{1, 5, -1, 5}, {1, 1, -1, 5}},
	}
	for i, name := range []string{"backlog", "latency", "workers"} {
		p := c.Panels[i]
		if len(p.Series) != len(want[name]) {
			t.Fatalf("%s: %d series, want %d", name, len(p.Series), len(want[name]))
		}
		for j, s := range p.Series {
			if got := values(s); !slices.Equal(got, want[name][j]) {
				t.Errorf("%s series %q = %v, want %v", name, s.Name, got, want[name][j])
			}
		}
	}
	if c.Panels[0].Series[1].Name != "default" || c.Panels[2].Series[0].Name != "desired" || !c.Panels[2].Series[0].Steps {
		t.Errorf("series names or styles: %+v", c.Panels)
	}

	// The chart of a real run's samples is a well-formed SVG naming each
	// queue in two legends.
	path := filepath.Join(t.TempDir(), "run.svg")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	texts := map[string]int{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts[strings.TrimSpace(string(cd))]++
		}
	}
	if texts["critical"] != 2 || texts["default"] != 2 || texts["desired"] != 1 {
		t.Errorf("legend labels: critical %d, default %d, desired %d; want 2, 2, 1",
			texts["critical"], texts["default"], texts["desired"])
	}
}

// A run that ended before its first sample still draws, on an empty axis.
func TestChartNoSamples(t *testing.T) {
	c := Chart("run", nil)
	if err := c.WriteFile(filepath.Join(t.TempDir(), "run.svg")); err != nil {
		t.Fatal(err)
	}
}

func TestRecorderPassesSamplesOn(t *testing.T) {
	inner := &recording{}
	r := &Recorder{Display: inner}
	tr := NewTracker(1, time.Second, time.Second)
	for i := range 3 {
		r.Show(Sample{Enqueued: i}, tr)
	}
	r.Close()
	if len(r.Samples()) != 3 || len(inner.shown) != 3 || !inner.closed {
		t.Errorf("recorded %d, shown %d, closed %v; want 3, 3, true", len(r.Samples()), len(inner.shown), inner.closed)
	}
}
