package streamhttp

// Protocol upgrades (101 Switching Protocols, RFC 9110 §7.8) and net/http's
// Hijack: a response carrying an httpcore.Switch hands its connection over.
//
//	handler --Response{101, Switch}--> layer: render the head, stop reading,
//	  keep the unparsed input, end the run --> ServeConn: flush, clear the
//	  deadlines, Switch.Take(ctx, conn, buffered); never close, never linger
//
// The engine's part (internal/h1/upgrade.go) is the barrier (nothing after
// an upgrade request is parsed before it is answered) and the switch
// (render hands the connection over through Hooks.Switched); ServeConn's
// is the hand-over (handOver instead of closing).

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
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

// handOver gives the connection to the switch's taker: the reader's
// wake-up must not touch it any more, its deadlines are cleared, and the
// connection is neither closed nor lingered on. The binding forgets it.
func (c *connIO) handOver(ctx context.Context, sw *h1.Switched) {
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
	sw.Take(ctx, conn, sw.Buffered)
}

// rwcConn is a connection served by ServeConn that is not a net.Conn (a
// pipe of one's own) as a net.Conn without addresses or deadlines.
type rwcConn struct{ io.ReadWriteCloser }

func (rwcConn) LocalAddr() net.Addr              { return nil }
func (rwcConn) RemoteAddr() net.Addr             { return nil }
func (rwcConn) SetDeadline(time.Time) error      { return errors.ErrUnsupported }
func (rwcConn) SetReadDeadline(time.Time) error  { return errors.ErrUnsupported }
func (rwcConn) SetWriteDeadline(time.Time) error { return errors.ErrUnsupported }
