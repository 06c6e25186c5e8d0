package streamhttp

import (
	"net"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
)

// AccessRecord is what ServerSettings.AccessLog learns of each response.
type AccessRecord struct {
	// Method is as received (HEAD even under TransparentHEAD), Target the
	// request-target as sent (path and query); both are "" for a request
	// that did not parse, which the server answered itself (400, 414, 431).
	Method string
	Target string
	Status int // the status sent: the handler's, or the server's own (408, 503, ...)
	// BodyBytes is the length of the response body sent: 0 for HEAD, 1xx,
	// 204 and 304; -1 for a body whose length was not declared (chunked or
	// close-delimited, streamed).
	BodyBytes int64
	// Duration runs from the moment the request's head was parsed to the
	// moment its response was rendered (handed to the connection's write
	// buffer); 0 for a request that did not parse.
	Duration time.Duration
	// RemoteAddr is the client's address: the PROXY protocol header's
	// source behind a balancer (see ServerSettings.ProxyProtocol).
	RemoteAddr net.Addr
	Seq        uint64 // the request's position on its connection, from 1
}

// accessStart is when an exchange begins, for the access log: the clock
// is read only when there is one.
func (c *conn) accessStart() int64 {
	if c.s.AccessLog == nil {
		return 0
	}
	return time.Now().UnixNano()
}

// logAccess calls the AccessLog hook for x, whose response is out.
func (c *conn) logAccess(x *exchange) {
	resp := x.made
	if resp == nil {
		resp = x.resp
	}
	if resp == nil {
		return
	}
	rec := AccessRecord{
		Status:     int(resp.Status),
		BodyBytes:  bodyBytes(x.method, resp),
		RemoteAddr: c.info.remote,
		Seq:        x.seq,
	}
	if x.req != nil { // nil: a request that did not parse
		rec.Method, rec.Target = x.method.String(), x.req.Target
	}
	if x.start != 0 {
		rec.Duration = time.Duration(time.Now().UnixNano() - x.start)
	}
	c.s.AccessLog(rec)
}

// bodyBytes is the length of resp's body on the wire, -1 when not known.
func bodyBytes(method httpcore.Method, resp *Response) int64 {
	switch {
	case method == httpcore.MethodHead, resp.Status < 200, resp.Status == 204, resp.Status == 304:
		return 0
	case resp.Entity == nil:
		return 0
	}
	return resp.Entity.ContentLength()
}
