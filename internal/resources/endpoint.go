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

// Package resources builds the Kubernetes objects the operator wants to
// exist. It is pure: no clients, no clock; the controllers read what exists,
// ask these builders for what should, and write the difference.
package resources

import (
	"slices"
	"strings"

	queueworkerv1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// SecretKey names one key of a Secret in the QueueWorker's namespace.
type SecretKey struct {
	Name string
	Key  string
}

// RedisEndpoint is a resolved Redis connection: where Redis is and how to
// authenticate, with secrets named but never read. It comes from a
// QueueWorker's redis block directly or, for redis.configRef, from the
// RedisConfig it names.
type RedisEndpoint struct {
	// Mode is one of contract.ModeStandalone, ModeSentinel, ModeCluster.
	Mode string
	// Addr is host:port in standalone mode.
	Addr string
	// Addrs are the sentinels or the cluster's seed nodes.
	Addrs []string
	// MasterName is the sentinel master's name.
	MasterName string
	// DB is the database number.
	DB int32
	// Username is the ACL user; empty for the default user.
	Username string
	// Password selects the password, if any.
	Password *SecretKey
	// TLS turns TLS on.
	TLS bool
	// CA selects PEM CA certificates, if any.
	CA *SecretKey
	// ServerName overrides the certificate name check.
	ServerName string
	// InsecureSkipVerify turns certificate checks off.
	InsecureSkipVerify bool
}

// EndpointFromSpec resolves a redis block that names Redis directly (addr,
// sentinel or cluster). It returns false for redis.configRef, which only a
// RedisConfig can resolve.
func EndpointFromSpec(r queueworkerv1alpha1.RedisConnection) (RedisEndpoint, bool) {
	var e RedisEndpoint
	switch {
	case r.Addr != "":
		e.Mode = contract.ModeStandalone
		e.Addr = r.Addr
	case r.Sentinel != nil:
		e.Mode = contract.ModeSentinel
		e.MasterName = r.Sentinel.MasterName
		e.Addrs = slices.Clone(r.Sentinel.Addrs)
	case r.Cluster != nil:
		e.Mode = contract.ModeCluster
		e.Addrs = slices.Clone(r.Cluster.Addrs)
	default:
		return RedisEndpoint{}, false
	}
	if r.DB != nil {
		e.DB = *r.DB
	}
	e.Username = r.Username
	if r.PasswordSecretRef != nil {
		e.Password = &SecretKey{Name: r.PasswordSecretRef.Name, Key: r.PasswordSecretRef.Key}
	}
	if r.TLS != nil && r.TLS.Enabled {
		e.TLS = true
		e.ServerName = r.TLS.ServerName
		e.InsecureSkipVerify = r.TLS.InsecureSkipVerify
		if r.TLS.CASecretRef != nil {
			e.CA = &SecretKey{Name: r.TLS.CASecretRef.Name, Key: r.TLS.CASecretRef.Key}
		}
	}
	return e, true
}

// Addresses are the addresses the endpoint dials first: the server in
// standalone mode, the sentinels or the cluster's seed nodes otherwise.
func (e RedisEndpoint) Addresses() []string {
	if e.Mode == contract.ModeStandalone {
		return []string{e.Addr}
	}
	return slices.Clone(e.Addrs)
}

// EndpointFromRedisConfig resolves redis.configRef: the address, client
// credentials and TLS settings a RedisConfig publishes. Mode Managed serves
// one standalone server at status.address; mode External is reached as its
// spec.external says, with the client username and password of its status
// (never the credentials the operator configures the server with, unless
// the RedisConfig hands those to clients).
func EndpointFromRedisConfig(rc *queueworkerv1alpha1.RedisConfig) RedisEndpoint {
	var e RedisEndpoint
	if ref := rc.Status.PasswordSecretRef; ref != nil {
		e.Password = &SecretKey{Name: ref.Name, Key: ref.Key}
	}
	e.Username = rc.Status.Username
	if rc.Spec.Mode == queueworkerv1alpha1.RedisConfigExternal && rc.Spec.External != nil {
		x := rc.Spec.External
		ext, _ := EndpointFromSpec(queueworkerv1alpha1.RedisConnection{
			Addr: x.Addr, Sentinel: x.Sentinel, Cluster: x.Cluster, TLS: x.TLS,
		})
		ext.Password = e.Password
		ext.Username = e.Username
		return ext
	}
	e.Mode = contract.ModeStandalone
	e.Addr = rc.Status.Address
	if rc.Spec.TLS != nil {
		e.TLS = true
		e.CA = &SecretKey{Name: rc.Spec.TLS.CertSecretName, Key: "ca.crt"}
		if host, _, ok := strings.Cut(rc.Status.Address, ":"); ok {
			e.ServerName = host
		}
	}
	return e
}
