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
	"os"
	"testing"
	"time"
)

func TestStatCPUTicks(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    int64
		wantErr bool
	}{
		{
			name: "plain name",
			stat: "4242 (manager) S 1 4242 4242 0 -1 4194560 9165 0 0 0 153 47 0 0 20 0 12 0 1234 1400000000 9000 18446744073709551615",
			want: 200,
		},
		{
			name: "name with spaces and parentheses",
			stat: "7 (a b) (c)) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1",
			want: 11,
		},
		{name: "no name", stat: "7 manager R 1", wantErr: true},
		{name: "cut short", stat: "7 (manager) R 1 7 7 0 -1 0 0 0 0 0 5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statCPUTicks(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("statCPUTicks() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("statCPUTicks() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestStatusKiB(t *testing.T) {
	status := "Name:\tmanager\nVmPeak:\t 1300000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   58312 kB\nThreads:\t12\n"
	tests := []struct {
		name    string
		field   string
		want    int64
		wantErr bool
	}{
		{name: "VmRSS", field: "VmRSS", want: 58312},
		{name: "VmHWM", field: "VmHWM", want: 61234},
		{name: "not a size", field: "Threads", wantErr: true},
		{name: "missing", field: "VmSwap", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statusKiB(status, tt.field)
			if (err != nil) != tt.wantErr {
				t.Fatalf("statusKiB() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("statusKiB() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCPUPercent(t *testing.T) {
	tests := []struct {
		name          string
		before, after int64
		seconds       float64
		want          float64
	}{
		{name: "idle", before: 100, after: 100, seconds: 60, want: 0},
		{name: "a tenth of a core", before: 100, after: 700, seconds: 60, want: 10},
		{name: "two full cores", before: 0, after: 400, seconds: 2, want: 200},
		{name: "no time", before: 0, after: 400, seconds: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CPUPercent(ProcSample{CPUTicks: tt.before}, ProcSample{CPUTicks: tt.after}, tt.seconds)
			if got != tt.want {
				t.Errorf("CPUPercent() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKiB <= 0 || s.HWMKiB < s.RSSKiB {
		t.Errorf("ReadProc(self) = %+v: want 0 < VmRSS ≤ VmHWM", s)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 ... 1, unsorted
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "none", ds: nil, p: 50, want: 0},
		{name: "one", ds: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of odd count", ds: ms(3, 1, 2), p: 50, want: 2 * time.Millisecond},
		{name: "median of even count is the lower middle", ds: ms(4, 1, 3, 2), p: 50, want: 2 * time.Millisecond},
		{name: "p99 of 100", ds: ms(hundred...), p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the maximum", ds: ms(hundred...), p: 100, want: 100 * time.Millisecond},
		{name: "p99 of 10 is the maximum", ds: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSumSamples(t *testing.T) {
	text := `# HELP rest_client_requests_total Number of HTTP requests.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:16443",method="GET"} 120
rest_client_requests_total{code="200",host="127.0.0.1:16443",method="PATCH"} 31
rest_client_requests_total{code="201",host="127.0.0.1:16443",method="POST"} 4
rest_client_requests_total{code="409",host="127.0.0.1:16443",method="PUT"} 2
queueworker_desired_replicas{namespace="bench",queueworker="qw-00001"} 0
queueworker_desired_replicas{namespace="bench",queueworker="qw-00002"} 5
queueworker_redis_read_duration_seconds_sum{endpoint="standalone 127.0.0.1:6379 db 0"} 0.25
queueworker_redis_read_duration_seconds_count{endpoint="standalone 127.0.0.1:6379 db 0"} 100
process_resident_memory_bytes 5.12e+07
`
	writes := func(l map[string]string) bool { return IsWrite(l["method"]) }
	if got := SumSamples(text, "rest_client_requests_total", writes); got != 37 {
		t.Errorf("writes = %v, want 37", got)
	}
	if got := SumSamples(text, "rest_client_requests_total", nil); got != 157 {
		t.Errorf("all requests = %v, want 157", got)
	}
	if got := SumSamples(text, "process_resident_memory_bytes", nil); got != 5.12e7 {
		t.Errorf("unlabelled sample = %v, want 5.12e7", got)
	}
	if got := SumSamples(text, "queueworker_redis_read_duration_seconds_count", nil); got != 100 {
		t.Errorf("histogram count = %v, want 100", got)
	}
	if got := CountSeries(text, "queueworker_desired_replicas"); got != 2 {
		t.Errorf("CountSeries = %d, want 2", got)
	}
	if got := CountSeries(text, "queueworker_desired"); got != 0 {
		t.Errorf("CountSeries of a name prefix = %d, want 0", got)
	}
}

func TestRedisInfo(t *testing.T) {
	info := "# Stats\r\ntotal_connections_received:12\r\ntotal_commands_processed:98765\r\n" +
		"# CPU\r\nused_cpu_user_main_thread:1.250000\r\n" +
		"# Commandstats\r\ncmdstat_evalsha:calls=101,usec=1500,usec_per_call=14.85,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_llen:calls=200,usec=120,usec_per_call=0.60,rejected_calls=0,failed_calls=0\r\n"
	if n, ok := InfoField(info, "total_commands_processed"); !ok || n != 98765 {
		t.Errorf("InfoField = %d, %v; want 98765, true", n, ok)
	}
	if _, ok := InfoField(info, "total_net_input_bytes"); ok {
		t.Error("InfoField found a field that is not there")
	}
	if f, ok := InfoSeconds(info, "used_cpu_user_main_thread"); !ok || f != 1.25 {
		t.Errorf("InfoSeconds = %v, %v; want 1.25, true", f, ok)
	}
	if got := CommandStatsUsec(info); got != 1620 {
		t.Errorf("CommandStatsUsec = %d, want 1620", got)
	}
	list := "id=3 addr=127.0.0.1:50110 laddr=127.0.0.1:6379 fd=8 name=queueworker-operator age=10 cmd=evalsha\n" +
		"id=4 addr=127.0.0.1:50112 laddr=127.0.0.1:6379 fd=9 name= age=10 cmd=client|list\n" +
		"id=5 addr=127.0.0.1:50114 laddr=127.0.0.1:6379 fd=10 name=queueworker-operator-x age=3 cmd=ping\n" +
		"id=6 addr=127.0.0.1:50116 laddr=127.0.0.1:6379 fd=11 name=queueworker-operator age=3 cmd=ping\n"
	if got := CountClients(list, "queueworker-operator"); got != 2 {
		t.Errorf("CountClients = %d, want 2", got)
	}
}
