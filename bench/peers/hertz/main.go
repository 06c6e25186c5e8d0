// Command hertz is the hertz peer of the load benchmark (scripts/bench.sh):
// the routes of examples/echo that the benchmark drives, served by
// github.com/cloudwego/hertz over its netpoll transport (hertz's default on
// Linux), written as hertz's documentation shows: routes registered on the
// engine's router, handlers that allocate nothing on their success paths,
// and the engine's default settings (server.New, without the recovery
// middleware of server.Default). hertz's defaults carry deadlines: a 3 min
// read timeout, which also bounds an idle keep-alive connection. The router
// allocates once per request on its own (it converts the path to a
// string); the handlers add nothing to that.
//
// Routes:
//
//	GET  /plaintext   200 text/plain "Hello, World!"
//	GET  /json        200 application/json {"message":"Hello, World!"}
//	POST /echo        the request body back, with its Content-Type
//	GET  /sleep?ms=N  "slept" after N ms (0..60000, else 400)
//
// Other routes get hertz's 404.
//
// Run it with
//
//	go run ./hertz -addr 127.0.0.1:8084
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/hlog"
	"github.com/cloudwego/hertz/pkg/protocol/consts"

	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8084", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// hertz logs every connection error and its route table at Info.
	hlog.SetOutput(io.Discard)
	h := server.New(
		server.WithHostPorts(*addr),
		server.WithMaxRequestBodySize(routes.MaxBody),
		server.WithDisablePrintRoute(true),
		server.WithExitWaitTime(5*time.Second),
	)
	register(h)
	errc := make(chan error, 1)
	go func() { errc <- h.Run() }()
	slog.Info("hertz: listening", "addr", "http://"+*addr)

	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "hertz:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stop()
	if err := h.Shutdown(context.Background()); err != nil {
		slog.Warn("hertz: shutdown", "err", err)
	}
	slog.Info("hertz: stopped")
}

// register puts the routes on hertz's router.
func register(r *server.Hertz) {
	r.GET("/plaintext", plaintext)
	r.GET("/json", jsonHello)
	r.POST("/echo", echo)
	r.GET("/sleep", sleep)
}

func plaintext(_ context.Context, c *app.RequestContext) {
	c.SetContentType(routes.TextPlain)
	c.SetBodyString(routes.Hello)
}

func jsonHello(_ context.Context, c *app.RequestContext) {
	c.SetContentType(routes.JSON)
	c.SetBodyString(routes.HelloJSON)
}

func echo(_ context.Context, c *app.RequestContext) {
	if ct := c.Request.Header.ContentType(); len(ct) > 0 {
		c.SetContentTypeBytes(ct)
	}
	// The request body is valid until the handler returns; SetBody copies
	// it into the response's reused buffer.
	c.Response.SetBody(c.Request.Body())
}

func sleep(ctx context.Context, c *app.RequestContext) {
	ms := 0
	if v, ok := c.QueryArgs().PeekExists("ms"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > routes.MaxSleep {
			c.AbortWithMsg(routes.SleepError, consts.StatusBadRequest)
			return
		}
		ms = n
	}
	// ctx is the connection's context.
	if routes.Sleep(ms, ctx.Done()) {
		c.SetContentType(routes.TextPlain)
		c.SetBodyString(routes.Slept)
	}
}
