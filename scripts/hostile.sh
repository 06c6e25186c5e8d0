#!/usr/bin/env bash
# Hostile clients (make hostile): the streamhttp echo example and the
# net/http peer (bench/peers/nethttp) side by side under slowloris (2000 and
# 8000 connections), a slow body (slowhttptest -B), slow readers (1 KiB and
# 1 MiB chunks), a never-reading client during SIGTERM and SIGINT, and a
# churn of client resets with a goroutine and fd check. bench/hostile drives
# it all and prints one table; its doc.go says how each row is measured.
#
# Both servers run with a 2 s shutdown deadline; streamhttp with the
# library's default MaxConnections (1024; the echo example's own default is
# higher, for load runs), net/http with a 10 s ReadHeaderTimeout (streamhttp's
# default HeadTimeout; the peer has none by default). Each scenario runs on
# a fresh process, on loopback ports from
# HOSTILE_PORT (default 18470; four ports). Every run is bounded: the whole
# takes about 5 minutes with the defaults, and timeout(1) stops it after
# HOSTILE_LIMIT seconds (default 900).
#
# Environment:
#   HOSTILE_DUR     seconds of normal load per measurement (default 5)
#   HOSTILE_CHURN   seconds of reset churn (default 20; the issue's audit ran 60)
#   HOSTILE_LORIS   slowloris connection counts (default 2000,8000)
#   HOSTILE_ONLY    scenarios (default loris,slowbody,memory,exit,churn)
#   HOSTILE_PORT, HOSTILE_LIMIT  see above
#
# Needs 8000 slowloris connections in the driver and as many in the server:
# the open-file limit is raised to 20000 (or to the hard limit). Installs
# slowhttptest with apt-get when it is missing (root or sudo).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
DUR=${HOSTILE_DUR:-5}
CHURN=${HOSTILE_CHURN:-20}
LORIS=${HOSTILE_LORIS:-2000,8000}
ONLY=${HOSTILE_ONLY:-loris,slowbody,memory,exit,churn}
PORT=${HOSTILE_PORT:-18470}
LIMIT=${HOSTILE_LIMIT:-900}

die() { echo "hostile: $*" >&2; exit 1; }

if ! command -v slowhttptest >/dev/null; then
	sudo=()
	[ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo=(sudo -n); }
	[ "$(id -u)" = 0 ] || [ ${#sudo[@]} -gt 0 ] || die "not root: install slowhttptest first"
	echo "hostile: installing slowhttptest" >&2
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slowhttptest >&2; then
		"${sudo[@]}" apt-get update -q >&2
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slowhttptest >&2
	fi
fi

# 8000 attackers plus the normal clients in the driver, as many sockets in
# the server; the servers inherit the limit.
want=20000
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
	want=$hard
fi
ulimit -n "$want" || die "cannot raise the open-file limit to $want"
[ "$(ulimit -n)" -ge 17000 ] || echo "hostile: the open-file limit is $(ulimit -n): the 8000-connection row may fail to open all its connections" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "hostile: building into $tmp" >&2
$GO build -o "$tmp/echo" ./examples/echo
$GO build -o "$tmp/hostile" ./bench/hostile
(cd bench/peers && $GO build -o "$tmp/nethttp" ./nethttp)

echo "hostile: streamhttp = echo -max-connections 1024 -shutdown-timeout 2s; net/http = bench/peers/nethttp -shutdown-timeout 2s -read-header-timeout 10s; ulimit -n $(ulimit -n)" >&2
timeout --kill-after=10 "$LIMIT" "$tmp/hostile" \
	-streamhttp "$tmp/echo -addr {addr} -debug-addr {debug} -max-connections 1024 -shutdown-timeout 2s" \
	-nethttp "$tmp/nethttp -addr {addr} -debug-addr {debug} -shutdown-timeout 2s -read-header-timeout 10s" \
	-port "$PORT" -dur "${DUR}s" -churn "${CHURN}s" -loris "$LORIS" -only "$ONLY" -logdir "$tmp"
