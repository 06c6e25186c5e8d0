package nethttp

// The conformance check: each case runs one net/http handler under
// net/http's own server (httptest) and under streamhttp through the
// adapter, sends the same raw request to both, and compares what a client
// sees (status, fields but Date and Server, framing, body, trailers,
// whether the connection closes) and what the handler saw (the errors of
// its calls). A known difference is stated in the case (want) and checked
// to be exactly that; the package doc lists them with their reasons.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
)

// seenResponse is what a client sees of one response.
type seenResponse struct {
	Status           int
	Header           string // sorted "Key: value" lines, without Date and Server
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	Body             string
	Trailer          string
	BodyErr          bool
}

// outcome is a case's result on one server: the responses (interim ones
// first) and the handler's notes.
type outcome struct {
	Responses []seenResponse
	Notes     string
}

type confCase struct {
	name    string
	request string // raw; a body follows the head as given
	method  string // of the request, for reading the response (default GET)
	after   string // sent once an interim response has arrived
	handler func(w http.ResponseWriter, r *http.Request, note func(string, ...any))
	// differ, when set, edits net/http's outcome into the adapter's
	// expected one: a documented difference.
	differ func(*outcome)
}

func headerLines(h http.Header) string {
	var lines []string
	for k, vv := range h {
		if k == "Date" || k == "Server" {
			continue
		}
		for _, v := range vv {
			lines = append(lines, k+": "+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

var confCases = []confCase{
	{
		name:    "small write: Content-Length and a sniffed type",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "<html>hi</html>")
		},
	},
	{
		name:    "a nil Content-Type suppresses sniffing",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html>hi</html>")
		},
	},
	{
		name:    "Content-Encoding suppresses sniffing",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Content-Encoding", "x-test")
			io.WriteString(w, "<html>hi</html>")
		},
	},
	{
		name:    "2048 bytes: Content-Length",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, strings.Repeat("a", 2048))
		},
	},
	{
		name:    "2049 bytes: chunked",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, strings.Repeat("a", 2049))
		},
	},
	{
		name:    "two writes within the buffer: one Content-Length",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "ab")
			io.WriteString(w, "cd")
		},
	},
	{
		name:    "Flush before any write: chunked, no Content-Type",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.(http.Flusher).Flush()
			io.WriteString(w, "late")
		},
	},
	{
		name:    "declared Content-Length streams with it",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Content-Length", "5000")
			w.Write(make([]byte, 5000))
		},
	},
	{
		name:    "writing past the declared length",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Content-Length", "3")
			_, err := io.WriteString(w, "abcd")
			note("write: %v", err)
			io.WriteString(w, "abc")
		},
	},
	{
		name:    "an invalid declared length is dropped",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Content-Length", "x")
			io.WriteString(w, "abc")
		},
	},
	{
		name:    "HEAD with a write: its length, no body",
		request: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		method:  "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			_, err := io.WriteString(w, "hello")
			note("write: %v", err)
		},
	},
	{
		name:    "HEAD without a write",
		request: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		method:  "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {},
	},
	{
		name:    "204 refuses a body",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.WriteHeader(204)
			_, err := io.WriteString(w, "x")
			note("write: %v", err)
		},
	},
	{
		name:    "304 refuses a body and has no Content-Type",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("ETag", `"1"`)
			w.WriteHeader(304)
			_, err := io.WriteString(w, "x")
			note("write: %v", err)
		},
	},
	{
		name:    "the first WriteHeader wins; header changes after it are ignored",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(202)
			w.Header().Set("X-After", "1")
			w.WriteHeader(500)
			io.WriteString(w, "ok")
		},
	},
	{
		name:    "Write implies 200",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "ok")
			w.WriteHeader(404)
		},
	},
	{
		name:    "an invalid status code panics",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			defer func() { note("recovered: %v", recover() != nil) }()
			w.WriteHeader(99)
		},
	},
	{
		name:    "103 Early Hints, then 200 repeating Link",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(103)
			io.WriteString(w, "page")
		},
	},
	{
		name:    "103 to an HTTP/1.0 client",
		request: "GET / HTTP/1.0\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(103)
			io.WriteString(w, "page")
		},
		differ: func(o *outcome) {
			// net/http sends it; RFC 9110 §15.2 says a server must not send
			// a 1xx to an HTTP/1.0 client, and streamhttp does not.
			o.Responses = o.Responses[1:]
		},
	},
	{
		name:    "Expect: 100-continue, the client waits for it",
		request: "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
		after:   "hello",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			b, err := io.ReadAll(r.Body)
			note("read %q %v", b, err)
			io.WriteString(w, "got it")
		},
	},
	{
		name:    "Expect: 100-continue with the body sent at once",
		request: "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			b, err := io.ReadAll(r.Body)
			note("read %q %v", b, err)
			io.WriteString(w, "got it")
		},
		differ: func(o *outcome) {
			// The body came with the head: streamhttp's layer has it and
			// omits the 100 (RFC 9110 §10.1.1 allows it); net/http sends it.
			o.Responses = o.Responses[1:]
		},
	},
	{
		name:    "Expect: 100-continue, body never read: the connection closes",
		request: "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.WriteHeader(403)
		},
	},
	{
		name:    "declared trailer",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "data")
			w.Header().Set("X-Sum", "7")
		},
	},
	{
		name:    "TrailerPrefix trailer after a flush",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			w.Header().Set(http.TrailerPrefix+"X-Late", "1")
		},
	},
	{
		name:    "HTTP/1.0: small body with a length, connection closes",
		request: "GET / HTTP/1.0\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "old")
		},
	},
	{
		name:    "HTTP/1.0: flushed body is close-delimited",
		request: "GET / HTTP/1.0\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "old")
			w.(http.Flusher).Flush()
			io.WriteString(w, "er")
		},
	},
	{
		name:    "request fields",
		request: "POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			b, _ := io.ReadAll(r.Body)
			note("%s %s %s %s cl=%d te=%v xa=%v body=%q close=%v", r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, r.Header["X-A"], b, r.Close)
		},
	},
	{
		name:    "request trailers: declared, filled at the body's end",
		request: "POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			before := fmt.Sprint(r.Trailer)
			io.ReadAll(r.Body)
			note("before %s after %v", before, r.Trailer)
		},
	},
	{
		name:    "unread 10 KiB body: keep-alive",
		request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\n\r\n" + strings.Repeat("z", 10240),
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			io.WriteString(w, "ignored")
		},
	},
	{
		name:    "HEAD flushed before the handler ends: the request's context",
		request: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
		method:  "HEAD",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			w.(http.Flusher).Flush() // the whole response: a HEAD head has no body to follow
			select {
			case <-r.Context().Done():
				note("the context ended before ServeHTTP returned")
			case <-time.After(300 * time.Millisecond):
				note("the context lives until ServeHTTP returns")
			}
		},
		differ: func(o *outcome) {
			// streamhttp's request context ends with its exchange, once
			// the response is out; net/http's at ServeHTTP's return. The
			// head of a HEAD response names the transfer coding a GET's
			// would have (RFC 9112 §6.1 allows it); net/http leaves it out.
			o.Notes = "the context ended before ServeHTTP returned"
			o.Responses[0].TransferEncoding = []string{"chunked"}
		},
	},
	{
		name:    "ErrAbortHandler before the head",
		request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		handler: func(w http.ResponseWriter, r *http.Request, note func(string, ...any)) {
			panic(http.ErrAbortHandler)
		},
		differ: func(o *outcome) {
			// net/http closes with no answer; streamhttp's layer answers 500.
			o.Responses = []seenResponse{{Status: 500, Header: "Content-Length: 22\nContent-Type: text/plain; charset=utf-8",
				ContentLength: 22, Close: true, Body: "Internal Server Error\n"}}
		},
	},
}

// run sends c's request to the server at addr and reads what comes back.
func (c *confCase) run(t *testing.T, addr string, notes *notebook) outcome {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, c.request); err != nil {
		t.Fatal(err)
	}
	method := c.method
	if method == "" {
		method = "GET"
	}
	br := bufio.NewReader(conn)
	var o outcome
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			if len(o.Responses) == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
				break // closed with no answer
			}
			t.Fatalf("reading a response: %v", err)
		}
		body, berr := io.ReadAll(resp.Body)
		o.Responses = append(o.Responses, seenResponse{
			Status: resp.StatusCode, Header: headerLines(resp.Header), ContentLength: resp.ContentLength,
			TransferEncoding: resp.TransferEncoding, Close: resp.Close, Body: string(body),
			Trailer: headerLines(resp.Trailer), BodyErr: berr != nil,
		})
		if resp.StatusCode >= 200 {
			break
		}
		if c.after != "" {
			io.WriteString(conn, c.after)
		}
	}
	o.Notes = notes.wait()
	return o
}

// notebook collects a handler's notes; wait returns them once the
// handler has returned.
type notebook struct {
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func (n *notebook) note(format string, args ...any) {
	n.mu.Lock()
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
	n.mu.Unlock()
}

func (n *notebook) wait() string {
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		return "the handler did not return"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "; ")
}

func TestConformance(t *testing.T) {
	var current struct {
		sync.Mutex
		c     *confCase
		notes *notebook
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Lock()
		c, n := current.c, current.notes
		current.Unlock()
		defer close(n.done)
		c.handler(w, r, n.note)
	})
	std := httptest.NewUnstartedServer(h)
	quietStdLog(std)
	std.Start()
	defer std.Close()
	adapted := strings.TrimPrefix(serve(t, h, streamhttp.ServerSettings{Logger: discardLogger()}), "http://")
	stdAddr := strings.TrimPrefix(std.URL, "http://")
	for i := range confCases {
		c := &confCases[i]
		t.Run(c.name, func(t *testing.T) {
			var got [2]outcome
			for j, addr := range []string{stdAddr, adapted} {
				n := &notebook{done: make(chan struct{})}
				current.Lock()
				current.c, current.notes = c, n
				current.Unlock()
				got[j] = c.run(t, addr, n)
			}
			want := got[0]
			if c.differ != nil {
				c.differ(&want)
			}
			if diff := cmp.Diff(want, got[1]); diff != "" {
				t.Errorf("net/http (-) vs the adapter (+):\n%s", diff)
			}
		})
	}
}

// quietStdLog keeps net/http's misuse warnings (superfluous WriteHeader)
// out of the test output.
func quietStdLog(s *httptest.Server) {
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
}

// Writes after the client has left fail, and the context ends, on both
// servers.
func TestConformanceWritesAfterClientLeft(t *testing.T) {
	for _, srv := range []string{"net/http", "adapter"} {
		t.Run(srv, func(t *testing.T) {
			result := make(chan string, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					if _, err := w.Write(make([]byte, 1024)); err != nil {
						break
					}
					w.(http.Flusher).Flush()
					time.Sleep(time.Millisecond)
				}
				select {
				case <-r.Context().Done():
					result <- "write failed, context done"
				case <-time.After(time.Second):
					result <- "context alive"
				}
			})
			var addr string
			if srv == "net/http" {
				s := httptest.NewServer(h)
				defer s.Close()
				addr = strings.TrimPrefix(s.URL, "http://")
			} else {
				addr = strings.TrimPrefix(serve(t, h, streamhttp.ServerSettings{Logger: discardLogger()}), "http://")
			}
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if got := <-result; got != "write failed, context done" {
				t.Error(got)
			}
		})
	}
}
