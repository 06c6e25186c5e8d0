package streamhttp

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

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
	return BindConfig(&net.ListenConfig{}, "tcp", addr, s)
}

// BindConfig is [Bind] with a net.ListenConfig, for socket options set in
// its Control hook (SO_REUSEPORT, buffer sizes) and keep-alive settings, and
// any stream network ("tcp", "tcp4", "tcp6", "unix").
func BindConfig(lc *net.ListenConfig, network, addr string, s ServerSettings) stream.SourceMat[*IncomingConnection, *ServerBinding] {
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
// [Bind].
type ServerBinding struct {
	s         *ServerSettings
	ln        net.Listener
	err       error
	stopWatch func() bool

	ctx    context.Context // handed to the connections; cancelled by Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool // the listener is closed
	paused  bool
	resume  chan struct{} // closed by Resume
	conns   sync.WaitGroup
	open    int
	maxOpen int

	listenerDone chan struct{} // closed when the listener is closed
}

func newBinding(s *ServerSettings) *ServerBinding {
	ctx, cancel := context.WithCancel(context.Background())
	return &ServerBinding{s: s, ctx: ctx, cancel: cancel, listenerDone: make(chan struct{})}
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

// Close unbinds and closes every open connection at once, then waits for
// them to end (or for ctx).
func (b *ServerBinding) Close(ctx context.Context) error {
	b.closeListener()
	b.cancel()
	return b.waitConns(ctx)
}

// Wait waits until the listener is closed and every connection it accepted
// has ended.
func (b *ServerBinding) Wait() {
	<-b.listenerDone
	b.conns.Wait()
}

func (b *ServerBinding) waitConns(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.Wait(); close(done) }()
	select {
	case <-done:
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
// and the most there were at once.
func (b *ServerBinding) OpenConnections() (open, maxOpen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open, b.maxOpen
}

func (b *ServerBinding) connOpened() {
	b.mu.Lock()
	b.open++
	b.maxOpen = max(b.maxOpen, b.open)
	b.mu.Unlock()
}

func (b *ServerBinding) connClosed() {
	b.mu.Lock()
	b.open--
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
		b.mu.Unlock()
		if resume != nil { // paused
			a.m.WillBlock()
			select {
			case <-resume:
			case <-a.m.Done():
				a.done = a.m.Cause()
				return nil, a.done
			}
		}
		a.m.WillBlock()
		c, err := b.ln.Accept()
		if err == nil {
			return newIncoming(b, c), nil
		}
		switch {
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
