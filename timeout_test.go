package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// timeout503 is the server's answer to a request the handler did not answer
// in time.
var timeout503 = text("503 Service Unavailable", "Connection: close\r\n", "Service Unavailable: the server did not answer in time\n")

// sleepy answers after sleeping for the duration in the X-Sleep field.
func sleepy(r *Request) *Response {
	if d, err := time.ParseDuration(r.Header.Get("X-Sleep")); err == nil {
		time.Sleep(d)
	}
	return respond(r)
}

// sleepGet is a GET whose handler takes d to answer.
func sleepGet(target string, d time.Duration) string {
	return "GET " + target + " HTTP/1.1\r\nHost: x\r\nX-Sleep: " + d.String() + "\r\n\r\n"
}

// TestRequestTimeout checks that a request not answered within
// RequestTimeout gets a 503 (or the TimeoutResponse), that the handler's
// late answer is dropped and that the connection closes, with synchronous
// and asynchronous handlers. The time is a synctest bubble's.
func TestRequestTimeout(t *testing.T) {
	handlers := []struct {
		name    string
		handler stream.Flow[*Request, *Response]
	}{
		{"sync", stream.Map(sleepy)},
		{"async", stream.MapAsync(4, func(_ context.Context, r *Request) (*Response, error) { return sleepy(r), nil })},
	}
	custom := func(r *Request) *Response {
		return httpcore.Text(httpcore.StatusGatewayTimeout, "too slow: "+r.Target)
	}
	cases := []struct {
		name    string
		timeout func(*Request) *Response
		in      string
		want    string
	}{
		{"in time", nil, sleepGet("/a", 40*time.Millisecond) + get("/b"), ok("/a") + ok("/b")},
		{"late", nil, sleepGet("/a", 60*time.Millisecond) + get("/b"), timeout503},
		{"late after an answer", nil, get("/a") + sleepGet("/b", time.Second) + get("/c"), ok("/a") + timeout503},
		{"TimeoutResponse", custom, sleepGet("/a", 60*time.Millisecond),
			text("504 Gateway Timeout", "Connection: close\r\n", "too slow: /a")},
	}
	for _, h := range handlers {
		for _, tc := range cases {
			t.Run(h.name+" "+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := quietSettings()
					s.RequestTimeout = 50 * time.Millisecond
					s.TimeoutResponse = tc.timeout
					got, err := runLayer(t, s, h.handler, tc.in)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("output (-want +got):\n%s", diff)
					}
				})
			})
		}
	}
}

// TestRequestTimeoutBlockedHandler checks that a handler that blocks does
// not hold back the 503: the client reads it and the end of the
// connection while the handler still blocks.
func TestRequestTimeoutBlockedHandler(t *testing.T) {
	handlers := []struct {
		name    string
		handler func(release <-chan struct{}) stream.Flow[*Request, *Response]
	}{
		{"sync", func(release <-chan struct{}) stream.Flow[*Request, *Response] {
			return stream.Map(func(r *Request) *Response { return blockOn(release, r) })
		}},
		{"async", func(release <-chan struct{}) stream.Flow[*Request, *Response] {
			return stream.MapAsync(4, func(_ context.Context, r *Request) (*Response, error) { return blockOn(release, r), nil })
		}},
	}
	for _, tr := range transports {
		for _, h := range handlers {
			t.Run(tr.name+" "+h.name, func(t *testing.T) {
				s := quietSettings()
				s.RequestTimeout = 50 * time.Millisecond
				s.LingerTimeout = 100 * time.Millisecond
				release := make(chan struct{})
				c, done := tr.dial(t, h.handler(release), s)
				br := bufio.NewReader(c)
				go io.WriteString(c, get("/a")+get("/block"))
				expectResponse(t, br, ok("/a"))
				expectResponse(t, br, timeout503)
				expectEOF(t, c, br)
				select {
				case err := <-done:
					t.Fatalf("ServeConn returned (%v) while the handler blocks", err)
				default:
				}
				close(release)
				if err := <-done; err != nil {
					t.Errorf("ServeConn: %v", err)
				}
			})
		}
	}
}

// TestRequestTimeoutCancelsContext checks that a request timeout on a
// served connection cancels the requests' context, so that a handler that
// waits on it returns and the connection ends by itself.
func TestRequestTimeoutCancelsContext(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cause := make(chan error, 1)
			handler := stream.MapAsync(1, func(_ context.Context, r *Request) (*Response, error) {
				<-r.Context().Done()
				cause <- context.Cause(r.Context())
				return respond(r), nil
			})
			s := quietSettings()
			s.RequestTimeout = 50 * time.Millisecond
			s.LingerTimeout = 100 * time.Millisecond
			c, done := tr.dial(t, handler, s)
			br := bufio.NewReader(c)
			go io.WriteString(c, get("/a"))
			expectResponse(t, br, timeout503)
			expectEOF(t, c, br)
			if err := <-done; err != nil {
				t.Errorf("ServeConn: %v", err)
			}
			// The 503 ends the request (its context is cancelled), and the
			// connection's end follows; whichever comes first is the cause.
			if err := <-cause; !errors.Is(err, context.Canceled) && !errors.Is(err, errAborted) {
				t.Errorf("the request's context ended with %v, want its cancellation", err)
			}
		})
	}
}

// blockOn answers r, after release is closed for /block.
func blockOn(release <-chan struct{}, r *Request) *Response {
	if r.URI.Path == "/block" {
		<-release
	}
	return respond(r)
}

// TestSetTimeout checks Request.SetTimeout: a longer timeout than
// RequestTimeout, a shorter one, and none at all.
func TestSetTimeout(t *testing.T) {
	cases := []struct {
		name     string
		def      time.Duration
		override time.Duration
		sleep    time.Duration
		want     string
	}{
		{"longer, in time", 50 * time.Millisecond, 200 * time.Millisecond, 150 * time.Millisecond, ok("/a")},
		{"longer, late", 50 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, timeout503},
		{"none", 50 * time.Millisecond, -1, time.Second, ok("/a")},
		// The timer ticks at a tenth of RequestTimeout, at most every
		// second: a shorter timeout is noticed at the next tick.
		{"shorter, late", 2 * time.Second, 50 * time.Millisecond, time.Second, timeout503},
		{"shorter, in time", 2 * time.Second, 50 * time.Millisecond, 40 * time.Millisecond, ok("/a")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				handler := stream.MapAsync(1, func(_ context.Context, r *Request) (*Response, error) {
					r.SetTimeout(tc.override)
					time.Sleep(tc.sleep)
					return respond(r), nil
				})
				s := quietSettings()
				s.RequestTimeout = tc.def
				got, err := runLayer(t, s, handler, get("/a"))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRequestTimeoutAfterBody checks that the request timeout counts from
// the end of the request body: a slow upload does not time out while it
// arrives, a handler that is slow after it does.
func TestRequestTimeoutAfterBody(t *testing.T) {
	cases := []struct {
		name  string
		sleep time.Duration // the handler's, after reading the body
		want  string
	}{
		{"answered after a slow upload", 0, text("200 OK", "", "0123456789")},
		{"late after the upload", 60 * time.Millisecond, timeout503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				in := []string{post("/read", 10), "01", "23", "45", "67", "89"}
				var n atomic.Int32
				// Each piece of the body takes 40 ms to arrive: 200 ms in
				// all, four times the timeout.
				src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] {
					return &funcPuller{
						pull: func() ([]byte, error) {
							i := int(n.Add(1)) - 1
							if i >= len(in) {
								return nil, stream.EOS
							}
							if i > 0 {
								time.Sleep(40 * time.Millisecond)
							}
							return []byte(in[i]), nil
						},
						cancel: func(error) {},
					}
				})
				handler := stream.MapAsync(1, func(_ context.Context, r *Request) (*Response, error) {
					resp := bodyHandler(r)
					time.Sleep(tc.sleep)
					return resp, nil
				})
				s := quietSettings()
				s.RequestTimeout = 50 * time.Millisecond
				out, err := stream.RunWith(context.Background(), stream.Via(src, layerFlow(s, handler)),
					stream.Fold("", func(acc string, p []byte) string { return acc + normalize(p) }))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, out); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			})
		})
	}
}
