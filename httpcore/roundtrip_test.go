package httpcore

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/streamhttp/streamhttp/entity"
)

func TestAppendRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		req  *Request
		want string
	}{{
		name: "GET with a Host",
		req:  &Request{Method: MethodGet, Target: "/a?b=c", Host: "example.com"},
		want: "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n",
	}, {
		name: "the zero request: GET / with an empty Host (RFC 9112 §3.2)",
		req:  &Request{},
		want: "GET / HTTP/1.1\r\nHost: \r\n\r\n",
	}, {
		name: "HTTP/1.0 needs no Host",
		req:  &Request{Proto: HTTP10, Target: "/"},
		want: "GET / HTTP/1.0\r\n\r\n",
	}, {
		name: "Host from an absolute-form target",
		req:  &Request{Target: "http://a.example:8080/x", URI: URI{Scheme: "http", Authority: "a.example:8080", Path: "/x"}},
		want: "GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example:8080\r\n\r\n",
	}, {
		name: "IP-literal in an absolute-form target (RFC 3986 §3.2.2)",
		req:  &Request{Target: "http://[::1]:8080/x?y", URI: URI{Authority: "[::1]:8080"}},
		want: "GET http://[::1]:8080/x?y HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	}, {
		name: "IP-literal in the authority-form",
		req:  &Request{Method: MethodConnect, Target: "[::1]:443", Host: "[::1]:443"},
		want: "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
	}, {
		name: "a Host field stays where it is",
		req:  &Request{Host: "ignored", Header: Headers{{Name: "Accept", Value: "*/*"}, {Name: "host", Value: "h.example"}}},
		want: "GET / HTTP/1.1\r\nAccept: */*\r\nhost: h.example\r\n\r\n",
	}, {
		name: "asterisk-form",
		req:  &Request{Method: MethodOptions, Target: "*", Host: "h"},
		want: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	}, {
		name: "custom method",
		req:  &Request{Method: "PURGE", Target: "/cache", Host: "h"},
		want: "PURGE /cache HTTP/1.1\r\nHost: h\r\n\r\n",
	}, {
		name: "empty POST says Content-Length: 0 (RFC 9110 §8.6)",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h"},
		want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	}, {
		name: "empty DELETE says nothing",
		req:  &Request{Method: MethodDelete, Target: "/x", Host: "h", Entity: entity.Empty},
		want: "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n",
	}, {
		name: "strict body with the entity's type",
		req:  &Request{Method: MethodPut, Target: "/f", Host: "h", Entity: &entity.Strict{Type: "text/plain", Data: []byte("abc")}},
		want: "PUT /f HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
	}, {
		name: "a Content-Type field wins; framing fields come from the body",
		req: &Request{Method: MethodPost, Target: "/", Host: "h", Entity: &entity.Strict{Type: "text/plain", Data: []byte("abc")},
			Header: Headers{{Name: "Content-Length", Value: "10"}, {Name: "content-type", Value: "text/csv"}, {Name: "Transfer-Encoding", Value: "chunked"}}},
		want: "POST / HTTP/1.1\r\nHost: h\r\ncontent-type: text/csv\r\nContent-Length: 3\r\n\r\nabc",
	}, {
		name: "strict body chunk-encoded (RFC 9112 §7.1)",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", Chunked: true, Entity: &entity.Strict{Data: []byte("hello")}},
		want: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	}, {
		name: "empty strict body chunk-encoded",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", Chunked: true, Entity: entity.Empty},
		want: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	}, {
		name: "Chunked on HTTP/1.0 falls back to Content-Length",
		req:  &Request{Method: MethodPost, Target: "/", Proto: HTTP10, Chunked: true, Entity: &entity.Strict{Data: []byte("hello")}},
		want: "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
	}, {
		name: "Default entity: the head only",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", Entity: &entity.Default{Type: "a/b", Length: 9}},
		want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nContent-Length: 9\r\n\r\n",
	}, {
		name: "Chunked entity: the head only",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", Entity: &entity.Chunked{}},
		want: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
	}, {
		name: "no entity: the typed fields decide (chunked)",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", Chunked: true, ContentLength: -1},
		want: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
	}, {
		name: "no entity: the typed fields decide (length)",
		req:  &Request{Method: MethodPost, Target: "/", Host: "h", ContentLength: 7},
		want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendRequest([]byte("prev|"), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff("prev|"+c.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestAppendRequestInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		req  *Request
	}{
		{"method with a space", &Request{Method: "GE T"}},
		{"method with CR LF", &Request{Method: "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"}},
		{"target with a space", &Request{Target: "/a b"}},
		{"target with CR LF", &Request{Target: "/\r\nX: y"}},
		{"target with a fragment", &Request{Target: "/a#b"}},
		{"target with a raw non-ASCII byte", &Request{Target: "/caf\xc3\xa9"}},
		{"target with a control", &Request{Target: "/\x00"}},
		{"target with a bracket in the path", &Request{Target: "/[a]"}},
		{"target with a bracket in the query", &Request{Target: "http://[::1]/?[a]"}},
		{"field name with a colon", &Request{Header: Headers{{Name: "X:Y", Value: "v"}}}},
		{"empty field name", &Request{Header: Headers{{Name: "", Value: "v"}}}},
		{"field value with LF (request smuggling)", &Request{Header: Headers{{Name: "X", Value: "v\nContent-Length: 5"}}}},
		{"field value with CR", &Request{Header: Headers{{Name: "X", Value: "v\r"}}}},
		{"Host with CR LF", &Request{Host: "h\r\nX: y"}},
		{"content type with LF", &Request{Entity: &entity.Strict{Type: "a\nb"}}},
		{"chunked on HTTP/1.0 (RFC 9112 §6.1)", &Request{Proto: HTTP10, Entity: &entity.Chunked{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := AppendRequest([]byte("prev|"), c.req)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
			if string(got) != "prev|" {
				t.Errorf("AppendRequest changed the buffer on failure: %q", got)
			}
		})
	}
}

// TestAppendRequestReplay: a parsed request renders back to the bytes it
// was parsed from, when those used the canonical spacing.
func TestAppendRequestReplay(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{string(browserGET), string(browserGET)},
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		// Content-Length moves after the fields; OWS is normalized.
		{"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Type:text/plain \r\n\r\nabc",
			"POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"},
	} {
		ev, _ := NewParser(ParserSettings{}).Next([]byte(c.in))
		if ev.Kind != RequestHead || ev.Body != BodyNone {
			t.Fatalf("parse %q: %v %v", c.in, ev.Kind, ev.Err)
		}
		got, err := AppendRequest(nil, ev.Request)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.want, string(got)); d != "" {
			t.Errorf("replay of %q (-want +got):\n%s", c.in, d)
		}
	}
}

// parsed is what the parser made of one rendered request.
type parsed struct {
	req     *Request
	body    []byte
	exts    []string // the extensions of chunks (non-empty ones)
	lastExt string
	trailer []Header
	heads   int // RequestHead events: more than one means a smuggled request
}

// parseWire parses wire fed in two parts split at split; it fails the test
// when the parser fails or wants more than wire.
func parseWire(s ParserSettings, wire []byte, split int) (*parsed, *ParseError) {
	p := NewParser(s)
	pending := append([]byte(nil), wire[:split]...)
	rest := wire[split:]
	out := &parsed{}
	for {
		ev, n := p.Next(pending)
		pending = pending[n:]
		switch ev.Kind {
		case NeedMore:
			if len(rest) == 0 {
				return out, nil
			}
			pending, rest = append(pending, rest...), nil
		case RequestHead:
			out.heads++
			if out.heads > 1 {
				return out, nil
			}
			out.req = ev.Request
			if ev.Body == BodyNone {
				if st, ok := ev.Request.Entity.(*entity.Strict); ok {
					out.body = append(out.body, st.Data...)
				}
			}
		case BodyData:
			out.body = append(out.body, ev.Data...)
		case ChunkData:
			out.body = append(out.body, ev.Data...)
			if ev.Extension != "" {
				out.exts = append(out.exts, ev.Extension)
			}
		case LastChunk:
			out.lastExt, out.trailer = ev.Extension, ev.Trailer
		case MessageEnd:
		case Failed:
			return out, ev.Err
		}
	}
}

var fuzzMethods = []Method{MethodGet, MethodHead, MethodPost, MethodPut, MethodDelete, MethodOptions, MethodPatch, MethodTrace, ""}

// fuzzFields splits s into fields: one per line, the name before the
// first ':'.
func fuzzFields(s string) []Header {
	var hs []Header
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		hs = append(hs, Header{Name: name, Value: value})
	}
	return hs
}

func keepBytes(s string, class uint8, limit int) string {
	b := make([]byte, 0, min(len(s), limit))
	for i := 0; i < len(s) && len(b) < limit; i++ {
		if charClass[s[i]]&class != 0 {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// fuzzTarget makes an origin-form request-target of s (RFC 9112 §3.2.1).
func fuzzTarget(s string) string {
	b := []byte{'/'}
	if len(s) > 0 && s[0] == '/' {
		b = b[:0]
	}
	for i := 0; i < len(s) && len(b) < 1000; i++ {
		switch c := s[i]; {
		case charClass[c]&cPath == 0:
		case c == '%' && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])):
			b = append(b, "%25"...)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// FuzzRoundTrip renders a request built from the inputs with AppendRequest
// (and AppendChunk/AppendLastChunk for a chunked body), parses it back,
// and requires the same method, target, fields, body, chunk extensions and
// trailer. It also renders the inputs unsanitized: AppendRequest must then
// either refuse, or produce exactly one request with that method and
// target (no request smuggling through a field, target or extension).
//
// The seeds are in testdata/fuzz/FuzzRoundTrip. mode: bit 0 chunked, bit 1 HTTP/1.0, bit 2 an entity content type, bit 3
// chunk by AppendRequest itself; mode>>4 is the chunk size - 1.
func FuzzRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, mi uint8, custom, target, fields string, body []byte, mode uint8, ext, trailer string, split uint16) {
		chunkedBody, proto10, withType, selfChunk := mode&1 != 0, mode&2 != 0, mode&4 != 0, mode&8 != 0
		chunkSize := int(mode>>4) + 1
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		if method == "" {
			if method = Method(keepBytes(custom, cToken, 16)); method == "" {
				method = "PURGE"
			}
		}
		settings := ParserSettings{CustomMethods: []Method{method}, MaxHeaderCount: 128, MaxHeadSize: 1 << 20, MaxTrailerSize: 1 << 16}

		// Sanitized: must round-trip.
		req := &Request{Method: method, Host: "example.com", Target: fuzzTarget(target)}
		if method == MethodOptions && target == "*" {
			req.Target = "*"
		}
		if proto10 {
			req.Proto = HTTP10
		}
		var wantHeader []Header
		if !proto10 {
			wantHeader = append(wantHeader, Header{Name: "Host", Value: "example.com"})
		} else {
			req.Host = ""
		}
		hasType := false
		for _, h := range fuzzFields(fields) {
			name := keepBytes(h.Name, cToken, 64)
			value := trimOWS(keepBytes(h.Value, cValue, 1024))
			if name == "" || len(req.Header) >= 60 {
				continue
			}
			switch strings.ToLower(name) {
			case "host", "content-length", "transfer-encoding":
				continue
			case "content-type":
				if hasType {
					continue
				}
				hasType = true
			}
			req.Header = append(req.Header, Header{Name: name, Value: value})
			wantHeader = append(wantHeader, Header{Name: name, Value: value})
		}
		ctype := ""
		if withType {
			ctype = "application/octet-stream"
		}
		if ctype != "" && !hasType {
			wantHeader = append(wantHeader, Header{Name: "Content-Type", Value: ctype})
		}
		manualChunks := chunkedBody && !proto10 && !selfChunk
		switch {
		case manualChunks:
			req.Entity = &entity.Chunked{Type: ctype}
		default:
			req.Entity = &entity.Strict{Type: ctype, Data: body}
			req.Chunked = chunkedBody
		}
		switch {
		case chunkedBody && !proto10:
			wantHeader = append(wantHeader, Header{Name: "Transfer-Encoding", Value: "chunked"})
		case len(body) > 0 || method == MethodPost || method == MethodPut || method == MethodPatch:
			wantHeader = append(wantHeader, Header{Name: "Content-Length", Value: strconv.Itoa(len(body))})
		}
		wire, err := AppendRequest(nil, req)
		if err != nil {
			t.Fatalf("AppendRequest(%+v): %v", req, err)
		}
		var wantExts []string
		var wantTrailer []Header
		wantLastExt := ""
		if manualChunks {
			if len(ext) > 200 {
				ext = ext[:200]
			}
			for rest := body; len(rest) > 0; {
				n := min(chunkSize, len(rest))
				wire = AppendChunk(wire, rest[:n], ext)
				rest = rest[n:]
				if validExtension(ext) && ext != "" {
					wantExts = append(wantExts, ext)
				}
			}
			var raw []Header
			for _, h := range fuzzFields(trailer) {
				if len(h.Name) <= 64 && len(h.Value) <= 1024 && len(raw) < 60 {
					raw = append(raw, h)
				}
			}
			wire = AppendLastChunk(wire, ext, raw)
			if validExtension(ext) {
				wantLastExt = ext
			}
			for _, h := range raw {
				if tokenString(h.Name) && fieldValue(h.Value) && !forbiddenTrailer(h.Name) {
					wantTrailer = append(wantTrailer, Header{Name: h.Name, Value: trimOWS(h.Value)})
				}
			}
		}
		got, perr := parseWire(settings, wire, int(split)%(len(wire)+1))
		if perr != nil {
			t.Fatalf("parse %q: %v", wire, perr)
		}
		if got.heads != 1 {
			t.Fatalf("parse %q: %d requests", wire, got.heads)
		}
		r := got.req
		if r.Method != req.Method || r.Target != req.Target || r.Proto != req.Proto {
			t.Errorf("request line: got %q %q %v, want %q %q %v", r.Method, r.Target, r.Proto, req.Method, req.Target, req.Proto)
		}
		if d := cmp.Diff(wantHeader, []Header(r.Header), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("fields of %q (-want +got):\n%s", wire, d)
		}
		if !bytes.Equal(got.body, body) {
			t.Errorf("body: got %q, want %q", got.body, body)
		}
		if d := cmp.Diff(wantExts, got.exts, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("chunk extensions of %q (-want +got):\n%s", wire, d)
		}
		if got.lastExt != wantLastExt {
			t.Errorf("last-chunk extension: got %q, want %q", got.lastExt, wantLastExt)
		}
		if d := cmp.Diff(wantTrailer, got.trailer, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("trailer of %q (-want +got):\n%s", wire, d)
		}

		// Unsanitized: refused, or exactly the request asked for.
		rawMethod := method
		if mi%uint8(len(fuzzMethods)) == uint8(len(fuzzMethods)-1) && custom != "" {
			rawMethod = Method(custom)
		}
		rawReq := &Request{Method: rawMethod, Target: target, Host: "example.com", Header: fuzzFields(fields),
			Entity: &entity.Strict{Data: body}, Chunked: chunkedBody}
		rawWire, err := AppendRequest(nil, rawReq)
		if err != nil {
			return
		}
		if rawReq.Target == "" {
			rawReq.Target = "/"
		}
		settings.CustomMethods = []Method{rawMethod}
		rgot, _ := parseWire(settings, rawWire, len(rawWire))
		if rgot.heads > 1 {
			t.Fatalf("AppendRequest(%+v) = %q: %d requests", rawReq, rawWire, rgot.heads)
		}
		if r := rgot.req; r != nil && (r.Method != rawMethod || r.Target != rawReq.Target) {
			t.Fatalf("AppendRequest(%+v) = %q: parsed as %q %q", rawReq, rawWire, r.Method, r.Target)
		}
	})
}
