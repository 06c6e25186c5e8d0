package h1

import (
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// The request timeout stage: the one owner of "a request waited too long
// for its answer".
//
// A request must be answered within RequestTimeout (Request.SetTimeout
// overrides it per request), counted from the end of its body; while its
// body is still to come, from its head or from the last body bytes the
// handler took, whenever the handler is not reading the body (a handler
// that neither reads the body nor answers is timed out too; one that
// reads it is bounded by MinRequestBodyRate instead). When the time runs
// out the request is answered with TimeoutResponse (503 by default) in
// place of the handler's answer, which is dropped when it comes, and the
// connection closes after it. The answer is written at once when the
// writer is only waiting for the handler, so a handler that blocks does
// not hold it back.
//
// The connection's timer ticks every tickEvery while any request is
// unanswered; no clock is read per request.

// tickPeriod is the period of a connection's request timer: a tenth of the
// timeout, between 1 ms and 250 ms. Timeouts fire up to one period late, in
// exchange for no clock reading per request; a client that goes away while
// a handler works is watched for from the second tick (see watch.go).
func tickPeriod(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Millisecond), MaxTickPeriod)
}

// MaxTickPeriod is the longest period of a connection's request timer: a
// run's stopped timer may hold it that long.
const MaxTickPeriod = 250 * time.Millisecond

// setReady records that x has been received in full: its timeout runs
// from now. Called with c.mu held.
//
// The connection's timer ticks every tickEvery while any request is
// unanswered; a request stamped at tick k has certainly waited its timeout
// d once (tick-k-1)*tickEvery >= d. No clock is read per request.
func (c *conn) setReady(x *exchange) {
	c.mustHold()
	x.ready, x.readyTick = true, c.tick.Load()
	c.armTimer(x)
}

// setWaiting records that x's head is in and its body is still to come:
// the handler must read the body or answer within x's timeout. Called with
// c.mu held.
func (c *conn) setWaiting(x *exchange) {
	x.body.progress.Store(c.tick.Load())
	c.armTimer(x)
}

// armTimer starts the timer for x if it is not running. Called with c.mu
// held.
func (c *conn) armTimer(x *exchange) {
	c.mustHold()
	if !c.timerOn && !c.stopped && c.timeoutOf(x) > 0 {
		c.timerOn = true
		if c.timer == nil {
			c.timer = time.AfterFunc(c.tickEvery, c.onTimer)
		} else {
			c.timer.Reset(c.tickEvery)
		}
	}
}

func (c *conn) timeoutOf(x *exchange) time.Duration {
	switch d := x.req.Timeout(); {
	case d < 0:
		return 0
	case d > 0:
		return d
	}
	return c.s.RequestTimeout
}

// onTimer runs in the timer's goroutine, every tickEvery while requests
// are unanswered.
func (c *conn) onTimer() {
	c.mu.Lock()
	c.tick.Add(1)
	x := c.oldestUnanswered()
	if x == nil || x.made != nil || c.aborted || c.stopped {
		c.timerOn = false // nothing to time out (a late request already has its 503)
		c.mu.Unlock()
		return
	}
	d := c.timeoutOf(x)
	since := x.readyTick
	if !x.ready {
		// The body is still to come. While the handler reads it, the
		// body's rate bounds the wait (MinRequestBodyRate); otherwise the
		// time counts from the head or from the last bytes it took.
		since = x.body.progress.Load()
		if x.body.pulling.Load() > 0 {
			since = c.tick.Load()
		}
	}
	if waited := c.tick.Load() - since; d <= 0 || time.Duration(waited-1)*c.tickEvery < d {
		if waited >= 2 && c.oob != nil && (x.ready || x.body.pulling.Load() == 0) {
			// The handler has been at it for a tick: watch the client.
			c.oob.Watch()
		}
		c.timer.Reset(c.tickEvery)
		c.mu.Unlock()
		return
	}
	c.timerOn = false
	if c.stats != nil {
		c.stats.RequestsTimedOut(1)
	}
	p := c.answerLate(x, c.timeoutResponse(x.req))
	seq := x.seq
	c.mu.Unlock()
	c.warn("streamhttp: request timed out", "seq", seq, "timeout", d)
	if p != nil {
		c.oob.Abort(p)
	}
}

// answerLate makes resp the answer to x in place of the handler's, which is
// dropped when it comes, and closes the connection after it. A handler that
// blocks must not hold it back: when the outbound side is only waiting for
// the handler, answerLate renders it and returns the bytes, which the
// caller writes with c.oob.abort once it has released c.mu (closing the
// connection and ending the run). A response with a streamed body cannot
// be written from here; it goes in band. Called with c.mu held.
func (c *conn) answerLate(x *exchange, resp *Response) []byte {
	c.mustHold()
	x.made, x.forceClose, x.late = resp, true, true
	c.beginClose(closeTimeout)
	if c.oob == nil || !c.outWaiting || c.head() != x {
		return nil
	}
	rc := httpcore.RenderContext{Method: x.method, Proto: x.proto, ForceClose: true, Server: c.s.ServerHeader}
	p, _, complete := httpcore.AppendResponse(nil, resp, &rc)
	if !complete {
		return nil
	}
	c.aborted = true
	if x.body != nil {
		close(x.body.answered)
	}
	c.popPending()
	return p
}

// timeoutResponse makes the answer to a timed-out request: the user's
// TimeoutResponse, or a plain 503 when there is none or it fails. Called
// with c.mu held.
func (c *conn) timeoutResponse(req *Request) (resp *Response) {
	c.mustHold()
	if f := c.s.TimeoutResponse; f != nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					pe := stream.NewPanicError(v)
					c.s.Logger.Error("streamhttp: TimeoutResponse panicked", append(c.info.Attrs(), "panic", pe.Value, "stack", stackValue(pe.Stack))...)
					resp = nil
				}
			}()
			resp = f(req)
		}()
	}
	if resp == nil {
		resp = httpcore.Text(httpcore.StatusServiceUnavailable, "Service Unavailable: the server did not answer in time\n")
	}
	return resp
}
