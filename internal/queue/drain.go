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
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// SetDrains asks the workers of the given hosts to drain: it sets each
// host's drain key (contract.DrainKey) to its value, the time the drain
// was asked, with ttl, in one pipeline. Setting it again renews it. These
// are the only keys the operator writes in a workers' Redis: the ACL user
// needs SET on queueworker:drain:*.
func SetDrains(ctx context.Context, rdb redis.UniversalClient, values map[string]string, ttl time.Duration) error {
	if len(values) == 0 {
		return nil
	}
	_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, host := range slices.Sorted(maps.Keys(values)) {
			pipe.Set(ctx, contract.DrainKey(host), values[host], ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("setting drain keys: %w", err)
	}
	return nil
}

// DeleteDrains cancels the drains of the given hosts: it deletes their
// drain keys, one DEL per key, so that it works in Redis Cluster too.
func DeleteDrains(ctx context.Context, rdb redis.UniversalClient, hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, host := range hosts {
			pipe.Del(ctx, contract.DrainKey(host))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting drain keys: %w", err)
	}
	return nil
}
