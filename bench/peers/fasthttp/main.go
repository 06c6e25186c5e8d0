// Command fasthttp is the fasthttp peer of the load benchmark
// (scripts/bench.sh): the routes of examples/echo that the benchmark
// drives, served by github.com/valyala/fasthttp the way its documentation
// suggests for speed: one handler that switches on the path (the switch on
// string(ctx.Path()) does not allocate), the server's default settings, and
// handlers that allocate nothing on their success paths.
//
// By default the server sets no deadlines at all (fasthttp's defaults). The
// benchmark runs it a second time with -read-timeout, -write-timeout and
// -idle-timeout set, so that it carries the duties the streamhttp server
// always carries (bounds on reading a request, on writing and on idling):
// fasthttp then sets socket deadlines per request, which costs timer work.
//
// Routes:
//
//	GET  /plaintext   200 text/plain "Hello, World!"
//	GET  /json        200 application/json {"message":"Hello, World!"}
//	POST /echo        the request body back, with its Content-Type
//	GET  /sleep?ms=N  "slept" after N ms (0..60000, else 400)
//
// Other paths get 404, other methods on these paths 405.
//
// Run it with
//
//	go run ./fasthttp -addr 127.0.0.1:8082
//	go run ./fasthttp -addr 127.0.0.1:8082 -read-timeout 10s -write-timeout 30s -idle-timeout 60s
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	readTimeout := flag.Duration("read-timeout", 0, "fasthttp's Server.ReadTimeout: bound on reading a request (0: none, the default)")
	writeTimeout := flag.Duration("write-timeout", 0, "fasthttp's Server.WriteTimeout: bound on writing a response (0: none, the default)")
	idleTimeout := flag.Duration("idle-timeout", 0, "fasthttp's Server.IdleTimeout: bound on waiting for the next request (0: the read timeout)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &fasthttp.Server{
		Handler: handle,
		// The body limit of the echo example (fasthttp's default is
		// 4 MiB); a limit, not a duty: it costs nothing per request.
		MaxRequestBodySize: routes.MaxBody,
		ReadTimeout:        *readTimeout,
		WriteTimeout:       *writeTimeout,
		IdleTimeout:        *idleTimeout,
		// Under load a client closing its connections is not news.
		Logger: quietLogger{},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(*addr) }()
	slog.Info("fasthttp: listening", "addr", "http://"+*addr,
		"read-timeout", *readTimeout, "write-timeout", *writeTimeout, "idle-timeout", *idleTimeout)

	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "fasthttp:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		slog.Warn("fasthttp: shutdown", "err", err)
	}
	slog.Info("fasthttp: stopped")
}

// handle routes on the path first and checks the method after, as
// fasthttp's examples do; neither step allocates.
func handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/plaintext":
		if !ctx.IsGet() {
			notAllowed(ctx)
			return
		}
		ctx.SetContentType(routes.TextPlain)
		ctx.SetBodyString(routes.Hello)
	case "/json":
		if !ctx.IsGet() {
			notAllowed(ctx)
			return
		}
		ctx.SetContentType(routes.JSON)
		ctx.SetBodyString(routes.HelloJSON)
	case "/echo":
		if !ctx.IsPost() {
			notAllowed(ctx)
			return
		}
		if ct := ctx.Request.Header.ContentType(); len(ct) > 0 {
			ctx.SetContentTypeBytes(ct)
		}
		// PostBody is valid until the handler returns; SetBody copies it
		// into the response's reused buffer.
		ctx.SetBody(ctx.PostBody())
	case "/sleep":
		if !ctx.IsGet() {
			notAllowed(ctx)
			return
		}
		sleep(ctx)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

func notAllowed(ctx *fasthttp.RequestCtx) {
	ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
}

func sleep(ctx *fasthttp.RequestCtx) {
	ms := 0
	if ctx.QueryArgs().Has("ms") {
		v, err := ctx.QueryArgs().GetUint("ms")
		if err != nil || v > routes.MaxSleep {
			ctx.Error(routes.SleepError, fasthttp.StatusBadRequest)
			return
		}
		ms = v
	}
	// fasthttp's RequestCtx is a context.Context that is done when the
	// server shuts down.
	if routes.Sleep(ms, ctx.Done()) {
		ctx.SetContentType(routes.TextPlain)
		ctx.SetBodyString(routes.Slept)
	}
}

// quietLogger drops fasthttp's per-connection error messages.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
