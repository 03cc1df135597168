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

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// testCA returns a self-signed CA certificate in PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestOptions checks how the flags, the password file or variable and the
// CA file become client options.
func TestOptions(t *testing.T) {
	files := map[string][]byte{
		"/pw-lf":   []byte("s3cret\n"),
		"/pw-crlf": []byte("s3cret\r\n"),
		"/pw-two":  []byte("s3cret\n\n"),
		"/ca.crt":  testCA(t),
		"/junk":    []byte("not a certificate"),
	}
	readFile := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	tests := []struct {
		name         string
		flags        redisFlags
		env          string
		wantPassword string
		wantTLS      bool
		wantCA       bool
		wantErr      string
	}{
		{name: "no password", flags: redisFlags{addr: "r:6379"}},
		{name: "password from the variable", flags: redisFlags{addr: "r:6379"}, env: "from-env", wantPassword: "from-env"},
		{name: "file with a line feed", flags: redisFlags{addr: "r:6379", passwordFile: "/pw-lf"}, wantPassword: "s3cret"},
		{name: "file with CR LF", flags: redisFlags{addr: "r:6379", passwordFile: "/pw-crlf"}, wantPassword: "s3cret"},
		{name: "only one line break is dropped", flags: redisFlags{addr: "r:6379", passwordFile: "/pw-two"}, wantPassword: "s3cret\n"},
		{name: "missing file", flags: redisFlags{addr: "r:6379", passwordFile: "/nope"}, wantErr: "reading the Redis password"},
		{name: "file and variable", flags: redisFlags{addr: "r:6379", passwordFile: "/pw-lf"}, env: "x", wantErr: "set one"},
		{name: "TLS with the system roots", flags: redisFlags{addr: "r:6379", tls: true, serverName: "redis.example.com"}, wantTLS: true},
		{name: "TLS with a CA", flags: redisFlags{addr: "r:6379", tls: true, caFile: "/ca.crt"}, wantTLS: true, wantCA: true},
		{name: "CA file without a certificate", flags: redisFlags{addr: "r:6379", tls: true, caFile: "/junk"}, wantErr: "/junk: CA bundle holds no PEM certificate"},
		{name: "missing CA file", flags: redisFlags{addr: "r:6379", tls: true, caFile: "/nope"}, wantErr: "reading the Redis CA bundle"},
		{name: "CA without TLS", flags: redisFlags{addr: "r:6379", caFile: "/ca.crt"}, wantErr: "need --redis-tls"},
		{name: "no address", flags: redisFlags{}, wantErr: "--redis-addr is required"},
		{name: "negative db", flags: redisFlags{addr: "r:6379", db: -1}, wantErr: "--redis-db -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == contract.EnvRedisPassword {
					return tt.env
				}
				return ""
			}
			o, err := tt.flags.options(readFile, getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Mode != contract.ModeStandalone || o.Addr != tt.flags.addr || o.DB != tt.flags.db || o.ClientName != clientName {
				t.Errorf("options = %+v", o)
			}
			if o.Password != tt.wantPassword {
				t.Errorf("password = %q, want %q", o.Password, tt.wantPassword)
			}
			if (o.TLSConfig != nil) != tt.wantTLS {
				t.Fatalf("TLS config = %v, want TLS %v", o.TLSConfig, tt.wantTLS)
			}
			if tt.wantTLS {
				if o.TLSConfig.ServerName != tt.flags.serverName {
					t.Errorf("server name = %q, want %q", o.TLSConfig.ServerName, tt.flags.serverName)
				}
				if (o.TLSConfig.RootCAs != nil) != tt.wantCA {
					t.Errorf("root CAs set = %v, want %v", o.TLSConfig.RootCAs != nil, tt.wantCA)
				}
			}
		})
	}
}
