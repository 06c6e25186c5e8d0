package main

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fasthttp"
)

// serve runs handle on a request made of method, uri, content type and
// body, on ctx (reused by the caller when it measures allocations).
func serve(ctx *fasthttp.RequestCtx, method, uri, ct, body string) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	if ct != "" {
		ctx.Request.Header.SetContentType(ct)
	}
	if body != "" {
		ctx.Request.SetBodyString(body)
	}
	handle(ctx)
}

type result struct {
	Status int
	Type   string
	Body   string
}

func newCtx() *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, quietLogger{})
	return &ctx
}

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors.
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
		{"sleep not a number", "GET", "/sleep?ms=x", "", "", result{400, "text/plain; charset=utf-8", "ms must be an integer from 0 to 60000"}},
		{"unknown path", "GET", "/nope", "", "", result{404, "text/plain; charset=utf-8", "not found"}},
		{"wrong method", "POST", "/plaintext", "", "x", result{405, "text/plain; charset=utf-8", "method not allowed"}},
		{"echo by GET", "GET", "/echo", "", "", result{405, "text/plain; charset=utf-8", "method not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := newCtx()
			serve(ctx, tt.method, tt.uri, tt.ct, tt.body)
			got := result{ctx.Response.StatusCode(), string(ctx.Response.Header.ContentType()), string(ctx.Response.Body())}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.uri, diff)
			}
		})
	}
}

// TestNoAllocs: the benchmarked routes allocate nothing once the context's
// buffers have grown.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	body4k := strings.Repeat("0123456789abcdef", 256)
	tests := []struct{ method, uri, ct, body string }{
		{"GET", "/plaintext", "", ""},
		{"GET", "/json", "", ""},
		{"POST", "/echo", "application/octet-stream", body4k},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			ctx := newCtx()
			if n := testing.AllocsPerRun(100, func() { serve(ctx, tt.method, tt.uri, tt.ct, tt.body) }); n != 0 {
				t.Errorf("%s %s: %.1f allocations per request, want 0", tt.method, tt.uri, n)
			}
		})
	}
}
