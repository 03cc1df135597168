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
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
	"github.com/queueworker/queueworker-operator/pkg/redisclient"
)

// Credentials are the secret values a RedisEndpoint names, read from their
// Secrets by the caller.
type Credentials struct {
	// Password authenticates Username, or the default user when Username
	// is empty.
	Password string
	// CAPEM holds PEM CA certificates that replace the system roots when
	// TLS is on.
	CAPEM []byte
	// AllowedAddrs, when not nil, are the only addresses (host:port) the
	// client may dial: the Secret that holds the password pins them
	// (queueworker.io/usable-with). Every connection is checked, so the
	// password never reaches a master a sentinel names or a node a cluster
	// redirects to unless it is listed too.
	AllowedAddrs []string
}

// ErrAddressNotAllowed is returned, wrapped, for a dial to an address the
// credentials do not allow.
var ErrAddressNotAllowed = errors.New("address not allowed by the password's Secret (queueworker.io/usable-with)")

// dialerFor returns nil, go-redis's own dialer, when the credentials allow
// any address, else a dialer that refuses every other address before it
// opens a connection. It dials as go-redis's default dialer does.
func dialerFor(creds Credentials, tlsConfig *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	if creds.AllowedAddrs == nil {
		return nil
	}
	allowed := slices.Clone(creds.AllowedAddrs)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, addr) }) {
			return nil, fmt.Errorf("dialing %s: %w", addr, ErrAddressNotAllowed)
		}
		d := &net.Dialer{Timeout: clientDialTimeout, KeepAliveConfig: keepAlive}
		if tlsConfig == nil {
			return d.DialContext(ctx, network, addr)
		}
		td := &tls.Dialer{NetDialer: d, Config: tlsConfig}
		return td.DialContext(ctx, network, addr)
	}
}

// keepAlive probes an idle connection after 30s and gives up after three
// unanswered probes, as go-redis's own dialer does.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

// The settings of the operator's own clients. The operator reads a few keys
// per queue once per poll, so it needs few connections, and a poll that
// fails fast lets the controller hold the replicas and try again sooner
// than one that waits out the go-redis defaults of 5s and 3 retries.
const (
	// ClientName marks the operator's connections in CLIENT LIST.
	ClientName = "queueworker-operator"

	// MaxConnections is the most connections one client of the operator
	// holds to a server.
	MaxConnections = clientPoolSize

	clientPoolSize    = 10
	clientDialTimeout = 2 * time.Second
	clientIOTimeout   = 2 * time.Second
	clientPoolTimeout = 3 * time.Second
	clientMaxRetries  = 1
	// go-redis dials up to 5 times per connection by default, each with
	// the full dial timeout; two keep a blackholed address from stalling a
	// poll for 10s.
	clientDialerRetries = 2
	// RESP2 speaks to every Redis asynq supports and to proxies that lack
	// HELLO 3; nothing here needs RESP3 push messages.
	clientProtocol = 2
	// The reads are all pipelines; a negative size keeps them on the one
	// pool instead of a second pool of 128 KiB-buffered connections.
	clientPipelinePoolSize = -1
	// CLIENT SETINFO costs a round trip per connection, is unknown before
	// Redis 7.2 and needs one more ACL grant; the client name suffices.
	clientDisableIdentity = true
)

// NewUniversalClient builds a go-redis client for the endpoint with
// redisclient.New: a Client in standalone mode, a failover Client in
// sentinel mode and a ClusterClient in cluster mode, with the operator's
// settings above. It opens no connection; the first command does. The
// caller closes the client.
//
// As in the worker SDK, the sentinels are asked without authentication and
// the master gets the username and password: the endpoint carries no
// separate sentinel credentials. TLS and the pins of creds apply to the
// sentinels too.
func NewUniversalClient(ep resources.RedisEndpoint, creds Credentials) (redis.UniversalClient, error) {
	o, err := clientOptions(ep, creds)
	if err != nil {
		return nil, err
	}
	return redisclient.New(o)
}

// SentinelMaster asks the sentinels of a sentinel endpoint, one after the
// other, for the address of its master. It dials them as NewUniversalClient's
// failover client does: with the operator's settings, TLS and the pins of
// creds, and without authentication.
func SentinelMaster(ctx context.Context, ep resources.RedisEndpoint, creds Credentials) (string, error) {
	if ep.Mode != contract.ModeSentinel || ep.MasterName == "" || len(ep.Addrs) == 0 {
		return "", errors.New("sentinel endpoint needs a master name and at least one sentinel address")
	}
	o, err := clientOptions(ep, creds)
	if err != nil {
		return "", err
	}
	var lastErr error
	for _, addr := range ep.Addrs {
		sc := redisclient.NewSentinel(o, addr)
		hostPort, err := sc.GetMasterAddrByName(ctx, ep.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(hostPort) == 2 {
			return strings.Join(hostPort, ":"), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("asking the sentinels for master %q: %w", ep.MasterName, lastErr)
}

// clientOptions are the redisclient options of the operator's client of ep.
func clientOptions(ep resources.RedisEndpoint, creds Credentials) (redisclient.Options, error) {
	tlsConfig, err := tlsConfigFor(ep, creds)
	if err != nil {
		return redisclient.Options{}, err
	}
	return redisclient.Options{
		Mode:             ep.Mode,
		Addr:             ep.Addr,
		Addrs:            ep.Addrs,
		MasterName:       ep.MasterName,
		DB:               int(ep.DB),
		Username:         ep.Username,
		Password:         creds.Password,
		TLSConfig:        tlsConfig,
		Dialer:           dialerFor(creds, tlsConfig),
		ClientName:       ClientName,
		Protocol:         clientProtocol,
		DisableIdentity:  clientDisableIdentity,
		PoolSize:         clientPoolSize,
		PipelinePoolSize: clientPipelinePoolSize,
		DialTimeout:      clientDialTimeout,
		DialerRetries:    clientDialerRetries,
		ReadTimeout:      clientIOTimeout,
		WriteTimeout:     clientIOTimeout,
		PoolTimeout:      clientPoolTimeout,
		MaxRetries:       clientMaxRetries,
	}, nil
}

// tlsConfigFor returns nil when TLS is off, which go-redis reads as plain
// TCP.
func tlsConfigFor(ep resources.RedisEndpoint, creds Credentials) (*tls.Config, error) {
	if !ep.TLS {
		return nil, nil
	}
	return redisclient.TLSConfig(redisclient.TLS{
		CAPEM:              creds.CAPEM,
		ServerName:         ep.ServerName,
		InsecureSkipVerify: ep.InsecureSkipVerify,
	})
}
