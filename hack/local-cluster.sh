#!/usr/bin/env bash
# A local Kubernetes control plane without containers: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (fake nodes) from the
# pinned binaries of hack/build-test-binaries.sh, plus the pod runner
# (hack/local-cluster/cmd/podrunner), which runs the pods of this project's
# own images (queueworker-operator, queueworker-worker) and of redis (with
# this machine's redis-server) as local processes, and serves their Services.
# Everything listens on 127.0.0.1 only. docs/local-cluster.md describes it.
#
# Usage: hack/local-cluster.sh up             start (or complete) the cluster; prints the kubeconfig path
#        hack/local-cluster.sh down [--purge] stop every process (SIGTERM, then SIGKILL); --purge removes the state dir
#        hack/local-cluster.sh status         show the processes, ports and nodes
#        hack/local-cluster.sh kubeconfig     print the path of the admin kubeconfig
#
# Environment:
#   QW_CLUSTER_DIR  state dir (certificates, kubeconfigs, etcd data, logs, pids, built binaries, pod logs);
#                   default ${XDG_CACHE_HOME:-$HOME/.cache}/queueworker-operator/local-cluster
#   NODES           number of fake nodes (default 1); `up` adds missing ones, never removes any
#   QW_PORT_BASE    first of the ports used when the state dir is new (default 16400); later runs keep
#                   the ports recorded in the state dir
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${QW_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/queueworker-operator/local-cluster}"
NODES="${NODES:-1}"
PKI="$STATE/pki"
LOGS="$STATE/logs"
RUN="$STATE/run"
BIN="$STATE/bin"
KCFG="$STATE/kubeconfigs"
ADMIN_KUBECONFIG="$STATE/kubeconfig"

# Components in start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok podrunner)

# Address ranges that exist only inside the cluster: nothing routes them.
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
POD_CIDR=10.244.0.0/16

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

# Ports ----------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# load_ports reads the ports of this state dir, or picks them on first use.
load_ports() {
	if [[ -f "$STATE/ports.env" ]]; then
		# shellcheck source=/dev/null
		source "$STATE/ports.env"
		return
	fi
	local base="${QW_PORT_BASE:-16400}"
	ETCD_PORT=$((base + 1))
	ETCD_PEER_PORT=$((base + 2))
	APISERVER_PORT=$((base + 43))
	KCM_PORT=$((base + 57))
	SCHEDULER_PORT=$((base + 59))
	PODRUNNER_PORT=$((base + 81))
	local p
	for p in $ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $KCM_PORT $SCHEDULER_PORT $PODRUNNER_PORT; do
		port_in_use "$p" && die "port $p on 127.0.0.1 is taken; choose other ports with QW_PORT_BASE (now $base)"
	done
	mkdir -p "$STATE"
	cat >"$STATE/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
KCM_PORT=$KCM_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
PODRUNNER_PORT=$PODRUNNER_PORT
EOF
}

# Processes ------------------------------------------------------------------

# running NAME prints the pid of component NAME when its recorded process is
# alive and still runs the component's binary (pids are reused).
running() {
	local pidfile="$RUN/$1.pid" pid argv0
	[[ -f "$pidfile" ]] || return 1
	pid="$(<"$pidfile")"
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1)"
	[[ "$(basename "$argv0")" == "$1" ]] || return 1
	echo "$pid"
}

# start NAME BINARY ARGS... starts a component detached from this shell, with
# its output appended to $LOGS/NAME.log, unless it is already running.
start() {
	local name="$1"
	shift
	if pid="$(running "$name")"; then
		log "$name: already running (pid $pid)"
		return
	fi
	printf '\n=== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$LOGS/$name.log"
	setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
	log "$name: started (pid $!, log $LOGS/$name.log)"
}

# alive PID: the process exists and has not exited. An exited process of an
# earlier shell stays a zombie until init reaps it, which can take a while.
alive() {
	local stat
	stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
	[[ "${stat##*) }" != Z* ]]
}

# stop NAME SECONDS sends SIGTERM, waits up to SECONDS, then sends SIGKILL.
stop() {
	local name="$1" grace="$2" pid i
	if ! pid="$(running "$name")"; then
		rm -f "$RUN/$name.pid"
		return
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 20; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	if alive "$pid"; then
		log "$name: still running after ${grace}s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name.pid"
	log "$name: stopped"
}

# wait_for WHAT SECONDS COMMAND... retries COMMAND until it succeeds.
wait_for() {
	local what="$1" timeout="$2" deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			die "$what: not ready after ${timeout}s; see the logs in $LOGS"
		fi
		sleep 0.2
	done
}

# Certificates and kubeconfigs -----------------------------------------------

# sign NAME SUBJECT EXTENSIONS writes $PKI/NAME.{key,crt}, an EC P-256 key
# and a one-year certificate signed by the cluster CA.
sign() {
	local name="$1" subject="$2" ext="$3"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 365 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr"
}

ensure_pki() {
	[[ -f "$PKI/done" ]] && return
	command -v openssl >/dev/null || die "openssl is needed to create the cluster's certificates (apt-get install openssl)"
	log "certificates in $PKI"
	rm -rf "$PKI"
	mkdir -p "$PKI"
	(
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -subj "/CN=queueworker-local-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		sign apiserver "/CN=kube-apiserver" "$(
			printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n'
			printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,' "$SERVICE_IP"
			printf 'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local'
		)"
		local client='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
		sign admin "/O=system:masters/CN=local-admin" "$client"
		sign kube-controller-manager "/CN=system:kube-controller-manager" "$client"
		sign kube-scheduler "/CN=system:kube-scheduler" "$client"
		sign kwok "/O=system:masters/CN=kwok" "$client"
		sign podrunner "/O=system:masters/CN=podrunner" "$client"
		# The service-account token signing key pair.
		openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
		openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	)
	touch "$PKI/done"
}

# kubeconfig FILE USER writes a kubeconfig for the client certificate USER.
kubeconfig() {
	(
		umask 077
		cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: queueworker-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: queueworker-local
  context:
    cluster: queueworker-local
    user: $2
current-context: queueworker-local
EOF
	)
}

ensure_kubeconfigs() {
	mkdir -p "$KCFG"
	kubeconfig "$ADMIN_KUBECONFIG" admin
	local c
	for c in kube-controller-manager kube-scheduler kwok podrunner; do
		kubeconfig "$KCFG/$c.kubeconfig" "$c"
	done
}

# Tools and builds -----------------------------------------------------------

find_tools() {
	local assets
	assets="$("$ROOT/hack/build-test-binaries.sh" --print-assets)"
	ETCD="$assets/etcd"
	KUBE_APISERVER="$assets/kube-apiserver"
	KUBE_CONTROLLER_MANAGER="$assets/kube-controller-manager"
	KUBE_SCHEDULER="$assets/kube-scheduler"
	KUBECTL="$assets/kubectl"
	KWOK="$("$ROOT/hack/build-test-binaries.sh" --path kwok)"
	# kwok's node stages ship in its module; the pinned version is the one
	# hack/tools/kwok requires.
	local dir
	dir="$(cd "$ROOT/hack/tools/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -d "$dir/kustomize/stage" ]] || die "kwok's stages not found in the module cache (dir '$dir')"
	# Nodes follow kwok's own stages; pods follow ours, which leave the
	# pods of the project's images to the pod runner.
	KWOK_STAGES=(
		"$dir/kustomize/stage/node/fast/node-initialize.yaml"
		"$dir/kustomize/stage/node/heartbeat/node-heartbeat.yaml"
		"$ROOT/hack/local-cluster/pod-stages.yaml"
	)
}

# start_build builds the manager, the worker, the dashboard and the pod runner
# in the background; finish_build waits for it. Each binary is moved into place, so a
# process still running the previous build keeps its file.
start_build() {
	mkdir -p "$BIN"
	rm -rf "$BIN/.new"
	(cd "$ROOT" && go build -o "$BIN/.new/" ./cmd/manager ./cmd/worker ./cmd/dashboard ./hack/local-cluster/cmd/podrunner) >"$LOGS/build.log" 2>&1 &
	BUILD_PID=$!
}

finish_build() {
	if ! wait "$BUILD_PID"; then
		cat "$LOGS/build.log" >&2
		die "go build of cmd/manager, cmd/worker, cmd/dashboard and hack/local-cluster/cmd/podrunner failed"
	fi
	local b
	for b in manager worker dashboard podrunner; do
		mv -f "$BIN/.new/$b" "$BIN/$b"
	done
	rmdir "$BIN/.new"
	log "built manager, worker, dashboard and podrunner in $BIN"
}

kubectl_admin() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

healthy() { [[ "$(curl -sk --max-time 2 "$1")" == ok ]]; }

# Nodes ----------------------------------------------------------------------

# ensure_nodes creates kwok-node-0 ... kwok-node-(NODES-1). Their capacity is
# this machine's, so the scheduler places no more than it could run.
ensure_nodes() {
	local cpu mem i manifest=""
	cpu="$(nproc)"
	mem="$(awk '/^MemTotal:/ {print $2 "Ki"}' /proc/meminfo)"
	for ((i = 0; i < NODES; i++)); do
		manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
status:
  allocatable: {cpu: \"$cpu\", memory: \"$mem\", pods: \"110\"}
  capacity: {cpu: \"$cpu\", memory: \"$mem\", pods: \"110\"}
"
	done
	printf '%s' "$manifest" | kubectl_admin apply --server-side --field-manager=local-cluster -f - >/dev/null
	# kube-controller-manager runs without node lifecycle, so nothing would
	# ever lift this taint; the admission plugin that adds it is off, but a
	# node from an older state dir may still carry it.
	kubectl_admin taint nodes -l type=kwok node.kubernetes.io/not-ready- >/dev/null 2>&1 || true
}

nodes_ready() {
	local ready
	ready="$(kubectl_admin get nodes -l type=kwok \
		-o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')"
	((ready >= NODES))
}

# Commands -------------------------------------------------------------------

cmd_up() {
	local t0=$SECONDS
	mkdir -p "$STATE" "$LOGS" "$RUN"
	load_ports
	find_tools
	start_build
	ensure_pki
	ensure_kubeconfigs

	start etcd "$ETCD" \
		--name=local --data-dir="$STATE/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="local=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --log-level=warn
	wait_for etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

	start kube-apiserver "$KUBE_APISERVER" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
		--advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--authorization-mode=Node,RBAC \
		--disable-admission-plugins=TaintNodesByCondition \
		--allow-privileged=true --profiling=false
	wait_for kube-apiserver 60 kubectl_admin get --raw /readyz

	start kube-controller-manager "$KUBE_CONTROLLER_MANAGER" \
		--kubeconfig="$KCFG/kube-controller-manager.kubeconfig" \
		--authentication-kubeconfig="$KCFG/kube-controller-manager.kubeconfig" \
		--authorization-kubeconfig="$KCFG/kube-controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--controllers='*,-nodeipam,-nodelifecycle' \
		--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
		--use-service-account-credentials=true \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--leader-elect=false --profiling=false
	start kube-scheduler "$KUBE_SCHEDULER" \
		--kubeconfig="$KCFG/kube-scheduler.kubeconfig" \
		--authentication-kubeconfig="$KCFG/kube-scheduler.kubeconfig" \
		--authorization-kubeconfig="$KCFG/kube-scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
		--leader-elect=false --profiling=false

	ensure_nodes
	local stage_args=() s
	for s in "${KWOK_STAGES[@]}"; do stage_args+=(--config="$s"); done
	start kwok "$KWOK" \
		--kubeconfig="$KCFG/kwok.kubeconfig" \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--cidr="$POD_CIDR" --node-ip=127.0.0.1 \
		"${stage_args[@]}"

	finish_build
	start podrunner "$BIN/podrunner" \
		--kubeconfig="$KCFG/podrunner.kubeconfig" \
		--state-dir="$STATE" \
		--manager-bin="$BIN/manager" --worker-bin="$BIN/worker" --dashboard-bin="$BIN/dashboard" \
		--node-selector=type=kwok \
		--redis-server-bin="$(command -v redis-server || true)" \
		--service-loopback-net="127.$(((PODRUNNER_PORT / 100) % 256)).0.0/16" \
		--health-probe-bind-address="127.0.0.1:$PODRUNNER_PORT"

	wait_for kube-controller-manager 60 healthy "https://127.0.0.1:$KCM_PORT/healthz"
	wait_for kube-scheduler 60 healthy "https://127.0.0.1:$SCHEDULER_PORT/healthz"
	wait_for "kwok (nodes Ready)" 60 nodes_ready
	wait_for "the default service account" 60 kubectl_admin get serviceaccount default -n default
	wait_for podrunner 60 healthy "http://127.0.0.1:$PODRUNNER_PORT/readyz"

	log "cluster up in $((SECONDS - t0))s: $NODES node(s), API server https://127.0.0.1:$APISERVER_PORT"
	log "export KUBECONFIG=$ADMIN_KUBECONFIG"
	echo "$ADMIN_KUBECONFIG"
}

cmd_down() {
	local purge=false
	case "${1:-}" in
	--purge) purge=true ;;
	"") ;;
	*) die "usage: $0 down [--purge]" ;;
	esac
	if [[ -d "$RUN" ]]; then
		# The pod runner stops its processes within their grace periods
		# (capped) before it exits.
		stop podrunner 60
		local i
		for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
			[[ "${COMPONENTS[i]}" == podrunner ]] || stop "${COMPONENTS[i]}" 15
		done
		kill_leftover_pod_processes
	fi
	if $purge; then
		rm -rf "$STATE"
		log "removed $STATE"
	elif [[ -d "$STATE" ]]; then
		log "logs kept in $LOGS and $STATE/pods"
	fi
}

# kill_leftover_pod_processes ends pod processes the runner could not stop
# (for example after it was killed): it records each in run/pods/*.pid.
kill_leftover_pod_processes() {
	local f pid
	for f in "$RUN"/pods/*.pid; do
		[[ -f "$f" ]] || continue
		pid="$(<"$f")"
		if alive "$pid" && tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -q "^$BIN/"; then
			log "killing leftover pod process $pid ($(basename "$f" .pid))"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

cmd_status() {
	if [[ ! -d "$STATE" ]]; then
		echo "no local cluster in $STATE"
		return 1
	fi
	load_ports
	local c pid up=0
	printf '%-24s %-8s %s\n' COMPONENT PID STATE
	for c in "${COMPONENTS[@]}"; do
		if pid="$(running "$c")"; then
			printf '%-24s %-8s %s\n' "$c" "$pid" running
			up=$((up + 1))
		else
			printf '%-24s %-8s %s\n' "$c" - stopped
		fi
	done
	echo
	echo "state dir:  $STATE"
	echo "kubeconfig: $ADMIN_KUBECONFIG"
	echo "ports:      apiserver $APISERVER_PORT, etcd $ETCD_PORT/$ETCD_PEER_PORT, controller-manager $KCM_PORT, scheduler $SCHEDULER_PORT, podrunner $PODRUNNER_PORT"
	if running kube-apiserver >/dev/null; then
		local assets
		assets="$("$ROOT/hack/build-test-binaries.sh" --print-assets 2>/dev/null)"
		echo
		"$assets/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" get nodes -o wide 2>&1 || true
	fi
	((up == ${#COMPONENTS[@]}))
}

cmd_kubeconfig() {
	[[ -f "$ADMIN_KUBECONFIG" ]] || die "no kubeconfig in $STATE; run: $0 up"
	echo "$ADMIN_KUBECONFIG"
}

case "${1:-}" in
up)
	[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || die "NODES must be a whole number of at least 1 (got '$NODES')"
	cmd_up
	;;
down) cmd_down "${2:-}" ;;
status) cmd_status ;;
kubeconfig) cmd_kubeconfig ;;
*)
	echo "usage: $0 up|down [--purge]|status|kubeconfig" >&2
	exit 2
	;;
esac
