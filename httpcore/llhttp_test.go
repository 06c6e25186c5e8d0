package httpcore

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLLHTTPCorpus runs the request cases of llhttp's test suite
// (testdata/llhttp: its cases as JSON lines, MIT licence; see SOURCE.txt).
//
// Selection: the cases whose type is exactly "request". llhttp marks the
// cases that run with a leniency flag by the type ("request-lenient-
// headers", "request-lenient-chunked-length", ...), and "request-finish"
// cases test its finish call, not parsing; meta flags such as noScan and
// pause only steer llhttp's own harness.
//
// Each case is parsed as a connection would: a "Host: example.com" field
// is added to every HTTP/1.1 request of the input that has none (RFC 9112
// §3.2 requires it, llhttp does not check), and the connection stops after
// a complete upgrade (Connection: upgrade with an Upgrade field) or CONNECT
// request, where llhttp pauses. Then:
//
//   - a case llhttp accepts with n complete messages must give n complete
//     messages and no error (n = 0: an incomplete message, no error);
//   - a case llhttp rejects must be rejected;
//   - a deliberate deviation is listed in llhttpDeviations with its reason,
//     and must still deviate (so the table stays exact).
func TestLLHTTPCorpus(t *testing.T) {
	cases := readLLHTTPCases(t)
	s := ParserSettings{CustomMethods: llhttpMethods}
	var accepted, incomplete, rejected, deviated int
	seen := map[string]bool{}
	for _, c := range cases {
		if c.Type != "request" {
			continue
		}
		key := fmt.Sprintf("%s:%d", filepath.Base(c.File), c.Line)
		seen[key] = true
		raw, err := base64.StdEncoding.DecodeString(c.RawB64)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		in := withHosts(raw)
		got := corpusRun(t, s, in)
		llhttpOK := c.Outcome != "error"
		var mismatch string
		switch {
		case llhttpOK && got.failed:
			mismatch = fmt.Sprintf("llhttp accepts it with %d messages; we reject it after %d: %+v", c.Messages, got.messages, got.err)
		case llhttpOK && got.messages != c.Messages:
			mismatch = fmt.Sprintf("llhttp parses %d messages, we parse %d", c.Messages, got.messages)
		case !llhttpOK && !got.failed:
			mismatch = fmt.Sprintf("llhttp rejects it (%s); we accept %d messages", c.Error.Reason, got.messages)
		}
		why, isDeviation := llhttpDeviations[key]
		switch {
		case isDeviation && mismatch == "":
			t.Errorf("%s %q: listed as a deviation (%s) but we agree with llhttp now", key, c.Headings, why)
		case isDeviation:
			deviated++
		case mismatch != "":
			t.Errorf("%s %q: %s\ninput %q", key, c.Headings, mismatch, in)
		case !llhttpOK:
			rejected++
		case c.Messages == 0:
			incomplete++
		default:
			accepted++
		}
	}
	for key := range llhttpDeviations {
		if !seen[key] {
			t.Errorf("deviation %s names no strict request case", key)
		}
	}
	t.Logf("llhttp strict request cases: %d accepted and matched, %d incomplete and accepted, %d rejected and matched, %d deviations",
		accepted, incomplete, rejected, deviated)
	if accepted == 0 || rejected == 0 {
		t.Error("no cases ran")
	}
}

// llhttpMethods are the methods beyond RFC 9110 that llhttp accepts for
// HTTP, registered as a server that wants them would. (RTSP and ICE
// methods are not: those protocols are not HTTP.)
var llhttpMethods = []Method{"REPORT", "M-SEARCH", "PURGE", "SEARCH", "LINK", "UNLINK", "SOURCE", "QUERY"}

// llhttpDeviations are the strict request cases where we deliberately
// differ from llhttp, keyed by file:line, with the reason.
var llhttpDeviations = map[string]string{
	"connection.md:84":         "RFC 9112 §9.6: data after a request that closes is the connection's to ignore (the server closes after the response); the parser parses on",
	"connection.md:297":        "RFC 9112 §9.6: as connection.md:84, after Connection: close",
	"connection.md:347":        "RFC 9112 §9.6: as connection.md:84, after Connection: close",
	"content-length.md:447":    "skipBody is llhttp's callback skipping a body; for a request the body is Content-Length bytes (RFC 9112 §6.3), so the second request is body",
	"uri.md:7":                 "RFC 3986 §2: '\"' and '\\' are not URI characters (RFC 9112 §3.2: 400)",
	"uri.md:105":               "RFC 3986 §2: '|' is not a URI character (RFC 9112 §3.2: 400)",
	"uri.md:168":               "RFC 9112 §3.2: a request-target has no fragment",
	"uri.md:225":               "RFC 9110 §4.2.4: userinfo in an http(s) URI is an error",
	"method.md:138":            "RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS",
	"method.md:375":            "ICE/1.0 is not HTTP (RFC 9112 §2.3: HTTP-version)",
	"method.md:405":            "RTSP/1.0 is not HTTP (RFC 9112 §2.3: HTTP-version)",
	"method.md:433":            "RTSP/1.0 is not HTTP (RFC 9112 §2.3: HTTP-version)",
	"method.md:461":            "RFC 9113 §3.4: PRI is the HTTP/2 connection preface; this HTTP/1.1 parser answers 501",
	"sample.md:317":            "RFC 9112 §3: a request line needs an HTTP-version (HTTP/0.9 is not supported)",
	"transfer-encoding.md:754": "RFC 9112 §6.1: a transfer coding other than chunked (deflate) is not implemented: 501",
	"transfer-encoding.md:796": "RFC 9112 §6.1: as transfer-encoding.md:754, in two fields",
}

// llhttpCase is one line of cases.jsonl.
type llhttpCase struct {
	File     string
	Line     int
	Headings []string
	Type     string
	RawB64   string `json:"raw_b64"`
	Outcome  string // ok, upgrade or error
	Messages int    // complete messages
	Error    *struct{ Reason string }
}

func readLLHTTPCases(t *testing.T) []llhttpCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "llhttp", "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []llhttpCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c llhttpCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("cases.jsonl: %v", err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].File < cases[j].File })
	return cases
}

// corpusResult is what a connection makes of a corpus input.
type corpusResult struct {
	messages int
	failed   bool
	err      *errRec
}

// corpusRun parses in whole, requires byte-by-byte feeding to give the same
// events, and counts the complete messages up to the end of the input, a
// failure, or a complete upgrade or CONNECT request.
func corpusRun(t *testing.T, s ParserSettings, in []byte) corpusResult {
	t.Helper()
	whole := feed(t, s, in)
	var bytewise [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
	}
	if d := cmp.Diff(normalize(whole.events), normalize(feed(t, s, bytewise...).events)); d != "" {
		t.Errorf("input %q: byte by byte differs (-whole +bytewise):\n%s", in, d)
	}
	var res corpusResult
	var cur *reqRec
	for _, e := range whole.events {
		complete := false
		switch e.Kind {
		case "RequestHead":
			cur = e.Req
			complete = e.Body == "none"
		case "MessageEnd":
			complete = true
		case "Failed":
			res.failed, res.err = true, e.Err
			return res
		}
		if complete {
			res.messages++
			if cur.Method == "CONNECT" || cur.Upgrade && hasField(cur.Header, "Upgrade") {
				return res
			}
		}
	}
	return res
}

func hasField(h []Header, name string) bool { return Headers(h).Has(name) }

// withHosts adds "Host: example.com" after the request line of every
// HTTP/1.1 request in raw that has no Host field. It finds the requests
// with a parser, so that a body that looks like a request is left alone.
func withHosts(raw []byte) []byte {
	p := NewParser(ParserSettings{CustomMethods: llhttpMethods})
	var out []byte
	rest := append([]byte(nil), raw...)
	atStart := true
	for {
		if atStart {
			rest = insertHost(rest)
			atStart = false
		}
		ev, n := p.Next(rest)
		out, rest = append(out, rest[:n]...), rest[n:]
		switch ev.Kind {
		case NeedMore, Failed:
			return append(out, rest...)
		case RequestHead:
			atStart = ev.Body == BodyNone
		case MessageEnd:
			atStart = true
		}
	}
}

// insertHost adds the Host field to the request at the start of b, if it is
// HTTP/1.1 and has none in the lines before the first empty line.
func insertHost(b []byte) []byte {
	start := 0
	for bytes.HasPrefix(b[start:], []byte("\r\n")) {
		start += 2
	}
	eol := bytes.Index(b[start:], []byte("\r\n"))
	if eol < 0 || !bytes.HasSuffix(b[start:start+eol], []byte(" HTTP/1.1")) {
		return b
	}
	fields := b[start+eol+2:]
	if e := bytes.Index(fields, []byte("\r\n\r\n")); e >= 0 {
		fields = fields[:e+2]
	}
	for _, line := range bytes.Split(fields, []byte("\r\n")) {
		if len(line) >= 5 && bytes.EqualFold(line[:5], []byte("host:")) {
			return b
		}
	}
	at := start + eol + 2
	return append(append(append([]byte(nil), b[:at]...), "Host: example.com\r\n"...), b[at:]...)
}

func TestInsertHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"\r\nGET / HTTP/1.1\r\nX: 1\r\n\r\n", "\r\nGET / HTTP/1.1\r\nHost: example.com\r\nX: 1\r\n\r\n"},
		{"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"},
		{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"},
		{"GET / HTTP/1.1", "GET / HTTP/1.1"},
	} {
		if got := string(insertHost([]byte(c.in))); got != c.want {
			t.Errorf("insertHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Every request of a pipeline gets one; a body that looks like a
	// request does not.
	in := "POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\n\r\n"
	want := "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\nHost: example.com\r\n\r\n"
	if got := string(withHosts([]byte(in))); got != want {
		t.Errorf("withHosts:\n got %q\nwant %q", got, want)
	}
}
