package streamhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/internal/poller"
	"github.com/streamhttp/streamhttp/stream"
)

// DefaultBindTimeout bounds how long binding a socket may take.
const DefaultBindTimeout = time.Second

// Bind returns a source of the connections accepted on the TCP address
// addr ("host:port"; port 0 picks a free one). Nothing is bound until the
// source runs, and every run binds anew; the run's materialized value is
// the [ServerBinding]. A bind failure (port in use, permission, bad
// address, BindTimeout) fails the run with that error and is also reported
// by ServerBinding.Err.
//
// A connection is accepted only when the source is pulled: a consumer that
// does not pull leaves connections in the kernel's backlog. Cancelling the
// source (or ServerBinding.Unbind) closes the listener; connections already
// accepted go on.
func Bind(addr string, s ServerSettings) stream.SourceMat[*IncomingConnection, *ServerBinding] {
	return BindConfig(s.listenConfig(), "tcp", addr, s)
}

// BindConfig is [Bind] with a net.ListenConfig, for socket options set in
// its Control hook (SO_REUSEPORT, buffer sizes) and keep-alive settings, and
// any stream network ("tcp", "tcp4", "tcp6", "unix"). It ignores
// ServerSettings.ListenConfig, but not ReusePort.
func BindConfig(lc *net.ListenConfig, network, addr string, s ServerSettings) stream.SourceMat[*IncomingConnection, *ServerBinding] {
	lc = withReusePort(lc, s.ReusePort)
	return bindSource(s, func(ctx context.Context) (net.Listener, error) {
		return lc.Listen(ctx, network, addr)
	})
}

// BindListener is [Bind] over a listener that is already open (a PROXY
// protocol wrapper, an in-memory listener, a socket passed in by systemd).
// The source takes it over: cancelling the source closes it. Because the
// listener exists once, only the first run of the source can use it; later
// runs fail with net.ErrClosed.
func BindListener(ln net.Listener, s ServerSettings) stream.SourceMat[*IncomingConnection, *ServerBinding] {
	var once sync.Once
	return bindSource(s, func(context.Context) (net.Listener, error) {
		l, err := net.Listener(nil), net.ErrClosed
		once.Do(func() { l, err = ln, nil })
		return l, err
	})
}

func bindSource(s ServerSettings, listen func(context.Context) (net.Listener, error)) stream.SourceMat[*IncomingConnection, *ServerBinding] {
	return stream.FromPullerMat(func(m *stream.Materializer) (stream.Puller[*IncomingConnection], *ServerBinding) {
		rs := s.resolved()
		b := newBinding(&rs)
		ctx, cancel := context.WithTimeout(m.Context(), rs.BindTimeout)
		ln, err := listen(ctx)
		cancel()
		if err != nil {
			b.fail(err)
			return &acceptor{b: b, done: err}, b
		}
		b.ln = ln
		// The run ending (or being cancelled) closes the listener, which
		// also wakes a pending Accept.
		b.stopWatch = context.AfterFunc(m.Context(), func() { b.closeListener() })
		return &acceptor{b: b, m: m}, b
	})
}

// ServerBinding is a bound socket: the materialized value of a run of
// [Bind]. It ends (Done) once its listener is closed and every connection it
// accepted has ended.
type ServerBinding struct {
	s         *ServerSettings
	ln        net.Listener
	err       error
	stopWatch func() bool
	stats     *serverStats

	ctx    context.Context // handed to the connections; cancelled by Close
	cancel context.CancelFunc

	draining atomic.Bool // see Drain

	mu          sync.Mutex
	closed      bool // the listener is closed
	paused      bool
	resume      chan struct{} // closed by Resume
	conns       map[*IncomingConnection]struct{}
	terminating bool
	ended       bool

	poller   *poller.Poller       // parks idle connections; made on first use
	ready    *poller.Ready        // tells answered connections when to read; made on first use
	noReady  bool                 // where there is no readiness set
	noPoller bool                 // parking is not supported here
	active   map[*connIO]struct{} // served connections that may be parked
	sweeping bool                 // the sweeper runs
	// Connections that Terminate leaves alone for a grace (drainConns),
	// and whether the goroutine that watches them runs.
	graced  map[*IncomingConnection]*graceState
	gracing bool

	listenerDone chan struct{} // closed when the listener is closed
	done         chan struct{} // closed when the binding has ended
}

func newBinding(s *ServerSettings) *ServerBinding {
	b := &ServerBinding{
		s: s, stats: newServerStats(),
		conns:        make(map[*IncomingConnection]struct{}),
		active:       make(map[*connIO]struct{}),
		listenerDone: make(chan struct{}), done: make(chan struct{}),
	}
	// Requests find their binding through their context (BindingOf).
	b.ctx, b.cancel = context.WithCancel(context.WithValue(context.Background(), bindingKey{}, b))
	return b
}

func (b *ServerBinding) fail(err error) {
	b.err = err
	b.closeListener()
}

// Err returns the bind error, or nil once the socket is bound.
func (b *ServerBinding) Err() error { return b.err }

// LocalAddr returns the address the socket is bound to, with the real port
// when port 0 was asked for; nil when binding failed.
func (b *ServerBinding) LocalAddr() net.Addr {
	if b.ln == nil {
		return nil
	}
	return b.ln.Addr()
}

func (b *ServerBinding) closeListener() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	if b.resume != nil {
		close(b.resume)
		b.resume = nil
	}
	b.mu.Unlock()
	if b.ln != nil {
		b.ln.Close()
	}
	close(b.listenerDone)
	b.mu.Lock()
	b.checkEndedLocked()
	b.mu.Unlock()
}

// checkEndedLocked closes done once the listener is closed and no accepted
// connection is left. Called with b.mu held.
func (b *ServerBinding) checkEndedLocked() {
	if b.closed && len(b.conns) == 0 && !b.ended {
		b.ended = true
		b.cancel() // releases the connections' context
		if b.poller != nil {
			b.poller.Close()
		}
		if b.ready != nil {
			b.ready.Close()
		}
		close(b.done)
	}
}

// pollerLocked returns the binding's poller, made on first use; nil where
// connections cannot be parked. Called with b.mu held.
func (b *ServerBinding) pollerLocked() *poller.Poller {
	if b.poller == nil && !b.noPoller && !b.ended {
		p, err := poller.New()
		if err != nil {
			b.noPoller = true
			return nil
		}
		b.poller = p
	}
	return b.poller
}

// readyFor returns the binding's readiness set for conn, made on first
// use; nil where conn is not plain TCP or there is no set, and where Go
// runs on more than one P.
//
// With one P (GOMAXPROCS 1, as in a container limited to one CPU), the
// set removes the empty read after each answer (one read and one write per
// keep-alive request) at no cost in throughput and with a lower p99. With
// more, waking a connection through the set's goroutine moves it between
// Ps, and the alternating yield of connIO.read measured about 15 %
// faster (2 Ps, plaintext keep-alive, 50 connections), so it is used there.
// GOMAXPROCS is read when a connection's run starts.
func (b *ServerBinding) readyFor(conn net.Conn) *poller.Ready {
	if pc, ok := conn.(*proxiedConn); ok {
		conn = pc.Conn
	}
	if _, ok := conn.(*net.TCPConn); !ok {
		return nil
	}
	if runtime.GOMAXPROCS(0) > 1 && !readySetAlways.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ready == nil && !b.noReady && !b.ended {
		r, err := poller.NewReady()
		if err != nil {
			b.noReady = true
			return nil
		}
		b.ready = r
	}
	return b.ready
}

// readySetAlways makes bindings use readiness sets whatever GOMAXPROCS:
// for tests.
var readySetAlways atomic.Bool

// startSweeperLocked starts the goroutine that parks idle connections, if
// it is not running: every half of parkAfter it nudges the served
// connections on which nothing has moved for parkAfter (on a busy server,
// for longer: see idleSweep), whose readers then park them. One goroutine
// per binding, rather than a timer per connection re-armed on every read.
// It ends with the binding. Called with b.mu held.
func (b *ServerBinding) startSweeperLocked(parkAfter time.Duration) {
	if b.sweeping || b.ended {
		return
	}
	b.sweeping = true
	// Parked connections are checked for their idle timeout less often:
	// every quarter of the timeout, at most every second.
	parkedEvery := time.Second
	if t := b.s.IdleTimeout; t > 0 {
		parkedEvery = min(max(t/4, parkAfter), time.Second)
	}
	go func() {
		var sw idleSweep
		sw.init(parkAfter)
		t := time.NewTicker(sw.every())
		defer t.Stop()
		var idle []*connIO
		var expired []*IncomingConnection
		lastParkedSweep := clock.Now()
		for {
			select {
			case <-t.C:
			case <-b.done:
				return
			}
			// One clock reading for the whole sweep: a busy server has
			// many connections to look at, each time.
			now := clock.Now()
			sweepParked := now-lastParkedSweep >= int64(parkedEvery)
			idleSince := now - int64(sw.after)
			b.mu.Lock()
			for cio := range b.active {
				if cio.lastIO.Load() <= idleSince && cio.mayPark() {
					idle = append(idle, cio)
				}
			}
			if sweepParked {
				lastParkedSweep = now
				for c := range b.conns {
					if c.parked && c.idleExpired(now) {
						expired = append(expired, c)
					}
				}
			}
			b.mu.Unlock()
			held := 0
			for i, cio := range idle {
				// Bytes waiting: its goroutine was held up, not idle (the
				// reader checks again when nudged). Looked at once until
				// it moves bytes again.
				switch last := cio.lastIO.Load(); {
				case last != 0 && last == cio.heldAt:
					held++
				case cio.inputWaiting():
					cio.heldAt = last
					held++
				default:
					cio.nudge()
				}
				idle[i] = nil
			}
			idle = idle[:0]
			if sw.adapt(held) {
				t.Reset(sw.every())
			}
			for i, c := range expired {
				c.closeParked() // the idle timeout, while parked
				expired[i] = nil
			}
			expired = expired[:0]
		}
	}()
}

// maxParkBackoff bounds how far idleSweep lengthens ParkIdleAfter on a
// busy server: to this many times the setting.
const maxParkBackoff = 16

// idleSweep is the sweeper's idea of an idle connection: one that has
// moved no bytes for after. That is ParkIdleAfter while the server keeps
// up. A sweep that finds connections held up (their next request waiting
// on the socket while their goroutines wait to run) shows a server whose
// own delay reaches ParkIdleAfter: connections that look idle there are
// mostly waiting for it, and parking them costs a parking, a wake-up and
// a new run each, while every sweep costs a look at every connection (and
// a system call for each held one). So each such sweep doubles after, up
// to maxParkBackoff times ParkIdleAfter, and each sweep that finds none
// halves it again; the sweeps come every half of after.
type idleSweep struct {
	base, after time.Duration
}

func (s *idleSweep) init(parkAfter time.Duration) { s.base, s.after = parkAfter, parkAfter }

// every is the period of the sweeps.
func (s *idleSweep) every() time.Duration { return max(s.after/2, time.Millisecond) }

// adapt takes the number of held-up connections that a sweep found, and
// reports whether after changed.
func (s *idleSweep) adapt(held int) bool {
	was := s.after
	if held > 0 {
		s.after = min(2*s.after, maxParkBackoff*s.base)
	} else {
		s.after = max(s.after/2, s.base)
	}
	return s.after != was
}

// evictParked closes one parked connection, if there is one, to make room
// for a new connection.
func (b *ServerBinding) evictParked() {
	b.mu.Lock()
	var victim *IncomingConnection
	for c := range b.conns {
		if c.parked {
			victim = c
			break
		}
	}
	b.mu.Unlock()
	if victim != nil {
		victim.closeParked()
	}
}

// Unbind stops accepting connections and closes the listener; connections
// already accepted go on. It returns once the listener is closed, or with
// ctx's error.
func (b *ServerBinding) Unbind(ctx context.Context) error {
	b.closeListener()
	select {
	case <-b.listenerDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Terminate ends the binding gracefully, with ctx's deadline as the hard
// deadline:
//
//   - the listener closes: no connection is accepted any more;
//   - accepted connections not yet handled and parked (idle) ones close
//     now; a served connection with no request in the handler answers its
//     next request with Connection: close, and closes (when still idle)
//     after a grace of HeadTimeout, at most a second (for a connection
//     accepted just before, counted from its accept): a request already on
//     its way is answered rather than reset;
//   - the requests that connections have taken may finish: the last
//     response of each connection carries Connection: close, and no
//     further request is read from it;
//   - when ctx ends, every request still unanswered gets 503 (or the
//     TimeoutResponse), written together with the answers already in for
//     the requests behind it (on HTTP/2, on its stream; a response already
//     under way is reset), and every connection closes.
//
// Terminate returns nil once every connection has ended, or ctx's error
// when the deadline came first (handlers that ignore their request's
// context may still be running then; Done tells when they have returned).
func (b *ServerBinding) Terminate(ctx context.Context) error {
	b.closeListener()
	b.mu.Lock()
	b.terminating = true // connections served from now on drain at once
	b.mu.Unlock()
	stopGrace := b.drainConns()
	select {
	case <-b.done:
		stopGrace()
		return nil
	case <-ctx.Done():
	}
	stopGrace()
	for _, c := range b.connsWhere(anyConn) {
		c.terminate(true)
	}
	b.cancel()
	// The connections close now; give them a moment to be done.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
	}
	return ctx.Err()
}

// Close unbinds and closes every open connection at once, then waits for
// them to end (or for ctx).
func (b *ServerBinding) Close(ctx context.Context) error {
	b.closeNow()
	return b.waitConns(ctx)
}

// closeNow closes the listener and every connection, without waiting.
func (b *ServerBinding) closeNow() {
	b.closeListener()
	// Those being served end with the binding's context; the others are
	// closed here (refuse and closeParked do nothing to the rest).
	for _, c := range b.connsWhere(anyConn) {
		c.refuse()
		c.closeParked()
	}
	b.cancel()
}

// Done is closed when the binding has ended: its listener is closed and
// every connection it accepted has ended.
func (b *ServerBinding) Done() <-chan struct{} { return b.done }

// Wait waits until the binding has ended (see Done).
func (b *ServerBinding) Wait() { <-b.done }

func (b *ServerBinding) waitConns(ctx context.Context) error {
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops accepting connections until Resume; the listener stays
// bound, so clients wait in the kernel's backlog.
func (b *ServerBinding) Pause() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.paused && !b.closed {
		b.paused = true
		b.resume = make(chan struct{})
		// Wake an Accept under way, so that no connection is taken while
		// paused.
		b.setAcceptDeadline(time.Unix(1, 0))
	}
}

// setAcceptDeadline sets the listener's accept deadline when it has one.
// Called with b.mu held, which orders it with Pause.
func (b *ServerBinding) setAcceptDeadline(t time.Time) {
	if dl, ok := b.ln.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(t)
	}
}

// Resume undoes Pause.
func (b *ServerBinding) Resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused {
		b.paused = false
		close(b.resume)
		b.resume = nil
	}
}

// OpenConnections returns how many accepted connections are being served
// and the most there were at once (since the last ResetStats): the
// OpenConnections and MaxOpenConnections of Stats.
func (b *ServerBinding) OpenConnections() (open, maxOpen int) {
	return int(b.stats.openConnections.Load()), int(b.stats.maxOpenConnections.Load())
}

// connsWhere returns the accepted connections for which keep returns
// true, to act on once b.mu is released. keep runs with b.mu held.
func (b *ServerBinding) connsWhere(keep func(*IncomingConnection) bool) []*IncomingConnection {
	b.mu.Lock()
	defer b.mu.Unlock()
	var cs []*IncomingConnection
	for c := range b.conns {
		if keep(c) {
			cs = append(cs, c)
		}
	}
	return cs
}

func anyConn(*IncomingConnection) bool { return true }

// accepted registers a connection the acceptor took.
func (b *ServerBinding) accepted(c *IncomingConnection) {
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
}

// release unregisters c, served or refused.
func (b *ServerBinding) release(c *IncomingConnection, served bool) {
	b.mu.Lock()
	delete(b.conns, c)
	if served {
		b.stats.connClosed()
	}
	b.checkEndedLocked()
	b.mu.Unlock()
}

// acceptor is the run-time side of the connection source.
type acceptor struct {
	b    *ServerBinding
	m    *stream.Materializer
	done error
}

// Accept backoff for errors that pass (out of file descriptors).
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func (a *acceptor) Pull() (*IncomingConnection, error) {
	if a.done != nil {
		return nil, a.done
	}
	b := a.b
	backoff := time.Duration(0)
	for {
		b.mu.Lock()
		resume := b.resume
		if resume == nil {
			b.setAcceptDeadline(time.Time{})
		}
		b.mu.Unlock()
		if resume != nil { // paused
			if !a.waitResume(resume) {
				a.done = a.m.Cause()
				return nil, a.done
			}
			continue // clears the accept deadline that Pause set
		}
		a.m.WillBlock()
		c, err := b.ln.Accept()
		if err == nil {
			if !a.holdWhilePaused(c) {
				continue
			}
			if b.s.TLSConfig != nil {
				c = tls.Server(c, b.s.TLSConfig)
			}
			ic := newIncoming(b, c)
			b.accepted(ic)
			return ic, nil
		}
		b.mu.Lock()
		paused := b.paused && !b.closed
		b.mu.Unlock()
		switch {
		case paused && errors.Is(err, os.ErrDeadlineExceeded):
			// Pause woke the Accept: wait for Resume.
		case errors.Is(err, net.ErrClosed) || a.m.Stopped():
			a.done = stream.EOS // unbound
			return nil, a.done
		case temporaryAcceptError(err):
			// Out of file descriptors and the like: back off and retry.
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-a.m.Done():
				t.Stop()
				a.done = a.m.Cause()
				return nil, a.done
			}
		default:
			a.done = err // the connection source fails
			b.closeListener()
			return nil, err
		}
	}
}

// holdWhilePaused deals with a connection that Accept returned although
// Pause had come first (the runtime reports a socket that became ready as
// ready, even past the deadline Pause set): it holds the connection until
// Resume, as the backlog would, and reports whether it may be served; the
// connection is closed when the binding ends first.
func (a *acceptor) holdWhilePaused(c net.Conn) bool {
	b := a.b
	b.mu.Lock()
	resume := b.resume
	b.mu.Unlock()
	if resume == nil {
		return true
	}
	if a.waitResume(resume) {
		b.mu.Lock()
		closed := b.closed // closing the listener also ends a pause
		b.mu.Unlock()
		if !closed {
			return true
		}
	}
	c.Close()
	return false
}

// waitResume waits for resume (closed by Resume, or when the listener
// closes); false when the run ends first.
func (a *acceptor) waitResume(resume <-chan struct{}) bool {
	a.m.WillBlock()
	select {
	case <-resume:
		return true
	case <-a.m.Done():
		return false
	}
}

func temporaryAcceptError(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func (a *acceptor) Cancel(error) {
	if a.done == nil {
		a.done = stream.ErrCancelled
	}
	a.b.closeListener()
	if a.b.stopWatch != nil {
		a.b.stopWatch()
	}
}
