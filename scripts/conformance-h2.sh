#!/usr/bin/env bash
# HTTP/2 conformance runs with h2spec (make conformance-h2), over loopback:
#
#   echo h2c       examples/echo, HTTP/1.1 and HTTP/2 on one port (prior
#                  knowledge). h2spec's http2/3.5/2 (an invalid preface must
#                  close the connection) cannot pass there: the bytes are a
#                  valid-looking HTTP/1.1 request, which gets its 400.
#   echo h2-only   examples/echo -h2-only: the same handler, HTTP/2 alone.
#   tls            examples/tls: ALPN h2 over TLS.
#
# Each target runs h2spec generic (145 cases) and --strict (146). The
# failing cases are listed; the last line is
# "conformance-h2: N passed, N failed" over all runs, and the script exits 1
# when a case other than the expected one failed.
#
# Usage: scripts/conformance-h2.sh   (make conformance-h2 sets GO)
# Installs h2spec (v2.2.1, the newest the module proxy serves) into .bin/
# when missing. PORT picks the first of three loopback ports (default 18190).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PORT=${PORT:-18190}
HOST=127.0.0.1
BIN=$PWD/.bin
H2SPEC=$BIN/h2spec

if [ ! -x "$H2SPEC" ]; then
	echo "conformance-h2: installing h2spec into .bin/" >&2
	GOFLAGS=-mod=mod GOBIN=$BIN "$GO" install github.com/summerwind/h2spec/cmd/h2spec@latest
fi

# shellcheck source=scripts/servers.sh
. scripts/servers.sh

"$GO" build -o "$work/echo" ./examples/echo
"$GO" build -o "$work/tls" ./examples/tls
start_server "$work/echo.log" "$work/echo" -addr "$HOST:$PORT"
start_server "$work/echo2.log" "$work/echo" -h2-only -addr "$HOST:$((PORT + 1))"
start_server "$work/tls.log" "$work/tls" -addr "$HOST:$((PORT + 2))"
wait_ports "$HOST" "$PORT" $((PORT + 1)) $((PORT + 2))

passed=0
failed=0
unexpected=0
summary=()
run() { # name port expected-failure h2spec-flags...
	local name=$1 port=$2 expect=$3
	shift 3
	local out="$work/$name.txt"
	"$H2SPEC" -h "$HOST" -p "$port" -o 2 "$@" >"$out" 2>&1 || true
	local line
	line=$(grep -E '^[0-9]+ tests, ' "$out" | tail -1)
	local p f
	p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("$(printf '%-22s %s' "$name" "$line")")
	# The failing cases: the lines with a cross after "Failures:".
	local cases
	cases=$(sed -n '/^Failures:/,$p' "$out" | grep -E '×' | sed -E 's/^ *× */    x /' |
		sed -E 's/x 2: Sends invalid connection preface/x http2\/3.5\/2: Sends invalid connection preface (expected on a port shared with HTTP\/1.1)/' || true)
	if [ -n "$cases" ]; then
		summary+=("$cases")
		if [ -z "$expect" ] || [ "$(echo "$cases" | grep -vc "$expect")" -gt 0 ]; then
			unexpected=1
		fi
	fi
}

# The one expected failure on the shared port: http2/3.5/2.
run "echo h2c generic" "$PORT" "Sends invalid connection preface"
run "echo h2c strict" "$PORT" "Sends invalid connection preface" -S
run "echo h2-only generic" $((PORT + 1)) ""
run "echo h2-only strict" $((PORT + 1)) "" -S
run "tls generic" $((PORT + 2)) "" -t -k
run "tls strict" $((PORT + 2)) "" -t -k -S

echo "h2spec $("$H2SPEC" --version 2>&1 | head -1) against streamhttp:"
printf '%s\n' "${summary[@]}"
echo "conformance-h2: $passed passed, $failed failed"
exit $unexpected
