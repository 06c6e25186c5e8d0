package llhttpcorpus

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corpus is the corpus the parser test and the conformance program use.
var corpus = filepath.Join("..", "..", "httpcore", "testdata", "llhttp", "cases.jsonl")

// writeCorpus writes lines as a corpus file and returns its path.
func writeCorpus(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cases.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// caseLine is a corpus line for a case with the given fields.
func caseLine(file string, line int, typ, raw, outcome string, messages int, reason string) string {
	e := "null"
	if reason != "" {
		e = fmt.Sprintf(`{"code": 4, "reason": %q}`, reason)
	}
	return fmt.Sprintf(`{"file": %q, "line": %d, "headings": ["H", %q], "type": %q, "meta": {}, "raw_b64": %q, "outcome": %q, "messages": %d, "error": %s}`,
		file, line, typ, typ, base64.StdEncoding.EncodeToString([]byte(raw)), outcome, messages, e)
}

func TestLoad(t *testing.T) {
	for _, c := range []struct {
		name    string
		lines   []string
		want    []Case
		wantErr string // a part of the error; "" for none
	}{
		{
			name: "cases in file order, bytes decoded",
			lines: []string{
				caseLine("test/request/uri.md", 9, "request", "GET /a HTTP/1.1\r\n\r\n", "ok", 1, ""),
				caseLine("test/request/method.md", 3, "request-lenient-headers", "X", "error", 0, "Invalid method"),
				caseLine("test/request/connection.md", 5, "request", "GET / HTTP/1.1\r\nUpgrade: ws\r\n\r\n", "upgrade", 1, "Pause on CONNECT/Upgrade"),
			},
			want: []Case{
				{File: "test/request/uri.md", Line: 9, Headings: []string{"H", "request"}, Type: "request", Raw: []byte("GET /a HTTP/1.1\r\n\r\n"), Outcome: "ok", Messages: 1},
				{File: "test/request/method.md", Line: 3, Headings: []string{"H", "request-lenient-headers"}, Type: "request-lenient-headers", Raw: []byte("X"), Outcome: "error", Reason: "Invalid method"},
				{File: "test/request/connection.md", Line: 5, Headings: []string{"H", "request"}, Type: "request", Raw: []byte("GET / HTTP/1.1\r\nUpgrade: ws\r\n\r\n"), Outcome: "upgrade", Messages: 1, Reason: "Pause on CONNECT/Upgrade"},
			},
		},
		{
			name:  "empty",
			lines: nil,
			want:  nil,
		},
		{
			name:    "not JSON",
			lines:   []string{caseLine("test/request/uri.md", 9, "request", "GET", "ok", 0, ""), "{"},
			wantErr: "cases.jsonl:2: ",
		},
		{
			name:    "raw_b64 does not decode",
			lines:   []string{`{"file": "test/request/uri.md", "line": 1, "type": "request", "raw_b64": "!!", "outcome": "ok"}`},
			wantErr: "cases.jsonl:1: raw_b64: ",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Load(writeCorpus(t, c.lines...))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Load: error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("Load (-want +got):\n%s", d)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestStrictRequests(t *testing.T) {
	for _, c := range []struct {
		name    string
		lines   []string
		want    []string // keys
		wantErr error
	}{
		{
			name: "type exactly request, by file and line",
			lines: []string{
				caseLine("test/request/uri.md", 20, "request", "A", "ok", 0, ""),
				caseLine("test/request/uri.md", 10, "request", "B", "ok", 0, ""),
				caseLine("test/request/method.md", 30, "request", "C", "error", 0, "Invalid method"),
				caseLine("test/request/uri.md", 15, "request-lenient-headers", "D", "ok", 0, ""),
				caseLine("test/request/finish.md", 1, "request-finish", "E", "ok", 0, ""),
				caseLine("test/response/sample.md", 1, "response", "F", "ok", 1, ""),
				caseLine("test/url.md", 1, "url", "G", "ok", 0, ""),
			},
			want: []string{"method.md:30", "uri.md:10", "uri.md:20"},
		},
		{
			name:    "no strict request case",
			lines:   []string{caseLine("test/request/uri.md", 15, "request-lenient-headers", "D", "ok", 0, "")},
			wantErr: ErrNoRequests,
		},
		{
			name:    "empty",
			wantErr: ErrNoRequests,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cases, err := StrictRequests(writeCorpus(t, c.lines...))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("StrictRequests: error %v, want %v", err, c.wantErr)
			}
			var got []string
			for _, c := range cases {
				got = append(got, c.Key())
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("StrictRequests (-want +got):\n%s", d)
			}
		})
	}
}

// TestCorpus checks the real corpus against the tables: every deviation
// names a strict request case, and every rejected case has a reason.
func TestCorpus(t *testing.T) {
	cases, err := StrictRequests(corpus)
	if err != nil {
		t.Fatal(err)
	}
	strict := map[string]bool{}
	for _, c := range cases {
		if !c.Strict() {
			t.Errorf("%s: type %q selected", c.Key(), c.Type)
		}
		if c.Outcome == "error" && c.Reason == "" {
			t.Errorf("%s: rejected by llhttp without a reason", c.Key())
		}
		strict[c.Key()] = true
	}
	for key := range Deviations() {
		if !strict[key] {
			t.Errorf("deviation %s names no strict request case", key)
		}
	}
}

func TestKey(t *testing.T) {
	for _, c := range []struct {
		c    Case
		want string
	}{
		{Case{File: "test/request/transfer-encoding.md", Line: 754}, "transfer-encoding.md:754"},
		{Case{File: "uri.md", Line: 7}, "uri.md:7"},
	} {
		if got := c.c.Key(); got != c.want {
			t.Errorf("Key of %s line %d = %q, want %q", c.c.File, c.c.Line, got, c.want)
		}
	}
}

func TestInsertHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"\r\nGET / HTTP/1.1\r\nX: 1\r\n\r\n", "\r\nGET / HTTP/1.1\r\nHost: example.com\r\nX: 1\r\n\r\n"},
		{"GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"},
		{"GET / HTTP/1.1\r\nX: 1\r\n\r\nHost: body\r\n", "GET / HTTP/1.1\r\nHost: example.com\r\nX: 1\r\n\r\nHost: body\r\n"},
		{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"},
		{"GET / HTTP/1.1", "GET / HTTP/1.1"},
		{"", ""},
	} {
		if got := string(insertHost([]byte(c.in))); got != c.want {
			t.Errorf("insertHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// fakeParser frames requests as heads ending in an empty line, followed by
// Content-Length bytes of body when the head has that field. A head that
// starts with "BAD" fails. It records the heads it saw.
type fakeParser struct {
	body  int // body bytes still to come
	heads []string
}

func (p *fakeParser) next(b []byte) (int, Step) {
	if p.body > 0 {
		n := min(p.body, len(b))
		if n == 0 {
			return 0, Stop
		}
		p.body -= n
		if p.body > 0 {
			return n, InMessage
		}
		return n, MessageDone
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 || bytes.HasPrefix(b, []byte("BAD")) {
		return 0, Stop
	}
	head := string(b[:end+4])
	p.heads = append(p.heads, head)
	if _, v, ok := strings.Cut(head, "Content-Length: "); ok {
		n, err := strconv.Atoi(v[:strings.Index(v, "\r\n")])
		if err == nil && n > 0 {
			p.body = n
			return end + 4, InMessage
		}
	}
	return end + 4, MessageDone
}

func TestWithHosts(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        string
		want      string
		wantHeads []string // what the parser saw
	}{
		{
			name:      "every request of a pipeline; not a body that looks like a request",
			in:        "POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\n\r\n",
			want:      "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\nHost: example.com\r\n\r\n",
			wantHeads: []string{"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 18\r\n\r\n", "PUT / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		},
		{
			name:      "HTTP/1.0 and a request with Host are left alone",
			in:        "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHOST: a\r\n\r\n",
			want:      "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nHOST: a\r\n\r\n",
			wantHeads: []string{"GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHOST: a\r\n\r\n"},
		},
		{
			name:      "an incomplete last request still gets one",
			in:        "GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX: 1\r\n",
			want:      "GET / HTTP/1.1\r\nHost: example.com\r\n\r\nGET /b HTTP/1.1\r\nHost: example.com\r\nX: 1\r\n",
			wantHeads: []string{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		},
		{
			name:      "after a failure the rest is left as it is",
			in:        "GET / HTTP/1.1\r\n\r\nBAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
			want:      "GET / HTTP/1.1\r\nHost: example.com\r\n\r\nBAD / HTTP/1.1\r\nHost: example.com\r\n\r\nGET / HTTP/1.1\r\n\r\n",
			wantHeads: []string{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		},
		{
			name: "empty",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.in)
			p := &fakeParser{}
			got := string(WithHosts(raw, p.next))
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("WithHosts (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.wantHeads, p.heads); d != "" {
				t.Errorf("heads the parser saw (-want +got):\n%s", d)
			}
			if string(raw) != c.in {
				t.Errorf("WithHosts changed its input to %q", raw)
			}
		})
	}
}

type method string

func TestMethods(t *testing.T) {
	want := []method{"REPORT", "M-SEARCH", "PURGE", "SEARCH", "LINK", "UNLINK", "SOURCE", "QUERY"}
	got := Methods[method]()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Methods (-want +got):\n%s", d)
	}
	got[0] = "CHANGED"
	if d := cmp.Diff(want, Methods[method]()); d != "" {
		t.Errorf("Methods after a caller changed its slice (-want +got):\n%s", d)
	}
}

func TestDeviations(t *testing.T) {
	key := regexp.MustCompile(`^[a-z-]+\.md:[1-9][0-9]*$`)
	devs := Deviations()
	if len(devs) != 16 {
		t.Errorf("%d deviations, want 16", len(devs))
	}
	for k, why := range devs {
		if !key.MatchString(k) {
			t.Errorf("deviation key %q is not file.md:line", k)
		}
		if strings.TrimSpace(why) == "" {
			t.Errorf("deviation %s has no reason", k)
		}
	}
	for k := range devs {
		delete(devs, k)
	}
	if len(Deviations()) != 16 {
		t.Error("Deviations shares its map with the caller")
	}
	// The fragment is what rejects these two, before the transfer coding.
	for _, k := range []string{"transfer-encoding.md:754", "transfer-encoding.md:796"} {
		if why := Deviations()[k]; !strings.Contains(why, "fragment") || !strings.Contains(why, "400") {
			t.Errorf("deviation %s: reason %q does not name the fragment and the 400", k, why)
		}
	}
}
