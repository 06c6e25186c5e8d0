package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/google/go-cmp/cmp"
)

type result struct {
	Status int
	Type   string
	Body   string
}

func newEngine() *server.Hertz {
	h := server.New(server.WithDisablePrintRoute(true), server.WithMaxRequestBodySize(maxBody))
	routes(h)
	return h
}

// serve runs the engine's router and handlers on a request made of
// method, uri, content type and body, on c (reused by the caller when it
// measures allocations).
func serve(h *server.Hertz, c *app.RequestContext, method, uri, ct, body string) {
	c.ResetWithoutConn()
	c.Request.Header.SetMethod(method)
	c.Request.SetRequestURI(uri)
	if ct != "" {
		c.Request.Header.SetContentTypeBytes([]byte(ct))
	}
	if body != "" {
		c.Request.SetBodyString(body)
	}
	h.ServeHTTP(context.Background(), c)
}

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors, through hertz's router.
func TestRoutes(t *testing.T) {
	body4k := strings.Repeat("0123456789abcdef", 256)
	tests := []struct {
		name, method, uri, ct, body string
		want                        result
	}{
		{"plaintext", "GET", "/plaintext", "", "", result{200, "text/plain; charset=utf-8", hello}},
		{"json", "GET", "/json", "", "", result{200, "application/json", helloJSON}},
		{"echo", "POST", "/echo", "application/octet-stream", body4k, result{200, "application/octet-stream", body4k}},
		{"sleep", "GET", "/sleep?ms=1", "", "", result{200, "text/plain; charset=utf-8", "slept"}},
		{"sleep without ms", "GET", "/sleep", "", "", result{200, "text/plain; charset=utf-8", "slept"}},
		{"sleep too long", "GET", "/sleep?ms=60001", "", "", result{400, "text/plain; charset=utf-8", "ms must be an integer from 0 to 60000"}},
		{"sleep not a number", "GET", "/sleep?ms=-1", "", "", result{400, "text/plain; charset=utf-8", "ms must be an integer from 0 to 60000"}},
		{"unknown path", "GET", "/nope", "", "", result{404, "text/plain", "Not Found"}},
	}
	h := newEngine()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.NewContext()
			serve(h, c, tt.method, tt.uri, tt.ct, tt.body)
			got := result{c.Response.StatusCode(), string(c.Response.Header.ContentType()), string(c.Response.Body())}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.uri, diff)
			}
		})
	}
}

// TestNoAllocs: the benchmarked handlers allocate nothing once the
// context's buffers have grown. They are called directly: hertz's router
// itself allocates once per request (Engine.ServeHTTP converts the path to
// a string), which no handler can spare.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	body4k := strings.Repeat("0123456789abcdef", 256)
	tests := []struct {
		method, uri, ct, body, want string
		handler                     app.HandlerFunc
	}{
		{"GET", "/plaintext", "", "", hello, plaintext},
		{"GET", "/json", "", "", helloJSON, jsonHello},
		{"POST", "/echo", "application/octet-stream", body4k, body4k, echo},
	}
	h := newEngine()
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			c := h.NewContext()
			c.Request.Header.SetMethod(tt.method)
			c.Request.SetRequestURI(tt.uri)
			if tt.ct != "" {
				c.Request.Header.SetContentTypeBytes([]byte(tt.ct))
			}
			c.Request.SetBodyString(tt.body)
			run := func() {
				c.Response.Reset()
				tt.handler(context.Background(), c)
			}
			run()
			if !bytes.Equal(c.Response.Body(), []byte(tt.want)) {
				t.Fatalf("body %.20q, want %.20q", c.Response.Body(), tt.want)
			}
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Errorf("%s %s: %.1f allocations per request, want 0", tt.method, tt.uri, n)
			}
		})
	}
}
