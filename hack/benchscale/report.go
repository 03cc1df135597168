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
	"strings"
	"time"
)

// Markdown renders a result as a markdown section: the settings, then one
// table of what was measured.
func (r *Result) Markdown() string {
	var b strings.Builder
	cfg := r.Config
	fmt.Fprintf(&b, "### N = %d QueueWorkers\n\n", cfg.N)
	fmt.Fprintf(&b, "%s, %s; %d bursts of %d tasks, idle window %s, scale to zero after %s, leader election %v.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Machine, cfg.Bursts, cfg.BurstTasks, cfg.Idle,
		cfg.ScaleToZero, cfg.LeaderElect)
	if len(cfg.ManagerArgs)+len(cfg.ManagerEnv) > 0 {
		fmt.Fprintf(&b, "Manager flags %q, environment %q.\n\n", cfg.ManagerArgs, cfg.ManagerEnv)
	}
	b.WriteString("| phase | measure | value |\n|---|---|---:|\n")
	row := func(phase, measure, value string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", phase, measure, value) }

	row("create (no operator)", fmt.Sprintf("%d creates, %d clients", cfg.N, cfg.CreateWorkers), dur(r.Create))
	row("create (no operator)", "one create p50 / p99", dur(r.CreateP50)+" / "+dur(r.CreateP99))
	startRows(row, "start", r.Start, true)
	row("settle", fmt.Sprintf("all decided → Deployments at 0 replicas (%d of %d), all Ready, work queue empty for 5s", r.SettledAt0, cfg.N),
		dur(r.SettleAfter))

	i := r.Idle
	row("idle", "operator CPU (% of one core)", fmt.Sprintf("%.1f %%", i.CPUPercent))
	row("idle", "operator RSS (VmRSS / VmHWM)", mib(i.RSSKiB)+" / "+mib(i.HWMKiB))
	row("idle", "operator API writes per minute", perMethod(i.WritesPerMin))
	row("idle", "changes seen per minute: QueueWorkers, Deployments, Events, lease",
		fmt.Sprintf("%d, %d, %d, %d", i.Seen.QueueWorkers, i.Seen.Deployments, i.Seen.Events, i.Seen.Lease))
	row("idle", "Redis connections of the operator", fmt.Sprint(i.RedisClients))
	row("idle", "Redis commands per second", fmt.Sprintf("%.0f", i.RedisCmdPerSec))
	row("idle", "reads (ticks) per second", fmt.Sprintf("%.2f", i.TicksPerSec))
	row("idle", "Redis time per tick: commandstats usec / main-thread CPU", fmt.Sprintf("%.0f µs / %.0f µs", i.UsecPerTick, i.CPUUsecPerTick))
	row("idle", "operator's read per tick (queueworker_redis_read_duration_seconds)", fmt.Sprintf("%.1f ms", i.ReadMsPerTick))

	burstValue := "none"
	if len(r.Bursts) > 0 {
		burstValue = fmt.Sprintf("%s / %s / %s", dur(Percentile(r.Bursts, 50)), dur(Percentile(r.Bursts, 99)),
			dur(Percentile(r.Bursts, 100)))
	}
	if r.BurstMissed > 0 {
		burstValue += fmt.Sprintf(" (%d without a scale-up)", r.BurstMissed)
	}
	row("burst", fmt.Sprintf("enqueue → spec.replicas rises, p50 / p99 / max of %d", len(r.Bursts)), burstValue)

	startRows(row, "SIGKILL, restart", r.Restart, false)
	rb := dur(r.RestartBurst)
	if r.RestartBurstMissed {
		rb = "no scale-up within " + dur(cfg.Timeout)
	}
	row("SIGKILL, restart", "burst enqueued after the kill → spec.replicas rises", rb)
	return b.String()
}

func startRows(row func(phase, measure, value string), phase string, s StartResult, status bool) {
	if s.Leader > 0 {
		row(phase, "start → lease acquired", dur(s.Leader))
	}
	row(phase, "start → every QueueWorker decided in the operator (metrics)", dur(s.AllInOperator))
	if s.Leader > 0 {
		row(phase, "lease acquired → every QueueWorker decided in the operator", dur(s.AllInOperator-s.Leader))
	}
	if status {
		row(phase, fmt.Sprintf("start → status shows the first read: first / p50 / p99 / all %d", s.StatusDecided),
			fmt.Sprintf("%s / %s / %s / %s", dur(s.FirstStatus), dur(s.StatusP50), dur(s.StatusP99), dur(s.AllStatus)))
	}
	if s.Reconciles > 0 {
		row(phase, "QueueWorker reconciles until then: count, total time, mean",
			fmt.Sprintf("%.0f, %s, %s", s.Reconciles, dur(time.Duration(s.ReconcileSeconds*float64(time.Second))),
				dur(time.Duration(s.ReconcileSeconds/s.Reconciles*float64(time.Second)))))
	}
	row(phase, "operator CPU until then", fmt.Sprintf("%.1f s", s.CPUSeconds))
	if s.MachineCPUSeconds > 0 {
		parts := make([]string, 0, len(controlPlane))
		for _, name := range controlPlane {
			parts = append(parts, fmt.Sprintf("%s %.1f", name, s.OthersCPUSeconds[name]))
		}
		row(phase, "CPU seconds meanwhile: whole machine; by process",
			fmt.Sprintf("%.1f; %s", s.MachineCPUSeconds, strings.Join(parts, ", ")))
	}
	row(phase, "operator RSS then (VmRSS / VmHWM)", mib(s.RSSKiB)+" / "+mib(s.HWMKiB))
	row(phase, "operator API writes until then", perMethod(s.Writes))
	row(phase, "changes seen until then: QueueWorkers, Deployments (any writer), Events (any source)",
		fmt.Sprintf("%d, %d, %d", s.Seen.QueueWorkers, s.Seen.Deployments, s.Seen.Events))
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func perMethod(m map[string]float64) string {
	if len(m) == 0 {
		return "not read"
	}
	var total float64
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		total += m[k]
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%.0f (%s)", total, strings.Join(parts, ", "))
}
