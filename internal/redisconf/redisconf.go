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

// Package redisconf turns a RedisConfig's spec into redis.conf and says which
// keys a running server accepts with CONFIG SET. It is pure: it reads no
// files, talks to no server and never looks at the clock, so the controller
// can render, hash and compare configurations as plain data.
//
// # The password stays out of the ConfigMap
//
// In mode Managed the rendered file goes into a ConfigMap, which many more
// people and tools can read than a Secret. The password therefore never
// passes through Render. RenderPasswordFile renders it into its own file,
// which the managed password Secrets hold (internal/resources builds them
// with it) and the Redis pod mounts at Options.PasswordFile; Render emits
// only "include <Options.PasswordFile>". redis-server reads the included
// file at start, so the password is in neither the ConfigMap nor the
// server's arguments (the probes take it from an environment variable set
// from the same Secret). CheckPassword says which passwords that file can
// hold.
//
// # One quoting function
//
// Every value, of redis.conf and of the password file alike, enters the
// file through quote, which writes it as exactly one argument of its line,
// so no value can end its line and start another directive.
//
// # TLS
//
// With spec.tls the server listens only for TLS: "tls-port" takes
// Options.Port and "port 0" turns the plain listener off, so no client can
// fall back to clear text. The certificate, key and CA come from the
// Secret spec.tls.certSecretName mounted at Options.TLSDir, under the names
// cert-manager writes (tls.crt, tls.key, ca.crt).
//
// # Mode External
//
// The operator does not run an External server, so where it listens, where
// it keeps its files and how it authenticates are not the operator's to set:
// in mode External the directives carry only the tuning the spec declares,
// and Options is not consulted.
//
// Nor are the defaults the operator's to impose on a server it does not
// run: in mode External a field the spec leaves unset renders no directive,
// and the server keeps its own value. Mode Managed fills unset fields with
// the defaults the API documents (noeviction, AOF with everysec, no
// snapshots, tcp-backlog 511, 300 s timeouts, maxclients 10000, lazy
// freeing), so the server the operator runs never depends on Redis's
// built-in defaults.
package redisconf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	v1alpha1 "github.com/queueworker/queueworker-operator/api/v1alpha1"
)

// Defaults of Options' zero values, in the container the operator runs.
const (
	// DefaultPort is the port clients use, plain or TLS.
	DefaultPort = 6379
	// DefaultDataDir holds the append-only file and snapshots.
	DefaultDataDir = "/data"
	// DefaultTLSDir is where the spec.tls.certSecretName Secret is mounted.
	DefaultTLSDir = "/etc/redis/tls"
	// DefaultPasswordFile is the conventional mount path of the file
	// RenderPasswordFile renders. Render only includes a password file when
	// Options.PasswordFile is set: it cannot know whether one is mounted.
	DefaultPasswordFile = "/etc/redis/secret/password.conf"
)

// Names of the files in a TLS Secret, as cert-manager writes them.
const (
	// TLSCertFile is the server certificate (tls-cert-file).
	TLSCertFile = "tls.crt"
	// TLSKeyFile is the certificate's private key (tls-key-file).
	TLSKeyFile = "tls.key"
	// TLSCAFile is the CA that signs client certificates (tls-ca-cert-file).
	TLSCAFile = "ca.crt"
)

// Options is what a rendered file needs beyond the spec: where the server the
// operator runs listens and finds its files. Zero fields take the Default
// constants. Mode External ignores Options.
type Options struct {
	// Port is the port clients connect to: the plain port, or the TLS port
	// when spec.tls is set (the plain port is then off). Default 6379.
	Port int
	// DataDir is the working directory, which holds the append-only file
	// and the snapshots. Default /data.
	DataDir string
	// PasswordFile is the absolute path of the file RenderPasswordFile
	// renders, mounted from a Secret; Render emits "include <PasswordFile>".
	// Empty means no password file and so no password.
	PasswordFile string
	// TLSDir is the directory where the spec.tls.certSecretName Secret is
	// mounted. Default /etc/redis/tls.
	TLSDir string
}

// Directive is one key of redis.conf and its value.
type Directive struct {
	// Key is the lower-case redis.conf key.
	Key string
	// Value is the value as CONFIG SET takes it and, for everything but
	// client-output-buffer-limit and notify-keyspace-events (which Redis
	// reformats), as CONFIG GET reports it: memory in bytes, durations in
	// whole seconds, booleans as yes or no, the save rules as one
	// space-separated list ("" when snapshots are off).
	Value string
}

// FieldError is a field of the spec or of Options, or the password, that
// cannot be rendered. Render, Directives, RenderPasswordFile and
// CheckPassword return every FieldError they find, joined with errors.Join.
// Retrying does not help: the spec or the password must change.
type FieldError struct {
	// Field is the path of the field, e.g. "spec.extraConfig[hz]" or
	// "options.dataDir".
	Field string
	// Message says what is wrong and what would be accepted.
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// header opens every rendered file, for whoever reads the ConfigMap.
const header = "# redis.conf rendered by queueworker-operator from a RedisConfig; edits are overwritten.\n"

// Render renders the spec as the contents of redis.conf: a header comment,
// then one "key value" line per directive in the order of Directives. The
// same spec and options always give the same bytes.
func Render(spec v1alpha1.RedisConfigSpec, opts Options) ([]byte, error) {
	ds, err := Directives(spec, opts)
	if err != nil {
		return nil, err
	}
	return format(header, ds, false), nil
}

// Directives returns the directives Render writes, sorted by key; each key
// appears once. The External applier sets them with CONFIG SET, after
// asking ModeOf which of them a running server accepts.
//
// In mode Managed, fields left unset take the defaults the API documents;
// in mode External they render nothing (see the package documentation).
// Fields the CRD's validation would refuse are refused here too, together
// with what CEL cannot check: the value types of extraConfig and the
// Options.
func Directives(spec v1alpha1.RedisConfigSpec, opts Options) ([]Directive, error) {
	r := renderer{}
	r.render(spec, opts)
	if len(r.errs) > 0 {
		return nil, errors.Join(r.errs...)
	}
	sortDirectives(r.out)
	return r.out, nil
}

// RenderPasswordFile renders the file that Options.PasswordFile includes:
// requirepass, the password clients authenticate with, then masterauth, the
// one a replica would use, so that adding replicas needs no second secret.
// The result belongs in a Secret, never in a ConfigMap.
//
// The password is always written in double quotes, even one that needs
// none, so that the password Secrets already written keep their bytes. It
// must pass CheckPassword; the error, a *FieldError, never contains it.
func RenderPasswordFile(password string) ([]byte, error) {
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	return format("", []Directive{
		{Key: "requirepass", Value: password},
		{Key: "masterauth", Value: password},
	}, true), nil
}

// CheckPassword returns a *FieldError for a password RenderPasswordFile
// refuses, and nil for any other. It is the one rule for the password of
// the server the operator runs, generated or the user's.
//
// An empty password would let every client in. NUL cannot reach the
// server intact through a file, an argument or an environment variable. A
// line break (CR or LF) is refused too: quote would escape it, but
// redis.conf is a file of lines that people and tools other than
// redis-server read, and a password that ends in one is nearly always a
// Secret created from a file with its trailing newline, which is better
// refused than set as a password no client sends. Every other byte is
// allowed and escaped by quote.
func CheckPassword(password string) error {
	const passwordField = "password"
	switch {
	case password == "":
		return &FieldError{Field: passwordField, Message: "is empty"}
	case strings.IndexByte(password, 0) >= 0:
		return &FieldError{Field: passwordField, Message: "contains a NUL byte"}
	case strings.ContainsAny(password, "\r\n"):
		return &FieldError{Field: passwordField, Message: "contains a line break (CR or LF)"}
	}
	return nil
}

// Hash is a short, stable digest of a rendered file for the pod template
// annotation: a change of the file changes the hash and rolls the pods. It
// is sixteen hex digits of SHA-256. Use it on the ConfigMap's contents only:
// a hash of the password file would let anyone who reads pods test guesses
// of the password offline.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// RestartHash is the Hash of the directives among ds that only a restart
// applies (ModeOf is RestartRequired): one "key value" line each, in the
// order of ds, with the values as they are, unquoted. It goes into the pod
// template of the server the operator runs, so a change of such a key rolls
// the pod while a change of a runtime key does not: that one is set with
// CONFIG SET. For the same directives it never changes, or every managed
// Redis would restart.
func RestartHash(ds []Directive) string {
	var b strings.Builder
	for _, d := range ds {
		if ModeOf(d.Key) == RestartRequired {
			b.WriteString(d.Key + " " + d.Value + "\n")
		}
	}
	return Hash([]byte(b.String()))
}

// format writes one line per directive after the header, every value
// quoted by quote; forceQuotes puts even a bare value in double quotes.
func format(header string, ds []Directive, forceQuotes bool) []byte {
	var b strings.Builder
	b.WriteString(header)
	for _, d := range ds {
		b.WriteString(d.Key)
		b.WriteByte(' ')
		b.WriteString(quote(d.Value, forceQuotes))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// quote writes a value as exactly one argument of a redis.conf line, which
// redis-server splits with sdssplitargs. It is the only place a value enters
// a file, redis.conf or the password file.
//
// A value made only of printable ASCII other than space and the quote and
// backslash characters is written as it is, unless forceQuotes. Anything
// else, including the empty value, is written in double quotes, with
// backslash and double quote escaped by a backslash and every byte outside
// printable ASCII as \xHH.
// No byte of the value is then a line break, so no value can end its line
// and start another directive, whatever validation let through.
//
// Keys with several arguments (save, client-output-buffer-limit,
// oom-score-adj-values) are one quoted argument too: redis-server splits a
// lone argument of such a key on spaces, both in the file and in CONFIG SET.
func quote(v string, forceQuotes bool) string {
	if !forceQuotes && isBare(v) {
		return v
	}
	const hexDigits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= ' ' && c <= '~':
			b.WriteByte(c)
		default:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isBare reports whether v can be written without quotes.
func isBare(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds an ASCII control character. NUL would
// end the file early for redis-server, which reads it as a C string; line
// breaks would end the line.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// fieldf records a FieldError.
func fieldf(errs *[]error, field, format string, args ...any) {
	*errs = append(*errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}
