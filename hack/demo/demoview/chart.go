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
	"math"
	"slices"

	"github.com/queueworker/queueworker-operator/test/runplot"
)

// Recorder is a Display that keeps every sample it passes on, for the
// chart of the run drawn at its end.
type Recorder struct {
	Display Display
	samples []Sample
}

// Show keeps s and shows it on the wrapped display.
func (r *Recorder) Show(s Sample, t *Tracker) {
	r.samples = append(r.samples, s)
	r.Display.Show(s, t)
}

// Close closes the wrapped display.
func (r *Recorder) Close() { r.Display.Close() }

// Samples returns the samples shown so far, oldest first.
func (r *Recorder) Samples() []Sample { return r.samples }

// Chart draws a run from its samples: the backlog (pending + active) and
// the latency of each queue, and the replicas the autoscaler desired next
// to the ready ones, on a time axis that starts at the first sample (taken
// before the burst). A read that failed leaves a gap in its lines.
func Chart(title string, samples []Sample) runplot.Chart {
	var queues []string
	for _, s := range samples {
		for _, q := range s.Queues {
			if !slices.Contains(queues, q.Name) {
				queues = append(queues, q.Name)
			}
		}
	}
	backlog := make([]runplot.Series, len(queues))
	latency := make([]runplot.Series, len(queues))
	for i, name := range queues {
		backlog[i].Name, latency[i].Name = name, name
	}
	desired := runplot.Series{Name: "desired", Steps: true}
	ready := runplot.Series{Name: "ready", Steps: true}
	for _, s := range samples {
		for i, name := range queues {
			b, l := math.NaN(), math.NaN()
			if j := slices.IndexFunc(s.Queues, func(q QueueSample) bool { return q.Name == name }); j >= 0 {
				q := s.Queues[j]
				b = float64(q.Pending + q.Active)
				if q.LatencyKnown || q.Pending == 0 {
					l = q.Latency.Seconds()
				}
			}
			backlog[i].Points = append(backlog[i].Points, runplot.Point{At: s.At, Value: b})
			latency[i].Points = append(latency[i].Points, runplot.Point{At: s.At, Value: l})
		}
		d, r := math.NaN(), math.NaN()
		if s.KubeErr == nil {
			d, r = float64(s.Workers.Desired), float64(s.Workers.Ready)
		}
		desired.Points = append(desired.Points, runplot.Point{At: s.At, Value: d})
		ready.Points = append(ready.Points, runplot.Point{At: s.At, Value: r})
	}
	c := runplot.Chart{
		Title: title,
		Panels: []runplot.Panel{
			{Title: "Backlog per queue (pending + active)", Unit: "tasks", Series: backlog},
			{Title: "Latency per queue (age of the oldest pending task)", Unit: "seconds", Series: latency},
			{Title: "Workers", Unit: "replicas", Series: []runplot.Series{desired, ready}},
		},
	}
	if len(samples) > 0 {
		c.Start, c.End = samples[0].At, samples[len(samples)-1].At
	}
	return c
}
