# Developer entry points. `make test` is what CI runs (see .ci/run).

GO ?= go
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
ADDR ?= 127.0.0.1:8080
FUZZTIME ?= 30s
# An execution count, not a duration: a fuzz run cut by its time limit
# while a worker minimizes can fail with "context deadline exceeded" and no
# crasher (a known go test -fuzz flake), which a gate must not.
FUZZ_SMOKE ?= 50000x

# Tools are installed into a project-local directory, never into GOPATH/bin.
BIN := $(CURDIR)/.bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BIN)/staticcheck

.DEFAULT_GOAL := test
.PHONY: run test fmtcheck vet bench bench-ecosystem bench-micro bench-layer bench-peers-test fuzz conformance conformance-h2 bench-h2 lint

# The smallest example server; it prints its URL. Ctrl-C stops it.
run:
	$(GO) run ./examples/hello -addr $(ADDR)

# The root package runs a second time on one P, where bindings read through
# readiness sets (see ServerBinding.readyFor): both read paths are tested.
# examples/ecosystem is a module of its own (chi, gorilla/websocket,
# Prometheus): its tests run last.
#
# make test is the whole gate: gofmt, vet, staticcheck and shellcheck
# (lint), the race-checked suite, and a short run of every fuzz target
# (FUZZ_SMOKE executions each; make fuzz runs them longer). The root package
# and internal/poller run a second time on one P without the race detector:
# plain TCP reads and writes are raw system calls only in builds without it
# (internal/poller/rawio_norace.go), so that run is what tests them.
test: fmtcheck lint
	$(GO) test -race -count=1 ./...
	GOMAXPROCS=1 $(GO) test -count=1 . ./internal/poller
	cd examples/ecosystem && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	@GO='$(GO)' FUZZTIME='$(FUZZ_SMOKE)' bash scripts/fuzz.sh

# Checks the tracked and untracked-but-not-ignored .go files (all of them when
# not in a git work tree), skipping testdata directories as the go command does.
fmtcheck:
	@files=$$( { git ls-files --cached --others --exclude-standard -- '*.go' 2>/dev/null \
		|| find . -name '*.go' -not -path './.git/*' -not -path './.bin/*'; } \
		| grep -Ev '(^|/)testdata/' | while IFS= read -r f; do [ -f "$$f" ] && printf '%s\n' "$$f"; done ); \
	[ -n "$$files" ] || exit 0; \
	bad=$$(printf '%s\n' "$$files" | tr '\n' '\0' | xargs -0 $(GOFMT) -l) || { echo "fmtcheck: gofmt failed" >&2; exit 1; }; \
	if [ -n "$$bad" ]; then \
		echo "fmtcheck: these files need gofmt -w:" >&2; \
		printf '%s\n' "$$bad" | sed 's/^/  /' >&2; \
		exit 1; \
	fi

vet:
	$(GO) vet ./...

# Load benchmark over loopback: the echo example (inline and async) against
# fasthttp (defaults and with timeouts), net/http and hertz peers
# (bench/peers, a module of its own), every scenario for every server in one
# run (HTTP/2 too: h2load against net/http's HTTP/2), and the chi router of
# examples/ecosystem through the nethttp adapter against net/http (scenario
# n); one table with the goal lines on stdout and in results/bench-*.txt.
# BENCH_DUR, BENCH_ROUNDS, BENCH_ONLY and BENCH_SERVERS tune it (see
# scripts/bench.sh); the default run takes 11 to 13 minutes. Installs wrk,
# h2load, strace and linux-perf when missing.
bench:
	@GO='$(GO)' bash scripts/bench.sh

# The chi router of examples/ecosystem served by net/http and by streamhttp
# through the nethttp adapter, with request reuse and without (one P each),
# req/s, the server's CPU time per request and the ratios, then the
# adapter's allocations per request. BENCH_DUR, BENCH_ROUNDS tune it (see
# scripts/bench-ecosystem.sh); about 2 minutes.
bench-ecosystem:
	@GO='$(GO)' bash scripts/bench-ecosystem.sh

# A short HTTP/2 sanity run: h2load -c 64 -m 16 (GET /plaintext, POST /echo
# 4 KiB) against the echo example and net/http's HTTP/2 in one run.
bench-h2:
	@GO='$(GO)' bash scripts/bench-h2.sh

# Micro-benchmarks: the stream core, the parser and renderer, the server layer.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The server layer's pipelined benchmarks on one P and on two (-cpu 1,2):
# median ns/req and the 2P / 1P ratio against its goal (<= 1.2x).
# BENCH_COUNT and BENCH_TIME tune it (see scripts/benchlayer.sh).
bench-layer:
	@GO='$(GO)' bash scripts/benchlayer.sh

# The load benchmark's peers (bench/peers, a module of its own, not in
# ./...): their routes and their handlers' allocation counts.
bench-peers-test:
	cd bench/peers && $(GO) vet ./... && $(GO) test -count=1 ./...

fuzz:
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' bash scripts/fuzz.sh

# Conformance runs against the running echo example: the llhttp corpus over
# real sockets, curl checks, and slowhttptest slow-client runs.
conformance:
	@GO='$(GO)' bash scripts/conformance.sh

# Hostile clients, streamhttp (examples/echo) and net/http side by side:
# slowloris, slow body, slow readers, signals with a never-reading client,
# reset churn; one table (see scripts/hostile.sh). About 5 minutes.
.PHONY: hostile
hostile:
	@GO='$(GO)' bash scripts/hostile.sh

# Rolling restarts behind HAProxy: 3 echo backends restarted in turn under
# load, with and without the PROXY protocol, keep-alive and a connection per
# request; prints requests, failures and non-2xx (goal: 0). About a minute.
# Installs haproxy, h2load and wrk when missing.
.PHONY: lb-test
lb-test:
	@GO='$(GO)' bash scripts/lb-test.sh

# Restarts over SO_REUSEPORT without a balancer: requests lost per restart,
# streamhttp against net/http, with tcp_migrate_req 0 and 1 when it may be
# set. About two minutes. Installs wrk when missing.
.PHONY: handover
handover:
	@GO='$(GO)' bash scripts/handover.sh

# HTTP/2 conformance: h2spec (installed into .bin/) generic and --strict
# against examples/echo over h2c (shared port and -h2-only) and
# examples/tls over TLS; lists the failing cases.
conformance-h2:
	@GO='$(GO)' bash scripts/conformance-h2.sh

lint: $(STATICCHECK)
	@GO='$(GO)' STATICCHECK='$(STATICCHECK)' bash scripts/lint.sh

$(STATICCHECK):
	GOBIN='$(BIN)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
