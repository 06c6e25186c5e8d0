package main

import (
	"context"
	"testing"

	"github.com/cloudwego/hertz/pkg/app"
	"github.com/cloudwego/hertz/pkg/app/server"
	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
)

func newEngine() *server.Hertz {
	h := server.New(server.WithDisablePrintRoute(true), server.WithMaxRequestBodySize(routes.MaxBody))
	register(h)
	return h
}

// setRequest writes r into c's request.
func setRequest(c *app.RequestContext, r routes.Request) {
	c.ResetWithoutConn()
	c.Request.Header.SetMethod(r.Method)
	c.Request.SetRequestURI(r.URI)
	if r.ContentType != "" {
		c.Request.Header.SetContentTypeBytes([]byte(r.ContentType))
	}
	c.Request.SetBodyString(r.Body)
}

func answer(c *app.RequestContext) routes.Response {
	return routes.Response{Status: c.Response.StatusCode(), ContentType: string(c.Response.Header.ContentType()), Body: string(c.Response.Body())}
}

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors, through hertz's router.
func TestRoutes(t *testing.T) {
	notFound := routes.Response{Status: 404, ContentType: "text/plain", Body: "Not Found"}
	cases := routes.Cases(
		routes.Case{Name: "unknown path", Req: routes.Request{Method: "GET", URI: "/nope"}, Want: notFound},
		// hertz answers a route's other methods 404 unless
		// WithHandleMethodNotAllowed is set; its default is kept.
		routes.Case{Name: "plaintext by POST", Req: routes.Request{Method: "POST", URI: "/plaintext", Body: "x"}, Want: notFound},
	)
	h := newEngine()
	routes.Check(t, cases, func(_ *testing.T, r routes.Request) routes.Response {
		c := h.NewContext()
		setRequest(c, r)
		h.ServeHTTP(context.Background(), c)
		return answer(c)
	})
}

// TestNoAllocs: the benchmarked handlers allocate nothing once the
// context's buffers have grown. They are called directly: hertz's router
// itself allocates once per request (Engine.ServeHTTP converts the path to
// a string), which no handler can spare.
func TestNoAllocs(t *testing.T) {
	handlers := map[string]app.HandlerFunc{"/plaintext": plaintext, "/json": jsonHello, "/echo": echo}
	h := newEngine()
	routes.CheckNoAllocs(t, func(t *testing.T, r routes.Request) (func(), func() routes.Response) {
		handler := handlers[r.URI]
		if handler == nil {
			t.Fatalf("no handler for %s", r.URI)
		}
		c := h.NewContext()
		setRequest(c, r)
		run := func() {
			c.Response.Reset()
			handler(context.Background(), c)
		}
		return run, func() routes.Response { return answer(c) }
	})
}
