package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// This file is the layer's boundary: what the connection's driver
// (streamhttp.ServeConn, and the binding through it) gives the layer, and
// the few things it may ask of it. Nothing crosses it in the other
// direction: the layer never reaches up into the driver except through
// the Hooks it was given.

// Request and Response are the layer's messages, httpcore's types.
type (
	Request  = httpcore.Request
	Response = httpcore.Response
)

// Config is what the layer needs of streamhttp.ServerSettings, resolved:
// every default applied, negative durations made 0 ("none").
//
// It is a struct of its own, rather than the settings type itself, because
// package streamhttp imports this one: ServerSettings cannot be named here,
// and moving it to an internal package would hide its documentation behind
// an alias. The root fills a Config once, when it resolves its settings
// (once per ServeConn call, per ServerLayer and per binding), and every
// connection served with those settings shares it, read-only: nothing is
// converted per connection or per request.
type Config struct {
	Parser           httpcore.ParserSettings // MaxContentLength set (it bounds streamed chunked bodies)
	HeadTimeout      time.Duration
	RequestTimeout   time.Duration
	PipeliningLimit  int
	MaxDrainBytes    int64
	DisableKeepAlive bool
	ServerHeader     string // "": none
	TransparentHEAD  bool
	TimeoutResponse  func(*Request) *Response
	AccessLog        func(AccessRecord) // nil: none
	Logger           *slog.Logger       // not nil
}

// Info is what the layer knows of the connection it serves.
type Info struct {
	Remote, Local net.Addr
	TLS           *tls.ConnectionState
}

// Attrs returns the connection's log attributes.
func (i Info) Attrs() []any {
	if i.Remote == nil {
		return nil
	}
	attrs := []any{slog.String("remote", i.Remote.String())}
	if i.Local != nil {
		attrs = append(attrs, slog.String("local", i.Local.String()))
	}
	if i.TLS != nil {
		attrs = append(attrs, slog.String("tls", tls.VersionName(i.TLS.Version)))
	}
	return attrs
}

// Stats are the binding's statistics as the layer updates them. The
// methods are called with the connection's state locked: they must return
// at once.
type Stats interface {
	RequestStarted()
	RequestDone()
	RequestsTimedOut(n int64)
	SlowBody()
}

// OOBWriter is the driver's side of the layer's out-of-band writes: 100
// Continue, and the 503 of a request whose handler blocks.
type OOBWriter interface {
	// WriteOOB writes p now, after whatever is buffered.
	WriteOOB(p []byte) error
	// Abort writes p, closes the connection for writing and ends the run:
	// nothing is written after p.
	Abort(p []byte)
	// Bound says that the layer is about to call code that may block
	// without telling the stream (a handler, a response body source): what
	// is buffered must leave within MaxFlushDelay whatever that code does.
	Bound()
	// FlushIdle writes what is buffered now: the layer knows that the
	// connection's goroutine has nothing else to add before it waits.
	FlushIdle()
	// Watch starts watching the client while a handler works.
	Watch()
}

// Hooks are what the driver gives the layer of one connection's run,
// explicitly, when it makes the layer (NewConn).
type Hooks struct {
	Ctx   context.Context // the run's: the parent of the requests' contexts
	Info  Info
	OOB   OOBWriter
	Stats Stats       // nil outside a binding
	Stop  func(error) // ends the run
	// SeqBase is how many requests the connection read before this run
	// (runs after a parking go on numbering).
	SeqBase uint64
	// Pipelining, when not 0, is the connection's pipelining limit in
	// place of the Config's (a handler function's parallelism raised it).
	Pipelining int
	// MustLink: the handler flow may reorder its responses
	// (stream.Flow.Unordered), so each must be linked to its request.
	MustLink bool
	// EarnSlot, if set, is called at the run's first complete head,
	// before that request is dispatched: a binding's connection earns its
	// MaxConnections slot there. An error ends the connection unanswered.
	EarnSlot func(context.Context) error

	// Draining is set when the server terminates; whichever of the
	// terminating code and the layer's start comes second drains the layer.
	Draining atomic.Bool
	// CloseNext is set when the connection is served within a
	// termination's grace: the layer's next response closes.
	CloseNext atomic.Bool
	// Switched is set when a response hands the connection over to
	// another protocol (upgrade.go): the driver runs it after the run.
	Switched atomic.Pointer[Switched]
}

// The ends of a run that the driver and the layer both name.
var (
	errBodyTooSlow = errors.New("streamhttp: the request body arrived slower than MinRequestBodyRate")
	errDrained     = errors.New("streamhttp: connection closed by the server's termination")
	errIdle        = errors.New("streamhttp: idle timeout")
	errAborted     = errors.New("streamhttp: connection closed after a timeout response")
	errPeerGone    = errors.New("streamhttp: the client closed or reset the connection")

	ErrHeadTimeout = errHeadTimeout
	ErrTruncated   = errTruncated
	ErrDiscarded   = errDiscarded
	ErrBodyTooSlow = errBodyTooSlow
	ErrDrained     = errDrained
	ErrIdle        = errIdle
	ErrAborted     = errAborted
	ErrPeerGone    = errPeerGone
)

// Conn is the layer of one connection as its driver holds it: made before
// the run with the run's hooks, materialized once (Layer), and asked about
// its state by the driver's reader and by the binding.
type Conn struct {
	conn
}

// NewConn returns the layer of one connection's run. cfg is shared and
// read-only.
func NewConn(cfg *Config, h *Hooks) *Conn {
	if h.Pipelining != 0 && h.Pipelining != cfg.PipeliningLimit {
		own := *cfg
		own.PipeliningLimit = h.Pipelining
		cfg = &own
	}
	l := new(Conn)
	l.init(cfg)
	l.hooks = h
	// The requests' contexts lead back to their connection (WriteInterim,
	// the logger of a failed handler function): a request is all those
	// functions are given.
	l.ctx = context.WithValue(h.Ctx, connKey{}, &l.conn)
	return l
}

// NewLayer returns the layer as a reusable blueprint with no driver: each
// materialization serves a connection of its own (streamhttp.ServerLayer).
func NewLayer(cfg *Config) bidi.Flow[*Response, []byte, []byte, *Request] {
	return serverLayer(cfg, nil)
}

// Layer returns the bidi flow of l's run, to be materialized once.
func (l *Conn) Layer() bidi.Flow[*Response, []byte, []byte, *Request] {
	return serverLayer(l.s, &l.conn)
}

// connOf returns the layer whose request's context ctx is, or nil.
func connOf(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

// Drain makes the connection take no further request and close after the
// response to the last one it has taken; it reports whether the connection
// is idle, in which case the caller ends it now.
func (l *Conn) Drain() (idle bool) { return l.drain() }

// Expire is the hard deadline of a termination (see conn.expire).
func (l *Conn) Expire() { l.expire() }

// CloseAfterNext makes the layer's next response its last (it carries
// Connection: close) while it goes on reading the request that may be on
// its way.
func (l *Conn) CloseAfterNext() {
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
}

// ReleaseInput releases the input once the run has ended, after a
// handler's goroutine still reading the request body has returned.
func (l *Conn) ReleaseInput() { l.releaseInput() }

// Between reports whether no request is taken and unanswered, no head has
// begun and the connection is not closing.
func (l *Conn) Between() bool { return l.between() }

// Parkable reports whether the connection is between requests with
// nothing under way. The caller (the reader) holds the input lock.
func (l *Conn) Parkable() bool { return l.parkable() }

// ReadingBody reports whether the layer is inside a request body. The
// caller (the reader) holds the input lock.
func (l *Conn) ReadingBody() bool { return l.body != nil }

// HeadDeadline returns when the request head being received must be
// complete, a reading of internal/clock (the driver's deadlines are too),
// or 0 when no head is under way.
func (l *Conn) HeadDeadline() int64 { return l.headDeadline() }

// Busy reports whether the server owes the client something, which the
// idle timeout leaves alone.
func (l *Conn) Busy() bool { return l.busy() }

// HandlerWorking reports whether requests are inside the handler flow,
// not yet answered.
func (l *Conn) HandlerWorking() bool { return l.handlerWorking() }

// HandlerPanicked takes the panic of a synchronous handler that unwound to
// the driver's sink, and reports whether the layer answers it (500).
func (l *Conn) HandlerPanicked(pe *stream.PanicError) bool { return l.handlerPanicked(pe) }

// PeerClosed learns that the client closed its side of the connection
// while requests were unanswered: their handlers learn it through their
// context.
func (l *Conn) PeerClosed() { l.peerClosed() }

// Seq is how many requests the connection has read, for its next run.
func (l *Conn) Seq() uint64 { return l.seq }

// logHandlerFailureOf logs the failure of request seq's handler on the
// logger of the connection whose request's context ctx is (slog's default
// without one).
func logHandlerFailureOf(ctx context.Context, seq uint64, err error) {
	if c := connOf(ctx); c != nil {
		c.logHandlerFailure(seq, err)
		return
	}
	logHandlerFailure(slog.Default(), Info{}, seq, err)
}

// CheckLocks turns on the lock invariants (see lockChecks): for tests, of
// this package and of those that drive it, before they start.
func CheckLocks() { lockChecks = true }
