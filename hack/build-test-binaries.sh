#!/usr/bin/env bash
# Builds the pinned Kubernetes test binaries from Go modules and caches them
# outside the checkout, keyed by version:
#
#   $QW_TOOLS_DIR/k8s/<kubernetes>-etcd-<etcd>/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
#   $QW_TOOLS_DIR/kwok/<kwok>/kwok
#   $QW_TOOLS_DIR/helm/<helm>/helm
#   $QW_TOOLS_DIR/controller-gen/<controller-tools>/controller-gen
#   $QW_TOOLS_DIR/golangci-lint/<golangci-lint>/golangci-lint
#   $QW_TOOLS_DIR/kustomize/<kustomize>/kustomize
#   $QW_TOOLS_DIR/deadcode/<x/tools>-<source hash>/deadcode
#
# A binary already in the cache is reused. The versions come from the modules
# under hack/tools/, so bumping a version there is the only change needed.
# deadcode is this project's own code (hack/tools/deadcode) on a pinned
# golang.org/x/tools, so a hash of its source is part of its key.
#
# Usage: hack/build-test-binaries.sh [k8s|kwok|helm|controller-gen|golangci-lint|kustomize|deadcode|all] (default all)
#        hack/build-test-binaries.sh --print-assets   (prints the k8s dir, for KUBEBUILDER_ASSETS)
#        hack/build-test-binaries.sh --path TOOL      (builds TOOL if needed, prints its path)
# Progress goes to stderr, so --print-assets and --path print only the path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QW_TOOLS_DIR="${QW_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/queueworker-operator}"
export CGO_ENABLED=0

modver() { # modver <tools module dir> <module path>
	(cd "$ROOT/hack/tools/$1" && go list -m -f '{{.Version}}' "$2")
}

k8s_dir() {
	echo "$QW_TOOLS_DIR/k8s/$(modver kube k8s.io/kubernetes)-etcd-$(modver kube go.etcd.io/etcd/server/v3)"
}

# build <tools module dir> <dest dir> <name=package>...
build() {
	local mod="$1" dest="$2"
	shift 2
	mkdir -p "$dest"
	local spec name pkg
	for spec in "$@"; do
		name="${spec%%=*}"
		pkg="${spec#*=}"
		if [[ -x "$dest/$name" ]]; then
			echo "    $name: cached in $dest"
			continue
		fi
		if [[ "$mod" == kube ]]; then
			echo "    $name: building $pkg (a cold build of all five takes 10-15 minutes on 2 cores)"
		else
			echo "    $name: building $pkg"
		fi
		local start=$SECONDS
		(cd "$ROOT/hack/tools/$mod" && go build -trimpath -ldflags '-s -w' -o "$dest/.$name.$$.tmp" "$pkg")
		mv "$dest/.$name.$$.tmp" "$dest/$name"
		echo "    $name: built in $((SECONDS - start))s"
	done
}

build_k8s() {
	local dir
	dir="$(k8s_dir)"
	echo "==> Kubernetes test binaries in $dir"
	build kube "$dir" \
		etcd=go.etcd.io/etcd/server/v3 \
		kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
		kubectl=k8s.io/kubernetes/cmd/kubectl \
		kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
		kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
}

build_kwok() {
	local dir
	dir="$QW_TOOLS_DIR/kwok/$(modver kwok sigs.k8s.io/kwok)"
	echo "==> kwok in $dir"
	build kwok "$dir" kwok=sigs.k8s.io/kwok/cmd/kwok
}

build_controller_gen() {
	local dir
	dir="$QW_TOOLS_DIR/controller-gen/$(modver controller-gen sigs.k8s.io/controller-tools)"
	echo "==> controller-gen in $dir"
	build controller-gen "$dir" controller-gen=sigs.k8s.io/controller-tools/cmd/controller-gen
}

build_golangci_lint() {
	local dir
	dir="$QW_TOOLS_DIR/golangci-lint/$(modver golangci-lint github.com/golangci/golangci-lint/v2)"
	echo "==> golangci-lint in $dir"
	build golangci-lint "$dir" golangci-lint=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
}

build_kustomize() {
	local dir
	dir="$QW_TOOLS_DIR/kustomize/$(modver kustomize sigs.k8s.io/kustomize/kustomize/v5)"
	echo "==> kustomize in $dir"
	build kustomize "$dir" kustomize=sigs.k8s.io/kustomize/kustomize/v5
}

# deadcode_dir is keyed by the x/tools version and by the tool's own source,
# tests left out.
deadcode_dir() {
	local src
	src="$(cd "$ROOT/hack/tools/deadcode" && find . -maxdepth 1 \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
		LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-12)"
	echo "$QW_TOOLS_DIR/deadcode/$(modver deadcode golang.org/x/tools)-$src"
}

build_deadcode() {
	local dir
	dir="$(deadcode_dir)"
	echo "==> deadcode in $dir"
	build deadcode "$dir" deadcode=.
}

build_helm() {
	local dir
	dir="$QW_TOOLS_DIR/helm/$(modver helm helm.sh/helm/v3)"
	echo "==> helm in $dir"
	build helm "$dir" helm=helm.sh/helm/v3/cmd/helm
}

tool_path() {
	case "$1" in
	etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kubectl)
		build_k8s >&2
		echo "$(k8s_dir)/$1"
		;;
	kwok)
		build_kwok >&2
		echo "$QW_TOOLS_DIR/kwok/$(modver kwok sigs.k8s.io/kwok)/kwok"
		;;
	helm)
		build_helm >&2
		echo "$QW_TOOLS_DIR/helm/$(modver helm helm.sh/helm/v3)/helm"
		;;
	controller-gen)
		build_controller_gen >&2
		echo "$QW_TOOLS_DIR/controller-gen/$(modver controller-gen sigs.k8s.io/controller-tools)/controller-gen"
		;;
	golangci-lint)
		build_golangci_lint >&2
		echo "$QW_TOOLS_DIR/golangci-lint/$(modver golangci-lint github.com/golangci/golangci-lint/v2)/golangci-lint"
		;;
	kustomize)
		build_kustomize >&2
		echo "$QW_TOOLS_DIR/kustomize/$(modver kustomize sigs.k8s.io/kustomize/kustomize/v5)/kustomize"
		;;
	deadcode)
		build_deadcode >&2
		echo "$(deadcode_dir)/deadcode"
		;;
	*)
		echo "unknown tool $1" >&2
		exit 2
		;;
	esac
}

case "${1:-all}" in
--print-assets)
	build_k8s >&2
	k8s_dir
	;;
--path) tool_path "${2:?tool name}" ;;
controller-gen) build_controller_gen ;;
golangci-lint) build_golangci_lint ;;
kustomize) build_kustomize ;;
deadcode) build_deadcode ;;
k8s) build_k8s ;;
kwok) build_kwok ;;
helm) build_helm ;;
all)
	build_k8s
	build_kwok
	build_helm
	build_controller_gen
	build_golangci_lint
	build_kustomize
	build_deadcode
	;;
*)
	echo "usage: $0 [k8s|kwok|helm|controller-gen|golangci-lint|kustomize|deadcode|all|--print-assets|--path TOOL]" >&2
	exit 2
	;;
esac
