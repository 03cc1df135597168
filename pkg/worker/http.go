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
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyPingTimeout stays under the kubelet's default probe timeout of one
// second, so a slow Redis shows as "not ready" rather than a probe timeout.
const readyPingTimeout = 800 * time.Millisecond

// httpHandler serves the probes and the metrics.
func (w *Worker) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		// Alive as long as the process serves HTTP: a Redis outage is not
		// cured by restarting the worker, so it must not fail liveness.
		writeText(rw, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", w.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.gatherer, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{w.log},
	}))
	return mux
}

func (w *Worker) serveReady(rw http.ResponseWriter, r *http.Request) {
	if w.shuttingDown.Load() {
		writeText(rw, http.StatusServiceUnavailable, "shutting down")
		return
	}
	// Until the first read of the drain key the worker runs no task
	// server (see watchDrain).
	if !w.servers.hasStarted() {
		reason := "starting: reading the drain key"
		if msg := w.drainReadErr.Load(); msg != nil {
			reason = "starting: cannot read the drain key: " + *msg
		}
		writeText(rw, http.StatusServiceUnavailable, reason)
		return
	}
	// A draining worker takes no tasks, so it is not ready for any; it
	// stays alive (/healthz) until the operator removes it.
	if w.servers.isDraining() {
		writeText(rw, http.StatusServiceUnavailable, "draining")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
	defer cancel()
	if err := w.ping(ctx); err != nil {
		writeText(rw, http.StatusServiceUnavailable, "redis unreachable: "+err.Error())
		return
	}
	writeText(rw, http.StatusOK, "ok")
}

// ping waits for PING at most until ctx ends. go-redis applies its own read
// timeout rather than the context's, so the reply is awaited in a goroutine
// that ends by that read timeout at the latest.
func (w *Worker) ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- w.rdb.Ping(ctx).Err() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no reply to PING within %s", readyPingTimeout)
	}
}

func writeText(rw http.ResponseWriter, code int, body string) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(code)
	_, _ = fmt.Fprintln(rw, body)
}

// slogPrinter lets promhttp report failed scrapes through the worker's
// logger.
type slogPrinter struct {
	log interface{ Error(string, ...any) }
}

func (p slogPrinter) Println(v ...any) { p.log.Error("serving metrics", "error", fmt.Sprint(v...)) }
