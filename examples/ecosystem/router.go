package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	cws "github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/nethttp"
	"github.com/streamhttp/streamhttp/stream"
)

// config is what the router needs from its surroundings.
type config struct {
	// logTo receives chi's request log lines; nil: none.
	logTo io.Writer
	// metrics is the registry served under /metrics.
	metrics *prometheus.Registry
	// sseDone, if not nil, is called when an SSE handler returns, with
	// whether its request's context had ended (tests watch it).
	sseDone func(ctxDone bool)
	// reuse: streamhttp reuses the memory of requests once answered
	// (nethttp.Options.ReuseRequests, ServerSettings.ReuseRequests).
	reuse bool
}

// Limits of the demo routes: a bad query gets 400, never a huge response.
const (
	maxSSEEvents = 10000
	maxBigMB     = 1024
)

// newRouter builds the chi router the example serves: plain routes, SSE,
// a large download, a WebSocket echo, pprof and Prometheus metrics, behind
// chi's logger, recoverer and compression middleware. Nothing in it knows
// about streamhttp: net/http can serve it just as well (scripts/bench-ecosystem.sh
// compares the two).
func newRouter(cfg config) http.Handler {
	r := chi.NewRouter()
	if cfg.logTo != nil {
		r.Use(middleware.RequestLogger(&middleware.DefaultLogFormatter{Logger: log.New(cfg.logTo, "", log.LstdFlags), NoColor: true}))
	}
	r.Use(middleware.Recoverer)
	r.Use(middleware.Compress(5))

	r.Get("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, World!")
	})
	r.Get("/hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, "+chi.URLParam(r, "name")+"!")
	})
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) { panic("the demo panics") })
	r.Get("/sse", func(w http.ResponseWriter, r *http.Request) { sse(w, r, cfg.sseDone) })
	r.Get("/big", big)
	r.Get("/ws", wsEcho)
	r.Get("/ws-coder", wsEchoCoder)
	// A streamhttp handler mounted in chi (nethttp.ToHTTP): it streams the
	// request body back upper-cased, chunk by chunk, as it arrives.
	r.Handle("/upper", nethttp.ToHTTP(upper))

	r.HandleFunc("/debug/pprof/*", pprof.Index)
	r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	r.HandleFunc("/debug/pprof/profile", pprof.Profile)
	r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	r.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if cfg.metrics != nil {
		r.Handle("/metrics", promhttp.HandlerFor(cfg.metrics, promhttp.HandlerOpts{}))
	}
	return r
}

// queryInt reads a whole number from the query: def when absent, an
// error when malformed or outside 0..limit.
func queryInt(r *http.Request, name string, def, limit int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%s must be a whole number from 0 to %d", name, limit)
	}
	return n, nil
}

// sse sends n server-sent events (default: until the client leaves), one
// every ms milliseconds (default 100), each flushed at once.
func sse(w http.ResponseWriter, r *http.Request, done func(bool)) {
	if done != nil {
		defer func() { done(r.Context().Err() != nil) }()
	}
	n, err := queryInt(r, "n", maxSSEEvents, maxSSEEvents)
	if err == nil {
		var ms int
		ms, err = queryInt(r, "ms", 100, 60000)
		if err == nil {
			sseLoop(w, r, n, time.Duration(ms)*time.Millisecond)
			return
		}
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func sseLoop(w http.ResponseWriter, r *http.Request, n int, every time.Duration) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(w, "id: %d\ndata: event %d\n\n", i, i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if i == n-1 {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// big sends mb megabytes (default 100) of a repeating pattern, in 32 KiB
// writes: a slow client holds the handler back (backpressure), it does
// not pile up in memory.
func big(w http.ResponseWriter, r *http.Request) {
	mb, err := queryInt(r, "mb", 100, maxBigMB)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(mb<<20))
	p := make([]byte, 32<<10)
	for i := range p {
		p[i] = byte(i)
	}
	for range mb << 20 / len(p) {
		if _, err := w.Write(p); err != nil {
			return
		}
	}
}

// wsEchoCoder is wsEcho with coder/websocket, which sets its 101 with
// WriteHeader before it hijacks (gorilla writes its own on the raw
// connection): both paths of the adapter's Hijack.
func wsEchoCoder(w http.ResponseWriter, r *http.Request) {
	c, err := cws.Accept(w, r, &cws.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	for {
		mt, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, mt, msg); err != nil {
			return
		}
	}
}

// upper is a streamhttp handler: the request entity's data, mapped, is the
// response entity's.
func upper(_ context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
	if r.Entity == nil {
		return httpcore.Text(httpcore.StatusBadRequest, "POST a body\n"), nil
	}
	data := stream.Via(r.Entity.DataBytes(), stream.Map(bytes.ToUpper))
	return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain; charset=utf-8", data)), nil
}

// upgrader accepts WebSocket handshakes from any origin (a demo).
var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// wsEcho sends every WebSocket message back, as it came.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	defer c.Close()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}
