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
	"strconv"
	"strings"
)

// InfoField returns a numeric field of a Redis INFO reply
// ("total_commands_processed:123").
func InfoField(info, name string) (int64, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// InfoSeconds returns a field of a Redis INFO reply that holds seconds
// ("used_cpu_user_main_thread:1.234567").
func InfoSeconds(info, name string) (float64, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// CommandStatsUsec sums the usec of every command in an INFO commandstats
// reply ("cmdstat_get:calls=2,usec=15,usec_per_call=7.50,..."). Commands a
// script runs are counted in their own lines as well as in the script's.
func CommandStatsUsec(info string) int64 {
	var sum int64
	for line := range strings.Lines(info) {
		_, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		for f := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					sum += n
				}
			}
		}
	}
	return sum
}

// CountClients counts the connections of a CLIENT LIST reply whose client
// name is name.
func CountClients(clientList, name string) int {
	n := 0
	for line := range strings.Lines(clientList) {
		for f := range strings.FieldsSeq(line) {
			if f == "name="+name {
				n++
				break
			}
		}
	}
	return n
}
