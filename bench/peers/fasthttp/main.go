// Command fasthttp is the fasthttp peer of the load benchmark
// (scripts/bench.sh): the routes of examples/echo that the benchmark
// drives, served by github.com/valyala/fasthttp, the fastest HTTP/1.1
// server for Go that the streamhttp echo server is compared with.
//
// Routes:
//
//	GET  /plaintext   200 text/plain "Hello, World!"
//	GET  /json        200 application/json {"message":"Hello, World!"}
//	POST /echo        the request body back, with its Content-Type
//	GET  /sleep?ms=N  "slept" after N ms (0..60000, else 400)
//
// Run it with
//
//	go run ./fasthttp -addr 127.0.0.1:8082
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
)

// The same bodies and limits as internal/echohandler (see the nethttp
// peer).
const (
	hello     = "Hello, World!"
	helloJSON = `{"message":"Hello, World!"}`
	maxSleep  = 60000
	maxBody   = 8 << 20
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &fasthttp.Server{
		Handler:            handle,
		Name:               "fasthttp",
		MaxRequestBodySize: maxBody,
		ReadTimeout:        60 * time.Second,
		// Under load a client closing its connections is not news.
		Logger: quietLogger{},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(*addr) }()
	slog.Info("fasthttp: listening", "addr", "http://"+*addr)

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

func handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Method()) + " " + string(ctx.Path()) {
	case "GET /plaintext":
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(hello)
	case "GET /json":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(helloJSON)
	case "POST /echo":
		if ct := ctx.Request.Header.ContentType(); len(ct) > 0 {
			ctx.SetContentTypeBytes(ct)
		}
		// PostBody is valid until the handler returns; SetBody copies it.
		ctx.SetBody(ctx.PostBody())
	case "GET /sleep":
		sleep(ctx)
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

func sleep(ctx *fasthttp.RequestCtx) {
	ms := 0
	if ctx.QueryArgs().Has("ms") {
		v, err := ctx.QueryArgs().GetUint("ms")
		if err != nil || v > maxSleep {
			ctx.Error(fmt.Sprintf("ms must be an integer from 0 to %d", maxSleep), fasthttp.StatusBadRequest)
			return
		}
		ms = v
	}
	// fasthttp's RequestCtx is a context.Context that is done when the
	// server shuts down.
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("slept")
	case <-ctx.Done():
	}
}

// quietLogger drops fasthttp's per-connection error messages.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
