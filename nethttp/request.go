package nethttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// protoNames are the Proto strings of net/http, by httpcore.Protocol.
var protoNames = [...]struct {
	s            string
	major, minor int
}{httpcore.HTTP11: {"HTTP/1.1", 1, 1}, httpcore.HTTP10: {"HTTP/1.0", 1, 0}, httpcore.HTTP2: {"HTTP/2.0", 2, 0}}

// request is the net/http side of one request: the http.Request the
// handler gets, its URL, its context and the backing of its header values,
// and the streamhttp response, in one allocation. A handler, or a
// goroutine it started, may keep r, r.URL, r.Header or r.Context() after
// ServeHTTP returns, as net/http allows, and the server holds the response
// until it is written: so a request is recycled only when the handler
// promised otherwise (Options.ReuseRequests), once both the handler's
// goroutine and the server are done with it (holds), and never when
// someone waited on its context. Without that promise only the
// ResponseWriter is recycled (see responseWriter).
type request struct {
	hr  http.Request
	url url.URL
	// ctx is the handler's context: a child of the streamhttp request's
	// that ServeHTTP's return cancels, and that costs nothing (no
	// allocation, no registration with its parent) until someone waits on
	// it.
	ctx  handlerCtx
	rw   handlerWriter // the handler's ResponseWriter
	vals [8]string     // the header values' backing, when they fit
	addr [48]byte      // RemoteAddr's bytes (see remoteAddrString)

	// The response (see answer): its head, with its Strict entity, and the
	// bytes of a short body.
	resp streamhttp.Response
	body [smallBody]byte

	// Reuse (Options.ReuseRequests). A recycled object keeps hdr (cleared)
	// and written; written is nil on an object that is not to be recycled.
	holds   atomic.Int32 // the handler's goroutine and the server's writing of the response
	hdr     http.Header  // the header map, made once
	written func()       // st.responseWritten, the response's OnWritten
}

// smallBody is the longest body that answer keeps in the request's own
// allocation: what fills its size class (on 64-bit platforms, 896 bytes
// with the 8-byte header the allocator adds to an object of more than
// 512 bytes that holds pointers; a byte more and it takes 1024).
const smallBody = 56

// requestPool holds request objects for reuse (Options.ReuseRequests).
var requestPool sync.Pool

// maxSpareHeader bounds the header map a recycled request keeps: a larger
// one is left to the garbage collector.
const maxSpareHeader = 32

// newRequest returns a zeroed request object: a recycled one, held twice
// (release), when recycle is set; a new one, never recycled, otherwise.
func newRequest(recycle bool) *request {
	if !recycle {
		return new(request)
	}
	st, _ := requestPool.Get().(*request)
	if st == nil {
		st = new(request)
		st.written = st.responseWritten
	}
	st.holds.Store(2)
	return st
}

// recycled reports whether st is to be recycled (see newRequest).
func (st *request) recycled() bool { return st.written != nil }

// responseWritten is the response's OnWritten: the server is done with it.
func (st *request) responseWritten() { st.release() }

// release drops a hold on a recycled request: the handler's goroutine's
// once it is done with st, and the server's once the response is written
// (responseWritten). The last one gives st back, unless someone waited on
// its context, who may still look at it. A response the server never
// writes (the connection failed, a timeout's 503 took its place) keeps its
// hold, and st is left to the garbage collector.
func (st *request) release() {
	if st.holds.Add(-1) != 0 || st.ctx.lazy.Load() != nil {
		return
	}
	h, written := st.hdr, st.written
	if len(h) > maxSpareHeader {
		h = nil
	}
	clear(h)
	*st = request{} // nothing of this request stays reachable from the pool
	st.hdr, st.written = h, written
	requestPool.Put(st)
}

// answer returns the request's response with a Strict entity holding a
// copy of body (the writer's buffer is recycled with the writer): a body
// of up to smallBody bytes costs no allocation, a longer one its own.
func (st *request) answer(status int, ctype string, body []byte) *streamhttp.Response {
	var data []byte
	switch {
	case len(body) == 0:
	case len(body) <= len(st.body):
		n := copy(st.body[:], body)
		data = st.body[:n:n]
	default:
		data = bytes.Clone(body)
	}
	st.resp = streamhttp.Response{Status: httpcore.Status(status)}
	st.resp.SetBody(ctype, data)
	return &st.resp
}

// newHTTPRequest builds the net/http form of r, with ctx its context
// (st.ctx's). Strings alias r's. With keep, r is kept (an http.Handler may
// keep its request), so that even a server that reuses requests
// (ServerSettings.ReuseRequests) never reuses r's memory; without it, the
// handler promised to keep nothing (Options.ReuseRequests). The body is
// not set here.
func (st *request) newHTTPRequest(ctx context.Context, r *streamhttp.Request, keep bool) (*http.Request, error) {
	if keep {
		r.Keep()
	}
	u, err := requestURL(r, &st.url)
	if err != nil {
		return nil, err
	}
	// The request is built on the stack and copied into st once, by
	// WithContext (the context field is net/http's own; WithContext's copy
	// stays on the stack, it is inlined): one copy into the heap, which
	// costs write barriers while the collector runs, rather than a store
	// of each field and a copy back.
	hr := http.Request{
		Method:     string(r.Method),
		URL:        u,
		RequestURI: r.Target,
		Host:       r.Host,
		Close:      r.Close,
		TLS:        r.TLS,
		Body:       http.NoBody,
		Header:     st.header(r),
	}
	if p := int(r.Proto); p < len(protoNames) {
		hr.Proto, hr.ProtoMajor, hr.ProtoMinor = protoNames[p].s, protoNames[p].major, protoNames[p].minor
	}
	if r.RemoteAddr != nil {
		hr.RemoteAddr = st.remoteAddrString(r.RemoteAddr)
	}
	switch {
	case r.Chunked:
		hr.ContentLength, hr.TransferEncoding = -1, []string{"chunked"}
	case r.ContentLength > 0:
		hr.ContentLength = r.ContentLength
	}
	if hr.Host == "" && u != nil {
		hr.Host = u.Host
	}
	st.hr = *hr.WithContext(ctx)
	return &st.hr, nil
}

// header returns r's header fields as a map, but for Host (net/http moves
// it to Request.Host).
func (st *request) header(r *streamhttp.Request) http.Header {
	n := len(r.Header)
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, "Host") {
			n--
		}
	}
	h := st.hdr
	if h == nil {
		h = make(http.Header, n)
		if st.recycled() {
			st.hdr = h
		}
	}
	// One backing array for the values: a key's first value is a slice of
	// it with no room to grow, so that a second value (or the handler's
	// Add) reallocates rather than overwrites the next key's.
	vals := st.vals[:]
	if len(r.Header) > len(vals) {
		vals = make([]string, len(r.Header))
	}
	for i, f := range r.Header {
		k := f.Name
		if !canonical(k) {
			k = textproto.CanonicalMIMEHeaderKey(k)
		}
		if k == "Host" {
			continue
		}
		if vv, ok := h[k]; ok {
			h[k] = append(vv, f.Value)
			continue
		}
		vals[i] = f.Value
		h[k] = vals[i : i+1 : i+1]
	}
	return h
}

// remoteAddrString is a.String(), for a TCP address written into st's
// own bytes rather than allocated: the string stays as it is for as long
// as anyone may look at it (see request).
func (st *request) remoteAddrString(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.Zone != "" || len(ta.IP) != net.IPv4len && len(ta.IP) != net.IPv6len {
		return a.String()
	}
	ap := ta.AddrPort()
	b := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(st.addr[:0])
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// canonical reports whether k is in the canonical form of a header key
// (CanonicalMIMEHeaderKey returns it unchanged), which most clients send:
// then no conversion is needed.
func canonical(k string) bool {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-':
			upper = true
			continue
		case 'A' <= c && c <= 'Z':
			if !upper {
				return false
			}
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			if upper && 'a' <= c && c <= 'z' {
				return false
			}
		default:
			return false // leave the rest to textproto
		}
		upper = false
	}
	return k != ""
}

// pathSafe holds the bytes that url.ParseRequestURI keeps as they are in
// a path, with no RawPath (EscapedPath returns them unescaped), taken from
// net/url itself; '%' (which it unescapes) and '?' are not among them.
var pathSafe = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		s := "/" + string(rune(c))
		if c != '%' && c != '?' && (&url.URL{Path: s}).EscapedPath() == s {
			t[c] = true
		}
	}
	return t
}()

// requestURL is url.ParseRequestURI(r.Target) (httpcore's Request.URL)
// into u, without parsing, for the usual origin-form target: a path of
// bytes it keeps as they are and a query of printable ASCII. Other
// targets take url.ParseRequestURI (and its allocation).
func requestURL(r *streamhttp.Request, u *url.URL) (*url.URL, error) {
	t := r.Target
	if r.Method == httpcore.MethodConnect || t == "" || t[0] != '/' {
		return r.URL()
	}
	q := len(t)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '?' {
			q = i
			break
		}
		if !pathSafe[c] {
			return r.URL()
		}
	}
	for i := q + 1; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f {
			return r.URL()
		}
	}
	*u = url.URL{Path: t[:q]}
	if q < len(t) {
		u.RawQuery = t[q+1:]
		u.ForceQuery = u.RawQuery == ""
	}
	return u, nil
}

// declaredTrailer returns the request's Trailer map with the declared keys
// and nil values, as net/http does; nil when none is declared.
func declaredTrailer(h http.Header) http.Header {
	var t http.Header
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			k = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(k))
			if k == "" {
				continue
			}
			if t == nil {
				t = make(http.Header)
			}
			t[k] = nil
		}
	}
	return t
}

// errBodyClosed is what a Read after Close returns (net/http's text).
var errBodyClosed = errors.New("http: invalid Read on closed Body")

// bodyReader is the request body as an io.ReadCloser: it pulls the entity's
// data as the handler reads, one piece at a time, and keeps nothing but the
// rest of the current piece. The layer hands over pieces the reader owns.
//
// The data source is materialized on the first Read, inside the handler's
// run (see serve), so that it is pulled in the handler's goroutine with no
// goroutine of its own.
type bodyReader struct {
	mu      sync.Mutex
	m       *stream.Materializer // the handler's run, nil once it has ended
	data    stream.Puller[[]byte]
	chunks  stream.Puller[entity.ChunkPart]
	ent     entity.Entity
	cur     []byte
	err     error // sticky: io.EOF, a failure, or errBodyClosed
	trailer http.Header
	n       int64 // bytes read
	pulled  bool  // the data has been asked for (and 100 Continue sent)
	dl      time.Time
}

// started reports whether the handler has asked for the body.
func (b *bodyReader) started() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pulled
}

// setDeadline sets the read deadline: a Read that starts after it fails.
func (b *bodyReader) setDeadline(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dl = t
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.cur) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if !b.dl.IsZero() && !time.Now().Before(b.dl) {
			return 0, os.ErrDeadlineExceeded
		}
		b.cur, b.err = b.pull()
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	b.n += int64(n)
	return n, nil
}

// pull returns the next piece of the body. Called with b.mu held.
func (b *bodyReader) pull() ([]byte, error) {
	b.pulled = true
	if st, ok := b.ent.(*entity.Strict); ok {
		// In memory already: no stream to run.
		b.ent = nil
		if len(st.Data) > 0 {
			return st.Data, nil
		}
	}
	if b.ent == nil {
		return nil, io.EOF
	}
	if b.m == nil {
		return nil, errBodyClosed
	}
	if b.data == nil && b.chunks == nil {
		if c, ok := b.ent.(*entity.Chunked); ok && b.trailer != nil {
			b.chunks, _ = stream.Materialize(b.m, c.Chunks)
		} else {
			b.data, _ = stream.Materialize(b.m, b.ent.DataBytes())
		}
	}
	if b.chunks != nil {
		for {
			part, err := b.chunks.Pull()
			if err != nil {
				return nil, b.end(err)
			}
			if part.Last {
				for _, f := range part.Trailer {
					k := textproto.CanonicalMIMEHeaderKey(f.Name)
					if _, ok := b.trailer[k]; ok {
						b.trailer[k] = append(b.trailer[k], f.Value)
					}
				}
				continue
			}
			if len(part.Data) > 0 {
				return part.Data, nil
			}
		}
	}
	v, err := b.data.Pull()
	if err != nil {
		return nil, b.end(err)
	}
	return v, nil
}

// end records the end of the data stream and turns it into the error Read
// returns. Called with b.mu held.
func (b *bodyReader) end(err error) error {
	b.data, b.chunks = nil, nil
	if err == stream.EOS {
		return io.EOF
	}
	var le *entity.LengthMismatchError
	if errors.As(err, &le) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close stops reading: the rest of the body is cancelled (the connection
// then closes after the response unless the body had ended).
func (b *bodyReader) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked(errBodyClosed)
	return nil
}

func (b *bodyReader) closeLocked(err error) {
	if b.data != nil {
		b.data.Cancel(stream.ErrCancelled)
	}
	if b.chunks != nil {
		b.chunks.Cancel(stream.ErrCancelled)
	}
	b.data, b.chunks, b.cur = nil, nil, nil
	if b.err == nil || b.err == io.EOF {
		b.err = err
	}
}

// drain reads and discards up to limit bytes of what is left and reports
// whether the body ended. Then the body is closed, as net/http does before
// it sends a head without full duplex.
func (b *bodyReader) drain(limit int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ended := b.err == io.EOF
	for !ended && b.err == nil && limit > 0 {
		limit -= int64(len(b.cur))
		b.n += int64(len(b.cur))
		b.cur, b.err = b.pull()
		ended = b.err == io.EOF
	}
	b.closeLocked(errBodyClosed)
	return ended
}

// finish ends the body at the end of the handler's run: nothing may be
// pulled afterwards.
func (b *bodyReader) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked(errBodyClosed)
	b.m = nil
}

// remoteAddr parses a net/http RemoteAddr ("ip:port") into a net.Addr;
// nil when it is not one.
func remoteAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}
