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

// Command crdtrim drops the field descriptions inside embedded Kubernetes
// types of a generated CustomResourceDefinition, so that the CRD fits in
// the last-applied-configuration annotation of a client-side
// `kubectl apply` (256 KiB for all of an object's annotations). Only
// descriptions go: types, required fields, enums, formats, defaults and
// the x-kubernetes-* markers, so validation, stay as generated. The
// description of the embedding field itself stays, so `kubectl explain`
// still tells what the field is for.
//
//	crdtrim -path spec.template FILE.yaml
//
// `make manifests` runs it on the QueueWorker CRD after controller-gen.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	var paths stringList
	flag.Var(&paths, "path", "dotted path from the root of a version's schema to an embedded type whose nested descriptions are dropped (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || len(paths) == 0 {
		fmt.Fprintln(os.Stderr, "usage: crdtrim -path spec.template [-path ...] FILE.yaml")
		os.Exit(2)
	}
	if err := trimFile(flag.Arg(0), paths); err != nil {
		fmt.Fprintln(os.Stderr, "crdtrim:", err)
		os.Exit(1)
	}
}

type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// trimFile rewrites file in place, in the layout controller-gen writes.
func trimFile(file string, paths []string) error {
	in, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := trim(in, paths)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if bytes.Equal(in, out) {
		return nil
	}
	return os.WriteFile(file, out, 0o644)
}

// trim returns the CRD in with the descriptions below each path dropped in
// every version's schema.
func trim(in []byte, paths []string) ([]byte, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(in, &crd); err != nil {
		return nil, fmt.Errorf("reading the CRD: %w", err)
	}
	if len(crd.Spec.Versions) == 0 {
		return nil, errors.New("the CRD has no versions")
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("version %s has no schema", v.Name)
		}
		for _, p := range paths {
			if err := edit(v.Schema.OpenAPIV3Schema, strings.Split(p, ".")); err != nil {
				return nil, fmt.Errorf("version %s, path %s: %w", v.Name, p, err)
			}
		}
	}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return nil, err
	}
	// controller-gen starts each file with a document separator and leaves
	// out the status it never sets.
	out = bytes.TrimSuffix(out, []byte("status:\n  acceptedNames:\n    kind: \"\"\n    plural: \"\"\n  conditions: null\n  storedVersions: null\n"))
	return append([]byte("---\n"), out...), nil
}

// edit follows names, a path of property names, from s and drops the
// descriptions below the schema it ends at.
func edit(s *apiextensionsv1.JSONSchemaProps, names []string) error {
	if len(names) == 0 {
		dropNestedDescriptions(s)
		return nil
	}
	child, ok := s.Properties[names[0]]
	if !ok {
		return fmt.Errorf("no property %q", names[0])
	}
	if err := edit(&child, names[1:]); err != nil {
		return err
	}
	s.Properties[names[0]] = child
	return nil
}

// dropNestedDescriptions clears the description of every schema below s,
// keeping s's own.
func dropNestedDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	clear := func(c *apiextensionsv1.JSONSchemaProps) {
		c.Description = ""
		dropNestedDescriptions(c)
	}
	clearMap := func(m map[string]apiextensionsv1.JSONSchemaProps) {
		for k, c := range m {
			clear(&c)
			m[k] = c
		}
	}
	clearSlice := func(l []apiextensionsv1.JSONSchemaProps) {
		for i := range l {
			clear(&l[i])
		}
	}
	clearMap(s.Properties)
	clearMap(s.PatternProperties)
	clearMap(s.Definitions)
	clearSlice(s.AllOf)
	clearSlice(s.OneOf)
	clearSlice(s.AnyOf)
	if s.Not != nil {
		clear(s.Not)
	}
	if s.Items != nil {
		if s.Items.Schema != nil {
			clear(s.Items.Schema)
		}
		clearSlice(s.Items.JSONSchemas)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		clear(s.AdditionalProperties.Schema)
	}
	if s.AdditionalItems != nil && s.AdditionalItems.Schema != nil {
		clear(s.AdditionalItems.Schema)
	}
	for k, d := range s.Dependencies {
		if d.Schema != nil {
			clear(d.Schema)
		}
		s.Dependencies[k] = d
	}
}
