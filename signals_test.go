//go:build unix

package streamhttp

import (
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestHandleSignals: SIGTERM terminates a binding gracefully (a request in
// flight is answered once its handler returns), SIGINT closes it at once
// (the handler's context ends, and the connection with it).
func TestHandleSignals(t *testing.T) {
	cases := []struct {
		sig      syscall.Signal
		answered bool // the request in flight gets its response
	}{
		{syscall.SIGTERM, true},
		{syscall.SIGINT, false},
	}
	for _, tc := range cases {
		t.Run(tc.sig.String(), func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			h := func(ctx context.Context, r *Request) (*Response, error) {
				close(entered)
				select {
				case <-release:
				case <-ctx.Done():
				}
				return hello(r), nil
			}
			b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", h, 1, ServerSettings{DisableSignals: true})
			if err != nil {
				t.Fatal(err)
			}
			stop := b.HandleSignals()
			defer stop()
			c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			defer c.Close()
			<-entered
			if err := syscall.Kill(syscall.Getpid(), tc.sig); err != nil {
				t.Fatal(err)
			}
			if tc.answered {
				// The signal is on its way: the connection drains.
				waitUntil(t, "the connection to drain", func() bool {
					b.mu.Lock()
					terminating := b.terminating
					b.mu.Unlock()
					return terminating && len(b.connsWhere(func(c *IncomingConnection) bool { return !c.drained })) == 0
				})
				close(release)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("the request in flight: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || !resp.Close {
					t.Errorf("got %d close=%v, want 200 with Connection: close", resp.StatusCode, resp.Close)
				}
			} else {
				defer close(release)
				// The handler is not waited for: its context ends and the
				// connection closes (with whatever it answered by then).
				if _, err := io.ReadAll(r); err != nil {
					t.Errorf("reading to the end: %v", err)
				}
			}
			select {
			case <-b.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the binding did not end")
			}
		})
	}
}

// TestSignalDrains: with a DrainPeriod, SIGTERM drains first (the health
// check answers 503, requests are served), then terminates.
func TestSignalDrains(t *testing.T) {
	b, err := BindAndHandleSync(context.Background(), "127.0.0.1:0", withHealth(hello),
		ServerSettings{DisableSignals: true, DrainPeriod: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := b.HandleSignals()
	defer stop()
	start := time.Now()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "draining", b.Draining)
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	expectRaw(t, r, rawResponse{200, false, "Hello, World!"}, rawResponse{503, true, "draining\n"})
	c.Close() // the server lingers until the client has read the close
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the binding did not end")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("ended after %v, before the drain period", d)
	}
}
