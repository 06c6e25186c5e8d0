#!/usr/bin/env bash
# Ecosystem benchmark (make bench-ecosystem): the same chi router
# (examples/ecosystem: logger off, recoverer and gzip middleware on) served
# by net/http and by streamhttp through the nethttp adapter, over loopback
# only. GET /hello (13 bytes; too small for gzip) with wrk, keep-alive.
#
# Each measured run starts its server afresh with GOMAXPROCS=1 pinned to core
# 0 (taskset -c 0), waits until it answers, drives it from core 1 (taskset -c
# 1, wrk -t1) and stops it by its PID. The two servers take turns, the first
# rotating from round to round; the table shows the median req/s over the
# rounds, p50 and p99, and the ratio streamhttp / net/http. Then the
# adapter's allocations per request (go test -bench in ./nethttp).
#
# Environment:
#   BENCH_DUR     seconds per measured run (default 5)
#   BENCH_ROUNDS  rounds (default 3)
#   BENCH_WARMUP  seconds of unmeasured load after each start (default 1)
#   BENCH_CONNS   connections (default 50)
#   BENCH_PORT    loopback port (default 18191)
#
# The defaults take about 1 minute 30 seconds. Needs wrk and taskset.
set -euo pipefail
set -f

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
BENCH_DUR=${BENCH_DUR:-5}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_CONNS=${BENCH_CONNS:-50}
BENCH_PORT=${BENCH_PORT:-18191}

die() { echo "bench-ecosystem: $*" >&2; exit 1; }
for v in BENCH_DUR BENCH_ROUNDS BENCH_WARMUP BENCH_CONNS BENCH_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$BENCH_DUR" -ge 1 ] && [ "$BENCH_ROUNDS" -ge 1 ] && [ "$BENCH_CONNS" -ge 1 ] || die "BENCH_DUR, BENCH_ROUNDS and BENCH_CONNS must be at least 1"
[ "$BENCH_PORT" -ge 1024 ] && [ "$BENCH_PORT" -lt 32768 ] || die "BENCH_PORT must be from 1024 to 32767"
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
command -v taskset >/dev/null || die "needs taskset (util-linux)"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: the server runs on core 0, the load on core 1"

tmp=$(mktemp -d)
SERVER_PID=
cleanup() {
	# Stop only the process this script started, by its PID.
	if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-ecosystem: building" >&2
(cd examples/ecosystem && $GO build -o "$tmp/ecosystem" .)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
url="http://127.0.0.1:$BENCH_PORT/hello"

start_server() { # $1: streamhttp or nethttp
	GOMAXPROCS=1 taskset -c 0 "$tmp/ecosystem" -server "$1" -quiet -addr "127.0.0.1:$BENCH_PORT" 2>"$tmp/server.log" &
	SERVER_PID=$!
	for _ in $(seq 100); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BENCH_PORT" 2>/dev/null; then return 0; fi
		kill -0 "$SERVER_PID" 2>/dev/null || die "the $1 server did not start: $(cat "$tmp/server.log")"
		sleep 0.1
	done
	die "the $1 server did not answer"
}

stop_server() {
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# run SERVER: one measured run; prints "req/s p50 p99".
run() {
	start_server "$1"
	timeout $((BENCH_WARMUP + 10)) taskset -c 1 wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_WARMUP}s" "$url" >/dev/null
	out=$(timeout $((BENCH_DUR + 10)) taskset -c 1 wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_DUR}s" --latency "$url")
	stop_server
	echo "$out" >>"$tmp/wrk.log"
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
	[ -z "$errs" ] || echo "bench-ecosystem: $1: $errs" >&2
	echo "$rps $p50 $p99"
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A rps p50 p99
servers=(nethttp streamhttp)
for ((r = 0; r < BENCH_ROUNDS; r++)); do
	for ((i = 0; i < 2; i++)); do
		s=${servers[$(((i + r) % 2))]}
		read -r a b c < <(run "$s")
		rps[$s]+="$a "
		p50[$s]=$b
		p99[$s]=$c
		echo "bench-ecosystem: round $((r + 1)) $s $a req/s" >&2
	done
done

printf '\nchi router, GET /hello, %d connections, GOMAXPROCS=1, %d x %ds (load %s -> %s)\n' \
	"$BENCH_CONNS" "$BENCH_ROUNDS" "$BENCH_DUR" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %10s %10s\n' server "req/s" p50 p99
declare -A med
for s in "${servers[@]}"; do
	m=$(tr ' ' '\n' <<<"${rps[$s]}" | grep . | median)
	med[$s]=$m
	printf '%-28s %12s %10s %10s\n' "$s" "$m" "${p50[$s]}" "${p99[$s]}"
done
awk -v a="${med[streamhttp]}" -v b="${med[nethttp]}" 'BEGIN { if (b > 0) printf "ratio streamhttp / net/http: %.2fx\n", a / b }'

echo
echo "adapter micro-benchmarks (allocations per request):"
$GO test -run '^$' -bench 'AdapterHello|NetHTTPRecorderHello' -benchmem -benchtime=20000x ./nethttp | grep -E '^Benchmark'
