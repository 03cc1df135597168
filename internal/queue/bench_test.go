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

package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// BenchmarkReadStats reads 1 to 1000 queues from a real redis-server. Each
// queue holds three pending tasks and one scheduled task, enqueued through
// asynq's Client. round-trips/op counts pipelines sent; commands/op counts
// the commands in them.
//
//	go test -run='^$' -bench=ReadStats -benchtime=200x ./internal/queue/
func BenchmarkReadStats(b *testing.B) {
	const most = 1000
	h := &counter{}
	rdb := newReader(b, h)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: redisServer.Addr})
	b.Cleanup(func() { _ = client.Close() })
	queues := queueNames("bench", most)
	for _, q := range queues {
		for _, opt := range []asynq.Option{nil, nil, nil, asynq.ProcessIn(time.Hour)} {
			opts := []asynq.Option{asynq.Queue(q)}
			if opt != nil {
				opts = append(opts, opt)
			}
			if _, err := client.Enqueue(asynq.NewTask("bench", nil), opts...); err != nil {
				b.Fatal(err)
			}
		}
	}

	for _, n := range []int{1, 10, 100, most} {
		b.Run(fmt.Sprintf("queues=%d", n), func(b *testing.B) {
			ctx := b.Context()
			names := queues[:n]
			if _, err := ReadStats(ctx, rdb, names, time.Now(), time.Minute); err != nil {
				b.Fatal(err)
			}
			h.reset()
			now := time.Now()
			for b.Loop() {
				got, err := ReadStats(ctx, rdb, names, now, time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if got[names[0]].Pending != 3 {
					b.Fatalf("queue %s: %+v", names[0], got[names[0]])
				}
			}
			b.ReportMetric(float64(h.pipelines.Load())/float64(b.N), "round-trips/op")
			b.ReportMetric(float64(h.commands.Load())/float64(b.N), "commands/op")
		})
	}
}
