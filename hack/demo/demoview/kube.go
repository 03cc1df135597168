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

package demoview

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// Connection is how the view reaches the Redis of a QueueWorker.
type Connection struct {
	// Endpoint is the operator's endpoint of the QueueWorker. Its Addr is
	// host:port as the workers see it: a Service's DNS name in mode
	// Managed, which only resolves inside the cluster.
	Endpoint resources.RedisEndpoint
	// Credentials hold the password the endpoint names. They pin no
	// address, so the view may read through a port-forward.
	Credentials queue.Credentials
	// From says where the settings came from, for messages.
	From string
}

// ResolveRedis finds the Redis of qw the way the operator does
// (resources.EndpointFromSpec, or EndpointFromRedisConfig for
// spec.redis.configRef) and reads the password the endpoint names.
// Sentinel, cluster and TLS connections are refused: the view reads one
// plain standalone server.
func ResolveRedis(ctx context.Context, kube client.Reader, qw *queueworkerv1alpha1.QueueWorker) (Connection, error) {
	var conn Connection
	ep, direct := resources.EndpointFromSpec(qw.Spec.Redis)
	if direct {
		if ep.TLS {
			return Connection{}, fmt.Errorf("QueueWorker %s uses TLS to Redis, which the demo view does not", qw.Name)
		}
		if ep.Mode != contract.ModeStandalone {
			return Connection{}, fmt.Errorf("QueueWorker %s uses a sentinel group or a cluster; the demo view reads a standalone server", qw.Name)
		}
		conn.From = "QueueWorker " + qw.Name + " spec.redis.addr"
	} else {
		rc := &queueworkerv1alpha1.RedisConfig{}
		key := types.NamespacedName{Namespace: qw.Namespace, Name: qw.Spec.Redis.ConfigRef.Name}
		if err := kube.Get(ctx, key, rc); err != nil {
			return Connection{}, fmt.Errorf("reading RedisConfig %s: %w", key.Name, err)
		}
		if rc.Status.Address == "" {
			return Connection{}, fmt.Errorf("RedisConfig %s has no address yet (kubectl describe redisconfig %s)", rc.Name, rc.Name)
		}
		ep = resources.EndpointFromRedisConfig(rc)
		if rc.Status.TLS || ep.TLS {
			return Connection{}, fmt.Errorf("RedisConfig %s serves TLS, which the demo view does not speak", rc.Name)
		}
		if ep.Mode != contract.ModeStandalone {
			return Connection{}, fmt.Errorf("RedisConfig %s is a sentinel group or a cluster; the demo view reads a standalone server", rc.Name)
		}
		conn.From = "RedisConfig " + rc.Name
	}
	conn.Endpoint = ep
	if ref := ep.Password; ref != nil {
		sec := &corev1.Secret{}
		if err := kube.Get(ctx, types.NamespacedName{Namespace: qw.Namespace, Name: ref.Name}, sec); err != nil {
			return Connection{}, fmt.Errorf("reading the Redis password from Secret %s: %w", ref.Name, err)
		}
		pw, ok := sec.Data[ref.Key]
		if !ok {
			return Connection{}, fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
		}
		conn.Credentials.Password = string(pw)
	}
	return conn, nil
}

// QueueNames returns the names of qw's queues, in the order of its spec.
func QueueNames(qw *queueworkerv1alpha1.QueueWorker) []string {
	names := make([]string, 0, len(qw.Spec.Queues))
	for _, q := range qw.Spec.Queues {
		names = append(names, q.Name)
	}
	return names
}

// ReadWorkers reads the replicas of the QueueWorker key: what the
// autoscaler asks for from its status, and the pods from its Deployment,
// which has the QueueWorker's name.
func ReadWorkers(ctx context.Context, kube client.Reader, key types.NamespacedName) (Workers, error) {
	qw := &queueworkerv1alpha1.QueueWorker{}
	if err := kube.Get(ctx, key, qw); err != nil {
		return Workers{}, fmt.Errorf("reading QueueWorker %s: %w", key.Name, err)
	}
	dep := &appsv1.Deployment{}
	if err := kube.Get(ctx, key, dep); err != nil {
		return Workers{}, fmt.Errorf("reading Deployment %s: %w", key.Name, err)
	}
	return Workers{Desired: qw.Status.DesiredReplicas, Replicas: dep.Status.Replicas, Ready: dep.Status.ReadyReplicas}, nil
}

// LiveSource samples the queues and the ledger from Redis and the replicas
// from the API server, both at once.
type LiveSource struct {
	Redis  redis.UniversalClient
	Kube   client.Reader
	Target types.NamespacedName
	Queues []string
	// IDs are the tasks of the burst enqueued so far.
	IDs *IDs
	// Timeout bounds the reads of one sample.
	Timeout time.Duration
	Now     func() time.Time
}

// Sample reads Redis and the API server concurrently, so both halves of
// the sample describe the same instant.
func (l *LiveSource) Sample(ctx context.Context) Sample {
	ctx, cancel := context.WithTimeout(ctx, l.Timeout)
	defer cancel()
	s := Sample{At: l.Now()}
	ids := l.IDs.Snapshot()
	s.Enqueued = len(ids)
	var wg sync.WaitGroup
	wg.Go(func() {
		s.Workers, s.KubeErr = ReadWorkers(ctx, l.Kube, l.Target)
	})
	s.Queues, s.RedisErr = ReadQueues(ctx, l.Redis, l.Queues, s.At)
	if s.RedisErr == nil {
		s.Ledger, s.RedisErr = ReadLedger(ctx, l.Redis, ids)
	}
	if s.RedisErr != nil {
		s.Queues = nil
	}
	wg.Wait()
	return s
}
