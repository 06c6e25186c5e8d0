package h1

import "github.com/streamhttp/streamhttp/httpcore"

// The close decision: the one owner of "this connection takes no further
// request, and closes after its last response".
//
// A connection begins to close (beginClose) for one of the reasons below,
// the first of which is kept for the logs and the tests. From then on the
// inbound side parses no further request (RFC 9112 §9.6: nothing after a
// closing response is processed), the response written last carries
// Connection: close, and the driver closes the connection after it (with a
// linger: streamhttp's connIO.close). Whether one response must close the
// connection is decided here too (mustClose, closeRequested); the renderer
// applies the protocol's own rules (HTTP/1.0, the handler's Connection
// header) on top.
type closeReason uint8

const (
	closeNone          closeReason = iota
	closeRequested                 // the request asked for it (or DisableKeepAlive)
	closeServerAnswer              // the server answered the request itself (a parse error, 417, 408)
	closeBodyCancelled             // the handler cancelled the request body: the rest is never read
	closeBodyFailed                // the request body failed (malformed, too large, broken off, too slow)
	closeHandlerFailed             // the handler failed or panicked: 500
	closeTimeout                   // a request timed out (503), or its body was too slow (408)
	closeResponse                  // a response closes (Connection: close, or it had to)
	closeDraining                  // the server terminates
	closeInputEnded                // the client's input ended, or the inbound side did
	closeOutputEnded               // the writer ended
)

var closeReasons = [...]string{
	closeNone:          "none",
	closeRequested:     "requested",
	closeServerAnswer:  "server answer",
	closeBodyCancelled: "body cancelled",
	closeBodyFailed:    "body failed",
	closeHandlerFailed: "handler failed",
	closeTimeout:       "timeout",
	closeResponse:      "response closes",
	closeDraining:      "draining",
	closeInputEnded:    "input ended",
	closeOutputEnded:   "output ended",
}

func (r closeReason) String() string { return closeReasons[r] }

// beginClose makes the connection take no further request, for reason r,
// and wakes the inbound side if it waits for a pipelining slot (it then
// sees the connection closing). Called with c.mu held.
func (c *conn) beginClose(r closeReason) {
	c.mustHold()
	if !c.closing {
		c.closing, c.closeReason = true, r
	}
	c.wakeSlotWaiter()
}

// closeRequested reports whether the connection closes after req's
// response whatever the handler says: the client asked for it, or keep-alive
// is off.
func (c *conn) closeRequested(req *Request) bool { return req.Close || c.s.DisableKeepAlive }

// mustClose reports whether the connection has to close after x's response
// resp because of x's request body, or because resp opens a tunnel (resp
// is nil when only the body matters). Called with c.mu held.
func (c *conn) mustClose(x *exchange, resp *Response) bool {
	c.mustHold()
	if resp != nil && x.method == httpcore.MethodConnect && resp.Status >= 200 && resp.Status < 300 {
		// A 2xx answer to CONNECT starts a tunnel (RFC 9110 §9.3.6),
		// which this server does not run: the connection ends after it
		// rather than read the client's tunnelled bytes as requests.
		return true
	}
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
