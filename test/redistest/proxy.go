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

package redistest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a TCP proxy in front of a redis-server that plays a flaky or
// slow network: it can delay every chunk the server sends, and go down
// (reset every open connection and refuse new ones) and up again.
type Proxy struct {
	// Addr is host:port of the proxy, on 127.0.0.1.
	Addr   string
	target string
	l      net.Listener

	// delay is added before every chunk from the server (nanoseconds).
	delay atomic.Int64
	down  atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartProxy listens on a free loopback port and forwards every connection
// to target.
func StartProxy(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Close stops listening, resets every open connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	err := p.l.Close()
	p.closeAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			resetConn(c)
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			resetConn(c)
			continue
		}
		p.track(c, s)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(s, c)
			_ = s.Close()
			_ = c.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.downstream(c, s)
			_ = s.Close()
			_ = c.Close()
		}()
	}
}

// downstream copies server -> client with the configured delay.
func (p *Proxy) downstream(c, s net.Conn) {
	buf := make([]byte, 64*1024)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		resetConn(c)
		delete(p.conns, c)
	}
}

// SetDelay delays every chunk the server sends by d from now on; 0 ends
// the delay.
func (p *Proxy) SetDelay(d time.Duration) {
	p.delay.Store(int64(d))
}

// SetDown takes the network down (resetting every open connection) or
// brings it back.
func (p *Proxy) SetDown(down bool) {
	p.down.Store(down)
	if down {
		p.closeAll()
	}
}

// resetConn closes c with a RST rather than a FIN where it can.
func resetConn(c net.Conn) {
	if t, ok := c.(*net.TCPConn); ok {
		_ = t.SetLinger(0)
	}
	_ = c.Close()
}
