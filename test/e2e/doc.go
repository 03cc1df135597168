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

// Package e2e is the end-to-end suite of the operator. Its tests carry the
// build tag e2e, so `go test ./...` leaves them out. One suite runs on two
// cluster providers (E2E_PROVIDER): a local control plane whose pods of the
// project's images are local processes (hack/local-cluster.sh, the default,
// `make test-e2e`), or a kind cluster (`make test-e2e-kind`).
//
// The chart is installed with helm, and the scenarios run in order, each in
// its own namespace with its own Redis: the operator's install, a burst of
// tasks, scale-in with tasks running, a Redis outage, a crash of the
// operator, a RedisConfig applied to a running Redis, and invalid objects
// refused by the API server. At the end the suite writes a short report and
// prints it. README.md describes the scenarios, the environment variables
// and the report.
package e2e
