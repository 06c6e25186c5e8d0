package httpcore

import (
	"bytes"
	"io"
	"net/http/httputil"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSettings are the settings of a fuzz run: the defaults, or small
// limits that short inputs can reach.
func fuzzSettings(small bool) ParserSettings {
	if !small {
		return ParserSettings{CustomMethods: []Method{"PURGE"}}
	}
	return ParserSettings{
		MaxURILength: 32, MaxMethodLength: 8, MaxHeaderNameLength: 16, MaxHeaderValueLength: 32,
		MaxHeaderCount: 8, MaxHeadSize: 160, MaxContentLength: 64, MaxChunkSize: 32, MaxChunkExtLength: 16, MaxTrailerSize: 64,
		CustomMethods: []Method{"PURGE"},
	}
}

// FuzzParseRequest parses any input whole and split in two at a chosen
// point: the parser never panics, makes progress, gives the same events
// both ways, fails only with a valid 4xx/5xx *ParseError whose text is
// printable ASCII (no raw request bytes), and every request it accepts is
// within the limits and made of the input's bytes.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), uint(5), false)
	f.Add([]byte("POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: v\r\n\r\n"), uint(60), true)
	f.Add([]byte("GET http://a:1?q HTTP/1.1\r\nHost: b\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), uint(30), false)
	f.Add(append([]byte("GET / HTTP/1.1\r\nHost: a\r\n"), bytes.Repeat([]byte("X: 0123456789abcdef\r\n"), 8)...), uint(100), true)
	f.Fuzz(func(t *testing.T, in []byte, split uint, small bool) {
		s := fuzzSettings(small)
		whole := feed(t, s, in)
		at := 0
		if len(in) > 0 {
			at = int(split % uint(len(in)+1))
		}
		parts := feed(t, s, in[:at], in[at:])
		if d := cmp.Diff(normalize(whole.events), normalize(parts.events)); d != "" {
			t.Fatalf("split at %d differs (-whole +split):\n%s", at, d)
		}
		checkFuzzEvents(t, s.withDefaults(), in, whole.events)
	})
}

// FuzzChunked parses any chunked body after a fixed head, whole and split:
// the invariants of FuzzParseRequest hold, and when the parser and
// net/http's chunked reader both accept the body, their data is the same.
func FuzzChunked(f *testing.F) {
	f.Add([]byte("5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n"), uint(3), false)
	f.Add([]byte("10\r\n0123456789abcdef\r\n0\r\n\r\n"), uint(9), true)
	f.Fuzz(func(t *testing.T, body []byte, split uint, small bool) {
		s := fuzzSettings(small)
		in := append([]byte(chunkedHead), body...)
		whole := feed(t, s, in)
		at := len(chunkedHead) + int(split%uint(len(body)+1))
		parts := feed(t, s, in[:at], in[at:])
		if d := cmp.Diff(normalize(whole.events), normalize(parts.events)); d != "" {
			t.Fatalf("split at %d differs (-whole +split):\n%s", at, d)
		}
		checkFuzzEvents(t, s.withDefaults(), in, whole.events)

		// The first message's data, if its body is complete and valid.
		var data []byte
		complete := false
		for _, e := range whole.events[1:] {
			if e.Kind == "ChunkData" {
				data = append(data, e.Data...)
			}
			if e.Kind == "LastChunk" || e.Kind == "Failed" {
				complete = e.Kind == "LastChunk"
				break
			}
		}
		if !complete {
			return
		}
		ref, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
		if err == nil && !bytes.Equal(data, ref) {
			t.Fatalf("data %q, net/http reads %q", data, ref)
		}
	})
}

// checkFuzzEvents checks the invariants of any event sequence of in.
func checkFuzzEvents(t *testing.T, s ParserSettings, in []byte, evs []evRec) {
	t.Helper()
	for i, e := range evs {
		if i < len(evs)-1 && e.Kind == "Failed" {
			t.Fatal("events after Failed")
		}
		switch e.Kind {
		case "Failed":
			checkReason(t, "", e.Err)
		case "RequestHead":
			checkFuzzRequest(t, s, in, e.Req)
		case "ChunkData":
			if len(e.Data) > s.MaxChunkSize || len(e.Ext) > s.MaxChunkExtLength {
				t.Fatalf("chunk of %d bytes with an extension of %d", len(e.Data), len(e.Ext))
			}
		case "LastChunk":
			size := 0
			for _, h := range e.Trailer {
				checkFuzzField(t, s, in, h)
				size += len(h.Name) + len(h.Value) + 3
			}
			if len(e.Ext) > s.MaxChunkExtLength || len(e.Trailer) > s.MaxHeaderCount || size > s.MaxTrailerSize {
				t.Fatalf("last chunk with an extension of %d bytes, %d trailer fields, %d trailer bytes", len(e.Ext), len(e.Trailer), size)
			}
		}
	}
}

func checkFuzzRequest(t *testing.T, s ParserSettings, in []byte, r *reqRec) {
	t.Helper()
	if len(r.Method) > s.MaxMethodLength || len(r.Target) > s.MaxURILength || len(r.Header) > s.MaxHeaderCount {
		t.Fatalf("request beyond the limits: method %d bytes, target %d, %d fields", len(r.Method), len(r.Target), len(r.Header))
	}
	if r.ContentLength > s.MaxContentLength || r.Chunked && r.ContentLength >= 0 {
		t.Fatalf("content length %d, chunked %v", r.ContentLength, r.Chunked)
	}
	if !isToken([]byte(r.Method)) || r.Target == "" {
		t.Fatalf("method %q, target %q", r.Method, r.Target)
	}
	// Made of the input's bytes (not of a reused buffer).
	if !bytes.Contains(in, []byte(r.Method+" "+r.Target+" HTTP/1.")) {
		t.Fatalf("request line %q %q is not in the input", r.Method, r.Target)
	}
	// The head is at least its request line, its fields with ": " and CRLF,
	// and the empty line.
	size := len(r.Method) + 1 + len(r.Target) + len(" HTTP/1.1\r\n") + 2
	for _, h := range r.Header {
		checkFuzzField(t, s, in, h)
		size += len(h.Name) + 1 + len(h.Value) + 2
	}
	if size > s.MaxHeadSize {
		t.Fatalf("a head of at least %d bytes", size)
	}
	if u := r.URI; u.Scheme != "" && (r.Host != u.Authority || u.Path == "") {
		t.Fatalf("absolute-form %+v: Host %q", u, r.Host)
	}
	if r.Proto == HTTP11 && !Headers(r.Header).Has("Host") {
		t.Fatal("HTTP/1.1 request without Host")
	}
	if !validHost([]byte(r.Host)) {
		t.Fatalf("invalid Host %q", r.Host)
	}
	if r.Entity == "strict" && r.Data != "" && int64(len(r.Data)) != r.ContentLength {
		t.Fatalf("strict body of %d bytes, Content-Length %d", len(r.Data), r.ContentLength)
	}
}

func checkFuzzField(t *testing.T, s ParserSettings, in []byte, h Header) {
	t.Helper()
	if len(h.Name) > s.MaxHeaderNameLength || len(h.Value) > s.MaxHeaderValueLength {
		t.Fatalf("field beyond the limits: name %d bytes, value %d", len(h.Name), len(h.Value))
	}
	if !isToken([]byte(h.Name)) || !bytes.Contains(in, []byte(h.Name+":")) || !bytes.Contains(in, []byte(h.Value)) {
		t.Fatalf("field %q: %q is not a field of the input", h.Name, h.Value)
	}
	for _, c := range []byte(h.Value) {
		if charClass[c]&cValue == 0 {
			t.Fatalf("field %q: value %q has the byte %#x", h.Name, h.Value, c)
		}
	}
	if v := h.Value; v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		t.Fatalf("field %q: value %q is not trimmed", h.Name, v)
	}
}
