package h1

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/internal/reorder"
	"github.com/streamhttp/streamhttp/stream"
)

// serverLayer is the layer's blueprint: with shared, the layer of a
// driver's run (made by NewConn, with its hooks); nil, a new connection of
// its own for each materialization.
func serverLayer(s *Config, shared *conn) bidi.Flow[*Response, []byte, []byte, *Request] {
	return bidi.FromFunc(func() (stream.Flow[*Response, []byte], stream.Flow[[]byte, *Request]) {
		c := shared
		if c == nil {
			c = newConn(s)
		}
		top := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[*Response]) stream.Puller[[]byte] {
			c.bind()
			c.out = &outbound{c: c, m: m, up: up}
			return c.out
		})
		bottom := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[[]byte]) stream.Puller[*Request] {
			c.bind()
			c.up, c.inM = up, m
			return &inbound{c: c, m: m}
		})
		return top, bottom
	})
}

// ProtocolError is the failure of a connection whose handler flow broke the
// contract of one response per request.
type ProtocolError = bidi.ProtocolError

var (
	errHeadTimeout = errors.New("streamhttp: the request head did not arrive within HeadTimeout")
	errTruncated   = errors.New("streamhttp: the connection closed in the middle of a request body")
	errLayerDone   = errors.New("streamhttp: the connection is closing: the rest of the request body is not read")
	errDiscarded   = errors.New("streamhttp: the request body was discarded: the handler flow asked for the next request before reading it")
)

// exchange is one request and what answers it, from the moment its head is
// parsed until its response has been rendered.
type exchange struct {
	req      *Request
	seq      uint64
	method   httpcore.Method // as received: HEAD even under TransparentHEAD
	proto    httpcore.Protocol
	closeReq bool

	resp       *Response // the handler's answer, once linked
	made       *Response // the server's own answer (parse error, 417, 503, 500)
	body       *body     // a streamed request body, nil otherwise
	ready      bool      // the request has been received in full
	readyTick  uint64    // conn.tick at that moment
	forceClose bool
	late       bool // timed out: made is the 503, the handler's answer is dropped
	counted    bool // counted as an open request in the binding's statistics

	start int64 // access log (ServerSettings.AccessLog): when the head was parsed, unix ns; 0 when off
}

// conn is the state of one connection, shared by the stages of the layer.
type conn struct {
	s       *Config
	parser  *httpcore.Parser
	ctx     context.Context // handed to requests
	info    Info
	oob     OOBWriter // nil: out-of-band bytes go in-band
	hooks   *Hooks    // nil outside ServeConn
	stats   Stats     // nil outside a binding
	bound   bool      // bind has run
	maxBody int64     // the limit of a streamed chunked body

	mu          sync.Mutex
	pending     reorder.Window[*exchange] // by Seq: the reorder of responses (see link)
	free        []*exchange               // recycled exchanges
	inFlow      atomic.Int32              // requests handed out and not yet answered by the flow; changed under mu
	slotFree    chan struct{}             // wakes the inbound side when slotWaiter
	slotWaiter  bool
	closing     bool // no further request is read: see close.go
	closeReason closeReason
	inErr       error // the failure the inbound side ended with, if any
	outWaiting  bool  // outbound is pulling the handler flow
	outM        *stream.Materializer
	inM         *stream.Materializer // the inbound stage's island, set when the layer is built
	mustLink    bool                 // see connHooks.mustLink
	out         *outbound
	headAt      atomic.Int64 // when the head being received began, a reading of internal/clock; 0: none
	timer       *time.Timer
	timerOn     bool          // the timer is armed
	tick        atomic.Uint64 // how often the timer has fired
	tickEvery   time.Duration // the timer's period
	stopped     bool          // the outbound side has ended: no timer, no response
	aborted     bool          // a response was written out of band and the connection closed
	draining    bool          // the server is terminating: the last response closes
	barrier     *exchange     // an upgrade request: nothing after it is parsed before it is answered (upgrade.go)
	writeDone   atomic.Bool   // the outbound side has ended: nothing more is written

	// Input, owned by whoever holds inMu (the inbound stage or a body).
	inMu     sync.Mutex
	up       stream.Puller[[]byte]
	fills    atomic.Uint64 // chunks read: time may have passed since the last one
	buf      []byte        // unconsumed input: the last chunk read, or own
	off      int
	own      []byte      // storage for input left over from earlier chunks
	alias    bool        // buf is the last chunk read, valid until the next pull
	inEOF    bool        // the input has ended or has been cancelled
	inDone   atomic.Bool // the inbound stage has ended: release the input once no body needs it (set without inMu)
	body     *body       // the streamed body the parser is in, nil between messages
	gotInput bool        // a chunk has been read in this run
	seq      uint64
}

func newConn(s *Config) *conn {
	c := new(conn)
	c.init(s)
	return c
}

func (c *conn) init(s *Config) {
	*c = conn{
		s:         s,
		parser:    httpcore.NewParser(s.Parser),
		ctx:       context.Background(),
		slotFree:  make(chan struct{}, 1),
		tickEvery: tickPeriod(s.RequestTimeout),
		maxBody:   s.Parser.MaxContentLength,
	}
}

// bind takes the hooks of the connection its driver serves (none for a
// layer on its own, made by NewLayer): the connection's addresses, the
// out-of-band writer, the statistics. The driver gave them to NewConn.
func (c *conn) bind() {
	if h := c.hooks; h != nil && !c.bound {
		c.bound = true
		// Under mu: the driver's Expire and Drain may already run, from
		// the binding's goroutines, while the stages start.
		c.mu.Lock()
		c.info, c.oob = h.Info, h.OOB
		c.stats = h.Stats
		c.mustLink = h.MustLink
		c.seq = h.SeqBase // requests go on being numbered after a parking
		c.mu.Unlock()
		// A run starts when a connection is new or has woken up readable:
		// its first head is due within HeadTimeout, so a client that
		// connects and sends nothing does not hold a connection slot for
		// the idle timeout.
		c.setHeadSince(clock.Now())
		// A termination that began before the layer ran.
		if h.Draining.Load() && c.drain() {
			h.Stop(errDrained)
		}
		// Started within a termination's grace (its first bytes came after
		// Terminate began, as when the HTTP/2 dispatch waited for them):
		// its next response is its last, as closeAfterNext would make it.
		if h.CloseNext.Load() {
			c.mu.Lock()
			c.draining = true
			c.mu.Unlock()
		}
	}
}

// connKey is the context key under which a request's context leads back to
// its connection's layer (WriteInterim, the logger of a failed handler).
type connKey struct{}

// drain makes the connection take no further request and close after the
// response to the last one it has taken (with Connection: close). It
// reports whether the connection is idle (no request taken and
// unanswered), in which case the caller ends it now. A request whose head
// is still arriving is not taken: its client sees the connection close
// before it was processed, which it may retry.
func (c *conn) drain() (idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	c.beginClose(closeDraining)
	return c.head() == nil
}

// parkable reports whether the connection is between requests with
// nothing under way: no request taken and unanswered, no head begun, no
// body being read, no input left, not closing. Called by the reader, whose
// caller holds c.inMu.
func (c *conn) parkable() bool {
	return c.body == nil && len(c.input()) == 0 && c.between()
}

// handlerWorking reports whether requests are inside the handler flow,
// not yet answered.
func (c *conn) handlerWorking() bool { return c.inFlow.Load() > 0 }

// between reports whether no request is taken and unanswered, no head has
// begun and the connection is not closing.
func (c *conn) between() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head() == nil && c.headAt.Load() == 0 && !c.closing
}

// wakeSlotWaiter wakes the inbound side when it waits for a free slot (or
// for closing). Called with c.mu held.
func (c *conn) wakeSlotWaiter() {
	c.mustHold()
	if c.slotWaiter {
		c.slotWaiter = false
		select {
		case c.slotFree <- struct{}{}:
		default:
		}
	}
}

// expire is the hard deadline of a termination: every request still
// unanswered gets the timeout response (503), written at once together with
// the answers already in for the requests behind it, and the connection
// closes. When the outbound side is busy writing a streamed response, there
// is nothing it can add: the connection is closed under it.
func (c *conn) expire() {
	c.mu.Lock()
	if c.aborted || c.stopped || c.oob == nil || !c.outWaiting {
		c.mu.Unlock()
		return
	}
	var p []byte
	var bodies []*body
	timedOut := 0
	c.aborted = true // before the exchanges go: see popPending
	for c.head() != nil {
		x := c.head()
		last := c.pending.Held() == 1
		rc := httpcore.RenderContext{Method: x.method, Proto: x.proto, ForceClose: last, Server: c.s.ServerHeader}
		resp := x.made
		if resp == nil {
			resp = x.resp
		}
		var q []byte
		complete := false
		if resp != nil {
			// A late request's answer is its 503 (made); a streamed answer
			// cannot be written from here and is replaced by one.
			q, _, complete = httpcore.AppendResponse(p, resp, &rc)
		}
		if !complete {
			timedOut++
			q, _, _ = httpcore.AppendResponse(p, c.timeoutResponse(x.req), &rc)
		}
		p = q
		if x.body != nil {
			bodies = append(bodies, x.body)
		}
		c.popPending()
	}
	if c.stats != nil {
		c.stats.RequestsTimedOut(int64(timedOut))
	}
	c.mu.Unlock()
	for _, b := range bodies {
		close(b.answered)
	}
	if timedOut > 0 {
		c.warn("streamhttp: requests unanswered at the termination deadline", "count", timedOut)
	}
	c.oob.Abort(p)
}

// headDeadline returns when the request head being received must be
// complete, a reading of internal/clock, or 0 when no head is under way.
func (c *conn) headDeadline() int64 {
	since := c.headAt.Load()
	if since == 0 || c.s.HeadTimeout <= 0 {
		return 0
	}
	return since + int64(c.s.HeadTimeout)
}

// setHeadSince records when the head being received began, a reading of
// internal/clock (0: none).
func (c *conn) setHeadSince(since int64) { c.headAt.Store(since) }

// busy reports whether the server owes the client something: a response
// to a request received in full, or the first demand for a body (which a
// client expecting 100 Continue waits for). The idle timeout does not
// apply then.
func (c *conn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := c.pending.Next(); n < c.pending.End(); n++ {
		if x, _ := c.pending.Get(n); x != nil && (x.ready || x.body != nil && !x.body.started) {
			return true
		}
	}
	return false
}

// input returns the unconsumed input.
func (c *conn) input() []byte { return c.buf[c.off:] }

func (c *conn) consume(n int) {
	c.off += n
	if c.off == len(c.buf) {
		c.buf, c.off = c.buf[:0], 0
	}
}

// fill reads one more chunk from the connection; false at its end.
//
// A chunk is parsed where it is, without a copy, while nothing is left
// over from the previous one; only a remainder (a head or a chunk-size line
// split across reads) is copied to own storage, before the next pull
// invalidates the chunk it was in.
func (c *conn) fill() (bool, error) {
	if c.inEOF {
		return false, nil
	}
	if c.alias {
		c.own = append(c.own[:0], c.buf[c.off:]...)
		c.buf, c.off, c.alias = c.own, 0, false
	}
	chunk, err := c.up.Pull()
	c.fills.Add(1)
	c.gotInput = c.gotInput || len(chunk) > 0
	if err != nil {
		c.inEOF = true
		if err == stream.EOS {
			return false, nil
		}
		return false, err
	}
	if c.off == len(c.buf) {
		c.buf, c.off, c.alias = chunk, 0, true
		return true, nil
	}
	if c.off > 0 && len(c.buf)+len(chunk) > cap(c.buf) {
		c.buf, c.off = append(c.buf[:0], c.buf[c.off:]...), 0
	}
	c.buf = append(c.buf, chunk...)
	c.own = c.buf
	return true, nil
}

// dropInput releases the input after the last request. Called with inMu
// held.
func (c *conn) dropInput(cause error) {
	if !c.inEOF {
		c.inEOF = true
		if c.up != nil {
			c.up.Cancel(cause)
		}
	}
	c.buf, c.off, c.own, c.alias = nil, 0, nil, false
}

// endInput records that the inbound stage has ended (with err, nil for a
// cancellation): no request is read any more. The input is released now,
// or when the body a handler is still reading ends.
func (c *conn) endInput(err, cause error) {
	c.mu.Lock()
	c.beginClose(closeInputEnded)
	if err != nil && err != stream.EOS && c.inErr == nil {
		c.inErr = err
	}
	c.mu.Unlock()
	c.inDone.Store(true)
	if !c.inMu.TryLock() {
		// A handler's goroutine is reading the request body, blocked on the
		// connection. Waiting for it here would hold back the end of the
		// connection (and the writing of its last answer) until the client
		// sends more: it releases the input itself when its read ends,
		// which the end of the run brings about (see body.released).
		return
	}
	if c.body == nil || c.body.ended() || c.writeDone.Load() {
		c.dropInput(cause)
	}
	c.inMu.Unlock()
}

// peerClosed learns that the client closed its side of the connection
// while requests were unanswered: their handlers learn it through their
// context. Their answers are still written (a client that only half-closed
// reads them); a client that is gone makes the writes fail, which ends the
// run.
func (c *conn) peerClosed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := c.pending.Next(); n < c.pending.End(); n++ {
		if x, _ := c.pending.Get(n); x != nil && x.req != nil {
			x.req.CancelContext()
		}
	}
}

// releaseInput waits until no body read is using the input, and releases
// it. Called once the run has ended, which ends such a read.
func (c *conn) releaseInput() {
	c.inMu.Lock()
	c.dropInput(stream.ErrCancelled)
	c.inMu.Unlock()
}

// lockChecks turns on the lock invariants below: the functions whose
// callers must hold c.mu (or c.inMu) check that it is held. TestMain turns
// it on for the package's tests; off, each check is a load and a branch.
var lockChecks bool

// mustHold panics when c.mu is not held. A sync.Mutex has no owner, so
// this catches a caller that holds no lock, not one that holds another
// goroutine's.
// The check is a call of its own so that mustHold inlines: off, the
// callers on the request path pay a load and a branch, not a call.
func (c *conn) mustHold() {
	if lockChecks {
		checkHeld(&c.mu, "streamhttp: conn.mu must be held here")
	}
}

// mustHoldInput panics when c.inMu is not held (as mustHold).
func (c *conn) mustHoldInput() {
	if lockChecks {
		checkHeld(&c.inMu, "streamhttp: conn.inMu must be held here")
	}
}

// checkHeld panics with msg when mu is not held.
func checkHeld(mu *sync.Mutex, msg string) {
	if mu.TryLock() {
		mu.Unlock()
		panic(msg)
	}
}

// errorResponse is the answer to a request the parser rejected.
func errorResponse(e *httpcore.ParseError) *Response {
	return httpcore.Text(e.Status, e.Status.Reason()+": "+e.Reason+"\n")
}

func (c *conn) protocolError(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}
