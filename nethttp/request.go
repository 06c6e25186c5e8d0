package nethttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"time"

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

// newHTTPRequest builds the net/http form of r. Strings alias r's, which the
// handler owns (the server recycles nothing a handler can see). The body is
// not set here.
func newHTTPRequest(ctx context.Context, r *streamhttp.Request) (*http.Request, error) {
	u, err := r.URL()
	if err != nil {
		return nil, err
	}
	hr := &http.Request{
		Method:     string(r.Method),
		URL:        u,
		RequestURI: r.Target,
		Host:       r.Host,
		Close:      r.Close,
		TLS:        r.TLS,
		Body:       http.NoBody,
	}
	if p := int(r.Proto); p < len(protoNames) {
		hr.Proto, hr.ProtoMajor, hr.ProtoMinor = protoNames[p].s, protoNames[p].major, protoNames[p].minor
	}
	if r.RemoteAddr != nil {
		hr.RemoteAddr = r.RemoteAddr.String()
	}
	hr.Header = make(http.Header, len(r.Header))
	// One backing array for the values: a key's first value is a slice of
	// it with no room to grow, so that a second value (or the handler's
	// Add) reallocates rather than overwrites the next key's.
	vals := make([]string, len(r.Header))
	for i, f := range r.Header {
		k := textproto.CanonicalMIMEHeaderKey(f.Name)
		if k == "Host" {
			continue // net/http moves it to Request.Host
		}
		if vv, ok := hr.Header[k]; ok {
			hr.Header[k] = append(vv, f.Value)
			continue
		}
		vals[i] = f.Value
		hr.Header[k] = vals[i : i+1 : i+1]
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
	return hr.WithContext(ctx), nil
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
