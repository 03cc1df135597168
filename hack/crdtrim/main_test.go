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
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

const sample = `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    controller-gen.kubebuilder.io/version: v0.23.0
  name: things.example.com
spec:
  group: example.com
  names:
    kind: Thing
    listKind: ThingList
    plural: things
    singular: thing
  scope: Namespaced
  versions:
  - name: v1
    schema:
      openAPIV3Schema:
        description: Thing is a sample.
        properties:
          spec:
            description: spec of the thing.
            properties:
              size:
                description: size stays described.
                minimum: 1
                type: integer
              template:
                description: template is kept described.
                properties:
                  containers:
                    description: containers loses its description.
                    items:
                      description: a container.
                      properties:
                        env:
                          additionalProperties:
                            description: a value.
                            type: string
                          type: object
                        name:
                          description: name of the container.
                          maxLength: 63
                          type: string
                      required:
                      - name
                      type: object
                    type: array
                    x-kubernetes-list-map-keys:
                    - name
                    x-kubernetes-list-type: map
                type: object
            required:
            - template
            type: object
        type: object
    served: true
    storage: true
    subresources:
      status: {}
`

func TestTrimDropsOnlyNestedDescriptions(t *testing.T) {
	out, err := trim([]byte(sample), []string{"spec.template"})
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, kept := range []string{"template is kept described.", "size stays described.", "spec of the thing.", "Thing is a sample."} {
		if !strings.Contains(text, kept) {
			t.Errorf("description %q was dropped", kept)
		}
	}
	for _, dropped := range []string{"containers loses", "a container.", "name of the container.", "a value."} {
		if strings.Contains(text, dropped) {
			t.Errorf("description %q was kept", dropped)
		}
	}
	// Apart from the dropped descriptions, the file is what came in: the
	// same lines in the same order, so generated files keep their layout.
	var want []string
	skip := map[string]bool{"containers loses its description.": true, "a container.": true, "name of the container.": true, "a value.": true}
	for line := range strings.SplitSeq(sample, "\n") {
		if _, d, ok := strings.Cut(line, "description: "); ok && skip[d] {
			continue
		}
		want = append(want, line)
	}
	if text != strings.Join(want, "\n") {
		t.Errorf("trimmed file differs beyond the descriptions:\n%s", text)
	}
	// Validation is untouched.
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(out, &crd); err != nil {
		t.Fatal(err)
	}
	item := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["template"].Properties["containers"].Items.Schema
	if got := item.Properties["name"].MaxLength; got == nil || *got != 63 {
		t.Errorf("maxLength of name = %v, want 63", got)
	}
	if len(item.Required) != 1 || item.Required[0] != "name" {
		t.Errorf("required = %v, want [name]", item.Required)
	}
}

func TestTrimIsIdempotent(t *testing.T) {
	once, err := trim([]byte(sample), []string{"spec.template"})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := trim(once, []string{"spec.template"})
	if err != nil {
		t.Fatal(err)
	}
	if string(once) != string(twice) {
		t.Errorf("a second trim changed the file:\n%s", twice)
	}
}

func TestTrimRefusesAMissingPath(t *testing.T) {
	if _, err := trim([]byte(sample), []string{"spec.podTemplate"}); err == nil || !strings.Contains(err.Error(), `"podTemplate"`) {
		t.Errorf("err = %v, want one naming the missing property", err)
	}
	if _, err := trim([]byte("kind: [oops"), []string{"spec"}); err == nil {
		t.Error("a file that is not YAML was accepted")
	}
}

// TestTrimFileLeavesAnUnchangedFileAlone keeps `make manifests` from
// touching a file that is already trimmed.
func TestTrimFileLeavesAnUnchangedFileAlone(t *testing.T) {
	f := filepath.Join(t.TempDir(), "crd.yaml")
	once, err := trim([]byte(sample), []string{"spec.template"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, once, 0o444); err != nil {
		t.Fatal(err)
	}
	// The file is read-only: a write would fail.
	if err := trimFile(f, []string{"spec.template"}); err != nil {
		t.Fatal(err)
	}
}
