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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/queueworker/queueworker-operator/internal/resources"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// EndpointKey identifies one pooled client: everything that makes two
// connections differ. The password and CA appear only as a fingerprint
// keyed with a secret of the Pool that made the key, so a key is safe to
// log and means nothing outside that process.
type EndpointKey struct {
	// Mode is contract.ModeStandalone, ModeSentinel or ModeCluster.
	Mode string
	// Addrs are the sorted addresses, comma-separated: the one address in
	// standalone mode, the sentinels or the cluster seeds otherwise.
	Addrs string
	// MasterName is the sentinel master's name.
	MasterName string
	// DB is the database number.
	DB int32
	// Username is the ACL user.
	Username string
	// TLS, ServerName and InsecureSkipVerify are the TLS settings.
	TLS                bool
	ServerName         string
	InsecureSkipVerify bool
	// Secret fingerprints the password and CA; empty when neither is set.
	Secret string
}

// String renders the key for logs and events.
func (k EndpointKey) String() string {
	if k.Secret == "" {
		return k.Label()
	}
	return k.Label() + " secret=" + k.Secret
}

// Label renders the key without the secret fingerprint: the same in every
// process and across password rotations, so it suits a metric label that
// must not multiply with restarts. Keys that differ only in their
// credentials share it.
func (k EndpointKey) Label() string {
	var b strings.Builder
	b.WriteString(k.Mode)
	b.WriteString(" ")
	b.WriteString(k.Addrs)
	if k.MasterName != "" {
		b.WriteString(" master=" + k.MasterName)
	}
	fmt.Fprintf(&b, " db=%d", k.DB)
	if k.Username != "" {
		b.WriteString(" user=" + k.Username)
	}
	if k.TLS {
		b.WriteString(" tls")
		if k.ServerName != "" {
			b.WriteString(" serverName=" + k.ServerName)
		}
		if k.InsecureSkipVerify {
			b.WriteString(" insecureSkipVerify")
		}
	}
	return b.String()
}

// Factory builds the go-redis client of an endpoint. NewUniversalClient is
// the one the operator uses; tests wrap it to add hooks.
type Factory func(resources.RedisEndpoint, Credentials) (redis.UniversalClient, error)

// Pool keeps one go-redis client per distinct endpoint and credentials,
// shared by every user of that endpoint and closed when the last one lets
// go. It is safe for concurrent use.
type Pool struct {
	factory Factory
	// secret keys the fingerprints of passwords and CAs in EndpointKeys.
	secret []byte

	mu      sync.Mutex
	closed  bool
	clients map[EndpointKey]*Client
}

// Client is the pooled client of one endpoint.
type Client struct {
	key EndpointKey
	rdb redis.UniversalClient
	// refs is guarded by the Pool's mutex.
	refs int
}

// Redis returns the go-redis client, for a PING or a ReadStats.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// NewPool returns an empty Pool that builds clients with factory, or with
// NewUniversalClient when factory is nil.
func NewPool(factory Factory) *Pool {
	if factory == nil {
		factory = NewUniversalClient
	}
	secret := make([]byte, 32)
	// crypto/rand.Read never fails (it panics instead), per its docs.
	_, _ = rand.Read(secret)
	return &Pool{
		factory: factory,
		secret:  secret,
		clients: map[EndpointKey]*Client{},
	}
}

// Key returns the key under which the pool keeps the client of ep with
// creds. Addresses are compared as a set, so two resources listing the same
// seeds in another order share a client.
func (p *Pool) Key(ep resources.RedisEndpoint, creds Credentials) EndpointKey {
	addrs := slices.Clone(ep.Addrs)
	if ep.Mode == contract.ModeStandalone {
		addrs = []string{ep.Addr}
	}
	slices.Sort(addrs)
	return EndpointKey{
		Mode:               ep.Mode,
		Addrs:              strings.Join(slices.Compact(addrs), ","),
		MasterName:         ep.MasterName,
		DB:                 ep.DB,
		Username:           ep.Username,
		TLS:                ep.TLS,
		ServerName:         ep.ServerName,
		InsecureSkipVerify: ep.InsecureSkipVerify,
		Secret:             p.fingerprint(creds),
	}
}

// fingerprint is an HMAC rather than a plain hash so that a key seen in a
// log cannot be used to test guesses of a weak password.
func (p *Pool) fingerprint(creds Credentials) string {
	if creds.Password == "" && len(creds.CAPEM) == 0 && creds.AllowedAddrs == nil {
		return ""
	}
	m := hmac.New(sha256.New, p.secret)
	// The length prefix keeps password "ab" + CA "c" apart from "a" + "bc".
	_ = binary.Write(m, binary.BigEndian, uint64(len(creds.Password)))
	m.Write([]byte(creds.Password))
	_ = binary.Write(m, binary.BigEndian, uint64(len(creds.CAPEM)))
	m.Write(creds.CAPEM)
	// A client pinned to some addresses is not one that may dial any.
	if creds.AllowedAddrs != nil {
		m.Write([]byte("pinned:" + strings.Join(creds.AllowedAddrs, ",")))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// errPoolClosed is returned by Acquire after Close.
var errPoolClosed = errors.New("queue client pool is closed")

// Acquire returns the shared client of ep with creds, building it on first
// use, and a release func that gives it back; the last release closes it.
// Release is idempotent.
func (p *Pool) Acquire(ep resources.RedisEndpoint, creds Credentials) (*Client, func(), error) {
	key := p.Key(ep, creds)
	p.mu.Lock()
	c, err := p.acquireLocked(key, ep, creds)
	p.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	return c, func() { once.Do(func() { p.release(c) }) }, nil
}

// Len returns the number of open clients.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// Close closes every client, whoever holds it, and makes Acquire fail
// from then on. Releases after Close do nothing.
func (p *Pool) Close() error {
	p.mu.Lock()
	clients := make([]*Client, 0, len(p.clients))
	for _, c := range p.clients {
		c.refs = 0
		clients = append(clients, c)
	}
	p.closed = true
	clear(p.clients)
	p.mu.Unlock()
	var errs []error
	for _, c := range clients {
		if err := c.rdb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing client of %s: %w", c.key, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) acquireLocked(key EndpointKey, ep resources.RedisEndpoint, creds Credentials) (*Client, error) {
	if p.closed {
		return nil, errPoolClosed
	}
	if c := p.clients[key]; c != nil {
		c.refs++
		return c, nil
	}
	// Building a client opens no connection, so holding the lock is cheap.
	rdb, err := p.factory(ep, creds)
	if err != nil {
		return nil, fmt.Errorf("building redis client for %s: %w", key, err)
	}
	c := &Client{key: key, rdb: rdb, refs: 1}
	p.clients[key] = c
	return c, nil
}

func (p *Pool) release(c *Client) {
	p.mu.Lock()
	if c.refs == 0 {
		// Close got there first.
		p.mu.Unlock()
		return
	}
	c.refs--
	last := c.refs == 0
	if last {
		delete(p.clients, c.key)
	}
	p.mu.Unlock()
	if last {
		// Nothing is left to report a close error to; the connections are
		// gone either way.
		_ = c.rdb.Close()
	}
}
