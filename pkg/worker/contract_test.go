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

package worker_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/worker"
)

// selfSignedPEM returns a throw-away CA certificate in PEM.
func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestOperatorContractRoundTrip builds the worker Deployment the operator
// would write and loads the worker container's environment through the SDK,
// as the kubelet would hand it over (secretKeyRefs resolved). The two sides
// of the contract cannot drift without this test failing.
func TestOperatorContractRoundTrip(t *testing.T) {
	secrets := map[string]map[string]string{
		"redis":    {"password": "s3cret"},
		"redis-ca": {"ca.crt": selfSignedPEM(t)},
	}
	d := func(s string) *metav1.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Duration{Duration: v}
	}
	cases := []struct {
		name  string
		spec  func(*v1.QueueWorkerSpec)
		check func(t *testing.T, c worker.Config)
	}{
		{
			name: "standalone with API defaults left unset",
			spec: func(*v1.QueueWorkerSpec) {},
			check: func(t *testing.T, c worker.Config) {
				want := worker.Config{
					Queues:              []contract.Queue{{Name: "critical", Priority: 6}, {Name: "low", Priority: 1}},
					Concurrency:         resources.DefaultConcurrency,
					ShutdownTimeout:     resources.DefaultShutdownTimeout,
					HealthCheckInterval: resources.DefaultHealthCheckInterval,
					HTTPAddr:            contract.DefaultHTTPAddr,
					Redis: worker.RedisConfig{
						Mode: contract.ModeStandalone, Addr: "redis:6379",
						PoolSize: resources.DefaultPoolSize, DialTimeout: 5 * time.Second,
						ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
						PoolTimeout: 5 * time.Second, ConnMaxIdleTime: resources.DefaultConnMaxIdleTime,
						MaxRetries: resources.DefaultMaxRetries,
					},
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("loaded config\n%+v\nwant\n%+v", c, want)
				}
			},
		},
		{
			name: "every field set, sentinel with TLS and ACL user",
			spec: func(s *v1.QueueWorkerSpec) {
				s.StrictPriority = true
				s.Concurrency = 32
				s.ShutdownTimeout = d("90s")
				s.HealthCheckInterval = d("3s")
				s.Redis = v1.RedisConnection{
					Sentinel:          &v1.RedisSentinel{MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}},
					DB:                ptr.To[int32](4),
					Username:          "jobs",
					PasswordSecretRef: &v1.SecretKeyReference{Name: "redis", Key: "password"},
					TLS: &v1.RedisTLS{Enabled: true, ServerName: "redis.internal",
						CASecretRef: &v1.SecretKeyReference{Name: "redis-ca", Key: "ca.crt"}},
					Pool: v1.RedisPool{Size: 80, MinIdle: 8, DialTimeout: d("1s"), ReadTimeout: d("2s"),
						WriteTimeout: d("3s"), PoolTimeout: d("4s"), ConnMaxIdleTime: d("90s"), MaxRetries: ptr.To[int32](0)},
				}
			},
			check: func(t *testing.T, c worker.Config) {
				r := c.Redis
				if !c.StrictPriority || c.Concurrency != 32 || c.ShutdownTimeout != 90*time.Second || c.HealthCheckInterval != 3*time.Second {
					t.Errorf("worker settings = %+v", c)
				}
				if r.Mode != contract.ModeSentinel || r.MasterName != "mymaster" ||
					!reflect.DeepEqual(r.Addrs, []string{"s1:26379", "s2:26379"}) || r.DB != 4 {
					t.Errorf("endpoint = %+v", r)
				}
				if r.Username != "jobs" || r.Password != "s3cret" {
					t.Errorf("credentials: user %q, password set %v", r.Username, r.Password == "s3cret")
				}
				if !r.TLS.Enabled || r.TLS.ServerName != "redis.internal" || r.TLS.CACertPEM != secrets["redis-ca"]["ca.crt"] || r.TLS.InsecureSkipVerify {
					t.Errorf("tls = %+v", r.TLS)
				}
				if r.PoolSize != 80 || r.MinIdleConns != 8 || r.DialTimeout != time.Second || r.ReadTimeout != 2*time.Second ||
					r.WriteTimeout != 3*time.Second || r.PoolTimeout != 4*time.Second || r.ConnMaxIdleTime != 90*time.Second || r.MaxRetries != 0 {
					t.Errorf("pool = %+v", r)
				}
			},
		},
		{
			name: "cluster",
			spec: func(s *v1.QueueWorkerSpec) {
				s.Redis = v1.RedisConnection{Cluster: &v1.RedisCluster{Addrs: []string{"n1:7000", "n2:7000", "n3:7000"}}}
			},
			check: func(t *testing.T, c worker.Config) {
				if c.Redis.Mode != contract.ModeCluster || len(c.Redis.Addrs) != 3 || c.Redis.Addr != "" {
					t.Errorf("endpoint = %+v", c.Redis)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qw := &v1.QueueWorker{
				ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns"},
				Spec: v1.QueueWorkerSpec{
					Queues: []v1.Queue{{Name: "critical", Priority: 6}, {Name: "low"}},
					Redis:  v1.RedisConnection{Addr: "redis:6379"},
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						Containers: []corev1.Container{{Name: "worker", Image: "example.com/w:1",
							Env: []corev1.EnvVar{{Name: "UNRELATED", Value: "x"}}}},
					}},
				},
			}
			tc.spec(&qw.Spec)
			ep, ok := resources.EndpointFromSpec(qw.Spec.Redis)
			if !ok {
				t.Fatal("endpoint not resolvable")
			}
			dep, err := resources.BuildWorkerDeployment(qw, ep, "hash")
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					ref := e.ValueFrom.SecretKeyRef
					v, ok := secrets[ref.Name][ref.Key]
					if !ok {
						t.Fatalf("%s refers to unknown secret %s/%s", e.Name, ref.Name, ref.Key)
					}
					env[e.Name] = v
				case e.ValueFrom != nil:
					t.Fatalf("%s uses an unexpected value source %+v", e.Name, e.ValueFrom)
				default:
					env[e.Name] = e.Value
				}
			}
			cfg, err := worker.LoadConfig(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("the SDK rejects what the operator injects: %v", err)
			}
			tc.check(t, cfg)
		})
	}
}
