// Command nethttp is the net/http peer of the load benchmark
// (scripts/bench.sh): the routes of examples/echo that the benchmark
// drives, served by the standard library's http.Server, written for speed:
// one handler that switches on the path instead of a ServeMux pattern
// match, header values shared instead of built per request, the echo body
// read into a pooled buffer, and the server's default settings (no
// timeouts, as http.Server has none by default). What still allocates per
// request is what the net/http API forces: the Request, its Header map and
// the response state.
//
// Routes:
//
//	GET  /plaintext   200 text/plain "Hello, World!"
//	GET  /json        200 application/json {"message":"Hello, World!"}
//	POST /echo        the request body back, with its Content-Type
//	GET  /sleep?ms=N  "slept" after N ms (0..60000, else 400)
//	GET  /stream?n=N&size=S  N chunks of S bytes (N <= 10000, S <= 1 MiB),
//	                  for the hostile-client run (scripts/hostile.sh)
//
// Other paths get 404, other methods on these paths 405.
//
// SIGTERM and SIGINT both shut it down gracefully, within
// -shutdown-timeout. The hostile-client run also sets
// -read-header-timeout (as streamhttp's HeadTimeout) and -debug-addr,
// where net/http/pprof serves the goroutine count.
//
// Run it with
//
//	go run ./nethttp -addr 127.0.0.1:8081
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // for -debug-addr: on http.DefaultServeMux only
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
)

// Header values shared by every response: net/http only reads them, so
// one slice serves all requests instead of one built per request.
var (
	textPlain = []string{routes.TextPlain}
	appJSON   = []string{routes.JSON}
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	shutdown := flag.Duration("shutdown-timeout", 5*time.Second, "deadline of the graceful shutdown on SIGTERM or SIGINT")
	readHeader := flag.Duration("read-header-timeout", 0, "http.Server.ReadHeaderTimeout (0: none, the default)")
	debugAddr := flag.String("debug-addr", "", "serve net/http/pprof on this address (empty: not at all)")
	reusePort := flag.Bool("reuse-port", false, "bind with SO_REUSEPORT (Linux), beside another process on the same address")
	takeover := flag.Int("takeover", 0, "once accepting, send SIGTERM to this process id (a restart over SO_REUSEPORT; scripts/handover.sh)")
	h2c := flag.Bool("h2c", false, "serve HTTP/2 with prior knowledge as well (Protocols with UnencryptedHTTP2), on the same port")
	flag.Parse()
	if *debugAddr != "" {
		go func() {
			err := http.ListenAndServe(*debugAddr, http.DefaultServeMux)
			fmt.Fprintln(os.Stderr, "nethttp: debug listener:", err)
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{
		Addr:    *addr,
		Handler: http.HandlerFunc(handle),
		// Off unless asked for: http.Server's default.
		ReadHeaderTimeout: *readHeader,
		// net/http logs every failed connection; under load that is noise.
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
	}
	var lc net.ListenConfig
	if *reusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf, 1) // SO_REUSEPORT on Linux
			})
			return errors.Join(err, serr)
		}
	}
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	}
	if *h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("nethttp: listening", "addr", "http://"+*addr, "pid", os.Getpid())
	if *takeover > 0 {
		if p, err := os.FindProcess(*takeover); err == nil {
			p.Signal(syscall.SIGTERM)
		}
	}

	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Idle keep-alive connections are closed by Shutdown; a timeout
		// here means requests were still running.
		slog.Warn("nethttp: shutdown", "err", err)
	}
	slog.Info("nethttp: stopped")
}

// handle routes on the path, then checks the method.
func handle(w http.ResponseWriter, r *http.Request) {
	var want string
	switch r.URL.Path {
	case "/plaintext":
		if want = http.MethodGet; r.Method == want {
			w.Header()["Content-Type"] = textPlain
			io.WriteString(w, routes.Hello)
			return
		}
	case "/json":
		if want = http.MethodGet; r.Method == want {
			w.Header()["Content-Type"] = appJSON
			io.WriteString(w, routes.HelloJSON)
			return
		}
	case "/echo":
		if want = http.MethodPost; r.Method == want {
			echo(w, r)
			return
		}
	case "/sleep":
		if want = http.MethodGet; r.Method == want {
			sleep(w, r)
			return
		}
	case "/stream":
		if want = http.MethodGet; r.Method == want {
			streamChunks(w, r)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header()["Allow"] = []string{want}
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// streamChunks writes n chunks of size bytes of a repeating pattern, as
// examples/echo's GET /stream does: one slice serves every chunk, and the
// response is chunked (no Content-Length).
func streamChunks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, ok1 := intParam(q.Get("n"), 10, 10000)
	size, ok2 := intParam(q.Get("size"), 64, 1<<20)
	if !ok1 || !ok2 {
		http.Error(w, "n must be 0..10000 and size 0..1048576", http.StatusBadRequest)
		return
	}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	w.Header()["Content-Type"] = []string{"application/octet-stream"}
	for range n {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// intParam parses a query value: def when empty, ok false when it is not
// an integer from 0 to limit.
func intParam(s string, def, limit int) (v int, ok bool) {
	if s == "" {
		return def, true
	}
	v, err := strconv.Atoi(s)
	return v, err == nil && v >= 0 && v <= limit
}

// bufs holds the echo route's body buffers, so that a body is not read
// into a fresh, growing slice per request.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// errTooLarge: a request body past routes.MaxBody.
var errTooLarge = errors.New("nethttp: the body is too large")

// echo reads the whole request body before writing: net/http may stop
// HTTP/1.x request body reads once the response has started.
func echo(w http.ResponseWriter, r *http.Request) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	body, err := readAll(r.Body, (*bp)[:0], r.ContentLength, routes.MaxBody)
	*bp = body[:0]
	if err != nil {
		if errors.Is(err, errTooLarge) {
			w.Header()["Connection"] = []string{"close"}
			http.Error(w, "the body is too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "the body could not be read", http.StatusBadRequest)
		return
	}
	h := w.Header()
	// The request's own header values, shared rather than copied: the
	// request outlives the response.
	if ct := r.Header["Content-Type"]; len(ct) > 0 {
		h["Content-Type"] = ct[:1]
	}
	// A Content-Length spares the chunked encoding net/http would use for a
	// body past its 2 KiB buffer; the request's own value is the right one
	// when the whole body came.
	if cl := r.Header["Content-Length"]; len(cl) == 1 && r.ContentLength == int64(len(body)) {
		h["Content-Length"] = cl
	} else {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.Write(body)
}

// readAll appends what r yields to buf until EOF and returns errTooLarge
// past limit bytes, without the reader http.MaxBytesReader would allocate
// per request. A known length (size >= 0) is checked before reading.
func readAll(r io.Reader, buf []byte, size, limit int64) ([]byte, error) {
	if size > limit {
		return buf, errTooLarge
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func sleep(w http.ResponseWriter, r *http.Request) {
	ms, ok := msParam(r.URL.RawQuery)
	if !ok {
		http.Error(w, routes.SleepError, http.StatusBadRequest)
		return
	}
	if routes.Sleep(ms, r.Context().Done()) {
		w.Header()["Content-Type"] = textPlain
		io.WriteString(w, routes.Slept)
	}
}

// msParam finds ms in a raw query without building url.Values (a map per
// request); no ms means 0. ok is false for a value that is not a whole
// number from 0 to routes.MaxSleep.
func msParam(query string) (ms int, ok bool) {
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "ms" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > routes.MaxSleep {
			return 0, false
		}
		return n, true
	}
	return 0, true
}
