// Command ecosystem serves a chi router, with the Go ecosystem around it, on
// streamhttp through the nethttp adapter: chi's logger, recoverer and
// compression middleware; net/http/pprof under /debug/pprof/; Prometheus
// metrics of the binding's statistics under /metrics (promhttp);
// server-sent events under /sse (one flushed event every 100 ms); a
// 100 MB download under /big; WebSocket echoes under /ws (gorilla/websocket)
// and /ws-coder (coder/websocket), through the adapter's Hijack; and under
// /upper a streamhttp handler mounted in chi with nethttp.ToHTTP, which
// streams a POSTed body back upper-cased.
//
//	go run . -addr 127.0.0.1:8080
//	curl -N http://127.0.0.1:8080/sse?n=5
//	curl http://127.0.0.1:8080/metrics
//
// With -server nethttp the same router is served by net/http instead, for
// comparison (scripts/bench-ecosystem.sh).
//
// It is a module of its own, so that chi, gorilla/websocket and Prometheus
// never enter the streamhttp module.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/nethttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	server := flag.String("server", "streamhttp", "streamhttp, or nethttp to serve the same router with net/http")
	quiet := flag.Bool("quiet", false, "no request log (for load runs)")
	reuse := flag.Bool("reuse-requests", true, "streamhttp: reuse the memory of requests once answered (the router's handlers keep nothing of a request after they return)")
	flag.Parse()
	cfg := config{metrics: prometheus.NewRegistry(), reuse: *reuse}
	if !*quiet {
		cfg.logTo = os.Stderr
	}
	var err error
	switch *server {
	case "streamhttp":
		err = serveStreamHTTP(context.Background(), *addr, cfg, func(b *streamhttp.ServerBinding) {
			slog.Info("ecosystem: listening (streamhttp)", "url", "http://"+b.LocalAddr().String()+"/")
		})
	case "nethttp":
		err = serveNetHTTP(*addr, cfg)
	default:
		err = fmt.Errorf("-server is streamhttp or nethttp, not %q", *server)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecosystem:", err)
		os.Exit(1)
	}
}

// serveStreamHTTP binds addr and serves the router through the adapter
// until ctx ends or the process gets SIGINT or SIGTERM (the binding's own
// signal handling); ready gets the binding once it is bound.
func serveStreamHTTP(ctx context.Context, addr string, cfg config, ready func(*streamhttp.ServerBinding)) error {
	var binding atomic.Pointer[streamhttp.ServerBinding]
	if cfg.metrics != nil {
		cfg.metrics.MustRegister(newStatsCollector(func() (streamhttp.Stats, bool) {
			b := binding.Load()
			if b == nil {
				return streamhttp.Stats{}, false
			}
			return b.Stats(), true
		}))
	}
	// With cfg.reuse, the adapter and the server reuse the memory of a
	// request once it is answered: no handler of the router keeps a
	// request past its return (the WebSocket ones hijack, and hijacked
	// requests are never reused).
	h := nethttp.Handler(newRouter(cfg), nethttp.Options{ReuseRequests: cfg.reuse})
	// /debug/pprof/profile and /trace answer only after their 30 s of
	// sampling, and the server answers 503 to a handler that has not
	// started its response within RequestTimeout (20 s by default).
	s := streamhttp.ServerSettings{DisableSignals: true, ReuseRequests: cfg.reuse, RequestTimeout: 2 * time.Minute}
	b, err := streamhttp.BindAndHandleAsync(ctx, addr, h, 1, s)
	if err != nil {
		return err
	}
	binding.Store(b)
	if ready != nil {
		ready(b)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	select {
	case <-stop:
		tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return b.Terminate(tctx)
	case <-ctx.Done():
		b.Wait()
		return nil
	case <-b.Done():
		return b.Err()
	}
}

// serveNetHTTP serves the same router with net/http, for comparison.
func serveNetHTTP(addr string, cfg config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	slog.Info("ecosystem: listening (net/http)", "url", "http://"+ln.Addr().String()+"/")
	return http.Serve(ln, newRouter(cfg))
}
