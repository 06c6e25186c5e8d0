package streamhttp

// Protocol upgrades (101 Switching Protocols, RFC 9110 §7.8) and net/http's
// Hijack: a response carrying an httpcore.Switch hands its connection over.
//
//	handler --Response{101, Switch}--> layer: render the head, stop reading,
//	  keep the unparsed input, end the run --> ServeConn: flush, clear the
//	  deadlines, Switch.Take(ctx, conn, buffered); never close, never linger
//
// The engine's part is three hooks: the barrier
// (inbound: nothing after an upgrade request is parsed before it is
// answered), the switch (outbound.render calls switchProtocols), and the
// hand-over (serveConn calls handOver instead of closing).

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// Upgrade returns the 101 response that switches r's connection to
// protocol (the token the client offered in its Upgrade field, such as
// "websocket") and then hands it to take, with the bytes the server had
// already read past the request (usually none: clients wait for the 101).
// header holds extra fields for the 101 head (Sec-WebSocket-Accept, say).
// The server answers 500 instead, and take is never called, when r did not
// ask to upgrade (Connection: upgrade), is not HTTP/1.1, or other
// requests of the connection were already read after it.
//
// take runs in a goroutine of its own after the 101 is written; ctx ends
// when the server closes. take owns the connection and closes it; the
// binding no longer counts it (as net/http forgets a hijacked connection).
func Upgrade(protocol string, header httpcore.Headers, take func(ctx context.Context, conn net.Conn, buffered []byte)) *Response {
	h := make(httpcore.Headers, 0, len(header)+2)
	h = append(h, httpcore.Header{Name: "Connection", Value: "upgrade"}, httpcore.Header{Name: "Upgrade", Value: protocol})
	h = append(h, header...)
	// take gets a goroutine of its own: ServeConn returns, and the binding
	// forgets the connection, as net/http forgets a hijacked one.
	return &Response{Status: httpcore.StatusSwitchingProtocols, Header: h, Switch: &httpcore.Switch{
		Take: func(ctx context.Context, conn net.Conn, buffered []byte) { go take(ctx, conn, buffered) },
	}}
}

// UpgradeFlow is Upgrade with the new protocol as a flow over the
// connection's bytes: its input is what the client sends (starting with
// the bytes already read), its output is written to the client; the
// connection closes when the flow completes or the server closes.
//
//	client bytes --> flow --> bytes to the client
func UpgradeFlow(protocol string, header httpcore.Headers, flow stream.Flow[[]byte, []byte]) *Response {
	return Upgrade(protocol, header, func(ctx context.Context, conn net.Conn, buffered []byte) {
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() }) // a blocked Read ends with the server
		defer stop()
		in := stream.FromReader(conn, 0)
		if len(buffered) > 0 {
			in = stream.Concat(stream.Single(buffered), in)
		}
		stream.RunWith(ctx, stream.Via(in, flow), stream.ToWriter(conn))
	})
}

// Hijack returns the response that hands r's connection to take with no
// response head at all: take writes its own (net/http's Hijacker, under
// which WebSocket libraries write the 101 themselves). Like Upgrade, it is
// refused (500) for a request that is not the last one read on its
// connection; any request may be hijacked, not only upgrades.
//
// Unlike Upgrade's, this take runs in the connection's goroutine, before
// ServeConn returns and ends the contexts of the connection's requests: it
// must hand the connection on (to a waiting handler, a new goroutine) and
// return at once.
func Hijack(take func(ctx context.Context, conn net.Conn, buffered []byte)) *Response {
	return &Response{Status: httpcore.StatusSwitchingProtocols, Switch: &httpcore.Switch{NoHead: true, Take: take}}
}

// switched is a hand-over the layer has decided: ServeConn runs it once
// the run has ended.
type switched struct {
	take     func(ctx context.Context, conn net.Conn, buffered []byte)
	buffered []byte
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
		c.hooks.switched.Store(&switched{take: resp.Switch.Take, buffered: buffered})
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
	case len(c.pending)-c.phead != 1:
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

// handOver gives the connection to the switch's taker: the reader's
// wake-up must not touch it any more, its deadlines are cleared, and the
// connection is neither closed nor lingered on. The binding forgets it.
func (c *connIO) handOver(ctx context.Context, sw *switched) {
	c.quiesceReader()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	// The head (if any) is out before the new protocol's first byte, and
	// the writer's flush timer will not write again.
	if _, err := c.out.last(nil); err != nil {
		c.rwc.Close()
		return
	}
	conn, ok := c.rwc.(net.Conn)
	if !ok {
		conn = rwcConn{c.rwc}
	}
	conn.SetDeadline(time.Time{})
	// Before ServeConn returns and its end cancels the contexts of the
	// connection's requests: a taker can detach what must live on.
	sw.take(ctx, conn, sw.buffered)
}

// rwcConn is a connection served by ServeConn that is not a net.Conn (a
// pipe of one's own) as a net.Conn without addresses or deadlines.
type rwcConn struct{ io.ReadWriteCloser }

func (rwcConn) LocalAddr() net.Addr              { return nil }
func (rwcConn) RemoteAddr() net.Addr             { return nil }
func (rwcConn) SetDeadline(time.Time) error      { return errors.ErrUnsupported }
func (rwcConn) SetReadDeadline(time.Time) error  { return errors.ErrUnsupported }
func (rwcConn) SetWriteDeadline(time.Time) error { return errors.ErrUnsupported }
