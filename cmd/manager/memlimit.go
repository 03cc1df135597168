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

package main

import (
	"os"
	"strconv"
	"strings"
)

// The files that hold a container's memory limit: cgroup v2, then v1.
var cgroupMemoryLimitFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// noCgroupLimit is what cgroup v1 reports for "no limit" (a page-aligned
// maximum); anything at or above it is no limit.
const noCgroupLimit = int64(1) << 60

// goMemoryLimit is the soft memory limit for the Go runtime: ratio of the
// container's memory limit, read from the first of files that holds one.
// Without it the garbage collector lets the heap grow to twice what is
// live before it collects, and an operator with thousands of objects
// reaches a container limit sized for what it holds long before it needs
// to. It returns 0 when there is no limit to follow.
func goMemoryLimit(files []string, ratio float64) int64 {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= noCgroupLimit {
			return 0
		}
		return int64(float64(n) * ratio)
	}
	return 0
}
