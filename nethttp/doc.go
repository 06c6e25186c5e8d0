// Package nethttp adapts between net/http and streamhttp, both ways, so
// that the Go ecosystem (routers such as chi, net/http/pprof, promhttp,
// middleware, WebSocket libraries) runs on streamhttp, and streamhttp
// handlers run in a net/http server.
//
// # An http.Handler on streamhttp
//
// [Handler] turns an http.Handler into a streamhttp handler function,
// [Flow] into a handler flow:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
//	b, err := streamhttp.BindAndHandleAsync(ctx, ":8080", nethttp.Handler(mux, nethttp.Options{}), 1, streamhttp.ServerSettings{})
//
// Each request runs the handler in a goroutine other than the
// connection's: one of the adapter's kept goroutines, which wait for the
// next requests (up to Options.MaxIdleWorkers of them, each for about
// Options.WorkerIdleTimeout), so that a request costs a hand-over, not a
// goroutine's start and the growth of its stack. (Not the connection's
// own goroutine: a handler that flushes, writes more than the buffer or
// hijacks before it returns needs that goroutine free to take its head
// and then its body or the connection, and so may one that writes from a
// goroutine of its own while it waits.) The function returns the
// response to the server as soon as its head is decided, and the body
// follows from the handler's writes:
//
//	Write -> 2 KiB buffer --head decided--> Response (head) to the server
//	                      \--> 4 KiB pieces --> one at a time --> the entity's data
//
// The head is decided, as in net/http, by the first of: more than 2 KiB
// written, Flush, Hijack, the handler's return. A handler that returns
// within the buffer gets a Content-Length and a sniffed Content-Type;
// otherwise the body is chunked (close-delimited for HTTP/1.0), or sent
// with the Content-Length the handler declared.
//
// Backpressure: one piece at a time is in the server's hands, and Write
// returns only once the server has taken it; a client that reads slowly
// blocks the handler's Write, and memory stays bounded. Flush hands over
// what is buffered; the server writes it as soon as it would otherwise
// wait.
//
// The request: Body reads the request entity as the handler pulls it (a
// streamed body is never buffered whole; Expect: 100-continue is answered
// on the first read); Host, RemoteAddr, TLS, RequestURI, Proto, Trailer
// (filled at the body's end) are set; the context carries
// http.LocalAddrContextKey and http.ServerContextKey (Options.Server, since
// no http.Server serves the request). r.Context() ends when ServeHTTP
// returns, when the connection ends, or when a write to a client that has
// gone fails.
//
// The writer implements http.Flusher, http.Hijacker, io.StringWriter,
// io.ReaderFrom, the deprecated http.CloseNotifier, and what
// http.ResponseController looks for: FlushError, Hijack, SetReadDeadline,
// SetWriteDeadline and EnableFullDuplex.
// Without full duplex, the unread request body is read and discarded (up
// to Options.MaxDrainBytes) before a head that is decided while the
// handler runs, and Body reads fail after it, as in net/http. Trailers
// work both ways: declared in the Trailer field, or set with
// http.TrailerPrefix. WriteHeader with a 1xx status (103 Early Hints) sends
// it at once, through streamhttp.WriteInterim. A panic with
// http.ErrAbortHandler aborts the response (the client sees a truncated
// body); another panic is logged with its stack.
//
// # What a handler may keep
//
// The *http.Request, with its URL, Header, Body, Trailer and context, is
// the request's alone: a handler, or a goroutine it started, may keep it
// past ServeHTTP's return (its context has ended by then), unless the
// handler promised otherwise with Options.ReuseRequests. Then the adapter
// reuses the request's memory for a later request once the response is
// written and the handler's goroutine is done with it, and a server that
// reuses requests (ServerSettings.ReuseRequests) reuses the streamhttp
// request under it too: a keep-alive request then costs no allocation of
// the adapter's (see Options.ReuseRequests for what is never reused). The
// ResponseWriter may not be used after ServeHTTP returns (net/http's
// rule): the writer behind it, with its buffer and the map its Header
// returns, is recycled for later requests. A ResponseWriter used past the
// return fails (Write, Flush, Hijack return an error; Header returns a map
// that nothing reads) and never reaches another response; but a header
// map taken before the return and changed after it belongs to another
// response by then: do not keep it. A kept goroutine carries what a
// handler leaves on it (pprof labels, runtime.LockOSThread) to the
// requests it runs next, as net/http's goroutine per connection does.
//
// # Hijack and WebSockets
//
// Hijack hands the connection over through streamhttp.Hijack: the server
// stops speaking HTTP on it, and the handler gets the net.Conn, with the
// bytes the server had read past the request in the returned reader
// (Buffered reports them). Without a pending WriteHeader(101) nothing is
// written (gorilla/websocket writes its own 101); with one, the 101 head
// goes out first (as coder/websocket expects). The request's context lives
// until ServeHTTP returns; Write and a second Hijack then fail with
// http.ErrHijacked. WebSocket libraries work unchanged:
//
//	upgrader := websocket.Upgrader{}
//	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
//		c, err := upgrader.Upgrade(w, r, nil)
//		...
//	})
//
// # A streamhttp handler in net/http
//
// [ToHTTP] turns a streamhttp handler function into an http.Handler,
// [FlowToHTTP] a handler flow (materialized per request: a flow's
// per-connection state lasts one request here):
//
//	mux.Handle("/stream/", nethttp.ToHTTP(func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
//		return httpcore.NewResponse(200, entity.ChunkedFromData("text/plain", r.Entity.DataBytes())), nil
//	}))
//
// The request entity streams r.Body as the handler pulls it; the response
// entity is written through the ResponseWriter piece by piece (net/http's
// Write blocks on a slow client), flushed whenever the entity's source is
// about to wait. The streamhttp request's context is r.Context(). A Strict
// or Default entity gets a Content-Length, a Chunked one is chunked with
// its trailers, a CloseDelimited one is sent with Transfer-Encoding:
// identity. Full duplex is enabled for requests with a body, so that a
// handler may echo.
//
// # Differences from net/http
//
// TestConformance runs a set of net/http's handler behaviours under both
// servers and checks that a client sees the same, except for these, each
// for a reason:
//
//   - http.ErrAbortHandler (or any panic) before the head is decided: net/http
//     closes the connection without an answer; streamhttp's layer answers
//     500 and closes (the layer has no "close without answer" for a
//     handler's failure), and logs it.
//   - Expect: 100-continue with the body already sent along with the head:
//     net/http still sends 100 Continue when the handler reads; streamhttp
//     has the body already and omits it (RFC 9110 §10.1.1 allows both).
//   - A nil Date field does not suppress Date: the renderer always sends
//     one. Every response carries a Server field (ServerSettings). The
//     head of a HEAD response whose length is not known when it goes out
//     (a Flush before the handler returns) says Transfer-Encoding:
//     chunked, as a GET's would (RFC 9112 §6.1 allows it); net/http's
//     says neither.
//   - 1xx responses: sent only while the request is the oldest unanswered
//     one of its connection (with pipelining, an earlier response may be
//     in the way: the 1xx is dropped and logged); a 1xx carries a Date; none
//     is sent to an HTTP/1.0 client (RFC 9110 §15.2; net/http sends it).
//   - Deadlines are the request's, not the socket's: SetWriteDeadline fails
//     a Write that waits past it (and aborts the response), but a socket
//     write already under way is not interrupted; SetReadDeadline fails
//     Body reads that start after it, not one already waiting.
//   - The server's own limits apply: ServerSettings.RequestTimeout (503
//     when no head is decided in time: Flush early in long handlers),
//     MaxDrainBytes after the response (64 KiB; net/http 256 KiB), the
//     parser's limits (431, 413 and so on, before the handler runs).
//   - The request's context ends once the response is out, which a
//     response with nothing left to send (HEAD, 204, 304) may be before
//     ServeHTTP returns, after a Flush; net/http's ends when ServeHTTP
//     returns. The server's request context lasts as long as its
//     exchange.
//   - A client that leaves is noticed at once when a write to it fails,
//     and within about half a second while a handler waits without writing
//     (the server watches the connection once a request has waited a tick
//     of its request timer); net/http's background read notices a closed
//     connection at once when the request has no body.
//   - Hijack works for requests that ask to switch protocols
//     (Connection: upgrade) and CONNECT, before the head is decided; net/http
//     hijacks any request at any time. The server refuses (500, logged) a
//     hijack when requests after it were read already (pipelining) or its
//     body was not read to its end.
//   - A ResponseWriter used after ServeHTTP returned: net/http's is
//     undefined (its buffers are pooled); here Write and Flush fail and
//     Header returns a map of its own, but a header map kept from before
//     the return is recycled with the writer (see "What a handler may
//     keep").
//   - http.ServerContextKey holds Options.Server (a zero http.Server by
//     default), not a server that serves the request.
//   - Over HTTP/2 (which streamhttp serves on the same bindings, and the
//     adapter with it), 1xx responses are not sent (streamhttp.WriteInterim
//     writes on HTTP/1.1 connections only; net/http sends them), and
//     Hijack fails with an error (net/http's HTTP/2 writer has no
//     Hijacker; http.ResponseController reports ErrNotSupported).
package nethttp
