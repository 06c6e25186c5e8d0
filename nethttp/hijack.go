package nethttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

var (
	errHijackCommitted = errors.New("nethttp: Hijack after the response head was sent")
	errHijackRequest   = errors.New("nethttp: Hijack needs a request that asks to upgrade (Connection: upgrade) or a CONNECT")
	errHijackRefused   = errors.New("nethttp: the server refused the hijack (see its log) or the connection ended")
)

// hijackBuffer is the size of the bufio.Reader and Writer Hijack returns,
// as net/http's: the library that takes the connection keeps them.
const hijackBuffer = 4 << 10

// hijacked is what the connection's hand-over gives Hijack.
type hijacked struct {
	conn     net.Conn
	buffered []byte
}

// Hijack takes the connection over, as net/http's Hijacker: the server
// stops speaking HTTP on it and hands it over with the bytes it had read
// past the request (in the returned reader). Without a pending
// WriteHeader(101) nothing is written (a WebSocket library writes its own
// 101); with one, the 101 head goes out first. The request's context lives
// until ServeHTTP returns. Only requests that may switch protocols can be
// hijacked (Connection: upgrade, or CONNECT), and only before the response
// head is out.
func (x *handlerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w, ok := x.lock()
	if !ok {
		return nil, nil, errReturned
	}
	switch {
	case w.returned:
		w.mu.Unlock()
		return nil, nil, errReturned
	case w.hijacked:
		w.mu.Unlock()
		return nil, nil, http.ErrHijacked
	case w.committed:
		w.mu.Unlock()
		return nil, nil, errHijackCommitted
	case w.unlink == nil:
		w.mu.Unlock()
		return nil, nil, errHijackRequest
	}
	w.hijacked, w.committed = true, true
	w.stop = w.reqCtx.Done()
	got := make(chan hijacked, 1)
	unlink := w.unlink
	take := func(_ context.Context, conn net.Conn, buffered []byte) {
		// Before the server lets go of the connection, whose end would
		// otherwise end the handler's context too.
		unlink()
		got <- hijacked{conn, buffered}
	}
	var resp *streamhttp.Response
	if w.wroteFinal && w.status == http.StatusSwitchingProtocols {
		resp = &streamhttp.Response{Status: httpcore.StatusSwitchingProtocols, Header: toFields(w.snap, false), Switch: &httpcore.Switch{Take: take}}
	} else {
		resp = streamhttp.Hijack(take)
	}
	resp.ForRequest(w.req)
	w.commit <- result{resp: resp}
	w.mu.Unlock()

	var h hijacked
	select {
	case h = <-got:
	case <-w.stop:
		select {
		case h = <-got:
		default:
			return nil, nil, errHijackRefused
		}
	}
	size := max(hijackBuffer, len(h.buffered))
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(h.buffered), h.conn), size)
	if len(h.buffered) > 0 {
		br.Peek(len(h.buffered)) // into the reader's buffer: Buffered() says they are there
	}
	return h.conn, bufio.NewReadWriter(br, bufio.NewWriterSize(h.conn, hijackBuffer)), nil
}

var _ http.Hijacker = (*handlerWriter)(nil)
