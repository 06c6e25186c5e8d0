package httpcore

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
)

// Builders of expected events.

// hs returns header fields from name, value pairs.
func hs(kv ...string) []Header {
	var h []Header
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, Header{Name: kv[i], Value: kv[i+1]})
	}
	return h
}

// req returns the record of a request with no body: HTTP/1.1, the fields
// kv, and the typed fields a reader of those fields expects (first Host,
// Content-Type, Expect). An origin-form target is split into Path and
// RawQuery; other forms set URI with .uri.
func req(method, target string, kv ...string) reqRec {
	r := reqRec{Method: method, Target: target, Header: hs(kv...), ContentLength: -1, Entity: "empty"}
	if strings.HasPrefix(target, "/") {
		r.URI.Path, r.URI.RawQuery, _ = strings.Cut(target, "?")
	}
	seen := map[string]bool{}
	for _, h := range r.Header {
		name := strings.ToLower(h.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "host":
			r.Host = h.Value
		case "content-type":
			r.ContentType, r.Entity, r.EntityType = h.Value, "strict", h.Value
		case "expect":
			r.Expect = h.Value
		}
	}
	return r
}

func (r reqRec) proto(p Protocol) reqRec { r.Proto = p; return r }
func (r reqRec) cl(n int64) reqRec       { r.ContentLength = n; return r }
func (r reqRec) closing() reqRec         { r.Close = true; return r }
func (r reqRec) upgrade() reqRec         { r.Upgrade = true; return r }
func (r reqRec) uri(u URI) reqRec        { r.URI = u; return r }
func (r reqRec) host(h string) reqRec    { r.Host = h; return r }

// streamed: the body follows in events, the entity is nil.
func (r reqRec) streamed() reqRec { r.Entity, r.EntityType = "", ""; return r }
func (r reqRec) chunked() reqRec  { r.Chunked = true; return r.streamed() }

// strict: the body came with the head.
func (r reqRec) strict(data string) reqRec {
	r.Entity, r.EntityType, r.Data = "strict", r.ContentType, data
	return r
}

func head(r reqRec, body BodyKind) evRec {
	return evRec{Kind: "RequestHead", Req: &r, Body: bodyNames[body]}
}
func data(s string) evRec       { return evRec{Kind: "BodyData", Data: s} }
func chunk(s, ext string) evRec { return evRec{Kind: "ChunkData", Data: s, Ext: ext} }
func end() evRec                { return evRec{Kind: "MessageEnd"} }
func last(ext string, kv ...string) evRec {
	return evRec{Kind: "LastChunk", Ext: ext, Trailer: hs(kv...)}
}

// fails is a Failed event; the reason is not compared (it is checked for
// echoed request bytes instead).
func fails(status Status, setting string) evRec {
	return evRec{Kind: "Failed", Err: &errRec{Status: status, Setting: setting}}
}

// failsWith is a Failed event whose reason is compared too.
func failsWith(status Status, reason string) evRec {
	return evRec{Kind: "Failed", Err: &errRec{Status: status, Reason: reason}}
}
func failsInBody(status Status, setting string) evRec {
	e := fails(status, setting)
	e.Err.InBody = true
	return e
}

// wireCase is an input with the events it must give, fed whole, split at
// every position and byte by byte.
type wireCase struct {
	name string
	in   string
	s    ParserSettings
	want []evRec
}

// marker appears in the offending part of bad inputs: an error text must
// never contain it, nor any other byte of the request.
const marker = "ZQX"

func runWireCases(t *testing.T, cases []wireCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in)
			whole := feed(t, c.s, in)
			got := make([]evRec, len(whole.events))
			for i, e := range whole.events {
				if e.Err != nil {
					checkReason(t, c.in, e.Err)
					reason := "" // compared only where the case names one
					if i < len(c.want) && c.want[i].Err != nil {
						reason = c.want[i].Err.Reason
					}
					if reason != "" {
						reason = e.Err.Reason
					}
					e.Err = &errRec{Status: e.Err.Status, Setting: e.Err.Setting, InBody: e.Err.InBody, Reason: reason}
				}
				got[i] = e
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Fatalf("events (-want +got):\n%s", d)
			}
			checkSplits(t, c.s, in, whole)
		})
	}
}

// checkReason checks a ParseError's text: a valid error status, printable
// ASCII, never the marker, and the setting named for a limit.
func checkReason(t *testing.T, in string, e *errRec) {
	t.Helper()
	if e.Status < 400 || e.Status > 599 || e.Status.Reason() == "" {
		t.Errorf("status %d", e.Status)
	}
	text := (&ParseError{Status: e.Status, Reason: e.Reason, Setting: e.Setting}).Error()
	for _, c := range []byte(text) {
		if c < 0x20 || c > 0x7e {
			t.Errorf("error text %q has the byte %#x", text, c)
		}
	}
	if strings.Contains(in, marker) && strings.Contains(text, marker) {
		t.Errorf("error text %q echoes request bytes", text)
	}
	if e.Setting != "" && !strings.Contains(text, "ParserSettings."+e.Setting) {
		t.Errorf("error text %q does not name the setting", text)
	}
}

const hostA = "Host: a\r\n"

func TestParserRequestLine(t *testing.T) {
	runWireCases(t, []wireCase{{
		name: "§3 request line with a Host",
		in:   "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: []evRec{head(req("GET", "/index.html", "Host", "example.com"), BodyNone)},
	}, {
		name: "§2.2 leading empty lines are ignored",
		in:   "\r\n\r\nGET / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a"), BodyNone)},
	}, {
		name: "§2.2 empty lines between pipelined requests are ignored",
		in:   "GET /1 HTTP/1.1\r\n" + hostA + "\r\n\r\n\r\nGET /2 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/1", "Host", "a"), BodyNone), head(req("GET", "/2", "Host", "a"), BodyNone)},
	}, {
		name: "§2.3 HTTP/1.0 without keep-alive closes and needs no Host",
		in:   "GET / HTTP/1.0\r\n\r\n",
		want: []evRec{head(req("GET", "/").proto(HTTP10).closing(), BodyNone)},
	}, {
		name: "§9.3 HTTP/1.0 with keep-alive persists",
		in:   "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		want: []evRec{head(req("GET", "/", "Connection", "keep-alive").proto(HTTP10), BodyNone)},
	}, {
		name: "§9.6 HTTP/1.1 with Connection: close closes",
		in:   "GET / HTTP/1.1\r\n" + hostA + "Connection: close\r\n\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a", "Connection", "close").closing(), BodyNone)},
	}, {
		name: "§2.3 HTTP/1.2 is handled as HTTP/1.1",
		in:   "GET / HTTP/1.2\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a"), BodyNone)},
	}, {
		name: "§2.3 HTTP/2.0 -> 505",
		in:   "GET / HTTP/2.0\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "§2.3 HTTP/0.9 version -> 505",
		in:   "GET / HTTP/0.9\r\n\r\n",
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "§2.3 lower-case version -> 400",
		in:   "GET / http/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.3 two-digit minor version -> 400",
		in:   "GET / HTTP/1.10\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 HTTP/0.9 request line without a version -> 400",
		in:   "GET /" + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 two spaces after the method -> 400",
		in:   "GET  / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 space in the target -> 400",
		in:   "GET /a " + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 trailing space after the version -> 400",
		in:   "GET / HTTP/1.1 \r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 HTAB as separator -> 400",
		in:   "GET\t/ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "RFC 9110 §9.1 lower-case method is not GET -> 501",
		in:   "get / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusNotImplemented, "")},
	}, {
		name: "RFC 9110 §9.1 unknown method -> 501",
		in:   marker + " / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusNotImplemented, "")},
	}, {
		name: "RFC 9110 §9.1 registered custom method -> OK",
		in:   "PURGE /cache HTTP/1.1\r\n" + hostA + "\r\n",
		s:    ParserSettings{CustomMethods: []Method{"PURGE"}},
		want: []evRec{head(req("PURGE", "/cache", "Host", "a"), BodyNone)},
	}, {
		name: "RFC 9110 §9.1 every standard method",
		in: "GET / HTTP/1.1\r\n" + hostA + "\r\nHEAD / HTTP/1.1\r\n" + hostA + "\r\nPOST / HTTP/1.1\r\n" + hostA +
			"\r\nPUT / HTTP/1.1\r\n" + hostA + "\r\nDELETE / HTTP/1.1\r\n" + hostA + "\r\nCONNECT a:1 HTTP/1.1\r\n" + hostA +
			"\r\nOPTIONS / HTTP/1.1\r\n" + hostA + "\r\nTRACE / HTTP/1.1\r\n" + hostA + "\r\nPATCH / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{
			head(req("GET", "/", "Host", "a"), BodyNone), head(req("HEAD", "/", "Host", "a"), BodyNone),
			head(req("POST", "/", "Host", "a"), BodyNone), head(req("PUT", "/", "Host", "a"), BodyNone),
			head(req("DELETE", "/", "Host", "a"), BodyNone),
			head(req("CONNECT", "a:1", "Host", "a").uri(URI{Authority: "a:1"}), BodyNone),
			head(req("OPTIONS", "/", "Host", "a"), BodyNone), head(req("TRACE", "/", "Host", "a"), BodyNone),
			head(req("PATCH", "/", "Host", "a"), BodyNone),
		},
	}, {
		name: "§3 method too long -> 400 MaxMethodLength",
		in:   "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "MaxMethodLength")},
	}, {
		name: "§3 method too long while arriving -> 400 MaxMethodLength",
		in:   "ABCDEFGHIJKLMNOPQ",
		want: []evRec{fails(StatusBadRequest, "MaxMethodLength")},
	}, {
		name: "§3 method at the limit with a custom limit",
		in:   "PURGE / HTTP/1.1\r\n" + hostA + "\r\n",
		s:    ParserSettings{MaxMethodLength: 5, CustomMethods: []Method{"PURGE"}},
		want: []evRec{head(req("PURGE", "/", "Host", "a"), BodyNone)},
	}, {
		name: "§3 method not a token -> 400",
		in:   "G(T / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 TLS handshake byte 0x16 -> 400",
		in:   "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3 TLS handshake after an empty line -> 400",
		in:   "\r\n\x16\x03\x01",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 URI too long -> 414 MaxURILength",
		in:   "GET /" + strings.Repeat("a", 2048) + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusURITooLong, "MaxURILength")},
	}, {
		name: "§3.2 URI too long while the line is arriving -> 414 MaxURILength",
		in:   "GET /" + strings.Repeat("a", 2048),
		want: []evRec{fails(StatusURITooLong, "MaxURILength")},
	}, {
		name: "§3.2 URI at the limit",
		in:   "GET /" + strings.Repeat("a", 2047) + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/"+strings.Repeat("a", 2047), "Host", "a"), BodyNone)},
	}, {
		name: "§3.2 URI too long with a custom limit -> 414",
		in:   "GET /abcdefghij HTTP/1.1\r\n" + hostA + "\r\n",
		s:    ParserSettings{MaxURILength: 10},
		want: []evRec{fails(StatusURITooLong, "MaxURILength")},
	}, {
		name: "§2.2 bare LF ending the request line -> 400",
		in:   "GET / HTTP/1.1\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR ending the request line -> 400",
		in:   "GET / HTTP/1.1\r" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR in the method -> 400",
		in:   "GE\rT / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF before the request line -> 400",
		in:   "\nGET / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR before the request line -> 400",
		in:   "\rGET / HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}})
}

func TestParserTarget(t *testing.T) {
	runWireCases(t, []wireCase{{
		name: "§3.2.1 origin-form with a query",
		in:   "GET /a/b%20c?x=1&y=/?z HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/a/b%20c?x=1&y=/?z", "Host", "a"), BodyNone)},
	}, {
		name: "§3.2.1 pchar sub-delims and '@' ':' in a path",
		in:   "GET /!$&'()*+,;=:@-._~ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "/!$&'()*+,;=:@-._~", "Host", "a"), BodyNone)},
	}, {
		name: "§3.2.2 absolute-form",
		in:   "GET http://example.com:8080/p?q HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "http://example.com:8080/p?q", "Host", "a").host("example.com:8080").
			uri(URI{Scheme: "http", Authority: "example.com:8080", Path: "/p", RawQuery: "q"}), BodyNone)},
	}, {
		name: "§3.2.2 absolute-form with an IPv6 authority and no path: the path is / (RFC 9110 §4.2.3)",
		in:   "GET https://[2001:db8::1] HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("GET", "https://[2001:db8::1]", "Host", "a").host("[2001:db8::1]").
			uri(URI{Scheme: "https", Authority: "[2001:db8::1]", Path: "/"}), BodyNone)},
	}, {
		name: "§3.2.2 absolute-form with userinfo -> 400 (RFC 9110 §4.2.4)",
		in:   "GET http://user:" + marker + "@example.com/ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.2 absolute-form with an empty authority -> 400",
		in:   "GET http:///p HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.2 absolute-form with a bad scheme -> 400",
		in:   "GET 1http://a/ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.3 authority-form for CONNECT",
		in:   "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		want: []evRec{head(req("CONNECT", "example.com:443", "Host", "example.com:443").uri(URI{Authority: "example.com:443"}), BodyNone)},
	}, {
		name: "§3.2.3 authority-form for CONNECT with IPv6",
		in:   "CONNECT [::1]:443 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("CONNECT", "[::1]:443", "Host", "a").uri(URI{Authority: "[::1]:443"}), BodyNone)},
	}, {
		name: "§3.2.3 authority-form without a port -> 400",
		in:   "CONNECT [::1] HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.3 authority-form for GET -> 400",
		in:   "GET example.com:443 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.3 CONNECT with origin-form -> 400",
		in:   "CONNECT /" + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.3 CONNECT with userinfo -> 400",
		in:   "CONNECT u@example.com:443 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.4 asterisk-form for OPTIONS",
		in:   "OPTIONS * HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{head(req("OPTIONS", "*", "Host", "a").uri(URI{Path: "*"}), BodyNone)},
	}, {
		name: "§3.2.4 asterisk-form for GET -> 400",
		in:   "GET * HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 fragment -> 400",
		in:   "GET /a#" + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 raw byte 0x80 -> 400",
		in:   "GET /\x80" + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 control byte -> 400",
		in:   "GET /\x01" + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 DEL -> 400",
		in:   "GET /\x7f HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 quote and backslash are not URI characters -> 400",
		in:   "GET /\"\\ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 invalid %-encoding -> 400",
		in:   "GET /%zz" + marker + " HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 truncated %-encoding -> 400",
		in:   "GET /a%4 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 brackets in a path -> 400",
		in:   "GET /a[1] HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.2 brackets in an absolute-form path -> 400",
		in:   "GET http://[::1]/[x] HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 relative target -> 400",
		in:   "GET a/b HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}})
}

func TestParserFields(t *testing.T) {
	long := func(n int) string { return strings.Repeat("v", n) }
	runWireCases(t, []wireCase{{
		name: "§5 names and values as sent, OWS trimmed, obs-text kept",
		in:   "GET / HTTP/1.1\r\nhost:a\r\nX-Empty:\r\nX-Tabs:\t v1 \t v2\t \r\nX-Latin: D\xfcsseldorf\r\nX-Quotes: \"a\\b\"\r\n\r\n",
		want: []evRec{head(req("GET", "/", "host", "a", "X-Empty", "", "X-Tabs", "v1 \t v2", "X-Latin", "D\xfcsseldorf", "X-Quotes", `"a\b"`), BodyNone)},
	}, {
		name: "§5 Content-Type, Expect and Upgrade are typed",
		in: "POST /up HTTP/1.1\r\n" + hostA + "Content-Type: text/plain\r\nExpect: 100-continue\r\n" +
			"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n",
		want: []evRec{head(req("POST", "/up", "Host", "a", "Content-Type", "text/plain", "Expect", "100-continue",
			"Connection", "keep-alive, Upgrade", "Upgrade", "websocket", "Content-Length", "0").cl(0).upgrade(), BodyNone)},
	}, {
		name: "RFC 9110 §10.1.1 the first Expect field is typed",
		in:   "GET / HTTP/1.1\r\n" + hostA + "Expect: 100-continue\r\nExpect: other\r\n\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a", "Expect", "100-continue", "Expect", "other"), BodyNone)},
	}, {
		name: "§5 more fields than fit inline",
		in: "GET / HTTP/1.1\r\n" + hostA + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\nJ: 10\r\n" +
			"K: 11\r\nL: 12\r\nM: 13\r\n\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a", "A", "1", "B", "2", "C", "3", "D", "4", "E", "5", "F", "6", "G", "7",
			"H", "8", "I", "9", "J", "10", "K", "11", "L", "12", "M", "13"), BodyNone)},
	}, {
		name: "§5 header name too long -> 431 MaxHeaderNameLength",
		in:   "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("N", 65) + ": v\r\n\r\n",
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderNameLength")},
	}, {
		name: "§5 header name at the limit",
		in:   "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("N", 64) + ": v\r\n\r\n",
		want: []evRec{head(req("GET", "/", "Host", "a", strings.Repeat("N", 64), "v"), BodyNone)},
	}, {
		name: "§5 header value too long -> 431 MaxHeaderValueLength",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: " + long(8193) + "\r\n\r\n",
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderValueLength")},
	}, {
		name: "§5 header value too long with a custom limit -> 431",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: 12345678901\r\n\r\n",
		s:    ParserSettings{MaxHeaderValueLength: 10},
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderValueLength")},
	}, {
		name: "§5 header value at a custom limit, whitespace not counted",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X:  1234567890  \r\n\r\n",
		s:    ParserSettings{MaxHeaderValueLength: 10},
		want: []evRec{head(req("GET", "/", "Host", "a", "X", "1234567890"), BodyNone)},
	}, {
		name: "§5 endless whitespace in a value -> 431 MaxHeaderValueLength",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a" + strings.Repeat(" ", 200),
		s:    ParserSettings{MaxHeaderValueLength: 10},
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderValueLength")},
	}, {
		name: "§5 too many header fields -> 431 MaxHeaderCount",
		in:   "GET / HTTP/1.1\r\n" + hostA + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n",
		s:    ParserSettings{MaxHeaderCount: 3},
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderCount")},
	}, {
		name: "§5 too many header fields by default -> 431 MaxHeaderCount",
		in:   "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("A: 1\r\n", 64) + "\r\n",
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeaderCount")},
	}, {
		name: "§5.2 obs-fold -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\r\n  " + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 whitespace before the first field -> 400",
		in:   "GET / HTTP/1.1\r\n " + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.1 space before the colon -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + marker + " : v\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.1 empty field name -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + ": " + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.1 field line without a colon -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.1 invalid name character -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X@" + marker + ": v\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.5 (RFC 9110) NUL in a value -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\x00" + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.5 (RFC 9110) CR in a value -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\r" + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.5 (RFC 9110) form feed in a value -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\x0c" + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§5.5 (RFC 9110) DEL in a value -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\x7f" + marker + "\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF ending a field line -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: " + marker + "\nY: b\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF ending the head -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR ending the head -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "\rX",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR after a name -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X\r: v\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF in OWS -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: \n\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}})
}

func TestParserHost(t *testing.T) {
	ok := func(name, host string) wireCase {
		return wireCase{name: name, in: "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			want: []evRec{head(req("GET", "/", "Host", host), BodyNone)}}
	}
	bad := func(name, host string) wireCase {
		return wireCase{name: name, in: "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
			want: []evRec{fails(StatusBadRequest, "")}}
	}
	runWireCases(t, []wireCase{
		ok("§3.2 Host name with a port", "example.com:8080"),
		ok("§3.2 Host IPv4 literal", "192.0.2.1"),
		ok("§3.2 Host IPv6 literal", "[2001:db8::1]"),
		ok("§3.2 Host IPv6 literal with a port", "[::1]:443"),
		ok("§3.2 Host IPv4-mapped IPv6 literal", "[::ffff:192.0.2.1]"),
		ok("§3.2 Host reg-name with sub-delims and %-encoding", "a-b_c~d!$&'()*+;=%41"),
		ok("§3.2 empty Host", ""),
		ok("§3.2 Host with an empty port", "example.com:"),
		bad("§3.2 Host list -> 400", "a.example, "+marker+".example"),
		bad("§3.2 Host with userinfo -> 400", marker+"@example.com"),
		bad("§3.2 Host garbage -> 400", "exa/mple"+marker),
		bad("§3.2 Host with a bad port -> 400", "example.com:8o"),
		bad("§3.2 Host port without a host -> 400", ":80"),
		bad("§3.2 Host bad IPv6 literal -> 400", "[::g]"),
		bad("§3.2 Host empty IPv6 literal -> 400", "[]"),
		bad("§3.2 Host unclosed IPv6 literal -> 400", "[::1"),
		bad("§3.2 Host IPv4 in brackets -> 400", "[192.0.2.1]"),
		bad("§3.2 Host junk after an IPv6 literal -> 400", "[::1]x"),
		bad("§3.2 Host with a bad %-encoding -> 400", "a%zz"),
		{
			name: "§3.2 HTTP/1.1 without Host -> 400",
			in:   "GET / HTTP/1.1\r\nX: " + marker + "\r\n\r\n",
			want: []evRec{fails(StatusBadRequest, "")},
		}, {
			name: "§3.2 two Host fields -> 400",
			in:   "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
			want: []evRec{fails(StatusBadRequest, "")},
		}, {
			name: "§3.2 HTTP/1.0 with a Host",
			in:   "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
			want: []evRec{head(req("GET", "/", "Host", "a").proto(HTTP10).closing(), BodyNone)},
		},
	})
}

func TestParserMessageLength(t *testing.T) {
	post := "POST /p HTTP/1.1\r\n" + hostA
	runWireCases(t, []wireCase{{
		name: "§6.3 body in the buffer -> strict entity",
		in:   post + "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Type", "text/plain", "Content-Length", "5").cl(5).strict("hello"), BodyNone)},
	}, {
		name: "§6.3 body not yet in the buffer -> BodyData events",
		in:   post + "Content-Length: 5\r\n\r\nhel",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "5").cl(5).streamed(), BodyLength), data("hel")},
	}, {
		name: "§6.3 Content-Length 0 -> empty entity",
		in:   post + "Content-Length: 0\r\n\r\n",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "0").cl(0), BodyNone)},
	}, {
		name: "§6.3 Content-Length with leading zeros",
		in:   post + "Content-Length: 003\r\n\r\nabc",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "003").cl(3).strict("abc"), BodyNone)},
	}, {
		name: "§5.1 Content-Length with trailing OWS is 5",
		in:   post + "Content-Length: 5 \r\n\r\nhello",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "5").cl(5).strict("hello"), BodyNone)},
	}, {
		name: "§6.3 duplicate equal Content-Length ok",
		in:   post + "Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "2", "Content-Length", "2").cl(2).strict("ab"), BodyNone)},
	}, {
		name: "§6.3 differing Content-Length -> 400",
		in:   post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length +5 -> 400",
		in:   post + "Content-Length: +5\r\n\r\nhello",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length 0x5 -> 400",
		in:   post + "Content-Length: 0x5\r\n\r\nhello",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length 5 5 -> 400",
		in:   post + "Content-Length: 5 5\r\n\r\nhello",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length list 5, 5 -> 400",
		in:   post + "Content-Length: 5, 5\r\n\r\nhello",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length -1 -> 400",
		in:   post + "Content-Length: -1\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 empty Content-Length -> 400",
		in:   post + "Content-Length:\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length overflowing int64 -> 400",
		in:   post + "Content-Length: 9223372036854775808\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length of 20 digits -> 400",
		in:   post + "Content-Length: 99999999999999999999\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length of max int64 -> 413 MaxContentLength",
		in:   post + "Content-Length: 9223372036854775807\r\n\r\n",
		want: []evRec{fails(StatusContentTooLarge, "MaxContentLength")},
	}, {
		name: "§6.3 Content-Length above MaxContentLength -> 413",
		in:   post + "Content-Length: 8388609\r\n\r\n",
		want: []evRec{fails(StatusContentTooLarge, "MaxContentLength")},
	}, {
		name: "§6.3 Content-Length above a custom MaxContentLength -> 413",
		in:   post + "Content-Length: 11\r\n\r\nhello world",
		s:    ParserSettings{MaxContentLength: 10},
		want: []evRec{fails(StatusContentTooLarge, "MaxContentLength")},
	}, {
		name: "§6.3 Transfer-Encoding and Content-Length -> 400",
		in:   post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.3 Content-Length after Transfer-Encoding -> 400",
		in:   post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§6.1 Transfer-Encoding in HTTP/1.0 -> 400",
		in:   "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "RFC 9110 §8.3 two Content-Type fields -> 400",
		in:   post + "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§9.3 pipelined GET, POST with a body, chunked POST, GET",
		in: "GET /1 HTTP/1.1\r\n" + hostA + "\r\n" +
			"POST /2 HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\n\r\nhello" +
			"POST /3 HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" +
			"GET /4 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{
			head(req("GET", "/1", "Host", "a"), BodyNone),
			head(req("POST", "/2", "Host", "a", "Content-Length", "5").cl(5).strict("hello"), BodyNone),
			head(req("POST", "/3", "Host", "a", "Transfer-Encoding", "chunked").chunked(), BodyChunked),
			chunk("abc", "x=y"), last("", "T", "v"), end(),
			head(req("GET", "/4", "Host", "a"), BodyNone),
		},
	}, {
		name: "§9.3 pipelined requests after a streamed body",
		in:   post + "Content-Length: 3\r\n\r\nab",
		want: []evRec{head(req("POST", "/p", "Host", "a", "Content-Length", "3").cl(3).streamed(), BodyLength), data("ab")},
	}})
}

// TestParserStreamedBody feeds a head and its body in separate pieces: the
// body streams as BodyData events and ends with MessageEnd.
func TestParserStreamedBody(t *testing.T) {
	got := feed(t, ParserSettings{}, []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"),
		[]byte("0123"), []byte("456789GET / HTTP/1.1\r\nHost: b\r\n\r\n"))
	want := []evRec{
		head(req("POST", "/", "Host", "a", "Content-Length", "10").cl(10).streamed(), BodyLength),
		data("0123"), data("456789"), end(),
		head(req("GET", "/", "Host", "b"), BodyNone),
	}
	if d := cmp.Diff(want, got.events); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestParserRequestOutlivesBuffer overwrites the input after parsing: the
// request's strings and strict body are its own.
func TestParserRequestOutlivesBuffer(t *testing.T) {
	for _, in := range []string{
		"POST /small HTTP/1.1\r\nHost: a\r\nContent-Type: t/x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /large?" + strings.Repeat("q", 300) + " HTTP/1.1\r\nHost: b\r\nX: " + strings.Repeat("v", 200) +
			"\r\nContent-Length: 4\r\n\r\nwxyz",
	} {
		buf := []byte(in)
		ev, n := NewParser(ParserSettings{}).Next(buf)
		if ev.Kind != RequestHead || n != len(buf) {
			t.Fatalf("got %v after %d bytes", kindNames[ev.Kind], n)
		}
		for i := range buf {
			buf[i] = 'X'
		}
		r := ev.Request
		want := in[:strings.Index(in, "\r\n\r\n")+4]
		var got strings.Builder
		got.WriteString(string(r.Method) + " " + r.Target + " " + r.Proto.String() + "\r\n")
		for _, h := range r.Header {
			got.WriteString(h.Name + ": " + h.Value + "\r\n")
		}
		got.WriteString("\r\n")
		if d := cmp.Diff(want, got.String()); d != "" {
			t.Errorf("head after overwriting the input (-want +got):\n%s", d)
		}
		e, ok := r.Entity.(*entity.Strict)
		if !ok || e.Type != r.ContentType || e.ContentLength() != r.ContentLength {
			t.Fatalf("entity %#v", r.Entity)
		}
		if got, want := string(e.Data), in[len(want):]; got != want {
			t.Errorf("body %q, want %q", got, want)
		}
	}
}

// TestParserAllocs: a typical head costs at most two allocations (the
// Request and, past the inline buffer, its head copy).
func TestParserAllocs(t *testing.T) {
	p := NewParser(ParserSettings{})
	small := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { p.Next(small) }); n > 1 {
		t.Errorf("small head: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { p.Next(browserGET) }); n > 2 {
		t.Errorf("browser head: %v allocations, want <= 2", n)
	}
}

// TestParserBytesPerRequest: a request keeps its target and its field
// lines but their ends, one after the other, and nothing else of its head:
// a load generator's request fits the smallest request object.
func TestParserBytesPerRequest(t *testing.T) {
	for _, c := range []struct {
		name string
		head string
		want uint64
	}{
		{"wrk", plaintextGET, 384},
		{"h2load", "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:20011\r\nUser-Agent: h2load nghttp2/1.59.0\r\n\r\n", 448},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewParser(ParserSettings{})
			in := []byte(c.head)
			ev, _ := p.Next(in)
			r := ev.Request
			kept := r.Target
			for _, h := range r.Header {
				kept += h.Name + ": " + h.Value
			}
			// Contiguous: the last value ends len(kept) bytes after the
			// target's start.
			last := r.Header[len(r.Header)-1].Value
			if end := addr(last) + uintptr(len(last)); end != addr(r.Target)+uintptr(len(kept)) {
				t.Errorf("the kept strings are not one after the other")
			}
			// The least of a few batches: what else the process allocates
			// meanwhile (the race detector, the testing package) only adds.
			const runs = 1000
			got := uint64(math.MaxUint64)
			for range 5 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range runs {
					p.Next(in)
				}
				runtime.ReadMemStats(&after)
				got = min(got, (after.TotalAlloc-before.TotalAlloc)/runs)
			}
			if got != c.want {
				t.Errorf("%d bytes per request, want %d", got, c.want)
			}
		})
	}
}

// addr is where s's bytes are, as a number: pointer arithmetic past the
// end of an allocation is not allowed (checkptr).
func addr(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }

// TestParserBodyWithHead: a body that arrived with its head is the
// request's own, in the request's object when both fit one, otherwise in
// memory of its own exactly its size (2 allocations), and a large head
// with its body in one piece of memory (3 allocations).
func TestParserBodyWithHead(t *testing.T) {
	type bodyCase struct {
		name    string
		head    string
		body    int
		allocs  float64
		ownBody bool // the body is not in the head's memory
	}
	cases := []bodyCase{
		{"small body", "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n", 20, 1, false},
		{"4 KiB body", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n", 4096, 2, true},
		{"large head", "POST / HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat("c", 2000) + "\r\nContent-Length: 100\r\n\r\n", 100, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("b"), c.body)
			in := append([]byte(c.head), body...)
			p := NewParser(ParserSettings{})
			ev, n := p.Next(in)
			if ev.Kind != RequestHead || ev.Body != BodyNone || n != len(in) {
				t.Fatalf("got %v (body %v) after %d bytes, want a whole request of %d", ev.Kind, ev.Body, n, len(in))
			}
			r := ev.Request
			got, ok := r.Entity.(*entity.Strict)
			if !ok || !bytes.Equal(got.Data, body) || got.Type != r.ContentType {
				t.Fatalf("entity %#v, want the body as a Strict of type %q", r.Entity, r.ContentType)
			}
			if cap(got.Data) != len(got.Data) {
				t.Errorf("the body's cap is %d, want its length %d (an append must not reach other memory)", cap(got.Data), len(got.Data))
			}
			// The body follows the last field's value in the same memory,
			// or not.
			last := r.Header[len(r.Header)-1].Value
			sameMemory := uintptr(unsafe.Pointer(&got.Data[0])) == addr(last)+uintptr(len(last))
			if sameMemory == c.ownBody {
				t.Errorf("body in the head's memory: %v, want %v", sameMemory, !c.ownBody)
			}
			in[len(in)-1] = 'X' // the input is not the request's
			if got.Data[len(got.Data)-1] != 'b' {
				t.Error("the body aliases the input")
			}
			if a := testing.AllocsPerRun(100, func() { p.Next(in) }); a != c.allocs {
				t.Errorf("%v allocations, want %v", a, c.allocs)
			}
		})
	}
}

// The request-with-buffer structs are sized to fill runtime size classes;
// a field added to Request must come with new buffer sizes.
func TestRequestSizeClasses(t *testing.T) {
	for _, c := range []struct {
		name string
		size uintptr
		want uintptr
	}{
		{"request384", unsafe.Sizeof(request384{}), 384}, // small enough for no allocation header
		{"request448", unsafe.Sizeof(request448{}), 448},
		{"request512", unsafe.Sizeof(request512{}), 512},
		{"request640", unsafe.Sizeof(request640{}) + 8, 640}, // + the allocation header
		{"request1024", unsafe.Sizeof(request1024{}) + 8, 1024},
		{"request1280", unsafe.Sizeof(request1280{}) + 8, 1280},
		{"request1792", unsafe.Sizeof(request1792{}) + 8, 1792},
	} {
		if c.size != c.want {
			t.Errorf("sizeof %s = %d, want %d (resize its buf to fill the size class)", c.name, c.size, c.want)
		}
	}
}
