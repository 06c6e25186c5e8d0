//go:build unix

package streamhttp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// serveEntry is one of the ServeListener functions, with f as its handler.
type serveEntry struct {
	name  string
	serve func(ctx context.Context, ln net.Listener, f func(*Request) *Response, s ServerSettings) (*ServerBinding, error)
}

var serveEntries = []serveEntry{
	{"flow", func(ctx context.Context, ln net.Listener, f func(*Request) *Response, s ServerSettings) (*ServerBinding, error) {
		return ServeListener(ctx, ln, stream.Map(f), s)
	}},
	{"sync", ServeListenerSync},
	{"async", func(ctx context.Context, ln net.Listener, f func(*Request) *Response, s ServerSettings) (*ServerBinding, error) {
		return ServeListenerAsync(ctx, ln, asyncOf(f), 1, s)
	}},
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func closeBinding(t *testing.T, b *ServerBinding) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestServeListenerLimit: over a caller's listener, MaxConnections holds:
// the second connection is served only once the first has ended.
func TestServeListenerLimit(t *testing.T) {
	for _, e := range serveEntries {
		t.Run(e.name, func(t *testing.T) {
			release := make(chan struct{})
			entered := make(chan struct{}, 2)
			f := func(r *Request) *Response {
				entered <- struct{}{}
				<-release
				return hello(r)
			}
			b, err := e.serve(context.Background(), listenLoopback(t), f, ServerSettings{DisableSignals: true, MaxConnections: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer closeBinding(t, b)
			first, r1 := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			defer first.Close()
			<-entered
			second, r2 := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			defer second.Close()
			select {
			case <-entered:
				t.Fatal("the second connection was served while the first held the only slot")
			case <-time.After(100 * time.Millisecond):
			}
			release <- struct{}{}
			expectRaw(t, r1, rawResponse{200, false, "Hello, World!"})
			first.Close()
			<-entered
			release <- struct{}{}
			expectRaw(t, r2, rawResponse{200, false, "Hello, World!"})
		})
	}
}

// TestServeListenerParks: connections of a caller's TCP listener park.
func TestServeListenerParks(t *testing.T) {
	b, err := ServeListenerSync(context.Background(), listenLoopback(t), hello, ServerSettings{DisableSignals: true, ParkIdleAfter: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer closeBinding(t, b)
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	expectRaw(t, r, rawResponse{200, false, "Hello, World!"})
	waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
}

// TestServeListenerSignals: the binding over a caller's listener handles
// SIGTERM like BindAndHandle's.
func TestServeListenerSignals(t *testing.T) {
	b, err := ServeListenerSync(context.Background(), listenLoopback(t), hello, ServerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeBinding(t, b)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not end the binding")
	}
}

// TestListenConfigSetting: BindAndHandle binds with the ListenConfig of
// the settings, whose Control hook runs.
func TestListenConfigSetting(t *testing.T) {
	var called atomic.Bool
	lc := &net.ListenConfig{Control: func(string, string, syscall.RawConn) error {
		called.Store(true)
		return nil
	}}
	b := serveSync(t, hello, ServerSettings{ListenConfig: lc, ReusePort: true})
	if !called.Load() {
		t.Error("the ListenConfig's Control hook did not run")
	}
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	expectRaw(t, r, rawResponse{200, false, "Hello, World!"})
}

// TestReusePort: with ReusePort two bindings share an address and both
// serve; without it the second fails to bind.
func TestReusePort(t *testing.T) {
	first := serveSync(t, hello, ServerSettings{ReusePort: true})
	addr := first.LocalAddr().String()
	second, err := BindAndHandleSync(context.Background(), addr, hello, ServerSettings{DisableSignals: true, ReusePort: true})
	if err != nil {
		t.Fatalf("second bind with ReusePort: %v", err)
	}
	defer closeBinding(t, second)
	// The kernel spreads connections by their source port: new ones reach
	// both.
	for i := 0; first.Stats().TotalRequests == 0 || second.Stats().TotalRequests == 0; i++ {
		if i == 200 {
			t.Fatalf("200 connections did not reach both: %d and %d", first.Stats().TotalRequests, second.Stats().TotalRequests)
		}
		c, r := dialSend(t, first.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		expectRaw(t, r, rawResponse{200, true, "Hello, World!"})
		c.Close()
	}
	_, err = BindAndHandleSync(context.Background(), addr, hello, ServerSettings{DisableSignals: true})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("bind without ReusePort: %v, want EADDRINUSE", err)
	}
}
