#!/usr/bin/env bash
# Load benchmark (make bench): the streamhttp echo server (examples/echo)
# against peers with the same routes (bench/peers, a module of its own so
# that fasthttp and hertz never enter the main module), over loopback only.
# One run covers every scenario for every server and prints one table, with
# the goal lines of the project's "concurrent path at inline speed" work as
# ratios measured in this same run.
#
# The servers (each a row; BENCH_SERVERS picks some):
#   streamhttp-inline  examples/echo -parallelism 1: the handler runs inline,
#                      fused with the server layer, one request of a
#                      connection at a time (pipelining limit 16, the
#                      example's default)
#   streamhttp-async   examples/echo with its default flags: BindAndHandleAsync
#                      with parallelism = pipelining limit = 16
#   streamhttp-p4      examples/echo -parallelism 4 (scenario c only)
#   streamhttp-noreuse streamhttp-inline with -reuse-requests=false: every
#                      request has memory of its own, as when handlers do
#                      not promise to keep nothing of it (scenarios c and d
#                      only: what ServerSettings.ReuseRequests, on in the
#                      example, buys)
#   streamhttp-proxy   streamhttp-inline with -proxy-protocol optional, its
#                      idle connections opened behind a PROXY v1 header
#                      (scenario f only: the cost of an idle connection
#                      behind a load balancer)
#   fasthttp           bench/peers/fasthttp with fasthttp's defaults: no
#                      deadlines at all
#   fasthttp-timeouts  the same with -read-timeout 10s -write-timeout 30s
#                      -idle-timeout 60s: the duties streamhttp always
#                      carries (head timeout 10 s, write timeout 30 s, idle
#                      timeout 60 s)
#   net/http           bench/peers/nethttp: http.Server with its defaults,
#                      handlers written for speed
#   hertz              bench/peers/hertz: cloudwego/hertz over its netpoll
#                      transport, with hertz's defaults
# All peers' handlers allocate nothing where their APIs allow (their tests
# count it).
#
# Every measured run starts its server afresh, waits until it answers,
# drives it and stops it by its PID. In a..g the server is pinned to core 0
# (taskset -c 0, so Go runs it on one P) and the load to core 1; in h both
# are unpinned and the server runs with GOMAXPROCS=2. Within a round the
# servers take turns (the first one rotates from round to round); req/s,
# p50, p99 and CPU per request are the medians over the rounds, errors
# their sum. Every tool run is bounded by timeout(1).
#
# Scenarios:
#   a  GET /plaintext, 50 connections (wrk -t1 --latency)
#   b  GET /plaintext, 256 connections (wrk)
#   c  GET /plaintext pipelined 16 deep, 256 connections, with
#      h2load --h1 -m 16 -t 1 (its warm-up inside the same run): a single
#      wrk thread with a Lua batch script was the bottleneck, at about 127k
#      req/s for fasthttp where h2load measures 400k to 760k. h2load has no
#      percentiles; the table shows its mean time per request in the p50
#      column, marked "*", and "-" for p99. streamhttp-p4 runs here only.
#   d  POST /echo with a 4 KiB body, 50 connections (wrk)
#   e  GET /sleep?ms=10, 256 connections (wrk)
#   f  idle keep-alive connections: server RSS per connection from
#      /proc/PID/status (bench/peers/idleconns, BENCH_IDLE connections, once
#      per server)
#   g  system calls per request (keep-alive and pipelined, 50 connections
#      each, wrk for BENCH_TRACE_DUR seconds after a second of warm-up; the
#      requests are counted by wrk in both modes, pipelined with the Lua
#      batch of 16 GETs below). Counted with perf's syscall tracepoints
#      (perf stat -p SERVER_PID), which leave the server at full speed, so
#      the counts are those of a loaded server; where perf cannot count them
#      (no linux-perf, no tracepoints) strace -c -f counts instead, which
#      slows the server about 15-fold: its reads then always find the next
#      request waiting and its idle runtime's housekeeping is inflated, so
#      its counts are not comparable with perf's. "r+w" is read + write
#      calls per request, the server's own I/O; "all" includes the Go
#      runtime's (epoll, futex, nanosleep from sysmon).
#   h  multi-core: GET /plaintext, 256 connections, wrk -t2, server and wrk
#      unpinned on both cores, the server with GOMAXPROCS=2; req/s and the
#      server's CPU time per request (utime + stime from /proc/PID/stat over
#      the measured run, divided by the requests wrk counted).
#   i  HTTP/2 with prior knowledge (cleartext): h2load -c 64 -m 16 -t 1, GET
#      /plaintext and POST /echo with a 4 KiB body, streamhttp-async against
#      net/http's HTTP/2 (bench/peers/nethttp -h2c: http.Server with
#      Protocols set for unencrypted HTTP/2), pinned and in rounds as a..e;
#      and the idle cost of an HTTP/2 connection to streamhttp-inline
#      (idleconns -h2: preface, SETTINGS, one GET, then idle; BENCH_IDLE
#      connections), as in f.
#   n  the Go ecosystem: the chi router of examples/ecosystem (recoverer and
#      compression middleware, no request log) served by net/http
#      (chi-nethttp) and by streamhttp through the nethttp adapter: as the
#      example runs by default, with request reuse (chi-streamhttp), and
#      without (chi-streamhttp-noreuse: -reuse-requests=false, for handlers
#      that keep requests); GET /hello, 50 connections (wrk -t1 --latency),
#      pinned as in a..g; then the adapter's allocations per request
#      (go test -bench 'AdapterHello|ReplayAdapter' in ./nethttp).
#      BENCH_SERVERS does not apply: these servers are this scenario's own.
#
# Environment:
#   BENCH_DUR        seconds per measured run of a..e and h (default 3)
#   BENCH_ROUNDS     rounds of a..e and h, medians taken (default 3)
#   BENCH_WARMUP     seconds of unmeasured load after each start (default 1)
#   BENCH_IDLE       connections of scenario f (default 10000)
#   BENCH_TRACE_DUR  seconds of each counted run of scenario g (default 3)
#   BENCH_TRACER     perf or strace for scenario g (default perf when it works)
#   BENCH_PORT       first of nine loopback ports used (default 18091)
#   BENCH_ONLY       the scenarios to run, e.g. "a c f" (default all)
#   BENCH_SERVERS    the servers to run, e.g. "streamhttp-inline fasthttp"
#                    (default all; a goal line needs its servers)
#   BENCH_PROFILE    scenarios (of a..e and h) whose streamhttp runs write a
#                    CPU profile (examples/echo -cpuprofile) to
#                    results/bench-DATE-prof/SCENARIO-SERVER-rROUND.prof, for
#                    go tool pprof; profiling costs a few per cent, so the
#                    report marks those rows (default none)
#
# The defaults take about 12 minutes on the project's 2-core machine (the
# planned duration is printed first): 39 server runs per round of a..e and
# h, three rounds, plus f and g for six servers, plus i (HTTP/2).
#
# Needs root (or sudo) to install what is missing (wrk, h2load from
# nghttp2-client, strace, linux-perf; apt-get update first when the package lists are
# empty or stale) and to raise the open-files limit for scenario f. The table
# goes to stdout and to results/bench-DATE.txt, the raw tool output to
# results/bench-DATE.log.
set -euo pipefail

# No pathname expansion: URLs such as /sleep?ms=10 pass through word
# splitting unquoted.
set -f

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
BENCH_DUR=${BENCH_DUR:-3}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_IDLE=${BENCH_IDLE:-10000}
BENCH_TRACE_DUR=${BENCH_TRACE_DUR:-3}
BENCH_TRACER=${BENCH_TRACER:-}
BENCH_PORT=${BENCH_PORT:-18091}
BENCH_ONLY=${BENCH_ONLY:-a b c d e f g h i n}
ALL_SERVERS="streamhttp-inline streamhttp-async streamhttp-p4 streamhttp-noreuse streamhttp-proxy fasthttp fasthttp-timeouts net/http hertz"
BENCH_SERVERS=${BENCH_SERVERS:-$ALL_SERVERS}
BENCH_PROFILE=${BENCH_PROFILE:-}

die() { echo "bench: $*" >&2; exit 1; }
for v in BENCH_DUR BENCH_ROUNDS BENCH_WARMUP BENCH_IDLE BENCH_TRACE_DUR BENCH_PORT; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ "$BENCH_DUR" -ge 1 ] || die "BENCH_DUR must be at least 1"
[ "$BENCH_ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"
[ "$BENCH_IDLE" -ge 1 ] || die "BENCH_IDLE must be at least 1"
[ "$BENCH_TRACE_DUR" -ge 1 ] || die "BENCH_TRACE_DUR must be at least 1"
case $BENCH_TRACER in "" | perf | strace) ;; *) die "BENCH_TRACER is perf or strace, not '$BENCH_TRACER'" ;; esac
if [ "$BENCH_PORT" -lt 1024 ] || [ "$BENCH_PORT" -gt 65527 ]; then die "BENCH_PORT must be from 1024 to 65527 (it uses nine ports)"; fi
for s in $BENCH_ONLY; do
	[[ $s =~ ^[a-in]$ ]] || die "BENCH_ONLY names scenarios a to i and n, not '$s'"
done
only() { [[ " $BENCH_ONLY " == *" $1 "* ]]; }
for s in $BENCH_PROFILE; do
	[[ $s =~ ^[a-eh]$ ]] || die "BENCH_PROFILE names scenarios a to e and h, not '$s'"
done
# profiled SCENARIO: do its streamhttp runs write CPU profiles?
profiled() { [[ " $BENCH_PROFILE " == *" $1 "* ]]; }
for srv in $BENCH_SERVERS; do
	[[ " $ALL_SERVERS " == *" $srv "* ]] || die "BENCH_SERVERS names some of: $ALL_SERVERS; not '$srv'"
done
# picked NAME: is the server in BENCH_SERVERS?
picked() { [[ " $BENCH_SERVERS " == *" $1 "* ]]; }

# servers_for SCENARIO prints the servers that run in it, in table order:
# streamhttp-p4 runs in c only, streamhttp-noreuse in c and d,
# streamhttp-proxy (behind a balancer) in f only.
servers_for() {
	local srv
	for srv in $ALL_SERVERS; do
		picked "$srv" || continue
		[ "$srv" != streamhttp-p4 ] || [ "$1" = c ] || continue
		[ "$srv" != streamhttp-noreuse ] || [ "$1" = c ] || [ "$1" = d ] || continue
		[ "$srv" != streamhttp-proxy ] || [ "$1" = f ] || continue
		printf '%s ' "$srv"
	done
}
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: the server runs on core 0, the load on core 1"

# --- tools -----------------------------------------------------------------

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v strace >/dev/null || missing+=(strace)
command -v taskset >/dev/null || missing+=(util-linux)
sudo=()
[ "$(id -u)" = 0 ] || ! command -v sudo >/dev/null || sudo=(sudo)
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench: installing ${missing[*]}" >&2
	[ "$(id -u)" = 0 ] || [ ${#sudo[@]} -gt 0 ] || die "not root: install ${missing[*]} first"
	apt_install() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; }
	# Update the package lists first when there are none; otherwise only
	# when installing from the present ones fails.
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || ! apt_install; then
		"${sudo[@]}" apt-get update -q >&2
		apt_install
	fi
fi

# Scenario g counts system calls with perf where it can (linux-perf, and the
# kernel's syscall tracepoints), else with strace.
perf_counts() { perf stat -x, -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; }
TRACER=$BENCH_TRACER
if only g && [ "$TRACER" != strace ]; then
	if ! command -v perf >/dev/null && { [ "$(id -u)" = 0 ] || [ ${#sudo[@]} -gt 0 ]; }; then
		echo "bench: installing linux-perf" >&2
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >&2 || true
	fi
	if perf_counts; then
		TRACER=perf
	elif [ "$TRACER" = perf ]; then
		die "BENCH_TRACER=perf, but perf cannot count syscall tracepoints here"
	else
		echo "bench: perf cannot count syscalls here; scenario g uses strace (slower, inflated counts)" >&2
		TRACER=strace
	fi
fi

# Scenario f holds BENCH_IDLE connections open on both ends. Go raises its
# soft limit to the hard one by itself, so the hard limit is what counts.
need_fds=$((BENCH_IDLE + 1024))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need_fds" ]; then
	ulimit -Hn "$need_fds" 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if only f && [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fds" ]; then
	die "scenario f needs $need_fds open files but the limit is $(ulimit -n): lower BENCH_IDLE"
fi

# --- plan ------------------------------------------------------------------

# Seconds, as measured on the project's machine: a wrk run costs its warm-up
# and measurement plus about half a second to start and stop the server; an
# idle run about 1 s plus 0.4 s per thousand connections; a traced run its
# duration plus about 3 s; the build up to 40 s (hertz the first time).
# count_words prints how many words its arguments hold.
count_words() { echo $#; }
n_wrk=0 # server runs of a..e and h per round
for s in a b c d e h; do
	# shellcheck disable=SC2046
	only "$s" && n_wrk=$((n_wrk + $(count_words $(servers_for "$s"))))
done
# shellcheck disable=SC2046
n_srv=$(count_words $(servers_for f))
plan=$((40 + n_wrk * BENCH_ROUNDS * (2 * (BENCH_WARMUP + BENCH_DUR) + 1) / 2))
only f && plan=$((plan + n_srv * (1 + BENCH_IDLE / 2500)))
only g && plan=$((plan + n_srv * 2 * (BENCH_TRACE_DUR + 3)))
only i && plan=$((plan + 4 * BENCH_ROUNDS * (2 * (BENCH_WARMUP + BENCH_DUR) + 1) / 2 + 1 + BENCH_IDLE / 2500))
only n && plan=$((plan + 30 + 2 * BENCH_ROUNDS * (BENCH_WARMUP + BENCH_DUR + 1)))
printf 'bench: scenarios %s, servers %s, %s round(s) of %ss (+%ss warm-up), %s idle connections: about %dm%02ds\n' \
	"$BENCH_ONLY" "$BENCH_SERVERS" "$BENCH_ROUNDS" "$BENCH_DUR" "$BENCH_WARMUP" "$BENCH_IDLE" $((plan / 60)) $((plan % 60)) >&2
started=$SECONDS
# Other work on the machine skews the numbers: the report shows the load
# average at the start and the end.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- build -----------------------------------------------------------------

tmp=$(mktemp -d)
SERVER_PID=
COUNTER_PID=
cleanup() {
	# Stop only the processes this script started, by their PIDs.
	if [ -n "$COUNTER_PID" ]; then kill -INT "$COUNTER_PID" 2>/dev/null || true; wait "$COUNTER_PID" 2>/dev/null || true; fi
	if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: building into $tmp" >&2
$GO build -o "$tmp/streamhttp" ./examples/echo
(cd bench/peers && $GO build -o "$tmp/" ./nethttp ./fasthttp ./hertz ./idleconns)

# The pipelined batch of scenario g: 16 GETs written at once; wrk counts
# each response.
cat >"$tmp/pipeline.lua" <<'EOF'
local depth = 16
local batch
function init(args)
	local reqs = {}
	for i = 1, depth do
		reqs[i] = wrk.format("GET", "/plaintext")
	end
	batch = table.concat(reqs)
end
function request()
	return batch
end
EOF
cat >"$tmp/post4k.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
EOF

stamp=$(date +%Y-%m-%d-%H%M%S)
mkdir -p results
OUT=results/bench-$stamp.txt
RAW=results/bench-$stamp.log
: >"$RAW"

# --- servers ---------------------------------------------------------------

# Each server has a port of its own: a server that lingers cannot answer
# for the next one.
declare -A PORT=()
i=0
for srv in $ALL_SERVERS; do
	PORT[$srv]=$((BENCH_PORT + i))
	i=$((i + 1))
done

# PROFILE_OUT, when set, is where start_server has a streamhttp server
# write its CPU profile (BENCH_PROFILE).
PROFILE_OUT=
PROFILE_DIR=results/bench-$stamp-prof

# profile_for SCENARIO SERVER ROUND sets PROFILE_OUT for the next start.
profile_for() {
	PROFILE_OUT=
	profiled "$1" && [[ $2 == streamhttp-* ]] || return 0
	mkdir -p "$PROFILE_DIR"
	PROFILE_OUT=$PROFILE_DIR/$1-$2-r$3.prof
}

# probe PORT prints the status line's first 12 bytes of GET /plaintext.
probe() {
	timeout 2 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1
		printf "GET /plaintext HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n" >&3
		head -c 12 <&3' 2>/dev/null || true
}

# server_cmd NAME PORT prints the server's command line.
server_cmd() {
	local a="-addr 127.0.0.1:$2"
	case $1 in
	streamhttp-inline) echo "streamhttp $a -parallelism 1" ;;
	streamhttp-async) echo "streamhttp $a" ;;
	streamhttp-p4) echo "streamhttp $a -parallelism 4" ;;
	streamhttp-noreuse) echo "streamhttp $a -parallelism 1 -reuse-requests=false" ;;
	streamhttp-proxy) echo "streamhttp $a -parallelism 1 -proxy-protocol optional" ;; # optional: the start probe sends none
	fasthttp) echo "fasthttp $a" ;;
	fasthttp-timeouts) echo "fasthttp $a -read-timeout 10s -write-timeout 30s -idle-timeout 60s" ;;
	net/http) echo "nethttp $a" ;;
	net/http-h2c) echo "nethttp $a -h2c" ;; # scenario i
	hertz) echo "hertz $a" ;;
	esac
}

# start_server NAME [free] starts it pinned to core 0 (unpinned with
# GOMAXPROCS=2 when the second argument is "free") and waits until it
# answers; it sets SERVER_PID and returns non-zero when the server does not
# come up. taskset and env exec the server: SERVER_PID is the server's own.
start_server() {
	local name=$1 port=${PORT[$1]} argv
	read -r -a argv <<<"$(server_cmd "$name" "$port")"
	argv[0]=$tmp/${argv[0]}
	[[ -z $PROFILE_OUT || $name != streamhttp-* ]] || argv+=(-cpuprofile "$PROFILE_OUT")
	if [ -n "$(probe "$port")" ]; then
		die "port $port already answers: something else listens there (set BENCH_PORT)"
	fi
	SERVER_LOG=$tmp/server-${name//\//}.log
	if [ "${2:-}" = free ]; then
		env GOMAXPROCS=2 "${argv[@]}" >"$SERVER_LOG" 2>&1 &
	else
		taskset -c 0 "${argv[@]}" >"$SERVER_LOG" 2>&1 &
	fi
	SERVER_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "bench: $name exited at start:" >&2
			tail -n 20 "$SERVER_LOG" >&2
			wait "$SERVER_PID" 2>/dev/null || true
			SERVER_PID=
			return 1
		fi
		[ "$(probe "$port")" = "HTTP/1.1 200" ] && return 0
		sleep 0.1
	done
	echo "bench: $name did not answer within 10 s" >&2
	stop_server "$name"
	return 1
}

# stop_server NAME stops SERVER_PID (TERM, then KILL after 6 s: the echo
# example waits up to 5 s for its connections). It sets CRASH to
# "crashed (exit N)" when the server had died before it was asked to stop,
# and to "" otherwise.
stop_server() {
	local name=$1 rc=0 i
	CRASH=
	[ -n "$SERVER_PID" ] || return 0
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		wait "$SERVER_PID" 2>/dev/null || rc=$?
		CRASH="crashed (exit $rc)"
		{
			echo "=== $name died under load (exit $rc); its log:"
			tail -n 50 "$SERVER_LOG"
		} >>"$RAW"
		SERVER_PID=
		return 0
	fi
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < 60; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "bench: $name ignored SIGTERM for 6 s; killing it" >&2
		echo "=== $name ignored SIGTERM for 6 s" >>"$RAW"
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# --- load runs (wrk; h2load for c) ------------------------------------------

declare -A LABEL=(
	[a]="a plaintext c50"
	[b]="b plaintext c256"
	[c]="c pipelined16 c256"
	[d]="d echo 4KiB c50"
	[e]="e sleep10ms c256"
)

# wrk_args SCENARIO PORT prints wrk's arguments after -d (a, b, d, e).
wrk_args() {
	local base=http://127.0.0.1:$2
	case $1 in
	a) echo "-c50 --latency $base/plaintext" ;;
	b) echo "-c256 --latency $base/plaintext" ;;
	d) echo "-c50 --latency -s $tmp/post4k.lua $base/echo" ;;
	e) echo "-c256 --latency $base/sleep?ms=10" ;;
	esac
}

# run_wrk DURATION ARGS... runs wrk on core 1, bounded in time.
run_wrk() {
	local dur=$1
	shift
	timeout -k 5 $((dur + 30)) taskset -c 1 wrk -t1 -d"${dur}s" "$@" 2>&1 || true
}

# h2load_args PORT prints h2load's arguments for scenario c after -D and
# --warm-up-time: HTTP/1.1, 16 requests in flight on each of 256
# connections, one thread.
h2load_args() {
	echo "--h1 -m 16 -c 256 -t 1 http://127.0.0.1:$1/plaintext"
}

# run_h2load DURATION WARMUP ARGS... runs h2load on core 1, bounded in time.
# The warm-up runs inside the same h2load run: the connections open and
# load the server for WARMUP seconds before the DURATION measured.
run_h2load() {
	local dur=$1 warm=$2
	shift 2
	local w=()
	[ "$warm" -gt 0 ] && w=(--warm-up-time="$warm")
	timeout -k 5 $((dur + warm + 30)) taskset -c 1 h2load -D "$dur" "${w[@]}" "$@" 2>&1 || true
}

# to_us prints a wrk duration (12.3us, 1.2ms, 3.0s, 1.0m) in microseconds.
to_us() {
	awk -v s="$1" 'BEGIN {
		if (!match(s, /^[0-9.]+/)) exit
		v = substr(s, 1, RLENGTH); u = substr(s, RLENGTH + 1)
		f = (u == "us") ? 1 : (u == "ms") ? 1000 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : 0
		if (f) printf "%.1f", v * f
	}'
}

# fmt_lat prints microseconds as wrk would, roughly.
fmt_lat() {
	[ -n "$1" ] || { echo "-"; return; }
	awk -v u="$1" 'BEGIN {
		if (u < 1000) printf "%.0fus", u
		else if (u < 1e6) printf "%.2fms", u / 1000
		else printf "%.2fs", u / 1e6
	}'
}

# median prints the median of its numeric arguments (nothing for none).
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2
	}'
}

# parse_wrk FILE prints "RPS P50US P99US ERRORS REQUESTS".
parse_wrk() {
	awk '
		/^Requests\/sec:/ { rps = $2 }
		$1 == "50%" { p50 = $2 }
		$1 == "99%" { p99 = $2 }
		/requests in/ { reqs = $1 }
		/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { err += $NF }
		END { printf "%s %s %s %d %s\n", rps == "" ? "-" : rps, p50 == "" ? "-" : p50, p99 == "" ? "-" : p99, err, reqs == "" ? 0 : reqs }
	' "$1"
}

# parse_h2load FILE prints "RPS MEAN - ERRORS REQUESTS" like parse_wrk, with
# the mean time per request where parse_wrk has p50 (h2load has no
# percentiles). Errors: failed + errored + timeout requests and 3xx, 4xx and
# 5xx responses.
parse_h2load() {
	awk '
		/^finished in / { rps = $4 }
		/^requests:/ {
			gsub(/,/, "")
			reqs = $2
			for (i = 3; i < NF; i++) if ($(i + 1) ~ /^(failed|errored|timeout)$/) err += $i
		}
		/^status codes:/ {
			gsub(/,/, "")
			for (i = 3; i < NF; i++) if ($(i + 1) ~ /^[345]xx$/) err += $i
		}
		/^time for request:/ { mean = $6 }
		END { printf "%s %s - %d %s\n", rps == "" ? "-" : rps, mean == "" ? "-" : mean, err, reqs == "" ? 0 : reqs }
	' "$1"
}

# record KEY RPS P50 P99 ERRS adds a run's figures to the rounds of KEY
# (scenario|server).
record() {
	RPS[$1]="${RPS[$1]:-} $2"
	P50[$1]="${P50[$1]:-} $(to_us "$3")"
	P99[$1]="${P99[$1]:-} $(to_us "$4")"
	ERRS[$1]=$((${ERRS[$1]:-0} + $5))
}

declare -A RPS P50 P99 ERRS NOTE CPU
for s in a b c d e; do
	only "$s" || continue
	read -r -a list <<<"$(servers_for "$s")"
	for ((r = 0; r < BENCH_ROUNDS; r++)); do
		for ((k = 0; k < ${#list[@]}; k++)); do
			srv=${list[$(((r + k) % ${#list[@]}))]}
			key="$s|$srv"
			tag="[$s round $((r + 1)) $srv]"
			profile_for "$s" "$srv" $((r + 1))
			if ! start_server "$srv"; then
				NOTE[$key]="did not start"
				continue
			fi
			out=$tmp/load.txt
			if [ "$s" = c ]; then
				tool=h2load
				cmd="h2load -D $BENCH_DUR$([ "$BENCH_WARMUP" -gt 0 ] && echo " --warm-up-time=$BENCH_WARMUP") $(h2load_args "${PORT[$srv]}")"
				# shellcheck disable=SC2046
				run_h2load "$BENCH_DUR" "$BENCH_WARMUP" $(h2load_args "${PORT[$srv]}") >"$out"
			else
				tool=wrk
				cmd="wrk -t1 -d${BENCH_DUR}s $(wrk_args "$s" "${PORT[$srv]}")"
				# shellcheck disable=SC2046
				[ "$BENCH_WARMUP" -gt 0 ] && run_wrk "$BENCH_WARMUP" $(wrk_args "$s" "${PORT[$srv]}") >/dev/null
				# shellcheck disable=SC2046
				run_wrk "$BENCH_DUR" $(wrk_args "$s" "${PORT[$srv]}") >"$out"
			fi
			stop_server "$srv"
			crash=$CRASH
			{ echo "=== $tag $(server_cmd "$srv" "${PORT[$srv]}"); $cmd"; cat "$out"; } >>"$RAW"
			if [ "$tool" = h2load ]; then
				read -r rps p50 p99 errs _ < <(parse_h2load "$out")
			else
				read -r rps p50 p99 errs _ < <(parse_wrk "$out")
			fi
			if [ -n "$crash" ]; then
				NOTE[$key]=$crash
				echo "bench: $tag $srv $crash; $tool said:" >&2
				cat "$out" >&2
			fi
			if [ "$rps" = "-" ]; then
				NOTE[$key]="${NOTE[$key]:-no $tool result}"
				echo "bench: $tag no result; $tool said:" >&2
				cat "$out" >&2
				continue
			fi
			record "$key" "$rps" "$p50" "$p99" "$errs"
			printf 'bench: %-40s %10s req/s  %s %-8s p99 %-8s errors %s\n' "$tag" "$rps" \
				"$([ "$tool" = h2load ] && echo mean || echo p50)" "$p50" "$p99" "$errs" >&2
			[ "$errs" -eq 0 ] || { echo "bench: $tag errors; $tool said:" >&2; cat "$out" >&2; }
		done
	done
done

# --- h: multi-core ---------------------------------------------------------

# cpu_ticks PID prints the process's user + system CPU time in clock ticks
# (fields 14 and 15 of /proc/PID/stat, counted after the command name,
# which is in parentheses and may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)

# run_wrk_free DURATION ARGS... runs wrk unpinned, bounded in time.
run_wrk_free() {
	local dur=$1
	shift
	timeout -k 5 $((dur + 30)) wrk -t2 -d"${dur}s" "$@" 2>&1 || true
}

if only h; then
	read -r -a list <<<"$(servers_for h)"
	for ((r = 0; r < BENCH_ROUNDS; r++)); do
		for ((k = 0; k < ${#list[@]}; k++)); do
			srv=${list[$(((r + k) % ${#list[@]}))]}
			key="h|$srv"
			tag="[h round $((r + 1)) $srv]"
			profile_for h "$srv" $((r + 1))
			if ! start_server "$srv" free; then
				NOTE[$key]="did not start"
				continue
			fi
			args="-c256 --latency http://127.0.0.1:${PORT[$srv]}/plaintext"
			out=$tmp/load.txt
			# shellcheck disable=SC2086
			[ "$BENCH_WARMUP" -gt 0 ] && run_wrk_free "$BENCH_WARMUP" $args >/dev/null
			t0=$(cpu_ticks "$SERVER_PID")
			# shellcheck disable=SC2086
			run_wrk_free "$BENCH_DUR" $args >"$out"
			t1=$(cpu_ticks "$SERVER_PID")
			stop_server "$srv"
			crash=$CRASH
			{ echo "=== $tag GOMAXPROCS=2 $(server_cmd "$srv" "${PORT[$srv]}"); wrk -t2 -d${BENCH_DUR}s $args; server CPU ticks ${t0:-?} -> ${t1:-?} at $CLK_TCK/s"; cat "$out"; } >>"$RAW"
			read -r rps p50 p99 errs reqs < <(parse_wrk "$out")
			[ -z "$crash" ] || NOTE[$key]=$crash
			if [ "$rps" = "-" ] || [ "$reqs" -eq 0 ] || [ -z "$t0" ] || [ -z "$t1" ]; then
				NOTE[$key]="${NOTE[$key]:-no result}"
				echo "bench: $tag no result; wrk said:" >&2
				cat "$out" >&2
				continue
			fi
			record "$key" "$rps" "$p50" "$p99" "$errs"
			cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
			CPU[$key]="${CPU[$key]:-} $cpu"
			printf 'bench: %-40s %10s req/s  p50 %-8s p99 %-8s errors %s  server CPU %s us/req\n' "$tag" "$rps" "$p50" "$p99" "$errs" "$cpu" >&2
			[ "$errs" -eq 0 ] || { echo "bench: $tag errors; wrk said:" >&2; cat "$out" >&2; }
		done
	done
fi

# --- f: idle connections ---------------------------------------------------

PROFILE_OUT=
declare -A IDLE
if only f; then
	for srv in $(servers_for f); do
		start_server "$srv" || { IDLE[$srv]="did not start"; continue; }
		proxy=()
		[ "$srv" = streamhttp-proxy ] && proxy=(-proxy-header)
		line=$(timeout -k 5 200 taskset -c 1 "$tmp/idleconns" -addr "127.0.0.1:${PORT[$srv]}" -pid "$SERVER_PID" \
			-n "$BENCH_IDLE" -timeout 180s "${proxy[@]}" 2>"$tmp/idle.err") || true
		stop_server "$srv"
		crash=$CRASH
		{ echo "=== [f $srv] idleconns -n $BENCH_IDLE"; echo "$line"; cat "$tmp/idle.err"; } >>"$RAW"
		IDLE[$srv]="$line${crash:+ $crash}"
		[ -s "$tmp/idle.err" ] && { echo "bench: [f $srv] idleconns said:" >&2; cat "$tmp/idle.err" >&2; }
		echo "bench: [f $srv] ${line:-no result} $crash" >&2
	done
fi

# --- g: syscalls per request -----------------------------------------------

# The syscalls counted per request, by kind.
READS="read readv recvfrom recvmsg"
WRITES="write writev sendto sendmsg"
EPOLLS="epoll_wait epoll_pwait epoll_pwait2"

# count_perf PID FILE counts PID's syscalls (all its threads) until
# interrupted; count_strace does it with strace -c.
count_perf() {
	local ev=raw_syscalls:sys_enter c
	for c in $READS $WRITES $EPOLLS futex; do
		[ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$c" ] || [ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$c" ] &&
			ev="$ev,syscalls:sys_enter_$c"
	done
	exec taskset -c 1 perf stat -x, -e "$ev" -p "$1" -o "$2"
}
count_strace() { exec taskset -c 1 strace -c -f -q -o "$2" -p "$1"; }

# tally_perf and tally_strace print "name count" per syscall, and "total N".
tally_perf() { awk -F, '$3 == "raw_syscalls:sys_enter" { print "total", $1 } $3 ~ /^syscalls:sys_enter_/ { sub(/^syscalls:sys_enter_/, "", $3); print $3, $1 }' "$1"; }
tally_strace() { awk '$NF == "total" { print "total", $4 } $4 ~ /^[0-9]+$/ && $NF != "total" { print $NF, $4 }' "$1"; }

declare -A SYS
if only g; then
	for mode in keepalive pipelined; do
		for srv in $(servers_for g); do
			key="$mode|$srv"
			start_server "$srv" || { SYS[$key]="did not start"; continue; }
			args="-c50 http://127.0.0.1:${PORT[$srv]}/plaintext"
			[ "$mode" = keepalive ] || args="-s $tmp/pipeline.lua $args"
			# shellcheck disable=SC2086
			run_wrk 1 $args >/dev/null # warm-up: the server's threads exist before counting starts
			"count_$TRACER" "$SERVER_PID" "$tmp/count.txt" 2>"$tmp/count.err" &
			COUNTER_PID=$!
			sleep 1 # let the counter attach to every thread
			# shellcheck disable=SC2086
			run_wrk "$BENCH_TRACE_DUR" $args >"$tmp/wrk.txt"
			kill -INT "$COUNTER_PID" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do kill -0 "$COUNTER_PID" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$COUNTER_PID" 2>/dev/null || true
			wait "$COUNTER_PID" 2>/dev/null || true
			COUNTER_PID=
			stop_server "$srv"
			crash=$CRASH
			{ echo "=== [g $mode $srv] $TRACER; wrk -t1 -d${BENCH_TRACE_DUR}s $args"; cat "$tmp/wrk.txt"; cat "$tmp/count.txt" "$tmp/count.err" 2>/dev/null; } >>"$RAW"
			read -r _ _ _ errs reqs < <(parse_wrk "$tmp/wrk.txt")
			if [ ! -s "$tmp/count.txt" ] || [ "$reqs" -eq 0 ]; then
				SYS[$key]="no result${crash:+ $crash}"
				echo "bench: [g $mode $srv] no result; $TRACER said:" >&2
				cat "$tmp/count.err" >&2
				continue
			fi
			SYS[$key]=$("tally_$TRACER" "$tmp/count.txt" | awk -v reqs="$reqs" -v errs="$errs" -v note="$crash" \
				-v reads=" $READS " -v writes=" $WRITES " -v epolls=" $EPOLLS " '
				$1 == "total" { total = $2; next }
				index(reads, " " $1 " ") { rd += $2 }
				index(writes, " " $1 " ") { wr += $2 }
				index(epolls, " " $1 " ") { ep += $2 }
				$1 == "futex" { fx += $2 }
				END { printf "%9d %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %6d %s", reqs, rd / reqs, wr / reqs, ep / reqs, fx / reqs, (rd + wr) / reqs, total / reqs, errs, note }')
			echo "bench: [g $mode $srv] requests read/req write/req epoll/req futex/req r+w/req all/req errors: ${SYS[$key]}" >&2
		done
	done
fi

# --- i: HTTP/2 ------------------------------------------------------------

# Keys "i-plaintext|SERVER" and "i-echo|SERVER" in RPS; the idle figure in
# IDLE[streamhttp-inline-h2].
if only i; then
	head -c 4096 /dev/zero | tr '\0' x >"$tmp/body4k"
	PORT[net/http-h2c]=${PORT[net/http]}
	list=()
	picked streamhttp-async && list+=(streamhttp-async)
	picked net/http && list+=(net/http-h2c)
	for sc in plaintext echo; do
		for ((r = 0; r < BENCH_ROUNDS && ${#list[@]} > 0; r++)); do
			for ((k = 0; k < ${#list[@]}; k++)); do
				srv=${list[$(((r + k) % ${#list[@]}))]}
				key="i-$sc|$srv" tag="[i $sc round $((r + 1)) $srv]" out=$tmp/load.txt
				start_server "$srv" || { NOTE[$key]="did not start"; continue; }
				url=http://127.0.0.1:${PORT[$srv]}
				args=(-c 64 -m 16 -t 1 "$url/plaintext")
				[ "$sc" = plaintext ] || args=(-c 64 -m 16 -t 1 -d "$tmp/body4k" "$url/echo")
				run_h2load "$BENCH_DUR" "$BENCH_WARMUP" "${args[@]}" >"$out"
				stop_server "$srv"
				{ echo "=== $tag $(server_cmd "$srv" "${PORT[$srv]}"); h2load -D $BENCH_DUR ${args[*]}"; cat "$out"; } >>"$RAW"
				read -r rps p50 _ errs _ < <(parse_h2load "$out")
				[ -z "$CRASH" ] || NOTE[$key]=$CRASH
				[ "$rps" != - ] || { NOTE[$key]="${NOTE[$key]:-no h2load result}"; cat "$out" >&2; continue; }
				record "$key" "$rps" "$p50" - "$errs"
				echo "bench: $tag $rps req/s  mean $p50 errors $errs" >&2
			done
		done
	done
	if picked streamhttp-inline && start_server streamhttp-inline; then
		line=$(timeout -k 5 200 taskset -c 1 "$tmp/idleconns" -h2 -addr "127.0.0.1:${PORT[streamhttp-inline]}" -pid "$SERVER_PID" \
			-n "$BENCH_IDLE" -timeout 180s 2>"$tmp/idle.err") || true
		stop_server streamhttp-inline
		{ echo "=== [i idle h2 streamhttp-inline] idleconns -h2 -n $BENCH_IDLE"; echo "$line"; cat "$tmp/idle.err"; } >>"$RAW"
		IDLE[streamhttp-inline-h2]="$line${CRASH:+ $CRASH}"
		echo "bench: [i idle h2 streamhttp-inline] ${line:-no result} $CRASH" >&2
	fi
fi

# --- n: the chi router through the nethttp adapter ------------------------

ECO_ALLOCS=
if only n; then
	echo "bench: building examples/ecosystem" >&2
	(cd examples/ecosystem && $GO build -o "$tmp/ecosystem" .)
	eco_port=$((BENCH_PORT + 8))
	eco_url=http://127.0.0.1:$eco_port/hello
	eco=(chi-nethttp chi-streamhttp chi-streamhttp-noreuse)
	for ((r = 0; r < BENCH_ROUNDS; r++)); do
		for ((k = 0; k < ${#eco[@]}; k++)); do
			srv=${eco[$(((r + k) % ${#eco[@]}))]}
			case $srv in
			chi-nethttp) eco_args=(-server nethttp) ;;
			chi-streamhttp) eco_args=(-server streamhttp) ;;
			chi-streamhttp-noreuse) eco_args=(-server streamhttp -reuse-requests=false) ;;
			esac
			key="n|$srv"
			tag="[n round $((r + 1)) $srv]"
			[ -z "$(probe "$eco_port")" ] || die "port $eco_port already answers: something else listens there (set BENCH_PORT)"
			SERVER_LOG=$tmp/server-$srv.log
			GOMAXPROCS=1 taskset -c 0 "$tmp/ecosystem" "${eco_args[@]}" -quiet -addr "127.0.0.1:$eco_port" >"$SERVER_LOG" 2>&1 &
			SERVER_PID=$!
			for ((i = 0; i < 100; i++)); do
				[ -n "$(probe "$eco_port")" ] && break
				kill -0 "$SERVER_PID" 2>/dev/null || break
				sleep 0.1
			done
			out=$tmp/load.txt
			[ "$BENCH_WARMUP" -gt 0 ] && run_wrk "$BENCH_WARMUP" -c50 "$eco_url" >/dev/null
			run_wrk "$BENCH_DUR" -c50 --latency "$eco_url" >"$out"
			stop_server "$srv"
			{ echo "=== $tag ecosystem ${eco_args[*]}; wrk -t1 -d${BENCH_DUR}s -c50 --latency $eco_url"; cat "$out"; } >>"$RAW"
			read -r rps p50 p99 errs _ < <(parse_wrk "$out")
			[ -z "$CRASH" ] || NOTE[$key]=$CRASH
			if [ "$rps" = "-" ]; then
				NOTE[$key]="${NOTE[$key]:-no wrk result}"
				echo "bench: $tag no result; wrk said:" >&2
				cat "$out" "$SERVER_LOG" >&2
				continue
			fi
			record "$key" "$rps" "$p50" "$p99" "$errs"
			printf 'bench: %-40s %10s req/s  p50 %-8s p99 %-8s errors %s\n' "$tag" "$rps" "$p50" "$p99" "$errs" >&2
		done
	done
	ECO_ALLOCS=$(
		$GO test -run '^$' -bench 'AdapterHello|NetHTTPRecorderHello' -benchmem -benchtime=20000x ./nethttp 2>&1 | grep -E '^Benchmark' || true
		$GO test -run '^$' -bench 'ReplayAdapter' -benchmem -benchtime=100x ./nethttp 2>&1 | grep -E '^Benchmark' || true
	)
	echo "$ECO_ALLOCS" >>"$RAW"
fi

# --- report ----------------------------------------------------------------

# ratio A B prints A/B with two decimals ("-" when either is missing);
# with a third argument, that many decimals (the goal lines compare
# unrounded ratios).
ratio() {
	if [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b > 0) printf "%.*f", d, a / b; else print "-" }'
}

# spread prints (max - min) / median of its arguments as a percentage.
spread() {
	[ $# -gt 1 ] || { echo "-"; return; }
	local med
	med=$(median "$@")
	printf '%s\n' "$@" | awk -v med="$med" 'NR == 1 { lo = hi = $1 } { if ($1 < lo) lo = $1; if ($1 > hi) hi = $1 }
		END { if (med > 0) printf "%.0f%%", 100 * (hi - lo) / med; else print "-" }'
}

# med KEY prints the median req/s of KEY (scenario|server), nothing when
# it has no rounds.
med() {
	# shellcheck disable=SC2086
	median ${RPS["$1"]:-}
}

# idle_kib SERVER prints the KiB per idle connection of scenario f.
idle_kib() { sed -n 's/.*kib_per_conn=\([0-9.-]*\).*/\1/p' <<<"${IDLE[$1]:-}"; }

# sys_all SERVER prints all syscalls per keep-alive request of scenario g.
sys_all() {
	local v=${SYS["keepalive|$1"]:-}
	[[ $v =~ ^\ *[0-9] ]] || return 0
	awk '{ print $7 }' <<<"$v"
}

# goal TEXT OP TARGET VALUE [UNIT] prints a goal line: VALUE against
# TARGET, OP ge (at least) or le (at most), with how far off a miss is.
goal() {
	local text=$1 op=$2 target=$3 value=$4 unit=${5:-x}
	if [ -z "$value" ] || [ "$value" = - ]; then
		printf '%-52s %2s %6s %9s  %s\n' "$text" "$([ "$op" = ge ] && echo '>=' || echo '<=')" "$target" - "not measured"
		return
	fi
	awk -v text="$text" -v op="$op" -v t="$target" -v v="$value" -v unit="$unit" 'BEGIN {
		met = (op == "ge") ? (v >= t) : (v <= t)
		if (met) verdict = "met"
		else if (op == "ge") verdict = sprintf("missed: %.0f%% short", 100 * (t - v) / t)
		else verdict = sprintf("missed: %.0f%% over", 100 * (v - t) / t)
		printf "%-52s %2s %6s %9s  %s\n", text, (op == "ge") ? ">=" : "<=", t, sprintf(unit == "x" ? "%.2fx" : "%.3f", v), verdict
	}'
}

# note SCENARIO SERVER prints the note of a row: what went wrong, and
# whether it ran with a CPU profile.
note() {
	local n=${NOTE["$1|$2"]:-}
	if profiled "$1" && [[ $2 == streamhttp-* ]]; then n="${n:+$n; }profiled"; fi
	echo "$n"
}

# row_load and row_multi print a row of the load table and of h's.
row_load() { printf '%-20s %-17s %9s %6s %9s %9s %6s %8s %8s %8s  %s\n' "$@"; }
row_multi() { printf '%-17s %9s %6s %9s %9s %6s %9s %6s %8s %8s  %s\n' "$@"; }

report() {
	echo "streamhttp load benchmark, $(date '+%Y-%m-%d %H:%M:%S %Z')"
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')," \
		"$($GO version | awk '{ print $3 }'), $(uname -sr), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "a..g: servers on core 0 (GOMAXPROCS 1), load on core 1 (wrk -t1; h2load --h1 -t1 -m16 for c);"
	echo "h: servers and wrk -t2 unpinned on both cores, servers with GOMAXPROCS=2"
	echo "streamhttp-inline = examples/echo -parallelism 1; streamhttp-async = examples/echo (parallelism = pipelining limit = 16);"
	echo "both reuse requests (-reuse-requests, on in the example); streamhttp-noreuse (c and d only) = streamhttp-inline -reuse-requests=false;"
	echo "streamhttp-p4 = examples/echo -parallelism 4; streamhttp-proxy (f only) = streamhttp-inline behind a PROXY v1 header;"
	echo "fasthttp = fasthttp's defaults (no deadlines);"
	echo "fasthttp-timeouts = -read-timeout 10s -write-timeout 30s -idle-timeout 60s; net/http and hertz with their defaults"
	echo "BENCH_DUR=$BENCH_DUR BENCH_ROUNDS=$BENCH_ROUNDS BENCH_WARMUP=$BENCH_WARMUP BENCH_IDLE=$BENCH_IDLE BENCH_TRACE_DUR=$BENCH_TRACE_DUR BENCH_TRACER=$TRACER"
	echo "req/s, p50, p99: medians over the rounds; spread: (max - min) / median of req/s over the rounds;"
	echo "errors: their sum (socket errors, failed requests, non-2xx); *: scenario c runs h2load, which has no percentiles:"
	echo "its p50 column shows h2load's mean time per request (\"time for request\" mean), and p99 is \"-\";"
	echo "vs inline: req/s against streamhttp-inline's in the same scenario"
	[ -z "$BENCH_PROFILE" ] || echo "BENCH_PROFILE=\"$BENCH_PROFILE\": the streamhttp rows of those scenarios ran with -cpuprofile (profiles in $PROFILE_DIR)"
	echo
	local s srv key m
	if [ "$n_wrk" -gt 0 ]; then
		row_load scenario server req/s spread p50 p99 errors vs-net/http vs-fasthttp vs-inline note |
			sed 's/vs-net\/http/vs net\/http/; s/vs-fasthttp/vs fasthttp/; s/vs-inline/vs inline/'
		for s in a b c d e; do
			only "$s" || continue
			for srv in $(servers_for "$s"); do
				key="$s|$srv"
				m=$(med "$key")
				# shellcheck disable=SC2086
				row_load "${LABEL[$s]}" "$srv" \
					"$([ -n "$m" ] && printf '%.0f' "$m" || echo -)" "$(spread ${RPS[$key]:-})" \
					"$(p=$(fmt_lat "$(median ${P50[$key]:-})"); [ "$s" = c ] && [ "$p" != - ] && p="$p*"; echo "$p")" "$(fmt_lat "$(median ${P99[$key]:-})")" \
					"${ERRS[$key]:--}" "$(ratio "$m" "$(med "$s|net/http")")" "$(ratio "$m" "$(med "$s|fasthttp")")" \
					"$(ratio "$m" "$(med "$s|streamhttp-inline")")" "$(note "$s" "$srv")"
			done
		done
		echo
	fi
	if only h; then
		echo "h: multi-core, GET /plaintext, wrk -t2 -c256, server and load unpinned, server GOMAXPROCS=2;"
		echo "CPU/req: the server's utime + stime (/proc/PID/stat) over the measured run / requests, median over the rounds"
		row_multi server req/s spread p50 p99 errors CPU/req spread vs-fasthttp vs-inline note |
			sed 's/vs-fasthttp/vs fasthttp/; s/vs-inline/vs inline/'
		local cpu_f cpu_i c
		# shellcheck disable=SC2086
		cpu_f=$(median ${CPU["h|fasthttp"]:-})
		# shellcheck disable=SC2086
		cpu_i=$(median ${CPU["h|streamhttp-inline"]:-})
		for srv in $(servers_for h); do
			key="h|$srv"
			m=$(med "$key")
			# shellcheck disable=SC2086
			c=$(median ${CPU[$key]:-})
			# shellcheck disable=SC2086
			row_multi "$srv" "$([ -n "$m" ] && printf '%.0f' "$m" || echo -)" "$(spread ${RPS[$key]:-})" \
				"$(fmt_lat "$(median ${P50[$key]:-})")" "$(fmt_lat "$(median ${P99[$key]:-})")" "${ERRS[$key]:--}" \
				"$([ -n "$c" ] && printf '%.2fus' "$c" || echo -)" "$(spread ${CPU[$key]:-})" \
				"$(ratio "$c" "$cpu_f")" "$(ratio "$c" "$cpu_i")" "$(note h "$srv")"
		done
		echo "(CPU ratios: below 1.00 is less CPU per request)"
		echo
	fi
	if only f; then
		echo "f: idle keep-alive connections (one GET each, then idle; server VmRSS before and after)"
		printf '%-17s %7s %7s %8s %12s %12s %9s %11s %11s\n' server conns ok failed "rss before" "rss after" KiB/conn "vs net/http" "vs fasthttp"
		local per_n per_f line
		per_n=$(idle_kib net/http)
		per_f=$(idle_kib fasthttp)
		for srv in $(servers_for f); do
			line=${IDLE[$srv]:-}
			if [[ $line != idle* ]]; then
				printf '%-17s %s\n' "$srv" "${line:-no result}"
				continue
			fi
			awk -v srv="$srv" -v rn="$(ratio "$(idle_kib "$srv")" "$per_n")" -v rf="$(ratio "$(idle_kib "$srv")" "$per_f")" '{
				for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				extra = ""
				for (i = 8; i <= NF; i++) extra = extra " " $i
				printf "%-17s %7s %7s %8s %8s KiB %8s KiB %9s %11s %11s%s\n", srv, v["conns"], v["ok"], v["failed"],
					v["rss_before_kib"], v["rss_after_kib"], v["kib_per_conn"], rn, rf, extra
			}' <<<"$line"
		done
		echo
	fi
	if only g; then
		echo "g: syscalls per request counted by $TRACER, wrk -c50 for ${BENCH_TRACE_DUR}s after 1 s of warm-up (pipelined: wrk with a Lua batch of 16)"
		printf '%-10s %-17s %9s %8s %8s %8s %8s %8s %8s %6s\n' mode server requests read write epoll futex r+w all errors
		local mode
		for mode in keepalive pipelined; do
			for srv in $(servers_for g); do
				printf '%-10s %-17s %s\n' "$mode" "$srv" "${SYS["$mode|$srv"]:-no result}"
			done
		done
		echo "read = read/readv/recvfrom/recvmsg, write = write/writev/sendto/sendmsg; r+w = read + write, the server's own I/O;"
		echo "all = every syscall, including the Go runtime's (epoll, futex, nanosleep from sysmon)."
		[ "$TRACER" = perf ] || echo "strace slows the server about 15-fold, which inflates the runtime's share; req/s under strace means nothing."
		echo
	fi
	if only i; then
		echo "i: HTTP/2 with prior knowledge, h2load -c 64 -m 16 -t 1 (server on core 0, GOMAXPROCS 1); mean: h2load's time per request"
		printf '%-20s %-17s %9s %6s %9s %6s %11s  %s\n' scenario server req/s spread mean errors "vs net/http" note
		for s in plaintext echo; do
			for srv in streamhttp-async net/http-h2c; do
				key="i-$s|$srv"
				m=$(med "$key")
				# shellcheck disable=SC2086
				printf '%-20s %-17s %9s %6s %9s %6s %11s  %s\n' "i h2 $s$([ $s = echo ] && echo ' 4KiB')" "$srv" \
					"$([ -n "$m" ] && printf '%.0f' "$m" || echo -)" "$(spread ${RPS[$key]:-})" "$(fmt_lat "$(median ${P50[$key]:-})")" \
					"${ERRS[$key]:--}" "$(ratio "$m" "$(med "i-$s|net/http-h2c")")" "${NOTE[$key]:-}"
			done
		done
		echo "idle HTTP/2 connection, streamhttp-inline: ${IDLE[streamhttp-inline-h2]:-no result}"
		echo
	fi
	if only n; then
		echo "n: the chi router of examples/ecosystem, GET /hello, wrk -t1 -c50, server on core 0 (GOMAXPROCS 1)"
		row_load scenario server req/s spread p50 p99 errors vs-net/http - - note | sed 's/vs-net\/http/vs net\/http/'
		for srv in chi-nethttp chi-streamhttp chi-streamhttp-noreuse; do
			m=$(med "n|$srv")
			# shellcheck disable=SC2086
			row_load "n chi /hello c50" "$srv" "$([ -n "$m" ] && printf '%.0f' "$m" || echo -)" "$(spread ${RPS["n|$srv"]:-})" \
				"$(fmt_lat "$(median ${P50["n|$srv"]:-})")" "$(fmt_lat "$(median ${P99["n|$srv"]:-})")" "${ERRS["n|$srv"]:--}" \
				"$(ratio "$m" "$(med "n|chi-nethttp")")" - - "${NOTE["n|$srv"]:-}"
		done
		echo "the adapter's allocations per request (AdapterHello: the adapter alone, without reuse; NetHTTPRecorderHello: net/http's handler side for the same request; ReplayAdapter: allocs/req of 1024 keep-alive requests through the server and the adapter, without and with reuse, one of them the handler's):"
		echo "${ECO_ALLOCS:-not measured}"
		echo
	fi
	echo "goals: ratios of this run's medians (inline = streamhttp-inline, async = streamhttp-async, fasthttp = its defaults)"
	printf '%-52s %9s %9s  %s\n' goal target measured result
	local i f n a
	i=streamhttp-inline f=fasthttp n=net/http a=streamhttp-async
	goal "a plaintext c50: inline / fasthttp" ge 1.0 "$(ratio "$(med "a|$i")" "$(med "a|$f")" 6)"
	goal "c pipelined16: inline / fasthttp" ge 1.0 "$(ratio "$(med "c|$i")" "$(med "c|$f")" 6)"
	goal "d echo 4KiB: inline / fasthttp" ge 1.0 "$(ratio "$(med "d|$i")" "$(med "d|$f")" 6)"
	goal "a plaintext c50: async / inline" ge 0.9 "$(ratio "$(med "a|$a")" "$(med "a|$i")" 6)"
	goal "d echo 4KiB: async / inline" ge 0.9 "$(ratio "$(med "d|$a")" "$(med "d|$i")" 6)"
	goal "c pipelined16: async / inline" ge 0.6 "$(ratio "$(med "c|$a")" "$(med "c|$i")" 6)"
	goal "d echo 4KiB: inline / net/http" ge 3.0 "$(ratio "$(med "d|$i")" "$(med "d|$n")" 6)"
	goal "d echo 4KiB: async / net/http" ge 3.0 "$(ratio "$(med "d|$a")" "$(med "d|$n")" 6)"
	# shellcheck disable=SC2086
	goal "a plaintext c50: p99 async / p99 inline" le 1.5 "$(ratio "$(median ${P99["a|$a"]:-})" "$(median ${P99["a|$i"]:-})")"
	# shellcheck disable=SC2086
	goal "d echo 4KiB: p99 async / p99 inline" le 1.5 "$(ratio "$(median ${P99["d|$a"]:-})" "$(median ${P99["d|$i"]:-})")"
	# shellcheck disable=SC2086
	goal "h multi-core: CPU/req inline / fasthttp" le 1.0 "$(ratio "$(median ${CPU["h|$i"]:-})" "$(median ${CPU["h|$f"]:-})")"
	# shellcheck disable=SC2086
	goal "h multi-core: CPU/req async / fasthttp" le 1.0 "$(ratio "$(median ${CPU["h|$a"]:-})" "$(median ${CPU["h|$f"]:-})")"
	goal "f idle connection, inline: KiB/conn" le 4 "$(idle_kib "$i")" KiB
	goal "f idle connection, async: KiB/conn" le 4 "$(idle_kib "$a")" KiB
	goal "g keep-alive, inline: all syscalls/req" le 2.1 "$(sys_all "$i")" n
	goal "g keep-alive, async: all syscalls/req" le 2.1 "$(sys_all "$a")" n
	goal "i h2 plaintext: async / net/http" ge 2.0 "$(ratio "$(med "i-plaintext|$a")" "$(med "i-plaintext|net/http-h2c")" 6)"
	goal "i h2 echo 4KiB: async / net/http" ge 2.0 "$(ratio "$(med "i-echo|$a")" "$(med "i-echo|net/http-h2c")" 6)"
	goal "i idle HTTP/2 connection, inline: KiB/conn" le 8 "$(idle_kib "$i-h2")" KiB
	goal "n chi router: streamhttp adapter / net/http" ge 1.3 "$(ratio "$(med "n|chi-streamhttp")" "$(med "n|chi-nethttp")" 6)"
	echo
	echo "took $((SECONDS - started)) s (planned about $plan s); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	echo "raw output in $RAW"
}

report | sed 's/ *$//' | tee "$OUT"
echo "bench: wrote $OUT" >&2
