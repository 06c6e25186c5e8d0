package h1

// Protocol upgrades (101 Switching Protocols, RFC 9110 §7.8) and Hijack,
// the layer's part: the barrier (inbound: nothing after an upgrade request
// is parsed before it is answered) and the switch (render calls
// switchProtocols, which hands the connection over through
// Hooks.Switched). The hand-over itself is the driver's (ServeConn).

import (
	"context"
	"net"

	"github.com/streamhttp/streamhttp/httpcore"
)

// Switched is a hand-over the layer has decided: the driver runs it once
// the run has ended, giving the connection to Take with the bytes read
// past the request.
type Switched struct {
	Take     func(ctx context.Context, conn net.Conn, buffered []byte)
	Buffered []byte
}

// switchProtocols renders x's response resp, which carries a Switch: the
// 101 head (or nothing), after which the layer ends and the connection is
// handed over. A switch that cannot be made cleanly is answered 500 and
// closes the connection. Called by render.
func (o *outbound) switchProtocols(x *exchange, resp *Response) ([]byte, error) {
	c := o.c
	if reason := c.switchRefusal(x, resp); reason != "" {
		c.warn("streamhttp: protocol switch refused", "seq", x.seq, "reason", reason)
		return o.render(x, internalError(), true)
	}
	// The layer reads nothing more: what is left of the input belongs to
	// the new protocol. The barrier (admit) kept the inbound side waiting,
	// so it does not hold the input now.
	c.inMu.Lock()
	buffered := append([]byte(nil), c.input()...)
	c.consume(len(c.input()))
	c.inMu.Unlock()
	c.mu.Lock()
	c.closing = true
	// The request's context lives on: net/http keeps a hijacked request's
	// context until its handler returns. It ends with the connection's run
	// context, after the hand-over.
	x.req = nil
	c.mu.Unlock()
	if c.hooks != nil {
		c.hooks.Switched.Store(&Switched{Take: resp.Switch.Take, Buffered: buffered})
	}
	o.buf = o.buf[:0]
	if !resp.Switch.NoHead {
		rc := httpcore.RenderContext{Method: x.method, Proto: x.proto, Server: c.s.ServerHeader, ServerChecked: true, Warn: o.warnHeader}
		o.buf, _ = httpcore.AppendResponseHead(o.buf, &Response{Status: resp.Status, Header: resp.Header}, &rc)
	}
	o.closeAfter = true
	o.finish(x)
	return o.buf, nil
}

// switchRefusal says why x's connection cannot switch as resp asks, or "".
func (c *conn) switchRefusal(x *exchange, resp *Response) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.hooks == nil:
		return "no connection to hand over (not served by ServeConn)"
	case resp.Switch.Take == nil:
		return "Switch.Take is nil"
	case x.req == nil:
		return "the request was answered by the server"
	case c.pending.Held() != 1:
		return "requests after it were read already (pipelining)"
	case x.body != nil && !x.body.finished:
		return "its request body has not been read to its end"
	case resp.Switch.NoHead:
		return ""
	case resp.Status != httpcore.StatusSwitchingProtocols:
		return "a switch needs status 101"
	case !x.req.Upgrade:
		return "the request did not ask to upgrade (Connection: upgrade)"
	case x.proto != httpcore.HTTP11:
		return "101 needs HTTP/1.1"
	}
	return ""
}

// barrierFor reports whether nothing after x's request may be parsed
// before x is answered: it may switch protocols. Called with c.mu held.
func barrierFor(x *exchange) bool {
	return x.req != nil && (x.req.Upgrade || x.method == httpcore.MethodConnect)
}
