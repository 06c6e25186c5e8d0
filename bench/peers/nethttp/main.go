// Command nethttp is the net/http peer of the load benchmark
// (scripts/bench.sh): the routes of examples/echo that the benchmark
// drives, served by the standard library's http.Server, so that the
// streamhttp echo server has a baseline to be compared with.
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
//	go run ./nethttp -addr 127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// The same bodies and limits as internal/echohandler, spelled out again:
// this module does not import the main one, so that the comparison is
// between servers only.
const (
	hello     = "Hello, World!"
	helloJSON = `{"message":"Hello, World!"}`
	maxSleep  = 60000
	maxBody   = 8 << 20
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{
		Addr:              *addr,
		Handler:           routes(),
		ReadHeaderTimeout: 10 * time.Second,
		// net/http logs every failed connection; under load that is noise.
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("nethttp: listening", "addr", "http://"+*addr)

	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Idle keep-alive connections are closed by Shutdown; a timeout
		// here means requests were still running.
		slog.Warn("nethttp: shutdown", "err", err)
	}
	slog.Info("nethttp: stopped")
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /plaintext", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		io.WriteString(w, hello)
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		io.WriteString(w, helloJSON)
	})
	mux.HandleFunc("POST /echo", echo)
	mux.HandleFunc("GET /sleep", sleep)
	return mux
}

// echo reads the whole request body before writing: net/http may stop
// HTTP/1.x request body reads once the response has started.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "the body is too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "the body could not be read", http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func sleep(w http.ResponseWriter, r *http.Request) {
	ms := 0
	if s := r.URL.Query().Get("ms"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxSleep {
			http.Error(w, fmt.Sprintf("ms must be an integer from 0 to %d", maxSleep), http.StatusBadRequest)
			return
		}
		ms = v
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		io.WriteString(w, "slept")
	case <-r.Context().Done():
	}
}
