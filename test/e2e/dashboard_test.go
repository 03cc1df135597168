//go:build e2e

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

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dashboardName is the chart's dashboard Deployment and Service with
// fullnameOverride=dashboardRelease.
const (
	dashboardRelease = "tasks"
	dashboardName    = dashboardRelease + "-dashboard"
)

// startDashboard applies the chart's task dashboard (its Deployment and
// Service, as `helm template` renders them with dashboard.enabled) to the
// scenario's namespace, watching the Redis behind Service redisService
// with the password of Secret passwordSecret.
func (sc *scenario) startDashboard(redisService, passwordSecret string) {
	t := sc.t
	t.Helper()
	ctx := t.Context()
	values := append(sc.s.provider.helmValues(), "dashboard.enabled=true")
	strValues := []string{
		"fullnameOverride=" + dashboardRelease,
		"dashboard.redis.addr=" + redisService + "." + sc.ns + ".svc:6379",
		"dashboard.redis.passwordSecretRef.name=" + passwordSecret,
	}
	args := make([]string, 0, 7+2*(len(values)+len(strValues)))
	args = append(args, "template", dashboardRelease, filepath.Join(sc.s.root, chartPath),
		"--namespace", sc.ns, "--show-only", "templates/dashboard.yaml")
	for _, v := range values {
		args = append(args, "--set", v)
	}
	for _, v := range strValues {
		args = append(args, "--set-string", v)
	}
	manifest, err := sc.s.helmRun(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sc.s.kubectlRun(ctx, manifest, "apply", "--namespace", sc.ns, "-f", "-"); err != nil {
		t.Fatalf("applying the dashboard: %v", err)
	}
}

// dashboardQueue is the part of a queue of asynqmon's GET /api/queues the
// suite checks.
type dashboardQueue struct {
	Queue     string `json:"queue"`
	Paused    bool   `json:"paused"`
	Pending   int    `json:"pending"`
	Succeeded int    `json:"succeeded"`
}

// checkDashboard waits for the dashboard to be ready and checks, through
// its Service, what it shows of queue: paused, with pending tasks waiting
// and at least succeeded done today; and that it refuses, read-only as the
// chart runs it, to resume the queue.
func (sc *scenario) checkDashboard(queue string, pending, succeeded int) {
	t := sc.t
	t.Helper()
	ctx := t.Context()
	eventually(t, "the dashboard is ready", shortWait, func() (bool, error) {
		var dep appsv1.Deployment
		if err := sc.s.client.Get(ctx, client.ObjectKey{Namespace: sc.ns, Name: dashboardName}, &dep); err != nil {
			return false, err
		}
		return dep.Status.ReadyReplicas == 1, fmt.Errorf("%d of 1 replicas ready", dep.Status.ReadyReplicas)
	})
	dial := sc.s.provider.serviceDialer(t, sc.s.client, sc.ns, dashboardName, 80)
	httpc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, err := dial(ctx)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}},
	}
	base := "http://" + dashboardName + "." + sc.ns + ".svc"
	var shown dashboardQueue
	eventually(t, "the dashboard shows queue "+queue, shortWait, func() (bool, error) {
		code, body, err := httpDo(ctx, httpc, http.MethodGet, base+"/api/queues")
		if err != nil {
			return false, err
		}
		if code != http.StatusOK {
			return false, fmt.Errorf("GET /api/queues: %d %s", code, body)
		}
		var list struct{ Queues []dashboardQueue }
		if err := json.Unmarshal(body, &list); err != nil {
			return false, fmt.Errorf("GET /api/queues: %w: %s", err, body)
		}
		for _, q := range list.Queues {
			if q.Queue == queue {
				shown = q
				return true, nil
			}
		}
		return false, fmt.Errorf("GET /api/queues lists no queue %q: %s", queue, body)
	})
	if !shown.Paused || shown.Pending != pending || shown.Succeeded < succeeded {
		t.Fatalf("the dashboard shows queue %s as %+v; want paused, %d pending, at least %d succeeded", queue, shown, pending, succeeded)
	}
	code, body, err := httpDo(ctx, httpc, http.MethodPost, base+"/api/queues/"+queue+":resume")
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("POST :resume to the read-only dashboard: %d %s, want 405", code, body)
	}
	sc.result.note("the chart's dashboard showed queue %s paused with %d pending and %d succeeded, and refused to resume it (%d)",
		queue, shown.Pending, shown.Succeeded, code)
}

// httpDo sends a request without a body and returns the status and body.
func httpDo(ctx context.Context, c *http.Client, method, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return resp.StatusCode, body, err
}
