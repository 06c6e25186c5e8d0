package httpcore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/internal/llhttpcorpus"
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
//   - a deliberate deviation is listed in llhttpcorpus.Deviations with its
//     reason, and must still deviate (so the table stays exact).
func TestLLHTTPCorpus(t *testing.T) {
	cases, err := llhttpcorpus.StrictRequests(filepath.Join("testdata", "llhttp", "cases.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	deviations := llhttpcorpus.Deviations()
	s := ParserSettings{CustomMethods: llhttpcorpus.Methods[Method]()}
	var accepted, incomplete, rejected, deviated int
	seen := map[string]bool{}
	for _, c := range cases {
		key := c.Key()
		seen[key] = true
		in := llhttpcorpus.WithHosts(c.Raw, corpusNext(s))
		got := corpusRun(t, s, in)
		llhttpOK := c.Outcome != "error"
		var mismatch string
		switch {
		case llhttpOK && got.failed:
			mismatch = fmt.Sprintf("llhttp accepts it with %d messages; we reject it after %d: %+v", c.Messages, got.messages, got.err)
		case llhttpOK && got.messages != c.Messages:
			mismatch = fmt.Sprintf("llhttp parses %d messages, we parse %d", c.Messages, got.messages)
		case !llhttpOK && !got.failed:
			mismatch = fmt.Sprintf("llhttp rejects it (%s); we accept %d messages", c.Reason, got.messages)
		}
		why, isDeviation := deviations[key]
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
	for key := range deviations {
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

// corpusNext is a fresh parser with settings s as llhttpcorpus.WithHosts
// uses it to find where the requests of an input start.
func corpusNext(s ParserSettings) llhttpcorpus.NextFunc {
	p := NewParser(s)
	return func(b []byte) (int, llhttpcorpus.Step) {
		ev, n := p.Next(b)
		switch {
		case ev.Kind == NeedMore || ev.Kind == Failed:
			return n, llhttpcorpus.Stop
		case ev.Kind == RequestHead && ev.Body == BodyNone || ev.Kind == MessageEnd:
			return n, llhttpcorpus.MessageDone
		}
		return n, llhttpcorpus.InMessage
	}
}

// TestCorpusNext checks the parser as WithHosts runs it: every request of a
// pipeline gets a Host field, a body that looks like a request does not.
func TestCorpusNext(t *testing.T) {
	s := ParserSettings{CustomMethods: llhttpcorpus.Methods[Method]()}
	for _, c := range []struct{ name, in, want string }{
		{
			name: "pipeline with a body",
			in:   "POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\n\r\n",
			want: "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "chunked body, then a custom method",
			in:   "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nREPORT / HTTP/1.1\r\n\r\n",
			want: "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nREPORT / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "the rest after a failure is left alone",
			in:   "GET / HTTP/1.1\r\nBad Field\r\n\r\nGET / HTTP/1.1\r\n\r\n",
			want: "GET / HTTP/1.1\r\nHost: example.com\r\nBad Field\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		},
	} {
		if d := cmp.Diff(c.want, string(llhttpcorpus.WithHosts([]byte(c.in), corpusNext(s)))); d != "" {
			t.Errorf("%s: WithHosts (-want +got):\n%s", c.name, d)
		}
	}
}
