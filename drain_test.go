package streamhttp

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// withHealth routes /health to HealthHandler and the rest to f.
func withHealth(f func(*Request) *Response) func(*Request) *Response {
	return func(r *Request) *Response {
		if r.URI.Path == "/health" {
			return HealthHandler(r)
		}
		return f(r)
	}
}

// TestDrain: the health check answers 200, then 503 with Connection: close
// once the binding drains, while other requests, on open connections and
// new ones, are served as before; Terminate ends it as usual.
func TestDrain(t *testing.T) {
	b := serveSync(t, withHealth(hello), ServerSettings{})
	c, r := dialSend(t, b.LocalAddr(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	expectRaw(t, r, rawResponse{200, false, "serving\n"})
	if b.Draining() {
		t.Fatal("Draining before Drain")
	}
	b.Drain()
	b.Drain() // a second call does nothing
	if !b.Draining() {
		t.Fatal("not Draining after Drain")
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
	expectRaw(t, r, rawResponse{200, false, "Hello, World!"}, rawResponse{503, true, "draining\n"})
	c.Close() // the server lingers until the client has read the close
	c2, r2 := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c2.Close()
	expectRaw(t, r2, rawResponse{200, false, "Hello, World!"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Terminate(ctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
}

// TestHealthWithoutBinding: a connection served on its own has no binding
// to drain: its health check says serving.
func TestHealthWithoutBinding(t *testing.T) {
	c, _ := dialTCP(t, stream.Map(withHealth(hello)), ServerSettings{})
	defer c.Close()
	c.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
	expectRaw(t, bufio.NewReader(c), rawResponse{200, false, "serving\n"})
}

// TestDrainThenTerminate: the health check says draining for the period,
// requests are served meanwhile, and the binding ends after it.
func TestDrainThenTerminate(t *testing.T) {
	b := serveSync(t, withHealth(hello), ServerSettings{})
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- b.DrainThenTerminate(context.Background(), 300*time.Millisecond) }()
	client := &http.Client{Timeout: 5 * time.Second}
	waitUntil(t, "draining", b.Draining)
	resp, err := client.Get("http://" + b.LocalAddr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("health %d while draining, want 503", resp.StatusCode)
	}
	resp, err = client.Get("http://" + b.LocalAddr().String() + "/")
	if err != nil {
		t.Fatalf("a request while draining: %v", err)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatalf("DrainThenTerminate: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("ended after %v, before the drain period", d)
	}
	<-b.Done()
}

// TestTerminateBetweenRequests: connections with no request in the
// handler when Terminate begins are not closed under a request on its way:
// one accepted just before answers its first request with Connection:
// close, an established one its next; one that sends nothing closes after
// the grace (HeadTimeout here).
func TestTerminateBetweenRequests(t *testing.T) {
	b := serveSync(t, hello, ServerSettings{HeadTimeout: 500 * time.Millisecond, ParkIdleAfter: -1})
	old, oldR := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer old.Close()
	expectRaw(t, oldR, rawResponse{200, false, "Hello, World!"})
	silent, silentR := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer silent.Close()
	expectRaw(t, silentR, rawResponse{200, false, "Hello, World!"})
	c, r := dialSend(t, b.LocalAddr(), "")
	defer c.Close()
	waitStats(t, b, "the new connection to be served", func(s Stats) bool { return s.OpenConnections == 3 })
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- b.Terminate(ctx)
	}()
	waitUntil(t, "Terminate to begin", b.terminatingNow)
	for _, conn := range []struct {
		c     net.Conn
		r     *bufio.Reader
		fresh bool
	}{{c, r, true}, {old, oldR, false}} {
		conn.c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		got := readRaw(t, conn.r)
		// A fresh connection's layer may start, and answer, before
		// Terminate's watcher has seen it: it then closes after the grace.
		if got.Status != 200 || got.Body != "Hello, World!" || (!got.Close && !conn.fresh) {
			t.Errorf("fresh %v: got %+v, want 200 with Connection: close", conn.fresh, got)
		}
		expectClosedSoon(t, conn.c, conn.r, time.Second)
	}
	expectClosedSoon(t, silent, silentR, 2*time.Second)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("the silent connection closed after %v, before the grace", d)
	}
	if err := <-done; err != nil {
		t.Fatalf("Terminate: %v", err)
	}
}
