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

package worker

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// workerACLUser is the user name docs/security.md gives the workers.
const workerACLUser = "queueworker-workers"

// documentedWorkerACL returns the ACL SETUSER arguments that
// docs/security.md gives the workers' user, with the password replaced by
// password, so the tests prove the line users copy.
func documentedWorkerACL(t *testing.T, password string) []any {
	t.Helper()
	f, err := os.Open("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	prefix := "ACL SETUSER " + workerACLUser + " "
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		rules := strings.Fields(strings.TrimPrefix(line, prefix))
		args := make([]any, 0, 4+len(rules))
		args = append(args, "ACL", "SETUSER", workerACLUser, "reset")
		for _, rule := range rules {
			if strings.HasPrefix(rule, ">") {
				rule = ">" + password
			}
			args = append(args, rule)
		}
		return args
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("docs/security.md has no line starting with %q", prefix)
	return nil
}

// createWorkerUser creates the documented workers' user on the test Redis
// and returns an admin client, which stays the unrestricted default user.
func createWorkerUser(t *testing.T, password string) *redis.Client {
	t.Helper()
	admin := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	if err := admin.Do(ctx, documentedWorkerACL(t, password)...).Err(); err != nil {
		t.Fatalf("creating the documented workers' user: %v", err)
	}
	t.Cleanup(func() { _ = admin.Do(context.Background(), "ACL", "DELUSER", workerACLUser).Err() })
	return admin
}

// TestWorkerUnderDocumentedACL runs a worker as the ACL user that
// docs/security.md documents: it processes tasks, and asynq's cancellation
// channel reaches it, which takes the channel rule on Redis 7 (whose
// acl-pubsub-default is resetchannels).
func TestWorkerUnderDocumentedACL(t *testing.T) {
	const queue = "acl"
	const password = "worker-pass-7c1"
	admin := createWorkerUser(t, password)
	client, inspector := newTestClient(t)

	started := make(chan string, 1)
	processed := make(chan struct{}, 1)
	done := make(chan error, 1)
	cfg := testConfig(queue)
	cfg.Redis.Username = workerACLUser
	cfg.Redis.Password = password
	startWorker(t, cfg, func(w *Worker) {
		w.HandleFunc("test:ok", func(context.Context, *asynq.Task) error {
			processed <- struct{}{}
			return nil
		})
		w.HandleFunc("test:cancel", func(ctx context.Context, _ *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			started <- id
			<-ctx.Done()
			done <- ctx.Err()
			return ctx.Err()
		})
	})

	if _, err := client.Enqueue(asynq.NewTask("test:ok", nil), asynq.Queue(queue)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-processed:
	case <-time.After(waitFor):
		t.Fatalf("the worker did not process a task as %s within %s", workerACLUser, waitFor)
	}

	// asynq subscribes to its cancellation channel in the background;
	// a cancellation published before that is lost.
	ctx := context.Background()
	eventually(t, "the worker subscribes to asynq:cancel", func() bool {
		n, err := admin.PubSubNumSub(ctx, "asynq:cancel").Result()
		return err == nil && n["asynq:cancel"] > 0
	})
	if _, err := client.Enqueue(asynq.NewTask("test:cancel", nil), asynq.Queue(queue), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	var id string
	select {
	case id = <-started:
	case <-time.After(waitFor):
		t.Fatalf("the worker did not start the task within %s", waitFor)
	}
	if err := inspector.CancelProcessing(id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled handler's context ended with %v, want context.Canceled", err)
		}
	case <-time.After(waitFor):
		t.Fatalf("CancelProcessing did not reach the handler within %s", waitFor)
	}
}

// TestDocumentedACLReadsDrainKeyOnly checks the drain key rule of the
// line docs/security.md gives the workers: the worker's own read of its
// key (readDrainKey, the only command it sends for draining) is allowed,
// and every write of the key is refused, so a worker can neither drain
// another nor cancel its own drain.
func TestDocumentedACLReadsDrainKeyOnly(t *testing.T) {
	const password = "worker-pass-5b9"
	admin := createWorkerUser(t, password)
	cfg := testConfig("aclread")
	cfg.Redis.Username = workerACLUser
	cfg.Redis.Password = password
	w, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.rdb.Close() })
	ctx := context.Background()
	const requestedAt = "2026-03-01T12:00:00Z"
	if err := admin.Set(ctx, w.drainKey, requestedAt, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Del(context.Background(), w.drainKey).Err() })

	value, present, err := w.readDrainKey(ctx)
	if err != nil || !present || value != requestedAt {
		t.Errorf("the workers' user reading its drain key = %q, %v, %v; want %q, true, nil", value, present, err, requestedAt)
	}
	for name, err := range map[string]error{
		"SET":                         w.rdb.Set(ctx, w.drainKey, "x", time.Minute).Err(),
		"DEL":                         w.rdb.Del(ctx, w.drainKey).Err(),
		"EXPIRE":                      w.rdb.Expire(ctx, w.drainKey, time.Second).Err(),
		"SET on another worker's key": w.rdb.Set(ctx, w.drainKey+"-other", "x", time.Minute).Err(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("the workers' user running %s: %v, want NOPERM", name, err)
		}
	}
}
