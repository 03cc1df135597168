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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// NewRedisClient builds the one Redis client of a worker from cfg: a plain
// client in standalone mode, a failover client in sentinel mode and a
// cluster client in cluster mode. It opens connections lazily, except the
// MinIdleConns it keeps warm. The caller closes the client.
func NewRedisClient(cfg RedisConfig) (redis.UniversalClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.TLS.config()
	if err != nil {
		return nil, err
	}
	// go-redis reads MaxRetries 0 as "use the default of 3" and -1 as
	// "never"; the contract's 0 means never.
	maxRetries := cfg.MaxRetries
	if maxRetries == 0 {
		maxRetries = -1
	}
	switch cfg.Mode {
	case contract.ModeStandalone:
		return redis.NewClient(&redis.Options{
			Addr:            cfg.Addr,
			DB:              cfg.DB,
			Username:        cfg.Username,
			Password:        cfg.Password,
			TLSConfig:       tlsConfig,
			PoolSize:        cfg.PoolSize,
			MinIdleConns:    cfg.MinIdleConns,
			DialTimeout:     cfg.DialTimeout,
			ReadTimeout:     cfg.ReadTimeout,
			WriteTimeout:    cfg.WriteTimeout,
			PoolTimeout:     cfg.PoolTimeout,
			ConnMaxIdleTime: cfg.ConnMaxIdleTime,
			MaxRetries:      maxRetries,
		}), nil
	case contract.ModeSentinel:
		// The contract carries no separate sentinel credentials, so the
		// sentinels are asked without authentication; the master and
		// replicas get Username and Password.
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:      cfg.MasterName,
			SentinelAddrs:   cfg.Addrs,
			DB:              cfg.DB,
			Username:        cfg.Username,
			Password:        cfg.Password,
			TLSConfig:       tlsConfig,
			PoolSize:        cfg.PoolSize,
			MinIdleConns:    cfg.MinIdleConns,
			DialTimeout:     cfg.DialTimeout,
			ReadTimeout:     cfg.ReadTimeout,
			WriteTimeout:    cfg.WriteTimeout,
			PoolTimeout:     cfg.PoolTimeout,
			ConnMaxIdleTime: cfg.ConnMaxIdleTime,
			MaxRetries:      maxRetries,
		}), nil
	case contract.ModeCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:           cfg.Addrs,
			Username:        cfg.Username,
			Password:        cfg.Password,
			TLSConfig:       tlsConfig,
			PoolSize:        cfg.PoolSize,
			MinIdleConns:    cfg.MinIdleConns,
			DialTimeout:     cfg.DialTimeout,
			ReadTimeout:     cfg.ReadTimeout,
			WriteTimeout:    cfg.WriteTimeout,
			PoolTimeout:     cfg.PoolTimeout,
			ConnMaxIdleTime: cfg.ConnMaxIdleTime,
			MaxRetries:      maxRetries,
		}), nil
	}
	// Validate has rejected every other mode.
	return nil, fmt.Errorf("%s: unknown mode %q", contract.EnvRedisMode, cfg.Mode)
}

// config returns nil when TLS is off, which go-redis reads as plain TCP.
func (t RedisTLS) config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Empty lets crypto/tls check the host of each address dialled,
		// which is what sentinel and cluster modes need.
		ServerName: t.ServerName,
		//nolint:gosec // the operator sets this only when the user asks for it
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if t.CACertPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CACertPEM)) {
			return nil, errors.New(contract.EnvRedisTLSCACert + ": no PEM certificate found")
		}
		c.RootCAs = pool
	}
	return c, nil
}
