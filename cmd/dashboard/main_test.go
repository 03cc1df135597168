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
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/test/redistest"
)

// waitFor bounds waiting for things that take a second or two, generous
// for a busy machine.
const waitFor = 20 * time.Second

const redisPassword = "dashboard-pw"

var (
	redisServer *redistest.Server
	binDir      string
)

func TestMain(m *testing.M) {
	srv, err := redistest.Start("requirepass " + redisPassword)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting redis-server:", err)
		os.Exit(1)
	}
	redisServer = srv
	binDir, err = os.MkdirTemp("", "dashboard-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a directory for the binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = srv.Close()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

// build compiles this command once for all tests, so they talk to a real
// process started with real flags, environment and signals.
var build = sync.OnceValues(func() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command: %w", err)
	}
	bin := filepath.Join(binDir, "dashboard")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

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

// process is a running dashboard binary.
type process struct {
	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
	err    error
	base   string
}

// startDashboard runs the binary with args (and --bind-address on a free
// loopback port) and env added to the test's environment, and waits for its
// "dashboard started" line.
func startDashboard(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{
		cmd:    exec.Command(bin, append([]string{"--bind-address=127.0.0.1:0"}, args...)...),
		output: &syncBuffer{},
		exited: make(chan struct{}),
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, contract.Prefix) {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting the dashboard: %v", err)
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
			t.Logf("dashboard output:\n%s", p.output.String())
		}
	})
	deadline := time.Now().Add(waitFor)
	for p.base == "" {
		for line := range strings.SplitSeq(p.output.String(), "\n") {
			var entry struct {
				Msg      string `json:"msg"`
				HTTPAddr string `json:"httpAddr"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "dashboard started" {
				p.base = "http://" + entry.HTTPAddr
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("the dashboard exited before it started serving: %v", p.err)
		default:
		}
		if p.base == "" && time.Now().After(deadline) {
			t.Fatalf("the dashboard did not log its address within %s", waitFor)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// terminate sends SIGTERM and fails the test unless the process exits 0
// within waitFor.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		t.Fatalf("the dashboard did not exit within %s of SIGTERM", waitFor)
	}
	if p.err != nil {
		t.Fatalf("the dashboard exited with %v after SIGTERM, want status 0", p.err)
	}
}

// do sends a request with the headers a browser adds to a same-origin
// request from the dashboard's own UI, and returns the status and body.
func (p *process) do(t *testing.T, method, path string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// getJSON GETs path, fails the test on any status but 200, and decodes the
// body into into.
func (p *process) getJSON(t *testing.T, path string, into any) {
	t.Helper()
	code, body := p.do(t, http.MethodGet, path, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		t.Fatalf("GET %s: decoding %q: %v", path, body, err)
	}
}

// redisClient is a client of the test's redis-server.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr, Password: redisPassword})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// queueStats is the part of asynqmon's queue snapshot the tests read.
type queueStats struct {
	Queue     string `json:"queue"`
	Size      int    `json:"size"`
	Active    int    `json:"active"`
	Pending   int    `json:"pending"`
	Scheduled int    `json:"scheduled"`
	Retry     int    `json:"retry"`
	Archived  int    `json:"archived"`
	Paused    bool   `json:"paused"`
}

// task is the part of asynqmon's task the tests read.
type task struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Payload      string `json:"payload"`
	ErrorMessage string `json:"error_message"`
}

// fill enqueues into queue prefix+"-email" two pending tasks and one
// scheduled an hour ahead, and into prefix+"-reports" one task that an
// asynq server fails, once and for good, with failure. It returns the
// names of both queues and the pending tasks' ids.
func fill(t *testing.T, prefix, failure string) (email, reports string, pendingIDs []string) {
	t.Helper()
	email, reports = prefix+"-email", prefix+"-reports"
	rdb := redisClient(t)
	client := asynq.NewClientFromRedisClient(rdb)
	for i := range 2 {
		info, err := client.Enqueue(asynq.NewTask("email:send", fmt.Appendf(nil, `{"to":"user%d@example.com"}`, i)), asynq.Queue(email))
		if err != nil {
			t.Fatalf("enqueueing: %v", err)
		}
		pendingIDs = append(pendingIDs, info.ID)
	}
	if _, err := client.Enqueue(asynq.NewTask("email:digest", []byte(`{"week":27}`)), asynq.Queue(email), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatalf("enqueueing: %v", err)
	}
	if _, err := client.Enqueue(asynq.NewTask("report:render", []byte(`{"report":"q3"}`)), asynq.Queue(reports), asynq.MaxRetry(0)); err != nil {
		t.Fatalf("enqueueing: %v", err)
	}

	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues:      map[string]int{reports: 1},
		Concurrency: 1,
		LogLevel:    asynq.ErrorLevel,
	})
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return errors.New(failure) })); err != nil {
		t.Fatalf("starting the asynq server: %v", err)
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(waitFor)
	for {
		info, err := inspector.GetQueueInfo(reports)
		if err == nil && info.Archived == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing task was not archived within %s (last: %+v, %v)", waitFor, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.Shutdown()
	return email, reports, pendingIDs
}

// queuesByName reads /api/queues.
func queuesByName(t *testing.T, p *process) map[string]queueStats {
	t.Helper()
	var resp struct {
		Queues []queueStats `json:"queues"`
	}
	p.getJSON(t, "/api/queues", &resp)
	byName := map[string]queueStats{}
	for _, q := range resp.Queues {
		byName[q.Queue] = q
	}
	return byName
}

// TestReadOnly runs the dashboard with its defaults and the password from
// the environment, and reads through its API what an asynq producer and
// server wrote: queues, counts per state, payloads and a task's error. It
// then checks that no request can change Redis.
func TestReadOnly(t *testing.T) {
	const failure = "render service answered 503"
	email, reports, pendingIDs := fill(t, "ro", failure)
	p := startDashboard(t, []string{contract.EnvRedisPassword + "=" + redisPassword}, "--redis-addr="+redisServer.Addr)

	if code, body := p.do(t, http.MethodGet, "/healthz", nil); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}

	queues := queuesByName(t, p)
	wantEmail := queueStats{Queue: email, Size: 3, Pending: 2, Scheduled: 1}
	if got := queues[email]; got != wantEmail {
		t.Errorf("queue %s = %+v, want %+v", email, got, wantEmail)
	}
	wantReports := queueStats{Queue: reports, Size: 1, Archived: 1}
	if got := queues[reports]; got != wantReports {
		t.Errorf("queue %s = %+v, want %+v", reports, got, wantReports)
	}

	var pending struct {
		Tasks []task `json:"tasks"`
	}
	p.getJSON(t, "/api/queues/"+email+"/pending_tasks", &pending)
	payloads := map[string]string{}
	for _, tk := range pending.Tasks {
		payloads[tk.ID] = tk.Payload
	}
	for i, id := range pendingIDs {
		if want := fmt.Sprintf(`{"to":"user%d@example.com"}`, i); payloads[id] != want {
			t.Errorf("pending task %s payload = %q, want %q (all: %+v)", id, payloads[id], want, pending.Tasks)
		}
	}

	var scheduled struct {
		Tasks []task `json:"tasks"`
	}
	p.getJSON(t, "/api/queues/"+email+"/scheduled_tasks", &scheduled)
	if len(scheduled.Tasks) != 1 || scheduled.Tasks[0].Type != "email:digest" || scheduled.Tasks[0].Payload != `{"week":27}` {
		t.Errorf("scheduled tasks = %+v, want the one email:digest", scheduled.Tasks)
	}

	var archived struct {
		Tasks []task `json:"tasks"`
	}
	p.getJSON(t, "/api/queues/"+reports+"/archived_tasks", &archived)
	if len(archived.Tasks) != 1 || archived.Tasks[0].Type != "report:render" ||
		archived.Tasks[0].Payload != `{"report":"q3"}` || archived.Tasks[0].ErrorMessage != failure {
		t.Errorf("archived tasks = %+v, want report:render with error %q", archived.Tasks, failure)
	}
	var one task
	p.getJSON(t, "/api/queues/"+reports+"/tasks/"+archived.Tasks[0].ID, &one)
	if one.ErrorMessage != failure {
		t.Errorf("task %s error = %q, want %q", archived.Tasks[0].ID, one.ErrorMessage, failure)
	}

	// The UI itself: asynqmon's embedded index page and its scripts, told
	// that the dashboard is read-only.
	code, index := p.do(t, http.MethodGet, "/", nil)
	if code != http.StatusOK || !strings.Contains(index, "<html") {
		t.Fatalf("GET / = %d, want asynqmon's index page:\n%.300s", code, index)
	}
	if !strings.Contains(index, `window.FLAG_READ_ONLY="true"`) {
		t.Errorf("the index page does not tell the UI it is read-only:\n%.2000s", index)
	}
	script := regexp.MustCompile(`src="(/static/js/[^"]+\.js)"`).FindStringSubmatch(index)
	if script == nil {
		t.Fatalf("the index page loads no script from /static/js:\n%.2000s", index)
	}
	if code, js := p.do(t, http.MethodGet, script[1], nil); code != http.StatusOK || len(js) < 1000 {
		t.Errorf("GET %s = %d with %d bytes, want the UI's script", script[1], code, len(js))
	}

	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}
	writes := []struct{ method, path string }{
		{http.MethodPost, "/api/queues/" + email + ":pause"},
		{http.MethodDelete, "/api/queues/" + email + "/pending_tasks/" + pendingIDs[0]},
		{http.MethodDelete, "/api/queues/" + email + "/pending_tasks:delete_all"},
		{http.MethodPost, "/api/queues/" + reports + "/archived_tasks:run_all"},
		{http.MethodDelete, "/api/queues/" + reports},
		{http.MethodPut, "/api/queues/" + email},
	}
	for _, w := range writes {
		if code, body := p.do(t, w.method, w.path, sameOrigin); code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d %s, want 405 in read-only mode", w.method, w.path, code, body)
		}
	}
	if got := queuesByName(t, p); got[email] != wantEmail || got[reports] != wantReports {
		t.Errorf("after the refused writes: %s = %+v, %s = %+v; want them unchanged", email, got[email], reports, got[reports])
	}

	p.terminate(t)
}

// TestWritesAllowed runs the dashboard with --read-only=false and the
// password from a file: pausing and resuming a queue works, a browser's
// cross-site request is still refused.
func TestWritesAllowed(t *testing.T) {
	email, _, _ := fill(t, "rw", "boom")
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(redisPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDashboard(t, nil, "--redis-addr="+redisServer.Addr, "--redis-password-file="+pwFile, "--read-only=false")
	inspector := asynq.NewInspectorFromRedisClient(redisClient(t))
	paused := func() bool {
		t.Helper()
		info, err := inspector.GetQueueInfo(email)
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused
	}

	if code, body := p.do(t, http.MethodPost, "/api/queues/"+email+":pause", map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site POST pause = %d %s, want 403", code, body)
	}
	if paused() {
		t.Fatal("a cross-site request paused the queue")
	}

	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin"}
	if code, body := p.do(t, http.MethodPost, "/api/queues/"+email+":pause", sameOrigin); code != http.StatusNoContent {
		t.Fatalf("POST pause = %d %s, want 204", code, body)
	}
	if !paused() {
		t.Fatal("the queue is not paused after POST pause")
	}
	if got := queuesByName(t, p)[email]; !got.Paused {
		t.Errorf("/api/queues shows %s = %+v, want paused", email, got)
	}
	if code, body := p.do(t, http.MethodPost, "/api/queues/"+email+":resume", sameOrigin); code != http.StatusNoContent {
		t.Fatalf("POST resume = %d %s, want 204", code, body)
	}
	if paused() {
		t.Fatal("the queue is still paused after POST resume")
	}
	p.terminate(t)
}

// TestWrongPassword: the dashboard starts (Redis may come later), and its
// API answers with an error instead of data.
func TestWrongPassword(t *testing.T) {
	p := startDashboard(t, []string{contract.EnvRedisPassword + "=wrong"}, "--redis-addr="+redisServer.Addr)
	if code, body := p.do(t, http.MethodGet, "/api/queues", nil); code != http.StatusInternalServerError {
		t.Errorf("GET /api/queues with a wrong password = %d %s, want 500", code, body)
	}
	if code, _ := p.do(t, http.MethodGet, "/healthz", nil); code != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", code)
	}
	p.terminate(t)
}

// TestBadFlags: the binary exits 1 naming every problem, and never shows
// the password.
func TestBadFlags(t *testing.T) {
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--redis-db=-1", "--redis-tls-server-name=redis.example.com", "--redis-password-file=/nonexistent")
	cmd.Env = append(os.Environ(), contract.EnvRedisPassword+"=hunter2")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("dashboard = %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"--redis-addr is required", "--redis-db -1", "need --redis-tls", "both --redis-password-file and " + contract.EnvRedisPassword} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "hunter2") {
		t.Errorf("output shows the password:\n%s", out)
	}
}
