package nethttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// ToHTTP returns a streamhttp handler function as an http.Handler, to mount
// in an http.ServeMux, a chi router or any net/http server. The request
// body streams into the handler's entity as it reads (nothing is buffered
// whole), the response entity streams out through the ResponseWriter
// (whose Write blocks on a slow client), and the request's context is
// r.Context(): it ends when net/http's does (the client leaves, the
// handler returns). An error from f is answered 500.
func ToHTTP(f func(context.Context, *streamhttp.Request) (*streamhttp.Response, error)) http.Handler {
	return FlowToHTTP(stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[*streamhttp.Request]) stream.Puller[*streamhttp.Response] {
		return &callStage{up: up, f: f}
	}))
}

// FlowToHTTP returns a handler flow as an http.Handler. There is no
// connection to materialize it for: it is materialized once per request,
// so state a flow keeps per connection lasts one request here.
func FlowToHTTP(flow stream.Flow[*streamhttp.Request, *streamhttp.Response]) http.Handler {
	return &flowHandler{flow: flow}
}

type flowHandler struct {
	flow stream.Flow[*streamhttp.Request, *streamhttp.Response]
}

// callStage calls a handler function for the one request of a run.
type callStage struct {
	up stream.Puller[*streamhttp.Request]
	f  func(context.Context, *streamhttp.Request) (*streamhttp.Response, error)
}

func (s *callStage) Pull() (*streamhttp.Response, error) {
	r, err := s.up.Pull()
	if err != nil {
		return nil, err
	}
	return s.f(r.Context(), r)
}

func (s *callStage) Cancel(cause error) { s.up.Cancel(cause) }

func (h *flowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := fromHTTP(r)
	defer req.CancelContext()
	if req.Entity != nil {
		// The handler may read the body while it writes the response (an
		// echo): net/http would otherwise discard it at the first write.
		http.NewResponseController(w).EnableFullDuplex()
	}
	src := stream.Via(stream.Single(req), h.flow)
	_, err := stream.RunWith(req.Context(), src, stream.NewSink(func(m *stream.Materializer, up stream.Puller[*streamhttp.Response]) (stream.NotUsed, error) {
		resp, err := up.Pull()
		if err != nil {
			if err == stream.EOS {
				err = errNoAnswer
			}
			return stream.NotUsed{}, err
		}
		defer up.Cancel(stream.ErrCancelled)
		if resp == nil {
			return stream.NotUsed{}, errNoAnswer
		}
		return stream.NotUsed{}, writeResponse(m, w, r, resp)
	}))
	if errors.Is(err, errBodyFailed) {
		// The head is out: abort the body (net/http closes the
		// connection, the client sees it cut short).
		panic(http.ErrAbortHandler)
	}
	if err != nil && !errors.Is(err, errResponseStarted) {
		if c := r.Context(); c.Err() != nil {
			return // the client has gone
		}
		var sle *entity.SizeLimitError
		if errors.As(err, &sle) {
			http.Error(w, "Content Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}
}

var (
	errNoAnswer        = errors.New("nethttp: the handler flow gave no response")
	errResponseStarted = errors.New("nethttp: the client has gone while the response was written")
	errBodyFailed      = errors.New("nethttp: the response body failed after its head was sent")
)

// fromHTTP builds the streamhttp form of r. Its entity streams r.Body.
func fromHTTP(r *http.Request) *streamhttp.Request {
	req := &streamhttp.Request{
		Method:        httpcore.Method(r.Method),
		Target:        r.RequestURI,
		Host:          r.Host,
		ContentType:   r.Header.Get("Content-Type"),
		Expect:        r.Header.Get("Expect"),
		ContentLength: r.ContentLength,
		Close:         r.Close,
		TLS:           r.TLS,
		Seq:           1,
	}
	if req.Target == "" {
		req.Target = r.URL.RequestURI()
	}
	req.URI = httpcore.URI{Scheme: r.URL.Scheme, Authority: r.URL.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	switch {
	case r.ProtoMajor == 2:
		req.Proto = httpcore.HTTP2
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		req.Proto = httpcore.HTTP10
	}
	keys := make([]string, 0, len(r.Header)+1)
	n := 1
	for k, vv := range r.Header {
		keys = append(keys, k)
		n += len(vv)
	}
	slices.Sort(keys)
	req.Header = make(httpcore.Headers, 0, n)
	if r.Host != "" {
		req.Header = append(req.Header, httpcore.Header{Name: "Host", Value: r.Host})
	}
	for _, k := range keys {
		for _, v := range r.Header[k] {
			req.Header = append(req.Header, httpcore.Header{Name: k, Value: v})
			if k == "Connection" && hasToken(v, "upgrade") {
				req.Upgrade = true
			}
		}
	}
	if len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked" {
		req.Chunked = true
	}
	req.RemoteAddr = remoteAddr(r.RemoteAddr)
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		req.LocalAddr = a
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		data := entity.Once(bodySource(r.Body))
		if r.ContentLength > 0 {
			req.Entity = entity.NewDefault(req.ContentType, r.ContentLength, data)
		} else {
			req.Entity = entity.ChunkedFromData(req.ContentType, data)
		}
	}
	req.AttachContext(r.Context())
	return req
}

// bodySource is net/http's request body as a stream. Before each read,
// which may wait for the client, it lets the run flush what the response
// has written: FromReader's reads would not, and an echo would stall.
func bodySource(body io.Reader) stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		return &bodyPuller{m: m, r: body}
	})
}

type bodyPuller struct {
	m    *stream.Materializer
	r    io.Reader
	buf  []byte
	done error
}

func (p *bodyPuller) Pull() ([]byte, error) {
	if p.done != nil {
		return nil, p.done
	}
	if p.buf == nil {
		p.buf = make([]byte, stream.DefaultChunkSize)
	}
	for {
		p.m.WillBlock()
		n, err := p.r.Read(p.buf)
		if err != nil {
			p.done = stream.EOS
			if err != io.EOF {
				p.done = err
			}
		}
		if n > 0 {
			// A copy the handler owns (the buffer is reused).
			return append([]byte(nil), p.buf[:n]...), nil
		}
		if p.done != nil {
			return nil, p.done
		}
	}
}

func (p *bodyPuller) Cancel(cause error) {
	if p.done == nil {
		p.done = cause
	}
}

func hasToken(v, token string) bool {
	for t := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// writeResponse writes resp through w, streaming its entity in m's run:
// each piece is written as it comes, and w is flushed when the entity's
// source is about to wait, so nothing sits in net/http's buffer meanwhile.
func writeResponse(m *stream.Materializer, w http.ResponseWriter, r *http.Request, resp *streamhttp.Response) error {
	h := w.Header()
	for _, f := range resp.Header {
		switch http.CanonicalHeaderKey(f.Name) {
		case "Content-Length", "Content-Type", "Transfer-Encoding":
			continue
		}
		h.Add(f.Name, f.Value)
	}
	e := resp.Entity
	if e == nil {
		e = entity.Empty
	}
	if ct := e.ContentType(); ct != "" {
		h.Set("Content-Type", ct)
	} else {
		h["Content-Type"] = nil // no sniffing: the entity says there is no type
	}
	status := int(resp.Status)
	if !resp.Status.Valid() {
		status = http.StatusInternalServerError
	}
	switch e := e.(type) {
	case *entity.Strict:
		if bodyAllowed(status) {
			h.Set("Content-Length", strconv.Itoa(len(e.Data)))
		}
		w.WriteHeader(status)
		if len(e.Data) > 0 && bodyAllowed(status) && r.Method != http.MethodHead {
			if _, err := w.Write(e.Data); err != nil {
				return errResponseStarted
			}
		}
		return nil
	case *entity.Default:
		if bodyAllowed(status) {
			h.Set("Content-Length", strconv.FormatInt(e.Length, 10))
		}
	case *entity.CloseDelimited:
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(status)
	if !bodyAllowed(status) || r.Method == http.MethodHead {
		return nil
	}
	rc := http.NewResponseController(w)
	m.OnBlock(func() { rc.Flush() })
	if c, ok := e.(*entity.Chunked); ok {
		// The head goes now, chunked: trailers may come at the end, and
		// net/http would drop them under the Content-Length it gives a
		// short body.
		rc.Flush()
		chunks, _ := stream.Materialize(m, c.Chunks)
		for {
			p, err := chunks.Pull()
			if err == stream.EOS {
				return nil
			}
			if err != nil {
				return errBodyFailed
			}
			for _, t := range p.Trailer {
				h.Add(http.TrailerPrefix+t.Name, t.Value)
			}
			if len(p.Data) > 0 {
				if _, err := w.Write(p.Data); err != nil {
					chunks.Cancel(err)
					return errResponseStarted
				}
			}
		}
	}
	data, _ := stream.Materialize(m, e.DataBytes())
	for {
		p, err := data.Pull()
		if err == stream.EOS {
			return nil
		}
		if err != nil {
			return errBodyFailed
		}
		if _, err := w.Write(p); err != nil {
			data.Cancel(err)
			return errResponseStarted
		}
	}
}
