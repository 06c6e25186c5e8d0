// Package streamhttp is a reactive-streams HTTP server toolkit: connections
// and requests are typed, backpressured streams (Apache Pekko HTTP's model),
// built on package stream, with the hot path of the fastest Go servers.
//
// # Overview
//
// A request handler is a stream.Flow[*Request, *Response]: a stream.Map for
// a synchronous function, a stream.MapAsync for concurrent ones, or any
// composition of operators. The HTTP/1.1 protocol is a separate piece,
// [ServerLayer]: a bidi flow that turns bytes into requests and responses
// into bytes, with all of HTTP/1.1's connection management and no I/O of
// its own. Joined with a handler (bidi.JoinLeft), it is the bytes-to-bytes
// flow of one connection, which runs the same over TCP, TLS, an in-memory
// pipe or a replayed capture.
//
//	handler := stream.Map(func(r *streamhttp.Request) *streamhttp.Response {
//		return httpcore.Text(httpcore.StatusOK, "Hello, World!")
//	})
//	err := streamhttp.ServeConn(ctx, conn, handler, streamhttp.ServerSettings{})
//
// [ServeConn] serves one connection (a net.Conn, a *tls.Conn, one end of a
// net.Pipe). [Bind] returns a Source of the connections accepted on a
// socket, bound only when the source runs; [BindAndHandle],
// [BindAndHandleSync] and [BindAndHandleAsync] bind and serve every
// connection with a handler:
//
//	binding, err := streamhttp.BindAndHandleSync(ctx, "127.0.0.1:8080", hello, streamhttp.ServerSettings{})
//
// # Serving and its lifecycle
//
// The run of a Bind source materializes a [ServerBinding]: LocalAddr (the
// real port for port 0), Unbind (stop accepting, open connections go on),
// Pause and Resume (accepting), Terminate (a graceful end with the
// context's deadline as the hard deadline: idle connections close at once,
// in-flight requests finish with Connection: close, those still unanswered
// at the deadline get 503), Close (at once), Done and Wait. The high-level
// binders tie the binding to SIGTERM (graceful) and SIGINT/SIGQUIT (at
// once) unless ServerSettings.DisableSignals is set; Bind users call
// ServerBinding.HandleSignals. Stats, ResetStats and PublishExpvar expose
// the binding's statistics (requests, connections, timeouts, bytes).
//
// Each [IncomingConnection] is served with HandleWith (a flow, materialized
// once per connection), HandleWithSyncHandler or HandleWithAsyncHandler (a
// function, at most parallelism requests of the connection at once). A
// request's context is cancelled once its response is done, or when its
// connection ends. ServerSettings.TLSConfig serves HTTPS (ALPN http/1.1,
// TLSHandshakeTimeout); Request.TLS holds the connection state.
//
// # Behind a load balancer
//
// ServerSettings.ProxyProtocol reads the PROXY protocol header (v1 or v2)
// that a balancer sends first, from trusted networks, within HeadTimeout,
// by peeking at the socket (connections still park); Request.RemoteAddr is
// then the client's address and IncomingConnection.ProxiedFrom the
// balancer's. ServerBinding.Drain makes HealthHandler answer 503 while
// everything else is served, and SIGTERM drains for
// ServerSettings.DrainPeriod before the graceful Terminate. ServeListener,
// ServeListenerSync and ServeListenerAsync serve a listener the caller
// opened, and ServerSettings.ListenConfig and ReusePort set socket options
// (SO_REUSEPORT restarts). ServerSettings.AccessLog is called once per
// response; Stats.WritePrometheus and MetricsHandler export the statistics
// in Prometheus's text format.
//
// # Idle connections
//
// A keep-alive connection served by a handler function that has seen no
// bytes for ServerSettings.ParkIdleAfter (10 ms; on a server that runs
// behind, up to 16 times that) is parked: its run ends,
// its goroutines and read buffer are released, and the kernel watches the
// socket (epoll, on Linux); the next request starts a new run of the
// handler. An idle connection then costs little more than its socket
// (besides the kernel's and the runtime's share of the socket, about 200
// bytes of heap of its own: no goroutine, buffer, context, timer or
// closure stays), and at MaxConnections a parked connection is closed to
// make room for a new one. HTTP/2 connections park too, between streams,
// keeping only their HPACK and flow-control state; a parked one gets its
// GOAWAY when it times out or the server terminates. A handler flow may
// keep per-connection state, so connections served with HandleWith are
// never parked; nor are TLS connections.
//
// Between requests, a plain TCP connection of a binding that has answered
// does not read at once: the read a server usually makes right after an
// answer finds nothing. On one P (GOMAXPROCS 1; Linux) it waits until the
// kernel reports its next bytes (an edge-triggered epoll set per binding,
// watched through Go's poller), so that a keep-alive request costs one
// read and one write; on more Ps, every other such read first lets the
// other connections run, by when the next request has usually arrived.
// A plain TCP connection's reads and writes are raw system calls on its
// non-blocking socket, made through its syscall.RawConn and under its
// deadlines: a call that cannot block needs none of the runtime's
// bookkeeping for one that may. (Under the race detector they are the
// syscall package's, which order a write before the peer's read.)
//
// # Backpressure
//
// Nothing is read from a connection that nobody asked for. The handler
// pulls requests; at most ServerSettings.PipeliningLimit of them are
// between the parser and the written response, and the next request head
// is neither parsed nor read from the socket before a slot frees, so TCP
// pushes back on the client. A request body streams from the socket as the
// handler pulls it (Expect: 100-continue is answered on that first pull).
// Responses may complete out of order when they are linked to their request
// (Response.ForRequest); they are written in request order.
//
// # Writes
//
// Responses are rendered into one buffer that is written when the
// connection is about to wait (for input, or for the handler) or when it is
// full: pipelined responses to a synchronous handler leave in one write.
// Nothing a handler or a response body source does can hold rendered bytes
// back for longer than ServerSettings.MaxFlushDelay (1 ms): a slow handler
// does not delay the answers before it, and a streamed body (server-sent
// events, a reader over a pipe) leaves piece by piece. The buffer holds at
// most 16 KiB (larger pieces are written through), and each write must
// complete within WriteTimeout, so a client that does not read costs
// bounded memory and is let go; ServerBinding.Close and Terminate's hard
// deadline end a blocked write too. A client that closes or resets while a
// handler works is noticed (its request's context is cancelled) within
// about half a second, and a failed write ends the connection's run: the
// response's source is cancelled and nothing more is pulled from it.
//
// # Timeouts and limits
//
// Every limit is a field of [ServerSettings] (and of its Parser settings)
// whose zero value means the documented default: the request head must
// arrive within HeadTimeout (408; a new connection's first head counts
// from the accept, and a connection that sent nothing is closed without
// an answer), a request body the handler reads must arrive at
// MinRequestBodyRate after RequestBodyGrace (408), the handler must answer
// within RequestTimeout of the end of the request body, or of its head
// while it neither reads the body nor answers (503), an idle connection
// closes after IdleTimeout, each write must complete within WriteTimeout,
// and a closing connection lingers up to LingerTimeout (2 s) and
// MaxLingerBytes so that the client reads its last response; a lingering
// connection no longer holds a MaxConnections slot. A handler function's
// parallelism raises a default PipeliningLimit to it.
//
// # Connection slots
//
// The high-level binders (BindAndHandle*) serve at most MaxConnections
// connections that have sent a complete request head: a connection earns
// its slot with its first head, whether plain or TLS. Until then it is
// pending, one of at most MaxPendingConnections, and a new connection that
// finds those all taken closes the oldest pending one. So connections that
// send nothing, trickle their heads (slowloris) or stall in the TLS
// handshake cannot keep clients that send requests in the listen backlog;
// HeadTimeout and TLSHandshakeTimeout still bound each of them. When every
// slot is earned, a parked connection is closed to make room, and
// otherwise the next connection waits in the backlog; a pending connection
// whose head completes then waits for a slot before its request is
// handled.
//
// # HTTP/2
//
// Every binding serves HTTP/2 (RFC 9113) too, with the same handlers:
// cleartext clients with prior knowledge on the HTTP/1.1 port (the first
// bytes are compared with the client preface as they arrive; anything
// else is HTTP/1.1), and TLS clients that negotiate "h2" by ALPN (TLS
// bindings offer h2 first). Each stream is a request with its own Seq;
// responses linked to their request go to their stream as soon as they
// are ready, in any order. Flow control is the backpressure: a request
// body is credited back to the client as the handler pulls it, a response
// body is pulled as the client's window allows. Terminate sends GOAWAY and
// lets the streams in flight finish; at its hard deadline the requests
// still unanswered get 503, as on HTTP/1.1. [HTTP2ServerLayer] is the HTTP/2
// layer as a bidi flow over any byte stream, [ServeHTTP2Conn] serves one
// connection, and ServerSettings.HTTP2 holds the limits (streams, windows,
// frame and header sizes, the flood budget that answers Rapid Reset,
// MadeYouReset and empty-frame floods) or turns HTTP/2 off.
//
// # Errors
//
// A request the parser rejects gets the status of its [httpcore.ParseError]
// (400, 413, 414, 431, 501, 505) and the connection closes after it. A
// handler that fails or panics gets a 500 for the oldest unanswered request
// and the connection closes; the panic is logged with its stack through
// ServerSettings.Logger and no other connection is affected. A handler flow
// that breaks the contract of one response per request (a response for an
// unknown or answered request, a flow that completes with requests
// unanswered) fails the connection with a [ProtocolError] saying what the
// flow did wrong.
//
// # net/http and protocol upgrades
//
// Package nethttp runs an http.Handler as a handler function or flow, and a
// handler or flow as an http.Handler. A handler answers an upgrade request
// (101 Switching Protocols) with [Upgrade] (the raw connection) or
// [UpgradeFlow] (a flow over its bytes), or takes the connection with no
// head at all with [Hijack]: the HTTP/1.1 layer stops after the response
// head, and the bytes it had read past the request go to the new protocol.
// [WriteInterim] sends a 1xx (103 Early Hints) ahead of the final response.
//
// # Where each decision lives
//
// The HTTP/1.1 engine is package internal/h1: a set of stages (see the
// diagram on [ServerLayer] and in internal/h1/doc.go), each the one owner
// of its decision, with no I/O of its own:
//
//	internal/h1/close.go      whether and why a connection closes (beginClose, mustClose)
//	internal/h1/timeout.go    the request timeout (503), and when the client is watched
//	internal/h1/continue.go   when 100 Continue is sent
//	internal/h1/inbound.go    parsing heads, the pipelining guard, the server's own answers
//	internal/h1/body.go       streamed request bodies and their limits
//	internal/h1/outbound.go   linking responses to requests (reorder) and rendering,
//	                          when a request's memory may be reused (popPending;
//	                          ServerSettings.ReuseRequests, the pools in httpcore/reuse.go)
//	                          and when a response's OnWritten runs (writtenHook)
//	internal/reorder          the one reorder: the window of stream.Reorder and of the server
//	internal/h1/asynccall.go  handler functions joined to the layer: inline or in goroutines
//	internal/h1/logging.go    what is logged at which level
//	internal/h1/conn.go       what the driver gives the engine (Config, Hooks) and asks of it
//
// This package drives it over a connection, and keeps the public API:
//
//	serveconn.go  ServeConn: the reader (deadlines, parking, readiness sets) and linger
//	writer.go     the flush rule (MaxFlushDelay), write deadlines, buffering
//	watch.go      noticing a client that leaves while a handler works
//	engine.go     ServerLayer, and the engine's view of ServerSettings
//	bind.go, incoming.go, listen.go, drain.go, signals.go, stats.go, settings.go:
//	              bindings, connections, handlers, termination, statistics
//	http2.go, h2serve.go  the same for HTTP/2 (engine: internal/h2)
//	internal/clock  the one clock of every connection timestamp and deadline
//	internal/poller parked connections, readiness sets, raw socket calls
//
// # Testing handlers
//
// [Replay] runs recorded request bytes through the layer and a handler and
// returns the response bytes. Package streamhttptest wraps it for tests
// (NormalizeDate makes outputs comparable), and its package pcap reads
// connections out of a tcpdump capture: test tooling lives there, not in
// the production API.
package streamhttp
