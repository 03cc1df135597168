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
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/queue"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

func fakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := queueworkerv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(objs...).Build()
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "default", Name: name}
}

func passwordSecret(name, key, pw string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: meta(name), Data: map[string][]byte{key: []byte(pw)}}
}

func redisConfig(mode queueworkerv1alpha1.RedisConfigMode, status queueworkerv1alpha1.RedisConfigStatus) *queueworkerv1alpha1.RedisConfig {
	rc := &queueworkerv1alpha1.RedisConfig{ObjectMeta: meta("redis"), Status: status}
	rc.Spec.Mode = mode
	if mode == queueworkerv1alpha1.RedisConfigExternal {
		rc.Spec.External = &queueworkerv1alpha1.ExternalRedis{Addr: status.Address}
	}
	return rc
}

func queueWorker(redis queueworkerv1alpha1.RedisConnection) *queueworkerv1alpha1.QueueWorker {
	return &queueworkerv1alpha1.QueueWorker{
		ObjectMeta: meta("email"),
		Spec: queueworkerv1alpha1.QueueWorkerSpec{
			Queues: []queueworkerv1alpha1.Queue{{Name: "critical"}, {Name: "default"}, {Name: "low"}},
			Redis:  redis,
		},
	}
}

// standalone is the endpoint the operator resolves for a standalone server.
func standalone(addr, username string, password *resources.SecretKey) resources.RedisEndpoint {
	return resources.RedisEndpoint{Mode: contract.ModeStandalone, Addr: addr, Username: username, Password: password}
}

func TestResolveRedis(t *testing.T) {
	db := int32(2)
	ref := &queueworkerv1alpha1.RedisConfigReference{Name: "redis"}
	managedStatus := queueworkerv1alpha1.RedisConfigStatus{
		Address:           "redis-redis.default.svc:6379",
		PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "redis-redis-auth", Key: "password"},
	}
	tests := []struct {
		name    string
		qw      *queueworkerv1alpha1.QueueWorker
		objs    []client.Object
		want    Connection
		wantErr string
	}{
		{
			// The operator reads database 0 of a RedisConfig whatever
			// spec.redis.db says, and so does the view.
			name: "managed RedisConfig: its Service address and generated password",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref, DB: &db}),
			objs: []client.Object{
				redisConfig(queueworkerv1alpha1.RedisConfigManaged, managedStatus),
				passwordSecret("redis-redis-auth", "password", "s3cret"),
			},
			want: Connection{
				Endpoint:    standalone("redis-redis.default.svc:6379", "", &resources.SecretKey{Name: "redis-redis-auth", Key: "password"}),
				Credentials: queue.Credentials{Password: "s3cret"}, From: "RedisConfig redis",
			},
		},
		{
			name: "external RedisConfig",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs: []client.Object{
				redisConfig(queueworkerv1alpha1.RedisConfigExternal, queueworkerv1alpha1.RedisConfigStatus{
					Address:           "127.0.0.1:16479",
					PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "redis-auth", Key: "password"},
				}),
				passwordSecret("redis-auth", "password", "pw"),
			},
			want: Connection{
				Endpoint:    standalone("127.0.0.1:16479", "", &resources.SecretKey{Name: "redis-auth", Key: "password"}),
				Credentials: queue.Credentials{Password: "pw"}, From: "RedisConfig redis",
			},
		},
		{
			name: "external RedisConfig with a client ACL user",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs: []client.Object{
				redisConfig(queueworkerv1alpha1.RedisConfigExternal, queueworkerv1alpha1.RedisConfigStatus{
					Address:           "127.0.0.1:16479",
					Username:          "workers",
					PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "workers", Key: "password"},
				}),
				passwordSecret("workers", "password", "wpw"),
			},
			want: Connection{
				Endpoint:    standalone("127.0.0.1:16479", "workers", &resources.SecretKey{Name: "workers", Key: "password"}),
				Credentials: queue.Credentials{Password: "wpw"}, From: "RedisConfig redis",
			},
		},
		{
			name: "external RedisConfig: the address of its spec, as the operator dials it",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs: []client.Object{func() client.Object {
				rc := redisConfig(queueworkerv1alpha1.RedisConfigExternal, queueworkerv1alpha1.RedisConfigStatus{Address: "old:6379"})
				rc.Spec.External.Addr = "new:6379"
				return rc
			}()},
			want: Connection{Endpoint: standalone("new:6379", "", nil), From: "RedisConfig redis"},
		},
		{
			name: "addr with a password Secret and a user",
			qw: queueWorker(queueworkerv1alpha1.RedisConnection{Addr: "redis:6379", Username: "worker",
				PasswordSecretRef: &queueworkerv1alpha1.SecretKeyReference{Name: "pw", Key: "p"}}),
			objs: []client.Object{passwordSecret("pw", "p", "x")},
			want: Connection{
				Endpoint:    standalone("redis:6379", "worker", &resources.SecretKey{Name: "pw", Key: "p"}),
				Credentials: queue.Credentials{Password: "x"}, From: "QueueWorker email spec.redis.addr",
			},
		},
		{
			name: "addr without a password",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{Addr: "redis:6379"}),
			want: Connection{Endpoint: standalone("redis:6379", "", nil), From: "QueueWorker email spec.redis.addr"},
		},
		{
			name:    "RedisConfig without an address yet",
			qw:      queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs:    []client.Object{redisConfig(queueworkerv1alpha1.RedisConfigManaged, queueworkerv1alpha1.RedisConfigStatus{})},
			wantErr: "has no address yet",
		},
		{
			name:    "missing RedisConfig",
			qw:      queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			wantErr: "reading RedisConfig redis",
		},
		{
			name:    "missing Secret",
			qw:      queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs:    []client.Object{redisConfig(queueworkerv1alpha1.RedisConfigManaged, managedStatus)},
			wantErr: "reading the Redis password from Secret redis-redis-auth",
		},
		{
			name: "Secret without the key",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs: []client.Object{
				redisConfig(queueworkerv1alpha1.RedisConfigManaged, managedStatus),
				passwordSecret("redis-redis-auth", "other", "s3cret"),
			},
			wantErr: `has no key "password"`,
		},
		{
			name:    "sentinel",
			qw:      queueWorker(queueworkerv1alpha1.RedisConnection{Sentinel: &queueworkerv1alpha1.RedisSentinel{MasterName: "m", Addrs: []string{"s:26379"}}}),
			wantErr: "reads a standalone server",
		},
		{
			name:    "TLS",
			qw:      queueWorker(queueworkerv1alpha1.RedisConnection{Addr: "redis:6379", TLS: &queueworkerv1alpha1.RedisTLS{Enabled: true}}),
			wantErr: "TLS",
		},
		{
			name: "RedisConfig serving TLS",
			qw:   queueWorker(queueworkerv1alpha1.RedisConnection{ConfigRef: ref}),
			objs: []client.Object{redisConfig(queueworkerv1alpha1.RedisConfigManaged, queueworkerv1alpha1.RedisConfigStatus{
				Address: "redis-redis.default.svc:6379", TLS: true})},
			wantErr: "serves TLS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveRedis(context.Background(), fakeClient(t, tt.objs...), tt.qw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ResolveRedis = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadWorkers(t *testing.T) {
	qw := queueWorker(queueworkerv1alpha1.RedisConnection{Addr: "redis:6379"})
	qw.Status.DesiredReplicas = 7
	dep := &appsv1.Deployment{ObjectMeta: meta("email"), Status: appsv1.DeploymentStatus{Replicas: 5, ReadyReplicas: 3}}
	key := types.NamespacedName{Namespace: "default", Name: "email"}

	got, err := ReadWorkers(context.Background(), fakeClient(t, qw, dep), key)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Workers{Desired: 7, Replicas: 5, Ready: 3}); got != want {
		t.Errorf("ReadWorkers = %+v, want %+v", got, want)
	}
	if _, err := ReadWorkers(context.Background(), fakeClient(t, qw), key); err == nil || !strings.Contains(err.Error(), "Deployment email") {
		t.Errorf("without a Deployment: err = %v, want one naming the Deployment", err)
	}
	if got := QueueNames(qw); strings.Join(got, ",") != "critical,default,low" {
		t.Errorf("QueueNames = %v", got)
	}
}
