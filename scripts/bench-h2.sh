#!/usr/bin/env bash
# A short HTTP/2 sanity run (make bench-h2), over loopback: h2load with
# prior knowledge, -c 64 -m 16, against examples/echo and net/http's
# HTTP/2 (bench/peers/nethttp -h2c: http.Server with Protocols set for
# unencrypted HTTP/2) in the same run, for GET /plaintext and POST /echo
# with a 4 KiB body. It prints req/s per server and streamhttp's ratio.
# Short on purpose (H2_DUR seconds per run, default 5): the figures of
# record come from a quiet machine.
#
# Usage: scripts/bench-h2.sh   (make bench-h2 sets GO)
# Needs h2load (Debian: nghttp2-client). PORT picks the first of two
# loopback ports (default 18290).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PORT=${PORT:-18290}
DUR=${H2_DUR:-5}
HOST=127.0.0.1

command -v h2load >/dev/null || { echo "bench-h2: h2load missing (apt-get install nghttp2-client)" >&2; exit 1; }

# shellcheck source=scripts/servers.sh
. scripts/servers.sh

"$GO" build -o "$work/echo" ./examples/echo
(cd bench/peers && "$GO" build -o "$work/nethttp" ./nethttp)
start_server "$work/echo.log" "$work/echo" -addr "$HOST:$PORT"
start_server "$work/nethttp.log" "$work/nethttp" -h2c -addr "$HOST:$((PORT + 1))"
wait_ports "$HOST" "$PORT" $((PORT + 1))
head -c 4096 /dev/zero | tr '\0' 'x' >"$work/body4k"

# rps PORT PATH [h2load args...]: requests per second of one bounded run.
rps() {
	local port=$1 path=$2
	shift 2
	timeout $((DUR + 30)) h2load -c 64 -m 16 -t 1 -D "$DUR" "$@" "http://$HOST:$port$path" 2>&1 |
		sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p'
}

printf '%-22s %14s %14s %8s\n' scenario streamhttp net/http ratio
for sc in "GET /plaintext" "POST /echo 4KiB"; do
	case $sc in
	GET*) a=$(rps "$PORT" /plaintext); b=$(rps $((PORT + 1)) /plaintext) ;;
	POST*) a=$(rps "$PORT" /echo -d "$work/body4k"); b=$(rps $((PORT + 1)) /echo -d "$work/body4k") ;;
	esac
	ratio=$(awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%-22s %14s %14s %8s\n' "$sc" "${a:-failed}" "${b:-failed}" "$ratio"
done
