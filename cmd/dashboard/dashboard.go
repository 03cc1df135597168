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
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynqmon"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/redisclient"
)

// The dashboard's client is small: a person clicking through the UI sends
// a few requests at a time.
const (
	clientName   = "queueworker-dashboard"
	poolSize     = 10
	redisTimeout = 5 * time.Second
)

// redisFlags are the Redis connection flags, as given.
type redisFlags struct {
	addr               string
	db                 int
	username           string
	passwordFile       string
	tls                bool
	caFile             string
	serverName         string
	insecureSkipVerify bool
}

// options turns the flags into the client options, reading the password
// and the CA bundle through readFile and getenv. Every problem is reported
// at once.
func (f redisFlags) options(readFile func(string) ([]byte, error), getenv func(string) string) (redisclient.Options, error) {
	var errs []error
	o := redisclient.Options{
		Mode:         contract.ModeStandalone,
		Addr:         f.addr,
		DB:           f.db,
		Username:     f.username,
		ClientName:   clientName,
		PoolSize:     poolSize,
		DialTimeout:  redisTimeout,
		ReadTimeout:  redisTimeout,
		WriteTimeout: redisTimeout,
		PoolTimeout:  redisTimeout,
	}
	if f.addr == "" {
		errs = append(errs, errors.New("--redis-addr is required"))
	}
	if f.db < 0 {
		errs = append(errs, fmt.Errorf("--redis-db %d is negative", f.db))
	}
	envPassword := getenv(contract.EnvRedisPassword)
	switch {
	case f.passwordFile != "" && envPassword != "":
		errs = append(errs, fmt.Errorf("both --redis-password-file and %s are set; set one", contract.EnvRedisPassword))
	case f.passwordFile != "":
		b, err := readFile(f.passwordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the Redis password: %w", err))
		}
		// A Secret written with kubectl --from-file or echo often ends in
		// a line break that is not part of the password.
		s := strings.TrimSuffix(string(b), "\n")
		o.Password = strings.TrimSuffix(s, "\r")
	default:
		o.Password = envPassword
	}
	if !f.tls && (f.caFile != "" || f.serverName != "" || f.insecureSkipVerify) {
		errs = append(errs, errors.New("--redis-tls-ca-file, --redis-tls-server-name and --redis-tls-insecure-skip-verify need --redis-tls"))
	}
	if f.tls {
		t := redisclient.TLS{ServerName: f.serverName, InsecureSkipVerify: f.insecureSkipVerify}
		if f.caFile != "" {
			pem, err := readFile(f.caFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading the Redis CA bundle: %w", err))
			}
			t.CAPEM = pem
		}
		if len(errs) == 0 {
			c, err := redisclient.TLSConfig(t)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.caFile, err))
			}
			o.TLSConfig = c
		}
	}
	return o, errors.Join(errs...)
}

// connOpt hands asynqmon a client built by redisclient, so the dashboard
// reaches Redis with the TLS and timeouts the rest of the project uses.
// asynqmon asks for two clients, one for its Inspector and one for
// INFO, and closes both.
type connOpt redisclient.Options

// MakeRedisClient implements asynq.RedisConnOpt. Options were checked by
// newDashboard, so building a client cannot fail here.
func (o connOpt) MakeRedisClient() any {
	c, err := redisclient.New(redisclient.Options(o))
	if err != nil {
		panic(fmt.Sprintf("building the Redis client: %v", err))
	}
	return c
}

// dashboard is the HTTP handler of the binary: /healthz, and asynqmon for
// every other path.
type dashboard struct {
	http.Handler
	mon *asynqmon.HTTPHandler
}

// newDashboard builds the handler on the Redis of opts. In read-only mode
// every request but GET and HEAD is refused before it reaches asynqmon,
// which has a read-only mode of its own for its API only. In both modes a
// browser's cross-origin request that could change something (a form on
// another site posting to a port-forward on localhost) is refused.
func newDashboard(opts redisclient.Options, readOnly bool) (*dashboard, error) {
	probe, err := redisclient.New(opts)
	if err != nil {
		return nil, err
	}
	_ = probe.Close()

	mon := asynqmon.New(asynqmon.Options{
		RootPath:     "/",
		RedisConnOpt: connOpt(opts),
		ReadOnly:     readOnly,
	})
	var ui http.Handler = mon
	if readOnly {
		ui = refuseWrites(ui)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/", http.NewCrossOriginProtection().Handler(ui))
	return &dashboard{Handler: mux, mon: mon}, nil
}

// Close closes asynqmon's Redis clients.
func (d *dashboard) Close() error { return d.mon.Close() }

// refuseWrites answers 405 to every method but GET and HEAD.
func refuseWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read-only: start it with --read-only=false to change queues and tasks", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}
