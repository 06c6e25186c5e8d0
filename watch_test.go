package streamhttp

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// TestClientLeavesDuringHandler: a client that closes or resets its
// connection while the handler works (no byte moving either way) cancels
// the request's context within a second, in every way a handler can run.
func TestClientLeavesDuringHandler(t *testing.T) {
	ends := []struct {
		name string
		end  func(net.Conn)
	}{
		{"close", func(c net.Conn) { c.Close() }},
		{"reset", func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }},
	}
	modes := []struct {
		name string
		flow func(f func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response]
	}{
		{"sync", func(f func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response] {
			return stream.Map(func(r *Request) *Response { resp, _ := f(r.Context(), r); return resp })
		}},
		{"inline", func(f func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response] {
			return AsyncHandler(f, 1, 1)
		}},
		{"async", func(f func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response] {
			return AsyncHandler(f, 4, 4)
		}},
		{"handler 4", func(f func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response] {
			return handlerFlow(f, 4, 4)
		}},
	}
	for _, e := range ends {
		for _, m := range modes {
			t.Run(fmt.Sprintf("%s/%s", e.name, m.name), func(t *testing.T) {
				entered, cancelled := make(chan struct{}), make(chan time.Duration, 1)
				f := func(ctx context.Context, r *Request) (*Response, error) {
					close(entered)
					start := time.Now()
					select {
					case <-ctx.Done():
						cancelled <- time.Since(start)
					case <-time.After(5 * time.Second):
						cancelled <- -1
					}
					return respond(r).ForRequest(r), nil
				}
				client, done := dialTCP(t, m.flow(f), ServerSettings{PipeliningLimit: 4, Logger: quietSettings().Logger})
				io.WriteString(client, get("/"))
				<-entered
				e.end(client)
				if d := <-cancelled; d < 0 || d > 2*time.Second {
					t.Fatalf("the handler's context was cancelled after %v, want within a second of the client leaving", d)
				}
				<-done
			})
		}
	}
}
