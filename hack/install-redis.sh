#!/usr/bin/env bash
# Makes sure redis-server is available for the integration tests, which start
# their own servers on free loopback ports (test/redistest). When neither
# $REDIS_SERVER nor a redis-server on PATH exists, it installs Debian's
# redis-server package with apt-get, as root or through sudo.
#
# It never starts a Redis service itself; the tests do not need one.
# Running it again is harmless: an existing redis-server is kept.
#
# Usage: hack/install-redis.sh
set -euo pipefail

report() { # report <path>
	echo "redis-server: using $1 ($("$1" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'))"
}

if [[ -n "${REDIS_SERVER:-}" ]]; then
	if [[ -x "$REDIS_SERVER" ]]; then
		report "$REDIS_SERVER"
		exit 0
	fi
	echo "redis-server: REDIS_SERVER=$REDIS_SERVER is not an executable file" >&2
	exit 1
fi

if bin="$(command -v redis-server)"; then
	report "$bin"
	exit 0
fi

if ! command -v apt-get >/dev/null; then
	echo "redis-server: not found, and apt-get is not available to install it." >&2
	echo "Install redis-server (7.0 or later) with your package manager, or set REDIS_SERVER." >&2
	exit 1
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
	if ! command -v sudo >/dev/null; then
		echo "redis-server: not found; installing it needs root, and sudo is not available." >&2
		echo "Run as root: apt-get update && apt-get install -y redis-server" >&2
		exit 1
	fi
	sudo=(sudo)
fi

run() { # run <command>...: prints the command, then runs it
	echo "    + $*"
	"$@"
}

echo "==> redis-server not found; installing Debian's redis-server package"
run "${sudo[@]}" apt-get update -qq
run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends redis-server

bin="$(command -v redis-server)" || {
	echo "redis-server: the package installed, but redis-server is not on PATH" >&2
	exit 1
}
report "$bin"
