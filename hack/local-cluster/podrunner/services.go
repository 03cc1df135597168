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

package podrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Services. Nothing routes the cluster's Service addresses here, so the
// runner plays cluster DNS and kube-proxy for the Services whose pods it
// runs: every Service with a ClusterIP gets a loopback address of its own
// (ServiceLoopback), where the runner listens on each Service port and
// forwards a connection to a ready process of a pod the Service selects.
// Its names, <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local, resolve to
// that address through a hosts file that each process sees as /etc/hosts,
// in a mount namespace of its own (the same CAP_SYS_ADMIN as its host
// name; without it, Service names do not resolve).

// ServiceLoopbackAddress maps a Service's ClusterIP into prefix, a /16 of
// 127.0.0.0/8: the last two bytes are the ClusterIP's. Two clusters on one
// machine use different prefixes.
func ServiceLoopbackAddress(prefix net.IP, clusterIP string) (string, bool) {
	ip := net.ParseIP(clusterIP).To4()
	p := prefix.To4()
	if ip == nil || p == nil {
		return "", false
	}
	return net.IPv4(p[0], p[1], ip[2], ip[3]).String(), true
}

// HostsFile renders the hosts file of the processes: the machine's own
// (base), then one line per Service with its loopback address and names.
func HostsFile(base []byte, prefix net.IP, services []corev1.Service) []byte {
	var b strings.Builder
	b.Write(base)
	if len(base) > 0 && base[len(base)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteString("# Services of the local cluster (hack/local-cluster/podrunner)\n")
	sorted := slices.Clone(services)
	slices.SortFunc(sorted, func(a, b corev1.Service) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for _, s := range sorted {
		addr, ok := ServiceLoopbackAddress(prefix, s.Spec.ClusterIP)
		if !ok {
			continue
		}
		name := s.Name + "." + s.Namespace + ".svc"
		fmt.Fprintf(&b, "%s %s %s.cluster.local\n", addr, name, name)
	}
	return []byte(b.String())
}

// serviceProxy listens at the loopback address of every Service port.
type serviceProxy struct {
	r         *Runner
	hostsFile string
	prefix    net.IP

	mu        sync.Mutex
	listeners map[string]*serviceListener // by listen address
	hosts     []byte
}

// serviceListener forwards one Service port.
type serviceListener struct {
	l          net.Listener
	namespace  string
	selector   labels.Selector
	targetPort intstr.IntOrString
}

// Reconcile brings the listeners and the hosts file in line with the
// Services that exist; any Service event reconciles them all.
func (p *serviceProxy) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var list corev1.ServiceList
	if err := p.r.client.List(ctx, &list); err != nil {
		return ctrl.Result{}, err
	}
	want := map[string]*serviceListener{}
	for _, s := range list.Items {
		addr, ok := ServiceLoopbackAddress(p.prefix, s.Spec.ClusterIP)
		if !ok || len(s.Spec.Selector) == 0 || s.DeletionTimestamp != nil {
			continue
		}
		for _, port := range s.Spec.Ports {
			if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
				continue
			}
			target := port.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(port.Port)
			}
			want[net.JoinHostPort(addr, strconv.Itoa(int(port.Port)))] = &serviceListener{
				namespace: s.Namespace, selector: labels.SelectorFromSet(s.Spec.Selector), targetPort: target,
			}
		}
	}
	base, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading /etc/hosts: %w", err)
	}
	hosts := HostsFile(base, p.prefix, list.Items)

	p.mu.Lock()
	defer p.mu.Unlock()
	log := logf.FromContext(ctx)
	var errs []error
	for addr, have := range p.listeners {
		if w, ok := want[addr]; ok {
			// The same address may now serve another Service.
			have.namespace, have.selector, have.targetPort = w.namespace, w.selector, w.targetPort
			continue
		}
		_ = have.l.Close()
		delete(p.listeners, addr)
	}
	for _, addr := range slices.Sorted(maps.Keys(want)) {
		if _, ok := p.listeners[addr]; ok {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listening for a Service at %s: %w", addr, err))
			continue
		}
		sl := want[addr]
		sl.l = l
		p.listeners[addr] = sl
		log.Info("forwarding a Service port", "address", addr, "namespace", sl.namespace, "selector", sl.selector.String())
		go p.serve(sl)
	}
	if string(hosts) != string(p.hosts) {
		// In place: each process's /etc/hosts is a bind mount of this file.
		if err := os.WriteFile(p.hostsFile, hosts, 0o644); err != nil {
			errs = append(errs, err)
		} else {
			p.hosts = hosts
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// serve forwards each connection to a ready process; with none, the
// connection is closed at once, as kube-proxy rejects it.
func (p *serviceProxy) serve(sl *serviceListener) {
	for {
		conn, err := sl.l.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		ns, sel, target := sl.namespace, sl.selector, sl.targetPort
		p.mu.Unlock()
		go func() {
			defer func() { _ = conn.Close() }()
			backend, ok := p.r.endpoint(ns, sel, target)
			if !ok {
				return
			}
			up, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer func() { _ = up.Close() }()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(up, conn)
			go pipe(conn, up)
			<-done
			<-done
		}()
	}
}

// close stops every listener.
func (p *serviceProxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, sl := range p.listeners {
		_ = sl.l.Close()
		delete(p.listeners, addr)
	}
}

// endpoint returns the local address of a ready process of a pod in ns
// that sel selects and that serves target.
func (r *Runner) endpoint(ns string, sel labels.Selector, target intstr.IntOrString) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.pods {
		if st.key.Namespace != ns || st.stopping || !sel.Matches(labels.Set(st.labels)) {
			continue
		}
		for _, cs := range st.containers {
			port := target.IntVal
			if target.Type == intstr.String {
				port = cs.ports[target.StrVal]
			}
			addr, ok := cs.addrs[port]
			if ok && port != 0 && cs.proc != nil && !cs.proc.exited() && cs.ready.Load() {
				return addr, true
			}
		}
	}
	return "", false
}
