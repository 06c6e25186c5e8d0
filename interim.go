package streamhttp

import (
	"errors"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
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
	served, written, err := h1.WriteInterim(r.Context(), r.Seq, status, fields)
	switch {
	case !served:
		return ErrNoConnection
	case !written:
		return ErrInterimNotNow
	}
	return err
}
