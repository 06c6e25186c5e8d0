# shellcheck shell=bash
# Shared by scripts that start local servers for a run (conformance-h2.sh,
# bench-h2.sh); sourced, not run. It makes $work, a temporary directory,
# and starts servers in the background with start_server, which records
# their PIDs: on exit only those processes are stopped, by PID, and $work
# is removed. wait_ports waits until loopback ports accept connections.

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# start_server LOG COMMAND...: runs COMMAND in the background, output to LOG.
start_server() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
}

# wait_ports HOST PORT...: waits (up to 10 s each) until each port accepts.
wait_ports() {
	local host=$1 p
	shift
	for p in "$@"; do
		for _ in $(seq 100); do
			if (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; then break; fi
			sleep 0.1
		done
	done
}
