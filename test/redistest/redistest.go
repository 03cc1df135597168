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

// Package redistest runs private redis-server processes on free loopback
// ports for tests, and a proxy (Proxy) that plays a flaky network in front
// of them. The binary is redis-server from PATH, or $REDIS_SERVER;
// hack/install-redis.sh installs it.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Server is one running redis-server.
type Server struct {
	// Addr is host:port of the server, on 127.0.0.1.
	Addr string
	// Port is the port of Addr.
	Port int

	bin  string
	dir  string
	args []string
	// sentinelConf, when set, runs redis-server as a sentinel with this
	// configuration file, which the sentinel rewrites.
	sentinelConf string
	cmd          *exec.Cmd
	done         chan struct{}
}

// Start runs a redis-server on a free loopback port, with persistence off
// and extra directives from args (each "name value", as on the
// redis-server command line without the leading dashes), and waits until it
// answers PING.
func Start(args ...string) (*Server, error) {
	s, err := newServer(args)
	if err != nil {
		return nil, err
	}
	if err := s.startOnFreePort(); err != nil {
		return nil, err
	}
	return s, nil
}

// StartSentinel runs a redis-server in sentinel mode on a free loopback
// port, monitoring masters (name -> ip:port) with a quorum of 1, and waits
// until it answers PING. The sentinel needs no password.
func StartSentinel(masters map[string]string) (*Server, error) {
	s, err := newServer(nil)
	if err != nil {
		return nil, err
	}
	var conf strings.Builder
	for name, addr := range masters {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			_ = os.RemoveAll(s.dir)
			return nil, fmt.Errorf("master %s: %w", name, err)
		}
		fmt.Fprintf(&conf, "sentinel monitor %s %s %s 1\n", name, host, port)
	}
	s.sentinelConf = filepath.Join(s.dir, "sentinel.conf")
	if err := os.WriteFile(s.sentinelConf, []byte(conf.String()), 0o600); err != nil {
		_ = os.RemoveAll(s.dir)
		return nil, fmt.Errorf("writing sentinel.conf: %w", err)
	}
	if err := s.startOnFreePort(); err != nil {
		return nil, err
	}
	return s, nil
}

func newServer(args []string) (*Server, error) {
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		bin, err = exec.LookPath("redis-server")
		if err != nil {
			return nil, errors.New("redis-server not found: run hack/install-redis.sh or set REDIS_SERVER")
		}
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	return &Server{bin: bin, dir: dir, args: args}, nil
}

// startOnFreePort starts s on a free port, trying another if a race took
// the one it found. It removes the data directory when it fails.
func (s *Server) startOnFreePort() error {
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(s.dir)
			return err
		}
		s.Port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			return nil
		}
	}
	_ = os.RemoveAll(s.dir)
	return lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	var argv []string
	if s.sentinelConf != "" {
		argv = []string{s.sentinelConf, "--sentinel"}
	}
	argv = append(argv,
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	)
	for _, a := range s.args {
		name, value, _ := strings.Cut(a, " ")
		argv = append(argv, "--"+name)
		if value != "" {
			argv = append(argv, value)
		}
	}
	cmd := exec.Command(s.bin, argv...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.done)

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.Port, s.tailLog())
		default:
		}
		if err := s.Ping(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.Stop()
	return fmt.Errorf("redis-server on port %d did not answer PING within 10s: %s", s.Port, s.tailLog())
}

// Ping sends PING without authentication and succeeds on PONG or on a
// NOAUTH error (a server with a password is up too).
func (s *Server) Ping() error {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH") {
		return nil
	}
	return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
}

func (s *Server) tailLog() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Stop kills the server and waits for it to exit. The port and data
// directory are kept, so Restart brings the same server back.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	return nil
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("redis-server is still running")
	}
	return s.start()
}

// Close stops the server and removes its data directory.
func (s *Server) Close() error {
	err := s.Stop()
	_ = os.RemoveAll(s.dir)
	return err
}
