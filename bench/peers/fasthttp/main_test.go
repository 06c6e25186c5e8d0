package main

import (
	"net"
	"testing"

	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
	"github.com/valyala/fasthttp"
)

// newCtx makes a RequestCtx as the server would hand it to the handler.
func newCtx() *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, quietLogger{})
	return &ctx
}

// setRequest writes r into ctx's request.
func setRequest(ctx *fasthttp.RequestCtx, r routes.Request) {
	ctx.Request.Reset()
	ctx.Request.Header.SetMethod(r.Method)
	ctx.Request.SetRequestURI(r.URI)
	if r.ContentType != "" {
		ctx.Request.Header.SetContentType(r.ContentType)
	}
	ctx.Request.SetBodyString(r.Body)
}

func answer(ctx *fasthttp.RequestCtx) routes.Response {
	return routes.Response{Status: ctx.Response.StatusCode(), ContentType: string(ctx.Response.Header.ContentType()), Body: string(ctx.Response.Body())}
}

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors.
func TestRoutes(t *testing.T) {
	notAllowed := routes.Response{Status: 405, ContentType: routes.TextPlain, Body: "method not allowed"}
	cases := routes.Cases(
		routes.Case{Name: "unknown path", Req: routes.Request{Method: "GET", URI: "/nope"}, Want: routes.Response{Status: 404, ContentType: routes.TextPlain, Body: "not found"}},
		routes.Case{Name: "plaintext by POST", Req: routes.Request{Method: "POST", URI: "/plaintext", Body: "x"}, Want: notAllowed},
		routes.Case{Name: "json by POST", Req: routes.Request{Method: "POST", URI: "/json"}, Want: notAllowed},
		routes.Case{Name: "echo by GET", Req: routes.Request{Method: "GET", URI: "/echo"}, Want: notAllowed},
		routes.Case{Name: "sleep by POST", Req: routes.Request{Method: "POST", URI: "/sleep"}, Want: notAllowed},
	)
	routes.Check(t, cases, func(_ *testing.T, r routes.Request) routes.Response {
		ctx := newCtx()
		setRequest(ctx, r)
		handle(ctx)
		return answer(ctx)
	})
}

// TestNoAllocs: the benchmarked routes allocate nothing once the context's
// buffers have grown, as they have on a served connection.
func TestNoAllocs(t *testing.T) {
	routes.CheckNoAllocs(t, func(_ *testing.T, r routes.Request) (func(), func() routes.Response) {
		ctx := newCtx()
		setRequest(ctx, r)
		run := func() {
			ctx.Response.Reset()
			handle(ctx)
		}
		return run, func() routes.Response { return answer(ctx) }
	})
}
