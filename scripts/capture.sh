#!/usr/bin/env bash
# Records the captures under testdata/captures: real clients (curl, Go's
# net/http, h2load) talking to the echo example over loopback, written by
# tcpdump as pcap files, then split into raw request and response streams
# (NAME.req, NAME.resp) by the root package's replay test with -update.
# testdata/README.md says what each capture is.
#
# Usage: scripts/capture.sh [NAME...]   (no NAME: all of them)
# Needs root for tcpdump (and for installing the tools when they are
# missing: tcpdump, curl, h2load from nghttp2-client). PORT picks the
# loopback port the echo server listens on (default 18080).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
PORT=${PORT:-18080}
OUT=testdata/captures
BASE=http://127.0.0.1:$PORT

missing=()
command -v tcpdump >/dev/null || missing+=(tcpdump)
command -v curl >/dev/null || missing+=(curl)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
	echo "capture: installing ${missing[*]}" >&2
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

tmp=$(mktemp -d)
ECHO_PID=
TCPDUMP_PID=
cleanup() {
	# Stop only the processes this script started, by their PIDs.
	if [ -n "$TCPDUMP_PID" ]; then kill -INT "$TCPDUMP_PID" 2>/dev/null || true; wait "$TCPDUMP_PID" 2>/dev/null || true; fi
	if [ -n "$ECHO_PID" ]; then kill -TERM "$ECHO_PID" 2>/dev/null || true; wait "$ECHO_PID" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The upload of the chunked echo: about 1 KiB of text, the same on every run.
for i in $(seq 1 44); do printf 'line %03d of the upload\n' "$i"; done >"$tmp/upload.txt"

# The keep-alive client: several requests, one connection.
cat >"$tmp/keepalive.go" <<'EOF'
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

func main() {
	base := os.Args[1]
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, DisableCompression: true}}
	do := func(method, path, contentType, body string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		if body == "" {
			req.Body = nil
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", "/plaintext", "", "")
	do("GET", "/json", "", "")
	do("POST", "/echo", "text/plain", "hello over a kept-alive connection")
	do("GET", "/stream?n=3&size=16", "", "")
	do("PUT", "/things/42", "application/json", `{"name":"forty-two"}`)
	do("GET", "/plaintext", "", "")
}
EOF

"$GO" build -o "$tmp/echo" ./examples/echo
"$tmp/echo" -addr "127.0.0.1:$PORT" 2>"$tmp/echo.log" &
ECHO_PID=$!
for _ in $(seq 1 50); do
	curl -s -o /dev/null "$BASE/plaintext" && break
	sleep 0.1
done

# capture NAME COMMAND...: runs COMMAND while tcpdump writes NAME.pcap, and
# again (up to three times) when the kernel dropped packets of it.
capture() {
	local name=$1
	shift
	local try log
	for try in 1 2 3; do
		echo "capture: $name" >&2
		log="$tmp/tcpdump-$name-$try.log"
		# --immediate-mode: some kernels (VMs) never hand over a partly
		# filled capture buffer, and tcpdump would stop with nothing
		# written. -B: a larger buffer, so that bursts are not dropped.
		# -Z: keep the file owned by the user running the script.
		tcpdump -i lo -s 0 -B 16384 -U --immediate-mode -Z "$(id -un)" -n \
			-w "$OUT/$name.pcap" "tcp port $PORT" 2>"$log" &
		TCPDUMP_PID=$!
		for _ in $(seq 1 50); do
			grep -q 'listening on' "$log" 2>/dev/null && break
			sleep 0.1
		done
		"$@" >/dev/null
		sleep 0.5 # let the last FIN and ACK reach the capture
		kill -INT "$TCPDUMP_PID"
		wait "$TCPDUMP_PID" || true
		TCPDUMP_PID=
		if grep -q '^0 packets dropped by kernel' "$log"; then
			return 0
		fi
		echo "capture: $name: packets were dropped; capturing again" >&2
	done
	echo "capture: $name: packets dropped three times; giving up" >&2
	return 1
}

keepalive() { (cd "$tmp" && "$GO" run keepalive.go "$BASE"); }

mkdir -p "$OUT"
want=("$@")
selected() {
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
	return 1
}
selected curl-plaintext && capture curl-plaintext curl -s "$BASE/plaintext"
selected curl-echo-chunked && capture curl-echo-chunked curl -s -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: text/plain' --data-binary @"$tmp/upload.txt" "$BASE/echo"
selected curl-http10 && capture curl-http10 curl -s --http1.0 "$BASE/plaintext"
selected go-keepalive && capture go-keepalive keepalive
selected h2load-pipelined && capture h2load-pipelined h2load --h1 -m 16 -n 64 -c 1 "$BASE/plaintext"

# Split the pcaps into NAME.req and NAME.resp.
"$GO" test -count=1 -run 'TestReplayCaptures' . -update
ls -l "$OUT"
