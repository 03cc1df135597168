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

package benchscale

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cluster is the local control plane of hack/local-cluster.sh, in a state
// dir of its own so it never touches a cluster a developer or the
// end-to-end suite is using.
type Cluster struct {
	// Root is the repository.
	Root string
	// Dir is the state dir (QW_CLUSTER_DIR).
	Dir string
	// PortBase is QW_PORT_BASE, used when Dir is new.
	PortBase int
	// Nodes is the number of fake nodes; `up` adds missing ones.
	Nodes int
	// Reuse keeps a running cluster of Dir instead of starting afresh.
	Reuse bool
}

func (c *Cluster) script(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Root, "hack", "local-cluster.sh"), args...)
	cmd.Env = append(os.Environ(), "QW_CLUSTER_DIR="+c.Dir, "QW_PORT_BASE="+strconv.Itoa(c.PortBase),
		"NODES="+strconv.Itoa(c.Nodes))
	cmd.Dir = c.Root
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	// The components it starts are detached from its output, but never
	// wait forever on a pipe a stray child holds.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/local-cluster.sh %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

// Up starts the cluster (after purging an old one unless Reuse) and
// returns its admin kubeconfig.
func (c *Cluster) Up(ctx context.Context) (string, error) {
	if !c.Reuse {
		if _, err := c.script(ctx, "down", "--purge"); err != nil {
			return "", err
		}
	}
	out, err := c.script(ctx, "up")
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kubeconfig := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(kubeconfig); err != nil {
		return "", fmt.Errorf("hack/local-cluster.sh up printed %q, not a kubeconfig: %w", out, err)
	}
	return kubeconfig, nil
}

// Down stops the cluster's processes and keeps its state and logs.
func (c *Cluster) Down(ctx context.Context) error {
	_, err := c.script(ctx, "down")
	return err
}
