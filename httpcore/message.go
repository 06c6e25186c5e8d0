package httpcore

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
)

// URI is a parsed request-target (RFC 9112 §3.2). Its fields are substrings
// of the target as sent: nothing is decoded. The one exception: the empty
// path of an absolute-form target (http://host or http://host?q) is "/",
// as it is for an origin server (RFC 9110 §4.2.3, RFC 9112 §3.2.2).
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

// A request, its header fields and what it keeps of its head (the target,
// the fields' names and values) are allocated together when they are small
// enough: the strings point into buf, and the interior pointers keep the
// whole object alive. Each struct fills a size class of the runtime,
// counting the 8-byte allocation header that objects with pointers over 512
// bytes have: with a 320-byte Request, 384 (a request with one short field,
// as load generators send), 448 (two), 512 (a few fields, as curl sends),
// 640, 1024, 1280 and 1792 bytes. TestRequestSizeClasses keeps them honest.
type (
	request384 struct {
		Request
		hdr [1]Header
		buf [32]byte
	}
	request448 struct {
		Request
		hdr [2]Header
		buf [64]byte
	}
	request512 struct {
		Request
		hdr [3]Header
		buf [96]byte
	}
	request640 struct {
		Request
		hdr [4]Header
		buf [184]byte
	}
	request1024 struct {
		Request
		hdr [12]Header
		buf [312]byte
	}
	request1280 struct {
		Request
		hdr [12]Header
		buf [568]byte
	}
	request1792 struct {
		Request
		hdr [12]Header
		buf [1080]byte
	}
)

// newRequest returns a zeroed Request with room for nh header fields and
// the head bytes it keeps followed by body bytes of a body that arrived
// with its head, all owned by the request. buf has room for the head and
// the body when both fit one of the objects above, for the head alone when
// only it does (the caller copies the body into memory of its own, of its
// exact size), and is nil for a large head (the caller allocates).
//
// With reuse, the object comes from those RecycleRequest gave back when
// there is one (reuse.go), and the request is marked for recycling.
func newRequest(nh, head, body int, reuse bool) (*Request, Headers, []byte) {
	if r, hdr, buf := sizedRequest(nh, head+body, reuse); buf != nil {
		return r, hdr, buf
	}
	if body > 0 {
		if r, hdr, buf := sizedRequest(nh, head, reuse); buf != nil {
			return r, hdr, buf
		}
	}
	return new(Request), make(Headers, nh), nil
}

// sizedRequest returns a request in the smallest of the objects above with
// room for nh fields and n bytes, or a nil buf when none has.
func sizedRequest(nh, n int, reuse bool) (*Request, Headers, []byte) {
	switch {
	case nh <= len(request384{}.hdr) && n <= len(request384{}.buf):
		r := takeRequest[request384](1, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh <= len(request448{}.hdr) && n <= len(request448{}.buf):
		r := takeRequest[request448](2, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh <= len(request512{}.hdr) && n <= len(request512{}.buf):
		r := takeRequest[request512](3, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh <= len(request640{}.hdr) && n <= len(request640{}.buf):
		r := takeRequest[request640](4, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case nh > len(request1024{}.hdr):
		// Many fields: separate allocations.
	case n <= len(request1024{}.buf):
		r := takeRequest[request1024](5, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case n <= len(request1280{}.buf):
		r := takeRequest[request1280](6, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	case n <= len(request1792{}.buf):
		r := takeRequest[request1792](7, reuse)
		return &r.Request, r.hdr[:nh], r.buf[:n:n]
	}
	return nil, nil, nil
}

// Request is an HTTP request as the server hands it to a handler. Every
// field is safe to keep after the handler has returned: its strings are
// backed by memory the request owns, never by a reused connection buffer.
// The one exception is a server that reuses requests, which its handlers
// opt in to (see [RecycleRequest], and ServerSettings.ReuseRequests in
// package streamhttp).
//
// Copy a Request with [Request.WithContext], not by assignment: a copy by
// assignment would share part of the state of the context a server
// attached, and not the rest.
type Request struct {
	Method Method
	Target string  // the request-target exactly as sent
	URI    URI     // Target, split up
	Header Headers // in wire order, names and values as sent
	Entity entity.Entity

	// Typed views of the headers the server acts on.
	// Host is the host the request is for: the Host field, "" if absent
	// (HTTP/1.0), except for an absolute-form target, whose authority
	// (host[:port], as sent) it is. RFC 9112 §3.2.2: a server ignores the
	// Host field then; the parser still requires one in HTTP/1.1 and
	// validates it, and Header keeps it as sent.
	Host          string
	ContentType   string
	Expect        string // the Expect field as sent, "" if absent
	ContentLength int64  // -1 when there is no Content-Length

	// The version and the flags share one word.
	Proto    Protocol
	Chunked  bool  // Transfer-Encoding: chunked
	Close    bool  // the client asked to close after this request (RFC 9112 §9.3)
	Upgrade  bool  // Connection lists "upgrade"
	attached bool  // ctx was made by AttachContext
	class    uint8 // its object's size class in requestPools; 0: not to be recycled (reuse.go)
	body     uint8 // its strict body's array in bodyPools; 0: none of them

	RemoteAddr net.Addr
	LocalAddr  net.Addr
	TLS        *tls.ConnectionState // nil on a plain connection
	Seq        uint64               // position on its connection, from 1

	ctx     reqContext // the context: attached, or set with SetContext
	timeout int64      // SetTimeout's override, accessed atomically

	strict entity.Strict
}

// Context returns the request's context. A server attaches one that is
// cancelled when the response is done or the connection ends (see
// [Request.AttachContext]). Never nil.
func (r *Request) Context() context.Context {
	switch {
	case r.attached:
		return &r.ctx
	case r.ctx.parent != nil:
		return r.ctx.parent
	}
	return context.Background()
}

// SetContext sets the request's context to ctx as it is: nothing cancels
// it on the request's behalf (AttachContext makes a child that the server
// cancels, and SetContext cancels such a child it replaces). It is for
// servers and tests, before the request is handed to a handler; handlers
// use WithContext.
func (r *Request) SetContext(ctx context.Context) {
	if r.attached {
		r.ctx.cancel() // the attached context ends
	}
	r.ctx.parent = ctx // field stores: see AttachContext
	if r.ctx.load() != nil {
		atomic.StorePointer(&r.ctx.state, nil)
	}
	r.attached = false
}

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

// WithContext returns a shallow copy of r whose context is ctx, as
// SetContext sets it. The copy shares nothing of r's context: cancelling r's
// (the server does when the response is done) reaches the copy only through
// ctx, so a handler derives ctx from r.Context() to keep that. SetTimeout
// on the copy does not reach the server, which holds r.
func (r *Request) WithContext(ctx context.Context) *Request {
	if ctx == nil {
		panic("httpcore: nil context")
	}
	// Field by field rather than *r2 = *r: r's context state and timeout
	// may change under atomic operations while it is copied.
	// TestWithContextCopiesEveryField keeps the list complete.
	r2 := &Request{
		Method: r.Method,
		Target: r.Target,
		URI:    r.URI,
		// The copy must not append into the original's field storage.
		Header:        r.Header[:len(r.Header):len(r.Header)],
		Entity:        r.Entity,
		Host:          r.Host,
		ContentType:   r.ContentType,
		Expect:        r.Expect,
		ContentLength: r.ContentLength,
		Proto:         r.Proto,
		Chunked:       r.Chunked,
		Close:         r.Close,
		Upgrade:       r.Upgrade,
		RemoteAddr:    r.RemoteAddr,
		LocalAddr:     r.LocalAddr,
		TLS:           r.TLS,
		Seq:           r.Seq,
		ctx:           reqContext{parent: ctx},
		timeout:       atomic.LoadInt64(&r.timeout),
		strict:        r.strict,
	}
	if r.Entity == entity.Entity(&r.strict) {
		r2.Entity = &r2.strict
	}
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
//
// The server never modifies a Response a handler returns (the HTTP/1.1
// and HTTP/2 engines read it, and keep it only until it has been
// rendered): a handler that answers many requests alike may return one
// Response for all of them, made once and marked with [Response.Shared].
type Response struct {
	Status Status
	Proto  Protocol // HTTP11 unless set
	shared bool     // see Shared; beside Proto, in the padding before Header
	Header Headers  // user fields in order; the server manages framing fields
	Entity entity.Entity

	// Seq links the response to the request it answers (Request.Seq). A
	// handler that answers out of order sets it (ForRequest does); 0 means
	// "the oldest unanswered request".
	Seq uint64

	// Switch, when set, hands the connection over to another protocol
	// once this response is out (streamhttp.Upgrade, streamhttp.Hijack).
	Switch *Switch

	// OnWritten, when set, is called by the HTTP/1.1 server once it has
	// written the response in full and refers to nothing of it any more:
	// not the Response, its header fields, its entity nor the entity's
	// bytes. A handler that recycles its responses, or memory they point
	// into, takes them back there (the nethttp adapter does). It runs on
	// the connection's goroutine before the connection's next output is
	// made: it must be quick, and it must not block.
	//
	// It is not called for a response the server did not write in full
	// (the connection failed or closed first, or a timeout's answer took
	// its place), for a shared response (see Shared), nor over HTTP/2:
	// those are left to the garbage collector.
	OnWritten func()

	strict entity.Strict
}

// Switch is how a response hands its connection over to another protocol
// (RFC 9110 §7.8, 101 Switching Protocols): after the response head has
// been written (or, with NoHead, without one), the HTTP/1.1 layer stops
// and Take gets the connection and the bytes the server had read past the
// request, which belong to the new protocol. Take owns the connection: it
// must close it.
type Switch struct {
	// NoHead writes no response head: Take writes its own (net/http's
	// Hijack, under which a WebSocket library writes the 101 itself).
	NoHead bool
	// Take runs in the connection's goroutine once the layer has stopped,
	// before the server lets go of the connection (and ends the contexts
	// of its requests): it hands the connection on and returns at once.
	// ctx ends when the server closes. conn has no deadlines set.
	Take func(ctx context.Context, conn net.Conn, buffered []byte)
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
	// Field by field: a struct assignment into the new object would cost
	// a bulk write barrier while the collector runs.
	r := &Response{Status: status}
	r.strict.Type = "text/plain; charset=utf-8"
	r.strict.Data = unsafe.Slice(unsafe.StringData(text), len(text))
	r.Entity = &r.strict
	return r
}

// Bytes returns a response with the given content type and body.
func Bytes(status Status, contentType string, body []byte) *Response {
	r := &Response{Status: status}
	r.strict.Type, r.strict.Data = contentType, body // see Text
	r.Entity = &r.strict
	return r
}

// SetBody sets r's entity to body, with the given content type, in r's own
// storage, as Bytes makes it: for a handler that keeps its responses in
// memory of its own (see OnWritten), at no allocation.
func (r *Response) SetBody(contentType string, body []byte) {
	r.strict.Type, r.strict.Data = contentType, body
	r.Entity = &r.strict
}

// ForRequest links r to req (r.Seq = req.Seq) and returns r, so that a
// handler may complete responses out of order. A shared response (see
// Shared) is not modified: ForRequest returns a copy of it linked to req.
func (r *Response) ForRequest(req *Request) *Response {
	if r.shared {
		return r.linkedCopy(req.Seq)
	}
	r.Seq = req.Seq
	return r
}

// Shared marks r as shared and returns it: a response made once, before
// it is first returned, and returned by a handler for any number of
// requests, at once from concurrent handlers too, at no cost per request.
// Nothing may modify r afterwards, nor its Header, its entity or the
// entity's data: the server does not (see Response), and ForRequest makes
// a linked copy instead. Its entity must be one that can be rendered any
// number of times, as a strict one (Text, Bytes, entity.Strict) can; a
// streamed entity's source is used up by its first response.
//
//	var hello = httpcore.Text(httpcore.StatusOK, "Hello, World!").Shared()
//
//	func handle(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
//		return hello, nil
//	}
func (r *Response) Shared() *Response {
	r.shared = true
	return r
}

// IsShared reports whether r was marked with Shared.
func (r *Response) IsShared() bool { return r.shared }

// linkedCopy returns a copy of r linked to the request seq, not shared: its
// own to modify, with a header of its own, its entity the same (an entity
// of r's own storage, as Text makes, is copied with it).
func (r *Response) linkedCopy(seq uint64) *Response {
	c := &Response{Status: r.Status, Proto: r.Proto, Entity: r.Entity, Seq: seq, Switch: r.Switch, strict: r.strict}
	if len(r.Header) > 0 {
		c.Header = slices.Clone(r.Header)
	}
	if r.Entity == entity.Entity(&r.strict) {
		c.Entity = &c.strict
	}
	return c
}
