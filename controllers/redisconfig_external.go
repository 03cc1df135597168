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

package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	ctrl "sigs.k8s.io/controller-runtime"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/redisadmin"
	"github.com/queueworker/queueworker-operator/internal/redisconf"
)

// reconcileExternal applies every runtime key to an existing Redis with
// CONFIG SET (to each node of a cluster, to the current master of a
// sentinel group), reads every key back, and lists what differs in
// status.drift: restart-only keys, and keys the server refused. CONFIG
// REWRITE runs only with external.persistToFile. It owns the Applied
// condition in mode External and comes back every recheckInterval; a
// sentinel group is looked at every 30s so that a failover is noticed and
// the new master configured.
func (r *RedisConfigReconciler) reconcileExternal(ctx context.Context, st *redisConfigState) (ctrl.Result, error) {
	rc := st.rc
	x := rc.Spec.External
	ep := externalEndpoint(rc)
	creds := queue.Credentials{Password: st.password, CAPEM: st.caPEM, AllowedAddrs: st.passwordPins}
	recheck := DefaultRecheckInterval
	if x.RecheckInterval != nil && x.RecheckInterval.Duration > 0 {
		recheck = x.RecheckInterval.Duration
	}
	if x.Sentinel != nil {
		recheck = min(recheck, sentinelRecheckInterval)
	}
	settings := make([]redisadmin.Setting, 0, len(st.directives))
	for _, d := range st.directives {
		settings = append(settings, redisadmin.Setting{Key: d.Key, Value: d.Value,
			Runtime: redisconf.ModeOf(d.Key) == redisconf.Runtime})
	}
	res, err := r.apply(ctx, st, ep, creds, settings, x.PersistToFile, recheck)
	if err == nil && st.applied && x.Sentinel != nil {
		// Name the master, so a failover shows as a change of nodes.
		if master, merr := sentinelMaster(ctx, x.Sentinel, creds); merr == nil {
			st.nodes = []string{master}
		}
	}
	return res, err
}

// sentinelMaster asks the sentinels for the current master's address.
func sentinelMaster(ctx context.Context, s *queueworkerv1alpha1.RedisSentinel, _ queue.Credentials) (string, error) {
	var lastErr error
	for _, addr := range s.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
		hostPort, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(hostPort) == 2 {
			return strings.Join(hostPort, ":"), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("asking the sentinels for master %q: %w", s.MasterName, lastErr)
}
