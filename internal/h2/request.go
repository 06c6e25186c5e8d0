package h2

import (
	"strings"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"golang.org/x/net/http2"
)

// connectionSpecific are the fields RFC 9113 §8.2.2 forbids in HTTP/2.
var connectionSpecific = map[string]bool{
	"connection":        true,
	"keep-alive":        true,
	"proxy-connection":  true,
	"transfer-encoding": true,
	"upgrade":           true,
}

// buildRequest turns a stream's header block into a request (RFC 9113
// §8.3.1). ok is false for a malformed request (a stream error
// PROTOCOL_ERROR); status is non-zero when a limit answers it instead of
// the handler (431, 414, 413).
func (c *Conn) buildRequest(s *strm, f *http2.MetaHeadersFrame) (req *httpcore.Request, status httpcore.Status, ok bool) {
	req = &httpcore.Request{Proto: httpcore.HTTP2, ContentLength: -1}
	if f.Truncated {
		return req, httpcore.StatusRequestHeaderFieldsTooLarge, true
	}
	var method, scheme, path, authority string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":path":
			path = hf.Value
		case ":authority":
			authority = hf.Value
		default: // :protocol (extended CONNECT is not offered), :status
			return nil, 0, false
		}
	}
	if method == "" || !isToken(method) {
		return nil, 0, false
	}
	if method == "CONNECT" {
		if scheme != "" || path != "" || authority == "" {
			return nil, 0, false
		}
	} else if scheme == "" || path == "" || path[0] != '/' && !(path == "*" && method == "OPTIONS") {
		return nil, 0, false
	}
	p := &c.cfg.Parser
	regular := f.RegularFields()
	if len(regular) > p.MaxHeaderCount {
		return req, httpcore.StatusRequestHeaderFieldsTooLarge, true
	}
	var cookies []string
	hdr := make(httpcore.Headers, 0, len(regular))
	host := ""
	for _, hf := range regular {
		name := hf.Name
		switch {
		case connectionSpecific[name]:
			return nil, 0, false
		case name == "te" && hf.Value != "trailers":
			return nil, 0, false
		case len(name) > p.MaxHeaderNameLength || len(hf.Value) > p.MaxHeaderValueLength:
			return req, httpcore.StatusRequestHeaderFieldsTooLarge, true
		case name == "cookie":
			// RFC 9113 §8.2.3: crumbs are joined into one field.
			cookies = append(cookies, hf.Value)
			continue
		case name == "content-length":
			n, valid := parseLength(hf.Value)
			if !valid || s.declLen >= 0 && s.declLen != n {
				return nil, 0, false
			}
			s.declLen = n
		case name == "content-type":
			req.ContentType = hf.Value
		case name == "expect":
			req.Expect = hf.Value
		case name == "host":
			host = hf.Value
		}
		hdr = append(hdr, httpcore.Header{Name: name, Value: hf.Value})
	}
	if len(cookies) > 0 {
		hdr = append(hdr, httpcore.Header{Name: "cookie", Value: strings.Join(cookies, "; ")})
	}
	if authority == "" {
		authority = host
	}
	req.Method = httpcore.Method(method)
	if req.Method == httpcore.MethodHead {
		s.head = true
		if c.cfg.TransparentHEAD {
			req.Method = httpcore.MethodGet
		}
	}
	req.Header = hdr
	req.Host = authority
	req.Target = path
	if method == "CONNECT" {
		req.Target = authority
		req.URI.Authority = authority
	} else {
		req.URI.Path, req.URI.RawQuery, _ = strings.Cut(path, "?")
	}
	req.RemoteAddr, req.LocalAddr, req.TLS = c.cfg.RemoteAddr, c.cfg.LocalAddr, c.cfg.TLS
	req.ContentLength = s.declLen
	if len(req.Target) > p.MaxURILength {
		return req, httpcore.StatusURITooLong, true
	}
	if s.declLen > p.MaxContentLength {
		return req, httpcore.StatusContentTooLarge, true
	}
	switch {
	case s.remoteClosed:
		if s.declLen > 0 {
			return nil, 0, false // RFC 9113 §8.1.1: a length the DATA cannot match
		}
		if req.ContentType == "" {
			req.Entity = entity.Empty
		} else {
			req.Entity = entity.NewStrict(req.ContentType, nil)
		}
	case s.declLen >= 0:
		req.Entity = entity.NewDefault(req.ContentType, s.declLen, entity.Once(c.bodySource(s)))
	default:
		req.Entity = entity.NewChunked(req.ContentType, entity.Once(c.chunkSource(s)))
	}
	s.expect100 = req.ExpectsContinue() && !s.remoteClosed
	req.AttachContext(c.cfg.Context)
	return req, 0, true
}

// parseLength parses a content-length value: digits only, no overflow.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// isToken reports whether v is an RFC 9110 token (a method name).
func isToken(v string) bool {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", b) >= 0 {
			return false
		}
	}
	return true
}
