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

// Package benchscale measures how one operator process copes with many
// QueueWorkers: it creates them on the local control plane of
// hack/local-cluster.sh, runs cmd/manager as a local process against one
// redis-server, and times the first decisions, bursts and a crash restart
// while it samples the process, Redis and the operator's API requests.
// hack/benchscale/cmd/benchscale is its command; `make bench-scale` runs it.
package benchscale
