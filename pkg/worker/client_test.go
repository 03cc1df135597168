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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// testCACertPEM returns a self-signed CA certificate in PEM.
func testCACertPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// clientRedisConfig keeps no idle connections, so building a client dials
// nothing.
func clientRedisConfig() RedisConfig {
	c := standaloneConfig().Redis
	c.MinIdleConns = 0
	return c
}

func TestNewRedisClientStandalone(t *testing.T) {
	tests := []struct {
		name           string
		maxRetries     int
		wantMaxRetries int
	}{
		// Options shows the value after go-redis applied its defaults: the
		// -1 we pass for "never" reads 0 there, while a 0 passed through
		// would read 3, go-redis's default.
		{name: "no retries", maxRetries: 0, wantMaxRetries: 0},
		{name: "one retry", maxRetries: 1, wantMaxRetries: 1},
		{name: "five retries", maxRetries: 5, wantMaxRetries: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientRedisConfig()
			cfg.Username = "worker"
			cfg.Password = "pw"
			cfg.MaxRetries = tt.maxRetries
			c, err := NewRedisClient(cfg)
			if err != nil {
				t.Fatalf("NewRedisClient: %v", err)
			}
			defer func() { _ = c.Close() }()
			rc, ok := c.(*redis.Client)
			if !ok {
				t.Fatalf("client is %T, want *redis.Client", c)
			}
			o := rc.Options()
			if o.Addr != cfg.Addr || o.DB != cfg.DB || o.Username != "worker" || o.Password != "pw" {
				t.Errorf("connection options = addr %q db %d user %q, want %q %d %q",
					o.Addr, o.DB, o.Username, cfg.Addr, cfg.DB, "worker")
			}
			if o.PoolSize != cfg.PoolSize || o.MinIdleConns != cfg.MinIdleConns {
				t.Errorf("pool = size %d minIdle %d, want %d %d", o.PoolSize, o.MinIdleConns, cfg.PoolSize, cfg.MinIdleConns)
			}
			if o.DialTimeout != cfg.DialTimeout || o.ReadTimeout != cfg.ReadTimeout ||
				o.WriteTimeout != cfg.WriteTimeout || o.PoolTimeout != cfg.PoolTimeout ||
				o.ConnMaxIdleTime != cfg.ConnMaxIdleTime {
				t.Errorf("timeouts = dial %s read %s write %s pool %s idle %s, want %s %s %s %s %s",
					o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ConnMaxIdleTime,
					cfg.DialTimeout, cfg.ReadTimeout, cfg.WriteTimeout, cfg.PoolTimeout, cfg.ConnMaxIdleTime)
			}
			// The worst case of clients a RedisConfig reports counts the
			// pipeline pool the worker keeps at go-redis's default.
			if o.PipelinePoolSize != 0 || redis.DefaultPipelinePoolSize != resources.WorkerPipelinePoolSize {
				t.Errorf("PipelinePoolSize = %d (0 is go-redis's default of %d), want go-redis's default equal to resources.WorkerPipelinePoolSize %d",
					o.PipelinePoolSize, redis.DefaultPipelinePoolSize, resources.WorkerPipelinePoolSize)
			}
			if o.MaxRetries != tt.wantMaxRetries {
				t.Errorf("MaxRetries = %d, want %d", o.MaxRetries, tt.wantMaxRetries)
			}
			if o.TLSConfig != nil {
				t.Errorf("TLS is on, want off")
			}
		})
	}
}

func TestNewRedisClientModes(t *testing.T) {
	sentinel := clientRedisConfig()
	sentinel.Mode = contract.ModeSentinel
	sentinel.Addr = ""
	sentinel.Addrs = []string{"s-0:26379", "s-1:26379"}
	sentinel.MasterName = "mymaster"

	cluster := clientRedisConfig()
	cluster.Mode = contract.ModeCluster
	cluster.Addr = ""
	cluster.Addrs = []string{"n-0:6379", "n-1:6379"}
	cluster.DB = 0

	t.Run("sentinel", func(t *testing.T) {
		c, err := NewRedisClient(sentinel)
		if err != nil {
			t.Fatalf("NewRedisClient: %v", err)
		}
		defer func() { _ = c.Close() }()
		// A failover client is a *redis.Client that asks the sentinels for
		// the master's address.
		rc, ok := c.(*redis.Client)
		if !ok {
			t.Fatalf("client is %T, want *redis.Client", c)
		}
		o := rc.Options()
		if o.PoolSize != sentinel.PoolSize || o.DB != sentinel.DB || o.MaxRetries != sentinel.MaxRetries ||
			o.ReadTimeout != sentinel.ReadTimeout {
			t.Errorf("options = pool %d db %d retries %d read %s, want %d %d %d %s",
				o.PoolSize, o.DB, o.MaxRetries, o.ReadTimeout,
				sentinel.PoolSize, sentinel.DB, sentinel.MaxRetries, sentinel.ReadTimeout)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c, err := NewRedisClient(cluster)
		if err != nil {
			t.Fatalf("NewRedisClient: %v", err)
		}
		defer func() { _ = c.Close() }()
		cc, ok := c.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("client is %T, want *redis.ClusterClient", c)
		}
		o := cc.Options()
		if len(o.Addrs) != 2 || o.PoolSize != cluster.PoolSize || o.MaxRetries != cluster.MaxRetries ||
			o.PoolTimeout != cluster.PoolTimeout {
			t.Errorf("options = addrs %v pool %d retries %d poolTimeout %s, want %v %d %d %s",
				o.Addrs, o.PoolSize, o.MaxRetries, o.PoolTimeout,
				cluster.Addrs, cluster.PoolSize, cluster.MaxRetries, cluster.PoolTimeout)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		bad := clientRedisConfig()
		bad.Mode = "replica"
		if c, err := NewRedisClient(bad); err == nil {
			_ = c.Close()
			t.Fatal("NewRedisClient accepted mode replica")
		}
	})
}

func TestNewRedisClientTLS(t *testing.T) {
	ca := testCACertPEM(t)
	tests := []struct {
		name         string
		tls          RedisTLS
		wantRoots    bool
		wantName     string
		wantInsecure bool
	}{
		{name: "system roots", tls: RedisTLS{Enabled: true}},
		{name: "own CA and server name", tls: RedisTLS{Enabled: true, CACertPEM: ca, ServerName: "redis.internal"},
			wantRoots: true, wantName: "redis.internal"},
		{name: "skip verify", tls: RedisTLS{Enabled: true, InsecureSkipVerify: true}, wantInsecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientRedisConfig()
			cfg.TLS = tt.tls
			c, err := NewRedisClient(cfg)
			if err != nil {
				t.Fatalf("NewRedisClient: %v", err)
			}
			defer func() { _ = c.Close() }()
			tc := c.(*redis.Client).Options().TLSConfig
			if tc == nil {
				t.Fatal("TLS is off, want on")
			}
			if tc.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", tc.MinVersion)
			}
			if (tc.RootCAs != nil) != tt.wantRoots {
				t.Errorf("own roots = %v, want %v", tc.RootCAs != nil, tt.wantRoots)
			}
			if tc.ServerName != tt.wantName {
				t.Errorf("ServerName = %q, want %q", tc.ServerName, tt.wantName)
			}
			if tc.InsecureSkipVerify != tt.wantInsecure {
				t.Errorf("InsecureSkipVerify = %v, want %v", tc.InsecureSkipVerify, tt.wantInsecure)
			}
		})
	}
}
