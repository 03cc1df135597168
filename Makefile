# Image of the operator (the Dockerfile's "manager" stage).
IMG ?= queueworker-operator:dev
# Image of the reference worker (the Dockerfile's "worker" stage), used by the demo and e2e.
WORKER_IMG ?= queueworker-worker:dev
# YEAR defines the year value used for substituting the YEAR placeholder in the boilerplate header.
YEAR ?= $(shell date +%Y)

# CONTAINER_TOOL defines the container tool used to build images (docker or podman).
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'. The awk command reads every makefile of this
# invocation, looking for lines of the form "xyz: ## something", and prints
# the target and its help; a line "##@ something" starts a category.

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

# CHART_DIR is the operator's Helm chart. `make manifests` copies into it what
# controller-gen generates, so the chart never ships a stale schema or grants
# other permissions than the code declares (and `make verify` catches a copy
# that was not refreshed):
# - CHART_CRDS_DIR receives the CRDs;
# - CHART_MANAGER_RULES receives the rules of the generated ClusterRole
#   manager-role (config/rbac/role.yaml), which the chart's roles render.
CHART_DIR ?= charts/queueworker-operator
CHART_CRDS_DIR ?= $(CHART_DIR)/crds
CHART_MANAGER_RULES ?= $(CHART_DIR)/files/manager-rules.yaml

.PHONY: manifests
manifests: ## Generate the ClusterRole and CustomResourceDefinition objects (and the chart's copies).
	@cg="$(call tool-path,controller-gen)"; \
	"$$cg" rbac:roleName=manager-role crd:generateEmbeddedObjectMeta=true paths="./..." output:crd:artifacts:config=config/crd/bases
	@# The embedded pod template's descriptions alone would make the
	@# QueueWorker CRD too large for a client-side `kubectl apply`.
	@go run ./hack/crdtrim -path spec.template config/crd/bases/queueworker.io_queueworkers.yaml
	@$(MAKE) --no-print-directory chart-sync

.PHONY: chart-sync
chart-sync: ## Copy the generated CRDs and manager rules from config/ into the Helm chart (make manifests runs it).
	@if [ -d "$(CHART_CRDS_DIR)" ]; then rm -f "$(CHART_CRDS_DIR)"/*.yaml; cp config/crd/bases/*.yaml "$(CHART_CRDS_DIR)/"; fi
	@if [ -d "$(dir $(CHART_MANAGER_RULES))" ]; then $(call chart-manager-rules,config/rbac/role.yaml,$(CHART_MANAGER_RULES)); fi

.PHONY: generate
generate: ## Generate the DeepCopy, DeepCopyInto and DeepCopyObject methods.
	@cg="$(call tool-path,controller-gen)"; \
	"$$cg" object:headerFile="hack/boilerplate.go.txt",year=$(YEAR) paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

# NESTED_MODULES are Go modules of their own inside the repository, whose
# dependencies must not move the operator's: test/alerts evaluates the
# chart's alerts with Prometheus' packages. `go ... ./...` at the root skips
# them; vet, test, verify and lint run them too.
NESTED_MODULES = test/alerts

.PHONY: vet
vet: ## Run go vet against code, the e2e suite (build tag e2e) and the nested modules (NESTED_MODULES) included.
	go vet -tags e2e ./...
	@for m in $(NESTED_MODULES); do echo "go vet ./... (in $$m)"; (cd "$$m" && go vet ./...) || exit 1; done

# TEST_FLAGS are extra flags for go test, e.g. TEST_FLAGS='-run TestScale -v'.
TEST_FLAGS ?=

.PHONY: test
test: vet redis ## Run the unit and integration tests (envtest with the pinned Kubernetes binaries, real redis-server, the chart with the pinned helm, the chart's alerts with Prometheus' rule engine), then the end-to-end suite (test-e2e).
	@start=$$(date +%s); \
	echo "==> Kubernetes test binaries for envtest"; \
	assets="$$(hack/build-test-binaries.sh --print-assets)"; \
	echo "==> helm for the chart tests (test/chart)"; \
	helm="$$(hack/build-test-binaries.sh --path helm)"; \
	echo "==> go test ./... (KUBEBUILDER_ASSETS=$$assets HELM=$$helm)"; \
	rc=0; \
	KUBEBUILDER_ASSETS="$$assets" HELM="$$helm" go test ./... -count=1 -coverprofile=cover.out $(TEST_FLAGS) || rc=$$?; \
	for m in $(NESTED_MODULES); do \
		echo "==> go test ./... (in $$m, HELM=$$helm)"; \
		(cd "$$m" && HELM="$$helm" go test ./... -count=1 $(TEST_FLAGS)) || rc=$$?; \
	done; \
	if [ $$rc -eq 0 ]; then result=passed; else result=FAILED; fi; \
	echo "==> tests $$result in $$(( $$(date +%s) - start ))s"; \
	exit $$rc
	@$(MAKE) --no-print-directory test-e2e

.PHONY: bench
bench: redis ## Run the benchmarks: queue reads (1..1000 queues), asynq server reads (10..1000 servers), Redis cost of 1000 and 5000 queues at rest, decisions, decision latency and idle API writes.
	@assets="$$(hack/build-test-binaries.sh --print-assets)"; \
	go test -run '^$$' -bench ReadStats -benchtime 200x -benchmem ./internal/queue/ && \
	go test -run '^$$' -bench ReadServers -benchtime 200x ./internal/queue/ && \
	go test -run '^$$' -bench ReadIdleQueues -benchtime 50x ./internal/queue/ && \
	go test -count=1 -run TestReadStatsCommandsPerTick -v ./internal/queue/ && \
	go test -run '^$$' -bench Decide -benchmem ./internal/autoscale/ && \
	KUBEBUILDER_ASSETS="$$assets" go test -run '^$$' -bench DecisionLatency -benchtime 20x ./controllers/ && \
	KUBEBUILDER_ASSETS="$$assets" go test -run '^$$' -bench IdleWrites -benchtime 1x -timeout 20m ./controllers/

# N is the number of QueueWorkers of bench-scale; BENCH_SCALE_FLAGS are more
# flags of hack/benchscale/cmd/benchscale (go run ./hack/benchscale/cmd/benchscale -h),
# e.g. BENCH_SCALE_FLAGS='-idle 2m -bursts 10 -out /tmp/n200.md -keep-cluster'.
N ?= 200
BENCH_SCALE_FLAGS ?=

.PHONY: bench-scale
bench-scale: redis ## Measure one operator process with N QueueWorkers (default 200) on a local control plane of its own: create, start, idle, bursts, SIGKILL and restart. Not part of make test.
	@hack/build-test-binaries.sh --print-assets >/dev/null; \
	hack/build-test-binaries.sh --path kwok >/dev/null; \
	go run ./hack/benchscale/cmd/benchscale -n $(N) $(BENCH_SCALE_FLAGS)

# Packages whose test binaries link envtest or test/redistest need the
# Kubernetes test binaries or redis-server; test-unit leaves them out.
INTEGRATION_DEPS = sigs.k8s.io/controller-runtime/pkg/envtest github.com/queueworker/queueworker-operator/test/redistest

.PHONY: test-unit
test-unit: ## Run the tests that need neither envtest nor redis-server (go test -short).
	@pkgs="$$(go list -test -f '{{if eq .Name "main"}}{{.ImportPath}} {{join .Deps " "}}{{end}}' ./... | \
		awk -v deps="$(INTEGRATION_DEPS)" ' \
			BEGIN { n = split(deps, d, " "); for (i = 1; i <= n; i++) skip[d[i]] = 1 } \
			$$1 ~ /\.test$$/ { for (i = 2; i <= NF; i++) if ($$i in skip) next; sub(/\.test$$/, "", $$1); print $$1 }')"; \
	if [ -z "$$pkgs" ]; then echo "no unit test packages"; exit 0; fi; \
	go test -short -count=1 $(TEST_FLAGS) $$pkgs

# E2E_FLAGS are extra flags for the end-to-end suite's go test, e.g.
# E2E_FLAGS='-run TestE2E/burst' (the cluster and the chart are set up whatever
# runs). The suite reads E2E_* variables from the environment; test/e2e/README.md
# lists them.
E2E_FLAGS ?=
# E2E_TIMEOUT bounds one run of the end-to-end suite.
E2E_TIMEOUT ?= 45m

.PHONY: test-e2e
test-e2e: redis ## Run the end-to-end suite on a local control plane of its own (hack/local-cluster.sh), torn down at the end unless E2E_KEEP_CLUSTER=1.
	@start=$$(date +%s); \
	echo "==> Kubernetes binaries, kwok and helm for the local cluster"; \
	assets="$$(hack/build-test-binaries.sh --print-assets)"; \
	hack/build-test-binaries.sh --path kwok >/dev/null; \
	helm="$$(hack/build-test-binaries.sh --path helm)"; \
	echo "==> go test -tags e2e ./test/e2e/ (E2E_PROVIDER=local)"; \
	rc=0; \
	E2E_PROVIDER=local KUBECTL="$$assets/kubectl" HELM="$$helm" \
		go test -tags e2e -count=1 -v -timeout $(E2E_TIMEOUT) ./test/e2e/ $(E2E_FLAGS) || rc=$$?; \
	if [ $$rc -eq 0 ]; then result=passed; else result=FAILED; fi; \
	echo "==> end-to-end tests $$result in $$(( $$(date +%s) - start ))s"; \
	exit $$rc

.PHONY: test-e2e-kind
test-e2e-kind: ## Run the end-to-end suite on a kind cluster (needs kind and a running Docker engine; builds and loads both images).
	@helm="$$(hack/build-test-binaries.sh --path helm)"; \
	E2E_PROVIDER=kind KIND="$(KIND)" CONTAINER_TOOL="$(CONTAINER_TOOL)" HELM="$$helm" \
		go test -tags e2e -count=1 -v -timeout $(E2E_TIMEOUT) ./test/e2e/ $(E2E_FLAGS)

# VERIFY_DIRS hold the generated files that must be committed up to date.
VERIFY_DIRS = api config charts

.PHONY: verify
verify: ## Fail if generated files (deepcopy, CRDs, RBAC, the chart's CRDs and rules), gofmt or go.mod/go.sum are out of date.
	@snapshot() { find $$(ls -d $(VERIFY_DIRS) 2>/dev/null) -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum; }; \
	before="$$(mktemp)"; after="$$(mktemp)"; trap 'rm -f "$$before" "$$after"' EXIT; \
	snapshot >"$$before"; \
	echo "==> make manifests generate"; \
	$(MAKE) --no-print-directory manifests generate; \
	snapshot >"$$after"; \
	failed=0; \
	if ! cmp -s "$$before" "$$after"; then \
		failed=1; \
		echo "ERROR: generated files are out of date; run 'make manifests generate' and commit the result." >&2; \
		changed="$$( (diff <(awk '{print $$2, $$1}' "$$before") <(awk '{print $$2, $$1}' "$$after") || true) | awk '/^[<>]/ {print $$2}' | LC_ALL=C sort -u)"; \
		for f in $$changed; do \
			if ! awk -v f="$$f" '$$2 == f { found = 1 } END { exit !found }' "$$before"; then echo "  new:     $$f" >&2; \
			elif [ -e "$$f" ]; then echo "  changed: $$f" >&2; \
			else echo "  removed: $$f" >&2; fi; \
		done; \
		git --no-pager diff --stat -- $$changed >&2 || true; \
	fi; \
	echo "==> gofmt -l ."; \
	unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		failed=1; \
		echo "ERROR: files are not gofmt-ed; run 'make fmt':" >&2; \
		echo "$$unformatted" | sed 's/^/  /' >&2; \
	fi; \
	echo "==> go mod tidy -diff"; \
	if ! go mod tidy -diff >&2; then \
		failed=1; \
		echo "ERROR: go.mod/go.sum are not tidy; run 'go mod tidy'." >&2; \
	fi; \
	for m in $(NESTED_MODULES); do \
		echo "==> go mod tidy -diff (in $$m)"; \
		if ! (cd "$$m" && go mod tidy -diff) >&2; then \
			failed=1; \
			echo "ERROR: $$m/go.mod and go.sum are not tidy; run 'go mod tidy' in $$m." >&2; \
		fi; \
	done; \
	if [ $$failed -ne 0 ]; then exit 1; fi; \
	echo "==> verify passed"

.PHONY: helm-lint
helm-lint: ## Lint the Helm chart (pinned helm, --strict) with its default values and with every optional object on.
	@helm="$(call tool-path,helm)"; \
	"$$helm" lint --strict $(CHART_DIR) && \
	"$$helm" lint --strict $(CHART_DIR) --set 'watchNamespaces={team-a,team-b}' \
		--set metrics.serviceMonitor.enabled=true --set metrics.certSecretName=metrics-server-cert \
		--set grafanaDashboard.enabled=true --set prometheusRule.enabled=true \
		--set dashboard.enabled=true --set dashboard.redis.addr=redis:6379 --set dashboard.redis.passwordSecretRef.name=redis-auth

# The dead-code check (hack/tools/deadcode) starts from what ships, the
# operator, the reference worker and the dashboard (DEADCODE_ROOTS), and from every exported
# function and method of the worker SDK (DEADCODE_API), which its users'
# programs may call. It follows static calls, function values and calls
# through interfaces, not reflection, and reports the functions and methods
# of the code the images and the SDK are built from (DEADCODE_FILTER) that
# none of those reach: code that only tests call. hack/ and test/ are
# tooling and not reported. DEADCODE_ALLOW lists the few exceptions, each
# with the test that needs it.
DEADCODE_ROOTS = ./cmd/manager ./cmd/worker ./cmd/dashboard ./pkg/...
DEADCODE_API = ^github.com/queueworker/queueworker-operator/pkg/
DEADCODE_FILTER = ^github.com/queueworker/queueworker-operator/(api|controllers|internal|cmd|pkg)(/|$$)
DEADCODE_ALLOW = hack/deadcode.allow

.PHONY: lint
lint: ## Run golangci-lint (on the nested modules too), then the dead-code check (make deadcode); fails on either.
	@lint="$(call tool-path,golangci-lint)"; "$$lint" run && \
	for m in $(NESTED_MODULES); do \
		echo "==> golangci-lint (in $$m)"; \
		(cd "$$m" && "$$lint" run --config "$(CURDIR)/.golangci.yml" ./...) || exit 1; \
	done
	@$(MAKE) --no-print-directory deadcode

.PHONY: deadcode
deadcode: ## Fail on code of api/, controllers/, internal/, cmd/ or pkg/ that neither cmd/manager, cmd/worker, cmd/dashboard nor the SDK's API reaches: code only tests call (exceptions in hack/deadcode.allow).
	@dc="$(call tool-path,deadcode)"; \
	echo "==> deadcode (from $(DEADCODE_ROOTS))"; \
	if ! "$$dc" -filter '$(DEADCODE_FILTER)' -api '$(DEADCODE_API)' -allow $(DEADCODE_ALLOW) $(DEADCODE_ROOTS); then \
		echo "ERROR: only tests call the functions above: delete them or move them into those tests (a stale entry goes out of $(DEADCODE_ALLOW))." >&2; \
		exit 1; \
	fi

.PHONY: lint-fix
lint-fix: ## Run golangci-lint and apply its fixes.
	@lint="$(call tool-path,golangci-lint)"; "$$lint" run --fix

.PHONY: lint-config
lint-config: ## Verify the golangci-lint configuration.
	@lint="$(call tool-path,golangci-lint)"; "$$lint" config verify

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build bin/manager (the operator), bin/worker (the reference worker) and bin/dashboard (the task dashboard).
	go build -o bin/manager ./cmd/manager
	go build -o bin/worker ./cmd/worker
	go build -o bin/dashboard ./cmd/dashboard

# RUN_ARGS are extra flags for the operator started by `make run`.
RUN_ARGS ?=

.PHONY: run
run: manifests generate fmt vet ## Run the operator from your host against the current kubeconfig (no leader election, HTTP metrics on :8080).
	go run ./cmd/manager --leader-elect=false --metrics-bind-address=:8080 --metrics-secure=false $(RUN_ARGS)

# BASE_IMAGE overrides the builder image, e.g. BASE_IMAGE=docker.io/library/golang:1.26.
.PHONY: docker-build
docker-build: ## Build the operator image (IMG) and the reference worker image (WORKER_IMG).
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) --target manager -t $(IMG) .
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) --target worker -t $(WORKER_IMG) .

.PHONY: docker-push
docker-push: ## Push the operator and worker images.
	$(CONTAINER_TOOL) push $(IMG)
	$(CONTAINER_TOOL) push $(WORKER_IMG)

# PLATFORMS are the platforms docker-buildx builds and pushes both images for.
# It needs docker buildx with BuildKit, and IMG/WORKER_IMG in a registry you can push to.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le
.PHONY: docker-buildx
docker-buildx: ## Build and push both images for PLATFORMS.
	# Dockerfile.cross builds on the build platform and cross-compiles for each target platform.
	sed -e '1 s/\(^FROM\)/FROM --platform=\$$\{BUILDPLATFORM\}/; t' -e ' 1,// s//FROM --platform=\$$\{BUILDPLATFORM\}/' Dockerfile > Dockerfile.cross
	- $(CONTAINER_TOOL) buildx create --name queueworker-operator-builder
	$(CONTAINER_TOOL) buildx use queueworker-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) --target manager --tag $(IMG) -f Dockerfile.cross .
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) --target worker --tag $(WORKER_IMG) -f Dockerfile.cross .
	- $(CONTAINER_TOOL) buildx rm queueworker-operator-builder
	rm Dockerfile.cross

# KIND_CLUSTER is the kind cluster kind-load loads the images into.
KIND_CLUSTER ?= kind

.PHONY: kind-load
kind-load: ## Load the operator and worker images into the kind cluster KIND_CLUSTER.
	$(KIND) load docker-image $(IMG) $(WORKER_IMG) --name $(KIND_CLUSTER)

.PHONY: build-installer
build-installer: manifests generate ## Write dist/install.yaml: CRDs, RBAC and the operator Deployment with IMG.
	@mkdir -p dist
	@$(call kustomize-with-image) > dist/install.yaml
	@echo "wrote dist/install.yaml"

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

# Applied server-side, so a field another manager set is taken over rather
# than kept in a last-applied annotation.
KUBECTL_APPLY = "$$kubectl" apply --server-side --force-conflicts --field-manager=queueworker-operator -f -

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	@kustomize="$(call tool-path,kustomize)"; kubectl="$(call kubectl-path)"; \
	"$$kustomize" build config/crd | $(KUBECTL_APPLY)

.PHONY: uninstall
uninstall: manifests ## Uninstall the CRDs from the cluster. Call with ignore-not-found=true to ignore missing objects.
	@kustomize="$(call tool-path,kustomize)"; kubectl="$(call kubectl-path)"; \
	"$$kustomize" build config/crd | "$$kubectl" delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG to the cluster of the current kubeconfig.
	@kubectl="$(call kubectl-path)"; \
	$(call kustomize-with-image) | $(KUBECTL_APPLY)

.PHONY: undeploy
undeploy: ## Undeploy the operator from the cluster. Call with ignore-not-found=true to ignore missing objects.
	@kustomize="$(call tool-path,kustomize)"; kubectl="$(call kubectl-path)"; \
	"$$kustomize" build config/default | "$$kubectl" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

# Every tool is pinned by a Go module under hack/tools/ and built by
# hack/build-test-binaries.sh into a cache outside the checkout ($(QW_TOOLS_DIR)
# when set, else ~/.cache/queueworker-operator), keyed by version.

KIND ?= kind
# KUBECTL is used when it is on PATH; otherwise the pinned kubectl is built.
KUBECTL ?= kubectl

.PHONY: tools
tools: ## Build every pinned tool: Kubernetes test binaries, kwok, helm, controller-gen, golangci-lint, kustomize, deadcode.
	hack/build-test-binaries.sh all

.PHONY: test-assets
test-assets: ## Build the Kubernetes test binaries (etcd, kube-apiserver, kubectl, ...) and print their directory.
	@hack/build-test-binaries.sh --print-assets

.PHONY: redis
redis: ## Install redis-server for the integration tests if it is missing.
	@hack/install-redis.sh

.PHONY: controller-gen
controller-gen: ## Build controller-gen if necessary and print its path.
	@hack/build-test-binaries.sh --path controller-gen

.PHONY: golangci-lint
golangci-lint: ## Build golangci-lint if necessary and print its path.
	@hack/build-test-binaries.sh --path golangci-lint

.PHONY: kustomize
kustomize: ## Build kustomize if necessary and print its path.
	@hack/build-test-binaries.sh --path kustomize

.PHONY: helm
helm: ## Build helm if necessary and print its path.
	@hack/build-test-binaries.sh --path helm

# tool-path expands, inside a recipe, to the path of the pinned tool $(1),
# building it first if it is not cached; progress goes to stderr. Use it in an
# assignment (x="$(call tool-path,NAME)"), so a failed build stops the recipe.
tool-path = $$(hack/build-test-binaries.sh --path $(1))

# kubectl-path expands to KUBECTL when it is on PATH, else to the pinned kubectl.
kubectl-path = $$(command -v $(KUBECTL) || hack/build-test-binaries.sh --path kubectl)

# chart-manager-rules writes to $(2) the rules of the ClusterRole manager-role
# found in $(1) (controller-gen's role.yaml, possibly several documents), under
# a header, through a temporary file so a failure leaves $(2) as it was.
define chart-manager-rules
awk ' \
	/^---$$/ { doc++; inrules = 0; next } \
	/^kind: ClusterRole$$/ { clusterrole[doc] = 1 } \
	/^  name: manager-role$$/ { named[doc] = 1 } \
	/^rules:/ { inrules = 1; next } \
	inrules && /^[^ -]/ { inrules = 0 } \
	inrules { rules[doc] = rules[doc] $$0 "\n" } \
	END { \
		for (i = 0; i <= doc; i++) if (clusterrole[i] && named[i] && rules[i] != "") { \
			print "# The rules of the ClusterRole manager-role, generated by `make manifests`"; \
			print "# from config/rbac/role.yaml (the +kubebuilder:rbac markers). Do not edit."; \
			printf "%s", rules[i]; exit 0 \
		} \
		print "no rules of a ClusterRole manager-role in $(1)" > "/dev/stderr"; exit 1 \
	}' $(1) > $(2).tmp && mv $(2).tmp $(2) || { rm -f $(2).tmp; exit 1; }
endef

# kustomize-with-image builds config/default with the operator image set to
# IMG, through a throwaway overlay, so the checkout is left untouched.
define kustomize-with-image
kustomize="$(call tool-path,kustomize)"; \
overlay="$$(mktemp -d)"; trap 'rm -rf "$$overlay"' EXIT; \
printf 'resources:\n- %s\n' "$$(realpath --relative-to="$$overlay" config/default)" > "$$overlay/kustomization.yaml"; \
(cd "$$overlay" && "$$kustomize" edit set image controller=$(IMG)); \
"$$kustomize" build "$$overlay"
endef

##@ Demo

# PURGE=1 makes demo-down also delete the local cluster's state dir (etcd
# data, logs, the demo's Redis data).
PURGE ?=

.PHONY: demo
demo: ## Run the demo: a local cluster (or the one of your kubeconfig), the operator, a burst of tasks watched live; it stays running.
	@IMG="$(IMG)" WORKER_IMG="$(WORKER_IMG)" hack/demo.sh up

.PHONY: demo-down
demo-down: ## Tear the demo down: uninstall it, stop its redis-server and the local cluster (PURGE=1 deletes their state too).
	@hack/demo.sh down $(if $(PURGE),--purge)
