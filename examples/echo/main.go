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
//   - the lifecycle: SIGTERM stops it gracefully (in-flight requests finish,
//     within -shutdown-timeout), SIGINT at once.
//
// Run it with
//
//	go run ./examples/echo -addr 127.0.0.1:8080
//
// and try curl http://127.0.0.1:8080/plaintext, or pipeline with
// h2load --h1 -m 16 -n 10000 -c 8 http://127.0.0.1:8080/plaintext.
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
	"os"
	"runtime/pprof"
	"sync/atomic"

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
			"parallelism", *parallelism, "pipelining-limit", s.PipeliningLimit)
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
	b, err := streamhttp.BindAndHandleAsync(ctx, addr, echohandler.Func(stats), parallelism, s)
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
