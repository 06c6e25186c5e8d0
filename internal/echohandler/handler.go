// Package echohandler is the request handler of the echo example
// (examples/echo). It lives here, not in the example's package main, so that
// the replay tests of the root package and the example itself share it: the
// captures under testdata/captures were recorded from this handler and must
// replay to the same bytes.
//
// The handler is one stream.MapAsync over the requests of a connection, so
// that a slow route (/sleep) does not stop the others from being computed,
// and every response is linked to its request with Response.ForRequest: the
// server layer puts them back in request order.
package echohandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// Limits of the routes that take numbers from the query.
const (
	MaxStreamChunks    = 10000   // /stream n
	MaxStreamChunkSize = 1 << 20 // /stream size
	MaxSleep           = 60000   // /sleep ms
	// MaxBody is how much of a request body the catch-all route reads; a
	// larger body gets 413.
	MaxBody = 8 << 20
)

// Defaults of /stream when n or size is absent.
const (
	DefaultStreamChunks    = 10
	DefaultStreamChunkSize = 64
)

// Hello is the body of GET / and GET /plaintext; HelloJSON that of GET /json.
const (
	Hello     = "Hello, World!"
	HelloJSON = `{"message":"Hello, World!"}`
)

// The answers of GET /, /plaintext and /json never change: each is made
// once and shared by every request (see httpcore.Response.Shared).
var (
	helloText = httpcore.Text(httpcore.StatusOK, Hello).Shared()
	helloJSON = httpcore.Bytes(httpcore.StatusOK, "application/json", []byte(HelloJSON)).Shared()
)

// ErrPanicRoute is the value GET /panic panics with.
var ErrPanicRoute = errors.New("echohandler: GET /panic panicked on purpose")

// Handler returns the echo handler. Up to parallelism requests of one
// connection are computed at once (at most as many as the server's
// PipeliningLimit lets in); their responses may complete in any order.
// It panics if parallelism < 1.
//
// Routes:
//
//	GET  /, /plaintext     200 text/plain "Hello, World!"
//	GET  /json             200 application/json {"message":"Hello, World!"}
//	POST /echo             the request body streamed back, chunked, with its Content-Type
//	GET  /stream?n=N&size=S  N chunks of S bytes (N <= 10000, S <= 1 MiB, else 400)
//	GET  /sleep?ms=N       "slept" after N ms (0..60000, else 400)
//	GET  /panic            the handler panics: the server answers 500 and closes
//	GET  /close            200 with Connection: close
//	GET  /stats            the server's statistics as JSON ({} when there are none)
//	CONNECT                405 (no tunnels)
//	anything else          reads the whole body, then "METHOD PATH bytes=N"
func Handler(parallelism int) stream.Flow[*streamhttp.Request, *streamhttp.Response] {
	f := Func(nil)
	return stream.MapAsync(parallelism, func(ctx context.Context, req *streamhttp.Request) (*streamhttp.Response, error) {
		resp, err := f(ctx, req)
		if err != nil {
			return nil, err
		}
		return resp.ForRequest(req), nil
	})
}

// Func returns the routes of Handler as a handler function, for
// streamhttp.BindAndHandleAsync and HandleWithAsyncHandler. stats, when not
// nil, gives what GET /stats reports.
func Func(stats func() streamhttp.Stats) func(context.Context, *streamhttp.Request) (*streamhttp.Response, error) {
	return func(ctx context.Context, req *streamhttp.Request) (*streamhttp.Response, error) {
		return route(ctx, req, stats)
	}
}

// route picks the route by method, then by path: no route key is built
// per request.
func route(ctx context.Context, req *streamhttp.Request, stats func() streamhttp.Stats) (*streamhttp.Response, error) {
	switch req.Method {
	case httpcore.MethodGet:
		switch req.URI.Path {
		case "/", "/plaintext":
			return helloText, nil
		case "/json":
			return helloJSON, nil
		case "/stream":
			return streamChunks(req), nil
		case "/sleep":
			return sleep(ctx, req)
		case "/panic":
			panic(ErrPanicRoute)
		case "/close":
			resp := httpcore.Text(httpcore.StatusOK, "closing")
			resp.Header.Add("Connection", "close")
			return resp, nil
		case "/stats":
			body := []byte("{}")
			if stats != nil {
				var err error
				if body, err = json.Marshal(stats()); err != nil {
					return nil, err
				}
			}
			return httpcore.Bytes(httpcore.StatusOK, "application/json", body), nil
		}
	case httpcore.MethodPost:
		if req.URI.Path == "/echo" {
			return echo(req), nil
		}
	}
	if req.Method == httpcore.MethodConnect {
		// No tunnels here: a 2xx would tell the client one is open.
		resp := httpcore.Text(httpcore.StatusMethodNotAllowed, "Method Not Allowed: no tunnels here\n")
		resp.Header.Add("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
		return resp, nil
	}
	return other(ctx, req), nil
}

// echo streams the request body back as it arrives: each piece of data the
// server reads from the connection goes out as one chunk. A body that
// arrived whole with its head goes back whole, with a Content-Length.
func echo(req *streamhttp.Request) *streamhttp.Response {
	body := req.Entity
	if body == nil {
		body = entity.Empty
	}
	if strict, ok := body.(*entity.Strict); ok {
		// The whole body came with the head: send it back as it is, with
		// its length.
		return httpcore.Bytes(httpcore.StatusOK, req.ContentType, strict.Data)
	}
	return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData(req.ContentType, body.DataBytes()))
}

// streamChunks answers n chunks of size bytes of a repeating pattern.
func streamChunks(req *streamhttp.Request) *streamhttp.Response {
	q, err := url.ParseQuery(req.URI.RawQuery)
	if err != nil {
		return badRequest("the query does not parse")
	}
	n, ok := intParam(q, "n", DefaultStreamChunks, MaxStreamChunks)
	if !ok {
		return badRequest(fmt.Sprintf("n must be an integer from 0 to %d", MaxStreamChunks))
	}
	size, ok := intParam(q, "size", DefaultStreamChunkSize, MaxStreamChunkSize)
	if !ok {
		return badRequest(fmt.Sprintf("size must be an integer from 0 to %d", MaxStreamChunkSize))
	}
	chunk := pattern(size)
	chunks := func(yield func([]byte) bool) {
		for range n {
			if !yield(chunk) {
				return
			}
		}
	}
	return httpcore.NewResponse(httpcore.StatusOK,
		entity.ChunkedFromData("application/octet-stream", stream.FromSeq(iter.Seq[[]byte](chunks))))
}

// patternBytes is "0123456789abcdef" repeated, MaxStreamChunkSize bytes:
// every /stream response shares it (read-only), so a chunk costs no memory
// per request whatever its size.
var patternBytes = bytes.Repeat([]byte("0123456789abcdef"), MaxStreamChunkSize/16+1)[:MaxStreamChunkSize]

// pattern returns size bytes of the pattern, shared and not to be written.
func pattern(size int) []byte { return patternBytes[:size:size] }

// sleep answers after the requested delay; the wait ends early, failing the
// connection's handler, when the stream is cancelled.
func sleep(ctx context.Context, req *streamhttp.Request) (*streamhttp.Response, error) {
	q, err := url.ParseQuery(req.URI.RawQuery)
	if err != nil {
		return badRequest("the query does not parse"), nil
	}
	ms, ok := intParam(q, "ms", 0, MaxSleep)
	if !ok {
		return badRequest(fmt.Sprintf("ms must be an integer from 0 to %d", MaxSleep)), nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return httpcore.Text(httpcore.StatusOK, "slept"), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// other reads the whole body and reports what it got.
func other(ctx context.Context, req *streamhttp.Request) *streamhttp.Response {
	var n int
	if req.Entity != nil {
		body, err := entity.ToStrict(ctx, req.Entity, MaxBody)
		var tooLarge *entity.SizeLimitError
		switch {
		case errors.As(err, &tooLarge):
			return httpcore.Text(httpcore.StatusContentTooLarge, fmt.Sprintf("the body exceeds %d bytes\n", MaxBody))
		case err != nil:
			return badRequest("the body could not be read")
		}
		n = len(body.Data)
	}
	return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("%s %s bytes=%d", req.Method, req.URI.Path, n))
}

func badRequest(reason string) *streamhttp.Response {
	return httpcore.Text(httpcore.StatusBadRequest, "Bad Request: "+reason+"\n")
}

// intParam returns the query parameter name as an integer from 0 to limit,
// def when it is absent, and false when it is malformed or out of range.
func intParam(q url.Values, name string, def, limit int) (int, bool) {
	s, ok := q[name]
	if !ok {
		return def, true
	}
	v, err := strconv.Atoi(s[0])
	if err != nil || v < 0 || v > limit {
		return 0, false
	}
	return v, true
}
