package streamhttp

import (
	"errors"

	"github.com/streamhttp/streamhttp/httpcore"
)

// Errors of WriteInterim.
var (
	// ErrInterimNotNow: the connection cannot write an interim response
	// for the request now, because responses to earlier requests are still
	// owed or being written, or the request has its answer already.
	ErrInterimNotNow = errors.New("streamhttp: an interim response can only be written while the request is the oldest unanswered one of its connection")
	// ErrNoConnection: the request did not come from a connection served
	// by ServeConn (a Replay, a hand-made request).
	ErrNoConnection = errors.New("streamhttp: the request has no connection to write to")
)

// WriteInterim writes an informational (1xx) response to r now, ahead of
// its final response: 103 Early Hints with Link fields, say (RFC 8297), or
// 102. The head carries fields as given (framing fields are dropped: an
// interim response has no content, RFC 9110 §15.2). It is written only
// while r is the oldest request its connection has not answered and its
// handler has not answered it either; otherwise WriteInterim returns
// ErrInterimNotNow and writes nothing. 101 is not an interim response for
// this purpose (see Upgrade), nor 1xx codes outside 100..199.
//
// Sending a 1xx to an HTTP/1.0 client is the caller's to avoid
// (RFC 9110 §15.2). It is safe to call from any goroutine.
func WriteInterim(r *Request, status httpcore.Status, fields httpcore.Headers) error {
	if status < 100 || status > 199 || status == httpcore.StatusSwitchingProtocols {
		return errors.New("streamhttp: WriteInterim needs a 1xx status other than 101")
	}
	h, ok := r.Context().Value(connKey{}).(*connHooks)
	if !ok {
		return ErrNoConnection
	}
	c := h.layer.Load()
	if c == nil {
		return ErrNoConnection
	}
	c.mu.Lock()
	x := c.head()
	direct := c.oob != nil && c.outWaiting && !c.stopped && x != nil && x.seq == r.Seq &&
		x.resp == nil && x.made == nil
	if !direct {
		c.mu.Unlock()
		return ErrInterimNotNow
	}
	rc := httpcore.RenderContext{Method: x.method, Proto: x.proto}
	if x.body != nil && x.body.continueQueued {
		// A 100 Continue queued in band would follow this one: say it
		// now, first, as the oldest interim answer.
		c.dequeueContinue(x.body)
		c.mu.Unlock()
		if err := c.oob.writeOOB([]byte(continueLine)); err != nil {
			return err
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	p, _ := httpcore.AppendResponseHead(nil, &Response{Status: status, Header: fields}, &rc)
	return c.oob.writeOOB(p)
}
