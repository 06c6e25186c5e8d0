package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/exampletest"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// server is the example running on a free port for one test.
type server struct {
	url     string
	sseDone chan bool // an SSE handler returned: was its context done?
}

func start(t *testing.T) *server {
	t.Helper()
	s := &server{sseDone: make(chan bool, 4)}
	// Request reuse on, as the command's default.
	cfg := config{metrics: prometheus.NewRegistry(), sseDone: func(done bool) { s.sseDone <- done }, reuse: true}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *streamhttp.ServerBinding, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serveStreamHTTP(ctx, "127.0.0.1:0", cfg, func(b *streamhttp.ServerBinding) { ready <- b })
	}()
	select {
	case b := <-ready:
		s.url = "http://" + b.LocalAddr().String()
	case err := <-errc:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	return s
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// The router's plain routes, chi's middleware (gzip, recoverer), pprof and
// the metrics, all through the adapter.
func TestRoutes(t *testing.T) {
	s := start(t)
	c := client(t)
	type row struct {
		Status  int
		Gzipped bool
		Has     bool
	}
	cases := []struct {
		path, contains string
		want           row
	}{
		{"/hello", "Hello, World!", row{200, true, true}},
		{"/hello/chi", "Hello, chi!", row{200, true, true}},
		{"/panic", "", row{500, false, true}}, // chi's recoverer sends no body
		{"/nowhere", "404 page not found", row{404, true, true}},
		{"/debug/pprof/", "goroutine", row{200, true, true}},
		{"/debug/pprof/cmdline", "", row{200, false, true}},
		{"/metrics", "streamhttp_requests_total", row{200, true, true}},
		{"/sse?n=x", "n must be", row{400, true, true}},
	}
	for _, tc := range cases {
		resp, body := exampletest.Get(t, c, s.url+tc.path)
		got := row{resp.StatusCode, resp.Uncompressed, strings.Contains(body, tc.contains)}
		if tc.path == "/panic" {
			got.Gzipped = false // the recoverer answers without compression
		}
		if tc.path == "/debug/pprof/cmdline" {
			got.Gzipped = false // binary content type: not compressed
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s\nbody %.200q", tc.path, diff, body)
		}
	}
}

// The first server-sent event arrives while the handler still runs.
func TestSSEStreams(t *testing.T) {
	s := start(t)
	resp, err := client(t).Get(s.url + "/sse?n=3&ms=300")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "id: 0\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	select {
	case <-s.sseDone:
		t.Fatal("the first event arrived only after the handler ended")
	default:
	}
	rest, _ := io.ReadAll(br)
	if n := strings.Count(string(rest), "data: event"); n != 3 {
		t.Errorf("%d events after the first line: %q", n, rest)
	}
	<-s.sseDone
}

// A client that leaves ends the handler's context within a second.
func TestSSEClientLeaves(t *testing.T) {
	s := start(t)
	resp, err := client(t).Get(s.url + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	left := time.Now()
	resp.Body.Close() // unread: the transport closes the connection
	select {
	case ctxDone := <-s.sseDone:
		if !ctxDone {
			t.Error("the handler returned, but its context was not done")
		}
		t.Logf("handler done %v after the client left", time.Since(left).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("the handler was still running 1 s after the client left")
	}
}

// A streamhttp handler mounted in chi (nethttp.ToHTTP) behind the adapter
// (nethttp.Handler): both directions at once, streaming. Each line comes
// back before the next is sent. chi's gzip leaves text/plain alone when the
// client does not ask for it.
func TestMountedStreamHTTPHandler(t *testing.T) {
	s := start(t)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.url+"/upper", pr)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, line := range []string{"one\n", "two\n"} {
		pw.Write([]byte(line))
		got, err := br.ReadString('\n')
		if err != nil || got != strings.ToUpper(line) {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("rest %q", rest)
	}
}

// rss is the process's resident set size in bytes (Linux), or -1.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// A slow reader of a 100 MB response: the server holds the handler back
// instead of buffering, so the process's memory grows by far less than
// the response. Client and server share the process; the client reads
// into one small buffer.
func TestSlowReaderBoundedMemory(t *testing.T) {
	if rss() < 0 {
		t.Skip("no /proc/self/status")
	}
	s := start(t)
	resp, err := client(t).Get(s.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	base := rss()
	var peak, total int64
	p := make([]byte, 64<<10)
	for i := 0; ; i++ {
		n, err := resp.Body.Read(p)
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%16 == 0 {
			peak = max(peak, rss()-base)
		}
		if i%2 == 0 {
			time.Sleep(time.Millisecond) // about 64 MB/s: slower than the server could send
		}
	}
	if total != 100<<20 {
		t.Errorf("read %d bytes", total)
	}
	t.Logf("RSS grew by at most %d KiB while 100 MiB went through", peak>>10)
	if peak > 32<<20 {
		t.Errorf("RSS grew by %d MiB for a 100 MiB response to a slow reader", peak>>20)
	}
}

// A WebSocket echo through coder/websocket, client and server; the server
// hijacks after WriteHeader(101). The handler's context stays alive while
// the socket is open (it reads with it).
func TestWebSocketEchoCoder(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := cws.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/ws-coder", &cws.DialOptions{HTTPClient: client(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, m := range []string{"hello", strings.Repeat("xyz", 50000)} {
		if err := c.Write(ctx, cws.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != m {
			t.Errorf("echo of %d bytes: got %d bytes", len(m), len(data))
		}
	}
	if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
		t.Errorf("close handshake: %v", err)
	}
}

// A WebSocket echo through gorilla/websocket, served through the
// adapter's Hijack.
func TestWebSocketEcho(t *testing.T) {
	s := start(t)
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if resp.StatusCode != 101 {
		t.Errorf("status %d", resp.StatusCode)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	msgs := []struct {
		kind int
		data []byte
	}{
		{websocket.TextMessage, []byte("hello")},
		{websocket.BinaryMessage, bytes.Repeat([]byte{0, 1, 2}, 30000)},
		{websocket.TextMessage, []byte("bye")},
	}
	for _, m := range msgs {
		if err := ws.WriteMessage(m.kind, m.data); err != nil {
			t.Fatal(err)
		}
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if kind != m.kind || !bytes.Equal(data, m.data) {
			t.Errorf("echo of %d bytes: got kind %d, %d bytes", len(m.data), kind, len(data))
		}
	}
	// The close handshake.
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("after close: %v", err)
	}
}
