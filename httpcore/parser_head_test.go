package httpcore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sizedHead returns a GET head of exactly n bytes (n >= 32): the request
// line, Host: a, and one field X whose value pads it.
func sizedHead(n int) string {
	const fixed = len("GET / HTTP/1.1\r\n" + hostA + "X: \r\n\r\n")
	return "GET / HTTP/1.1\r\n" + hostA + "X: " + strings.Repeat("v", n-fixed) + "\r\n\r\n"
}

// bigHead returns a GET head of exactly n bytes made of fields within the
// default field limits (4000-byte values, so under 64 fields for 64 KiB);
// without the empty line that ends it when open is set.
func bigHead(n int, open bool) string {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n" + hostA)
	for k := 0; n-b.Len()-2 > 8000; k++ {
		fmt.Fprintf(&b, "X-Pad-%02d: %s\r\n", k, strings.Repeat("v", 4000))
	}
	b.WriteString("X-Last: " + strings.Repeat("v", n-b.Len()-len("X-Last: \r\n\r\n")) + "\r\n")
	if !open {
		b.WriteString("\r\n")
	}
	return b.String()
}

// TestParserHeadSize: MaxHeadSize bounds the request line, the fields and
// their CRLFs together (431; 414 while in the request line), decided at the
// byte that passes it, so a head that never ends is rejected as well.
func TestParserHeadSize(t *testing.T) {
	small := ParserSettings{MaxHeadSize: 64}
	get := req("GET", "/", "Host", "a", "X", strings.Repeat("v", 32))
	runWireCases(t, []wireCase{{
		name: "a head at the limit",
		in:   sizedHead(64),
		s:    small,
		want: []evRec{head(get, BodyNone)},
	}, {
		name: "a head one byte over the limit -> 431 MaxHeadSize",
		in:   sizedHead(65),
		s:    small,
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "a field value that never ends -> 431 MaxHeadSize at the limit",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: " + strings.Repeat("v", 100),
		s:    small,
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "short fields that never end -> 431 MaxHeadSize",
		in:   "GET / HTTP/1.1\r\n" + hostA + strings.Repeat("A: 1\r\n", 10),
		s:    small,
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "a missing Host is not looked at in a head past the limit -> 431",
		in:   "GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 42) + "\r\n\r\n",
		s:    small,
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "an error within the limit comes first -> 400",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: a\x00" + marker + strings.Repeat("v", 100) + "\r\n\r\n",
		s:    small,
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "an error past the limit is not reached -> 431",
		in:   "GET / HTTP/1.1\r\n" + hostA + "X: " + strings.Repeat("v", 60) + "\x00" + marker + "\r\n\r\n",
		s:    small,
		want: []evRec{fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "§3.2 a request-target past the head limit -> 414 MaxHeadSize",
		in:   "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n" + hostA + "\r\n",
		s:    small,
		want: []evRec{fails(StatusURITooLong, "MaxHeadSize")},
	}, {
		name: "§3.2 a request-target past its own limit first -> 414 MaxURILength",
		in:   "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n" + hostA + "\r\n",
		s:    ParserSettings{MaxHeadSize: 64, MaxURILength: 10},
		want: []evRec{fails(StatusURITooLong, "MaxURILength")},
	}, {
		name: "§3 a request line that ends past the head limit -> 414 MaxHeadSize",
		in:   "GET /" + strings.Repeat("a", 49) + " HTTP/1.1\r\n" + hostA + "\r\n",
		s:    small,
		want: []evRec{fails(StatusURITooLong, "MaxHeadSize")},
	}, {
		name: "§3 a method past the head limit -> 400 MaxHeadSize",
		in:   "ABCDEFGHIJ / HTTP/1.1\r\n" + hostA + "\r\n",
		s:    ParserSettings{MaxHeadSize: 8},
		want: []evRec{fails(StatusBadRequest, "MaxHeadSize")},
	}, {
		name: "§2.2 empty lines before the request line do not count",
		in:   "\r\n\r\n\r\n" + sizedHead(64),
		s:    small,
		want: []evRec{head(get, BodyNone)},
	}, {
		name: "§6 the body does not count",
		in:   "POST / HTTP/1.1\r\n" + hostA + "Content-Length: 100\r\n\r\n" + strings.Repeat("b", 100),
		s:    ParserSettings{MaxHeadSize: 49},
		want: []evRec{head(req("POST", "/", "Host", "a", "Content-Length", "100").cl(100).strict(strings.Repeat("b", 100)), BodyNone)},
	}, {
		name: "§9.3 each pipelined head has its own limit",
		in:   sizedHead(64) + sizedHead(64) + sizedHead(65),
		s:    small,
		want: []evRec{head(get, BodyNone), head(get, BodyNone), fails(StatusRequestHeaderFieldsTooLarge, "MaxHeadSize")},
	}, {
		name: "§7.1.2 a trailer section is bounded by MaxTrailerSize, not MaxHeadSize",
		in:   chunkedHead + "0\r\nX-Sum: " + strings.Repeat("c", 100) + "\r\n\r\n",
		s:    small,
		want: []evRec{chunkedHeadEv, last("", "X-Sum", strings.Repeat("c", 100)), end()},
	}})
}

// TestParserHeadSizeDefault: with the default limits, a head of 64 KiB is
// accepted and one byte more is not; a head of many fields each within
// their limits (the ~500 KB head of the audit) gets 431; and a head that
// never ends, arriving in 4 KiB reads as a connection feeds it, fails as
// soon as it passes 64 KiB, not later.
func TestParserHeadSizeDefault(t *testing.T) {
	atLimit := bigHead(DefaultMaxHeadSize, false)
	var fields []string
	for k := range 60 {
		fields = append(fields, fmt.Sprintf("X-Pad-%02d: %s\r\n", k, strings.Repeat("v", 8000)))
	}
	audit := "GET / HTTP/1.1\r\n" + hostA + strings.Join(fields, "") + "\r\n"
	for _, c := range []struct {
		name string
		in   string
		want EventKind
	}{
		{"64 KiB", atLimit, RequestHead},
		{"64 KiB and one byte", bigHead(DefaultMaxHeadSize+1, false), Failed},
		{"60 fields of 8000 bytes", audit, Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(c.in)
			whole := feed(t, ParserSettings{}, in)
			var reads [][]byte
			for len(in) > 0 {
				n := min(len(in), 4096)
				reads, in = append(reads, in[:n]), in[n:]
			}
			if d := cmp.Diff(whole, feed(t, ParserSettings{}, reads...), cmp.AllowUnexported(runResult{})); d != "" {
				t.Errorf("fed in 4 KiB reads (-whole +reads):\n%s", d)
			}
			if len(whole.events) != 1 || kindNames[c.want] != whole.events[0].Kind {
				t.Fatalf("events %+v, want one %s", whole.events, kindNames[c.want])
			}
			if e := whole.events[0].Err; c.want == Failed && (e.Status != StatusRequestHeaderFieldsTooLarge || e.Setting != "MaxHeadSize") {
				t.Errorf("error %+v, want 431 MaxHeadSize", e)
			}
		})
	}

	t.Run("a head that never ends", func(t *testing.T) {
		endless := []byte(bigHead(4*DefaultMaxHeadSize, true))
		p := NewParser(ParserSettings{})
		var buf []byte
		for fed := 0; fed < len(endless); {
			n := min(4096, len(endless)-fed)
			buf, fed = append(buf, endless[fed:fed+n]...), fed+n
			ev, k := p.Next(buf)
			buf = buf[k:]
			switch {
			case ev.Kind == NeedMore && fed <= DefaultMaxHeadSize:
				continue
			case ev.Kind == Failed && fed <= DefaultMaxHeadSize:
				t.Fatalf("failed after only %d bytes: %v", fed, ev.Err)
			case ev.Kind != Failed:
				t.Fatalf("%s after %d bytes", kindNames[ev.Kind], fed)
			case fed > DefaultMaxHeadSize+4096:
				t.Fatalf("failed only after %d bytes", fed)
			case ev.Err.Status != StatusRequestHeaderFieldsTooLarge || ev.Err.Setting != "MaxHeadSize":
				t.Fatalf("error %v, want 431 MaxHeadSize", ev.Err)
			}
			return
		}
		t.Fatal("no failure")
	})
}

// TestParserAbsoluteForm: for an absolute-form target an origin server
// uses the target's authority as the host, ignoring the Host field, which
// HTTP/1.1 still requires and which is still validated (RFC 9112 §3.2.2);
// an empty path is "/" (RFC 9110 §4.2.3). Target stays as sent.
func TestParserAbsoluteForm(t *testing.T) {
	abs := func(target, host string, u URI, kv ...string) reqRec {
		return req("GET", target, kv...).host(host).uri(u)
	}
	runWireCases(t, []wireCase{{
		name: "§3.2.2 an empty path is / (RFC 9110 §4.2.3)",
		in:   "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: []evRec{head(abs("http://example.com", "example.com", URI{Scheme: "http", Authority: "example.com", Path: "/"},
			"Host", "example.com"), BodyNone)},
	}, {
		name: "§3.2.2 an empty path before a query is /",
		in:   "GET http://example.com:8080?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		want: []evRec{head(abs("http://example.com:8080?x=1", "example.com:8080",
			URI{Scheme: "http", Authority: "example.com:8080", Path: "/", RawQuery: "x=1"}, "Host", "example.com:8080"), BodyNone)},
	}, {
		name: "§3.2.2 an empty path before an empty query is /",
		in:   "GET http://example.com? HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: []evRec{head(abs("http://example.com?", "example.com", URI{Scheme: "http", Authority: "example.com", Path: "/"},
			"Host", "example.com"), BodyNone)},
	}, {
		name: "§3.2.2 OPTIONS with an empty path: / (the asterisk-form of §3.2.4 is a proxy's to send)",
		in:   "OPTIONS http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
		want: []evRec{head(req("OPTIONS", "http://example.com", "Host", "example.com").host("example.com").
			uri(URI{Scheme: "http", Authority: "example.com", Path: "/"}), BodyNone)},
	}, {
		name: "§3.2.2 the Host is the target's authority, not the Host field",
		in:   "GET https://origin.example:8443/x?y HTTP/1.1\r\nHost: other.example\r\n\r\n",
		want: []evRec{head(abs("https://origin.example:8443/x?y", "origin.example:8443",
			URI{Scheme: "https", Authority: "origin.example:8443", Path: "/x", RawQuery: "y"}, "Host", "other.example"), BodyNone)},
	}, {
		name: "§3.2.2 an empty Host field is ignored too",
		in:   "GET http://[::1]:8080/ HTTP/1.1\r\nHost: \r\n\r\n",
		want: []evRec{head(abs("http://[::1]:8080/", "[::1]:8080", URI{Scheme: "http", Authority: "[::1]:8080", Path: "/"},
			"Host", ""), BodyNone)},
	}, {
		name: "§3.2.2 HTTP/1.0 without a Host field: the target's authority",
		in:   "GET http://example.com/old HTTP/1.0\r\n\r\n",
		want: []evRec{head(abs("http://example.com/old", "example.com", URI{Scheme: "http", Authority: "example.com", Path: "/old"}).
			proto(HTTP10).closing(), BodyNone)},
	}, {
		name: "§3.2 HTTP/1.1 absolute-form without a Host field -> 400",
		in:   "GET http://" + marker + ".example/ HTTP/1.1\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 absolute-form with an invalid Host field -> 400",
		in:   "GET http://example.com/ HTTP/1.1\r\nHost: " + marker + "@example.com\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 absolute-form with two Host fields -> 400",
		in:   "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nHost: example.com\r\n\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2.3 the authority-form of CONNECT leaves the Host field as the Host",
		in:   "CONNECT example.com:443 HTTP/1.1\r\nHost: proxy.example\r\n\r\n",
		want: []evRec{head(req("CONNECT", "example.com:443", "Host", "proxy.example").uri(URI{Authority: "example.com:443"}), BodyNone)},
	}})
}

// TestParserVersionFirst: a request line is judged whole: its syntax as it
// arrives, then its version (505 for a major version other than 1, RFC 9110
// §15.6.6, whatever the method and target: the HTTP/2 connection preface,
// RFC 9113 §3.4, included), then its method (501, RFC 9110 §9.1), then the
// form of its target.
func TestParserVersionFirst(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	runWireCases(t, []wireCase{{
		name: "RFC 9113 §3.4 HTTP/2 connection preface -> 505",
		in:   preface,
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "RFC 9113 §3.4 HTTP/2 connection preface with PRI registered -> 505",
		in:   preface,
		s:    ParserSettings{CustomMethods: []Method{"PRI"}},
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "§2.3 HTTP/2.0 with an unknown method -> 505",
		in:   marker + " / HTTP/2.0\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "§2.3 HTTP/3.0 with a target GET may not have -> 505",
		in:   "GET * HTTP/3.0\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "§2.3 HTTP/2.0 CONNECT with an origin-form target -> 505",
		in:   "CONNECT /" + marker + " HTTP/2.0\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusHTTPVersionNotSupported, "")},
	}, {
		name: "RFC 9110 §9.1 an unknown method waits for the end of the request line",
		in:   marker + " / HTTP/1.1",
		want: []evRec{},
	}, {
		name: "RFC 9110 §9.1 an unknown method with HTTP/1.0 -> 501",
		in:   marker + " / HTTP/1.0\r\n\r\n",
		want: []evRec{fails(StatusNotImplemented, "")},
	}, {
		name: "RFC 9110 §9.1 PRI with HTTP/1.1 -> 501, before the form of its target",
		in:   "PRI * HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusNotImplemented, "")},
	}, {
		name: "RFC 9110 §9.1 an unknown method with an absolute-form target -> 501",
		in:   marker + " http://a/ HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusNotImplemented, "")},
	}, {
		name: "§2.3 an unknown method with a malformed version -> 400",
		in:   marker + " / HTTP/1.x\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 an unknown method with a control byte in the target -> 400",
		in:   marker + " /\x01 HTTP/1.1\r\n" + hostA + "\r\n",
		want: []evRec{fails(StatusBadRequest, "")},
	}, {
		name: "§3.2 a registered method with HTTP/1.1 and its target checked at the end of the line",
		in:   "PURGE http://cdn.example/item HTTP/1.1\r\nHost: cdn.example\r\n\r\n",
		s:    ParserSettings{CustomMethods: []Method{"PURGE"}},
		want: []evRec{head(req("PURGE", "http://cdn.example/item", "Host", "cdn.example").host("cdn.example").
			uri(URI{Scheme: "http", Authority: "cdn.example", Path: "/item"}), BodyNone)},
	}})
}

// TestParserVersionReasons: the reasons tell the HTTP/2 preface, another
// major version and an unknown method apart.
func TestParserVersionReasons(t *testing.T) {
	for _, c := range []struct {
		in     string
		status Status
		reason string
	}{
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", StatusHTTPVersionNotSupported,
			"an HTTP/2 connection preface: only HTTP/1.0 and HTTP/1.1 are supported on this connection"},
		{"GET / HTTP/2.0\r\n" + hostA + "\r\n", StatusHTTPVersionNotSupported,
			"only HTTP/1.0 and HTTP/1.1 are supported on this connection"},
		{"PRI / HTTP/2.0\r\n" + hostA + "\r\n", StatusHTTPVersionNotSupported,
			"only HTTP/1.0 and HTTP/1.1 are supported on this connection"},
		{"PRI * HTTP/1.1\r\n" + hostA + "\r\n", StatusNotImplemented,
			"unsupported method (register it in ParserSettings.CustomMethods)"},
	} {
		ev, _ := NewParser(ParserSettings{}).Next([]byte(c.in))
		if ev.Kind != Failed || ev.Err.Status != c.status || ev.Err.Reason != c.reason {
			t.Errorf("%q: %s %+v, want %d %q", c.in, kindNames[ev.Kind], ev.Err, c.status, c.reason)
		}
	}
}
