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

// Package redisclient builds the go-redis client of a Redis reached in one
// of the contract's three modes: standalone, sentinel or cluster. The
// operator (its queue reads and CONFIG SET) and the worker SDK both build
// their clients here, so the three go-redis option structs are filled in
// one place and a setting cannot reach one mode and miss another.
//
// The mode is always explicit. go-redis's own NewUniversalClient guesses it
// from the options, and would make a standalone client of a cluster given
// one seed node.
//
// Options are passed to go-redis as they are: a zero field takes go-redis's
// default, so each caller keeps its own tuning.
package redisclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// Options describe one Redis endpoint and the client that reaches it.
type Options struct {
	// Mode is contract.ModeStandalone, ModeSentinel or ModeCluster.
	Mode string
	// Addr is host:port of the server in standalone mode.
	Addr string
	// Addrs are the sentinels (sentinel mode) or the seed nodes (cluster
	// mode).
	Addrs []string
	// MasterName names the master the sentinels watch.
	MasterName string
	// DB is the database number; cluster mode has only 0.
	DB int

	// Username is the ACL user of the server (the master and replicas in
	// sentinel mode, every node in cluster mode); empty for the default
	// user.
	Username string
	// Password authenticates Username.
	Password string
	// SentinelUsername and SentinelPassword authenticate to the sentinels.
	// Empty: the sentinels are asked without authentication.
	SentinelUsername string
	SentinelPassword string

	// TLSConfig turns TLS on for every connection, to sentinels too; nil
	// means plain TCP. With a Dialer, the Dialer does the handshake.
	TLSConfig *tls.Config
	// Dialer, when set, opens every connection (to sentinels, masters and
	// cluster nodes alike) instead of go-redis's dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// ClientName is sent with CLIENT SETNAME on every connection.
	ClientName string
	// Protocol is the RESP version, 2 or 3; 0 takes go-redis's default.
	Protocol int
	// DisableIdentity skips CLIENT SETINFO on a new connection.
	DisableIdentity bool

	// PoolSize is the most connections (per node in cluster mode).
	PoolSize int
	// MinIdleConns are kept open while idle.
	MinIdleConns int
	// PipelinePoolSize sizes go-redis's separate pool for pipelines; a
	// negative size keeps pipelines on the main pool.
	PipelinePoolSize int
	// DialTimeout bounds opening a connection.
	DialTimeout time.Duration
	// DialerRetries is how often one connection is dialled before giving up.
	DialerRetries int
	// ReadTimeout and WriteTimeout bound reading a reply and writing a
	// command.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a free connection.
	PoolTimeout time.Duration
	// ConnMaxIdleTime closes connections idle for longer.
	ConnMaxIdleTime time.Duration
	// MaxRetries is go-redis's: 0 retries 3 times, -1 never.
	MaxRetries int
}

// New builds the client of o.Mode: a Client in standalone mode, a failover
// Client in sentinel mode and a ClusterClient in cluster mode. It checks
// that the endpoint is complete for its mode, opens no connection but the
// MinIdleConns it keeps warm, and the caller closes the client.
func New(o Options) (redis.UniversalClient, error) {
	if o.DB < 0 {
		return nil, fmt.Errorf("db %d is negative", o.DB)
	}
	// One set of options, turned by go-redis into each mode's own: the
	// mode decides which fields of it count (Addrs is the address, the
	// sentinels or the seeds).
	u := &redis.UniversalOptions{
		Addrs:            o.Addrs,
		MasterName:       o.MasterName,
		SentinelUsername: o.SentinelUsername,
		SentinelPassword: o.SentinelPassword,
		DB:               o.DB,
		Username:         o.Username,
		Password:         o.Password,
		TLSConfig:        o.TLSConfig,
		Dialer:           o.Dialer,
		ClientName:       o.ClientName,
		Protocol:         o.Protocol,
		DisableIdentity:  o.DisableIdentity,
		PoolSize:         o.PoolSize,
		MinIdleConns:     o.MinIdleConns,
		PipelinePoolSize: o.PipelinePoolSize,
		DialTimeout:      o.DialTimeout,
		DialerRetries:    o.DialerRetries,
		ReadTimeout:      o.ReadTimeout,
		WriteTimeout:     o.WriteTimeout,
		PoolTimeout:      o.PoolTimeout,
		ConnMaxIdleTime:  o.ConnMaxIdleTime,
		MaxRetries:       o.MaxRetries,
	}
	switch o.Mode {
	case contract.ModeStandalone:
		if o.Addr == "" {
			return nil, errors.New("standalone endpoint has no address")
		}
		u.Addrs, u.MasterName = []string{o.Addr}, ""
		return redis.NewClient(u.Simple()), nil
	case contract.ModeSentinel:
		if o.MasterName == "" || len(o.Addrs) == 0 {
			return nil, errors.New("sentinel endpoint needs a master name and at least one sentinel address")
		}
		return redis.NewFailoverClient(u.Failover()), nil
	case contract.ModeCluster:
		if len(o.Addrs) == 0 {
			return nil, errors.New("cluster endpoint has no seed address")
		}
		if o.DB != 0 {
			return nil, fmt.Errorf("db %d: Redis Cluster has only db 0", o.DB)
		}
		return redis.NewClusterClient(u.Cluster()), nil
	}
	return nil, fmt.Errorf("unknown redis mode %q", o.Mode)
}

// NewSentinel builds a client of the one sentinel at addr, set up as the
// failover client of New asks its sentinels: with the sentinel
// credentials, TLSConfig, Dialer, client name, timeouts and retries of o,
// on database 0. The caller closes the client.
func NewSentinel(o Options, addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(sentinelOptions(o, addr))
}

// sentinelOptions are the options of NewSentinel, which go-redis does not
// show on a SentinelClient.
func sentinelOptions(o Options, addr string) *redis.Options {
	return &redis.Options{
		Addr:            addr,
		Username:        o.SentinelUsername,
		Password:        o.SentinelPassword,
		TLSConfig:       o.TLSConfig,
		Dialer:          o.Dialer,
		ClientName:      o.ClientName,
		DisableIdentity: o.DisableIdentity,
		PoolSize:        o.PoolSize,
		MinIdleConns:    o.MinIdleConns,
		DialTimeout:     o.DialTimeout,
		DialerRetries:   o.DialerRetries,
		ReadTimeout:     o.ReadTimeout,
		WriteTimeout:    o.WriteTimeout,
		PoolTimeout:     o.PoolTimeout,
		ConnMaxIdleTime: o.ConnMaxIdleTime,
		MaxRetries:      o.MaxRetries,
		// Sentinels send no maintenance notifications; asking for them
		// would only fail.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// ErrNoCertificate is returned by TLSConfig for a CA bundle without a PEM
// certificate.
var ErrNoCertificate = errors.New("CA bundle holds no PEM certificate")

// TLS describes how the server's certificate is checked.
type TLS struct {
	// CAPEM holds PEM CA certificates that replace the system roots.
	// Empty: the system roots verify the server.
	CAPEM []byte
	// ServerName is the name checked in the certificate. Empty: the host
	// of each address dialled, which is what sentinel and cluster modes
	// need.
	ServerName string
	// InsecureSkipVerify accepts any certificate.
	InsecureSkipVerify bool
}

// TLSConfig returns the client TLS configuration of t: TLS 1.2 or later,
// checked against t.CAPEM or the system roots.
func TLSConfig(t TLS) (*tls.Config, error) {
	c := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: t.ServerName,
		//nolint:gosec // set only when the user asks for it
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if len(t.CAPEM) > 0 {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(t.CAPEM) {
			return nil, ErrNoCertificate
		}
		c.RootCAs = roots
	}
	return c, nil
}
