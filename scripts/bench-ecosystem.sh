#!/usr/bin/env bash
# Ecosystem benchmark (make bench-ecosystem): the same chi router
# (examples/ecosystem: logger off, recoverer and gzip middleware on) served
# by net/http and by streamhttp through the nethttp adapter (with request
# reuse, the example's default, and without: streamhttp-noreuse), over
# loopback only. GET /hello (13 bytes; too small for gzip) with wrk,
# keep-alive.
#
# Each measured run starts its server afresh with GOMAXPROCS=1 pinned to core
# 0 (taskset -c 0), waits until it answers, drives it from core 1 (taskset -c
# 1, wrk -t1) and stops it by its PID. The servers take turns, the first
# rotating from round to round; the table shows the median req/s over the
# rounds, the median server CPU time per request (user plus system time of
# the server process over the measured run, from /proc/PID/stat, divided by
# wrk's request count: unlike req/s, it does not depend on the load
# generator keeping up), p50 and p99, and the ratios streamhttp / net/http.
# Then the adapter's allocations per request (go test -bench in ./nethttp).
#
# Environment:
#   BENCH_DUR     seconds per measured run (default 5)
#   BENCH_ROUNDS  rounds (default 3)
#   BENCH_WARMUP  seconds of unmeasured load after each start (default 1)
#   BENCH_CONNS   connections (default 50)
#   BENCH_PORT    loopback port (default 18191)
#
# The defaults take about 2 minutes. Needs wrk and taskset.
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
[ -r /proc/self/stat ] || die "needs /proc (the server's CPU time)"
CLK_TCK=$(getconf CLK_TCK)
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

start_server() { # $1: nethttp, streamhttp or streamhttp-noreuse
	local args=(-server "$1")
	[ "$1" != streamhttp-noreuse ] || args=(-server streamhttp -reuse-requests=false)
	GOMAXPROCS=1 taskset -c 0 "$tmp/ecosystem" "${args[@]}" -quiet -addr "127.0.0.1:$BENCH_PORT" 2>"$tmp/server.log" &
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

# cpu_ticks PID: the user plus system time of the process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run SERVER: one measured run; prints "req/s p50 p99 cpu-us-per-request".
run() {
	start_server "$1"
	timeout $((BENCH_WARMUP + 10)) taskset -c 1 wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_WARMUP}s" "$url" >/dev/null
	t0=$(cpu_ticks "$SERVER_PID")
	out=$(timeout $((BENCH_DUR + 10)) taskset -c 1 wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_DUR}s" --latency "$url")
	t1=$(cpu_ticks "$SERVER_PID")
	stop_server
	echo "$out" >>"$tmp/wrk.log"
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
	[ -z "$errs" ] || echo "bench-ecosystem: $1: $errs" >&2
	n=$(awk '/ requests in / {print $1}' <<<"$out")
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / hz * 1e6 / n; else print "-" }')
	echo "$rps $p50 $p99 $cpu"
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A rps p50 p99 cpu
servers=(nethttp streamhttp streamhttp-noreuse)
for ((r = 0; r < BENCH_ROUNDS; r++)); do
	for ((i = 0; i < ${#servers[@]}; i++)); do
		s=${servers[$(((i + r) % ${#servers[@]}))]}
		read -r a b c d < <(run "$s")
		rps[$s]+="$a "
		cpu[$s]+="$d "
		p50[$s]=$b
		p99[$s]=$c
		echo "bench-ecosystem: round $((r + 1)) $s $a req/s, $d us CPU/request" >&2
	done
done

printf '\nchi router, GET /hello, %d connections, GOMAXPROCS=1, %d x %ds (load %s -> %s)\n' \
	"$BENCH_CONNS" "$BENCH_ROUNDS" "$BENCH_DUR" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %14s %10s %10s\n' server "req/s" "CPU us/req" p50 p99
declare -A med medcpu
for s in "${servers[@]}"; do
	m=$(tr ' ' '\n' <<<"${rps[$s]}" | grep . | median)
	c=$(tr ' ' '\n' <<<"${cpu[$s]}" | grep -v -e '^$' -e '^-$' | median)
	med[$s]=$m
	medcpu[$s]=$c
	printf '%-28s %12s %14s %10s %10s\n' "$s" "$m" "${c:--}" "${p50[$s]}" "${p99[$s]}"
done
for s in streamhttp streamhttp-noreuse; do
	awk -v s="$s" -v a="${med[$s]}" -v b="${med[nethttp]}" 'BEGIN { if (b > 0) printf "ratio %s / net/http: %.2fx req/s\n", s, a / b }'
	awk -v s="$s" -v a="${medcpu[$s]}" -v b="${medcpu[nethttp]}" 'BEGIN { if (a > 0 && b > 0) printf "CPU per request, net/http / %s: %.2fx\n", s, b / a }'
done

echo
echo "adapter micro-benchmarks (allocations per request):"
$GO test -run '^$' -bench 'AdapterHello|NetHTTPRecorderHello' -benchmem -benchtime=20000x ./nethttp | grep -E '^Benchmark'
$GO test -run '^$' -bench 'ReplayAdapter' -benchmem -benchtime=100x ./nethttp | grep -E '^Benchmark'
