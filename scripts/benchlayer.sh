#!/usr/bin/env bash
# Layer micro-benchmark on one P and on two (make bench-layer): the server
# layer's pipelined benchmarks (internal/layerbench: a synchronous handler,
# the inline AsyncHandler of parallelism 1, the async one of parallelism 16
# (the composable flow: a goroutine per request) and the same handler of
# parallelism 16 joined to the layer as BindAndHandleAsync runs it, each
# answering with a fresh response to a request of its own memory;
# and the echo example's handler and settings, a shared response and reused
# requests, which allocate nothing) run with -cpu 1,2, BENCH_COUNT times
# each; the table gives the median
# ns per request on each and their ratio, against the goal that the layer
# on two Ps costs no more than 1.2x what it costs on one.
#
# Environment:
#   BENCH_COUNT  runs of each benchmark and P count, medians taken (default 5)
#   BENCH_TIME   -benchtime of each run (default 1s)
#
# The raw go test output goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
BENCH_COUNT=${BENCH_COUNT:-5}
BENCH_TIME=${BENCH_TIME:-1s}
[[ $BENCH_COUNT =~ ^[1-9][0-9]*$ ]] || { echo "benchlayer: BENCH_COUNT must be a positive whole number" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
$GO test -run '^$' -bench '^BenchmarkServerLayerPipelined(Inline|Async|AsyncJoined|Example)?$' -cpu 1,2 \
	-count "$BENCH_COUNT" -benchtime "$BENCH_TIME" ./internal/layerbench | tee "$out" >&2

echo "server layer, 16 pipelined GET /plaintext per buffer: median ns/req over $BENCH_COUNT runs of $BENCH_TIME, $($GO version | awk '{ print $3 }')"
# The -2 suffix marks the runs on two Ps; ns/req is the benchmark's own
# metric (wall time per request).
awk -v count="$BENCH_COUNT" '
	function median(name, p,   n, i, j, t, a) {
		n = cnt[name, p]
		for (i = 1; i <= n; i++) a[i] = v[name, p, i]
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		if (n == 0) return ""
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	/^BenchmarkServerLayer/ {
		name = $1; p = 1
		if (match(name, /-[0-9]+$/)) { p = substr(name, RSTART + 1); name = substr(name, 1, RSTART - 1) }
		for (i = 2; i < NF; i++) if ($(i + 1) == "ns/req") { cnt[name, p]++; v[name, p, cnt[name, p]] = $i }
		if (!(name in seen)) { seen[name] = 1; order[++names] = name }
	}
	END {
		printf "%-38s %12s %12s %8s  %s\n", "benchmark", "-cpu 1", "-cpu 2", "2P / 1P", "goal <= 1.2"
		for (k = 1; k <= names; k++) {
			name = order[k]; one = median(name, 1); two = median(name, 2)
			if (one == "" || two == "" || one <= 0) { printf "%-38s %12s %12s %8s  %s\n", name, one, two, "-", "not measured"; continue }
			r = two / one
			printf "%-38s %9.1f ns %9.1f ns %7.2fx  %s\n", name, one, two, r, (r <= 1.2) ? "met" : sprintf("missed: %.0f%% over", 100 * (r - 1.2) / 1.2)
		}
	}' "$out"
