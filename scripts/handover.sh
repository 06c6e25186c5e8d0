#!/usr/bin/env bash
# Restarts without a load balancer, over SO_REUSEPORT: the new process binds
# the same address beside the old one and, once it accepts, sends the old
# one SIGTERM (the -takeover flag), which then stops accepting and ends
# gracefully. Under load from clients, this counts the requests lost per
# restart, for the streamhttp echo example and the net/http peer
# (bench/peers/nethttp) in the same run, with wrk: a new connection per
# request, and keep-alive connections (a new one when the server closes
# one). Lost: socket errors (connect, read, write, timeout) and non-2xx.
#
# What is lost is what the kernel still held for the old socket when it
# closed: connections in its accept queue and handshakes in progress, which
# it resets. Linux 5.14+ moves them to another socket of the group instead
# when net.ipv4.tcp_migrate_req is 1: when this script may write that
# setting, it runs once with 0 and once with 1, and puts back the value it
# found.
#
# Usage: scripts/handover.sh  (make handover; env HANDOVER_PORT,
# RESTARTS, CONNS, GO); about two minutes. Installs wrk when missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PORT=${HANDOVER_PORT:-18180} # < 32768
RESTARTS=${RESTARTS:-5}
CONNS=${CONNS:-8}
EVERY=0.5 # seconds between restarts
DURATION=$(awk -v n="$RESTARTS" -v e="$EVERY" 'BEGIN {printf "%d", n * (e + 1.5) + 3}')

need() { # need <command> <apt package>
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "handover: $1 is missing; apt-get install $2" >&2
		exit 1
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk

migrate=/proc/sys/net/ipv4/tcp_migrate_req
migrate_was=""
[ -r "$migrate" ] && migrate_was=$(cat "$migrate")

tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$migrate_was" ]; then
		echo "$migrate_was" >"$migrate" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"$GO" build -o "$tmp/streamhttp" ./examples/echo
(cd bench/peers && "$GO" build -o "$tmp/nethttp" ./nethttp)

wait_port() {
	for _ in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "handover: nothing listens on port $1" >&2
	return 1
}

# start <server> [takeover pid]: prints the new process's PID.
start() {
	local extra=()
	[ -n "${2:-}" ] && extra=(-takeover "$2")
	if [ "$1" = streamhttp ]; then
		"$tmp/streamhttp" -addr "127.0.0.1:$PORT" -reuse-port -shutdown-timeout 5s "${extra[@]}" >>"$tmp/server.log" 2>&1 &
	else
		"$tmp/nethttp" -addr "127.0.0.1:$PORT" -reuse-port "${extra[@]}" >>"$tmp/server.log" 2>&1 &
	fi
	echo $!
}

rows=()
measure() { # measure <server> <close|keepalive> <tcp_migrate_req>
	local server=$1 conn=$2 old new out="$tmp/load.out"
	old=$(start "$server")
	pids+=("$old")
	wait_port "$PORT"
	local url="http://127.0.0.1:$PORT/plaintext"
	# wrk opens a new connection when one closes (h2load would retire the
	# client), so keep-alive clients go on across restarts.
	local header=(-H 'Connection: keep-alive')
	[ "$conn" = close ] && header=(-H 'Connection: close')
	timeout $((DURATION + 20)) wrk -t 1 -c "$CONNS" -d "${DURATION}s" "${header[@]}" "$url" >"$out" 2>&1 &
	local load=$!
	pids+=("$load")
	sleep 1
	for _ in $(seq "$RESTARTS"); do
		new=$(start "$server" "$old")
		pids+=("$new")
		wait "$old" 2>/dev/null || true # it exits once the new one accepts and it has drained
		old=$new
		sleep "$EVERY"
	done
	wait "$load" || true
	kill -INT "$old" 2>/dev/null || true
	wait "$old" 2>/dev/null || true

	local requests lost
	requests=$(awk '/requests in/ {print $1}' "$out")
	lost=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10} /Non-2xx/ {print $NF}' "$out" | awk '{s += $1} END {print s + 0}')
	rows+=("$(printf '%-11s %-10s %8s %9s %6s %9s' "$server" "$conn" "$3" "${requests:-0}" "$lost" \
		"$(awk -v l="$lost" -v n="$RESTARTS" 'BEGIN {printf "%.1f", l / n}')")")
}

settings=("${migrate_was:-unknown}")
if [ -n "$migrate_was" ] && echo 0 >"$migrate" 2>/dev/null && echo 1 >"$migrate" 2>/dev/null; then
	settings=(0 1)
fi
for m in "${settings[@]}"; do
	[ "${#settings[@]}" -gt 1 ] && echo "$m" >"$migrate"
	for conn in close keepalive; do
		for server in streamhttp nethttp; do
			echo "handover: $server, $conn, tcp_migrate_req=$m, $RESTARTS restarts" >&2
			measure "$server" "$conn" "$m"
		done
	done
done

echo
echo "SO_REUSEPORT hand-over: $RESTARTS restarts every ${EVERY}s under load ($CONNS connections)"
printf '%-11s %-10s %8s %9s %6s %9s\n' server conn migrate requests lost lost/restart
printf '%s\n' "${rows[@]}"
