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
	"fmt"
	"io"
	"strings"
	"time"
)

// Display shows the samples of a run.
type Display interface {
	// Show presents the sample t has just observed.
	Show(s Sample, t *Tracker)
	// Close ends the output; what is on the screen stays.
	Close()
}

// Lines prints one line per interval, for logs, pipes and CI: nothing is
// redrawn, so the output reads the same in a file.
type Lines struct {
	w     io.Writer
	every time.Duration
	// last is the number of the interval (counted from the start of the
	// run) of the last line printed: a line per interval, whatever the
	// jitter of the samples.
	last  int64
	shown bool
	// held is the last sample not printed yet, which Close prints so the
	// output ends with the state the run ended in.
	held    *Sample
	tracker *Tracker
}

// NewLines prints to w at most one line per every.
func NewLines(w io.Writer, every time.Duration) *Lines {
	return &Lines{w: w, every: every}
}

// lineHeader names the columns of a line.
const lineHeader = "TIME      ELAPSED  PENDING  ACTIVE  LATENCY  DESIRED  PODS  READY  DONE"

// Show prints s unless a line was printed in its interval already.
func (l *Lines) Show(s Sample, t *Tracker) {
	if l.shown && l.interval(s, t) <= l.last {
		l.held, l.tracker = &s, t
		return
	}
	l.print(s, t)
}

// interval numbers the interval s falls in.
func (l *Lines) interval(s Sample, t *Tracker) int64 {
	if l.every <= 0 {
		return int64(t.Elapsed(s)) // every sample gets a line
	}
	return int64(t.Elapsed(s) / l.every)
}

func (l *Lines) print(s Sample, t *Tracker) {
	if !l.shown {
		_, _ = fmt.Fprintln(l.w, lineHeader)
	}
	_, _ = fmt.Fprintln(l.w, FormatLine(s, t))
	l.last, l.shown, l.held = l.interval(s, t), true, nil
}

// Close prints the last sample if its line was skipped.
func (l *Lines) Close() {
	if l.held != nil {
		l.print(*l.held, l.tracker)
	}
}

// FormatLine renders one sample as a line under lineHeader. A value that
// could not be read shows as "?", with the error at the end of the line.
func FormatLine(s Sample, t *Tracker) string {
	pending, active, latency := "?", "?", "?"
	if s.RedisErr == nil {
		pending = fmt.Sprint(s.Pending())
		active = fmt.Sprint(s.Active())
		latency = fmtLatency(s)
	}
	desired, pods, ready := "?", "?", "?"
	if s.KubeErr == nil {
		w := s.Workers
		desired, pods, ready = fmt.Sprint(w.Desired), fmt.Sprint(w.Replicas), fmt.Sprint(w.Ready)
	}
	line := fmt.Sprintf("%-8s %8s %8s %7s %8s %8s %5s %6s  %s",
		s.At.Format("15:04:05"), fmtElapsed(t.Elapsed(s)), pending, active, latency, desired, pods, ready, fmtDone(s, t))
	return line + fmtErrors(s)
}

// Table redraws a table in place, for a terminal: one row per queue, the
// workers and a progress bar.
type Table struct {
	w     io.Writer
	title string
	drawn int
}

// NewTable draws on w, which must be a terminal that understands ANSI
// cursor movement; title heads the table.
func NewTable(w io.Writer, title string) *Table {
	return &Table{w: w, title: title}
}

// Show redraws the table for s.
func (tb *Table) Show(s Sample, t *Tracker) {
	lines := TableLines(s, t, tb.title)
	var b strings.Builder
	if tb.drawn > 0 {
		// Back to the first line of the last drawing, and clear it all:
		// the new drawing may be shorter.
		fmt.Fprintf(&b, "\r\x1b[%dA\x1b[J", tb.drawn)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(tb.w, b.String())
	tb.drawn = len(lines)
}

// Close leaves the last drawing on the screen.
func (tb *Table) Close() {}

// tableWidth keeps every line of the table within an 80-column terminal: a
// wrapped line would break the redrawing, which counts lines.
const tableWidth = 79

// TableLines renders the table for s.
func TableLines(s Sample, t *Tracker, title string) []string {
	lines := []string{
		fmt.Sprintf("%s  %s  (%s)", title, fmtElapsed(t.Elapsed(s)), s.At.Format("15:04:05")),
		fmt.Sprintf("  %-16s %8s %7s %6s %8s", "QUEUE", "PENDING", "ACTIVE", "RETRY", "LATENCY"),
	}
	if s.RedisErr == nil {
		for _, q := range s.Queues {
			lines = append(lines, fmt.Sprintf("  %-16s %8d %7d %6d %8s",
				truncate(q.Name, 16), q.Pending, q.Active, q.Retry, fmtLatency(Sample{Queues: []QueueSample{q}})))
		}
		lines = append(lines, fmt.Sprintf("  %-16s %8d %7d %6d %8s", "total", s.Pending(), s.Active(), s.Retry(), fmtLatency(s)))
	} else {
		lines = append(lines, "  redis: "+s.RedisErr.Error())
	}
	if s.KubeErr == nil {
		peak := t.Peak()
		scale := "no scale-up yet"
		if after, ok := t.FirstScaleUp(); ok {
			scale = "first scale-up after " + fmtDuration(after)
		}
		lines = append(lines, fmt.Sprintf("  workers: desired %d, pods %d, ready %d  (peak ready %d; %s)",
			s.Workers.Desired, s.Workers.Replicas, s.Workers.Ready, peak.Ready, scale))
	} else {
		lines = append(lines, "  workers: "+s.KubeErr.Error())
	}
	lines = append(lines, "  done: "+fmtDone(s, t)+"  "+progressBar(t.ledger.Done, t.Total(), 30))
	for i, l := range lines {
		lines[i] = truncate(l, tableWidth)
	}
	return lines
}

// fmtDone renders the completed tasks of the burst, and while the burst is
// still being enqueued, how much of it is in.
func fmtDone(s Sample, t *Tracker) string {
	done := fmt.Sprintf("%d/%d", t.ledger.Done, t.Total())
	if s.Enqueued < t.Total() {
		done += fmt.Sprintf(" (enqueued %d)", s.Enqueued)
	}
	if t.ledger.Duplicated > 0 {
		done += fmt.Sprintf(" (%d duplicated)", t.ledger.Duplicated)
	}
	return done
}

func fmtErrors(s Sample) string {
	var errs []string
	if s.RedisErr != nil {
		errs = append(errs, "redis: "+s.RedisErr.Error())
	}
	if s.KubeErr != nil {
		errs = append(errs, "kubernetes: "+s.KubeErr.Error())
	}
	if len(errs) == 0 {
		return ""
	}
	return "  " + truncate(strings.Join(errs, "; "), 120)
}

// fmtLatency is "-" when nothing is pending, "?" when the age of the
// oldest pending task is unknown, else that age.
func fmtLatency(s Sample) string {
	if s.Pending() == 0 {
		return "-"
	}
	d, known := s.Latency()
	if !known {
		return "?"
	}
	return fmtDuration(d)
}

// fmtElapsed renders tenths of a second, cut rather than rounded so that
// the line of each second shows that second.
func fmtElapsed(d time.Duration) string {
	d = d.Truncate(100 * time.Millisecond)
	return fmt.Sprintf("%d.%ds", int(d/time.Second), int(d%time.Second/(100*time.Millisecond)))
}

// fmtDuration renders a duration for people: 0.8s, 12.4s, 2m05s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
}

func progressBar(done, total, width int) string {
	if total <= 0 {
		return ""
	}
	filled := min(done*width/total, width)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), min(done*100/total, 100))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "~"
}
