#!/usr/bin/env bash
# Conformance runs of the HTTP/1.1 server against the echo example, over
# loopback only (make conformance):
#
#   (a) llhttp: the strict request cases of llhttp's test suite sent over
#       real sockets and judged by internal/conformance;
#   (b) curl: keep-alive, a chunked upload, HTTP/1.0, HEAD and
#       Expect: 100-continue, one PASS or FAIL line each;
#   (c) slow clients: a probe that trickles a request body at 1 byte/s and
#       must get 408 (the echo server runs with -min-body-rate 240, in
#       bytes/s, which applies after the library's 5 s grace), then
#       slowhttptest: a slowloris run (slow headers, cut by the 3 s head
#       timeout) and a slow-body run (cut by the minimum body rate), each
#       while a bounded loop of normal curl requests checks that ordinary
#       clients are still served.
#
# It ends with a summary and the line "conformance: N passed, N failed"
# (one check per curl case, the llhttp run, the slow-body probe, each
# slowhttptest run and the server being alive at the end), and exits 1 when
# a check failed.
#
# Usage: scripts/conformance.sh   (make conformance sets GO)
# Needs curl and slowhttptest; installs them with apt-get when they are
# missing (root). PORT picks the loopback port (default 18090);
# SLOW_SECONDS the length of each slowhttptest run (default 25).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PORT=${PORT:-18090}
SLOW_SECONDS=${SLOW_SECONDS:-25}
HOST=127.0.0.1
BASE=http://$HOST:$PORT

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v slowhttptest >/dev/null || missing+=(slowhttptest)
if [ ${#missing[@]} -gt 0 ]; then
	echo "conformance: installing ${missing[*]}" >&2
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

tmp=$(mktemp -d)
ECHO_PID=
LOOP_PID=
cleanup() {
	# Stop only the processes this script started, by their PIDs.
	if [ -n "$LOOP_PID" ]; then kill "$LOOP_PID" 2>/dev/null || true; wait "$LOOP_PID" 2>/dev/null || true; fi
	if [ -n "$ECHO_PID" ]; then kill -TERM "$ECHO_PID" 2>/dev/null || true; wait "$ECHO_PID" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building"
"$GO" build -o "$tmp/echo" ./examples/echo
"$GO" build -o "$tmp/conformance" ./internal/conformance

# Short timeouts, so the slow-client runs show them cutting slow clients
# off within SLOW_SECONDS: a request head must arrive within 3 s, and a body
# the handler reads must come at 240 bytes/s at least once the library's
# 5 s grace (RequestBodyGrace, no flag) has passed. 240 is the default,
# passed explicitly so that the summary states what was in force.
MIN_BODY_RATE=240
BODY_GRACE_SECONDS=5
ECHO_FLAGS=(-head-timeout 3s -idle-timeout 10s -request-timeout 10s -min-body-rate "$MIN_BODY_RATE")
"$tmp/echo" -addr "$HOST:$PORT" "${ECHO_FLAGS[@]}" >"$tmp/echo.log" 2>&1 &
ECHO_PID=$!
up=
for _ in $(seq 1 100); do
	if ! kill -0 "$ECHO_PID" 2>/dev/null; then break; fi
	if curl -fsS --max-time 1 -o /dev/null "$BASE/plaintext" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
if [ -z "$up" ]; then
	echo "conformance: the echo server did not come up on $HOST:$PORT" >&2
	cat "$tmp/echo.log" >&2
	exit 1
fi
LIMITS="timeouts: head 3 s, idle 10 s, request 10 s; min body rate $MIN_BODY_RATE B/s after a ${BODY_GRACE_SECONDS} s grace"
echo "echo server: pid $ECHO_PID on $BASE ($LIMITS)"

passes=0
fails=0
# check NAME OK DETAIL: records and prints one check; OK is 1 or 0.
check() {
	if [ "$2" = 1 ]; then
		passes=$((passes + 1))
		printf 'PASS %s: %s\n' "$1" "$3"
	else
		fails=$((fails + 1))
		printf 'FAIL %s: %s\n' "$1" "$3"
	fi
}

# (a) llhttp corpus over sockets.
echo "== llhttp corpus"
llhttp_rc=0
timeout 300 "$tmp/conformance" -addr "$HOST:$PORT" >"$tmp/llhttp.txt" 2>&1 || llhttp_rc=$?
cat "$tmp/llhttp.txt"
llhttp_line=$(grep -E '^llhttp: [0-9]+ passed, [0-9]+ failed$' "$tmp/llhttp.txt" | tail -n 1 || true)
llhttp_devs=$(sed -nE 's/^deviations \(.*\): ([0-9]+)$/\1/p' "$tmp/llhttp.txt" | tail -n 1)
llhttp_early=$(sed -nE 's/^answered before a malformed body was read, then closed: ([0-9]+)$/\1/p' "$tmp/llhttp.txt" | tail -n 1)
llhttp_unreg=$(sed -nE 's/^methods the echo server does not register \(501\) or refuses \(CONNECT, 405\): ([0-9]+)$/\1/p' "$tmp/llhttp.txt" | tail -n 1)
if [ "$llhttp_rc" = 0 ] && [ -n "$llhttp_line" ]; then
	check llhttp 1 "${llhttp_line#llhttp: }"
else
	check llhttp 0 "exit status $llhttp_rc: ${llhttp_line:-no summary line}"
fi

# (b) curl.
echo "== curl"
C=(curl -sS --max-time 10)
# About 200 KiB of text, the same on every run.
for i in $(seq 1 8000); do printf 'line %05d of the upload\n' "$i"; done >"$tmp/upload.bin"
upload_size=$(wc -c <"$tmp/upload.bin")

# Keep-alive: two URLs in one invocation share one connection.
if out=$("${C[@]}" -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' "$BASE/plaintext" "$BASE/json" 2>&1); then
	codes=$(awk '{print $1}' <<<"$out" | tr '\n' ' ')
	connects=$(awk '{s += $2} END {print s}' <<<"$out")
	ok=0; [ "$codes" = "200 200 " ] && [ "$connects" = 1 ] && ok=1
	check keep-alive "$ok" "statuses ${codes}connections $connects (want 200 200, 1)"
else
	check keep-alive 0 "curl: $out"
fi

# A chunked upload to /echo comes back byte for byte.
if code=$("${C[@]}" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream' \
	--data-binary @"$tmp/upload.bin" -o "$tmp/echoed.bin" -w '%{http_code}' "$BASE/echo" 2>&1); then
	ok=0; [ "$code" = 200 ] && cmp -s "$tmp/upload.bin" "$tmp/echoed.bin" && ok=1
	check chunked-upload "$ok" "status $code, sent $upload_size bytes, got back $(wc -c <"$tmp/echoed.bin") ($([ "$ok" = 1 ] && echo identical || echo differ))"
else
	check chunked-upload 0 "curl: $code"
fi

# HTTP/1.0.
if out=$("${C[@]}" --http1.0 -o "$tmp/http10.txt" -w '%{http_code} %{http_version}' "$BASE/plaintext" 2>&1); then
	body=$(cat "$tmp/http10.txt")
	ok=0; [ "${out%% *}" = 200 ] && [ "$body" = "Hello, World!" ] && ok=1
	check http1.0 "$ok" "status ${out%% *}, response version ${out#* }, body \"$body\""
else
	check http1.0 0 "curl: $out"
fi

# HEAD: no body, and the connection stays usable (a GET follows on it).
if out=$("${C[@]}" -I -o "$tmp/head.txt" -w '%{http_code} %{size_download} ' "$BASE/plaintext" \
	--next -sS --max-time 10 -o "$tmp/afterhead.txt" -w '%{http_code} %{num_connects}' "$BASE/plaintext" 2>&1); then
	read -r hcode hsize gcode gconnects <<<"$out"
	body=$(cat "$tmp/afterhead.txt")
	ok=0; [ "$hcode" = 200 ] && [ "$hsize" = 0 ] && [ "$gcode" = 200 ] && [ "$gconnects" = 0 ] && [ "$body" = "Hello, World!" ] && ok=1
	check head "$ok" "HEAD $hcode with $hsize body bytes, then GET $gcode on the same connection (new connections: $gconnects), body \"$body\""
else
	check head 0 "curl: $out"
fi

# Expect: 100-continue: the server says 100 before curl sends the body
# (curl would give up waiting after --expect100-timeout and send anyway).
if out=$("${C[@]}" -v --expect100-timeout 5 -H 'Expect: 100-continue' -H 'Content-Type: application/octet-stream' \
	--data-binary @"$tmp/upload.bin" -o "$tmp/continued.bin" -w '%{http_code} %{time_total}' "$BASE/echo" 2>"$tmp/continue.log"); then
	got100=0; grep -q '^< HTTP/1.1 100' "$tmp/continue.log" && got100=1
	ok=0; [ "${out%% *}" = 200 ] && [ "$got100" = 1 ] && cmp -s "$tmp/upload.bin" "$tmp/continued.bin" && ok=1
	check expect-100-continue "$ok" "100 Continue received: $([ "$got100" = 1 ] && echo yes || echo no), status ${out%% *} after ${out#* } s, body $(cmp -s "$tmp/upload.bin" "$tmp/continued.bin" && echo identical || echo differs)"
else
	check expect-100-continue 0 "curl: $out $(tail -n 3 "$tmp/continue.log")"
fi

# (c) slow clients.
echo "== slow-body probe"
# One POST /upload (the catch-all route reads the whole body) announcing
# 8192 bytes and sending one byte a second: the server must answer 408 once
# the grace has passed (not before: 0.2 s of slack for the timing), well
# before the 25 bytes the writer sends at most.
probe_start=$(date +%s%N)
probe_status=$(timeout 40 bash -c '
	exec 3<>/dev/tcp/'"$HOST"'/'"$PORT"' || exit 1
	printf "POST /upload HTTP/1.1\r\nHost: conformance\r\nContent-Type: application/octet-stream\r\nContent-Length: 8192\r\n\r\n" >&3
	( for _ in $(seq 1 25); do printf x >&3 2>/dev/null || exit 0; sleep 1; done ) &
	head -c 12 <&3
	kill $! 2>/dev/null' 2>/dev/null || true)
probe_ms=$((($(date +%s%N) - probe_start) / 1000000))
probe_secs=$(awk -v ms="$probe_ms" 'BEGIN { printf "%.1f", ms / 1000 }')
ok=0
[ "$probe_status" = "HTTP/1.1 408" ] && [ "$probe_ms" -ge $((BODY_GRACE_SECONDS * 1000 - 200)) ] &&
	[ "$probe_ms" -le $((BODY_GRACE_SECONDS * 1000 + 10000)) ] && ok=1
probe_result="a body at 1 B/s got \"${probe_status:-no response}\" after $probe_secs s"
check slow-body-probe "$ok" "$probe_result (want HTTP/1.1 408 after the ${BODY_GRACE_SECONDS} s grace, within $((BODY_GRACE_SECONDS + 10)) s)"

echo "== slowhttptest (${SLOW_SECONDS} s each; $LIMITS)"
# normal_clients OUT: GET /plaintext every 0.5 s for SLOW_SECONDS, writing
# "served tried" to OUT. Each request may take 3 s at most.
normal_clients() {
	local served=0 tried=0 code
	for _ in $(seq 1 $((SLOW_SECONDS * 2))); do
		tried=$((tried + 1))
		code=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "$BASE/plaintext" 2>/dev/null || true)
		[ "$code" = 200 ] && served=$((served + 1))
		sleep 0.5
	done
	echo "$served $tried" >"$1"
}

# too_slow_count prints how many requests the echo server has cut for a
# slow body so far (its statistics count them: slow_bodies in GET /stats).
too_slow_count() {
	curl -s --max-time 5 "http://$HOST:$PORT/stats" | sed -nE 's/.*"slow_bodies":([0-9]+).*/\1/p' | grep . || echo 0
}

# slow_run NAME ARGS...: one slowhttptest run with the loop of normal
# clients. It passes when every normal request was served, the server is
# alive, and, for the slow-body run, the server cut slow bodies (408).
# slowhttptest ends early ("No open connections left") once the server has
# closed all of its connections; the normal clients run SLOW_SECONDS anyway.
slow_summary=()
slow_run() {
	local name=$1
	shift
	local cut_before
	cut_before=$(too_slow_count)
	normal_clients "$tmp/$name.normal" &
	LOOP_PID=$!
	local rc=0
	timeout $((SLOW_SECONDS + 60)) slowhttptest "$@" -c 200 -r 100 -i 5 -s 8192 -l "$SLOW_SECONDS" -p 3 \
		>"$tmp/$name.log" 2>&1 </dev/null || rc=$?
	wait "$LOOP_PID" || true
	LOOP_PID=
	local served tried
	read -r served tried <"$tmp/$name.normal"
	# slowhttptest redraws a status block every few seconds, in colour:
	# keep the last value of each line.
	local clean status
	clean=$(tr -d '\r' <"$tmp/$name.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g')
	last() { grep -E "^[[:space:]]*$1" <<<"$clean" | tail -n 1 | sed -E 's/[[:space:]]+/ /g; s/^ //; s/ $//'; }
	status="$(last 'slow HTTP test status on') $(last 'connected:'), $(last 'pending:'), $(last 'closed:'), $(last 'error:'), $(last 'service available:'); $(last 'Test ended on'); $(last 'Exit status:')"
	echo "$name: slowhttptest exit $rc; last status: $status"
	local alive=1
	kill -0 "$ECHO_PID" 2>/dev/null || alive=0
	local cut=$(($(too_slow_count) - cut_before))
	local ok=0 what detail=
	[ "$served" = "$tried" ] && [ "$alive" = 1 ] && ok=1
	if [ "$name" = slow-body ]; then
		[ "$cut" -gt 0 ] || ok=0
		detail="; slow bodies cut with 408: $cut"
		what="slow bodies are cut with 408 ($cut connections; rule: below $MIN_BODY_RATE B/s once the ${BODY_GRACE_SECONDS} s grace has passed; probe: $probe_result) while normal clients are served ($served/$tried)"
	else
		what="slow heads are cut with 408 by the 3 s head timeout while normal clients are served ($served/$tried)"
	fi
	check "$name" "$ok" "normal clients served $served/$tried during the run$detail; server alive: $([ "$alive" = 1 ] && echo yes || echo no)"
	slow_summary+=("$name: $what; slowhttptest: $status")
}
slow_run slowloris -H -t GET -u "$BASE/plaintext"
slow_run slow-body -B -t POST -u "$BASE/upload"

# The server is still up and answering after everything.
if kill -0 "$ECHO_PID" 2>/dev/null && code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/plaintext" 2>/dev/null) && [ "$code" = 200 ]; then
	check server-alive 1 "GET /plaintext 200 after all runs"
else
	check server-alive 0 "the echo server is gone or not answering"
fi

echo "== echo server log (warnings and errors, first 20)"
warnings=$(grep -E 'level=(WARN|ERROR)| WARN | ERROR ' "$tmp/echo.log" || true)
if [ -n "$warnings" ]; then
	sed -n 1,20p <<<"$warnings"
	echo "($(wc -l <<<"$warnings") in all)"
else
	echo "(none)"
fi

echo "== summary"
echo "llhttp corpus: ${llhttp_line:-no result}; deviations ${llhttp_devs:-?}, answered before a bad body ${llhttp_early:-?}, refused methods (501 unregistered, 405 CONNECT) ${llhttp_unreg:-?}"
for s in "${slow_summary[@]}"; do echo "$s"; done
echo "conformance: $passes passed, $fails failed"
[ "$fails" = 0 ]
