package h1

import (
	"net"
	"strings"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
)

// AccessRecord is what Config.AccessLog learns of each response: the
// fields of streamhttp.AccessRecord (documented there), which converts
// from it.
type AccessRecord struct {
	Method     string
	Target     string
	Status     int
	BodyBytes  int64
	Duration   time.Duration
	RemoteAddr net.Addr
	Seq        uint64
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
		RemoteAddr: c.info.Remote,
		Seq:        x.seq,
	}
	if x.req != nil { // nil: a request that did not parse
		rec.Method, rec.Target = x.method.String(), x.req.Target
		if c.s.Parser.ReuseRequests {
			// The request's memory is reused once its exchange is done:
			// the record must not share it.
			rec.Target = strings.Clone(rec.Target)
		}
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
