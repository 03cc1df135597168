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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/cmd/worker/demotasks"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// waitFor bounds waiting for things that take a second or two, generous
// for a busy machine.
const waitFor = 20 * time.Second

var (
	redisServer *redistest.Server
	binDir      string
)

func TestMain(m *testing.M) {
	srv, err := redistest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting redis-server:", err)
		os.Exit(1)
	}
	redisServer = srv
	binDir, err = os.MkdirTemp("", "worker-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a directory for the binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = srv.Close()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

// build compiles this command once for all tests, so they send signals to
// a real process rather than to the test itself.
var build = sync.OnceValues(func() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command: %w", err)
	}
	bin := filepath.Join(binDir, "worker")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

func buildWorker(t *testing.T) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// workerEnv is the environment the operator would inject for queue, with
// the test's Redis and a short shutdown timeout.
func workerEnv(queue string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, contract.Prefix) {
			env = append(env, kv)
		}
	}
	for k, v := range map[string]string{
		contract.EnvQueues:               queue + "=1",
		contract.EnvStrictPriority:       "false",
		contract.EnvConcurrency:          "2",
		contract.EnvShutdownTimeout:      "1s",
		contract.EnvHealthCheckInterval:  "5s",
		contract.EnvHTTPAddr:             "127.0.0.1:0",
		contract.EnvRedisMode:            contract.ModeStandalone,
		contract.EnvRedisAddr:            redisServer.Addr,
		contract.EnvRedisDB:              "0",
		contract.EnvRedisTLS:             "false",
		contract.EnvRedisPoolSize:        "5",
		contract.EnvRedisMinIdleConns:    "1",
		contract.EnvRedisDialTimeout:     "2s",
		contract.EnvRedisReadTimeout:     "2s",
		contract.EnvRedisWriteTimeout:    "2s",
		contract.EnvRedisPoolTimeout:     "2s",
		contract.EnvRedisConnMaxIdleTime: "1m",
		contract.EnvRedisMaxRetries:      "1",
	} {
		env = append(env, k+"="+v)
	}
	return env
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running worker binary.
type process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
	err    error
}

func startProcess(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), output: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output.String())
		}
	})
	return p
}

// terminate sends SIGTERM and fails the test unless the process exits 0
// within waitFor.
func (p *process) terminate(t *testing.T, name string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM to %s: %v", name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		t.Fatalf("%s did not exit within %s of SIGTERM", name, waitFor)
	}
	if p.err != nil {
		t.Fatalf("%s exited with %v after SIGTERM, want status 0", name, p.err)
	}
}

func eventually(t *testing.T, what string, within time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last error: %v)", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGTERMReturnsTaskToQueue runs the worker binary, stops it with a real
// SIGTERM while a task runs, and checks that the task goes back to its
// queue and that a second worker then completes it exactly once.
func TestSIGTERMReturnsTaskToQueue(t *testing.T) {
	const queue = "sigterm"
	// Long enough that the first worker is always stopped mid-task, short
	// enough that the second one finishes it quickly.
	const taskDuration = 10 * time.Second
	bin := buildWorker(t)
	env := workerEnv(queue)
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	defer func() { _ = rdb.Close() }()
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	ctx := context.Background()

	enqueue := exec.Command(bin, "enqueue", "--queue", queue, "--count", "1",
		"--type", demotasks.TypeSleep, "--duration", taskDuration.String())
	enqueue.Env = env
	out, err := enqueue.Output()
	if err != nil {
		t.Fatalf("worker enqueue: %v", err)
	}
	id := strings.TrimSpace(string(out))
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("worker enqueue printed %q, want one task id", out)
	}

	first := startProcess(t, "first worker", bin, env, "run")
	eventually(t, "first worker starts the task", waitFor, func() (bool, error) {
		info, err := inspector.GetTaskInfo(queue, id)
		return err == nil && info.State == asynq.TaskStateActive, err
	})
	first.terminate(t, "first worker")

	info, err := inspector.GetTaskInfo(queue, id)
	if err != nil {
		t.Fatalf("looking up the task after SIGTERM: %v", err)
	}
	if info.State != asynq.TaskStatePending {
		t.Fatalf("task state after SIGTERM = %s, want pending", info.State)
	}
	if active, err := inspector.ListActiveTasks(queue); err != nil || len(active) != 0 {
		t.Errorf("active tasks after SIGTERM = %d (err %v), want none", len(active), err)
	}
	if n, err := completions(ctx, rdb, id); err != nil || n != 0 {
		t.Fatalf("ledger shows %d completions (err %v) of the interrupted task, want 0", n, err)
	}

	// No subcommand: run is the default.
	second := startProcess(t, "second worker", bin, env)
	eventually(t, "second worker completes the task", taskDuration+waitFor, func() (bool, error) {
		n, err := completions(ctx, rdb, id)
		return n >= 1, err
	})
	second.terminate(t, "second worker")

	if n, err := completions(ctx, rdb, id); err != nil || n != 1 {
		t.Errorf("ledger shows %d completions (err %v), want exactly 1", n, err)
	}
	// Completed tasks without retention leave asynq altogether.
	if _, err := inspector.GetTaskInfo(queue, id); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("looking up the completed task = %v, want ErrTaskNotFound", err)
	}
	if active, err := inspector.ListActiveTasks(queue); err != nil || len(active) != 0 {
		t.Errorf("active tasks at the end = %d (err %v), want none", len(active), err)
	}
}

func TestRunRejectsBadEnvironment(t *testing.T) {
	bin := buildWorker(t)
	env := append(workerEnv("bad"), contract.EnvConcurrency+"=abc", contract.EnvRedisPoolSize+"=0")
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("worker run = %v, want exit status 1\n%s", err, out)
	}
	for _, v := range []string{contract.EnvConcurrency, contract.EnvRedisPoolSize} {
		if !strings.Contains(string(out), v+":") {
			t.Errorf("output does not name %s:\n%s", v, out)
		}
	}
}

// completions reads from the demo tasks' ledger how often the task with
// payload ID id completed.
func completions(ctx context.Context, rdb redis.UniversalClient, id string) (int64, error) {
	n, err := rdb.HGet(ctx, demotasks.LedgerKey, id).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// httpAddr waits for the worker's "worker started" line and returns the
// address it serves HTTP on.
func (p *process) httpAddr(t *testing.T) string {
	t.Helper()
	var addr string
	eventually(t, "the worker logs its HTTP address", waitFor, func() (bool, error) {
		for line := range strings.SplitSeq(p.output.String(), "\n") {
			var entry struct {
				Msg      string `json:"msg"`
				HTTPAddr string `json:"httpAddr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "worker started" {
				addr = entry.HTTPAddr
				return true, nil
			}
		}
		return false, nil
	})
	return addr
}

// readyz returns the status and body of the worker's /readyz.
func readyz(addr string) (int, string, error) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// TestSIGTERMDuringDrain drains the worker binary through its drain key
// while a task runs, enqueues another, and stops it with a real SIGTERM:
// it exits 0 and the running task goes back to its queue, the other never
// taken. A second worker started while the key is still set takes
// neither, until the drain is cancelled; then each completes exactly once.
func TestSIGTERMDuringDrain(t *testing.T) {
	const queue = "drain-sigterm"
	const taskDuration = 10 * time.Second
	bin := buildWorker(t)
	env := workerEnv(queue)
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	defer func() { _ = rdb.Close() }()
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	ctx := context.Background()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	key := contract.DrainKey(host)
	t.Cleanup(func() { _ = rdb.Del(context.Background(), key).Err() })
	enqueue := func(d time.Duration) string {
		t.Helper()
		cmd := exec.Command(bin, "enqueue", "--queue", queue, "--count", "1", "--type", demotasks.TypeSleep, "--duration", d.String())
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("worker enqueue: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	stateOf := func(id string) (asynq.TaskState, error) {
		info, err := inspector.GetTaskInfo(queue, id)
		if err != nil {
			return 0, err
		}
		return info.State, nil
	}
	draining := func(addr string) func() (bool, error) {
		return func() (bool, error) {
			code, body, err := readyz(addr)
			return code == http.StatusServiceUnavailable && body == "draining", err
		}
	}

	first := startProcess(t, "first worker", bin, env, "run")
	addr := first.httpAddr(t)
	running := enqueue(taskDuration)
	eventually(t, "the first worker starts the task", waitFor, func() (bool, error) {
		s, err := stateOf(running)
		return s == asynq.TaskStateActive, err
	})
	if err := rdb.Set(ctx, key, time.Now().UTC().Format(time.RFC3339), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first worker drains", waitFor, draining(addr))
	waiting := enqueue(100 * time.Millisecond)
	// asynq's processor looks at empty queues every second.
	time.Sleep(3 * time.Second)
	if s, err := stateOf(waiting); err != nil || s != asynq.TaskStatePending {
		t.Fatalf("the task enqueued during the drain is %s (err %v), want pending", s, err)
	}
	first.terminate(t, "first worker")
	for _, id := range []string{running, waiting} {
		if s, err := stateOf(id); err != nil || s != asynq.TaskStatePending {
			t.Fatalf("task %s after SIGTERM is %s (err %v), want pending", id, s, err)
		}
	}

	second := startProcess(t, "second worker", bin, env, "run")
	addr = second.httpAddr(t)
	eventually(t, "the second worker starts drained", waitFor, draining(addr))
	time.Sleep(3 * time.Second)
	for _, id := range []string{running, waiting} {
		if n, err := completions(ctx, rdb, id); err != nil || n != 0 {
			t.Fatalf("task %s completed %d times (err %v) on a worker started drained, want 0", id, n, err)
		}
	}
	if err := rdb.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second worker completes both tasks", taskDuration+waitFor, func() (bool, error) {
		a, err := completions(ctx, rdb, running)
		if err != nil {
			return false, err
		}
		b, err := completions(ctx, rdb, waiting)
		return a >= 1 && b >= 1, err
	})
	second.terminate(t, "second worker")
	for _, id := range []string{running, waiting} {
		if n, err := completions(ctx, rdb, id); err != nil || n != 1 {
			t.Errorf("ledger shows %d completions (err %v) of task %s, want exactly 1", n, err, id)
		}
	}
}
