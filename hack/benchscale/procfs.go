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
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat: 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is what the harness reads of a process at one instant.
type ProcSample struct {
	// RSSKiB is VmRSS, the resident set now; HWMKiB is VmHWM, its peak.
	RSSKiB, HWMKiB int64
	// CPUTicks is utime+stime in clock ticks.
	CPUTicks int64
}

// ReadProc samples a live process.
func ReadProc(pid int) (ProcSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, err
	}
	var s ProcSample
	if s.RSSKiB, err = statusKiB(string(status), "VmRSS"); err != nil {
		return ProcSample{}, err
	}
	if s.HWMKiB, err = statusKiB(string(status), "VmHWM"); err != nil {
		return ProcSample{}, err
	}
	if s.CPUTicks, err = statCPUTicks(string(stat)); err != nil {
		return ProcSample{}, err
	}
	return s, nil
}

// statusKiB returns a "Name:   1234 kB" field of /proc/<pid>/status.
func statusKiB(status, name string) (int64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc status field %s is %q, not a size in kB", name, strings.TrimSpace(rest))
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc status has no field %s", name)
}

// statCPUTicks returns utime+stime of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may hold spaces and parentheses
// itself, so the fields are counted from the last ")": utime and stime are
// fields 14 and 15, the 12th and 13th after it.
func statCPUTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q has no command name", stat)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat has %d fields after the command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return utime + stime, nil
}

// CPUPercent is the CPU a process used between two samples, in percent of
// one core.
func CPUPercent(before, after ProcSample, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(after.CPUTicks-before.CPUTicks) / clockTicks / seconds * 100
}

// cpuByCommand sums utime+stime, in clock ticks, of the live processes
// whose command name (/proc/<pid>/comm) is one of names, by name. A process
// that exits between two samples drops out of the later one, so the
// difference of two samples is a lower bound for its name.
func cpuByCommand(names ...string) map[string]int64 {
	out := map[string]int64{}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		if !want[name] {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if ticks, err := statCPUTicks(string(stat)); err == nil {
			out[name] += ticks
		}
	}
	return out
}

// machineCPUTicks is the CPU time, in clock ticks, all processes of the
// machine spent outside idle and iowait (the first line of /proc/stat).
func machineCPUTicks() int64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	var busy int64
	for i, f := range fields[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy
}

// controlPlane are the command names of the local cluster's processes and
// redis-server, whose CPU the report sets beside the operator's.
var controlPlane = []string{"kube-apiserver", "etcd", "kube-controller", "kwok", "redis-server"}
