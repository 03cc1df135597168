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
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// An asynq server in a process of its own, so that a test can kill it the
// way a node kills a pod (SIGKILL, no shutdown): its heartbeats stop, and
// the leases and heartbeat keys it wrote expire in Redis. The process is
// this test binary run again with workerProcessEnv set; TestMain then runs
// runWorkerProcess instead of the tests.
const (
	// workerProcessEnv holds the Redis address.
	workerProcessEnv = "QUEUE_TEST_WORKER_REDIS"
	// workerQueueEnv and workerConcurrencyEnv configure the server.
	workerQueueEnv       = "QUEUE_TEST_WORKER_QUEUE"
	workerConcurrencyEnv = "QUEUE_TEST_WORKER_CONCURRENCY"
)

// runWorkerProcess runs an asynq server whose handler holds every task
// until the process dies, and never returns unless the server fails to
// start.
func runWorkerProcess(addr string) int {
	concurrency, err := strconv.Atoi(os.Getenv(workerConcurrencyEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{
		Concurrency:       concurrency,
		Queues:            map[string]int{os.Getenv(workerQueueEnv): 1},
		TaskCheckInterval: 50 * time.Millisecond,
		LogLevel:          asynq.FatalLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		<-ctx.Done()
		return ctx.Err()
	})); err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 1
	}
	select {}
}

// startWorkerProcess runs an asynq server on queue in a new process and
// returns it; cleanup kills it if the test has not.
func startWorkerProcess(t *testing.T, queue string, concurrency int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		workerProcessEnv+"="+redisServer.Addr,
		workerQueueEnv+"="+queue,
		workerConcurrencyEnv+"="+strconv.Itoa(concurrency))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killProcess(t, cmd) })
	return cmd
}

// killProcess sends SIGKILL, as the kubelet does after the grace period or
// the kernel on OOM, and waits for the process to be gone.
func killProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.ProcessState != nil {
		return
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}
