package h1

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/reorder"
	"github.com/streamhttp/streamhttp/stream"
)

// outbound is the top direction of the layer: it takes the handler's
// responses, puts them in request order and renders them.
type outbound struct {
	c   *conn
	m   *stream.Materializer
	up  stream.Puller[*Response]
	buf []byte // render buffer; what Pull returns is valid until the next Pull

	// reusable are requests whose exchanges are done, to be recycled at
	// the next Pull (ServerSettings.ReuseRequests): until then, what the
	// last Pull returned may be a body in a request's memory.
	reusable []*Request
	// written are the OnWritten hooks of responses written in full, to be
	// called at the next Pull for the same reason.
	written []func()

	upDone bool
	done   error

	// The Date text, read from the clock once per chunk of input: the
	// responses to one buffer of pipelined requests share it.
	date      []byte
	dateFills uint64
	dateTick  uint64
	panicked  *stream.PanicError // the handler's, recovered by ServeConn's sink

	// The response whose body is streaming.
	tail     []byte // a large chunk's data, to emit after its header; or a large strict body
	tailCRLF bool   // then the CRLF that ends it
	tailEnds bool   // tail is a strict body: the response is done once it is out

	// The head last rendered for a strict response with no fields of its
	// own, what it was rendered for, and whether it may be used again (see
	// renderStrict).
	head       []byte
	headInfo   httpcore.HeadInfo
	headKey    headKey
	headDate   []byte
	headType   []byte // the bytes of headKey.ctype (see renderStrict)
	headOK     bool
	warned     bool // the renderer dropped a field since warned was last cleared
	cur        *exchange
	data       stream.Puller[[]byte]
	chunks     stream.Puller[entity.ChunkPart]
	framing    httpcore.Framing
	remaining  int64
	declared   int64
	lastSent   bool
	closeAfter bool
}

func (o *outbound) Pull() ([]byte, error) {
	if o.done != nil {
		return nil, o.done
	}
	if len(o.written) > 0 {
		for _, f := range o.written {
			f()
		}
		clear(o.written)
		o.written = o.written[:0]
	}
	if len(o.reusable) > 0 {
		for _, r := range o.reusable {
			httpcore.RecycleRequest(r)
		}
		clear(o.reusable)
		o.reusable = o.reusable[:0]
	}
	p, err := o.pull()
	if err != nil {
		o.end(err)
	}
	return p, err
}

func (o *outbound) pull() ([]byte, error) {
	if o.cur != nil {
		return o.streamBody()
	}
	if o.panicked != nil {
		return o.afterPanic()
	}
	if o.closeAfter {
		return nil, stream.EOS
	}
	x, resp, force, err := o.next()
	if err != nil {
		return nil, err
	}
	if x == nil {
		return o.buf, nil // an interim 100 Continue
	}
	return o.render(x, resp, force)
}

// end stops the stage: the handler flow is cancelled, what is left of a
// streaming body too, and the inbound side reads nothing more.
func (o *outbound) end(err error) {
	o.done = err
	c := o.c
	c.writeDone.Store(true)
	c.mu.Lock()
	c.beginClose(closeOutputEnded)
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
	}
	// Requests that will never be answered now leave the open count, and
	// their handlers learn it through their context.
	for n := c.pending.Next(); n < c.pending.End(); n++ {
		x, _ := c.pending.Get(n)
		if x == nil {
			continue
		}
		if x.counted {
			x.counted = false
			c.stats.RequestDone()
		}
		if x.req != nil {
			x.req.CancelContext()
		}
	}
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
	switch {
	case err == stream.EOS, errors.Is(err, stream.ErrCancelled), errors.Is(err, errIdle), errors.Is(err, errAborted),
		errors.As(err, new(*ProtocolError)), o.m.Stopped():
		// An orderly end, or a failure that the run reports.
	default:
		c.logEnd(err)
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
// It returns a nil exchange (and no error) when o.buf holds a 100 Continue
// to send first.
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
				if x.body != nil && x.body.continueQueued {
					// Too late for an interim response, unless the
					// response streams (see continueFirst).
					c.dequeueContinue(x.body)
					x.body.continueDropped = true
				}
				force := x.forceClose || c.mustClose(x, resp) ||
					c.draining && c.pending.Held() == 1 // the last response of a terminating server
				c.mu.Unlock()
				return x, resp, force, nil
			}
			if x.body != nil && x.body.continueQueued {
				// The handler of the oldest request asked for its body
				// while this side could not write: say 100 Continue now.
				c.dequeueContinue(x.body)
				c.mu.Unlock()
				o.buf = append(o.buf[:0], continueLine...)
				return nil, nil, false, nil
			}
		}
		if o.upDone {
			n := c.inFlow.Load()
			c.mu.Unlock()
			if n > 0 {
				return nil, nil, false, c.protocolError("the handler flow completed with %d request(s) unanswered", n)
			}
			return nil, nil, false, stream.EOS
		}
		c.outWaiting, c.outM = true, o.m
		c.mu.Unlock()

		o.beforeHandler()
		resp, err := o.up.Pull()

		c.mu.Lock()
		c.outWaiting = false
		switch {
		case c.aborted:
			// The connection answered a timed-out request out of band and
			// closed: whatever the flow says now is dropped.
			c.mu.Unlock()
			return nil, nil, false, stream.EOS
		case err == stream.EOS:
			o.upDone = true
		case err != nil:
			o.upDone = true
			if err := o.handlerFailed(err); err != nil {
				c.mu.Unlock()
				return nil, nil, false, err
			}
		default:
			if perr := c.link(resp); perr != nil {
				c.mu.Unlock()
				return nil, nil, false, perr
			}
		}
	}
}

// beforeHandler applies the flush rule before the handler flow is pulled.
// A flow fused with the layer (same island) that holds no request and has
// no input left to parse can only go on by reading the connection, so what
// is buffered is written now: it is the write the read would cause anyway.
// (A flow that holds requests, such as a handler function's pipelined
// calls, may have their answers ready: they join this write instead.) Otherwise the flow may work
// (or block) for a while before it says so: the writer bounds the wait.
func (o *outbound) beforeHandler() {
	c := o.c
	if c.oob == nil {
		return
	}
	if o.m == c.inM && c.inFlow.Load() == 0 && c.inMu.TryLock() {
		idle := len(c.input()) == 0 && c.body == nil
		c.inMu.Unlock()
		if idle {
			c.oob.FlushIdle()
			return
		}
	}
	c.oob.Bound()
}

// beforeBody applies the flush rule before a response body source is
// pulled: user code that may block without saying so. Once the run is
// cancelled (the client went away, the server is closing) nothing more is
// pulled from the source.
func (o *outbound) beforeBody() error {
	if o.m.Stopped() {
		return o.m.Cause()
	}
	if o.c.oob != nil {
		o.c.oob.Bound()
	}
	return nil
}

// oldestUnanswered returns the oldest exchange the handler still owes a
// response. Called with c.mu held.
func (c *conn) oldestUnanswered() *exchange {
	c.mustHold()
	for n := c.pending.Next(); n < c.pending.End(); n++ {
		if x, _ := c.pending.Get(n); x != nil && x.resp == nil && (x.made == nil || x.late) {
			return x
		}
	}
	return nil
}

// link attaches a response from the handler to its request: by Seq, or to
// the oldest unanswered request when Seq is 0. Called with c.mu held.
func (c *conn) link(resp *Response) error {
	c.mustHold()
	if resp == nil {
		return c.protocolError("the handler flow emitted a nil response")
	}
	var x *exchange
	if resp.Seq == 0 {
		if c.mustLink && c.inFlow.Load() > 1 {
			// Answering the oldest request would be a guess, and a wrong
			// one as soon as the flow completes out of order.
			return c.protocolError("the handler flow may reorder its responses (stream.MapAsyncUnordered, FlatMapMerge) and emitted one not linked to its request while %d were unanswered: link each response with Response.ForRequest", c.inFlow.Load())
		}
		x = c.oldestUnanswered()
		if x == nil {
			return c.protocolError("the handler flow emitted a response while no request was unanswered")
		}
	} else {
		if p, _ := c.pending.Get(resp.Seq); p != nil && p.req != nil {
			x = p
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
	c.inFlow.Add(-1)
	return nil
}

// render writes x's response head (and a body that is in memory).
func (o *outbound) render(x *exchange, resp *Response, force bool) ([]byte, error) {
	if resp.Switch != nil { // a protocol switch (upgrade.go)
		return o.switchProtocols(x, resp)
	}
	c := o.c
	rc := httpcore.RenderContext{
		Method:         x.method,
		Proto:          x.proto,
		CloseRequested: x.closeReq,
		ForceClose:     force,
		Server:         c.s.ServerHeader,
		ServerChecked:  true, // by ServerSettings.resolved
		Warn:           o.warnHeader,
		Date:           o.burstDate(),
	}
	if s, ok := resp.Entity.(*entity.Strict); ok {
		return o.renderStrict(x, resp, s.Data, &rc), nil
	}
	buf, info, whole := httpcore.AppendResponse(o.buf[:0], resp, &rc)
	if !whole {
		if err := o.beforeBody(); err != nil {
			return nil, err
		}
		if err := o.openBody(resp, info); err != nil {
			// The body's source failed as it was built (a panic, say):
			// nothing of the head has left, so the request gets a 500 in
			// place of it, and the connection closes.
			c.logHandlerFailure(x.seq, err)
			x.forceClose, rc.ForceClose = true, true
			buf, info, whole = httpcore.AppendResponse(buf[:0], internalError(), &rc)
		}
	}
	if whole {
		o.buf = buf
		o.closeAfter = info.Close
		o.finish(x)
		return buf, nil
	}
	if x.body != nil {
		// A 100 Continue goes first when the body may read the request's.
		if send, force := c.continueFirst(x); send {
			rc.ForceClose = force
			buf, info, _ = httpcore.AppendResponse(append(buf[:0], continueLine...), resp, &rc)
		}
	}
	o.buf = buf
	o.closeAfter = info.Close
	o.cur, o.framing, o.remaining, o.declared, o.lastSent = x, info.Framing, info.ContentLength, info.ContentLength, false
	return buf, nil
}

// copyBody is the largest strict body that is copied into the render
// buffer after its head; a larger one goes out as it is, in a piece of its
// own: the writer copies it once, not twice, and the render buffer stays
// small.
const copyBody = 2 << 10

// headKey is what the head of a response with a strict body and no header
// fields of its own depends on, besides the connection's settings and the
// Date: a response with the same key and Date gets the same head.
type headKey struct {
	status   httpcore.Status
	proto    httpcore.Protocol // the response's
	reqProto httpcore.Protocol
	method   httpcore.Method
	closeReq bool
	force    bool
	ctype    string
	length   int
}

// renderStrict renders x's response, whose entity is strict (data): its
// head, and its body unless it is larger than copyBody, which the next pull
// emits. The head of a response with no header fields of its own is kept,
// with what it depends on, and copied for the next such response that has
// the same (pipelined and keep-alive answers from one handler mostly do):
// a copy costs less than rendering it again.
func (o *outbound) renderStrict(x *exchange, resp *Response, data []byte, rc *httpcore.RenderContext) []byte {
	var buf []byte
	var info httpcore.HeadInfo
	cacheable := len(resp.Header) == 0 && len(rc.Date) > 0
	var k headKey
	if cacheable {
		// From x, not rc: nothing of rc is kept, so that it (and the
		// Warn function it holds) stays on the caller's stack.
		k = headKey{resp.Status, resp.Proto, x.proto, x.method, x.closeReq, rc.ForceClose, resp.Entity.ContentType(), len(data)}
	}
	if cacheable && o.headOK && k == o.headKey && string(rc.Date) == string(o.headDate) {
		buf, info = append(o.buf[:0], o.head...), o.headInfo
	} else {
		o.warned = false
		buf, info = httpcore.AppendResponseHead(o.buf[:0], resp, rc)
		// A head that had a field dropped is rendered again each time,
		// so that each response is warned about.
		o.headOK = cacheable && !o.warned
		if o.headOK {
			// The content type may be a string in the memory of the
			// request (a handler that echoes its Content-Type), which a
			// server that reuses requests gives to a later one once this
			// response is out: the key keeps a copy of its own.
			o.headType = append(o.headType[:0], k.ctype...)
			k.ctype = unsafe.String(unsafe.SliceData(o.headType), len(o.headType))
			o.head, o.headInfo, o.headKey = append(o.head[:0], buf...), info, k
			o.headDate = append(o.headDate[:0], rc.Date...)
		}
	}
	o.closeAfter = info.Close
	switch {
	case info.Framing != httpcore.FramingLength:
		// No body bytes follow (a HEAD request, a 204).
	case len(data) > copyBody:
		o.buf = buf
		o.cur, o.tail, o.tailEnds = x, data, true
		return buf
	default:
		buf = append(buf, data...)
	}
	o.buf = buf
	o.finish(x)
	return buf
}

// openBody materializes the source of resp's streamed body, turning a
// panic in its construction into a failure.
func (o *outbound) openBody(resp *Response, info httpcore.HeadInfo) (err error) {
	defer func() {
		if v := recover(); v != nil {
			o.data, o.chunks = nil, nil
			err = stream.NewPanicError(v)
		}
	}()
	if ch, ok := resp.Entity.(*entity.Chunked); ok && info.Framing == httpcore.FramingChunked {
		o.chunks, _ = stream.Materialize(o.m, ch.Chunks)
	} else {
		o.data, _ = stream.Materialize(o.m, resp.Entity.DataBytes())
	}
	return nil
}

// copyChunk is the largest chunk whose data is copied into the render
// buffer with its framing; a larger one goes out as it is, between its
// header and its CRLF, so that memory per connection does not grow with the
// chunk size of the response.
const copyChunk = 4 << 10

var crlf = []byte("\r\n")

// lastChunk renders the empty last chunk that ends a chunked body the
// source ended without one, and finishes the response.
func (o *outbound) lastChunk() []byte {
	o.buf = httpcore.AppendLastChunk(o.buf[:0], "", nil)
	o.finish(o.cur)
	return o.buf
}

// chunk emits one chunk of the chunked coding carrying data.
func (o *outbound) chunk(data []byte, ext string) []byte {
	if len(data) <= copyChunk {
		o.buf = httpcore.AppendChunk(o.buf[:0], data, ext)
		return o.buf
	}
	o.buf = httpcore.AppendChunkHeader(o.buf[:0], len(data), ext)
	o.tail = data
	return o.buf
}

// pullBody pulls a response body source, turning a panic into its failure:
// the source is user code, and the connection answers for it (see
// bodyFailed).
func pullBody[T any](p stream.Puller[T]) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = stream.NewPanicError(r)
		}
	}()
	return p.Pull()
}

// bodyFailed is the failure of the connection whose response body source
// failed once the head had left: it can only close. A panic is logged here,
// with its stack, as a handler's is.
func (o *outbound) bodyFailed(err error) error {
	if o.cur != nil {
		var pe *stream.PanicError
		if errors.As(err, &pe) {
			o.c.logHandlerFailure(o.cur.seq, err)
		}
	}
	return fmt.Errorf("streamhttp: response body failed: %w", err)
}

// burstDate returns the Date for a response. The clock is read again when
// the connection has read more input or its request timer has ticked since
// the last reading: responses rendered in between belong to one burst of
// work, and a handler that takes long leaves unanswered requests, which keep
// the timer ticking (at most a second apart). Without a request timer the
// clock is read for every response.
func (o *outbound) burstDate() []byte {
	c := o.c
	if c.s.RequestTimeout <= 0 {
		return nil // AppendDate per response
	}
	if f, t := c.fills.Load(), c.tick.Load(); f != o.dateFills || t != o.dateTick || len(o.date) == 0 {
		o.date, o.dateFills, o.dateTick = httpcore.AppendDate(o.date[:0]), f, t
	}
	return o.date
}

func (o *outbound) warnHeader(name string) {
	o.warned = true
	o.c.warn("streamhttp: response header dropped", "header", name)
}

// streamBody emits the next piece of the current response's body.
func (o *outbound) streamBody() ([]byte, error) {
	switch {
	case o.tail != nil:
		p := o.tail
		o.tail = nil
		if o.tailEnds {
			o.tailEnds = false
			o.finish(o.cur)
		} else {
			o.tailCRLF = true
		}
		return p, nil
	case o.tailCRLF:
		o.tailCRLF = false
		return crlf, nil
	}
	if err := o.beforeBody(); err != nil {
		return nil, err
	}
	if o.chunks != nil {
		for {
			p, err := pullBody(o.chunks)
			if err == stream.EOS {
				o.chunks = nil
				if !o.lastSent {
					return o.lastChunk(), nil
				}
				o.finish(o.cur)
				return o.pull()
			}
			if err != nil {
				o.chunks = nil
				return nil, o.bodyFailed(err)
			}
			switch {
			case o.lastSent:
				// Parts after the last chunk are ignored.
			case p.Last:
				o.lastSent = true
				o.buf = httpcore.AppendLastChunk(o.buf[:0], p.Extension, p.Trailer)
				return o.buf, nil
			case len(p.Data) > 0:
				return o.chunk(p.Data, p.Extension), nil
			}
		}
	}
	for {
		v, err := pullBody(o.data)
		if err == stream.EOS {
			o.data = nil
			if o.framing == httpcore.FramingLength && o.remaining != 0 {
				return nil, &entity.LengthMismatchError{Declared: o.declared, Actual: o.declared - o.remaining}
			}
			if o.framing == httpcore.FramingChunked {
				return o.lastChunk(), nil
			}
			o.finish(o.cur)
			return o.pull()
		}
		if err != nil {
			o.data = nil
			return nil, o.bodyFailed(err)
		}
		if len(v) == 0 {
			continue
		}
		switch o.framing {
		case httpcore.FramingLength:
			if int64(len(v)) > o.remaining {
				o.data.Cancel(stream.ErrCancelled)
				o.data = nil
				return nil, &entity.LengthMismatchError{Declared: o.declared, Actual: o.declared - o.remaining + int64(len(v))}
			}
			o.remaining -= int64(len(v))
			return v, nil
		case httpcore.FramingChunked:
			return o.chunk(v, ""), nil
		default: // close-delimited
			return v, nil
		}
	}
}

// head returns the oldest exchange, or nil. Called with c.mu held.
func (c *conn) head() *exchange {
	c.mustHold()
	x, _ := c.pending.Head()
	return x
}

// pushPending adds x, the newest exchange, under its Seq. Called with c.mu
// held.
func (c *conn) pushPending(x *exchange) {
	c.mustHold()
	if c.pending.Held() == 0 && c.pending.Next() != x.seq {
		// The first exchange of the run (numbered on from an earlier
		// run's), or one after numbers a closing connection consumed
		// without an exchange (dispatch): no gap at the head.
		c.pending.Reset(x.seq, 0)
	}
	if c.pending.Put(x.seq, x) != reorder.Fits {
		panic("streamhttp: exchanges out of sequence") // dispatch numbers them in order
	}
}

// popPending removes the oldest exchange and recycles it when nothing else
// refers to it. It returns the exchange's request when its memory may be
// reused (ServerSettings.ReuseRequests) once the bytes of its response
// are consumed, nil otherwise. Called with c.mu held.
func (c *conn) popPending() (reusable *Request) {
	c.mustHold()
	x, _ := c.pending.Pop()
	if x.counted {
		x.counted = false
		c.stats.RequestDone()
	}
	if c.barrier == x { // answered, so what follows it is HTTP again
		c.barrier = nil
	}
	if x.req != nil && !c.aborted {
		// Its response is done (or the server's replaced it). After an
		// out-of-band answer the connection's end cancels it, once that
		// answer is written: a handler woken now could end the run first.
		x.req.CancelContext()
		if c.s.Parser.ReuseRequests && x.resp != nil && x.made == nil && x.body == nil {
			// The handler answered, the answer is rendered, and the body
			// (if any) came with the head: nothing of the layer refers to
			// the request once the bytes are consumed, and the handlers
			// promised not to (ServerSettings.ReuseRequests).
			reusable = x.req
		}
	}
	if x.body == nil {
		x.req = nil
		c.free = append(c.free, x)
	}
	return reusable
}

// writtenHook returns the OnWritten hook of x's response, which is out in
// full, when it is to be called: the response is the handler's own, not
// shared, and the connection did not fail. Called with c.mu held.
func (c *conn) writtenHook(x *exchange) func() {
	c.mustHold()
	if r := x.resp; r != nil && r.OnWritten != nil && x.made == nil && !c.aborted && !r.IsShared() {
		return r.OnWritten
	}
	return nil
}

// newExchange returns a recycled exchange or a new one. Called with c.mu held.
func (c *conn) newExchange() *exchange {
	c.mustHold()
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
	if c.s.AccessLog != nil { // access log (ServerSettings.AccessLog)
		c.logAccess(x)
	}
	c.mu.Lock()
	b := x.body // x may be recycled once popped and the lock released
	if c.head() == x {
		if f := c.writtenHook(x); f != nil {
			o.written = append(o.written, f)
		}
		if r := c.popPending(); r != nil {
			o.reusable = append(o.reusable, r)
		}
	}
	if o.closeAfter {
		c.beginClose(closeResponse)
	}
	c.wakeSlotWaiter()
	c.mu.Unlock()
	if b != nil {
		close(b.answered)
	}
}

// handlerPanicked takes over a panic of a synchronous handler, which
// unwound through this stage (fused with the handler) to ServeConn's sink:
// the sink recovers it, once per connection rather than once per request,
// and pulls again. It reports whether the panic came out of the handler,
// which this stage's next pull then deals with as its failure. Called in
// the stage's goroutine.
func (c *conn) handlerPanicked(pe *stream.PanicError) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.out
	if o == nil || !c.outWaiting || o.done != nil {
		return false
	}
	c.outWaiting = false
	o.panicked = pe
	return true
}

// afterPanic ends the handler flow after its panic (cancelling it, as a
// sink would) and answers its request with a 500.
func (o *outbound) afterPanic() ([]byte, error) {
	pe := o.panicked
	o.panicked = nil
	o.upDone = true
	o.up.Cancel(pe)
	c := o.c
	c.mu.Lock()
	err := o.handlerFailed(pe)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return o.pull()
}

// handlerFailed deals with the failure of the handler flow. A failure the
// flow merely passed on (of the input, of the pipelining guard, the run's
// cancellation) ends the connection with it. A failure of the handler
// itself gets the oldest unanswered request an error response (500, or 413
// for a body over a limit) and the connection closes after it. Called with
// c.mu held; it returns the error to end the connection with, if any.
func (o *outbound) handlerFailed(err error) error {
	c := o.c
	if o.m.Stopped() || c.inErr != nil && errors.Is(err, c.inErr) {
		return err
	}
	x := c.oldestUnanswered()
	if x == nil {
		return err
	}
	if x.made == nil { // not timed out already
		x.made, x.forceClose = failureResponse(err), true
	}
	c.inFlow.Add(-1)
	c.beginClose(closeHandlerFailed)
	// Log without the lock: the logger may write to a file.
	seq := x.seq
	c.mu.Unlock()
	logHandlerFailure(c.s.Logger, c.info, seq, err)
	c.mu.Lock()
	return nil
}

// failureResponse is the answer to a request whose handler failed with err.
func failureResponse(err error) *Response {
	var sle *entity.SizeLimitError
	if errors.As(err, &sle) {
		// RFC 9110 §15.5.14; the request body (read by the handler)
		// exceeded a limit.
		return httpcore.Text(httpcore.StatusContentTooLarge, fmt.Sprintf("Content Too Large: the request body exceeds the limit of %d bytes\n", sle.Limit))
	}
	var pe *httpcore.ParseError
	if errors.As(err, &pe) {
		// The request body was malformed (chunked framing).
		return errorResponse(pe)
	}
	if errors.Is(err, errBodyTooSlow) {
		// The client stalled its upload: not the server's failure.
		return bodyTooSlowResponse()
	}
	return internalError()
}

func bodyTooSlowResponse() *Response {
	return httpcore.Text(httpcore.StatusRequestTimeout, "Request Timeout: the request body arrived too slowly\n")
}

func internalError() *Response {
	return httpcore.Text(httpcore.StatusInternalServerError, "Internal Server Error\n")
}
