// Command conformance runs the strict request cases of llhttp's test suite
// against a running server over real sockets: the wire-level twin of
// httpcore's TestLLHTTPCorpus, which feeds the same cases to the parser
// alone. scripts/conformance.sh (make conformance) runs it against the echo
// example.
//
// It reads the corpus (-corpus, httpcore/testdata/llhttp/cases.jsonl) and
// selects the cases TestLLHTTPCorpus selects: type exactly "request". Like
// that test it adds "Host: example.com" to every HTTP/1.1 request that has
// none. The selection, the Host insertion, the deliberate deviations and
// the methods a server would register to accept what llhttp accepts all
// come from internal/llhttpcorpus, which the test uses too, so that this
// program and the test cannot drift apart: the test keeps that table exact.
//
// For each case it dials the server, writes the bytes, half-closes its
// write side and reads until the server closes or -timeout passes. The
// responses are parsed in order (interim 1xx responses skipped) and judged:
//
//   - a case llhttp accepts with n complete messages must get at least n
//     responses, none of the first n a 4xx or 5xx (the echo server answers
//     any route it does not know with 200 "METHOD PATH bytes=N"). Further
//     responses must be errors: they answer the incomplete tail the server
//     saw when the input ended. After an upgrade or CONNECT request, where
//     llhttp stops, further responses are not judged.
//   - a case llhttp rejects after k complete messages must get k responses
//     that are not errors and then a 4xx or 5xx, or a close with no response
//     for the bad message; never a response that is not an error after it.
//   - a case that llhttp accepts only because a server registered one of its
//     methods as a custom method: the echo server registers none, so it must
//     answer 501 there (RFC 9110 §9.1). These are counted on their own.
//   - a case llhttp rejects for a malformed body, where the server answered
//     the request with a response that is not an error and then closed
//     without answering anything more: the route answered before it read
//     the body (GET / of the echo server never reads it), so it could not
//     see the error, and the bad bytes were never taken for a message.
//     These are counted on their own too.
//   - a deliberate deviation is reported with what the server did, not
//     judged.
//
// A server that neither answers nor closes within -timeout after the
// half-close fails the case, unless it had already given every response the
// case asks for (then the open connection is only noted).
//
// Usage (from the module root):
//
//	go run ./internal/conformance -addr 127.0.0.1:8080
//
// It prints one line per failure, deviation and noteworthy case, then the
// counts, ending with "llhttp: N passed, N failed"; it exits 1 when a case
// failed and 2 when it could not run.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/llhttpcorpus"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address of the server under test")
	corpus := flag.String("corpus", filepath.Join("httpcore", "testdata", "llhttp", "cases.jsonl"), "llhttp cases as JSON lines")
	timeout := flag.Duration("timeout", 5*time.Second, "how long one case may take, from dialling to the server's close")
	parallel := flag.Int("parallel", 8, "cases run at once")
	verbose := flag.Bool("v", false, "print every case, not only failures and notes")
	flag.Parse()
	if *parallel < 1 {
		fmt.Fprintln(os.Stderr, "conformance: -parallel must be at least 1")
		os.Exit(2)
	}

	devs, methods := llhttpcorpus.Deviations(), llhttpcorpus.Methods[httpcore.Method]()
	cases, err := llhttpcorpus.StrictRequests(*corpus)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	// Fail early and clearly when nothing listens.
	c, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: the server does not answer:", err)
		os.Exit(2)
	}
	c.Close()

	results := runAll(cases, *parallel, func(lc llhttpcorpus.Case) outcome {
		return judge(lc, devs, methods, *addr, *timeout)
	})
	if !report(os.Stdout, *addr, results, devs, *verbose) {
		os.Exit(1)
	}
}

// request is what the local parser makes of one request of a case.
type request struct {
	method httpcore.Method
	head   bool // HEAD: its response has no body
}

// scan parses in with settings s as a connection would, up to the end of the
// input or a failure. It returns the requests whose heads are complete and
// the failure, if any.
func scan(in []byte, s httpcore.ParserSettings) ([]request, *httpcore.ParseError) {
	p := httpcore.NewParser(s)
	var reqs []request
	for {
		ev, n := p.Next(in)
		in = in[n:]
		switch ev.Kind {
		case httpcore.NeedMore:
			return reqs, nil
		case httpcore.Failed:
			return reqs, ev.Err
		case httpcore.RequestHead:
			reqs = append(reqs, request{method: ev.Request.Method, head: ev.Request.Method == httpcore.MethodHead})
		}
	}
}

// hostNext is a fresh parser with settings s as llhttpcorpus.WithHosts
// uses it to find where the requests of an input start.
func hostNext(s httpcore.ParserSettings) llhttpcorpus.NextFunc {
	p := httpcore.NewParser(s)
	return func(b []byte) (int, llhttpcorpus.Step) {
		ev, n := p.Next(b)
		switch {
		case ev.Kind == httpcore.NeedMore || ev.Kind == httpcore.Failed:
			return n, llhttpcorpus.Stop
		case ev.Kind == httpcore.RequestHead && ev.Body == httpcore.BodyNone || ev.Kind == httpcore.MessageEnd:
			return n, llhttpcorpus.MessageDone
		}
		return n, llhttpcorpus.InMessage
	}
}

// exchange is what the server did with one case's bytes.
type exchange struct {
	statuses []int // final responses, in order
	interim  int   // 1xx responses
	closed   bool  // the server closed (EOF) before the deadline
	timedOut bool  // the deadline passed with the connection open
	writeErr error // writing the case failed (the server closed early)
	readErr  error // a read error other than EOF and the deadline
	badResp  error // bytes that are not a response, or a cut-off body
}

func (x exchange) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "statuses %v", x.statuses)
	if x.interim > 0 {
		fmt.Fprintf(&b, " (+%d interim)", x.interim)
	}
	switch {
	case x.closed:
		b.WriteString(", closed")
	case x.timedOut:
		b.WriteString(", still open at the deadline")
	}
	if x.writeErr != nil {
		fmt.Fprintf(&b, ", write: %v", x.writeErr)
	}
	if x.readErr != nil {
		fmt.Fprintf(&b, ", read: %v", x.readErr)
	}
	if x.badResp != nil {
		fmt.Fprintf(&b, ", unparsable response: %v", x.badResp)
	}
	return b.String()
}

// exchangeWith sends in to the server at addr, half-closes and parses what
// comes back; reqs says which responses answer HEAD requests.
func exchangeWith(addr string, in []byte, reqs []request, timeout time.Duration) (exchange, error) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return exchange{}, err
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return exchange{}, err
	}
	var x exchange
	if _, err := c.Write(in); err != nil {
		x.writeErr = err
	} else if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		x.writeErr = err
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	switch {
	case err == nil:
		x.closed = true
	case errors.As(err, &ne) && ne.Timeout():
		x.timedOut = true
	default:
		x.readErr = err
	}
	x.parse(got, reqs)
	return x, nil
}

// parse reads the responses in got, in request order.
func (x *exchange) parse(got []byte, reqs []request) {
	br := bufio.NewReader(bytes.NewReader(got))
	for {
		if _, err := br.Peek(1); err != nil {
			return
		}
		method := http.MethodGet
		if i := len(x.statuses); i < len(reqs) && reqs[i].head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			x.badResp = err
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 {
			x.interim++
		} else {
			x.statuses = append(x.statuses, resp.StatusCode)
		}
		if err != nil {
			x.badResp = fmt.Errorf("response %d: body: %w", len(x.statuses), err)
			return
		}
	}
}

// kind is how a case is counted.
type kind uint8

const (
	passed kind = iota
	failed
	deviation    // listed in llhttpcorpus.Deviations: reported, not judged
	unregistered // llhttp accepts a method the echo server does not register
	early        // answered before a malformed body was read, then closed
)

// outcome is the verdict on one case.
type outcome struct {
	c    llhttpcorpus.Case
	in   []byte
	kind kind
	why  string // for failed: the reason; otherwise a note, maybe empty
	x    exchange
}

// judge runs case lc against the server and judges the result.
func judge(lc llhttpcorpus.Case, devs map[string]string, methods []httpcore.Method, addr string, timeout time.Duration) outcome {
	o := outcome{c: lc}
	o.in = llhttpcorpus.WithHosts(lc.Raw, hostNext(httpcore.ParserSettings{CustomMethods: methods}))
	reqs, _ := scan(o.in, httpcore.ParserSettings{CustomMethods: methods})
	x, err := exchangeWith(addr, o.in, reqs, timeout)
	if err != nil {
		o.kind, o.why = failed, "dial: "+err.Error()
		return o
	}
	o.x = x

	// What a parser with the echo server's settings (no custom methods)
	// makes of the input: where it first says 501 for a method llhttp
	// accepts, the message the server must refuse; and whether its failure
	// is inside a body.
	plain, perr := scan(o.in, httpcore.ParserSettings{})
	refusedAt := -1
	if perr != nil && perr.Status == httpcore.StatusNotImplemented {
		if _, cerr := scan(o.in, httpcore.ParserSettings{CustomMethods: methods}); cerr == nil || cerr.Status != httpcore.StatusNotImplemented {
			refusedAt = len(plain)
		}
	}

	var verdict string
	switch {
	case lc.Outcome != "error":
		verdict = judgeAccepted(x, lc.Messages, lc.Outcome == "upgrade")
	default:
		verdict = judgeRejected(x, lc.Messages)
	}
	if why, ok := devs[lc.Key()]; ok {
		o.kind, o.why = deviation, why
		switch {
		case refusedAt >= 0:
			o.why += " [not observable here: the echo server registers no custom methods, so it refuses the method first]"
		case verdict == "":
			o.why += " [on the wire the server's answer is indistinguishable from llhttp's outcome]"
		}
		return o
	}
	// The echo server refuses CONNECT (405: it runs no tunnels), which a
	// parser accepts: like an unregistered method, the answer must be that
	// refusal, and what comes before it must be right.
	if refusedAt < 0 && lc.Outcome != "error" {
		for i, r := range plain {
			if i < lc.Messages && r.method == httpcore.MethodConnect {
				if i < len(x.statuses) && x.statuses[i] == int(httpcore.StatusMethodNotAllowed) {
					if why := judgeAccepted(exchange{statuses: x.statuses[:i]}, i, false); why == "" {
						o.kind, o.why = unregistered, "CONNECT refused by the echo route with 405 (no tunnels)"
						return o
					}
				}
				break
			}
		}
	}
	switch {
	case lc.Outcome != "error" && refusedAt >= 0 && refusedAt < lc.Messages:
		o.kind, o.why = unregistered, judgeRefused(x, refusedAt)
		if o.why != "" {
			o.kind = failed
		}
	case verdict != "" && answeredBeforeBody(x, lc.Messages, perr):
		o.kind = early
		o.why = fmt.Sprintf("the route answered %d before reading the body; the body's framing error (%v) then closed the connection, and nothing after it was answered", x.statuses[lc.Messages], perr)
	case verdict != "":
		o.kind, o.why = failed, verdict
	default:
		o.kind, o.why = passed, notes(x, lc)
	}
	return o
}

// answeredBeforeBody reports whether a rejected case got, for the message
// at index k whose body is malformed (perr.InBody), a response that is not
// an error followed by the close and nothing else: a route that answers
// without reading the body (GET / of the echo server) cannot see the error.
func answeredBeforeBody(x exchange, k int, perr *httpcore.ParseError) bool {
	if perr == nil || !perr.InBody || !x.closed || len(x.statuses) != k+1 {
		return false
	}
	for _, st := range x.statuses {
		if st >= 400 {
			return false
		}
	}
	return true
}

// judgeAccepted checks a case llhttp accepts with n messages; "" is a pass.
func judgeAccepted(x exchange, n int, upgrade bool) string {
	if len(x.statuses) < n {
		return fmt.Sprintf("llhttp parses %d complete messages; the server answered %d", n, len(x.statuses))
	}
	for i, st := range x.statuses[:n] {
		if st >= 400 {
			return fmt.Sprintf("llhttp accepts message %d; the server answered %d", i+1, st)
		}
	}
	if upgrade {
		return "" // llhttp stops at the upgrade; what follows is not HTTP to it
	}
	for i, st := range x.statuses[n:] {
		if st < 400 {
			return fmt.Sprintf("llhttp parses %d complete messages; the server answered %d to message %d", n, st, n+i+1)
		}
	}
	if x.badResp != nil {
		return "the server's bytes do not parse as responses: " + x.badResp.Error()
	}
	return ""
}

// judgeRejected checks a case llhttp rejects after k complete messages.
func judgeRejected(x exchange, k int) string {
	for i, st := range x.statuses[:min(k, len(x.statuses))] {
		if st >= 400 {
			return fmt.Sprintf("llhttp accepts message %d before the bad one; the server answered %d", i+1, st)
		}
	}
	if len(x.statuses) > k {
		if st := x.statuses[k]; st < 400 {
			return fmt.Sprintf("llhttp rejects message %d; the server answered %d", k+1, st)
		}
		if len(x.statuses) > k+1 {
			return fmt.Sprintf("the server went on answering after the rejected message %d: %v", k+1, x.statuses[k+1:])
		}
		return ""
	}
	if x.timedOut {
		return fmt.Sprintf("llhttp rejects message %d; the server neither answered nor closed after the half-close", k+1)
	}
	return "" // closed without answering the bad message
}

// judgeRefused checks a case whose message at index at uses a method the
// server does not register: the server must answer 501 there.
func judgeRefused(x exchange, at int) string {
	if len(x.statuses) <= at || x.statuses[at] != int(httpcore.StatusNotImplemented) {
		return fmt.Sprintf("message %d uses a method the echo server does not register: want 501 (RFC 9110 §9.1), got %v", at+1, x.statuses)
	}
	return judgeAccepted(exchange{statuses: x.statuses[:at]}, at, false)
}

// notes says what is worth knowing about a case that passed.
func notes(x exchange, lc llhttpcorpus.Case) string {
	var n []string
	if x.timedOut {
		n = append(n, "the connection stayed open after the half-close until the deadline")
	}
	if lc.Outcome != "error" && len(x.statuses) > lc.Messages {
		n = append(n, fmt.Sprintf("answered the %d message(s) after llhttp's last with %v", len(x.statuses)-lc.Messages, x.statuses[lc.Messages:]))
	}
	if lc.Outcome == "error" && len(x.statuses) <= lc.Messages {
		n = append(n, "closed without answering the bad message")
	}
	if x.readErr != nil {
		n = append(n, "read: "+x.readErr.Error())
	}
	return strings.Join(n, "; ")
}

// runAll runs f over cases with at most parallel at once, keeping order.
func runAll(cases []llhttpcorpus.Case, parallel int, f func(llhttpcorpus.Case) outcome) []outcome {
	out := make([]outcome, len(cases))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range cases {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = f(c)
		})
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].c.File != out[j].c.File {
			return out[i].c.File < out[j].c.File
		}
		return out[i].c.Line < out[j].c.Line
	})
	return out
}

// report prints the results and reports whether no case failed.
func report(w io.Writer, addr string, results []outcome, devs map[string]string, verbose bool) bool {
	count := map[kind]int{}
	var passAccepted, passRejected int
	seen := map[string]bool{}
	fmt.Fprintf(w, "llhttp strict request cases against %s: %d\n", addr, len(results))
	for _, o := range results {
		count[o.kind]++
		seen[o.c.Key()] = true
		label := map[kind]string{passed: "ok", failed: "FAIL", deviation: "DEVIATION", unregistered: "UNREGISTERED", early: "EARLY"}[o.kind]
		switch o.kind {
		case passed:
			if o.c.Outcome == "error" {
				passRejected++
			} else {
				passAccepted++
			}
			if !verbose && o.why == "" {
				continue
			}
		case unregistered:
			if !verbose && o.why == "" {
				continue
			}
		}
		fmt.Fprintf(w, "%-12s %s %q (llhttp: %s, %d messages%s)\n", label, o.c.Key(), strings.Join(o.c.Headings, " / "), o.c.Outcome, o.c.Messages, llhttpReason(o.c))
		if o.why != "" {
			fmt.Fprintf(w, "             %s\n", o.why)
		}
		fmt.Fprintf(w, "             server: %v\n", o.x)
		fmt.Fprintf(w, "             sent %q\n", o.in)
	}
	for key := range devs {
		if !seen[key] {
			fmt.Fprintf(w, "note: deviation %s names no strict request case\n", key)
		}
	}
	fmt.Fprintf(w, "passed: %d (%d accepted as llhttp does, %d rejected as llhttp does)\n", count[passed], passAccepted, passRejected)
	fmt.Fprintf(w, "methods the echo server does not register (501) or refuses (CONNECT, 405): %d\n", count[unregistered])
	fmt.Fprintf(w, "answered before a malformed body was read, then closed: %d\n", count[early])
	fmt.Fprintf(w, "deviations (internal/llhttpcorpus): %d\n", count[deviation])
	if count[failed] > 0 {
		var names []string
		for _, o := range results {
			if o.kind == failed {
				names = append(names, o.c.Key())
			}
		}
		fmt.Fprintf(w, "failed: %d: %s\n", count[failed], strings.Join(names, " "))
	} else {
		fmt.Fprintln(w, "failed: 0")
	}
	// The unregistered and early cases pass: the server did what its
	// settings and the route ask, and no bad input was answered as a message.
	fmt.Fprintf(w, "llhttp: %d passed, %d failed\n", count[passed]+count[unregistered]+count[early], count[failed])
	return count[failed] == 0
}

func llhttpReason(c llhttpcorpus.Case) string {
	if c.Reason == "" {
		return ""
	}
	return ", " + strconv.Quote(c.Reason)
}
