// Package llhttpcorpus holds what httpcore's TestLLHTTPCorpus and the
// conformance program (internal/conformance) share about llhttp's test
// suite, so that the two cannot drift apart: the parser test feeds the
// cases to the parser alone, the program replays them against a live server.
//
// The corpus is llhttp's cases as JSON lines (httpcore/testdata/llhttp/
// cases.jsonl; see SOURCE.txt there). This package owns
//
//   - the case type and its loader, Load, which decodes each case's bytes;
//   - the selection of the strict request cases, StrictRequests: the cases
//     whose type is exactly "request" (llhttp marks the cases that run with
//     a leniency flag by the type, and "request-finish" cases test its
//     finish call, not parsing);
//   - the Host insertion, WithHosts: RFC 9112 §3.2 requires Host in an
//     HTTP/1.1 request and llhttp does not check, so "Host: example.com" is
//     added to every HTTP/1.1 request of a case that has none;
//   - the methods beyond RFC 9110 that llhttp accepts for HTTP, Methods;
//   - the deliberate deviations from llhttp with their reasons, Deviations.
//
// It does not import httpcore (httpcore's internal test imports this
// package): WithHosts takes the parser that finds the requests as a
// function.
package llhttpcorpus

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
)

// ErrNoRequests is returned by StrictRequests when the corpus holds no
// strict request case.
var ErrNoRequests = errors.New("llhttpcorpus: no strict request cases")

// Case is one case of the corpus, one line of cases.jsonl.
type Case struct {
	File     string   // the llhttp test file, such as "test/request/uri.md"
	Line     int      // the line of the case in File
	Headings []string // the Markdown headings above the case
	Type     string   // "request", "request-lenient-headers", "response", ...
	Raw      []byte   // the bytes llhttp parses (decoded from raw_b64)
	Outcome  string   // what llhttp makes of Raw: "ok", "upgrade" or "error"
	Messages int      // the messages llhttp completes
	// Reason is llhttp's reason for stopping: why it rejects the input for
	// outcome "error", where it pauses for "upgrade"; empty for "ok".
	Reason string
}

// Key names c as Deviations does: the base name of its file and its line,
// such as "uri.md:168".
func (c Case) Key() string { return fmt.Sprintf("%s:%d", filepath.Base(c.File), c.Line) }

// Strict reports whether c is a strict request case: its type is exactly
// "request".
func (c Case) Strict() bool { return c.Type == "request" }

// line is the JSON form of a Case.
type line struct {
	File     string
	Line     int
	Headings []string
	Type     string
	RawB64   string `json:"raw_b64"`
	Outcome  string
	Messages int
	Error    *struct{ Reason string }
}

// Load reads every case of the corpus at path, in the order of the file.
// It fails on a line that is not a case or whose bytes do not decode.
func Load(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []Case
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		raw, err := base64.StdEncoding.DecodeString(l.RawB64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: raw_b64: %w", path, n, err)
		}
		c := Case{File: l.File, Line: l.Line, Headings: l.Headings, Type: l.Type, Raw: raw, Outcome: l.Outcome, Messages: l.Messages}
		if l.Error != nil {
			c.Reason = l.Error.Reason
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cases, nil
}

// StrictRequests reads the corpus at path and returns its strict request
// cases, ordered by file and line. It returns ErrNoRequests (wrapped) when
// there are none.
func StrictRequests(path string) ([]Case, error) {
	all, err := Load(path)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, c := range all {
		if c.Strict() {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrNoRequests)
	}
	sort.SliceStable(cases, func(i, j int) bool {
		if cases[i].File != cases[j].File {
			return cases[i].File < cases[j].File
		}
		return cases[i].Line < cases[j].Line
	})
	return cases, nil
}

// Step is what a parser says about the bytes it consumed, for WithHosts.
type Step uint8

const (
	// InMessage: the bytes belong to a message that goes on.
	InMessage Step = iota
	// MessageDone: they complete a message; the next byte starts a request.
	MessageDone
	// Stop: the parser needs more input than there is, or failed; the rest
	// of the input is left as it is.
	Stop
)

// NextFunc is one step of a request parser run over a connection's bytes:
// it consumes n bytes of the start of b, as the parser's Next does, and
// says what they were. It returns Stop when it cannot go on with b.
type NextFunc func(b []byte) (n int, s Step)

// WithHosts returns raw with "Host: example.com" added after the request
// line of every HTTP/1.1 request that has no Host field. It finds the
// requests with next, which must be a fresh parser for this input, so a
// body that looks like a request is left alone; next sees each request
// with its Host field. raw is not modified.
func WithHosts(raw []byte, next NextFunc) []byte {
	var out []byte
	rest := append([]byte(nil), raw...)
	atStart := true
	for {
		if atStart {
			rest = insertHost(rest)
			atStart = false
		}
		n, s := next(rest)
		out, rest = append(out, rest[:n]...), rest[n:]
		switch s {
		case Stop:
			return append(out, rest...)
		case MessageDone:
			atStart = true
		}
	}
}

// insertHost adds the Host field to the request at the start of b, after
// any empty lines, when it is HTTP/1.1 and has no Host field in the lines
// before the first empty line. It returns b itself when it adds nothing.
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

// methods are the methods beyond RFC 9110 that llhttp accepts for HTTP.
// RTSP and ICE methods are not among them: those protocols are not HTTP.
var methods = []string{"REPORT", "M-SEARCH", "PURGE", "SEARCH", "LINK", "UNLINK", "SOURCE", "QUERY"}

// Methods returns the methods beyond RFC 9110 that llhttp accepts for HTTP
// (RTSP and ICE methods aside), for a parser to register as custom methods
// as a server that wants them would. M is the caller's method type, such
// as httpcore.Method. Each call returns a new slice.
func Methods[M ~string]() []M {
	ms := make([]M, len(methods))
	for i, m := range methods {
		ms[i] = M(m)
	}
	return ms
}

// deviations are the strict request cases where we deliberately differ
// from llhttp, keyed as Case.Key, with the reason.
var deviations = map[string]string{
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
	"method.md:461":            "RFC 9113 §3.4: PRI is the HTTP/2 connection preface; this HTTP/1.1 parser answers 505",
	"sample.md:317":            "RFC 9112 §3: a request line needs an HTTP-version (HTTP/0.9 is not supported)",
	"transfer-encoding.md:754": "RFC 9112 §3.2: a request-target has no fragment; this one has \"#hey\", so it is rejected with 400 before its transfer coding is looked at (as uri.md:168)",
	"transfer-encoding.md:796": "RFC 9112 §3.2: as transfer-encoding.md:754, a fragment (\"#hey\") in the request-target: 400 before the transfer coding is looked at",
}

// Deviations returns the strict request cases where we deliberately differ
// from llhttp, keyed as Case.Key ("file:line"), each with its reason, the
// RFC that asks for our behaviour. Each call returns a new map.
func Deviations() map[string]string { return maps.Clone(deviations) }
