package h1

import (
	"errors"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/stream"
)

// inbound is the bottom direction of the layer: it parses requests and
// hands them to the handler flow.
type inbound struct {
	c    *conn
	m    *stream.Materializer
	done error
	// free is how many more requests the guard is known to allow: only
	// this stage adds to the pending exchanges, so the free slots it last
	// counted can only have grown since.
	free int
}

func (in *inbound) Pull() (*Request, error) {
	if in.done != nil {
		return nil, in.done
	}
	req, err := in.next()
	if err != nil {
		in.done = err
		failure := err
		if in.m.Stopped() {
			failure = nil // the run's cancellation, not a failure of the input
		}
		in.c.endInput(failure, stream.ErrCancelled)
	}
	return req, err
}

// Cancel ends the inbound side; a body that a handler is still reading
// goes on until it ends (or the connection closes).
func (in *inbound) Cancel(cause error) {
	if in.done != nil {
		return
	}
	in.done = cause
	in.c.endInput(nil, cause)
}

func (in *inbound) next() (*Request, error) {
	c := in.c
	// The pipelining guard: no request is parsed, nor read from the
	// connection, while PipeliningLimit requests are inside the flow.
	if in.free > 0 {
		in.free-- // dispatch still checks that the connection is not closing
	} else {
		free, closing, err := in.waitSlot()
		if err != nil || closing {
			if err == nil {
				err = stream.EOS
			}
			return nil, err
		}
		in.free = free - 1
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if c.body != nil {
		if err := in.finishBody(c.body); err != nil {
			return nil, err
		}
	}
	for {
		ev, n := c.parser.Next(c.input())
		c.consume(n)
		switch ev.Kind {
		case httpcore.RequestHead:
			if c.headAt.Load() != 0 {
				c.setHeadSince(0)
			}
			if h := c.hooks; h != nil && h.EarnSlot != nil {
				// The first complete head earns the connection its slot in
				// the binding (Hooks.EarnSlot); it
				// may wait here for one, holding inMu, until the run ends
				// (drain, expire and Close end it without inMu, and so
				// does a failure elsewhere in the run).
				earn := h.EarnSlot
				h.EarnSlot = nil
				if err := earn(in.m.Context()); err != nil {
					return nil, err
				}
			}
			if req := c.dispatch(ev); req != nil {
				if req.Upgrade || req.Method == httpcore.MethodConnect {
					in.free = 0 // the next pull waits at the barrier
				}
				return req, nil
			}
			return nil, stream.EOS // answered by the server, which then closes
		case httpcore.Failed:
			c.serverAnswer(nil, errorResponse(ev.Err))
			return nil, stream.EOS
		case httpcore.NeedMore:
			if (len(c.input()) > 0 || n > 0) && c.headAt.Load() == 0 {
				// A head has begun (empty lines before it count, or a
				// client could hold the connection with them): HeadTimeout
				// runs from now. Only the slow path gets here; a head that
				// arrives whole never does.
				c.setHeadSince(clock.Now())
			}
			more, err := c.fill()
			if errors.Is(err, errHeadTimeout) && !c.gotInput {
				// A connection that never sent a byte is closed without
				// an answer.
				return nil, stream.EOS
			}
			if errors.Is(err, errHeadTimeout) {
				c.serverAnswer(nil, httpcore.Text(httpcore.StatusRequestTimeout, "Request Timeout: the request head did not arrive in time\n"))
				return nil, stream.EOS
			}
			if err != nil {
				return nil, err
			}
			if !more {
				if len(c.input()) > 0 {
					c.serverAnswer(nil, errorResponse(&httpcore.ParseError{
						Status: httpcore.StatusBadRequest, Reason: "the connection closed in the middle of a request head"}))
				}
				return nil, stream.EOS
			}
		default:
			// Body events only come while a body is being read.
			return nil, c.protocolError("parser event %d outside a body", ev.Kind)
		}
	}
}

// waitSlot waits until fewer than PipeliningLimit requests are inside the
// flow and returns how many more may enter, or reports that the connection
// is closing instead.
func (in *inbound) waitSlot() (slots int, closing bool, err error) {
	c := in.c
	for {
		c.mu.Lock()
		closing = c.closing
		// Count the requests whose responses are not out yet: that bounds
		// the flow and the reorder window alike.
		slots = c.s.PipeliningLimit - c.pending.Held()
		free := slots > 0
		sameIsland := c.outWaiting && c.outM == in.m
		// at an upgrade request's barrier, wait for its answer.
		wait := (!free || c.barrier != nil) && !closing && !sameIsland
		c.slotWaiter = wait // finish wakes this stage only when it waits
		c.mu.Unlock()
		if !wait {
			if sameIsland && !free && !closing {
				// A synchronous flow asked for another request without
				// answering: waiting would wait for itself.
				return 0, false, c.protocolError("the handler flow asked for a request while %d were unanswered at the pipelining limit (a synchronous flow must answer each request before it asks for the next)", c.s.PipeliningLimit)
			}
			return slots, closing, nil
		}
		in.m.WillBlock()
		select {
		case <-c.slotFree:
		case <-in.m.Done():
			return 0, false, in.m.Cause()
		}
	}
}

// dispatch turns a parsed head into a request for the flow, or answers it
// itself and returns nil.
func (c *conn) dispatch(ev httpcore.Event) *Request {
	req := ev.Request
	c.seq++
	req.Seq = c.seq
	req.RemoteAddr, req.LocalAddr, req.TLS = c.info.Remote, c.info.Local, c.info.TLS
	req.AttachContext(c.ctx) // cancelled when its response is done, or with the connection
	if req.Expect == "" && ev.Body == httpcore.BodyNone {
		// The common case: one critical section, a recycled exchange.
		return c.dispatchPlain(req)
	}
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return nil // see dispatchPlain
	}
	x := &exchange{req: req, seq: req.Seq, method: req.Method, proto: req.Proto, closeReq: c.closeRequested(req)}

	if req.Expect != "" && !req.ExpectsContinue() {
		// RFC 9110 §10.1.1: an expectation the server cannot meet. The body
		// (if any) is not read, so the connection closes after the 417.
		c.serverAnswer(x, httpcore.Text(httpcore.StatusExpectationFailed, "Expectation Failed: only 100-continue is supported\n"))
		return nil
	}
	if ev.Body != httpcore.BodyNone {
		b := &body{c: c, x: x, chunked: ev.Body == httpcore.BodyChunked, answered: make(chan struct{}), finishedCh: make(chan struct{})}
		// RFC 9110 §10.1.1: a server ignores 100-continue from HTTP/1.0.
		b.needContinue = req.ExpectsContinue() && req.Proto != httpcore.HTTP10
		x.body = b
		c.body = b
		req.Entity = b.entity(req)
	}
	if req.Method == httpcore.MethodHead && c.s.TransparentHEAD {
		req.Method = httpcore.MethodGet
	}

	c.mu.Lock()
	c.admit(x)
	if x.body == nil {
		c.setReady(x)
	} else {
		c.setWaiting(x)
	}
	c.mu.Unlock()
	return req
}

// dispatchPlain is dispatch for a request without a body or expectation.
func (c *conn) dispatchPlain(req *Request) *Request {
	method := req.Method
	if method == httpcore.MethodHead && c.s.TransparentHEAD {
		req.Method = httpcore.MethodGet
	}
	c.mu.Lock()
	if c.closing {
		// The connection began to close since the guard was last asked
		// (RFC 9112 §9.6: nothing after a closing response is processed).
		c.mu.Unlock()
		return nil
	}
	x := c.newExchange()
	x.req, x.seq, x.method, x.proto, x.closeReq = req, req.Seq, method, req.Proto, c.closeRequested(req)
	c.admit(x)
	c.setReady(x)
	c.mu.Unlock()
	return req
}

// admit queues x, whose request goes to the handler flow. Called with c.mu
// held.
func (c *conn) admit(x *exchange) {
	c.mustHold()
	x.start = c.accessStart() // access log (ServerSettings.AccessLog)
	c.pushPending(x)
	if barrierFor(x) { // it may switch protocols (upgrade.go)
		c.barrier = x
	}
	c.inFlow.Add(1)
	if c.stats != nil {
		c.stats.RequestStarted()
		x.counted = true
	}
	if x.closeReq {
		c.beginClose(closeRequested) // RFC 9112 §9.6: nothing after a request that closes
	}
}

// serverAnswer queues the server's own response (x may be nil for a request
// that never parsed) and stops reading: the connection closes after it.
func (c *conn) serverAnswer(x *exchange, resp *Response) {
	if x == nil {
		c.seq++
		x = &exchange{seq: c.seq, method: httpcore.MethodGet, proto: httpcore.HTTP11}
	}
	x.made, x.forceClose = resp, true
	c.mu.Lock()
	c.pushPending(x)
	c.beginClose(closeServerAnswer)
	c.mu.Unlock()
	c.dropInput(stream.ErrCancelled)
}

// finishBody deals with the previous request's body before the next head is
// parsed: it waits for that request's response, then discards an untouched
// body up to MaxDrainBytes; anything else ends the connection. Called with
// inMu held; it lets go of it while it waits.
func (in *inbound) finishBody(b *body) error {
	c := in.c
	if !b.finished {
		// A synchronous flow that asks for the next request before it
		// answers this one cannot answer while this stage waits: move on
		// at once, as if the response were out.
		c.mu.Lock()
		sameIsland := c.outWaiting && c.outM == in.m
		c.mu.Unlock()
		if !sameIsland {
			// The next request may go to the handler as soon as this body
			// has been read (the handler has it all), or once the
			// response is out.
			c.inMu.Unlock()
			select {
			case <-b.answered:
			case <-b.finishedCh:
			case <-in.m.Done():
				c.inMu.Lock()
				return in.m.Cause()
			}
			c.inMu.Lock()
		}
	}
	if b.finished {
		c.body = nil
		return nil
	}
	if b.started || b.err != nil || (b.needContinue && !b.continueSent) {
		// The response said Connection: close (or the body failed).
		b.fail(errLayerDone)
		return stream.EOS
	}
	// Drain: read and discard up to MaxDrainBytes.
	var drained int64
	for !b.finished {
		data, _, err := b.nextEvent()
		drained += int64(len(data))
		switch {
		case err == stream.EOS:
		case err != nil:
			return stream.EOS
		case drained > c.s.MaxDrainBytes:
			b.fail(errLayerDone)
			return stream.EOS
		}
	}
	b.discarded = true
	c.body = nil
	return nil
}

// entity makes the streamed entity of a request whose body is still to come.
func (b *body) entity(req *Request) entity.Entity {
	if b.chunked {
		chunks := entity.Once(stream.FromPuller(func(m *stream.Materializer) stream.Puller[entity.ChunkPart] {
			return &chunkPuller{b: b, m: m}
		}))
		return &entity.Chunked{Type: req.ContentType, Chunks: chunks}
	}
	data := entity.Once(stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		return &dataPuller{b: b, m: m}
	}))
	return &entity.Default{Type: req.ContentType, Length: req.ContentLength, Data: data}
}
