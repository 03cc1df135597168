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

package runplot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotutil"
)

// svgContent is what a test reads back from an SVG: every text, and for
// every stroke color the paths drawn with it and the x coordinates they
// reach.
type svgContent struct {
	width, height float64
	texts         []string
	strokes       map[string]int
	xs            map[string][]float64
}

var (
	strokeRE = regexp.MustCompile(`stroke:(#[0-9A-Fa-f]{6})`)
	fillRE   = regexp.MustCompile(`fill:(#[0-9A-Fa-f]{6})`)
	coordRE  = regexp.MustCompile(`[ML]([-0-9.e]+),`)
)

// parseSVG decodes the document as XML, so a malformed file fails the test.
func parseSVG(t *testing.T, data []byte) svgContent {
	t.Helper()
	got := svgContent{strokes: map[string]int{}, xs: map[string][]float64{}}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var inText bool
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range el.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch el.Name.Local {
			case "svg":
				got.width = parsePt(t, attr("width"))
				got.height = parsePt(t, attr("height"))
			case "text":
				inText = true
				got.texts = append(got.texts, "")
			case "path":
				style := attr("style")
				c := ""
				if m := strokeRE.FindStringSubmatch(style); m != nil {
					c = m[1]
				} else if m := fillRE.FindStringSubmatch(style); m != nil {
					c = m[1] // a dot is a filled circle
				}
				if c == "" {
					continue
				}
				c = strings.ToUpper(c)
				got.strokes[c]++
				for _, m := range coordRE.FindAllStringSubmatch(attr("d"), -1) {
					x, err := strconv.ParseFloat(m[1], 64)
					if err != nil {
						t.Fatalf("path %q: %v", attr("d"), err)
					}
					got.xs[c] = append(got.xs[c], x)
				}
			}
		case xml.CharData:
			if inText {
				got.texts[len(got.texts)-1] += string(el)
			}
		case xml.EndElement:
			if el.Name.Local == "text" {
				inText = false
			}
		}
	}
	return got
}

func parsePt(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "pt"), 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	return v
}

// hex is how the SVG writes a color.
func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

func render(t *testing.T, c Chart) svgContent {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Write(&buf, SVG); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return parseSVG(t, buf.Bytes())
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func at(sec float64, v float64) Point {
	return Point{At: t0.Add(time.Duration(sec * float64(time.Second))), Value: v}
}

// The SVG names fonts with the metrics of the one the text was measured
// with, which viewers without Liberation Sans have.
func TestWriteSVGFonts(t *testing.T) {
	var buf bytes.Buffer
	if err := (Chart{Title: "t", Panels: []Panel{{Title: "p"}}}).Write(&buf, SVG); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	if !strings.Contains(svg, "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;") ||
		strings.Contains(svg, "font-family:Liberation Sans;") || strings.Contains(svg, "Liberation Serif") {
		t.Errorf("fonts of the SVG: %q", regexp.MustCompile(`font-family:[^;]*;`).FindAllString(svg, -1))
	}
}

func TestWriteSVGLinesAndLabels(t *testing.T) {
	nan := math.NaN()
	c := Chart{
		Title: "burst of 2000 tasks",
		Panels: []Panel{
			{Title: "Backlog", Unit: "tasks", Series: []Series{
				// Three runs of known values between two gaps: three lines.
				{Name: "critical", Points: []Point{at(0, 0), at(1, 100), at(2, nan), at(3, 80), at(4, 60), at(5, nan), at(6, 10), at(7, 0)}},
				{Name: "default", Points: []Point{at(0, 0), at(7, 0)}},
			}},
			{Title: "Latency", Unit: "seconds", Series: []Series{
				{Name: "oldest pending", Points: []Point{at(0, 0), at(3, 1.5), at(7, 0)}},
			}},
			{Title: "Replicas", Unit: "pods", Series: []Series{
				{Name: "desired", Steps: true, Points: []Point{at(0, 1), at(1, 5)}},
				{Name: "ready", Steps: true, Points: []Point{at(0, 1), at(2, 5)}},
			}},
		},
	}
	got := render(t, c)

	for _, want := range []string{
		"burst of 2000 tasks", "Backlog", "Latency", "Replicas", "tasks", "seconds", "pods",
		"critical", "default", "oldest pending", "desired", "ready",
		"seconds since 2026-03-04 10:00:00 UTC",
	} {
		if n := countOf(got.texts, want); n != 1 {
			t.Errorf("text %q appears %d times, want once; texts: %q", want, n, got.texts)
		}
	}
	// A panel's series take the palette in order, so the first color is
	// critical's (three lines and a legend sample), the latency's line
	// (and sample) and desired's (one line and a sample).
	first, second := hex(plotutil.Color(0)), hex(plotutil.Color(1))
	if n := got.strokes[first]; n != (3+1)+(1+1)+(1+1) {
		t.Errorf("%d paths in the first color, want 8", n)
	}
	// default's and ready's.
	if n := got.strokes[second]; n != (1+1)+(1+1) {
		t.Errorf("%d paths in the second color, want 4", n)
	}
	wantW, wantH := 8*72.0, 3*2.4*72+0.4*72
	if math.Abs(got.width-wantW) > 0.01 || math.Abs(got.height-wantH) > 0.01 {
		t.Errorf("size %gx%g pt, want %gx%g", got.width, got.height, wantW, wantH)
	}
}

func countOf(texts []string, s string) int {
	n := 0
	for _, t := range texts {
		if t == s {
			n++
		}
	}
	return n
}

// A value alone between two unknown ones is still drawn, as a dot.
func TestWriteSVGLoneValue(t *testing.T) {
	nan := math.NaN()
	got := render(t, Chart{Panels: []Panel{{Title: "Backlog", Series: []Series{
		{Name: "q", Points: []Point{at(0, nan), at(1, 5), at(2, nan)}},
	}}}})
	// The dot, and the legend sample.
	if n := got.strokes[hex(plotutil.Color(0))]; n != 2 {
		t.Errorf("%d paths in the series' color, want 2 (a dot and the legend sample)", n)
	}
}

// A chart of series without points (a run that ended before its first
// sample) is still a valid image that names every series.
func TestWriteSVGEmptySeries(t *testing.T) {
	got := render(t, Chart{
		Title: "nothing yet",
		Panels: []Panel{
			{Title: "Backlog", Series: []Series{{Name: "q"}}},
			{Title: "Replicas", Series: []Series{{Name: "desired", Steps: true}, {Name: "ready", Steps: true, Points: []Point{}}}},
		},
	})
	for _, want := range []string{"nothing yet", "Backlog", "Replicas", "q", "desired", "ready"} {
		if countOf(got.texts, want) != 1 {
			t.Errorf("text %q missing; texts: %q", want, got.texts)
		}
	}
	// Only the legend samples: one per series, in the first color twice.
	if n := got.strokes[hex(plotutil.Color(0))]; n != 2 {
		t.Errorf("%d paths in the first color, want the 2 legend samples", n)
	}
	if slices.Contains(got.texts, "seconds since 0001-01-01 00:00:00 UTC") {
		t.Error("the time axis names the zero time")
	}
}

// The time axis counts from the chart's start, whatever the clock said: a
// run at 10:00 and the same run an hour later draw the same lines.
func TestTimesCountFromStart(t *testing.T) {
	run := func(offset time.Duration, start time.Time) svgContent {
		values := []float64{0, 40, 10, 0}
		pts := make([]Point, 0, len(values))
		for i, v := range values {
			pts = append(pts, Point{At: t0.Add(offset + time.Duration(i+2)*time.Second), Value: v})
		}
		return render(t, Chart{Start: start, End: t0.Add(offset + 10*time.Second), Panels: []Panel{
			{Title: "Backlog", Series: []Series{{Name: "q", Points: pts}}},
		}})
	}
	c := hex(plotutil.Color(0))
	early, late := run(0, t0), run(time.Hour, t0.Add(time.Hour))
	if !slices.Equal(early.xs[c], late.xs[c]) {
		t.Errorf("the same run an hour later is drawn at other x: %v and %v", early.xs[c], late.xs[c])
	}
	if !slices.Contains(late.texts, "seconds since 2026-03-04 11:00:00 UTC") {
		t.Errorf("the axis does not name the start; texts %q", late.texts)
	}
	// With no Start, the first point is the start: the line begins at the
	// left edge of the plot, left of where it begins with Start two
	// seconds earlier.
	fromFirst := run(0, time.Time{})
	if fromFirst.xs[c][0] >= early.xs[c][0] {
		t.Errorf("without Start the line should begin at the axis' origin: x %v, with Start x %v",
			fromFirst.xs[c][0], early.xs[c][0])
	}
}

func TestSpan(t *testing.T) {
	tests := []struct {
		name      string
		chart     Chart
		wantStart time.Time
		wantSecs  float64
	}{
		{"no points", Chart{Panels: []Panel{{}}}, time.Time{}, 1},
		{"one instant", Chart{Panels: []Panel{{Series: []Series{{Points: []Point{at(5, 1)}}}}}}, t0.Add(5 * time.Second), 1},
		{"from the points", Chart{Panels: []Panel{
			{Series: []Series{{Points: []Point{at(7, 1), at(3, 1)}}}},
			{Series: []Series{{Points: []Point{at(12, 1)}}}},
		}}, t0.Add(3 * time.Second), 9},
		{"start and end given", Chart{Start: t0, End: t0.Add(time.Minute), Panels: []Panel{
			{Series: []Series{{Points: []Point{at(7, 1)}}}},
		}}, t0, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, secs := tt.chart.span()
			if !start.Equal(tt.wantStart) || secs != tt.wantSecs {
				t.Errorf("span() = %s, %g; want %s, %g", start, secs, tt.wantStart, tt.wantSecs)
			}
		})
	}
}

func TestWriteFilePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.png")
	c := Chart{Title: "run", Panels: []Panel{
		{Title: "Backlog", Series: []Series{{Name: "q", Points: []Point{at(0, 0), at(1, 3)}}}},
		{Title: "Replicas", Series: []Series{{Name: "desired", Steps: true, Points: []Point{at(0, 1)}}}},
	}}
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding the PNG: %v", err)
	}
	// 96 dots per inch: 8 inches wide, two panels of 2.4 and the title's 0.4.
	if b := img.Bounds(); b.Dx() != 768 || b.Dy() != 499 {
		t.Errorf("PNG is %dx%d, want 768x499", b.Dx(), b.Dy())
	}
	// Something was drawn in the series' color.
	want := plotutil.Color(0)
	found := false
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && !found; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if hex(img.At(x, y)) == hex(want) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Errorf("no pixel of the series' color %s", hex(want))
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	ok := Chart{Panels: []Panel{{Title: "p"}}}
	for _, tt := range []struct {
		name  string
		chart Chart
		path  string
	}{
		{"no panels", Chart{}, filepath.Join(dir, "a.svg")},
		{"unknown extension", ok, filepath.Join(dir, "a.jpg")},
		{"infinite value", Chart{Panels: []Panel{{Series: []Series{{Name: "q", Points: []Point{at(0, math.Inf(1))}}}}}}, filepath.Join(dir, "b.svg")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.chart.WriteFile(tt.path); err == nil {
				t.Errorf("WriteFile(%s) succeeded", tt.path)
			}
		})
	}
	if err := ok.WriteFile(filepath.Join(dir, "c.SVG")); err != nil {
		t.Errorf("an upper-case extension: %v", err)
	}
}

// TestWriteFileKeepsOnError checks that a chart that cannot be drawn leaves
// the file at its path as it was: the chart of an earlier run is not
// replaced by an empty file.
func TestWriteFileKeepsOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.svg")
	if err := os.WriteFile(path, []byte("earlier"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := Chart{Panels: []Panel{{Series: []Series{{Name: "q", Points: []Point{at(0, math.Inf(1))}}}}}}
	if err := bad.WriteFile(path); err == nil {
		t.Fatal("WriteFile of an infinite value succeeded")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "earlier" {
		t.Errorf("after a failed WriteFile the file holds %q (%v), want the earlier %q", b, err, "earlier")
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path string
		ok         bool
	}{
		{"svg in an existing directory", filepath.Join(dir, "run.svg"), true},
		{"png in an existing directory", filepath.Join(dir, "run.png"), true},
		{"unknown extension", filepath.Join(dir, "run.jpg"), false},
		{"missing directory", filepath.Join(dir, "out", "run.svg"), false},
		{"a file for a directory", filepath.Join(file, "run.svg"), false},
		{"a directory for the file", dir + ".svg", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "a directory for the file" {
				if err := os.Mkdir(tt.path, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := CheckFile(tt.path); (err == nil) != tt.ok {
				t.Errorf("CheckFile(%s) = %v, want ok %v", tt.path, err, tt.ok)
			}
		})
	}
}
