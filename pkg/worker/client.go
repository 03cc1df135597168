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
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/redisclient"
)

// NewRedisClient builds the one Redis client of a worker from cfg with
// redisclient.New: a plain client in standalone mode, a failover client in
// sentinel mode and a cluster client in cluster mode. It opens connections
// lazily, except the MinIdleConns it keeps warm. The caller closes the
// client.
//
// The contract carries no separate sentinel credentials, so in sentinel
// mode the sentinels are asked without authentication (over TLS when TLS
// is on); the master and replicas get Username and Password.
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
	return redisclient.New(redisclient.Options{
		Mode:            cfg.Mode,
		Addr:            cfg.Addr,
		Addrs:           cfg.Addrs,
		MasterName:      cfg.MasterName,
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
	})
}

// config returns nil when TLS is off, which go-redis reads as plain TCP.
func (t RedisTLS) config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c, err := redisclient.TLSConfig(redisclient.TLS{
		CAPEM:              []byte(t.CACertPEM),
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", contract.EnvRedisTLSCACert, err)
	}
	return c, nil
}
