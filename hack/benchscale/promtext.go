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

package benchscale

import (
	"bufio"
	"strconv"
	"strings"
)

// SumSamples adds the values of the samples of metric in a Prometheus text
// exposition whose labels satisfy keep (nil keeps all). Histograms are
// addressed by their series names (name_sum, name_count).
func SumSamples(text, metric string, keep func(labels map[string]string) bool) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		name, labels, value, ok := parseSample(sc.Text())
		if !ok || name != metric {
			continue
		}
		if keep == nil || keep(labels) {
			sum += value
		}
	}
	return sum
}

// CountSeries counts the samples of metric in a Prometheus text exposition.
func CountSeries(text, metric string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if name, _, _, ok := parseSample(sc.Text()); ok && name == metric {
			n++
		}
	}
	return n
}

// parseSample splits `name{a="x",b="y"} 12.5 [timestamp]`. Label values
// with escaped quotes are not expected in the series the harness reads.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	var rest string
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", nil, 0, false
		}
		name, rest = line[:i], line[j+1:]
		labels = map[string]string{}
		for pair := range strings.SplitSeq(line[i+1:j], ",") {
			k, v, found := strings.Cut(pair, "=")
			if !found {
				continue
			}
			labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	} else {
		var found bool
		name, rest, found = strings.Cut(line, " ")
		if !found {
			return "", nil, 0, false
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}

// IsWrite tells whether an HTTP method changes what the API server stores.
func IsWrite(method string) bool {
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}
