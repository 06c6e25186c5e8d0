package streamhttp

import (
	"container/list"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/internal/h2"
	"github.com/streamhttp/streamhttp/internal/poller"
	"github.com/streamhttp/streamhttp/stream"
)

// IncomingConnection is a connection accepted by a [Bind] source, not yet
// served: choose its handler with one of the Handle methods.
//
// A parked connection keeps nothing but this struct (and its socket): the
// fields below are laid out for that, and what only a run needs lives in
// the run.
type IncomingConnection struct {
	b       *ServerBinding
	conn    net.Conn
	served  net.Conn // what is served: conn, or conn after its PROXY protocol header
	proxied atomic.Pointer[proxiedConn]
	err     error
	// handler serves the connection, set by handle; parkable tells whether
	// it may be materialized anew after a parking (see handle).
	handler stream.Flow[*Request, *Response]
	// adm counts the connection's MaxConnections slot (see admission); nil:
	// none. admState and admElem are guarded by adm.mu.
	adm     *admission
	admElem *list.Element // in adm.pending while admitPending
	// accepted is when the acceptor took it, unix nanoseconds.
	accepted int64
	// Carried from a run to the next across parkings, by the goroutine
	// that serves: how many requests have been read, and when bytes last
	// moved (unix nanoseconds; 0 before the first run). While the
	// connection is parked, the binding's sweeper reads lastIO (under b.mu)
	// for its idle timeout.
	seq    uint64
	lastIO int64
	// pipelining is the connection's PipeliningLimit when its handler
	// raised it (HandleWithAsyncHandler); 0: the binding's.
	pipelining int32
	admState   admitState
	parkable   bool

	// Guarded by b.mu.
	handled bool
	ended   bool          // Err is set; done is closed once made
	drained bool          // Terminate reached it before its layer did
	evicted bool          // closed to make room before it sent a head (admission)
	parked  bool          // in waiter
	cio     *connIO       // while it is served
	done    chan struct{} // made by Done (or closedChan once ended)
	waiter  poller.Waiter // the parking
	// h2park is the HTTP/2 state of a parked HTTP/2 connection (owned by
	// whoever owns the parked connection).
	h2park *h2.Parked
}

func newIncoming(b *ServerBinding, c net.Conn) *IncomingConnection {
	return &IncomingConnection{b: b, conn: c, served: c, accepted: time.Now().UnixNano()}
}

// closedChan is the Done of a connection that ended before anyone asked.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// finish records the end of the connection, err, and closes its Done.
func (c *IncomingConnection) finish(err error) {
	c.err = err
	c.b.mu.Lock()
	c.ended = true
	if c.done == nil {
		c.done = closedChan
	} else {
		close(c.done)
	}
	c.b.mu.Unlock()
}

// errRefused is the end of an accepted connection that its binding closed
// before it was handled.
var errRefused = errors.New("streamhttp: the connection was closed by its binding before it was handled")

// LocalAddr returns the server's end of the connection.
func (c *IncomingConnection) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the client's end of the connection: once serving has
// read a PROXY protocol header (ServerSettings.ProxyProtocol), the client's
// address on the balancer's side.
func (c *IncomingConnection) RemoteAddr() net.Addr {
	if p := c.proxied.Load(); p != nil {
		return p.RemoteAddr()
	}
	return c.conn.RemoteAddr()
}

// ProxiedFrom returns the balancer's address, the connection's own remote
// end, once serving has read a PROXY protocol header that carried the
// client's address; nil before and otherwise.
func (c *IncomingConnection) ProxiedFrom() net.Addr {
	if p := c.proxied.Load(); p != nil {
		return c.conn.RemoteAddr()
	}
	return nil
}

// TLS returns the TLS state of a TLS connection (before its handshake, which
// serving it completes), nil on a plain one.
func (c *IncomingConnection) TLS() *tls.ConnectionState {
	if tc, ok := c.conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// HandleWith serves the connection with a handler flow, in a goroutine of
// its own, and returns at once; Done and Err tell how it ended. The flow is
// materialized once, for this connection alone, so it may keep state per
// connection; for that reason the connection is never parked while idle
// (see ServerSettings.ParkIdleAfter). The connection counts towards its
// binding until it ends. A connection is handled once: a second call
// panics. A connection that its binding closed (Close, Terminate) before it
// was handled is not served; Err then says so.
func (c *IncomingConnection) HandleWith(handler stream.Flow[*Request, *Response]) {
	c.handle(handler, false)
}

// handle serves the connection with handler; park tells whether the
// handler may be materialized anew after an idle connection was parked
// (true for the handler functions, which keep no per-connection state).
func (c *IncomingConnection) handle(handler stream.Flow[*Request, *Response], park bool) {
	b := c.b
	b.mu.Lock()
	if c.handled {
		b.mu.Unlock()
		panic("streamhttp: IncomingConnection handled twice")
	}
	_, live := b.conns[c]
	if live {
		c.handled = true
		b.stats.connOpened()
	}
	b.mu.Unlock()
	if !live { // refused: it has ended already
		c.release()
		return
	}
	_, rawOK := c.conn.(poller.Conn)
	_, isTLS := c.conn.(*tls.Conn)
	c.handler = handler
	c.parkable = park && rawOK && !isTLS && b.s.ParkIdleAfter > 0
	go c.start()
}

// start serves the connection, after its PROXY protocol header when the
// binding reads one.
func (c *IncomingConnection) start() {
	b := c.b
	if b.s.ProxyProtocol.Mode != ProxyProtocolOff {
		raw := c.conn
		tc, isTLS := raw.(*tls.Conn)
		if isTLS {
			raw = tc.NetConn() // the header comes before the handshake
		}
		conn, err := readProxyHeader(b.ctx, raw, &b.s.ProxyProtocol, b.s.HeadTimeout)
		if err != nil {
			logProxyFailure(b.s.Logger, raw, err)
			c.conn.Close()
			c.end(err)
			return
		}
		if pc, ok := conn.(*proxiedConn); ok {
			c.proxied.Store(pc)
		}
		if conn != raw {
			c.served = conn
			if isTLS {
				c.served = tls.Server(conn, b.s.TLSConfig)
			}
		}
	}
	c.serve()
}

// serve serves the connection until it ends or is parked.
func (c *IncomingConnection) serve() {
	b := c.b
	ready := b.readyFor(c.served)
	for {
		o := connOpts{stats: b.stats, track: c.track, park: c.parkable, seq: c.seq, ready: ready,
			pipelining: int(c.pipelining), lingering: c.release, h2: c.h2park}
		if c.adm != nil {
			o.earnSlot = c.earnSlot
		}
		if c.lastIO != 0 {
			o.lastIO = clock.Time(c.lastIO)
		}
		err := serveConn(b.ctx, c.served, c.handler, b.s, &o)
		c.h2park = o.h2
		if !o.parked {
			c.end(err)
			return
		}
		c.seq, c.lastIO = o.seq, o.lastIO.UnixNano()
		switch c.park() {
		case parkOK:
			return // the poller serves it again when it is readable
		case parkClose:
			c.closeIdle()
			c.end(nil)
			return
		case parkFailed:
			c.parkable = false // serve on in this goroutine
		}
	}
}

// parkWaker is the connection as poller.Parked: woken, it is served again.
type parkWaker IncomingConnection

func (w *parkWaker) SyscallConn() (syscall.RawConn, error) {
	return w.conn.(poller.Conn).SyscallConn()
}

func (w *parkWaker) Wake() {
	if c := (*IncomingConnection)(w); c.unpark(true) {
		// A wake-up is the client's bytes arriving: the woken run's idle
		// timeout counts from it. (Counted from before the parking, a
		// request that came just in time, and woke the connection, would
		// find the deadline passed at the run's first read and be dropped
		// unanswered; the sweeper closes a connection still parked at its
		// idle deadline.)
		c.lastIO = clock.Now()
		c.serve()
	}
}

// end records the end of a served connection.
func (c *IncomingConnection) end(err error) {
	c.b.mu.Lock()
	if c.evicted {
		err = errEvicted
	}
	c.b.mu.Unlock()
	c.b.release(c, true)
	c.release()
	c.finish(err)
}

type parkResult int

const (
	parkOK     parkResult = iota
	parkClose             // the connection closes instead: idle for too long, or the binding is closing
	parkFailed            // the connection cannot be parked: serve it in its goroutine
)

// park parks the idle connection, which its parkWaker serves again.
func (c *IncomingConnection) park() parkResult {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.terminating || c.drained || b.ctx.Err() != nil {
		return parkClose
	}
	if c.idleExpired(clock.Now()) {
		return parkClose
	}
	p := b.pollerLocked()
	if p == nil {
		return parkFailed
	}
	if b.s.WriteTimeout > 0 {
		// The last answer's write deadline would stay armed for
		// WriteTimeout: a runtime timer per parked connection, and a timer
		// heap that long lets the stopped timers of ended runs (which hold
		// their runs) wait there until their own times come. The next run
		// sets a deadline anew before it writes. Cleared before the
		// parking: once parked, a wake-up may start that run.
		c.conn.SetWriteDeadline(time.Time{})
	}
	if err := p.Park(&c.waiter, (*parkWaker)(c)); err != nil {
		return parkFailed
	}
	c.parked = true
	return parkOK
}

// idleExpired reports whether the connection has been idle for
// IdleTimeout at now (unix nanoseconds), when it has one: a parked
// connection closes then.
func (c *IncomingConnection) idleExpired(now int64) bool {
	t := c.b.s.IdleTimeout
	return t > 0 && now-c.lastIO >= int64(t)
}

// unpark takes the connection out of the parked state; woken says that the
// poller started its function, which then serves it. It reports whether
// the caller owns the connection: the one that stops the waiter (or is
// woken by it) does.
func (c *IncomingConnection) unpark(woken bool) bool {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !c.parked {
		return woken
	}
	if !woken && !b.poller.Stop(&c.waiter) {
		return false // woken meanwhile: the wake-up serves it
	}
	c.parked = false
	return true
}

// closeParked closes the connection if it is parked (idle timeout, or the
// binding closing).
func (c *IncomingConnection) closeParked() {
	if c.unpark(false) {
		c.closeIdle()
		c.end(nil)
	}
}

// closeIdle closes an idle connection, an HTTP/2 one after its GOAWAY.
func (c *IncomingConnection) closeIdle() {
	if p := c.h2park; p != nil {
		goAwayParked(c.served, p)
	}
	c.conn.Close()
}

// track learns of the connIO serving c (nil when it is done).
func (c *IncomingConnection) track(cio *connIO) {
	b := c.b
	b.mu.Lock()
	if c.cio != nil {
		delete(b.active, c.cio)
	}
	c.cio = cio
	if cio != nil && cio.parkAfter > 0 {
		b.active[cio] = struct{}{}
		b.startSweeperLocked(cio.parkAfter)
	}
	drain := cio != nil && (c.drained || b.terminating)
	evicted := cio != nil && c.evicted
	if drain && !c.drained && !evicted {
		// Accepted while (or just before) the binding began terminating:
		// it drains once its grace has passed (see drainConns).
		if left := c.freshGraceLeft(time.Now()); left > 0 {
			cio.hooks.CloseNext.Store(true)
			b.mu.Unlock()
			b.graceDrain(c, time.Now().Add(left))
			return
		}
	}
	b.mu.Unlock()
	if drain {
		cio.drain()
	}
	if evicted {
		cio.expire() // evicted before its run began; the close is under way
	}
}

// refuse closes a connection that was accepted but not handled yet.
func (c *IncomingConnection) refuse() {
	b := c.b
	b.mu.Lock()
	_, live := b.conns[c]
	if c.handled || !live {
		b.mu.Unlock()
		return
	}
	delete(b.conns, c)
	b.checkEndedLocked()
	b.mu.Unlock()
	c.conn.Close()
	c.finish(errRefused)
}

// terminate is Terminate's part for the connection: the graceful end
// (drain), or at the hard deadline the end now (hard).
func (c *IncomingConnection) terminate(hard bool) {
	b := c.b
	b.mu.Lock()
	handled, cio, parked := c.handled, c.cio, c.parked
	if !hard {
		c.drained = true
	}
	b.mu.Unlock()
	switch {
	case !handled:
		c.refuse()
	case parked:
		c.closeParked() // idle; if it is being woken, track drains it
	case cio != nil && hard:
		cio.expire()
	case cio != nil:
		cio.drain()
	case hard:
		c.conn.Close() // still in its TLS handshake
	}
	// Otherwise serving is starting (a TLS handshake, say): track drains it.
}

// HandleWithSyncHandler serves the connection with a function that answers
// each request in turn. An idle connection is parked after
// ServerSettings.ParkIdleAfter and served by a new run when it wakes.
func (c *IncomingConnection) HandleWithSyncHandler(f func(*Request) *Response) {
	c.handle(stream.Map(f), true)
}

// HandleWithAsyncHandler serves the connection with a function that may
// run for up to parallelism requests of the connection at once (0 means the
// binding's PipeliningLimit); responses are written in request order.
// A parallelism above the PipeliningLimit raises the connection's limit to
// it when ServerSettings.PipeliningLimit was left at its default; a limit
// that was set bounds the parallelism instead. An error from f is answered
// with 500 and closes the connection.
func (c *IncomingConnection) HandleWithAsyncHandler(f func(context.Context, *Request) (*Response, error), parallelism int) {
	limit := c.b.s.pipeliningFor(parallelism)
	c.pipelining = int32(limit)
	c.handle(handlerFlow(f, parallelism, limit), true)
}

// AsyncHandler is the flow of HandleWithAsyncHandler: f runs for up to
// parallelism requests at once (0 means limit) and each response is linked
// to its request, so the server writes them in request order. With a
// parallelism of 1, f runs in the connection's own goroutine, fused with the
// server layer: no goroutine per request, and pipelined responses leave in
// one write.
func AsyncHandler(f func(context.Context, *Request) (*Response, error), parallelism, limit int) stream.Flow[*Request, *Response] {
	if parallelism <= 0 {
		parallelism = max(limit, 1)
	}
	if parallelism == 1 {
		return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[*Request]) stream.Puller[*Response] {
			return &inlineCall{up: up, f: f}
		})
	}
	return stream.MapAsyncUnordered(parallelism, func(_ context.Context, r *Request) (*Response, error) {
		resp, err := h1.CallHandler(f, r)
		if err != nil {
			// This request's failure is its own: it is answered 500 (and
			// the connection closes after it), while the requests before
			// it, whose answers may still be on their way, get them. A
			// failure of the flow itself would drop those.
			resp = h1.FailedAnswer(r, err)
		}
		if resp != nil {
			resp = resp.ForRequest(r) // a copy when resp is shared
		}
		return resp, nil
	})
}

// inlineCall is AsyncHandler for a parallelism of 1: f runs in the
// goroutine that pulls, fused with the server layer like a synchronous
// handler, with no goroutine or channel per request. The layer still
// writes the 503 of a request timeout while f blocks; what it gives up is
// reading ahead while f runs (a client that goes away is noticed once f
// returns).
type inlineCall struct {
	up   stream.Puller[*Request]
	f    func(context.Context, *Request) (*Response, error)
	done error
}

func (s *inlineCall) Pull() (*Response, error) {
	if s.done != nil {
		return nil, s.done
	}
	r, err := s.up.Pull()
	if err != nil {
		s.done = err
		return nil, err
	}
	resp, err := s.f(r.Context(), r)
	if err != nil {
		s.done = err
		s.up.Cancel(err)
		return nil, err
	}
	return resp, nil
}

func (s *inlineCall) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// Done is closed when the connection has been served and closed.
func (c *IncomingConnection) Done() <-chan struct{} {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{}) // ended: closedChan instead
	}
	return c.done
}

// Err returns how serving the connection ended (nil for an orderly end);
// valid once Done is closed.
func (c *IncomingConnection) Err() error { return c.err }

// BindAndHandle binds addr and serves every connection with handler until
// the binding is closed. It returns once the socket is bound, or with the
// bind error. At most MaxConnections connections that have sent a request
// head are served at once: at the limit an idle (parked) connection is
// closed to make room, and otherwise the next one is not accepted before
// another ends. Connections that have not sent a complete head yet count
// apart, up to MaxPendingConnections, the oldest closed to make room for a
// new one (see the package's "Connection slots").
//
// Until the binding ends, SIGTERM terminates it gracefully and SIGINT or
// SIGQUIT close it (see ServerBinding.HandleSignals), unless
// ServerSettings.DisableSignals is set. Cancelling ctx closes the binding
// and its connections at once; Terminate ends it gracefully.
func BindAndHandle(ctx context.Context, addr string, handler stream.Flow[*Request, *Response], s ServerSettings) (*ServerBinding, error) {
	return bindAndHandle(ctx, addr, handler, false, s)
}

func bindAndHandle(ctx context.Context, addr string, handler stream.Flow[*Request, *Response], park bool, s ServerSettings) (*ServerBinding, error) {
	rs := s.resolved()
	return handleAll(ctx, Bind(addr, s), &rs, func(c *IncomingConnection) { c.handle(handler, park) })
}

// BindAndHandleSync is [BindAndHandle] with a function answering each
// request of a connection in turn.
func BindAndHandleSync(ctx context.Context, addr string, f func(*Request) *Response, s ServerSettings) (*ServerBinding, error) {
	return bindAndHandle(ctx, addr, stream.Map(f), true, s)
}

// BindAndHandleAsync is [BindAndHandle] with a function that runs for up to
// parallelism requests of each connection at once (0 means the
// PipeliningLimit); responses are written in request order. A parallelism
// above the PipeliningLimit raises the limit to it when
// ServerSettings.PipeliningLimit was left at its default (a limit that was
// set bounds the parallelism instead).
func BindAndHandleAsync(ctx context.Context, addr string, f func(context.Context, *Request) (*Response, error), parallelism int, s ServerSettings) (*ServerBinding, error) {
	rs := s.resolved()
	if s.PipeliningLimit == 0 {
		s.PipeliningLimit = rs.pipeliningFor(parallelism)
	}
	return bindAndHandle(ctx, addr, handlerFlow(f, parallelism, s.PipeliningLimit), true, s)
}

func handleAll(ctx context.Context, src stream.SourceMat[*IncomingConnection, *ServerBinding], s *ServerSettings, handle func(*IncomingConnection)) (*ServerBinding, error) {
	adm := newAdmission(s.MaxConnections, s.MaxPendingConnections)
	sink := stream.ForEach(func(c *IncomingConnection) {
		// The next connection is not accepted (the source is not pulled)
		// while every slot is earned; see admission.
		if !adm.admit(ctx, c) {
			c.refuse() // shutting down: not served
			return
		}
		handle(c)
	})
	run := stream.To(src, sink).Start(ctx)
	b := run.Materialized()
	if b.Err() != nil {
		run.Wait()
		return nil, b.Err()
	}
	go func() {
		// The accept loop ends when ctx is cancelled or the binding is
		// unbound; the listener is closed then.
		run.Wait()
		b.closeListener()
	}()
	// Cancelling ctx also ends the open connections.
	stop := context.AfterFunc(ctx, b.closeNow)
	go func() {
		<-b.done
		stop()
	}()
	if !s.DisableSignals {
		b.HandleSignals()
	}
	return b, nil
}
