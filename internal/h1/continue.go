package h1

// The 100-continue stage: the one owner of "when does a client that
// expects 100-continue get it" (RFC 9110 §10.1.1).
//
//   - Never before the handler asks for the body: on its first demand
//     (pullStart), the 100 goes out at once when the writer is waiting for
//     that request's answer (out of band), or is queued to go in band,
//     before that request's answer and after the answers before it (an
//     interim response belongs to the request being answered).
//   - A final answer that comes first makes the 100 moot (dequeued), unless
//     the answer streams and may read the body while it is written (an
//     echo): then the 100 goes right before its head (continueFirst).
//   - An answer that leaves without the body having been asked for closes
//     the connection (close.go: the client may never send the body).
//   - A client that sent the body with its head, or speaks HTTP/1.0, gets
//     no 100 (needContinue is false).

// continueLine is the interim response that asks a client for its body
// (RFC 9110 §15.2.1).
const continueLine = "HTTP/1.1 100 Continue\r\n\r\n"

// pullStart runs on the handler's first demand for body bytes: that is when
// a client waiting for 100 Continue gets it (RFC 9110 §10.1.1), never before.
func (b *body) pullStart() {
	if b.started {
		return
	}
	b.c.mu.Lock()
	b.started = true
	send := b.needContinue && !b.continueSent
	b.continueSent = b.continueSent || send
	b.c.mu.Unlock()
	if send {
		b.c.sendContinue(b.x)
	}
}

// continueFirst reports whether a 100 Continue must precede the head of a
// streamed response to x, and records it as sent, with the close decision
// that follows. A streamed response may read the request body while it is
// written (an echo): a client that waits for 100 Continue must get it
// before the final response, never after. That is when the handler asked
// for the body and the 100 could not go out yet, or when nothing has asked
// for the body yet.
func (c *conn) continueFirst(x *exchange) (send, force bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := x.body
	if b.continueDropped || b.needContinue && !b.continueSent && !b.finished {
		b.continueDropped, b.continueSent = false, true
		return true, x.forceClose || c.mustClose(x, nil)
	}
	return false, false
}

// dequeueContinue drops b's queued 100 Continue. Called with c.mu held.
func (c *conn) dequeueContinue(b *body) { b.continueQueued = false }

// sendContinue writes 100 Continue for x, whose handler has asked for the
// body: out of band when the outbound side is waiting for x's response,
// otherwise in band, before x's response and after the responses before
// it (an interim response belongs to the request being answered). Once x
// has its answer it is too late, and nothing is sent.
func (c *conn) sendContinue(x *exchange) {
	c.mu.Lock()
	if x.resp != nil || x.made != nil || c.stopped {
		c.mu.Unlock()
		return
	}
	direct := c.oob != nil && c.outWaiting && c.head() == x
	if !direct {
		x.body.continueQueued = true
	}
	c.mu.Unlock()
	if direct {
		if err := c.oob.WriteOOB([]byte(continueLine)); err != nil {
			c.debug("streamhttp: writing 100 Continue failed", "err", err)
		}
	}
}
