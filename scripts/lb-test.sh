#!/usr/bin/env bash
# A real load balancer in front of three echo backends, restarted one at a
# time under load: the rolling restart a fleet does, measured.
#
# For each mode (PROXY protocol v2 on or off; keep-alive clients or a new
# connection per request) it starts 3 examples/echo backends on loopback
# behind HAProxy (health checks on GET /health, which answers 503 while a
# backend drains; retries on connection errors), drives load through
# HAProxy for LB_DURATION seconds, and meanwhile restarts each backend in
# turn: SIGTERM (drain for DRAIN, then the graceful stop), exit, start
# again. It prints requests, failures and non-2xx per mode; the goal is 0
# and 0. Exits 1 when a mode saw a failure or a non-2xx.
#
# Installs haproxy, h2load (nghttp2-client) and wrk (apt) when missing.
# Usage: scripts/lb-test.sh  (make lb-test; env LB_PORT, LB_DURATION,
# LB_CONNS, DRAIN, LB_RETRIES, GO)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
LB_PORT=${LB_PORT:-18080} # backends on the next three ports; all < 32768
LB_DURATION=${LB_DURATION:-12}
LB_CONNS=${LB_CONNS:-16}
DRAIN=${DRAIN:-1s} # > HAProxy's inter (200ms) x fall (2), with a margin
LB_RETRIES=${LB_RETRIES:-3} # 0: no retries, the control run that shows what they save

need() { # need <command> <apt package>
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "lb-test: installing $2" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "lb-test: $1 is missing; run as root or apt-get install $2" >&2
		exit 1
	fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need haproxy haproxy
need h2load nghttp2-client
need wrk wrk

tmp=$(mktemp -d)
pids=() # every process this script started, by PID
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$GO" build -o "$tmp/echo" ./examples/echo

ports=("$((LB_PORT + 1))" "$((LB_PORT + 2))" "$((LB_PORT + 3))")
backend=() # the PID of each backend

# wait_port <port>: until something accepts on it (at most 5 s).
wait_port() {
	local i
	for i in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "lb-test: nothing listens on port $1" >&2
	return 1
}

# start_backend <index> <proxy mode>
start_backend() {
	local i=$1
	"$tmp/echo" -addr "127.0.0.1:${ports[$i]}" -proxy-protocol "$2" -proxy-trusted 127.0.0.0/8 \
		-drain-period "$DRAIN" -shutdown-timeout 5s >>"$tmp/backend$i.log" 2>&1 &
	backend[i]=$!
	pids+=("$!")
	wait_port "${ports[$i]}"
}

# haproxy_config <send-proxy option or ""> <"close" for a connection per request>
haproxy_config() {
	local close="" retry_on="conn-failure empty-response response-timeout"
	[ "$2" = close ] && close="option http-server-close"
	[ "$LB_RETRIES" = 0 ] && retry_on=none
	cat <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout queue 5s
    retries $LB_RETRIES
    option redispatch 1
    retry-on $retry_on
frontend fe
    bind 127.0.0.1:$LB_PORT
    default_backend be
backend be
    balance roundrobin
    $close
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 200ms fall 2 rise 2 $1
    server s0 127.0.0.1:${ports[0]}
    server s1 127.0.0.1:${ports[1]}
    server s2 127.0.0.1:${ports[2]}
CFG
}

# restart_all: each backend in turn gets SIGTERM, drains, stops, and starts
# again; the next one waits until HAProxy can see this one up.
restart_all() {
	local i
	for i in 0 1 2; do
		kill -TERM "${backend[$i]}"
		wait "${backend[$i]}" || true
		start_backend "$i" "$1"
		sleep 1 # rise (2) x inter (200ms), with a margin
	done
}

# Summary lines, one per mode.
summary=()
status=0

run_mode() { # run_mode <proxy: v2|off> <conn: keepalive|close>
	local proxy=$1 conn=$2 mode=off send="" i
	if [ "$proxy" = v2 ]; then
		mode=required
		send="send-proxy-v2"
	fi
	: >"$tmp/backend0.log"
	: >"$tmp/backend1.log"
	: >"$tmp/backend2.log"
	for i in 0 1 2; do
		start_backend "$i" "$mode"
	done
	haproxy_config "$send" "$conn" >"$tmp/haproxy.cfg"
	haproxy -q -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
	local hap=$!
	pids+=("$hap")
	wait_port "$LB_PORT"
	sleep 1 # the first checks: every backend up

	local url="http://127.0.0.1:$LB_PORT/plaintext" out="$tmp/load.out"
	if [ "$conn" = keepalive ]; then
		timeout $((LB_DURATION + 20)) h2load --h1 -t 1 -c "$LB_CONNS" -D "$LB_DURATION" "$url" >"$out" 2>&1 &
	else
		timeout $((LB_DURATION + 20)) wrk -t 1 -c "$LB_CONNS" -d "${LB_DURATION}s" -H 'Connection: close' "$url" >"$out" 2>&1 &
	fi
	local load=$!
	pids+=("$load")
	sleep 1
	restart_all "$mode"
	wait "$load" || true

	local requests failures non2xx
	if [ "$conn" = keepalive ]; then
		# requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
		requests=$(awk '/^requests:/ {print $2}' "$out")
		failures=$(awk '/^requests:/ {print $10 + $12 + $14}' "$out")
		non2xx=$(awk '/^status codes:/ {print $5 + $7 + $9}' "$out")
	else
		requests=$(awk '/requests in/ {print $1}' "$out")
		failures=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
		non2xx=$(awk '/Non-2xx/ {print $NF}' "$out")
	fi
	requests=${requests:-0}
	failures=${failures:-0}
	non2xx=${non2xx:-0}
	summary+=("$(printf '%-8s %-10s %10s %9s %7s' "$proxy" "$conn" "$requests" "$failures" "$non2xx")")
	if [ "$requests" = 0 ] || [ "$failures" != 0 ] || [ "$non2xx" != 0 ]; then
		status=1
		echo "lb-test: proxy=$proxy conn=$conn: load output:" >&2
		cat "$out" >&2
		tail -n 20 "$tmp/haproxy.log" "$tmp"/backend*.log >&2 || true
	fi

	kill -TERM "$hap" 2>/dev/null || true
	wait "$hap" 2>/dev/null || true
	for i in 0 1 2; do
		kill -INT "${backend[$i]}" 2>/dev/null || true
		wait "${backend[$i]}" 2>/dev/null || true
	done
}

for proxy in v2 off; do
	for conn in keepalive close; do
		echo "lb-test: proxy=$proxy conn=$conn, ${LB_DURATION}s, $LB_CONNS connections, 3 restarts" >&2
		run_mode "$proxy" "$conn"
	done
done

echo
echo "3 echo backends behind HAProxy, each restarted once under load (drain $DRAIN, retries $LB_RETRIES)"
printf '%-8s %-10s %10s %9s %7s\n' proxy conn requests failures non2xx
printf '%s\n' "${summary[@]}"
exit "$status"
