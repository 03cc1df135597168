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
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Command returns the argv that runs container c with program p: the
// container's command stands for the image's entrypoint and maps to the
// local binary; its remaining elements and the args follow as given, with
// $(VAR) references expanded from env as the kubelet does. The project's
// images set no CMD, so a container without args gets none.
func Command(p Program, c *corev1.Container, env []EnvVar) ([]string, error) {
	lookup := envLookup(env)
	argv := []string{p.Binary}
	if len(c.Command) > 0 {
		first := Expand(c.Command[0], lookup)
		if first != p.Entrypoint && first != "."+p.Entrypoint {
			if len(p.Others) == 0 {
				return nil, fmt.Errorf("command %q is not the image's entrypoint %q, and the image has no other program", first, p.Entrypoint)
			}
			entrypoints := []string{strconv.Quote(p.Entrypoint)}
			for _, o := range p.Others {
				entrypoints = append(entrypoints, strconv.Quote(o.Entrypoint))
			}
			return nil, fmt.Errorf("command %q is none of the image's entrypoints %s", first, strings.Join(entrypoints, ", "))
		}
		for _, a := range c.Command[1:] {
			argv = append(argv, Expand(a, lookup))
		}
	}
	for _, a := range c.Args {
		argv = append(argv, Expand(a, lookup))
	}
	return argv, nil
}

// Expand replaces the $(VAR) references in s as the kubelet does for env
// values, commands and args: a defined VAR is replaced by its value, an
// undefined one is left as written, "$$" stands for a literal "$", and any
// other "$" is kept.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: "$(" stays, the rest is read on.
				b.WriteString("$(")
				i++
				continue
			}
			ref := s[i : i+3+end]
			if v, ok := lookup(s[i+2 : i+2+end]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(ref)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// envLookup finds a variable of env; a later entry wins, as in env itself.
func envLookup(env []EnvVar) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, e := range slices.Backward(env) {
			if e.Name == name {
				return e.Value, true
			}
		}
		return "", false
	}
}
