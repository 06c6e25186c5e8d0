package nethttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
)

// Buffer sizes, as net/http's: up to commitSize bytes are held before the
// head is decided, so that a small response gets a Content-Length and a
// sniffed Content-Type; after that, writes are gathered into pieces of
// pieceSize, and larger writes go to the connection as they are.
const (
	commitSize = 2048
	pieceSize  = 4096
	sniffLen   = 512 // what http.DetectContentType looks at
)

var (
	errGone          = errors.New("nethttp: the client has gone (the response cannot be written)")
	errWriteDeadline = fmt.Errorf("nethttp: write deadline exceeded: %w", os.ErrDeadlineExceeded)
	errReturned      = errors.New("nethttp: the ResponseWriter was used after ServeHTTP returned")
	// errAborted aborts a response whose handler panicked with
	// http.ErrAbortHandler after its head was sent.
	errAborted = fmt.Errorf("nethttp: handler aborted the response: %w", http.ErrAbortHandler)
)

// responseWriter is the http.ResponseWriter of one request. The handler's
// goroutine owns it; mu makes the odd concurrent Flush safe. The writer:
//
//	Write -> buf (commitSize) --commit--> head: Response returned to the layer
//	                          \-> pieces (pieceSize) -> pipe -> entity source
//
// The head is committed by the first of: more than commitSize bytes, Flush,
// Hijack, the handler's return. Until then nothing is decided, so a handler
// that ends within the buffer gets a Content-Length (a Strict entity).
//
// Writers are recycled (writerPool), with their header map, commit buffer
// and commit channel, once both handle and the handler's goroutine are done
// with them (refs): net/http's rule that a ResponseWriter, and the map its
// Header returns, are not used after ServeHTTP returns is what makes that
// safe. Nothing a handler may keep (the http.Request, its context) is in
// here.
type responseWriter struct {
	mu  sync.Mutex
	gen uint64 // counts the writer's uses: a handlerWriter of an earlier one is stale
	// refs: handle and the handler's goroutine; the last to release the
	// writer recycles it.
	refs atomic.Int32
	writerState
}

// writerState is what recycling resets (under mu, where a late caller
// finds the writer stale).
type writerState struct {
	a   *adapter
	req *streamhttp.Request
	hr  *http.Request
	st  *request

	header     http.Header // the handler's map; made on the first Header()
	snap       http.Header // the map as it was at WriteHeader
	shared     bool        // header is snap: a later Header() copies it
	spare      http.Header // a cleared map kept from an earlier request
	status     int
	wroteFinal bool // a final (non-1xx) status was set
	declared   int64
	badLength  bool // an invalid Content-Length was dropped: no automatic one
	written    int64
	buf        []byte

	committed bool
	commit    chan result // the head, once; capacity 1
	pipe      *pipe
	chunked   bool
	head      bool // HEAD: writes are counted, never sent
	noBody    bool // 1xx, 204, 304
	trailers  []string
	err       error // sticky write error
	returned  bool  // ServeHTTP has returned

	body       *bodyReader // nil without a body
	fullDuplex bool
	deadline   time.Time // write deadline; zero: none
	hijacked   bool
	unlink     func() bool // detaches the context from the connection's; nil: Hijack is not possible

	// reqCtx is the streamhttp request's context; stop, its Done channel,
	// is asked for only once a body streams (it costs allocations).
	reqCtx context.Context
	stop   <-chan struct{}
}

// writerPool holds writers for reuse (see responseWriter).
var writerPool = sync.Pool{New: func() any {
	w := new(responseWriter)
	w.commit = make(chan result, 1)
	return w
}}

// Limits of what a recycled writer keeps: a header map or a buffer that
// grew larger than this is left to the garbage collector.
const (
	maxSpareKeys = 32
	maxSpareBuf  = commitSize
)

// newWriter returns a writer for r, held twice (see release).
func newWriter(a *adapter, r *streamhttp.Request, reqCtx context.Context, st *request) *responseWriter {
	w := writerPool.Get().(*responseWriter)
	w.a, w.req, w.hr, w.st, w.reqCtx, w.declared = a, r, &st.hr, st, reqCtx, -1
	w.refs.Store(2)
	return w
}

// release drops one hold on w; the last one recycles it.
func (w *responseWriter) release() {
	if w.refs.Add(-1) != 0 {
		return
	}
	select {
	case <-w.commit: // handle left before it took the head
	default:
	}
	spare := w.spare
	if len(spare) > maxSpareKeys {
		spare = nil
	}
	clear(spare)
	var buf []byte
	if w.pipe == nil && cap(w.buf) <= maxSpareBuf {
		// Nobody else has it: a Strict body is a copy (doCommit), and
		// without a pipe no piece was handed over.
		buf = w.buf[:0]
	}
	w.mu.Lock() // a handler that kept its writer past its return finds it stale
	w.gen++
	w.writerState = writerState{commit: w.commit, spare: spare, buf: buf}
	w.mu.Unlock()
	writerPool.Put(w)
}

// handlerWriter is the ResponseWriter a handler gets: the writer it was
// lent for one request (gen). It lives in the request's allocation, which
// is recycled only under the handler's promise (Options.ReuseRequests);
// once the writer has been recycled, its methods find
// it stale and fail with errReturned (or do nothing), so a handler that
// keeps it past ServeHTTP's return never touches another request's
// response.
type handlerWriter struct {
	w   *responseWriter
	gen uint64
}

// lock locks the writer and reports whether it is still this request's;
// when it is not, it is left unlocked.
func (x *handlerWriter) lock() (*responseWriter, bool) {
	w := x.w
	w.mu.Lock()
	if w.gen != x.gen {
		w.mu.Unlock()
		return nil, false
	}
	return w, true
}

// Header returns the header map. After WriteHeader it is a copy: changes
// no longer reach the head, except trailers (net/http's rule). After
// ServeHTTP has returned, it is a map of its own that nothing reads.
func (x *handlerWriter) Header() http.Header {
	w, ok := x.lock()
	if !ok {
		return make(http.Header)
	}
	defer w.mu.Unlock()
	switch {
	case w.shared:
		// The head keeps the map it was given at WriteHeader.
		w.header, w.shared = w.snap.Clone(), false
		if w.header == nil {
			w.header = make(http.Header)
		}
	case w.header == nil:
		if w.spare == nil {
			w.spare = make(http.Header)
		}
		w.header = w.spare
	}
	return w.header
}

// WriteHeader sends an interim response (1xx but 101) at once, or records
// the final status; a second final status is ignored, as in net/http.
func (x *handlerWriter) WriteHeader(code int) {
	w, ok := x.lock()
	if !ok {
		return
	}
	defer w.mu.Unlock()
	w.writeHeader(code)
}

func (w *responseWriter) writeHeader(code int) {
	if w.returned || w.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteFinal {
		w.a.logf("http: superfluous response.WriteHeader call (status %d)", code)
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.interim(code)
		return
	}
	w.wroteFinal, w.status = true, code
	// Snapshot the map: the head uses it as it is now.
	w.snap, w.shared = w.header, w.header != nil
	if cl := get(w.snap, "Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(textproto.TrimString(cl), 10, 64); err == nil && v >= 0 {
			w.declared = v
		} else {
			w.a.logf("http: invalid Content-Length of %q", cl)
			w.badLength = true
			w.snap, w.shared = w.snap.Clone(), false
			w.snap.Del("Content-Length")
		}
	} else {
		w.declared = -1
	}
	w.noBody = !bodyAllowed(code)
}

// get is h.Get for a key in canonical form already: no conversion.
func get(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func bodyAllowed(code int) bool {
	return !(code >= 100 && code < 200 || code == 204 || code == 304)
}

// interim writes a 1xx head now, with the current header fields minus the
// framing ones; the map is kept (RFC 8297: the final head repeats Link).
func (w *responseWriter) interim(code int) {
	if w.hr.ProtoMajor == 1 && w.hr.ProtoMinor == 0 {
		return // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client
	}
	if w.committed {
		return
	}
	if err := streamhttp.WriteInterim(w.req, httpcore.Status(code), toFields(w.header, true)); err != nil {
		w.a.logf("nethttp: %d not sent: %v", code, err)
	}
}

// toFields turns a header map into fields, keys sorted (net/http sorts
// too: wire order is lost in a map). Framing fields, which the entity
// decides, and trailer keys are left out.
func toFields(h http.Header, interim bool) httpcore.Headers {
	var buf [16]keyValues
	kv, hs := scanHeader(h, interim, buf[:0])
	return fields(kv, hs.values)
}

// headScan is what one pass over a response's header map finds besides
// the fields the head carries: the values that decide its framing, so
// that committing a head looks each key up once.
type headScan struct {
	values   int      // the values of the fields the head carries
	ctype    string   // Content-Type's first value
	haveType bool     // Content-Type is in the map (even with no value)
	te, ce   string   // Transfer-Encoding's and Content-Encoding's first values
	trailer  []string // the Trailer field's values
}

// scanHeader scans h, appending the fields the head carries to kv (the
// caller's array holds most heads; unsorted). Content-Length,
// Transfer-Encoding, the TrailerPrefix keys and, but for an interim head,
// Content-Type are left out of them.
func scanHeader(h http.Header, interim bool, kv []keyValues) ([]keyValues, headScan) {
	if len(h) > cap(kv) {
		kv = make([]keyValues, 0, len(h))
	}
	var hs headScan
	for k, vv := range h {
		switch k {
		case "Content-Length":
			continue
		case "Transfer-Encoding":
			if len(vv) > 0 {
				hs.te = vv[0]
			}
			continue
		case "Content-Type":
			hs.haveType = true
			if len(vv) > 0 {
				hs.ctype = vv[0]
			}
			if !interim {
				continue
			}
		case "Content-Encoding":
			if len(vv) > 0 {
				hs.ce = vv[0]
			}
		case "Trailer":
			hs.trailer = vv
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		kv = append(kv, keyValues{k, vv})
		hs.values += len(vv)
	}
	return kv, hs
}

// fields returns the n values of kv as fields, keys sorted; nil for none.
func fields(kv []keyValues, n int) httpcore.Headers {
	if n == 0 {
		return nil
	}
	if len(kv) > 1 {
		slices.SortFunc(kv, func(a, b keyValues) int { return strings.Compare(a.key, b.key) })
	}
	out := make(httpcore.Headers, 0, n)
	for _, f := range kv {
		for _, v := range f.values {
			out = append(out, httpcore.Header{Name: f.key, Value: v})
		}
	}
	return out
}

// keyValues is one key of a header map with its values.
type keyValues struct {
	key    string
	values []string
}

func (x *handlerWriter) Write(p []byte) (int, error) {
	w, ok := x.lock()
	if !ok {
		return 0, errReturned
	}
	defer w.mu.Unlock()
	return w.write(p)
}

// WriteString is Write without a conversion.
func (x *handlerWriter) WriteString(s string) (int, error) {
	w, ok := x.lock()
	if !ok {
		return 0, errReturned
	}
	defer w.mu.Unlock()
	// No copy: the writer only reads p, and only until it returns.
	return w.write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func (w *responseWriter) write(p []byte) (int, error) {
	switch {
	case w.returned:
		return 0, errReturned
	case w.hijacked:
		return 0, http.ErrHijacked
	}
	if !w.wroteFinal {
		w.writeHeader(http.StatusOK)
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	// Counted even when it fails, as net/http does: a handler that wrote
	// past the declared length has not sent it, and the response is cut.
	w.written += int64(len(p))
	if w.declared >= 0 && w.written > w.declared {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if len(w.buf)+len(p) <= commitSize {
			if w.buf == nil {
				w.buf = make([]byte, 0, commitSize)
			}
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.doCommit(false, p)
	}
	if w.head || w.pipe == nil {
		return len(p), nil // HEAD: counted, not sent
	}
	if len(w.buf)+len(p) <= pieceSize {
		if w.buf == nil {
			w.buf = make([]byte, 0, pieceSize)
		}
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.sendBuf(); err != nil {
		return 0, err
	}
	if len(p) >= pieceSize {
		// Large writes go as they are: the layer is done with p when
		// send returns (its next pull), so p stays the caller's.
		if err := w.send(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// ReadFrom copies from src through the writer's own buffer.
func (x *handlerWriter) ReadFrom(src io.Reader) (int64, error) {
	var b [pieceSize]byte
	return io.CopyBuffer(writerOnly{x}, src, b[:])
}

type writerOnly struct{ io.Writer }

// sendBuf hands the buffered bytes to the connection.
func (w *responseWriter) sendBuf() error {
	if len(w.buf) == 0 || w.pipe == nil {
		return nil
	}
	err := w.send(w.buf)
	w.buf = w.buf[:0]
	if cap(w.buf) < pieceSize {
		w.buf = nil
	}
	return err
}

func (w *responseWriter) send(p []byte) error {
	var dl <-chan struct{}
	if !w.deadline.IsZero() {
		d := time.Until(w.deadline)
		if d <= 0 {
			w.fail(errWriteDeadline)
			return w.err
		}
		ch := make(chan struct{})
		t := time.AfterFunc(d, func() { close(ch) })
		defer t.Stop()
		dl = ch
	}
	if err := w.pipe.send(piece{data: p}, w.stop, dl); err != nil {
		w.fail(err)
		return w.err
	}
	return nil
}

// fail makes err the writer's sticky error; a deadline aborts the
// response, since part of it may be on its way.
func (w *responseWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	if err == errWriteDeadline {
		w.pipe.abort(err)
	}
}

// doCommit decides the head and hands the response to the layer. ended
// says the handler has returned: the whole body is in buf.
func (w *responseWriter) doCommit(ended bool, next []byte) {
	if !w.wroteFinal {
		w.writeHeader(http.StatusOK)
	}
	w.committed = true
	h := w.snap
	if w.status == http.StatusSwitchingProtocols {
		// A 101 switches protocols only through Hijack: sent as a plain
		// head, the client would leave HTTP while the server stays.
		w.a.logf("nethttp: WriteHeader(101) without Hijack: answered 500")
		w.status, w.noBody, h = http.StatusInternalServerError, false, http.Header{"Connection": {"close"}}
	}
	if w.body != nil && !w.fullDuplex && !ended {
		// As net/http: the rest of the body is read before the head goes
		// out, so that a client writing its whole body before it reads
		// does not deadlock; a larger rest closes the connection. A client
		// still waiting for 100 Continue never sends it.
		if w.req.ExpectsContinue() && !w.body.started() {
			w.body.Close()
		} else {
			w.body.drain(w.a.maxDrain)
		}
	}
	var buf [16]keyValues
	kv, hs := scanHeader(h, false, buf[:0])
	w.trailers = trailerKeys(hs.trailer)
	te, ctype := hs.te, hs.ctype
	if !hs.haveType && hs.ce == "" && te == "" && !w.noBody && len(w.buf)+len(next) > 0 {
		// What net/http sniffs: the buffer, or the write that spilled it.
		sniff := w.buf
		if len(sniff) < sniffLen && len(next) > 0 {
			sniff = append(sniff[:len(sniff):len(sniff)], next[:min(len(next), sniffLen-len(sniff))]...)
		}
		ctype = http.DetectContentType(sniff)
	}
	if w.status == http.StatusNotModified {
		ctype = ""
	}
	var resp *streamhttp.Response
	w.head = w.hr.Method == http.MethodHead
	switch {
	case w.noBody:
		resp = w.st.answer(w.status, ctype, nil)
	case ended && len(w.trailers) == 0 && te == "" && !w.badLength && (w.declared < 0 || w.declared == w.written):
		resp = w.st.answer(w.status, ctype, w.buf)
	default:
		resp = &w.st.resp
		resp.Status = httpcore.Status(w.status)
		w.pipe = newPipe()
		w.stop = w.reqCtx.Done()
		switch {
		case w.declared >= 0 && len(w.trailers) == 0:
			resp.Entity = &entity.Default{Type: ctype, Length: w.declared, Data: w.pipe.dataBytes()}
		case strings.EqualFold(te, "identity") && len(w.trailers) == 0:
			resp.Entity = &entity.CloseDelimited{Type: ctype, Data: w.pipe.dataBytes()}
		default:
			w.chunked = true
			resp.Entity = &entity.Chunked{Type: ctype, Chunks: w.pipe.chunks()}
		}
	}
	resp.Header = fields(kv, hs.values)
	if w.st.recycled() {
		resp.OnWritten = w.st.written
		if !ended {
			// The response may be out before ServeHTTP returns (HEAD, no
			// body): the server must not reuse the request the handler
			// still reads.
			w.req.Keep()
		}
	}
	resp.ForRequest(w.req)
	w.commit <- result{resp: resp}
	if w.pipe != nil && !w.head {
		w.sendBuf()
	}
}

// trailerKeys returns the trailer keys a head declares in its Trailer
// field (its values), net/http's filter applied.
func trailerKeys(trailer []string) []string {
	var keys []string
	for _, v := range trailer {
		for k := range strings.SplitSeq(v, ",") {
			k = http.CanonicalHeaderKey(textproto.TrimString(k))
			switch k {
			case "", "Transfer-Encoding", "Trailer", "Content-Length":
				continue
			}
			keys = append(keys, k)
		}
	}
	return keys
}

// Flush commits the head and hands over what is buffered; the connection
// writes it as soon as it would otherwise wait.
func (x *handlerWriter) Flush() { x.FlushError() }

// FlushError is Flush with the write error (http.ResponseController).
func (x *handlerWriter) FlushError() error {
	w, ok := x.lock()
	if !ok {
		return errReturned
	}
	defer w.mu.Unlock()
	switch {
	case w.returned:
		return errReturned
	case w.hijacked:
		return http.ErrHijacked
	case w.err != nil:
		return w.err
	}
	if !w.committed {
		w.doCommit(false, nil)
	}
	if w.head {
		return nil
	}
	if err := w.sendBuf(); err != nil {
		return err
	}
	return w.err
}

// finish ends the response when ServeHTTP returns: the head if it is not
// out yet, the rest of the body and the trailers.
func (w *responseWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.returned || w.hijacked {
		w.returned = true
		return
	}
	if !w.committed {
		w.doCommit(true, nil)
	}
	w.returned = true
	if w.pipe == nil || w.err != nil {
		return
	}
	if w.head {
		return // the layer sent the head only and never pulls the body
	}
	if err := w.sendBuf(); err != nil {
		return
	}
	var tr []entity.Header
	if w.chunked {
		tr = w.trailerFields()
	}
	if w.declared >= 0 && w.written != w.declared && !w.head {
		// Short of the declared length: the layer fails the response and
		// closes, as net/http does.
		w.pipe.send(piece{end: true, err: &entity.LengthMismatchError{Declared: w.declared, Actual: w.written}}, w.stop, nil)
		return
	}
	w.pipe.send(piece{end: true, trailer: tr}, w.stop, nil)
}

// trailerFields collects the trailer values from the handler's live map:
// the declared keys and the TrailerPrefix ones.
func (w *responseWriter) trailerFields() []entity.Header {
	var tr []entity.Header
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			tr = append(tr, entity.Header{Name: k, Value: v})
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vv {
				tr = append(tr, entity.Header{Name: name, Value: v})
			}
		}
	}
	return tr
}

// abortResponse ends a committed response with err: the layer fails it
// and closes the connection, so that the client sees a truncated body.
func (w *responseWriter) abortResponse(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.returned = true
	if w.pipe != nil && w.err == nil {
		w.pipe.abort(err)
	}
}

// SetWriteDeadline bounds the writes that follow; a write blocked past it
// fails with an error matching os.ErrDeadlineExceeded and aborts the
// response. A passed deadline is not extended by a later one.
func (x *handlerWriter) SetWriteDeadline(t time.Time) error {
	w, ok := x.lock()
	if !ok {
		return errReturned
	}
	defer w.mu.Unlock()
	if w.err == errWriteDeadline {
		return nil
	}
	w.deadline = t
	return nil
}

// SetReadDeadline bounds the request body reads that follow (see the
// package doc: a read already waiting is not interrupted).
func (x *handlerWriter) SetReadDeadline(t time.Time) error {
	w, ok := x.lock()
	if !ok {
		return errReturned
	}
	body := w.body
	w.mu.Unlock()
	if body != nil {
		body.setDeadline(t)
	}
	return nil
}

// EnableFullDuplex lets the handler read the request body while it writes
// the response.
func (x *handlerWriter) EnableFullDuplex() error {
	w, ok := x.lock()
	if !ok {
		return errReturned
	}
	defer w.mu.Unlock()
	w.fullDuplex = true
	return nil
}

// CloseNotify is the deprecated http.CloseNotifier: the channel gets a
// value when the request's context ends.
func (x *handlerWriter) CloseNotify() <-chan bool {
	ch := make(chan bool, 1)
	w, ok := x.lock()
	if !ok {
		ch <- true
		return ch
	}
	// Done is asked for here, not in the goroutine: a request whose
	// context was waited on is not reused (Options.ReuseRequests), and
	// the goroutine may run after ServeHTTP has returned.
	done := w.hr.Context().Done()
	w.mu.Unlock()
	go func() {
		<-done
		ch <- true
	}()
	return ch
}

var (
	_ http.ResponseWriter = (*handlerWriter)(nil)
	_ http.Flusher        = (*handlerWriter)(nil)
	_ io.StringWriter     = (*handlerWriter)(nil)
	_ io.ReaderFrom       = (*handlerWriter)(nil)
)
