package streamhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/internal/h2"
	"github.com/streamhttp/streamhttp/internal/poller"
	"github.com/streamhttp/streamhttp/stream"
)

// infoOf is what the layer knows of the connection rwc.
func infoOf(rwc io.ReadWriteCloser) h1.Info {
	var info h1.Info
	if nc, ok := rwc.(net.Conn); ok {
		info.Remote, info.Local = nc.RemoteAddr(), nc.LocalAddr()
	}
	if tc, ok := rwc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		info.TLS = &st
	}
	return info
}

// newConnIO is the connIO of one run of rwc, for either protocol: its read
// deadline, when bytes last moved (carried across parkings), and whether
// it may park (which takes a read deadline: the sweeper's nudge is one).
func newConnIO(rwc io.ReadWriteCloser, s *ServerSettings, o *connOpts, cancel context.CancelCauseFunc) *connIO {
	c := &connIO{rwc: rwc, in: rwc, s: s, cancel: cancel}
	if o.stats != nil {
		c.stats = connStats{s: o.stats, sh: o.stats.shard()}
	}
	c.dl, _ = rwc.(interface{ SetReadDeadline(time.Time) error })
	if o.lastIO.IsZero() {
		c.touch()
	} else {
		c.lastIO.Store(o.lastIO.UnixNano())
	}
	if o.park && s.ParkIdleAfter > 0 && c.dl != nil {
		c.parkAfter = s.ParkIdleAfter
	}
	return c
}

// readBufferSize is the size of a connection's read buffer: a request head
// with a body of a few KiB arrives in one read. Buffers are pooled and
// released while a connection is parked, so their size costs only the
// connections that are busy.
const readBufferSize = 8 << 10

// readBuffers recycles read buffers: a connection returns its buffer when
// its run ends (closed or parked), so a server whose connections come and
// go, or sleep and wake, does not make a new one each time.
var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, readBufferSize)
	return &b
}}

// releaseReadBuffer returns the read buffer once the run has ended: the
// layer, which parses chunks in place, is gone.
func (c *connIO) releaseReadBuffer() {
	if c.rbuf != nil {
		readBuffers.Put(c.rbuf)
		c.rbuf = nil
	}
}

// ServeConn serves HTTP/1.1 on rwc (a net.Conn, a *tls.Conn, one end of a
// net.Pipe, ...) with handler until the connection is done (and HTTP/2 when
// the client starts with its preface or negotiated "h2": see
// ServerSettings.HTTP2): the client
// closed it, a response closed it, it was idle for IdleTimeout, ctx was
// cancelled, or it failed. It closes rwc before it returns. The error is
// nil for an orderly end. A *tls.Conn completes its handshake first (within
// IdleTimeout), so that requests carry the TLS state.
//
// Responses are collected in one write buffer and written when the
// connection is about to wait (for input, or for the handler) or the buffer
// is full, so pipelined responses leave in one write.
//
// A handler that blocks does not hold back a request timeout: the 503 is
// written while it blocks, the connection closes for writing and the
// requests' context is cancelled; ServeConn returns once the handler has
// returned.
func ServeConn(ctx context.Context, rwc io.ReadWriteCloser, handler stream.Flow[*Request, *Response], s ServerSettings) error {
	s = s.resolved()
	return serveConn(ctx, rwc, handler, &s, &connOpts{})
}

// connOpts is what a binding adds to ServeConn.
type connOpts struct {
	stats *serverStats // nil: none
	// track learns of the connection's connIO before it is served (to
	// drain or expire it), and of nil once it is done.
	track func(*connIO)
	// park lets the connection end its run when it has been idle for
	// ParkIdleAfter, without closing: parked reports it, and the caller
	// serves it again when it is readable.
	park   bool
	parked bool
	// ready is the binding's readiness set (plain TCP on Linux, when Go
	// runs on one P: see ServerBinding.readyFor); nil: plain reads.
	ready *poller.Ready
	// Carried across parkings: when bytes last moved, and how many
	// requests have been read.
	lastIO time.Time
	seq    uint64
	h2     *h2.Parked // the HTTP/2 state of a parked HTTP/2 connection
	// pipelining, when not 0, is the connection's PipeliningLimit in place
	// of the settings' (see ServerSettings.pipeliningFor).
	pipelining int
	// lingering, if set, is called when the connection begins to linger
	// before it closes: it serves no more.
	lingering func()
	// earnSlot is called once per run, when its first
	// request head is complete and before that request is dispatched: a
	// binding's connection earns its MaxConnections slot there, and waits
	// for one while none is free. An error ends the connection unanswered.
	// nil: none.
	earnSlot func(context.Context) error
}

func serveConn(ctx context.Context, rwc io.ReadWriteCloser, handler stream.Flow[*Request, *Response], s *ServerSettings, o *connOpts) error {
	if tc, ok := rwc.(*tls.Conn); ok && !tc.ConnectionState().HandshakeComplete {
		if err := handshake(ctx, tc, s.TLSHandshakeTimeout); err != nil {
			rwc.Close()
			if s.Logger.Enabled(ctx, slog.LevelDebug) {
				s.Logger.Debug("streamhttp: TLS handshake failed", append(infoOf(rwc).Attrs(), "err", err)...)
			}
			return err
		}
	}
	// --- HTTP/2 dispatch (h2serve.go): ALPN "h2", or the client preface on
	// a new plain connection; the bytes read to decide go to HTTP/1.1 first.
	isH2, rbuf, n, derr := dispatchH2(ctx, rwc, s, o)
	switch {
	case derr != nil:
		rwc.Close()
		return nil // nothing arrived within HeadTimeout, or ctx ended
	case isH2:
		return serveH2(ctx, rwc, rbuf, n, handler, s, o)
	}
	// --- end of the HTTP/2 dispatch
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cio := newConnIO(rwc, s, o, cancel)
	cio.lingering = o.lingering
	cio.out = writer{w: rwc, s: s, stats: cio.stats.sh, lastIO: &cio.lastIO, wrote: &cio.wrote,
		failed: func(err error) { cancel(err) }}
	cio.out.wd, _ = rwc.(interface{ SetWriteDeadline(time.Time) error })
	if tc, ok := rwc.(*net.TCPConn); ok && cio.raw.Init(tc) == nil {
		// Plain TCP: raw reads and writes (see poller.Socket), under the
		// same deadlines.
		cio.in, cio.out.w = &cio.raw.Reader, &cio.raw.Writer
	}
	cio.rbuf, cio.prefix = rbuf, n // HTTP/2 dispatch: bytes already read
	cio.ready = o.ready
	cio.noYield = runtime.GOMAXPROCS(0) > 1
	hooks := &h1.Hooks{Ctx: cctx, Info: infoOf(rwc), OOB: cio, Stop: cancel, SeqBase: o.seq,
		Pipelining: o.pipelining, MustLink: handler.Unordered(), EarnSlot: o.earnSlot}
	if o.stats != nil {
		hooks.Stats = &cio.stats
	}
	cio.hooks = hooks
	// The layer is made here, with its hooks, and the connection holds it
	// from the start: it never registers itself anywhere.
	cio.layer = h1.NewConn(s.engine, hooks)
	if o.track != nil {
		o.track(cio)
		defer o.track(nil)
	}
	// The server closing at once (ServerBinding.Close, the hard deadline of
	// Terminate) ends a write that blocks, too.
	defer context.AfterFunc(ctx, cio.out.halt)()
	flow := bidi.JoinLeft(handler, cio.layer.Layer())
	_, err := stream.RunWith(cctx, stream.Via(cio.source(), flow), cio.sink())
	cio.stopWatch()
	// A handler's goroutine may still be reading the request body (the run
	// did not wait for it): the end of the run has made its read return;
	// the connection's input is released once it has.
	cio.layer.ReleaseInput()
	cio.leaveReady()
	cio.releaseReadBuffer()
	if sw := hooks.Switched.Load(); sw != nil && err == nil {
		// the connection switched protocols (upgrade.go).
		cio.handOver(ctx, sw)
		return nil
	}
	if cio.parked && err == nil && !hooks.Draining.Load() {
		// Idle: the connection stays open, without this run.
		cio.quiesceReader()
		o.parked, o.lastIO = true, clock.Time(cio.lastIO.Load())
		o.seq = cio.layer.Seq()
		return nil
	}
	cio.close(ctx)
	if errors.Is(err, errIdle) || errors.Is(err, errAborted) || errors.Is(err, errDrained) {
		err = nil // the normal end of an idle, a timed-out or a drained connection
	}
	return err
}

// drain starts the graceful end of the connection for a terminating
// server: it takes no further request, and closes after the last response
// it owes, or now when it owes none.
func (c *connIO) drain() {
	c.hooks.Draining.Store(true)
	if h := c.h2.Load(); h != nil { // HTTP/2 dispatch: GOAWAY
		h.Shutdown()
		return
	}
	if l := c.layer; l != nil && l.Drain() {
		c.cancel(errDrained)
	}
}

// expire is a terminating server's hard deadline: the requests still
// unanswered get 503 when it can be written, and the connection ends.
func (c *connIO) expire() {
	if h := c.h2.Load(); h != nil { // HTTP/2 dispatch
		h.Abort()
	}
	if !c.out.mu.TryLock() {
		// A write is under way, most likely blocked by a client that does
		// not read: nothing more can be written after it.
		c.out.halt()
	} else {
		c.out.mu.Unlock()
	}
	if l := c.layer; l != nil {
		l.Expire()
	}
	c.out.halt()
	c.cancel(errDrained)
}

// handshake runs the TLS handshake of tc, bounded by timeout (none if 0).
func handshake(ctx context.Context, tc *tls.Conn, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return tc.HandshakeContext(ctx)
}

var (
	errHeadTimeout = h1.ErrHeadTimeout
	errBodyTooSlow = h1.ErrBodyTooSlow
	errDrained     = h1.ErrDrained
	errIdle        = h1.ErrIdle
	errAborted     = h1.ErrAborted
	errHalted      = errors.New("streamhttp: connection closed by the server: no more is written")
	errPeerGone    = h1.ErrPeerGone
)

// connIO is the byte side of a served connection: a source of input chunks
// and a sink that buffers output.
type connIO struct {
	rwc    io.ReadWriteCloser
	in     io.Reader // the reader's reads: rwc, or raw.Reader on plain TCP
	raw    poller.Socket
	s      *ServerSettings
	dl     interface{ SetReadDeadline(time.Time) error }
	cancel context.CancelCauseFunc // ends the run
	hooks  *h1.Hooks
	layer  *h1.Conn  // nil for HTTP/2
	stats  connStats // zero outside a binding
	// lingering is connOpts.lingering.
	lingering func()
	lastIO    atomic.Int64 // when bytes last moved either way, unix nanoseconds
	wrote     atomic.Bool  // a write happened since the reader last looked
	// parkAfter is ParkIdleAfter when the connection may be parked, else 0;
	// parked is set by the reader when it ends the input to park.
	parkAfter time.Duration
	parked    bool
	// heldAt is the lastIO at which the binding's sweeper last found the
	// client's bytes waiting (0: never): until the connection moves bytes
	// again, its goroutine is held up, not idle, and it is not looked at
	// again. Owned by the sweeper.
	heldAt int64
	// In a readiness set (connOpts.ready) the reader, once it has answered,
	// reads only when the set marks the connection readable; ready is nil
	// where it reads at once. The deadline's timer wakes its wait.
	ready   *poller.Ready
	sub     atomic.Pointer[poller.Sub]
	dlTimer *time.Timer

	out writer // the output: see writer

	mu     sync.Mutex // guards the fields below it but the reader's
	closed bool

	// h2 is the HTTP/2 connection state when the connection speaks HTTP/2
	// (HTTP/2 dispatch), for Terminate.
	h2 atomic.Pointer[h2.Conn]

	// Owned by the reader.
	rbuf       *[]byte       // from readBuffers; returned when the run ends
	prefix     int           // bytes in rbuf read before the run (HTTP/2 dispatch)
	deadline   int64         // the read deadline set, unix nanoseconds (see internal/clock); 0: none
	bodyWaited time.Duration // waiting for the body being read
	bodyBytes  int64         // read while that body is being read
	yielded    bool          // the last read followed a yield
	noYield    bool          // Go runs on more than one P: never yield before a read (see read)
	idleFrom   int64         // unix nanoseconds: the idle deadline counts from here at the earliest
	wasBusy    bool          // the last idle deadline found a request in progress (reader-owned)

	watchFields // see watch.go

	// The reader's wake-up on cancellation, and its end.
	stopReader func() bool // guarded by mu
	readerDone chan struct{}
	// runEnded is set by the wake-up, as it starts: the reader looks at it
	// before each read rather than at the run's context, whose state is
	// one more cache line to fetch per request. (It may read once more in
	// between: the wake-up then cuts that read short. A deadline the reader
	// moves would undo the wake-up's: it looks again after moving one.)
	runEnded atomic.Bool
}

// source reads chunks; each is valid until the next pull.
func (c *connIO) source() stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		// A run that ends (or is cancelled) must not stay blocked in Read.
		c.readerDone = make(chan struct{})
		stop := context.AfterFunc(m.Context(), func() {
			defer close(c.readerDone)
			c.runEnded.Store(true)
			if c.dl != nil {
				c.stopWatching() // sets the deadline in the past, for good
				c.pokeReader()
			} else {
				c.rwc.Close()
			}
		})
		c.mu.Lock()
		c.stopReader = stop
		c.mu.Unlock()
		return &connReader{c: c, m: m}
	})
}

type connReader struct {
	c    *connIO
	m    *stream.Materializer
	done error
}

func (r *connReader) Pull() ([]byte, error) {
	if r.done != nil {
		return nil, r.done
	}
	c := r.c
	if c.rbuf == nil {
		c.rbuf = readBuffers.Get().(*[]byte)
	}
	rbuf := *c.rbuf
	// About to wait for the client: flush what is ready for it first.
	r.m.WillBlock()
	answered := c.wrote.Swap(false)
	// A request body the handler is reading must arrive at
	// MinRequestBodyRate once RequestBodyGrace has passed, counting only the
	// time spent waiting for it here.
	rate := c.s.MinRequestBodyRate
	inBody := rate > 0 && c.readingBody()
	if !inBody {
		c.bodyWaited, c.bodyBytes = 0, 0
	}
	for {
		if c.runEnded.Load() {
			r.done = r.m.Cause()
			return nil, r.done
		}
		var start int64
		var allowance time.Duration
		if inBody {
			start = clock.Now()
			allowance = c.s.RequestBodyGrace + time.Duration(c.bodyBytes*int64(time.Second)/rate) - c.bodyWaited
		}
		if c.setDeadline(start, allowance, inBody) && c.runEnded.Load() {
			// The deadline just moved may have replaced the one in the
			// past that the run's wake-up set after the check above (and
			// ServeConn's after the run). Nothing would cut the read short
			// then: a request body read in a handler's goroutine, when the
			// run ends after an early answer, would wait for the client
			// holding the input, which the inbound stage (so the run's
			// end) and ServeConn's releaseInput wait for, and the
			// connection would not close. The wake-up sets runEnded before
			// its deadline: either its deadline came last, or this sees it.
			r.done = r.m.Cause()
			return nil, r.done
		}
		n, err := c.readOrTake(rbuf, answered)
		answered = false // a read again after a deadline follows no answer
		if inBody {
			c.bodyWaited += time.Duration(clock.Now() - start)
			c.bodyBytes += int64(n)
		}
		if n > 0 {
			if sh := c.stats.sh; sh != nil {
				sh.bytesIn.Add(int64(n))
			}
			c.touch()
			return rbuf[:n], nil
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !r.m.Stopped():
			if head := c.headDeadline(); head != 0 && clock.Now() >= head {
				r.done = errHeadTimeout // the layer answers 408
				return nil, r.done
			}
			if inBody && time.Duration(clock.Now()-start) >= allowance {
				// This wait used up what the body's rate allows (a
				// deadline may also fire for another reason: a nudge).
				r.done = errBodyTooSlow // the layer answers 408
				return nil, r.done
			}
			if c.parkAfter > 0 && !inBody && c.idleFor() >= c.parkAfter && c.parkable() && !c.pendingInput() {
				// Idle long enough to give up this run: the layer sees the
				// input end between requests and completes; ServeConn
				// leaves the connection open.
				c.parked = true
				r.done = stream.EOS
				return nil, r.done
			}
			quiet := c.s.IdleTimeout > 0 && c.idleFor() >= c.s.IdleTimeout
			busy := quiet && c.busy()
			if !quiet || busy || c.wasBusy {
				// Not idle (a request in progress, or a nudge): the next
				// idle deadline counts from now. After a request in
				// progress, the first check that finds none counts anew
				// too: its response may be leaving right now, taken from
				// the handler and not yet written, which would otherwise
				// look like a connection idle since the request came.
				c.wasBusy = busy
				c.idleFrom = clock.Now()
				c.deadline = 0
				continue // output moved recently, or a request is in progress
			}
			r.done = errIdle
		case err == io.EOF || r.m.Stopped():
			r.done = stream.EOS
		default:
			r.done = err
		}
		return nil, r.done
	}
}

// pendingInput reports whether the client's bytes wait on the socket: a
// connection whose goroutine was held up (a busy server) may look idle
// for ParkIdleAfter while its next request is there. Parking it would cost
// a wake-up and a new run at once; it reads instead, and its read deadline
// (set in the past by the nudge) is set again.
func (c *connIO) pendingInput() bool {
	if !c.inputWaiting() {
		return false
	}
	c.deadline = 0
	if c.dl != nil {
		c.dl.SetReadDeadline(time.Time{})
	}
	return true
}

// inputWaiting reports whether bytes wait on the socket for the reader
// (or its end has come), without reading them.
func (c *connIO) inputWaiting() bool {
	pc, ok := c.rwc.(poller.Conn)
	return ok && poller.Readable(pc)
}

// setDeadline moves the read deadline to the earliest of the idle timeout,
// the head timeout and (inBody) the body's allowance from start (unix
// nanoseconds, see internal/clock). It computes in nanoseconds, and makes a
// time.Time only when the deadline moves, and reports whether it did.
func (c *connIO) setDeadline(start int64, allowance time.Duration, inBody bool) bool {
	if c.dl == nil {
		return false
	}
	var d int64 // 0: none
	if c.s.IdleTimeout > 0 {
		// Counted from the last movement of bytes, which a read or a
		// write has just recorded: no clock reading here.
		d = max(c.lastIO.Load(), c.idleFrom) + int64(c.s.IdleTimeout)
	}
	if h := c.headDeadline(); h != 0 {
		d = earliestDeadline(d, h)
	}
	if inBody {
		d = earliestDeadline(d, start+int64(max(allowance, 0)))
	}
	if d == 0 {
		return false
	}
	// Moving the deadline is a timer operation: do it at most about once a
	// second, unless it must come sooner (or a watch cleared it).
	if d-c.deadline > int64(time.Second) || d < c.deadline || c.dlReset.Swap(false) {
		c.deadline = d
		c.dl.SetReadDeadline(clock.Time(d))
		if c.sub.Load() != nil {
			c.armDeadlineTimer()
		}
		return true
	}
	return false
}

// earliestDeadline returns the earlier of the deadlines d and t (unix
// nanoseconds, 0 for none).
func earliestDeadline(d, t int64) int64 {
	if d == 0 || t < d {
		return t
	}
	return d
}

// read reads into p; answered tells that an answer has left since the
// last read. Right after an answer the client has hardly had time to send
// its next request, so a read at once would most likely find nothing,
// costing a system call and a wait in Go's poller.
//
// A connection in a readiness set reads plainly until it has answered a
// request; from then on it is in the set and reads only when the set has
// marked it readable: it waits for the mark instead of the empty read. The
// read deadline, nudges and the end of the run wake that wait too
// (pokeReader).
//
// Other connections, when Go runs on one P, let the other ready
// connections run first, after every other answer: by the time this one is
// back, its next request is often there (with nothing else to run, the
// yield returns at once). Only every other read yields. Go polls the
// network only when it has nothing else to run, so connections that kept
// finding their next request after a yield would keep the run queue full
// and leave the connections waiting in the poller unserved until the
// runtime's 10 ms fallback poll (measured: p99 from 1 ms to 6-16 ms).
// Reading without a yield every other time sends each connection through
// the poller often enough to keep the queue draining.
//
// On more than one P they read at once (noYield): a yield there goes
// through the scheduler's global run queue, under its lock, and the
// goroutine often resumes on the other P, away from its connection's data
// in that core's caches; measured on two Ps (plaintext keep-alive, 256
// connections, both servers under load at once), it cost more server CPU
// per request than the empty reads it saves.
func (c *connIO) read(p []byte, answered bool) (int, error) {
	if n := c.prefix; n > 0 { // HTTP/2 dispatch: the bytes read to decide, in p
		c.prefix = 0
		return n, nil
	}
	s := c.sub.Load()
	if s == nil {
		if c.ready == nil || !answered {
			if answered && !c.yielded && !c.noYield {
				gosched()
				c.yielded = true
			} else {
				c.yielded = false
			}
			return c.in.Read(p)
		}
		var err error
		if s, err = c.ready.Add(c.rwc.(poller.Conn)); err != nil {
			c.ready = nil // the set is closed or full: read plainly
			return c.in.Read(p)
		}
		c.sub.Store(s)
		c.armDeadlineTimer()
		// One read without a mark: it reports a deadline that a nudge or
		// the end of the run set before the connection was in the set.
		s.Mark()
	}
	for {
		switch {
		case s.Take():
		case s.TakePoke():
			// The deadline's timer, a nudge or the end of the run. The
			// latter two set the descriptor's deadline, which the read
			// reports; the timer may run before the runtime's own.
			if c.deadlinePassed() {
				return 0, os.ErrDeadlineExceeded
			}
		default:
			<-s.Wait()
			continue
		}
		n, err := s.Read(p)
		switch {
		case err == poller.ErrAgain:
			continue // read meanwhile: wait for the next mark
		case err != nil:
			var se *os.SyscallError
			if errors.As(err, &se) {
				// As a plain read reports it: "read tcp a->b: read: ...".
				err = &net.OpError{Op: "read", Net: "tcp", Source: c.hooks.Info.Local, Addr: c.hooks.Info.Remote, Err: err}
			}
			return 0, err
		case n == 0:
			return 0, io.EOF
		case n == len(p):
			s.Mark() // more may be waiting, which the set will not report again
		}
		return n, nil
	}
}

// gosched is the reader's yield after an answer (see connIO.read):
// runtime.Gosched, or the function that yieldHook holds (tests count the
// yields through it).
func gosched() {
	if f := yieldHook.Load(); f != nil {
		(*f)()
		return
	}
	runtime.Gosched()
}

var yieldHook atomic.Pointer[func()]

// deadlinePassed reports whether the read deadline that setDeadline set
// has passed.
func (c *connIO) deadlinePassed() bool {
	return c.deadline != 0 && clock.Now() >= c.deadline
}

// armDeadlineTimer makes the read deadline wake a reader waiting for its
// mark.
func (c *connIO) armDeadlineTimer() {
	if c.deadline == 0 {
		if c.dlTimer != nil {
			c.dlTimer.Stop()
		}
		return
	}
	d := time.Duration(c.deadline - clock.Now())
	if c.dlTimer == nil {
		c.dlTimer = time.AfterFunc(d, c.pokeReader)
	} else {
		c.dlTimer.Reset(d)
	}
}

// pokeReader wakes a reader waiting for its mark.
func (c *connIO) pokeReader() {
	if s := c.sub.Load(); s != nil {
		s.Poke()
	}
}

// leaveReady takes the connection out of its readiness set at the end of a
// run.
func (c *connIO) leaveReady() {
	if c.dlTimer != nil {
		c.dlTimer.Stop()
	}
	if s := c.sub.Swap(nil); s != nil {
		s.Remove()
	}
}

// nudge makes a Read under way (or the next one) return at once, so that
// the reader looks at the connection's state: the binding's sweeper nudges
// connections idle for ParkIdleAfter, which then park.
func (c *connIO) nudge() {
	if c.dl != nil {
		c.dl.SetReadDeadline(time.Unix(1, 0))
		c.pokeReader()
	}
}

// mayPark reports whether the layer has no request under way, so that
// nudging its reader could park it (the reader checks the rest).
func (c *connIO) mayPark() bool {
	if h := c.h2.Load(); h != nil { // HTTP/2 dispatch
		return h.Idle()
	}
	l := c.layer
	return l != nil && l.Between()
}

// parkable reports whether the layer is between requests with nothing
// under way. Called by the reader, whose caller holds the layer's input
// lock.
func (c *connIO) parkable() bool {
	l := c.layer
	return l != nil && l.Parkable()
}

// readingBody reports whether the layer is inside a request body. Called by
// the reader, whose caller holds the layer's input lock.
func (c *connIO) readingBody() bool {
	l := c.layer
	return l != nil && l.ReadingBody()
}

func (r *connReader) Cancel(error) {
	if r.done == nil {
		r.done = stream.ErrCancelled
	}
	r.c.quiesceReader()
}

// quiesceReader makes sure that the reader's wake-up does not run from now
// on: it stops it, or waits for it to have run.
func (c *connIO) quiesceReader() {
	c.mu.Lock()
	stop := c.stopReader
	c.stopReader = nil
	c.mu.Unlock()
	if stop != nil && !stop() {
		<-c.readerDone
	}
}

// touch records that bytes moved now.
func (c *connIO) touch() { c.lastIO.Store(clock.Now()) }

// idleFor is how long no bytes have moved.
func (c *connIO) idleFor() time.Duration {
	return time.Duration(clock.Now() - c.lastIO.Load())
}

// headDeadline is the layer's: when the head being received must be in,
// a reading of internal/clock; 0: none.
func (c *connIO) headDeadline() int64 {
	if l := c.layer; l != nil {
		return l.HeadDeadline()
	}
	return 0
}

// busy reports whether the layer has a request in progress, which the idle
// timeout leaves alone.
func (c *connIO) busy() bool {
	l := c.layer
	return l != nil && l.Busy()
}

// sink buffers the layer's output and writes it when the island is about
// to wait, when the buffer is full, and at the end.
//
// It also recovers the panics of a synchronous handler, which is fused with
// the layer and so unwinds through it to here: the layer answers 500 and
// closes, where a plain sink would fail the run. One deferred recovery per
// connection (per panic) rather than one per request keeps the hot path
// free of it.
func (c *connIO) sink() stream.Sink[[]byte, stream.NotUsed] {
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[[]byte]) (stream.NotUsed, error) {
		m.OnBlock(func() {
			if l := c.layer; l != nil && l.HandlerWorking() {
				// The writer is about to wait for a concurrent handler
				// that has requests in hand: let its goroutines run first,
				// so that the answers ready by then leave in one write
				// with this one rather than one write each.
				runtime.Gosched()
			}
			c.out.flush()
		})
		for {
			pe, err := c.pump(up)
			if pe == nil {
				return stream.NotUsed{}, err
			}
			if l := c.layer; l == nil || !l.HandlerPanicked(pe) {
				up.Cancel(pe)
				c.out.flush()
				return stream.NotUsed{}, pe
			}
		}
	})
}

// pump moves the layer's output to the writer until the output ends, and
// returns how it ended, or the panic that unwound to it.
func (c *connIO) pump(up stream.Puller[[]byte]) (pe *stream.PanicError, err error) {
	defer func() {
		if v := recover(); v != nil {
			pe = stream.NewPanicError(v)
		}
	}()
	for {
		p, err := up.Pull()
		if err == stream.EOS {
			return nil, c.out.flush()
		}
		if err != nil {
			c.out.flush()
			return nil, err
		}
		if err := c.out.add(p); err != nil {
			up.Cancel(err)
			return nil, err
		}
	}
}

// connIO is the layer's out-of-band writer.
var _ h1.OOBWriter = (*connIO)(nil)

// WriteOOB writes p after whatever is buffered, now.
func (c *connIO) WriteOOB(p []byte) error { return c.out.writeNow(p) }

// Bound and FlushIdle are the layer's ways to apply the flush rule (see
// writer).
func (c *connIO) Bound()     { c.out.bound() }
func (c *connIO) FlushIdle() { c.out.flush() }

// Abort writes p, closes the connection for writing so that the client
// sees the end after p, and ends the run (which cancels the requests'
// context). The linger and the close follow when ServeConn returns.
func (c *connIO) Abort(p []byte) {
	c.out.last(p)
	// Cancel first: a read that fails because of the close below then
	// reports the end of the run, not an error.
	c.cancel(errAborted)
	if !c.closeWrite() {
		c.rwc.Close()
	}
}

// closeWrite closes the write side of a TCP or TLS connection and reports
// whether it could.
func (c *connIO) closeWrite() bool {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	return ok && cw.CloseWrite() == nil
}

// drainLinger bounds the linger of a connection closed by a terminating
// server: long enough for a client to read the response it was sent last,
// short enough that a client which does not close its end does not hold up
// the termination.
const drainLinger = 500 * time.Millisecond

// close flushes, then closes gracefully: the write side first, then reading
// and discarding what the client still sends for up to LingerTimeout, so
// that it reads the last response before it sees a reset. Cancelling ctx
// (a server closing all its connections) cuts the linger short.
func (c *connIO) close(ctx context.Context) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	halfClosed, werr := c.out.last(nil) // halfClosed: by abort
	// The reader's wake-up must not move the deadline under the linger.
	c.quiesceReader()
	linger := c.s.LingerTimeout
	if c.hooks.Draining.Load() {
		linger = min(linger, drainLinger)
	}
	if werr == nil && c.dl != nil && linger > 0 && ctx.Err() == nil && (halfClosed || c.closeWrite()) {
		if c.lingering != nil {
			c.lingering() // no longer counts against MaxConnections
		}
		c.dl.SetReadDeadline(time.Now().Add(linger))
		stop := context.AfterFunc(ctx, func() { c.dl.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
		// A pooled read buffer (the run has returned its own): a local
		// array would escape to the heap, 2 KiB for every connection.
		rbuf := readBuffers.Get().(*[]byte)
		defer readBuffers.Put(rbuf)
		discard := (*rbuf)[:2048]
		for read := int64(0); read <= c.s.MaxLingerBytes; {
			n, err := c.rwc.Read(discard)
			if err != nil {
				break
			}
			read += int64(n)
		}
	}
	c.rwc.Close()
}
