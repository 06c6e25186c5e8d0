package streamhttp

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// timeNow is time.Now, replaceable in tests.
var timeNow = time.Now

// outbound is the top direction of the layer: it takes the handler's
// responses, puts them in request order and renders them.
type outbound struct {
	c   *conn
	m   *stream.Materializer
	up  stream.Puller[*Response]
	buf []byte // render buffer; what Pull returns is valid until the next Pull

	upDone bool
	done   error

	// The response whose body is streaming.
	cur        *exchange
	data       stream.Puller[[]byte]
	chunks     stream.Puller[entity.ChunkPart]
	framing    httpcore.Framing
	remaining  int64
	lastSent   bool
	closeAfter bool
}

func (o *outbound) Pull() ([]byte, error) {
	if o.done != nil {
		return nil, o.done
	}
	p, err := o.pull()
	if err != nil {
		o.end(err)
	}
	return p, err
}

func (o *outbound) pull() ([]byte, error) {
	c := o.c
	if o.cur != nil {
		return o.streamBody()
	}
	if o.closeAfter {
		return nil, stream.EOS
	}
	if c.hasInband.Load() {
		c.mu.Lock()
		o.buf = append(o.buf[:0], c.inband...)
		c.inband = c.inband[:0]
		c.hasInband.Store(false)
		c.mu.Unlock()
		if len(o.buf) > 0 {
			return o.buf, nil
		}
	}
	x, resp, force, err := o.next()
	if err != nil {
		return nil, err
	}
	return o.render(x, resp, force)
}

// end stops the stage: the handler flow is cancelled, what is left of a
// streaming body too, and the inbound side reads nothing more.
func (o *outbound) end(err error) {
	o.done = err
	c := o.c
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	cause := err
	if err == stream.EOS {
		cause = stream.ErrCancelled
	}
	if o.data != nil {
		o.data.Cancel(cause)
	}
	if o.chunks != nil {
		o.chunks.Cancel(cause)
	}
	if !o.upDone {
		o.upDone = true
		o.up.Cancel(cause)
	}
	if err != stream.EOS && !errors.As(err, new(*ProtocolError)) {
		c.warn("streamhttp: connection failed", "err", err)
	}
}

func (o *outbound) Cancel(cause error) {
	if o.done == nil {
		o.end(cause)
		o.done = cause
	}
}

// next returns the exchange to answer now, its response, and whether the
// connection must close after it: the oldest exchange, once the handler (or
// the server) has answered it. One lock round trip per pull of the flow.
func (o *outbound) next() (*exchange, *Response, bool, error) {
	c := o.c
	c.mu.Lock()
	for {
		if c.aborted {
			c.mu.Unlock()
			return nil, nil, false, stream.EOS
		}
		if x := c.head(); x != nil {
			resp := x.made
			if resp == nil {
				resp = x.resp
			}
			if resp != nil {
				force := x.forceClose || c.mustClose(x)
				c.mu.Unlock()
				return x, resp, force, nil
			}
		}
		if o.upDone {
			n := c.inFlow
			c.mu.Unlock()
			if n > 0 {
				return nil, nil, false, c.protocolError("the handler flow completed with %d request(s) unanswered", n)
			}
			return nil, nil, false, stream.EOS
		}
		c.outWaiting, c.outM = true, o.m
		c.mu.Unlock()

		resp, err := o.up.Pull()

		c.mu.Lock()
		c.outWaiting = false
		switch {
		case err == stream.EOS:
			o.upDone = true
		case err != nil:
			// The handler failed: the oldest unanswered request gets a 500
			// and the connection closes after it.
			o.upDone = true
			x := c.oldestUnanswered()
			if x == nil {
				c.mu.Unlock()
				return nil, nil, false, err
			}
			x.made, x.forceClose = internalError(), true
			c.inFlow--
			c.closing = true
			var pe *stream.PanicError
			if errors.As(err, &pe) {
				c.s.Logger.Error("streamhttp: handler panicked", append(c.info.attrs(), "seq", x.seq, "panic", pe.Value, "stack", string(pe.Stack))...)
			} else {
				c.s.Logger.Error("streamhttp: handler failed", append(c.info.attrs(), "seq", x.seq, "err", err)...)
			}
		default:
			if perr := c.link(resp); perr != nil {
				c.mu.Unlock()
				return nil, nil, false, perr
			}
		}
	}
}

func internalError() *Response {
	return httpcore.Text(httpcore.StatusInternalServerError, "Internal Server Error\n")
}

// oldestUnanswered returns the oldest exchange the handler still owes a
// response. Called with c.mu held.
func (c *conn) oldestUnanswered() *exchange {
	for _, x := range c.pending[c.phead:] {
		if x.resp == nil && (x.made == nil || x.late) {
			return x
		}
	}
	return nil
}

// link attaches a response from the handler to its request: by Seq, or to
// the oldest unanswered request when Seq is 0. Called with c.mu held.
func (c *conn) link(resp *Response) error {
	if resp == nil {
		return c.protocolError("the handler flow emitted a nil response")
	}
	var x *exchange
	if resp.Seq == 0 {
		x = c.oldestUnanswered()
		if x == nil {
			return c.protocolError("the handler flow emitted a response while no request was unanswered")
		}
	} else {
		for _, p := range c.pending[c.phead:] {
			if p.seq == resp.Seq && p.req != nil {
				x = p
				break
			}
		}
		switch {
		case x == nil && resp.Seq <= c.seq:
			return c.protocolError("the handler flow emitted a second response for request %d", resp.Seq)
		case x == nil:
			return c.protocolError("the handler flow emitted a response for request %d, which does not exist", resp.Seq)
		case x.resp != nil || (x.made != nil && !x.late):
			return c.protocolError("the handler flow emitted a second response for request %d", resp.Seq)
		}
	}
	x.resp = resp // a late answer to a timed-out request is kept but never rendered
	c.inFlow--
	select {
	case c.slotFree <- struct{}{}:
	default:
	}
	return nil
}

// mustClose reports whether the connection has to close after x's response
// because of x's request body. Called with c.mu held.
func (c *conn) mustClose(x *exchange) bool {
	b := x.body
	if b == nil || b.finished {
		return false
	}
	switch {
	case b.started, b.cancelled, b.err != nil:
		return true // an early response: the rest of the body is not read
	case b.needContinue && !b.continueSent:
		return true // the client may never send the body
	case !b.chunked && x.req.ContentLength-b.read > c.s.MaxDrainBytes:
		return true
	}
	return false
}

// render writes x's response head (and a body that is in memory).
func (o *outbound) render(x *exchange, resp *Response, force bool) ([]byte, error) {
	c := o.c
	rc := httpcore.RenderContext{
		Method:         x.method,
		Proto:          x.proto,
		CloseRequested: x.closeReq,
		ForceClose:     force,
		Server:         c.s.ServerHeader,
		Warn:           o.warnHeader,
	}
	buf, info, whole := httpcore.AppendResponse(o.buf[:0], resp, &rc)
	o.buf = buf
	o.closeAfter = info.Close
	if whole {
		o.finish(x)
		return buf, nil
	}
	o.cur, o.framing, o.remaining, o.lastSent = x, info.Framing, info.ContentLength, false
	if ch, ok := resp.Entity.(*entity.Chunked); ok && info.Framing == httpcore.FramingChunked {
		o.chunks, _ = stream.Materialize(o.m, ch.Chunks)
	} else {
		o.data, _ = stream.Materialize(o.m, resp.Entity.DataBytes())
	}
	return buf, nil
}

func (o *outbound) warnHeader(name string) {
	o.c.warn("streamhttp: response header dropped", "header", name)
}

// streamBody emits the next piece of the current response's body.
func (o *outbound) streamBody() ([]byte, error) {
	if o.chunks != nil {
		for {
			p, err := o.chunks.Pull()
			if err == stream.EOS {
				o.chunks = nil
				if !o.lastSent {
					o.buf = httpcore.AppendLastChunk(o.buf[:0], "", nil)
					o.finish(o.cur)
					return o.buf, nil
				}
				o.finish(o.cur)
				return o.pull()
			}
			if err != nil {
				o.chunks = nil
				return nil, fmt.Errorf("streamhttp: response body failed: %w", err)
			}
			switch {
			case o.lastSent:
				// Parts after the last chunk are ignored.
			case p.Last:
				o.lastSent = true
				o.buf = httpcore.AppendLastChunk(o.buf[:0], p.Extension, p.Trailer)
				return o.buf, nil
			case len(p.Data) > 0:
				o.buf = httpcore.AppendChunk(o.buf[:0], p.Data, p.Extension)
				return o.buf, nil
			}
		}
	}
	for {
		v, err := o.data.Pull()
		if err == stream.EOS {
			o.data = nil
			if o.framing == httpcore.FramingLength && o.remaining != 0 {
				return nil, &entity.LengthMismatchError{Declared: o.cur.resp.Entity.ContentLength(), Actual: o.cur.resp.Entity.ContentLength() - o.remaining}
			}
			if o.framing == httpcore.FramingChunked {
				o.buf = httpcore.AppendLastChunk(o.buf[:0], "", nil)
				o.finish(o.cur)
				return o.buf, nil
			}
			o.finish(o.cur)
			return o.pull()
		}
		if err != nil {
			o.data = nil
			return nil, fmt.Errorf("streamhttp: response body failed: %w", err)
		}
		if len(v) == 0 {
			continue
		}
		switch o.framing {
		case httpcore.FramingLength:
			if int64(len(v)) > o.remaining {
				o.data.Cancel(stream.ErrCancelled)
				o.data = nil
				return nil, &entity.LengthMismatchError{Declared: o.cur.resp.Entity.ContentLength(), Actual: o.cur.resp.Entity.ContentLength() - o.remaining + int64(len(v))}
			}
			o.remaining -= int64(len(v))
			return v, nil
		case httpcore.FramingChunked:
			o.buf = httpcore.AppendChunk(o.buf[:0], v, "")
			return o.buf, nil
		default: // close-delimited
			return v, nil
		}
	}
}

// head returns the oldest exchange, or nil. Called with c.mu held.
func (c *conn) head() *exchange {
	if c.phead < len(c.pending) {
		return c.pending[c.phead]
	}
	return nil
}

// pushPending appends x, reusing the slice's storage once it has drained.
// Called with c.mu held.
func (c *conn) pushPending(x *exchange) {
	if c.phead > 0 && len(c.pending) == cap(c.pending) {
		n := copy(c.pending, c.pending[c.phead:])
		clear(c.pending[n:])
		c.pending, c.phead = c.pending[:n], 0
	}
	c.pending = append(c.pending, x)
}

// popPending removes the oldest exchange and recycles it when nothing else
// refers to it. Called with c.mu held.
func (c *conn) popPending() {
	x := c.pending[c.phead]
	c.pending[c.phead] = nil
	c.phead++
	if c.phead == len(c.pending) {
		c.pending, c.phead = c.pending[:0], 0
	}
	if x.body == nil {
		c.free = append(c.free, x)
	}
}

// newExchange returns a recycled exchange or a new one. Called with c.mu held.
func (c *conn) newExchange() *exchange {
	if n := len(c.free); n > 0 {
		x := c.free[n-1]
		c.free = c.free[:n-1]
		// Reset field by field: assigning a whole struct to a heap object
		// costs a bulk write barrier while the collector runs.
		x.resp, x.made, x.body = nil, nil, nil
		x.forceClose, x.late = false, false
		return x
	}
	return new(exchange)
}

// finish retires x once its response is out.
func (o *outbound) finish(x *exchange) {
	c := o.c
	o.cur = nil
	c.mu.Lock()
	if c.head() == x {
		c.popPending()
	}
	if o.closeAfter {
		c.closing = true
	}
	c.mu.Unlock()
	if x.body != nil {
		close(x.body.answered)
	}
	select {
	case c.slotFree <- struct{}{}:
	default:
	}
}

// sendContinue writes 100 Continue for x, whose handler has asked for the
// body: out of band when nothing else is being written, otherwise in band
// before the next thing the outbound side writes.
func (c *conn) sendContinue(x *exchange) {
	cont := append(append([]byte(nil), "HTTP/1.1 100 Continue\r\n"...), "\r\n"...)
	c.mu.Lock()
	direct := c.oob != nil && c.outWaiting && c.head() == x && len(c.inband) == 0
	if !direct {
		c.inband = append(c.inband, cont...)
		c.hasInband.Store(true)
	}
	c.mu.Unlock()
	if direct {
		if err := c.oob.writeOOB(cont); err != nil {
			c.warn("streamhttp: writing 100 Continue failed", "err", err)
		}
	}
}

// setReady records that x has been received in full: its timeout runs
// from now. Called with c.mu held.
//
// The connection's timer ticks every tickEvery while any request is
// unanswered; a request stamped at tick k has certainly waited its timeout
// d once (tick-k-1)*tickEvery >= d. No clock is read per request.
func (c *conn) setReady(x *exchange) {
	x.ready, x.readyTick = true, c.tick
	if !c.timerOn && c.timeoutOf(x) > 0 {
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
	c.tick++
	x := c.oldestUnanswered()
	if x == nil || x.made != nil || c.aborted {
		c.timerOn = false // nothing to time out (a late request already has its 503)
		c.mu.Unlock()
		return
	}
	d := c.timeoutOf(x)
	if !x.ready || d <= 0 || time.Duration(c.tick-x.readyTick-1)*c.tickEvery < d {
		c.timer.Reset(c.tickEvery)
		c.mu.Unlock()
		return
	}
	c.timerOn = false
	resp := (*Response)(nil)
	if c.s.TimeoutResponse != nil {
		resp = c.s.TimeoutResponse(x.req)
	}
	if resp == nil {
		resp = httpcore.Text(httpcore.StatusServiceUnavailable, "Service Unavailable: the server did not answer in time\n")
	}
	resp.Status = httpcore.StatusServiceUnavailable
	x.made, x.forceClose, x.late = resp, true, true
	c.closing = true
	c.warn("streamhttp: request timed out", "seq", x.seq, "timeout", d)
	// A handler that blocks must not hold back the 503: when the outbound
	// side is only waiting for the handler, write it now and close.
	direct := c.oob != nil && c.outWaiting && c.head() == x && len(c.inband) == 0
	if direct {
		c.aborted = true
		c.popPending()
	}
	c.mu.Unlock()
	if direct {
		rc := httpcore.RenderContext{Method: x.method, Proto: x.proto, ForceClose: true, Server: c.s.ServerHeader}
		p, _, _ := httpcore.AppendResponse(nil, resp, &rc)
		c.oob.abort(p)
	}
}
