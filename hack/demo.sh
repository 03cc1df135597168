#!/usr/bin/env bash
# The demo of the operator: a QueueWorker autoscaled on a burst of tasks,
# watched live, then summed up (`make demo`), and its teardown
# (`make demo-down`).
#
# Where it runs:
#   - with no kubeconfig (no $KUBECONFIG, no ~/.kube/config), or one that
#     points at the local cluster: on the local control plane of
#     hack/local-cluster.sh, where the operator and the workers run as local
#     processes, with a local redis-server configured by a RedisConfig in mode
#     External (hack/demo/*.yaml);
#   - with a kubeconfig whose cluster answers: on that cluster, with
#     config/samples as they are (a RedisConfig in mode Managed). The cluster
#     must be able to pull the images IMG and WORKER_IMG.
#   DEMO_CLUSTER=local or DEMO_CLUSTER=current chooses instead of guessing.
#
# Usage: hack/demo.sh up              build what is needed, install, run the burst, leave it all running
#        hack/demo.sh down [--purge]  uninstall, stop redis-server and the local cluster; --purge also
#                                     removes the local cluster's state dir (etcd data, logs, Redis data)
#
# Environment:
#   DEMO_CLUSTER   auto (default), local or current
#   DEMO_COUNT     tasks in the burst (default 1500), spread over the QueueWorker's queues
#   DEMO_DURATION  sleep of each task (default 200ms)
#   DEMO_OUTPUT    auto (a table redrawn in place on a terminal, else a line a second), table or lines
#   DEMO_PLOT      file the chart of the run (backlog, latency, replicas over time) is written to at the
#                  end, .svg or .png (default run.svg in the demo's state dir); empty: no chart
#   DEMO_HELM_ARGS extra arguments of helm upgrade --install, e.g. "--set logging.level=debug"
#   IMG, WORKER_IMG  images on a real cluster (default queueworker-operator:dev, queueworker-worker:dev)
#   QW_CLUSTER_DIR, QW_PORT_BASE, QW_TOOLS_DIR: see hack/local-cluster.sh and hack/build-test-binaries.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${QW_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/queueworker-operator/local-cluster}"
DEMO_DIR="$STATE/demo"
REDIS_DIR="$DEMO_DIR/redis"
LOCAL_KUBECONFIG="$STATE/kubeconfig"

DEMO_CLUSTER="${DEMO_CLUSTER:-auto}"
DEMO_COUNT="${DEMO_COUNT:-1500}"
DEMO_DURATION="${DEMO_DURATION:-200ms}"
DEMO_OUTPUT="${DEMO_OUTPUT:-auto}"
DEMO_PLOT="${DEMO_PLOT-$DEMO_DIR/run.svg}"
read -r -a DEMO_HELM_ARGS <<<"${DEMO_HELM_ARGS:-}"
IMG="${IMG:-queueworker-operator:dev}"
WORKER_IMG="${WORKER_IMG:-queueworker-worker:dev}"

RELEASE=queueworker-operator
RELEASE_NS=queueworker-system
NS=default
QW=email
CHART="$ROOT/charts/queueworker-operator"

STEPS=7
T0=$SECONDS

# Step headers are bold on a terminal only, so logs stay plain text.
BOLD="" PLAIN=""
if [[ -t 1 ]]; then
	BOLD=$'\033[1m' PLAIN=$'\033[0m'
fi
step() { # step N TEXT
	printf '\n%s==> [%s/%s] %s%s  (%ss)\n' "$BOLD" "$1" "$STEPS" "$2" "$PLAIN" "$((SECONDS - T0))"
}
say() { printf '    %s\n' "$*"; }
die() {
	printf '\nERROR: %s\n' "$*" >&2
	exit 1
}
# k runs kubectl against the chosen cluster, h helm, and kv prints the
# kubectl command first. KC goes in $KUBECONFIG, which, unlike --kubeconfig,
# takes a list of files.
k() { KUBECONFIG="$KC" "$KUBECTL" "$@"; }
h() { KUBECONFIG="$KC" "$HELM" "$@"; }
kv() {
	say "\$ kubectl $*"
	k "$@" 2>&1 | sed 's/^/    /'
}

# Tools -----------------------------------------------------------------------

# pinned PATH-NAME prints the path of a pinned tool, building it when it is
# not cached (the build's progress goes to the terminal).
pinned() {
	"$ROOT/hack/build-test-binaries.sh" --path "$1"
}

# build_binaries builds bin/manager, bin/worker and bin/demo. With an empty
# Go build cache that compiles the Kubernetes client libraries, minutes of
# silence on two cores; a line every 20s shows it is still at work.
build_binaries() {
	say "go build -o bin/ ./cmd/manager ./cmd/worker ./hack/demo/cmd/demo"
	local pid start=$SECONDS
	(cd "$ROOT" && go build -o bin/ ./cmd/manager ./cmd/worker ./hack/demo/cmd/demo) &
	pid=$!
	while ! wait_up_to 20 "$pid"; do
		say "  still compiling ($((SECONDS - start))s; a first build takes a few minutes)"
	done
	wait "$pid" || die "go build failed"
	say "  built in $((SECONDS - start))s"
}

# wait_up_to SECONDS PID succeeds once PID has exited, or fails after SECONDS.
wait_up_to() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# Choosing the cluster ----------------------------------------------------------

# local_server prints the API server URL of the local cluster, if it has one.
local_server() {
	[[ -f "$STATE/ports.env" ]] || return 1
	(
		# shellcheck source=/dev/null
		source "$STATE/ports.env"
		echo "https://127.0.0.1:$APISERVER_PORT"
	)
}

# choose_cluster sets TARGET (local or current) and, for current, KC, KUBECTL
# and CONTEXT.
choose_cluster() {
	local candidate=""
	if [[ -n "${KUBECONFIG:-}" ]]; then
		candidate="$KUBECONFIG"
	elif [[ -f "$HOME/.kube/config" ]]; then
		candidate="$HOME/.kube/config"
	fi
	case "$DEMO_CLUSTER" in
	local)
		TARGET=local
		return
		;;
	current)
		[[ -n "$candidate" ]] || die "DEMO_CLUSTER=current, but there is no kubeconfig (\$KUBECONFIG or ~/.kube/config)"
		;;
	auto)
		if [[ -z "$candidate" ]]; then
			TARGET=local
			say "no kubeconfig (\$KUBECONFIG, ~/.kube/config): using a local cluster"
			return
		fi
		;;
	*) die "DEMO_CLUSTER must be auto, local or current (got '$DEMO_CLUSTER')" ;;
	esac

	KUBECTL="$(command -v kubectl || pinned kubectl)"
	local server
	server="$(KUBECONFIG="$candidate" "$KUBECTL" config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>/dev/null || true)"
	CONTEXT="$(KUBECONFIG="$candidate" "$KUBECTL" config current-context 2>/dev/null || true)"
	if [[ -z "$server" && "$DEMO_CLUSTER" == current ]]; then
		die "DEMO_CLUSTER=current, but the kubeconfig $candidate has no current context with a cluster"
	fi
	if [[ "$DEMO_CLUSTER" == auto ]]; then
		if [[ -z "$server" ]]; then
			TARGET=local
			say "the kubeconfig $candidate has no current context: using a local cluster"
			return
		fi
		if [[ "$server" == "$(local_server || true)" ]]; then
			TARGET=local
			say "the kubeconfig points at the local cluster ($server)"
			return
		fi
	fi
	if ! KUBECONFIG="$candidate" "$KUBECTL" --request-timeout=5s get --raw /readyz >/dev/null 2>&1 &&
		! KUBECONFIG="$candidate" "$KUBECTL" --request-timeout=5s version >/dev/null 2>&1; then
		if [[ "$DEMO_CLUSTER" == current ]]; then
			die "the cluster of context '$CONTEXT' ($server) does not answer"
		fi
		TARGET=local
		say "the cluster of context '$CONTEXT' ($server) does not answer: using a local cluster instead"
		say "(DEMO_CLUSTER=current insists on it; DEMO_CLUSTER=local skips this check)"
		return
	fi
	TARGET=current
	KC="$candidate"
	say "the kubeconfig $candidate points at a cluster that answers: context '$CONTEXT', $server"
}

# Local Redis -------------------------------------------------------------------

# redis_port prints the port of the demo's redis-server: the recorded one, or
# the first free one from QW_PORT_BASE+79, recorded for the next runs.
redis_port() {
	if [[ -f "$DEMO_DIR/redis.env" ]]; then
		# shellcheck source=/dev/null
		(source "$DEMO_DIR/redis.env" && echo "$REDIS_PORT")
		return
	fi
	local p=$((${QW_PORT_BASE:-16400} + 79)) end
	end=$((p + 100))
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		((++p < end)) || die "no free port for redis-server in $((end - 100))-$end; set QW_PORT_BASE"
	done
	mkdir -p "$DEMO_DIR"
	echo "REDIS_PORT=$p" >"$DEMO_DIR/redis.env"
	echo "$p"
}

# redis_pid prints the pid of the demo's redis-server when it runs.
redis_pid() {
	local pid
	[[ -f "$REDIS_DIR/redis.pid" ]] || return 1
	pid="$(<"$REDIS_DIR/redis.pid")"
	[[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server || return 1
	echo "$pid"
}

# redis_ping PORT PASSWORD succeeds when the server authenticates PASSWORD and
# answers PING. Plain RESP over bash's /dev/tcp: redis-cli is not needed.
redis_ping() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	REDIS_PASSWORD="$2" timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "AUTH %s\r\nPING\r\n" "$REDIS_PASSWORD" >&3
		read -r auth <&3 && read -r pong <&3 && [[ "$pong" == +PONG* ]]' _ "$1" 2>/dev/null
}

redis_stop() {
	local pid i
	pid="$(redis_pid)" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		[[ -d "/proc/$pid" ]] || break
		sleep 0.1
	done
	if [[ -d "/proc/$pid" ]]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	say "redis-server stopped (pid $pid)"
}

# ensure_password sets PASSWORD from the Secret redis-auth when it exists
# (it is left as it is), else creates the Secret with the password of the
# server's config file (a running server keeps its password) or a new
# random one.
ensure_password() {
	local b64
	if b64="$(k -n "$NS" get secret redis-auth -o jsonpath='{.data.password}' 2>/dev/null)"; then
		[[ -n "$b64" ]] ||
			die "Secret $NS/redis-auth exists without a password; delete it (kubectl -n $NS delete secret redis-auth) and run again"
		PASSWORD="$(base64 -d <<<"$b64")"
		# It goes into redis.conf and into an AUTH command as one word.
		# ($(...) drops a trailing newline: the byte count tells.)
		[[ "$PASSWORD" =~ ^[[:graph:]]+$ && "$PASSWORD" != *[\"\'\\]* &&
			"$(base64 -d <<<"$b64" | wc -c)" -eq "${#PASSWORD}" ]] ||
			die "Secret $NS/redis-auth holds a password with blanks or quotes, which redis.conf cannot take as is; delete the Secret and run again"
		say "Secret $NS/redis-auth exists: its password is the server's"
		return
	fi
	local from="a new random password"
	if [[ -f "$REDIS_DIR/redis.conf" ]] && PASSWORD="$(sed -n 's/^requirepass //p' "$REDIS_DIR/redis.conf")" && [[ -n "$PASSWORD" ]]; then
		from="the password of the server's data dir"
	else
		PASSWORD="$(openssl rand -hex 24)"
	fi
	# Through a file, never a command line (ps shows those).
	PWFILE="$(mktemp)"
	trap 'rm -f "$PWFILE"' EXIT
	(umask 077 && printf '%s' "$PASSWORD" >"$PWFILE")
	k -n "$NS" create secret generic redis-auth --from-file=password="$PWFILE" >/dev/null
	rm -f "$PWFILE"
	say "Secret $NS/redis-auth created with $from (key password)"
}

# allow_password_use <addr> lets the RedisConfig, and the workers it hands
# the password to, use the Secret redis-auth, and only for the demo's server
# at addr: the operator refuses a Secret that does not say so
# (docs/security.md).
allow_password_use() {
	k -n "$NS" annotate --overwrite secret redis-auth \
		queueworker.io/usable-by=RedisConfig,QueueWorker "queueworker.io/usable-with=$1" >/dev/null
}

# redis_up writes the server's config and starts it unless it already runs
# with that config. The config sets what a server needs to start (where it
# listens, its files, the password) and persistence, so a restart reloads
# the append-only file; everything else is left at Redis's defaults for the
# RedisConfig to set at runtime.
redis_up() {
	local port="$1" pw="$2" conf pid
	mkdir -p "$REDIS_DIR/data"
	conf="$(
		cat <<EOF
# Written by hack/demo.sh for the local demo; the RedisConfig "redis" sets
# the other keys at runtime. Holds the password: mode 0600.
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR/data
requirepass $pw
appendonly yes
appendfsync everysec
save ""
# Deliberately not the RedisConfig's 511: tcp-backlog is read only at start,
# so the RedisConfig lists it in status.drift (RestartRequired).
tcp-backlog 128
EOF
	)"
	if pid="$(redis_pid)" && [[ -f "$REDIS_DIR/redis.conf" ]] && [[ "$(<"$REDIS_DIR/redis.conf")" == "$conf" ]] &&
		redis_ping "$port" "$pw"; then
		say "redis-server already running (pid $pid, 127.0.0.1:$port)"
		return
	fi
	redis_stop
	(umask 077 && printf '%s\n' "$conf" >"$REDIS_DIR/redis.conf")
	# maxclients 10000 needs that many file descriptors; raise the soft limit
	# as far as the hard one allows.
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	(cd "$REDIS_DIR" && "${REDIS_SERVER:-redis-server}" "$REDIS_DIR/redis.conf") ||
		die "redis-server did not start; see $REDIS_DIR/redis.log"
	local i
	for ((i = 0; i < 100; i++)); do
		redis_ping "$port" "$pw" && break
		sleep 0.1
	done
	redis_ping "$port" "$pw" || die "redis-server on 127.0.0.1:$port does not answer; see $REDIS_DIR/redis.log"
	say "redis-server started (pid $(redis_pid), 127.0.0.1:$port, data in $REDIS_DIR/data, AUTH on)"
}

# Kubernetes helpers ------------------------------------------------------------

# apply_crds applies the chart's CRDs server-side: Helm installs them on the
# first install only, so a second `make demo` after an API change would
# otherwise run against the old schema.
apply_crds() {
	say "\$ kubectl apply --server-side --force-conflicts -f charts/queueworker-operator/crds/"
	k apply --server-side --force-conflicts --field-manager=queueworker-demo -f "$CHART/crds/" >/dev/null
	# kubectl wait fails instead of waiting while a new CRD has no status yet.
	local i
	for ((i = 0; i < 60; i++)); do
		k wait --for=condition=Established --timeout=30s \
			crd/queueworkers.queueworker.io crd/redisconfigs.queueworker.io >/dev/null 2>&1 && return
		sleep 0.5
	done
	die "the CRDs queueworkers.queueworker.io and redisconfigs.queueworker.io are not Established"
}

# helm_install TIMEOUT REPOSITORY TAG [HELM ARGS...] installs or upgrades the
# chart and waits up to TIMEOUT for the operator to be ready.
helm_install() {
	local timeout="$1" repo="$2" tag="$3"
	shift 3
	say "\$ helm upgrade --install $RELEASE charts/queueworker-operator --namespace $RELEASE_NS --create-namespace \\"
	local shown=(--set "image.repository=$repo" --set "image.tag=$tag" "$@" ${DEMO_HELM_ARGS[@]+"${DEMO_HELM_ARGS[@]}"} --wait --timeout "$timeout")
	say "    ${shown[*]}"
	if ! h upgrade --install "$RELEASE" "$CHART" \
		--namespace "$RELEASE_NS" --create-namespace \
		--set image.repository="$repo" --set image.tag="$tag" "$@" ${DEMO_HELM_ARGS[@]+"${DEMO_HELM_ARGS[@]}"} \
		--wait --timeout "$timeout" >"$DEMO_DIR/helm.log" 2>&1; then
		cat "$DEMO_DIR/helm.log" >&2
		k -n "$RELEASE_NS" get pods -o wide >&2 || true
		die "the operator did not become ready; look at: kubectl -n $RELEASE_NS describe pods"
	fi
	say "$(grep -m1 '^STATUS' "$DEMO_DIR/helm.log" || echo "release $RELEASE installed")"
}

# wait_ready KIND NAME SECONDS [HINT] waits for the Ready condition and, when
# it does not come, shows the object and what to look at.
wait_ready() {
	local kind="$1" name="$2" timeout="$3" hint="${4:-}"
	if ! k -n "$NS" wait --for=condition=Ready --timeout="${timeout}s" "$kind/$name" >/dev/null; then
		k -n "$NS" describe "$kind" "$name" >&2 || true
		die "${kind%s} $name is not Ready after ${timeout}s${hint:+; $hint}"
	fi
	say "${kind%s} $name is Ready"
}

# note_scaled_up says so when the workers are still scaled up from an earlier
# burst: the scale-down window keeps them, and this burst starts from there.
note_scaled_up() {
	local desired min
	desired="$(k -n "$NS" get queueworkers "$QW" -o jsonpath='{.status.desiredReplicas}')"
	min="$(k -n "$NS" get queueworkers "$QW" -o jsonpath='{.spec.autoscaling.minReplicas}')"
	if [[ -n "$desired" && -n "$min" ]] && ((desired > min)); then
		say "$desired workers still run from an earlier burst (the scale-down window keeps them for 5m"
		say "by default): this burst starts from $desired, not from $min."
	fi
}

show_drift() {
	local drift
	drift="$(k -n "$NS" get redisconfigs redis -o go-template='{{range .status.drift}}{{.key}}: want {{.want}}, have {{.have}} ({{.reason}}){{"\n"}}{{end}}')"
	say "$(k -n "$NS" get redisconfigs redis -o jsonpath='Applied: {.status.conditions[?(@.type=="Applied")].message}')"
	if [[ -n "$drift" ]]; then
		say "status.drift:"
		while IFS= read -r line; do say "  $line"; done <<<"$drift"
		if grep -q '^tcp-backlog:' <<<"$drift"; then
			say "tcp-backlog is read by Redis only at start: CONFIG SET cannot change it, so it"
			say "stays in status.drift until the server restarts with the wanted value in its config file."
		fi
		say "The other keys took effect at runtime. Ready stays True: the server works."
	fi
}

# Up ------------------------------------------------------------------------------

up() {
	mkdir -p "$DEMO_DIR"
	[[ "$DEMO_COUNT" =~ ^[1-9][0-9]*$ ]] || die "DEMO_COUNT must be a whole number of at least 1 (got '$DEMO_COUNT')"

	step 1 "Choosing the cluster"
	choose_cluster
	if [[ "$TARGET" == current ]]; then
		up_current
	else
		up_local
	fi
}

up_local() {
	step 2 "Building the tools and binaries (cached after the first run)"
	say "pinned Kubernetes binaries, kwok and helm from hack/tools (a first build takes 10-15 minutes on 2 cores)"
	"$ROOT/hack/build-test-binaries.sh" k8s
	"$ROOT/hack/build-test-binaries.sh" kwok
	"$ROOT/hack/build-test-binaries.sh" helm
	KUBECTL="$(pinned kubectl 2>/dev/null)"
	HELM="$(pinned helm 2>/dev/null)"
	"$ROOT/hack/install-redis.sh"
	command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"
	build_binaries
	echo "TARGET=local" >"$DEMO_DIR/target.env"

	step 3 "Starting the local cluster (hack/local-cluster.sh up)"
	KC="$("$ROOT/hack/local-cluster.sh" up)"

	step 4 "Starting redis-server on 127.0.0.1 (AUTH on, password in Secret redis-auth)"
	local port
	port="$(redis_port)"
	ensure_password
	allow_password_use "127.0.0.1:$port"
	redis_up "$port" "$PASSWORD"

	step 5 "Installing the operator with Helm ($RELEASE in $RELEASE_NS, image queueworker-operator:dev)"
	apply_crds
	# The local cluster runs the binaries it built for the images; a hash of
	# them in the pod templates rolls the pods when a rebuild changed them.
	local manager_build worker_build
	manager_build="$(sha256sum "$STATE/bin/manager" | cut -c1-16)"
	worker_build="$(sha256sum "$STATE/bin/worker" | cut -c1-16)"
	helm_install 2m queueworker-operator dev --set-string "podAnnotations.queueworker\.io/demo-build=$manager_build"

	step 6 "Applying the RedisConfig (External, 127.0.0.1:$port) and the QueueWorker email"
	say "hack/demo/redisconfig.yaml and hack/demo/queueworker.yaml: config/samples adapted to the local cluster"
	sed -e "s|\${REDIS_ADDR}|127.0.0.1:$port|" "$ROOT/hack/demo/redisconfig.yaml" | k -n "$NS" apply -f - >/dev/null
	sed -e "s|\${WORKER_BUILD}|$worker_build|" "$ROOT/hack/demo/queueworker.yaml" | k -n "$NS" apply -f - >/dev/null
	wait_ready redisconfigs redis 120 "is redis-server running? $REDIS_DIR/redis.log"
	show_drift
	wait_ready queueworkers "$QW" 180 "the worker processes log to $STATE/pods/"
	k -n "$NS" get queueworkers "$QW" | sed 's/^/    /'
	note_scaled_up

	step 7 "Burst of $DEMO_COUNT tasks, live"
	local rc=0
	KUBECONFIG="$KC" "$ROOT/bin/demo" --namespace "$NS" --queueworker "$QW" \
		--count "$DEMO_COUNT" --duration "$DEMO_DURATION" --output "$DEMO_OUTPUT" --plot "$DEMO_PLOT" || rc=$?
	explore_local "$port"
	return "$rc"
}

up_current() {
	local repo="${IMG%:*}" tag="${IMG##*:}"
	[[ "$IMG" == *:* && "$tag" != */* ]] || die "IMG must be repository:tag (got '$IMG')"
	echo "TARGET=current" >"$DEMO_DIR/target.env"
	printf 'KUBECONFIG_PATH=%q\nCONTEXT=%q\n' "$KC" "$CONTEXT" >>"$DEMO_DIR/target.env"
	cat <<EOF

    This installs into the cluster of context '$CONTEXT':
      - the chart $RELEASE in namespace $RELEASE_NS, image $IMG
      - config/samples in namespace $NS: a RedisConfig "redis" (mode Managed: a
        redis:7.4 StatefulSet with a 2Gi volume, which needs a default StorageClass)
        and a QueueWorker "email" running $WORKER_IMG, 1 to 10 pods
    The cluster must be able to pull both images. Build them with
      make docker-build IMG=$IMG WORKER_IMG=$WORKER_IMG
    then push them (make docker-push, with IMG and WORKER_IMG in your registry)
    or load them into kind (make kind-load), and pass the same IMG and
    WORKER_IMG to make demo. DEMO_CLUSTER=local runs the demo locally instead.
EOF
	if [[ -t 0 ]]; then
		say "Starting in 5 seconds; Ctrl-C stops."
		sleep 5
	fi

	step 2 "Building helm and the demo binaries"
	HELM="$(pinned helm)"
	build_binaries

	step 3 "Checking the cluster"
	k version 2>/dev/null | grep -i '^server' | sed 's/^/    /' || true
	k auth can-i create customresourcedefinitions.apiextensions.k8s.io >/dev/null 2>&1 ||
		die "context '$CONTEXT' may not create CRDs: the chart needs cluster-admin rights"
	k get storageclass 2>/dev/null | grep -q '(default)' ||
		say "WARNING: no default StorageClass: the managed Redis's volume will stay Pending"

	step 4 "Installing the operator with Helm ($RELEASE in $RELEASE_NS, image $IMG)"
	apply_crds
	helm_install 5m "$repo" "$tag"

	step 5 "Applying config/samples (RedisConfig redis in mode Managed, QueueWorker email)"
	k -n "$NS" apply -f "$ROOT/config/samples/queueworker_v1alpha1_redisconfig.yaml" >/dev/null
	if [[ "$WORKER_IMG" == queueworker-worker:dev ]]; then
		k -n "$NS" apply -f "$ROOT/config/samples/queueworker_v1alpha1_queueworker.yaml" >/dev/null
	else
		say "worker image: $WORKER_IMG instead of the sample's queueworker-worker:dev"
		sed -e "s|image: queueworker-worker:dev|image: $WORKER_IMG|" "$ROOT/config/samples/queueworker_v1alpha1_queueworker.yaml" |
			k -n "$NS" apply -f - >/dev/null
	fi
	wait_ready redisconfigs redis 300 "the managed Redis is the StatefulSet redis-redis: kubectl -n $NS get statefulset,pods,pvc | grep redis-redis (its volume needs a default StorageClass, its pod the image redis:7.4)"
	show_drift
	wait_ready queueworkers "$QW" 300 "the workers are the Deployment $QW: kubectl -n $NS describe pods -l app.kubernetes.io/instance=$QW (can the nodes pull $WORKER_IMG?)"
	note_scaled_up

	step 6 "Forwarding a local port to the managed Redis"
	local addr svc rport lport
	addr="$(k -n "$NS" get redisconfigs redis -o jsonpath='{.status.address}')"
	svc="${addr%%.*}"
	rport="${addr##*:}"
	[[ -n "$svc" && -n "$rport" ]] || die "RedisConfig redis has no status.address"
	lport="$(free_port)"
	k -n "$NS" port-forward "svc/$svc" "$lport:$rport" >"$DEMO_DIR/port-forward.log" 2>&1 &
	PF_PID=$!
	trap 'kill "$PF_PID" 2>/dev/null || true' EXIT
	local i
	for ((i = 0; i < 150; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null && break
		kill -0 "$PF_PID" 2>/dev/null || break
		sleep 0.2
	done
	(exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null || {
		cat "$DEMO_DIR/port-forward.log" >&2
		die "kubectl port-forward svc/$svc did not open 127.0.0.1:$lport"
	}
	say "127.0.0.1:$lport -> svc/$svc:$rport (kubectl port-forward, pid $PF_PID, stopped when this script ends)"

	step 7 "Burst of $DEMO_COUNT tasks, live"
	local rc=0
	KUBECONFIG="$KC" "$ROOT/bin/demo" --namespace "$NS" --queueworker "$QW" --redis-addr "127.0.0.1:$lport" \
		--count "$DEMO_COUNT" --duration "$DEMO_DURATION" --output "$DEMO_OUTPUT" --plot "$DEMO_PLOT" || rc=$?
	explore_current "$svc" "$rport"
	return "$rc"
}

free_port() {
	local p
	for ((p = 20000 + RANDOM % 20000; ; p++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return
		}
	done
}

explore_local() {
	local port="$1" kdir
	kdir="$(dirname "$KUBECTL")"
	cat <<EOF

The demo is still running ($((SECONDS - T0))s in all). Explore it:

  export KUBECONFIG=$KC
  export PATH=$kdir:\$PATH   # the pinned kubectl
  kubectl get queueworkers,redisconfigs
  kubectl describe queueworkers $QW      # conditions, and the events that say why it scaled
  kubectl get redisconfigs redis -o jsonpath='{.status.drift}'
  kubectl get pods -o wide                 # back to 1 worker after the 5m scale-down window

Logs (the pods are local processes here, and kubectl logs has no kubelet to ask):
  operator:      tail -f $STATE/pods/${RELEASE_NS}_$RELEASE-controller-manager-*_manager.log
  workers:       tail -f $STATE/pods/${NS}_$QW-*_worker.log
  control plane: $STATE/logs/
  redis-server:  $REDIS_DIR/redis.log

Enqueue more (the password is in Secret $NS/redis-auth):
  QUEUEWORKER_REDIS_PASSWORD="\$(kubectl get secret redis-auth -o jsonpath='{.data.password}' | base64 -d)" \\
    bin/worker enqueue --redis-addr 127.0.0.1:$port --queue critical --count 500 --rate 100/s --type demo:sleep --duration 200ms
  bin/demo --count 3000            # another burst, watched live

Tear it all down:  make demo-down   (make demo-down PURGE=1 also deletes the state in $STATE)
EOF
}

explore_current() {
	local svc="$1" rport="$2"
	cat <<EOF

The demo is still running in context '$CONTEXT' ($((SECONDS - T0))s in all). Explore it:

  export KUBECONFIG=$KC
  kubectl get queueworkers,redisconfigs
  kubectl describe queueworkers $QW
  kubectl get redisconfigs redis -o jsonpath='{.status.drift}'
  kubectl -n $RELEASE_NS logs deployment/$RELEASE-controller-manager -c manager
  kubectl logs deployment/$QW

Enqueue more, through a port-forward to the managed Redis:
  kubectl port-forward svc/$svc 16379:$rport &
  QUEUEWORKER_REDIS_PASSWORD="\$(kubectl get secret redis-redis-auth -o jsonpath='{.data.password}' | base64 -d)" \\
    bin/worker enqueue --redis-addr 127.0.0.1:16379 --queue critical --count 500 --rate 100/s --type demo:sleep --duration 200ms
  bin/demo --redis-addr 127.0.0.1:16379 --count 3000   # another burst, watched live

Tear it down:  make demo-down   (uninstalls the chart and deletes the samples; the CRDs stay)
EOF
}

# Down ------------------------------------------------------------------------------

# delete_demo_objects deletes the samples and uninstalls the chart from the
# cluster of KC; the operator's objects go with their owners.
delete_demo_objects() {
	kv -n "$NS" delete queueworkers "$QW" --ignore-not-found --wait --timeout=90s || true
	kv -n "$NS" delete redisconfigs redis --ignore-not-found --wait --timeout=90s || true
	if h status "$RELEASE" -n "$RELEASE_NS" >/dev/null 2>&1; then
		say "\$ helm uninstall $RELEASE --namespace $RELEASE_NS --wait"
		h uninstall "$RELEASE" -n "$RELEASE_NS" --wait --timeout 2m | sed 's/^/    /' || true
	fi
}

down() {
	local purge=false target=local
	case "${1:-}" in
	--purge) purge=true ;;
	"") ;;
	*) die "usage: $0 down [--purge]" ;;
	esac
	if [[ -f "$DEMO_DIR/target.env" ]]; then
		# shellcheck source=/dev/null
		source "$DEMO_DIR/target.env"
		target="$TARGET"
	fi
	STEPS=3
	if [[ "$target" == current ]]; then
		STEPS=1
		step 1 "Removing the demo from context '$CONTEXT'"
		KC="$KUBECONFIG_PATH"
		KUBECTL="$(command -v kubectl || pinned kubectl)"
		HELM="$(pinned helm)"
		if [[ "$(KUBECONFIG="$KC" "$KUBECTL" config current-context 2>/dev/null)" != "$CONTEXT" ]]; then
			die "the current context of $KC is no longer '$CONTEXT'; switch back to it first (kubectl config use-context $CONTEXT)"
		fi
		delete_demo_objects
		k -n "$NS" delete secret redis-redis-auth --ignore-not-found >/dev/null 2>&1 || true
		say "the CRDs stay (deleting them deletes every QueueWorker and RedisConfig of the cluster):"
		say "  kubectl delete -f charts/queueworker-operator/crds/"
		rm -f "$DEMO_DIR/target.env"
		return
	fi

	step 1 "Uninstalling from the local cluster"
	if [[ -f "$LOCAL_KUBECONFIG" ]] && "$ROOT/hack/local-cluster.sh" status >/dev/null 2>&1; then
		KC="$LOCAL_KUBECONFIG"
		KUBECTL="$(pinned kubectl 2>/dev/null)"
		HELM="$(pinned helm 2>/dev/null)"
		delete_demo_objects
		k -n "$NS" delete secret redis-auth --ignore-not-found >/dev/null || true
	else
		say "the local cluster is not running: nothing to uninstall"
	fi
	step 2 "Stopping redis-server"
	redis_stop
	step 3 "Stopping the local cluster"
	if $purge; then
		"$ROOT/hack/local-cluster.sh" down --purge
	else
		"$ROOT/hack/local-cluster.sh" down
		rm -f "$DEMO_DIR/target.env"
	fi
}

case "${1:-}" in
up) up ;;
down) down "${2:-}" ;;
*)
	echo "usage: $0 up|down [--purge]" >&2
	exit 2
	;;
esac
