package streamhttp

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
)

// Request and Response are the message types handlers see; they are the
// httpcore types.
type (
	Request  = httpcore.Request
	Response = httpcore.Response
)

// ServerSettings configures the server layer of a connection. The zero value
// means the documented defaults; so does a zero field. Durations accept a
// negative value for "no limit".
type ServerSettings struct {
	// Parser holds the limits of the request parser (URI length, the whole
	// head's size, field sizes and count, body size, chunk sizes, custom
	// methods).
	Parser httpcore.ParserSettings

	// IdleTimeout closes a connection on which no bytes moved in either
	// direction for this long while no request was in progress. Default 60 s.
	IdleTimeout time.Duration
	// HeadTimeout bounds the time from the first byte of a request head to
	// its end; a client that sends its head slower than that (slowloris)
	// gets 408 and the connection closes. Enforced by ServeConn. Default 10 s.
	HeadTimeout time.Duration
	// RequestTimeout is how long a handler may take to start its response,
	// counted from the end of the request body. When it runs out the server
	// answers 503 (or TimeoutResponse), drops the late response and closes
	// the connection. Request.SetTimeout overrides it per request.
	// Default 20 s.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write to the connection (at most 16 KiB:
	// larger responses are written in pieces, so this is also a minimum
	// send rate of 16 KiB per WriteTimeout). A client that does not read
	// fails its connection once a write has waited this long, so it holds
	// neither the connection nor its memory. Enforced on connections with
	// write deadlines (net.Conn); it holds to within a second. Default 30 s.
	WriteTimeout time.Duration
	// MaxFlushDelay is the longest a response byte the server has rendered
	// waits before it is written, whatever the handler or a response body
	// source does (blocks, sleeps, or never tells the stream it waits).
	// Within it, pipelined responses to a fast handler are collected and
	// leave in one write. Default 1 ms.
	MaxFlushDelay time.Duration
	// LingerTimeout bounds how long a closing connection keeps reading (and
	// discarding) input after its last response, so that the client reads
	// that response before it sees a reset: the time a client needs to read
	// what was sent last, not to finish an upload. Default 2 s. A lingering
	// connection no longer counts against MaxConnections.
	LingerTimeout time.Duration
	// MaxLingerBytes bounds how much input a lingering connection reads
	// and discards (a client still sending a large body the server has
	// refused, say) before it closes anyway. Default 4 MiB.
	MaxLingerBytes int64
	// PipeliningLimit is how many requests may be inside the handler at
	// once; further requests are not read from the connection. Default 1,
	// at most 1024. Left at zero, a handler function with a parallelism of
	// N (HandleWithAsyncHandler, BindAndHandleAsync) raises it to N, so
	// that the parallelism is what it says; a value set here is kept, and
	// bounds the parallelism.
	PipeliningLimit int
	// MaxDrainBytes is how much of a request body the handler never read the
	// server reads and discards after the response to keep the connection
	// alive; a larger unread body closes the connection. Default 64 KiB.
	MaxDrainBytes int64

	// ParkIdleAfter is how long a keep-alive connection served by a
	// handler function (HandleWithSyncHandler, HandleWithAsyncHandler and
	// the BindAndHandleSync/Async binders) waits for its next request in a
	// goroutine. After that it is parked: its goroutines and buffers are
	// released and the kernel watches it (epoll; Linux only), so an idle
	// connection costs little more than its file descriptor. Its next
	// request is served by a new run of the handler. An HTTP/2 connection
	// parks the same way once it has no open stream, no unanswered request
	// and nothing left to write; it keeps its HPACK decoder (the client's
	// table), the client's settings, its windows and stream ids (a few
	// hundred bytes), and a parked one still gets its GOAWAY at its idle
	// timeout or when the server terminates. Connections served by a
	// handler flow (HandleWith, BindAndHandle) and TLS connections are
	// never parked: a flow may keep per-connection state. Default 10 ms;
	// negative: never.
	//
	// A connection whose next request is waiting on its socket is not
	// parked, however long its goroutine waited to run (a busy server).
	// While the binding finds such connections, it counts a connection
	// as idle only after a longer wait, doubled at each look that finds
	// them, up to 16 times ParkIdleAfter, and back to ParkIdleAfter once
	// they are gone: on a server that runs behind, connections that look
	// idle are mostly waiting for it, and parking them would cost a new
	// run for each.
	ParkIdleAfter time.Duration
	// DisableKeepAlive closes every connection after its first response.
	DisableKeepAlive bool
	// MinRequestBodyRate is the slowest a client may send a request body
	// that the handler is reading, in bytes per second, once
	// RequestBodyGrace has passed: a slower one (a slow-body attack) gets
	// 408 and the connection closes. On HTTP/2 the rule is per stream: the
	// stream gets 408 (or RST_STREAM(CANCEL) once its response has begun),
	// the handler's body read fails, and the connection serves on. Only
	// the time the server spends waiting for body bytes counts (on HTTP/2,
	// the time the handler waits for them). Default 240 B/s; negative: no
	// limit.
	MinRequestBodyRate int64
	// RequestBodyGrace is how long a body may trickle before
	// MinRequestBodyRate applies. Default 5 s.
	RequestBodyGrace time.Duration

	// TLSConfig makes the Bind sources serve TLS: each accepted connection
	// is wrapped with tls.Server, and its handshake (bounded by
	// TLSHandshakeTimeout) runs when the connection is served, in its own
	// goroutine. NextProtos defaults to "h2", "http/1.1"
	// (only "http/1.1" with HTTP2.Disable). nil: plain TCP.
	TLSConfig *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake. Default 10 s.
	TLSHandshakeTimeout time.Duration
	// TCPKeepAlive is the TCP keep-alive period (SO_KEEPALIVE) of the
	// connections accepted by Bind; 0 means Go's default (enabled, 15 s),
	// negative turns TCP keep-alive off. BindConfig and BindListener leave
	// it to the ListenConfig or listener they are given.
	TCPKeepAlive time.Duration

	// ProxyProtocol reads a PROXY protocol header (from a load balancer)
	// at the start of each connection of a Bind source: off by default.
	// See ProxyProtocolSettings.
	ProxyProtocol ProxyProtocolSettings

	// ListenConfig is what Bind and the BindAndHandle functions bind
	// with: socket options in its Control hook, its KeepAlive (which
	// replaces TCPKeepAlive). nil: a plain one.
	ListenConfig *net.ListenConfig
	// ReusePort sets SO_REUSEPORT on the listening socket (Bind, BindConfig
	// and the BindAndHandle functions), so that several processes bind the
	// same address and the kernel spreads new connections over them: a new
	// process starts beside the old one in a restart without a balancer.
	// Linux and the BSDs.
	ReusePort bool

	// ShutdownTimeout is the hard deadline of the graceful termination
	// that SIGTERM starts (see ServerBinding.HandleSignals). Default 30 s.
	ShutdownTimeout time.Duration
	// DrainPeriod is how long SIGTERM drains the binding (see
	// ServerBinding.Drain: the health check answers 503 while everything
	// else is served) before it terminates it. Set it to the balancer's
	// health check interval times its fall count, plus a margin. Default
	// 0: SIGTERM terminates at once.
	DrainPeriod time.Duration
	// DisableSignals keeps BindAndHandle, BindAndHandleSync and
	// BindAndHandleAsync from handling SIGTERM, SIGINT and SIGQUIT.
	DisableSignals bool

	// BindTimeout bounds how long binding the listening socket may take.
	// Default 1 s.
	BindTimeout time.Duration
	// MaxConnections bounds the connections the high-level binders
	// (BindAndHandle*) serve at once that have sent a complete request
	// head: a connection earns its slot with its first head. At the limit
	// a parked (idle) connection is closed to make room; when there is
	// none, the next connection is not accepted before one ends, and waits
	// in the listen backlog. Default 1024.
	MaxConnections int
	// MaxPendingConnections bounds the connections the high-level binders
	// hold that have not earned a slot yet: connected, in their TLS
	// handshake or sending their first head. When a new connection finds
	// them all taken, the oldest is closed to make room, so that clients
	// which send nothing or send their heads slowly (slowloris) cannot
	// starve those that send requests. Default 1024.
	MaxPendingConnections int

	// ServerHeader is the value of the Server header; default "streamhttp".
	// DisableServerHeader sends none.
	ServerHeader        string
	DisableServerHeader bool
	// TransparentHEAD hands HEAD requests to the handler as GET and sends
	// only the head of its response.
	TransparentHEAD bool
	// TimeoutResponse makes the response for a timed-out request; nil means
	// a plain 503. It is called with the connection's state locked: it
	// must return at once, and it must return a new response each time.
	TimeoutResponse func(*Request) *Response
	// ReuseRequests lets the HTTP/1.1 server reuse the memory of a request
	// for a later one, on any connection, once its response is written:
	// the Request, its header fields, every string of it and a body that
	// arrived with its head. Pipelined and keep-alive requests then cost
	// no allocation, and the collector runs far less often. It is a promise
	// the handlers make, as fasthttp's handlers do for their RequestCtx: no
	// handler keeps a request, nor a string, a header field or body bytes
	// of it, past returning its response (copy what must stay, with
	// strings.Clone or bytes.Clone, or call Request.Keep), and nothing the
	// handler started looks at it afterwards. A handler that breaks the
	// promise sees another request's bytes in strings it kept.
	//
	// What the server cannot vouch for it does not reuse: a request whose
	// response was the server's own (a timeout's 503, an error), one with
	// a streamed body, one whose context anyone waited on (Done, or a
	// context derived from it), one the handler kept with Request.Keep,
	// and every HTTP/2 request. The nethttp adapter keeps every request it
	// hands to an http.Handler, which may keep it, unless the handler
	// promised otherwise (nethttp.Options.ReuseRequests). Default false: every
	// request has memory of its own for as long as anything refers to it.
	ReuseRequests bool
	// AccessLog, when set, is called once per response, once it is
	// rendered, with what an access log line holds (see AccessRecord). It
	// runs in the connection's goroutine: it must not block, and it may be
	// called for several connections at once. nil: no access log, and no
	// cost (not even a clock reading).
	AccessLog func(AccessRecord)
	// Logger receives connection errors and handler panics; nil means
	// slog.Default().
	Logger *slog.Logger

	// HTTP2 configures HTTP/2, served on every binding unless disabled:
	// cleartext with prior knowledge on the HTTP/1.1 port, and ALPN "h2"
	// on TLS bindings (see http2.go).
	HTTP2 HTTP2Settings

	// pipeliningDefault: PipeliningLimit was left at zero (set by resolved).
	pipeliningDefault bool
	// engine is the HTTP/1.1 engine's view of the resolved settings (set
	// by resolved).
	engine *h1.Config
}

// Defaults of ServerSettings.
const (
	DefaultIdleTimeout     = 60 * time.Second
	DefaultRequestTimeout  = 20 * time.Second
	DefaultHeadTimeout     = 10 * time.Second
	DefaultLingerTimeout   = 2 * time.Second
	DefaultMaxLingerBytes  = 4 << 20
	DefaultWriteTimeout    = 30 * time.Second
	DefaultMaxFlushDelay   = time.Millisecond
	DefaultPipeliningLimit = 1
	MaxPipeliningLimit     = 1024
	DefaultMaxDrainBytes   = 64 << 10
	DefaultServerHeader    = "streamhttp"
	DefaultMaxConnections  = 1024

	DefaultMaxPendingConnections = 1024

	DefaultMinRequestBodyRate  = 240
	DefaultRequestBodyGrace    = 5 * time.Second
	DefaultTLSHandshakeTimeout = 10 * time.Second
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultParkIdleAfter       = 10 * time.Millisecond
)

// pipeliningFor returns the pipelining limit of a connection served by a
// handler function of the given parallelism: PipeliningLimit, raised to
// the parallelism when the user left it at its default.
func (s *ServerSettings) pipeliningFor(parallelism int) int {
	if s.pipeliningDefault && parallelism > s.PipeliningLimit {
		return min(parallelism, MaxPipeliningLimit)
	}
	return s.PipeliningLimit
}

// resolved returns s with every default applied; negative durations become
// 0, which means "none" from here on.
func (s ServerSettings) resolved() ServerSettings {
	dur := func(v, d time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return d
		}
		return v
	}
	s.IdleTimeout = dur(s.IdleTimeout, DefaultIdleTimeout)
	s.RequestTimeout = dur(s.RequestTimeout, DefaultRequestTimeout)
	s.HeadTimeout = dur(s.HeadTimeout, DefaultHeadTimeout)
	s.BindTimeout = dur(s.BindTimeout, DefaultBindTimeout)
	if s.MaxConnections <= 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	if s.MaxPendingConnections <= 0 {
		s.MaxPendingConnections = DefaultMaxPendingConnections
	}
	s.LingerTimeout = dur(s.LingerTimeout, DefaultLingerTimeout)
	s.WriteTimeout = dur(s.WriteTimeout, DefaultWriteTimeout)
	s.MaxFlushDelay = dur(s.MaxFlushDelay, DefaultMaxFlushDelay)
	s.RequestBodyGrace = dur(s.RequestBodyGrace, DefaultRequestBodyGrace)
	s.TLSHandshakeTimeout = dur(s.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	s.ShutdownTimeout = dur(s.ShutdownTimeout, DefaultShutdownTimeout)
	s.DrainPeriod = max(s.DrainPeriod, 0)
	s.ParkIdleAfter = dur(s.ParkIdleAfter, DefaultParkIdleAfter)
	switch {
	case s.MinRequestBodyRate < 0:
		s.MinRequestBodyRate = 0
	case s.MinRequestBodyRate == 0:
		s.MinRequestBodyRate = DefaultMinRequestBodyRate
	}
	if s.TLSConfig != nil && len(s.TLSConfig.NextProtos) == 0 {
		s.TLSConfig = s.TLSConfig.Clone()
		s.TLSConfig.NextProtos = []string{"http/1.1"}
		switch {
		case s.HTTP2.Only:
			s.TLSConfig.NextProtos = []string{"h2"}
		case !s.HTTP2.Disable:
			s.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	s.Parser.ReuseRequests = s.Parser.ReuseRequests || s.ReuseRequests
	switch {
	case s.PipeliningLimit <= 0:
		s.PipeliningLimit = DefaultPipeliningLimit
		s.pipeliningDefault = true
	case s.PipeliningLimit > MaxPipeliningLimit:
		s.PipeliningLimit = MaxPipeliningLimit
	}
	if s.MaxLingerBytes <= 0 {
		s.MaxLingerBytes = DefaultMaxLingerBytes
	}
	if s.MaxDrainBytes <= 0 {
		s.MaxDrainBytes = DefaultMaxDrainBytes
	}
	// The layer enforces the body limit on streamed chunked bodies itself,
	// so it needs the parser's default too.
	if s.Parser.MaxContentLength <= 0 {
		s.Parser.MaxContentLength = httpcore.DefaultMaxContentLength
	}
	if s.ServerHeader == "" {
		s.ServerHeader = DefaultServerHeader
	}
	if s.DisableServerHeader || !httpcore.ValidFieldValue(s.ServerHeader) {
		// An invalid value can never reach the wire; checking it here once
		// spares the renderer a check per response.
		s.ServerHeader = ""
	}
	s.ProxyProtocol = s.ProxyProtocol.resolved()
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.engine = engineConfig(&s)
	return s
}
