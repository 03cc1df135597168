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
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/queueworker/queueworker-operator/pkg/contract"
)

// The image repositories of this project's own images (the Dockerfile's
// manager and worker stages).
const (
	ManagerRepository = "queueworker-operator"
	WorkerRepository  = "queueworker-worker"
)

// RedisRepository is the official Redis image, which a Managed RedisConfig
// runs (internal/resources.DefaultRedisImage).
const RedisRepository = "redis"

// Program is a local executable that stands in for a container image.
type Program struct {
	// Binary is the path of the executable.
	Binary string
	// Entrypoint is the image's ENTRYPOINT. A container command that
	// starts with it runs Binary; no other command can run, since the
	// images hold nothing else.
	Entrypoint string
	// Addresses are the listen addresses the program reads from flags or
	// environment variables. Replicas of a pod would all ask for the same
	// port, so each process gets free loopback ports instead.
	Addresses []AddressSetting
	// ListenFlags, when set, are the arguments appended to the command to
	// move the container's first port to host:port, for a program that
	// reads its port from a config file that later arguments override.
	ListenFlags func(host, port string) []string
	// Flags are appended to every command, after ListenFlags: settings the
	// runner needs whatever the container's command or config file say.
	Flags []string
	// Others are further programs of the same image, each run by a
	// container whose command starts with its Entrypoint (the operator
	// image's /dashboard beside /manager).
	Others []Program
}

// For returns the program that runs container c: the one of p.Others whose
// entrypoint starts the container's command, with its $(VAR) references
// expanded from env as Command does, else p itself.
func (p Program) For(c *corev1.Container, env []EnvVar) Program {
	if len(c.Command) == 0 {
		return p
	}
	first := Expand(c.Command[0], envLookup(env))
	for _, o := range p.Others {
		if first == o.Entrypoint || first == "."+o.Entrypoint {
			return o
		}
	}
	return p
}

// binaries returns the binaries of p and of its other programs.
func (p Program) binaries() []string {
	bins := []string{p.Binary}
	for _, o := range p.Others {
		bins = append(bins, o.binaries()...)
	}
	return bins
}

// Images maps an image repository name to the program that runs it.
type Images map[string]Program

// DefaultImages maps the project's two images to local builds of
// cmd/manager and cmd/worker, and the operator image's /dashboard to a build
// of cmd/dashboard when dashboardBin is set.
func DefaultImages(managerBin, workerBin, dashboardBin string) Images {
	im := Images{
		ManagerRepository: {
			Binary:     managerBin,
			Entrypoint: "/manager",
			// The flags of cmd/manager, with its defaults: metrics are off
			// unless asked for, probes default to :8081.
			Addresses: []AddressSetting{
				{Flag: "metrics-bind-address", Default: "0"},
				{Flag: "health-probe-bind-address", Default: ":8081"},
			},
		},
		WorkerRepository: {
			Binary:     workerBin,
			Entrypoint: "/worker",
			// The worker refuses to start without the variable, so it gets
			// no default.
			Addresses: []AddressSetting{{Env: contract.EnvHTTPAddr}},
		},
	}
	if dashboardBin != "" {
		m := im[ManagerRepository]
		m.Others = append(m.Others, Program{
			Binary:     dashboardBin,
			Entrypoint: "/dashboard",
			Addresses:  []AddressSetting{{Flag: "bind-address", Default: ":8080"}},
		})
		im[ManagerRepository] = m
	}
	return im
}

// RedisImage runs the official Redis image's redis-server with the local
// binary. Its port comes from redis.conf; "--bind 127.0.0.1 --port N" after
// the config file moves it to a free loopback port. TLS (port 0 and
// tls-port in redis.conf) is not moved and not supported.
func RedisImage(redisServer string) Program {
	return Program{
		Binary:     redisServer,
		Entrypoint: "redis-server",
		ListenFlags: func(host, port string) []string {
			return []string{"--bind", host, "--port", port}
		},
		// A server that detaches ("daemonize yes") leaves its process group:
		// the process the runner watches exits at once, and the server
		// outlives its pod, as it could not outlive its container.
		Flags: []string{"--daemonize", "no"},
	}
}

// Lookup returns the program for an image reference such as
// "queueworker-worker:dev" or "ghcr.io/org/queueworker-operator@sha256:...":
// the registry, the path before the last element, the tag and the digest do
// not matter.
func (im Images) Lookup(image string) (Program, bool) {
	p, ok := im[Repository(image)]
	return p, ok
}

// Repository returns the last path element of an image reference, without
// tag or digest.
func Repository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, '/'); i >= 0 {
		image = image[i+1:]
	}
	if i := strings.IndexByte(image, ':'); i >= 0 {
		image = image[:i]
	}
	return image
}
