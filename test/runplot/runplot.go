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

// Package runplot draws a run of the workers over time as an SVG or PNG
// image: panels stacked on one time axis, such as the backlog of each
// queue, the latency, and the replicas desired and ready. The demo
// (hack/demo) and the end-to-end report (test/e2e) draw their runs with
// it; the operator does not import it.
//
// It is pure: the caller hands in the points with their times, and the
// image depends on nothing else (no clock, no server).
package runplot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Point is one value at one time. A NaN value means unknown (Redis did not
// answer): the line has a gap there.
type Point struct {
	At    time.Time
	Value float64
}

// Series is one line of a panel.
type Series struct {
	// Name is the line's label in the panel's legend.
	Name   string
	Points []Point
	// Steps draws the value as held until the next point, and the last
	// one until the end of the chart: right for counts that change at
	// instants (replicas), and for series recorded only when they change.
	Steps bool
}

// Panel is one plot of the chart, with its own vertical axis.
type Panel struct {
	Title string
	// Unit labels the vertical axis.
	Unit   string
	Series []Series
}

// Chart is the whole image: panels stacked on a shared time axis.
type Chart struct {
	Title string
	// Start and End bound the time axis; a zero one is taken from the
	// earliest or latest point. The axis counts seconds from Start.
	Start, End time.Time
	Panels     []Panel
	// Width and PanelHeight size the image; zero means 8 and 2.4 inches.
	Width, PanelHeight vg.Length
}

// Format is the encoding of the image.
type Format string

// The formats Write supports.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// FormatOf returns the format a file name's extension asks for.
func FormatOf(path string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))); f {
	case SVG, PNG:
		return f, nil
	}
	return "", fmt.Errorf("%s: want a .svg or .png file", path)
}

// CheckFile reports whether WriteFile can write path, before a run whose
// chart goes there at its end: its extension names a format, and its
// directory exists.
func CheckFile(path string) error {
	if _, err := FormatOf(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

// WriteFile writes the chart to path, in the format of its extension. The
// chart is drawn first: one that cannot be drawn leaves the file as it was.
func (c Chart) WriteFile(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := c.Write(&buf, format); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Write draws the chart and encodes it to w.
func (c Chart) Write(w io.Writer, format Format) error {
	if len(c.Panels) == 0 {
		return errors.New("a chart needs at least one panel")
	}
	width, panelHeight := c.Width, c.PanelHeight
	if width <= 0 {
		width = 8 * vg.Inch
	}
	if panelHeight <= 0 {
		panelHeight = 2.4 * vg.Inch
	}
	titleHeight := vg.Length(0)
	if c.Title != "" {
		titleHeight = 0.4 * vg.Inch
	}
	height := panelHeight*vg.Length(len(c.Panels)) + titleHeight

	var canvas vg.CanvasWriterTo
	switch format {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	default:
		return fmt.Errorf("format %q: want %q or %q", format, SVG, PNG)
	}
	dc := draw.New(canvas)
	// A white background: the image is shown on dark pages too.
	dc.SetColor(color.White)
	dc.Fill(dc.Path())

	plots, err := c.plots()
	if err != nil {
		return err
	}
	if c.Title != "" {
		style := text.Style{
			Color:   color.Black,
			Font:    plotFont(14),
			XAlign:  draw.XCenter,
			YAlign:  draw.YTop,
			Handler: plot.DefaultTextHandler,
		}
		dc.FillText(style, vg.Point{X: width / 2, Y: height - 0.1*vg.Inch}, c.Title)
	}
	area := draw.Crop(dc, 0, 0, 0, -titleHeight)
	tiles := draw.Tiles{
		Rows: len(plots), Cols: 1,
		PadTop: 0.05 * vg.Inch, PadBottom: 0.05 * vg.Inch, PadLeft: 0.1 * vg.Inch, PadRight: 0.2 * vg.Inch,
		PadY: 0.1 * vg.Inch,
	}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	for i, row := range plot.Align(grid, tiles, area) {
		plots[i].Draw(row[0])
	}
	if format != SVG {
		_, err = canvas.WriteTo(w)
		return err
	}
	// The SVG names the font the text was measured with, Liberation Sans,
	// which few viewers have; Arial and Helvetica have the same metrics,
	// so the text keeps its place with them.
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return err
	}
	_, err = w.Write(bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"), []byte(svgFonts)))
	return err
}

// svgFonts is the font list of the SVG's text.
const svgFonts = "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"

// sans sets every text of p in the sans-serif face: a chart reads better
// in it than in gonum/plot's default serif.
func sans(p *plot.Plot) {
	for _, f := range []*font.Font{
		&p.Title.TextStyle.Font, &p.Legend.TextStyle.Font,
		&p.X.Label.TextStyle.Font, &p.X.Tick.Label.Font,
		&p.Y.Label.TextStyle.Font, &p.Y.Tick.Label.Font,
	} {
		f.Variant = "Sans"
	}
}

// span returns the chart's start and its length in seconds.
func (c Chart) span() (time.Time, float64) {
	start, end := c.Start, c.End
	for _, p := range c.Panels {
		for _, s := range p.Series {
			for _, pt := range s.Points {
				if c.Start.IsZero() && (start.IsZero() || pt.At.Before(start)) {
					start = pt.At
				}
				if c.End.IsZero() && (end.IsZero() || pt.At.After(end)) {
					end = pt.At
				}
			}
		}
	}
	secs := end.Sub(start).Seconds()
	if start.IsZero() || end.IsZero() || secs <= 0 {
		return start, 1 // nothing to show, or one instant: a one-second axis
	}
	return start, secs
}

// plots builds one plot per panel, on the same time range; only the
// bottom one labels the time axis.
func (c Chart) plots() ([]*plot.Plot, error) {
	start, secs := c.span()
	plots := make([]*plot.Plot, 0, len(c.Panels))
	for i, panel := range c.Panels {
		p := plot.New()
		sans(p)
		p.Title.Text = panel.Title
		p.Title.TextStyle.Font = plotFont(12)
		p.Y.Label.Text = panel.Unit
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Legend.Left = true
		p.Legend.XOffs = 0.1 * vg.Inch
		for j, s := range panel.Series {
			if err := addSeries(p, s, start, secs, plotutil.Color(j)); err != nil {
				return nil, fmt.Errorf("panel %q, series %q: %w", panel.Title, s.Name, err)
			}
		}
		// The ranges are set after the lines went in (Add widens them to
		// the data): time from the chart's start to its end, values from 0.
		p.X.Min, p.X.Max = 0, secs
		if math.IsInf(p.Y.Min, 0) || p.Y.Min > 0 {
			p.Y.Min = 0
		}
		if math.IsInf(p.Y.Max, 0) || p.Y.Max <= p.Y.Min {
			p.Y.Max = p.Y.Min + 1
		}
		// Room above the highest value for the legend, which takes about
		// 13 points a line of a data area about 120 points high.
		room := min(0.6, float64(13*len(panel.Series)+6)/120)
		p.Y.Max = p.Y.Min + (p.Y.Max-p.Y.Min)/(1-room)
		if i == len(c.Panels)-1 && !start.IsZero() {
			p.X.Label.Text = "seconds since " + start.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		plots = append(plots, p)
	}
	return plots, nil
}

// addSeries adds one line per run of known values, in one color, and one
// legend entry.
func addSeries(p *plot.Plot, s Series, start time.Time, secs float64, lineColor color.Color) error {
	var runs []plotter.XYs
	var cur plotter.XYs
	for _, pt := range s.Points {
		if math.IsNaN(pt.Value) {
			if len(cur) > 0 {
				runs = append(runs, cur)
			}
			cur = nil
			continue
		}
		if math.IsInf(pt.Value, 0) {
			return fmt.Errorf("value at %s is infinite", pt.At.Format(time.RFC3339))
		}
		cur = append(cur, plotter.XY{X: pt.At.Sub(start).Seconds(), Y: pt.Value})
	}
	if len(cur) > 0 {
		if s.Steps && cur[len(cur)-1].X < secs {
			cur = append(cur, plotter.XY{X: secs, Y: cur[len(cur)-1].Y})
		}
		runs = append(runs, cur)
	}
	var legend *plotter.Line
	for _, xys := range runs {
		if len(xys) == 1 {
			// A value alone between gaps is a dot: a line of one point
			// draws nothing.
			dot, err := plotter.NewScatter(xys)
			if err != nil {
				return err
			}
			dot.Color = lineColor
			dot.Shape = draw.CircleGlyph{}
			dot.Radius = vg.Points(2)
			p.Add(dot)
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color = lineColor
		l.Width = vg.Points(1.5)
		if s.Steps {
			l.StepStyle = plotter.PostStep
		}
		p.Add(l)
		if legend == nil {
			legend = l
		}
	}
	if legend == nil {
		// No value known: the legend still names the series, so an empty
		// line reads as "nothing seen", not as a missing series.
		legend = &plotter.Line{LineStyle: draw.LineStyle{Color: lineColor, Width: vg.Points(1.5)}}
	}
	p.Legend.Add(s.Name, legend)
	return nil
}

// plotFont is gonum/plot's default typeface, sans-serif, at size points.
func plotFont(size float64) font.Font {
	f := plot.DefaultFont
	f.Variant = "Sans"
	f.Size = vg.Points(size)
	return f
}
