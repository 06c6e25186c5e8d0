// Command echo is the showcase server of streamhttp: one request handler
// written as a stream.Flow, served over plain TCP by the HTTP/1.1 server
// layer. It shows
//
//   - a handler that is a flow (stream.MapAsync), with a per-connection
//     parallelism knob and responses that complete out of order but leave in
//     request order (GET /sleep next to GET /plaintext);
//   - pipelining: up to -pipelining-limit requests of one connection are read
//     and handled before the first is answered;
//   - streamed bodies both ways: POST /echo sends the request body back chunk
//     by chunk as it arrives, GET /stream sends a long chunked response;
//   - the server's own answers: a panicking handler (GET /panic) gets a 500,
//     a response asking to close (GET /close) closes.
//
// Run it with
//
//	go run ./examples/echo -addr 127.0.0.1:8080
//
// and try curl http://127.0.0.1:8080/plaintext, or pipeline with
// h2load --h1 -m 16 -n 10000 -c 8 http://127.0.0.1:8080/plaintext.
// The routes are listed on echohandler.Handler. The captures under
// testdata/captures were recorded from this server (scripts/capture.sh).
//
// Until the Bind API exists, the accept loop is the few lines of serve.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/stream"
)

// shutdownGrace bounds how long a stopping server waits for its connections
// to close.
const shutdownGrace = 5 * time.Second

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	parallelism := flag.Int("parallelism", 1, "requests of one connection handled at once")
	pipelining := flag.Int("pipelining-limit", 16, "requests of one connection read before the first is answered (1 to 1024)")
	idle := flag.Duration("idle-timeout", 0, "close connections idle this long (0: the default, 60s)")
	reqTimeout := flag.Duration("request-timeout", 0, "answer 503 when a handler takes this long (0: the default, 20s)")
	headTimeout := flag.Duration("head-timeout", 0, "answer 408 when a request head takes this long to arrive (0: the default, 10s)")
	flag.Parse()
	if *parallelism < 1 {
		fmt.Fprintln(os.Stderr, "echo: -parallelism must be at least 1")
		os.Exit(2)
	}

	// The first SIGINT or SIGTERM stops the server gracefully; stop()
	// restores the default action, so a second one ends it at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
	slog.Info("echo: listening", "addr", "http://"+ln.Addr().String(),
		"parallelism", *parallelism, "pipelining-limit", *pipelining)
	settings := streamhttp.ServerSettings{
		PipeliningLimit: *pipelining,
		IdleTimeout:     *idle,
		RequestTimeout:  *reqTimeout,
		HeadTimeout:     *headTimeout,
	}
	if err := serve(ctx, ln, echohandler.Handler(*parallelism), settings, shutdownGrace); err != nil {
		slog.Error("echo: stopped", "err", err)
		os.Exit(1)
	}
	slog.Info("echo: stopped")
}

// serve accepts connections on ln and serves each in its own goroutine
// until ctx is cancelled; then it closes ln, cancels the connections (their
// ServeConn returns once they have flushed and closed) and waits for them,
// at most grace. It returns nil after a stop through ctx and the accept
// error otherwise.
func serve(ctx context.Context, ln net.Listener, handler stream.Flow[*streamhttp.Request, *streamhttp.Response], s streamhttp.ServerSettings, grace time.Duration) error {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Closing the listener is what unblocks Accept.
	stopAccept := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccept()

	var wg sync.WaitGroup
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
				ln.Close()
			}
			break
		}
		wg.Go(func() {
			if err := streamhttp.ServeConn(connCtx, c, handler, s); err != nil {
				slog.Debug("echo: connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		})
	}

	cancel()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		slog.Warn("echo: connections still closing after the grace period", "grace", grace)
	}
	if err != nil {
		return fmt.Errorf("echo: accept: %w", err)
	}
	return nil
}
