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

// Package test holds the checks of the repository as a whole; the suites
// and helpers live in its subdirectories.
package test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository, seen from this package's directory.
const root = ".."

// buildOutput are top-level directories that builds leave in a checkout
// (bin/ from make build, dist/ from make build-installer): not part of the
// tree.
var buildOutput = []string{"bin", "dist"}

// TestReadmeLayout keeps the Layout section of README.md a true map of the
// tree: every directory it lists exists, and it lists every top-level
// directory (itself or a directory under it), every directory under
// internal/, pkg/ and cmd/, and every directory that holds a Go package of
// the module.
func TestReadmeLayout(t *testing.T) {
	listed, err := readmeLayout(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) == 0 {
		t.Fatal("README.md has no Layout section with a code block of directories")
	}
	isListed := map[string]bool{}
	for _, dir := range listed {
		if isListed[dir] {
			t.Errorf("README Layout lists %s/ twice", dir)
		}
		isListed[dir] = true
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("README Layout lists %s/, which is not a directory of the tree", dir)
		}
	}

	top, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") || slices.Contains(buildOutput, name) {
			continue
		}
		if !isListed[name] && !slices.ContainsFunc(listed, func(d string) bool { return strings.HasPrefix(d, name+"/") }) {
			t.Errorf("README Layout does not list the top-level directory %s/", name)
		}
	}

	for _, dir := range []string{"internal", "pkg", "cmd"} {
		sub, err := subdirectories(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range sub {
			if !isListed[d] {
				t.Errorf("README Layout does not list %s/", d)
			}
		}
	}

	pkgs, err := goPackageDirs()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pkgs {
		if !isListed[d] {
			t.Errorf("README Layout does not list %s/, which holds a Go package", d)
		}
	}
}

// readmeLayout returns the directories listed in the first code block of
// the "## Layout" section, one a line, each the first field of its line,
// without the trailing slash.
func readmeLayout(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var dirs []string
	section, block := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			if block {
				return dirs, nil
			}
			section = line == "## Layout"
		case section && strings.HasPrefix(line, "```"):
			if block {
				return dirs, nil
			}
			block = true
		case block && strings.TrimSpace(line) != "":
			dirs = append(dirs, strings.TrimSuffix(strings.Fields(line)[0], "/"))
		}
	}
	return dirs, sc.Err()
}

// subdirectories returns every directory under dir (relative to the
// repository), testdata trees left out.
func subdirectories(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel != dir {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// goPackageDirs returns the directories of the module that hold .go files,
// leaving out hidden directories, testdata trees, build output and nested
// modules (the pinned tools under hack/tools).
func goPackageDirs() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			name := d.Name()
			if strings.HasPrefix(name, ".") || name == "testdata" || (!strings.Contains(rel, "/") && slices.Contains(buildOutput, name)) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if strings.HasSuffix(rel, ".go") && dir != "." && !seen[dir] {
			seen[dir] = true
			out = append(out, dir)
		}
		return nil
	})
	return out, err
}
