// Command echo is the showcase server of streamhttp, also the server of the
// conformance and load runs. It shows
//
//   - BindAndHandleAsync: one handler function, run for up to -parallelism
//     requests of a connection at once; responses that complete out of
//     order (GET /sleep next to GET /plaintext) leave in request order;
//   - pipelining: up to -pipelining-limit requests of one connection are
//     read and handled before the first is answered;
//   - streamed bodies both ways: POST /echo sends the request body back
//     chunk by chunk as it arrives, GET /stream sends a long chunked response;
//   - the server's own answers: a panicking handler (GET /panic) gets a 500,
//     a response asking to close (GET /close) closes, a slow client gets 408,
//     a slow handler 503;
//   - statistics: GET /stats;
//   - reused requests (-reuse-requests, on by default): the handler keeps
//     nothing of a request past its response, so the server builds later
//     requests in its memory, and keep-alive and pipelined requests cost no
//     allocation;
//   - the lifecycle: SIGTERM stops it gracefully (in-flight requests finish,
//     within -shutdown-timeout), SIGINT at once;
//   - behind a load balancer: GET /health (200 serving, 503 draining: SIGTERM
//     drains for -drain-period first), GET /metrics (Prometheus), the PROXY
//     protocol (-proxy-protocol, -proxy-trusted), SO_REUSEPORT restarts
//     (-reuse-port, -takeover); see make lb-test.
//
// Run it with
//
//	go run ./examples/echo -addr 127.0.0.1:8080
//
// and try curl http://127.0.0.1:8080/plaintext, or pipeline with
// h2load --h1 -m 16 -n 10000 -c 8 http://127.0.0.1:8080/plaintext.
// Every route is served over HTTP/2 too, on the same port, to clients
// that start with the HTTP/2 preface (prior knowledge):
// curl --http2-prior-knowledge http://127.0.0.1:8080/plaintext, or
// h2load -c 8 -m 16 -n 10000 http://127.0.0.1:8080/plaintext. With -h2-only
// the port serves HTTP/2 alone.
// The routes are listed on echohandler.Handler. The captures under
// testdata/captures were recorded from this server (scripts/capture.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // for -debug-addr
	"net/netip"
	"os"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	parallelism := flag.Int("parallelism", 0, "requests of one connection handled at once (0: the pipelining limit)")
	var s streamhttp.ServerSettings
	flag.IntVar(&s.PipeliningLimit, "pipelining-limit", 16, "requests of one connection read before the first is answered (1 to 1024)")
	flag.DurationVar(&s.IdleTimeout, "idle-timeout", 0, "close connections idle this long (0: the default, 60s)")
	flag.DurationVar(&s.RequestTimeout, "request-timeout", 0, "answer 503 when a handler takes this long (0: the default, 20s)")
	flag.DurationVar(&s.HeadTimeout, "head-timeout", 0, "answer 408 when a request head takes this long to arrive (0: the default, 10s)")
	flag.IntVar(&s.MaxConnections, "max-connections", 65536, "connections served at once; more wait in the listen backlog (the library's default is 1024; load runs hold 10000 idle ones)")
	flag.Int64Var(&s.MinRequestBodyRate, "min-body-rate", 0, "answer 408 when a request body arrives slower, in bytes/s (0: the default, 240)")
	flag.DurationVar(&s.ParkIdleAfter, "park-idle-after", 0, "park a connection idle this long: no goroutine, no buffers (0: the default, 10ms; negative: never)")
	flag.DurationVar(&s.ShutdownTimeout, "shutdown-timeout", 0, "hard deadline of the graceful stop on SIGTERM (0: the default, 30s)")
	flag.DurationVar(&s.DrainPeriod, "drain-period", 0, "on SIGTERM, answer GET /health with 503 for this long (while serving) before the graceful stop")
	flag.BoolVar(&s.ReuseRequests, "reuse-requests", true, "reuse a request's memory once its response is written: its handlers keep nothing of a request (false: every request has memory of its own)")
	flag.BoolVar(&s.ReusePort, "reuse-port", false, "bind with SO_REUSEPORT, beside another process on the same address")
	proxy := flag.String("proxy-protocol", "off", "PROXY protocol header from a load balancer: off, optional or required")
	trusted := flag.String("proxy-trusted", "", "comma-separated networks that may send a PROXY header (empty: any)")
	takeover := flag.Int("takeover", 0, "once accepting, send SIGTERM to this process id: a restart over SO_REUSEPORT, the old process stopping only after the new one accepts")
	flag.BoolVar(&s.HTTP2.Only, "h2-only", false, "serve HTTP/2 alone: every connection must start with the HTTP/2 preface (the default serves HTTP/1.1 and HTTP/2 on one port)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until the server stops")
	debugAddr := flag.String("debug-addr", "", "serve net/http/pprof on this address, apart from the server (empty: not at all); the hostile-client run counts goroutines there")
	flag.Parse()
	if *debugAddr != "" {
		go func() {
			// The standard library's debug handlers, on a listener of
			// their own: not part of the server being shown.
			err := http.ListenAndServe(*debugAddr, http.DefaultServeMux)
			fmt.Fprintln(os.Stderr, "echo: debug listener:", err)
		}()
	}
	if err := proxySettings(&s.ProxyProtocol, *proxy, *trusted); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	// HEAD is answered like GET, without the body.
	s.TransparentHEAD = true
	if *parallelism < 0 {
		fmt.Fprintln(os.Stderr, "echo: -parallelism must not be negative")
		os.Exit(2)
	}
	err := run(context.Background(), *addr, *parallelism, s, func(b *streamhttp.ServerBinding) {
		slog.Info("echo: listening", "url", "http://"+b.LocalAddr().String()+"/",
			"parallelism", *parallelism, "pipelining-limit", s.PipeliningLimit, "pid", os.Getpid())
		if *takeover > 0 {
			// The accept loop runs: the old process may stop accepting.
			p, err := os.FindProcess(*takeover)
			if err == nil {
				err = p.Signal(syscall.SIGTERM)
			}
			if err != nil {
				slog.Warn("echo: takeover", "pid", *takeover, "err", err)
			}
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	slog.Info("echo: stopped")
}

// run serves the echo routes on addr until the binding ends: a signal
// (SIGTERM gracefully, SIGINT at once) or the end of ctx (at once). ready
// learns of the binding once it is bound.
func run(ctx context.Context, addr string, parallelism int, s streamhttp.ServerSettings, ready func(*streamhttp.ServerBinding)) error {
	var binding atomic.Pointer[streamhttp.ServerBinding]
	stats := func() streamhttp.Stats {
		if b := binding.Load(); b != nil {
			return b.Stats()
		}
		return streamhttp.Stats{} // a request that came before run saw its binding
	}
	b, err := streamhttp.BindAndHandleAsync(ctx, addr, withOps(echohandler.Func(stats)), parallelism, s)
	if err != nil {
		return err
	}
	binding.Store(b)
	if ready != nil {
		ready(b)
	}
	b.Wait()
	return nil
}

// withOps adds the routes a load balancer and a scraper use: GET /health
// and GET /metrics.
func withOps(f func(context.Context, *streamhttp.Request) (*streamhttp.Response, error)) func(context.Context, *streamhttp.Request) (*streamhttp.Response, error) {
	return func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		switch r.URI.Path {
		case "/health":
			return streamhttp.HealthHandler(r), nil
		case "/metrics":
			return streamhttp.MetricsHandler(r), nil
		}
		return f(ctx, r)
	}
}

// proxySettings fills p from the -proxy-protocol and -proxy-trusted flags.
func proxySettings(p *streamhttp.ProxyProtocolSettings, mode, trusted string) error {
	switch mode {
	case "off":
		p.Mode = streamhttp.ProxyProtocolOff
	case "optional":
		p.Mode = streamhttp.ProxyProtocolOptional
	case "required":
		p.Mode = streamhttp.ProxyProtocolRequired
	default:
		return fmt.Errorf("-proxy-protocol %q: want off, optional or required", mode)
	}
	for n := range strings.SplitSeq(trusted, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(n)
		if err != nil {
			return fmt.Errorf("-proxy-trusted: %w", err)
		}
		p.TrustedNetworks = append(p.TrustedNetworks, prefix)
	}
	return nil
}
