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
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// AnnotationAddresses records where the processes of a pod listen: a JSON
// object from container name to an object from the port the container
// asked for to the loopback address its process got, such as
// {"worker":{"8080":"127.0.0.1:41234"}}. LocalAddress reads it.
const AnnotationAddresses = "podrunner.queueworker.io/addresses"

// AddressSetting is a listen address a program reads from a flag or an
// environment variable. Exactly one of Flag and Env is set.
type AddressSetting struct {
	// Flag is the flag name without dashes, in Go's flag syntax:
	// -name=value, --name=value, -name value or --name value.
	Flag string
	// Env is the name of an environment variable.
	Env string
	// Default is the address the program uses when the setting is absent;
	// "" or "0" when it then listens nowhere.
	Default string
}

// Addresses maps the port a container asked for to the loopback address its
// process listens on.
type Addresses map[int32]string

// RewriteAddresses moves every listen address of the settings to a loopback
// address chosen by alloc, which receives the port that was asked for. A
// setting that is absent is added when its default listens somewhere (a
// flag before the other arguments); an address of "0", "" or port 0 is left
// alone. It returns the new args and env and the addresses given out.
func RewriteAddresses(settings []AddressSetting, args []string, env []EnvVar, alloc func(port int32) (string, error)) ([]string, []EnvVar, Addresses, error) {
	args = append([]string(nil), args...)
	env = append([]EnvVar(nil), env...)
	got := Addresses{}
	rewrite := func(what, value string) (string, error) {
		port, listens, err := listenPort(value)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		if !listens {
			return value, nil
		}
		addr, err := alloc(port)
		if err != nil {
			return "", fmt.Errorf("%s: %w", what, err)
		}
		got[port] = addr
		return addr, nil
	}

	var prepend []string
	for _, s := range settings {
		found := false
		var err error
		switch {
		case s.Flag != "":
			for i := 0; i < len(args); i++ {
				a := args[i]
				if a == "--" {
					break
				}
				name, value, inline := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
				if !strings.HasPrefix(a, "-") || name != s.Flag {
					continue
				}
				found = true
				if inline {
					var v string
					v, err = rewrite("flag "+s.Flag, value)
					args[i] = a[:strings.IndexByte(a, '=')+1] + v
				} else if i+1 < len(args) {
					args[i+1], err = rewrite("flag "+s.Flag, args[i+1])
					i++
				} else {
					err = fmt.Errorf("flag %s has no value", s.Flag)
				}
				if err != nil {
					return nil, nil, nil, err
				}
			}
			if !found {
				value, err := rewrite("flag "+s.Flag, s.Default)
				if err != nil {
					return nil, nil, nil, err
				}
				if value != s.Default {
					prepend = append(prepend, "--"+s.Flag+"="+value)
				}
			}
		case s.Env != "":
			for i := range env {
				if env[i].Name == s.Env {
					found = true
					if env[i].Value, err = rewrite("env "+s.Env, env[i].Value); err != nil {
						return nil, nil, nil, err
					}
				}
			}
			if !found {
				value, err := rewrite("env "+s.Env, s.Default)
				if err != nil {
					return nil, nil, nil, err
				}
				if value != s.Default {
					env = append(env, EnvVar{Name: s.Env, Value: value})
				}
			}
		}
	}
	return append(prepend, args...), env, got, nil
}

// listenPort reads the port of a listen address ("host:port" or ":port");
// listens is false for the addresses that turn a listener off or let the
// kernel choose ("", "0", port 0).
func listenPort(addr string) (port int32, listens bool, err error) {
	if addr == "" || addr == "0" {
		return 0, false, nil
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, false, fmt.Errorf("listen address %q: port is not a number", addr)
	}
	return int32(n), n != 0, nil
}

// EncodeAddresses renders the value of AnnotationAddresses.
func EncodeAddresses(byContainer map[string]Addresses) string {
	out := make(map[string]map[string]string, len(byContainer))
	for c, addrs := range byContainer {
		m := make(map[string]string, len(addrs))
		for port, addr := range addrs {
			m[strconv.Itoa(int(port))] = addr
		}
		out[c] = m
	}
	b, _ := json.Marshal(out) // maps of strings always marshal; keys come out sorted
	return string(b)
}

// LocalAddress returns the loopback address on which the process of a
// container of pod serves what the container asked to serve on port, from
// AnnotationAddresses.
func LocalAddress(pod *corev1.Pod, container string, port int32) (string, bool) {
	var all map[string]map[string]string
	if err := json.Unmarshal([]byte(pod.Annotations[AnnotationAddresses]), &all); err != nil {
		return "", false
	}
	addr, ok := all[container][strconv.Itoa(int(port))]
	return addr, ok
}
