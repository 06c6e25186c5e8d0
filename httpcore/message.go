package httpcore

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
)

// URI is a parsed request-target (RFC 9112 §3.2). Its fields are substrings
// of the target as sent: nothing is decoded.
//
//	origin-form     /path?query          Path, RawQuery
//	absolute-form   http://host/p?q      Scheme, Authority, Path, RawQuery
//	authority-form  host:port (CONNECT)  Authority
//	asterisk-form   * (OPTIONS)          Path "*"
type URI struct {
	Scheme    string
	Authority string
	Path      string
	RawQuery  string
}

// A request, its header fields and the copy of its head are allocated
// together when they are small enough: the strings point into buf, and the
// interior pointers keep the whole object alive. Each struct plus the
// runtime's 8-byte allocation header (objects with pointers over 512 bytes
// have one) fills a size class: 512 (no header at that size), 640, 1024,
// 1280 and 1792 bytes with a 328-byte Request. TestRequestSizeClasses keeps
// them honest.
type (
	requestXXS struct {
		Request
		hdr [2]Header
		buf [120]byte
	}
	requestXS struct {
		Request
		hdr [4]Header
		buf [176]byte
	}
	requestS struct {
		Request
		hdr [12]Header
		buf [304]byte
	}
	requestM struct {
		Request
		hdr [12]Header
		buf [560]byte
	}
	requestL struct {
		Request
		hdr [12]Header
		buf [1072]byte
	}
)

// newRequest returns a zeroed Request with room for nh header fields and n
// bytes of head, all owned by the request.
func newRequest(nh, n int) (*Request, Headers, []byte) {
	switch {
	case nh <= len(requestXXS{}.hdr) && n <= len(requestXXS{}.buf):
		r := new(requestXXS)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh <= len(requestXS{}.hdr) && n <= len(requestXS{}.buf):
		r := new(requestXS)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh > len(requestS{}.hdr):
		// Many fields: separate allocations.
	case n <= len(requestS{}.buf):
		r := new(requestS)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case n <= len(requestM{}.buf):
		r := new(requestM)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case n <= len(requestL{}.buf):
		r := new(requestL)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	}
	return new(Request), make(Headers, nh), make([]byte, n)
}

// Request is an HTTP request as the server hands it to a handler. Every
// field is safe to keep after the handler has returned: its strings are
// backed by memory the request owns, never by a reused connection buffer.
type Request struct {
	Method Method
	Target string // the request-target exactly as sent
	URI    URI    // Target, split up
	Proto  Protocol
	Header Headers // in wire order, names and values as sent
	Entity entity.Entity

	// Typed views of the headers the server acts on.
	Host          string // the Host field, "" if absent (HTTP/1.0)
	ContentLength int64  // -1 when there is no Content-Length
	Chunked       bool   // Transfer-Encoding: chunked
	ContentType   string
	Expect        string // the Expect field as sent, "" if absent
	Close         bool   // the client asked to close after this request (RFC 9112 §9.3)
	Upgrade       bool   // Connection lists "upgrade"

	RemoteAddr net.Addr
	LocalAddr  net.Addr
	TLS        *tls.ConnectionState // nil on a plain connection
	Seq        uint64               // position on its connection, from 1

	ctx     context.Context
	timeout int64 // SetTimeout's override, accessed atomically

	strict entity.Strict
}

// Context returns the request's context: it is cancelled when the client
// goes away or the response has been written. Never nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// SetContext sets the request's context. It is for servers, before the
// request is handed to a handler; handlers use WithContext.
func (r *Request) SetContext(ctx context.Context) { r.ctx = ctx }

// SetTimeout overrides the server's request timeout for this request: the
// server answers 503 if no response is ready d after the request was
// received in full. A handler calls it before the server's own timeout has
// expired; d <= 0 means no timeout. It is safe to call from any goroutine.
func (r *Request) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = -1
	}
	atomic.StoreInt64(&r.timeout, int64(d))
}

// Timeout returns the override set with SetTimeout: 0 when there is none,
// a negative value for "no timeout".
func (r *Request) Timeout() time.Duration { return time.Duration(atomic.LoadInt64(&r.timeout)) }

// WithContext returns a shallow copy of r with its context replaced.
func (r *Request) WithContext(ctx context.Context) *Request {
	if ctx == nil {
		panic("httpcore: nil context")
	}
	r2 := new(Request)
	*r2 = *r
	// The copy must not append into the original's field storage.
	r2.Header = r.Header[:len(r.Header):len(r.Header)]
	if r.Entity == entity.Entity(&r.strict) {
		r2.Entity = &r2.strict
	}
	r2.ctx = ctx
	return r2
}

// URL parses the request-target into a net/url URL (it allocates; the URI
// field is the cheap view).
func (r *Request) URL() (*url.URL, error) {
	if r.Method == MethodConnect && r.URI.Scheme == "" {
		return &url.URL{Host: r.URI.Authority}, nil
	}
	return url.ParseRequestURI(r.Target)
}

// ExpectsContinue reports whether the client sent Expect: 100-continue.
func (r *Request) ExpectsContinue() bool { return equalFold(r.Expect, "100-continue") }

// Response is an HTTP response as a handler returns it.
type Response struct {
	Status Status
	Proto  Protocol // HTTP11 unless set
	Header Headers  // user fields in order; the server manages framing fields
	Entity entity.Entity

	// Seq links the response to the request it answers (Request.Seq). A
	// handler that answers out of order sets it (ForRequest does); 0 means
	// "the oldest unanswered request".
	Seq uint64

	strict entity.Strict
}

// NewResponse returns a response with the status and entity (nil means
// empty).
func NewResponse(status Status, e entity.Entity) *Response {
	if e == nil {
		e = entity.Empty
	}
	return &Response{Status: status, Entity: e}
}

// Text returns a response with a text/plain; charset=utf-8 body. The body
// shares the string's memory: it is never modified.
func Text(status Status, text string) *Response {
	r := &Response{Status: status}
	r.strict = entity.Strict{Type: "text/plain; charset=utf-8", Data: unsafe.Slice(unsafe.StringData(text), len(text))}
	r.Entity = &r.strict
	return r
}

// Bytes returns a response with the given content type and body.
func Bytes(status Status, contentType string, body []byte) *Response {
	r := &Response{Status: status}
	r.strict = entity.Strict{Type: contentType, Data: body}
	r.Entity = &r.strict
	return r
}

// ForRequest links r to req (r.Seq = req.Seq) and returns r, so that a
// handler may complete responses out of order.
func (r *Response) ForRequest(req *Request) *Response {
	r.Seq = req.Seq
	return r
}
