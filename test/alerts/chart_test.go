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

// Package alerts_test evaluates the alerting rules and the Grafana dashboard
// of the Helm chart in charts/queueworker-operator with Prometheus' own
// code: the chart is rendered with the pinned helm, its PrometheusRule's
// groups are parsed and validated as Prometheus loads rule files, and each
// alert is evaluated by Prometheus' rule engine over series loaded into a
// test storage, to check that it fires where it should and stays quiet
// where it should not. Every PromQL expression of the dashboard is parsed.
//
// It is a Go module of its own because Prometheus' packages would move the
// versions of the operator's own dependencies; `make test` runs it.
package alerts_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	repoRoot  = "../.."
	chartDir  = repoRoot + "/charts/queueworker-operator"
	release   = "queueworker-operator"
	namespace = "queueworker-system"
	helmEnv   = "HELM"
)

// helmPath finds the pinned helm once per test binary: $HELM when set, else
// what hack/build-test-binaries.sh builds (or finds in its cache).
var helmPath = sync.OnceValues(func() (string, error) {
	if p := os.Getenv(helmEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", helmEnv, p, err)
		}
		return p, nil
	}
	cmd := exec.Command("hack/build-test-binaries.sh", "--path", "helm")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-test-binaries.sh --path helm: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
})

// renderErr runs helm template on the chart with values (YAML) and returns
// its output, or an error holding helm's standard error.
func renderErr(t *testing.T, values string) ([]byte, error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatalf("these tests need helm: set %s to a helm v3 binary, or run `make test`, which builds the pinned one: %v", helmEnv, err)
	}
	// Not in t.TempDir: helm splits --values at commas, which test names hold.
	f, err := os.CreateTemp("", "queueworker-alerts-values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	if _, err := f.WriteString(values); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "template", release, chartDir, "--namespace", namespace, "--values", f.Name())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template: %w\n%s", err, stderr.String())
	}
	return out, nil
}

// rendered holds helm's output by values, for the values several tests
// render: helm takes most of these tests' time.
var rendered sync.Map

// render is renderErr for values that must render.
func render(t *testing.T, values string) []byte {
	t.Helper()
	if out, ok := rendered.Load(values); ok {
		return out.([]byte)
	}
	out, err := renderErr(t, values)
	if err != nil {
		t.Fatalf("values %s: %v", values, err)
	}
	rendered.Store(values, out)
	return out
}

// readMonitoringDoc reads docs/monitoring.md, where the runbooks are.
func readMonitoringDoc(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(repoRoot + "/docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// manifest is the part of a rendered object these tests read.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		// Groups is kept as a YAML node, to hand to Prometheus' rule
		// file parser as it is.
		Groups yaml.Node `yaml:"groups"`
	} `yaml:"spec"`
}

// objectsOf decodes helm's output into its objects of kind.
func objectsOf(t *testing.T, out []byte, kind string) []manifest {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	var found []manifest
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return found
		}
		if err != nil {
			t.Fatalf("decoding helm's output: %v", err)
		}
		if m.Kind == kind {
			found = append(found, m)
		}
	}
}

// onlyObject is the one object of kind in helm's output.
func onlyObject(t *testing.T, out []byte, kind string) manifest {
	t.Helper()
	found := objectsOf(t, out, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s in the rendered chart, found %d", kind, len(found))
	}
	return found[0]
}
