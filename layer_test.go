package streamhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// Pieces of expected wire bytes. The Date line is normalized (see
// normalize), so that expectations are exact bytes otherwise.
const (
	srvDate = "Server: streamhttp\r\nDate: DATE\r\n"
	plain   = "Content-Type: text/plain; charset=utf-8\r\n"
)

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

// normalize replaces the value of every Date line with DATE.
func normalize(b []byte) string {
	return dateLine.ReplaceAllString(string(b), "Date: DATE\r\n")
}

// ok is what pathHandler answers to target, on a connection that stays
// open.
func ok(target string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\n%s%sContent-Length: %d\r\n\r\n%s", srvDate, plain, len(target), target)
}

// okClose is ok with Connection: close.
func okClose(target string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\n%sConnection: close\r\n%sContent-Length: %d\r\n\r\n%s", srvDate, plain, len(target), target)
}

// text is a text/plain response with the given status line and extra
// lines (each ending in \r\n) before the content type.
func text(status, extra, body string) string {
	return fmt.Sprintf("HTTP/1.1 %s\r\n%s%s%sContent-Length: %d\r\n\r\n%s", status, srvDate, extra, plain, len(body), body)
}

// get is a minimal HTTP/1.1 GET of target.
func get(target string) string { return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n" }

const internalError500 = "HTTP/1.1 500 Internal Server Error\r\n" + srvDate + "Connection: close\r\n" + plain +
	"Content-Length: 22\r\n\r\nInternal Server Error\n"

// respond answers r with its target as a text body; some targets shape the
// response.
func respond(r *Request) *Response {
	resp := httpcore.Text(httpcore.StatusOK, r.Target)
	switch r.URI.Path {
	case "/close":
		resp.Header.Add("Connection", "close")
	case "/keep":
		resp.Header.Add("Connection", "keep-alive")
	case "/http10":
		resp.Proto = httpcore.HTTP10
	case "/http10keep":
		resp.Proto = httpcore.HTTP10
		resp.Header.Add("Connection", "keep-alive")
	case "/closedelim":
		resp.Entity = entity.NewCloseDelimited("text/plain", stream.FromSlice([][]byte{[]byte(r.Target)}))
	case "/chunked":
		resp.Entity = entity.ChunkedFromData("text/plain", stream.FromSlice([][]byte{[]byte("ab"), []byte("c")}))
	case "/default":
		resp.Entity = entity.NewDefault("text/plain", 3, stream.FromSlice([][]byte{[]byte("abc")}))
	}
	return resp
}

// pathHandler is a synchronous handler made of respond.
var pathHandler = stream.Map(respond)

// counting wraps f and counts the requests it receives.
func counting(n *atomic.Int32, f func(*Request) *Response) stream.Flow[*Request, *Response] {
	return stream.Map(func(r *Request) *Response { n.Add(1); return f(r) })
}

// copyBytes copies every output buffer, which the layer reuses after the
// next pull.
var copyBytes = stream.Map(bytes.Clone)

// layerFlow joins handler to the server layer and copies its output.
func layerFlow(s ServerSettings, handler stream.Flow[*Request, *Response]) stream.Flow[[]byte, []byte] {
	return stream.ViaFlow(bidi.JoinLeft(handler, ServerLayer(s)), copyBytes)
}

// runLayer runs handler in the server layer over the input chunks (then
// the end of the input) and returns the normalized output and the run's
// error.
func runLayer(t *testing.T, s ServerSettings, handler stream.Flow[*Request, *Response], in ...string) (string, error) {
	t.Helper()
	chunks := make([][]byte, len(in))
	for i, s := range in {
		chunks[i] = []byte(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := stream.RunWith(ctx, stream.Via(stream.FromSlice(chunks), layerFlow(s, handler)),
		stream.Fold(nil, func(acc []byte, p []byte) []byte { return append(acc, p...) }))
	return normalize(out), err
}

// logBuffer is a logger whose output a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog() (*logBuffer, *slog.Logger) {
	l := new(logBuffer)
	return l, slog.New(slog.NewTextHandler(l, nil))
}

// quietSettings are settings whose logger writes nowhere a test sees.
func quietSettings() ServerSettings {
	_, log := newLog()
	return ServerSettings{Logger: log}
}

// TestKeepAlive checks the persistence of the connection after a response
// (RFC 9112 §9.3): the request's version and Connection field and the
// response's version and Connection field decide, as the renderer's table
// says. A second request follows each case; it is answered only when the
// connection persists.
func TestKeepAlive(t *testing.T) {
	next := get("/next")
	// calls is how many requests the handler sees; a pipelining handler
	// may see the one after a response that closes (it can be read before
	// the response decides: -1 below), never the one after a request that
	// closes.
	cases := []struct {
		name  string
		in    string
		want  string
		calls int32
	}{
		{"HTTP/1.1 persists by default", get("/a"),
			ok("/a") + ok("/next"), 2},
		{"HTTP/1.1 Connection: close", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			okClose("/a"), 1},
		{"HTTP/1.1 Connection: CLOSE in a list", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n",
			okClose("/a"), 1},
		{"HTTP/1.1 Connection: keep-alive", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
			ok("/a") + ok("/next"), 2},
		{"HTTP/1.0 closes by default", "GET /a HTTP/1.0\r\n\r\n",
			okClose("/a"), 1},
		{"HTTP/1.0 Connection: keep-alive", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			text("200 OK", "Connection: keep-alive\r\n", "/a") + ok("/next"), 2},
		{"HTTP/1.0 Connection: close", "GET /a HTTP/1.0\r\nConnection: close\r\n\r\n",
			okClose("/a"), 1},
		{"response Connection: close", get("/close"),
			okClose("/close"), -1},
		{"response Connection: close to HTTP/1.0 keep-alive", "GET /close HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			okClose("/close"), -1},
		{"response Connection: keep-alive on HTTP/1.1", get("/keep"),
			ok("/keep") + ok("/next"), 2},
		{"response keep-alive cannot keep HTTP/1.0 open", "GET /keep HTTP/1.0\r\n\r\n",
			okClose("/keep"), 1},
		{"HTTP/1.0 response to HTTP/1.1 closes", get("/http10"),
			"HTTP/1.0 200 OK\r\n" + srvDate + "Connection: close\r\n" + plain + "Content-Length: 7\r\n\r\n/http10", -1},
		{"HTTP/1.0 keep-alive response to HTTP/1.1", get("/http10keep"),
			"HTTP/1.0 200 OK\r\n" + srvDate + "Connection: keep-alive\r\n" + plain + "Content-Length: 11\r\n\r\n/http10keep" + ok("/next"), 2},
		{"close-delimited body", get("/closedelim"),
			"HTTP/1.1 200 OK\r\n" + srvDate + "Connection: close\r\nContent-Type: text/plain\r\n\r\n/closedelim", -1},
		{"chunked body persists", get("/chunked"),
			"HTTP/1.1 200 OK\r\n" + srvDate + "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n" + ok("/next"), 2},
		{"chunked body to HTTP/1.0 is close-delimited", "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			"HTTP/1.1 200 OK\r\n" + srvDate + "Connection: close\r\nContent-Type: text/plain\r\n\r\nabc", -1},
		{"streamed body of known length persists", get("/default"),
			"HTTP/1.1 200 OK\r\n" + srvDate + "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc" + ok("/next"), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			handlers := []stream.Flow[*Request, *Response]{
				counting(&calls, respond),
				// Pipelined: the request after a closing one must not
				// even reach the handler.
				stream.MapAsync(2, func(_ context.Context, r *Request) (*Response, error) {
					calls.Add(1)
					return respond(r), nil
				}),
			}
			// Whole input in one buffer, and one request per buffer.
			for i, in := range [][]string{{tc.in + next}, {tc.in, next}, {tc.in + next}, {tc.in, next}} {
				calls.Store(0)
				got, err := runLayer(t, ServerSettings{PipeliningLimit: 2}, handlers[i/2], in...)
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
				n, want := calls.Load(), tc.calls
				switch {
				case want < 0 && i >= 2:
					// A response closes, and the pipelining handler may or
					// may not have taken the next request before it did.
					if n < 1 || n > 2 {
						t.Errorf("handler saw %d requests, want 1 or 2", n)
					}
				case want < 0:
					if n != 1 {
						t.Errorf("handler saw %d requests, want 1", n)
					}
				case n != want:
					t.Errorf("handler saw %d requests, want %d", n, want)
				}
			}
		})
	}
}

// TestClosingResponseStopsInput checks that nothing is read after a
// response that closes the connection: the input is cancelled, not pulled.
func TestClosingResponseStopsInput(t *testing.T) {
	var pulls atomic.Int32
	var cancelled atomic.Bool
	src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] {
		return &funcPuller{
			pull: func() ([]byte, error) {
				if pulls.Add(1) == 1 {
					return []byte(get("/close")), nil
				}
				return []byte(get("/more")), nil
			},
			cancel: func(error) { cancelled.Store(true) },
		}
	})
	out, err := stream.RunWith(context.Background(), stream.Via(src, layerFlow(ServerSettings{}, pathHandler)),
		stream.Fold("", func(acc string, p []byte) string { return acc + normalize(p) }))
	if err != nil {
		t.Fatal(err)
	}
	if out != okClose("/close") {
		t.Errorf("output %q, want %q", out, okClose("/close"))
	}
	if n := pulls.Load(); n != 1 {
		t.Errorf("input pulled %d times, want 1", n)
	}
	if !cancelled.Load() {
		t.Error("input not cancelled")
	}
}

// funcPuller is a Puller made of functions.
type funcPuller struct {
	pull   func() ([]byte, error)
	cancel func(error)
}

func (p *funcPuller) Pull() ([]byte, error) { return p.pull() }
func (p *funcPuller) Cancel(cause error)    { p.cancel(cause) }

// TestHEAD checks that a response to HEAD never has a body (RFC 9110
// §9.3.2): a Strict entity's Content-Length is not sent, streamed entities
// are not run; and that TransparentHEAD hands the handler a GET.
func TestHEAD(t *testing.T) {
	for _, transparent := range []bool{false, true} {
		t.Run(fmt.Sprintf("TransparentHEAD=%v", transparent), func(t *testing.T) {
			var ran atomic.Int32
			never := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] {
				ran.Add(1)
				return &funcPuller{pull: func() ([]byte, error) { return []byte("body"), nil }, cancel: func(error) {}}
			})
			var methods []httpcore.Method
			handler := stream.Map(func(r *Request) *Response {
				methods = append(methods, r.Method)
				resp := httpcore.Text(httpcore.StatusOK, "hello")
				switch r.URI.Path {
				case "/chunked":
					resp.Entity = entity.ChunkedFromData("text/plain", never)
				case "/default":
					resp.Entity = entity.NewDefault("text/plain", 4, never)
				case "/closedelim":
					resp.Entity = entity.NewCloseDelimited("text/plain", never)
				}
				return resp
			})
			head := func(target string) string { return "HEAD " + target + " HTTP/1.1\r\nHost: x\r\n\r\n" }
			got, err := runLayer(t, ServerSettings{TransparentHEAD: transparent}, handler,
				head("/strict")+head("/chunked")+head("/default")+head("/closedelim")+get("/strict"))
			if err != nil {
				t.Fatal(err)
			}
			// The fields a GET would get (RFC 9110 §9.3.2), lengths included
			// where known, and never a body.
			want := "HTTP/1.1 200 OK\r\n" + srvDate + plain + "Content-Length: 5\r\n\r\n" +
				"HTTP/1.1 200 OK\r\n" + srvDate + "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
				"HTTP/1.1 200 OK\r\n" + srvDate + "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\n" +
				"HTTP/1.1 200 OK\r\n" + srvDate + "Content-Type: text/plain\r\n\r\n" +
				text("200 OK", "", "hello")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if n := ran.Load(); n != 0 {
				t.Errorf("a response body was materialized %d times for HEAD", n)
			}
			m := httpcore.MethodHead
			if transparent {
				m = httpcore.MethodGet
			}
			wantMethods := []httpcore.Method{m, m, m, m, httpcore.MethodGet}
			if diff := cmp.Diff(wantMethods, methods); diff != "" {
				t.Errorf("methods the handler saw (-want +got):\n%s", diff)
			}
		})
	}
}

// parseErrorResponse is the server's answer to the request bytes bad, which
// the parser rejects: its status, Connection: close, and the parser's reason.
func parseErrorResponse(t *testing.T, bad string) string {
	t.Helper()
	p := httpcore.NewParser(httpcore.ParserSettings{})
	ev, _ := p.Next([]byte(bad))
	if ev.Kind != httpcore.Failed {
		t.Fatalf("the parser does not reject %q: event %d", bad, ev.Kind)
	}
	return text(ev.Err.Status.String(), "Connection: close\r\n", ev.Err.Status.Reason()+": "+ev.Err.Reason+"\n")
}

// TestParseErrors checks that a request the parser rejects is answered
// with the parser's status and Connection: close, after the responses to
// the requests before it (which a slow handler answers later), and that
// nothing after it reaches the handler.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name   string
		bad    string
		status httpcore.Status
	}{
		{"no Host", "GET /x HTTP/1.1\r\n\r\n", 400},
		{"bare LF", "GET /x HTTP/1.1\nHost: x\n\n", 400},
		{"Content-Length and Transfer-Encoding", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"declared body too large", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413},
		{"URI too long", "GET /" + strings.Repeat("a", 3000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"header value too long", "GET /x HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
		{"unknown method", "FROB /x HTTP/1.1\r\nHost: x\r\n\r\n", 501},
		{"HTTP/2.0 request line", "GET /x HTTP/2.0\r\nHost: x\r\n\r\n", 505},
	}
	slow := stream.MapAsync(4, func(ctx context.Context, r *Request) (*Response, error) {
		if r.URI.Path == "/slow" {
			time.Sleep(20 * time.Millisecond)
		}
		return respond(r), nil
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := parseErrorResponse(t, tc.bad)
			if !strings.HasPrefix(want, "HTTP/1.1 "+tc.status.String()) {
				t.Fatalf("the parser answers %q with %q, want status %d", tc.bad, want, tc.status)
			}
			got, err := runLayer(t, ServerSettings{PipeliningLimit: 4}, slow, get("/slow")+get("/a")+tc.bad+get("/after"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ok("/slow")+ok("/a")+want, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("connection closed in a head", func(t *testing.T) {
		got, err := runLayer(t, ServerSettings{}, pathHandler, get("/a")+"GET /b HTTP/1.1\r\nHo")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, ok("/a")+"HTTP/1.1 400 Bad Request\r\n"+srvDate+"Connection: close\r\n") {
			t.Errorf("output %q, want the response to /a and a 400 with Connection: close", got)
		}
	})
	t.Run("empty lines before a request and at the end", func(t *testing.T) {
		// RFC 9112 §2.2: a server ignores at least one empty line before a
		// request-line; a client that ends with one is not in error.
		got, err := runLayer(t, ServerSettings{}, pathHandler, "\r\n"+get("/a")+"\r\n")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ok("/a"), got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})
}

// TestHandlerFailure checks that a handler flow that fails, or panics in
// an asynchronous stage, gets the oldest unanswered request a 500 and
// closes the connection, and that a panic is logged with its stack. (A
// synchronous handler's panic unwinds to the sink of the run: ServeConn's
// answers 500 too, see TestPanicIsolation; any other sink fails the run.)
func TestHandlerFailure(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name    string
		handler stream.Flow[*Request, *Response]
		log     []string // what the log must contain
	}{
		{"async failure", stream.MapAsync(2, func(_ context.Context, r *Request) (*Response, error) {
			if r.URI.Path == "/bad" {
				return nil, errBoom
			}
			return respond(r), nil
		}), []string{"level=ERROR", "handler failed", "boom"}},
		{"async panic", stream.MapAsync(2, func(_ context.Context, r *Request) (*Response, error) {
			if r.URI.Path == "/bad" {
				panic("handler bug")
			}
			return respond(r), nil
		}), []string{"level=ERROR", "handler panicked", "handler bug", "layer_test.go"}},
		{"failure of a sync flow", stream.ViaFlow(stream.Map(respond), stream.NewFlow(
			func(_ *stream.Materializer, up stream.Puller[*Response]) stream.Puller[*Response] {
				return &failOn{up: up, target: "/bad", err: errBoom}
			})), []string{"level=ERROR", "handler failed", "boom"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs, log := newLog()
			got, err := runLayer(t, ServerSettings{Logger: log}, tc.handler, get("/a")+get("/bad")+get("/after"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ok("/a")+internalError500, got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			for _, s := range tc.log {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("log lacks %q:\n%s", s, logs)
				}
			}
		})
	}
	t.Run("sync panic in memory", func(t *testing.T) {
		handler := stream.Map(func(r *Request) *Response {
			if r.URI.Path == "/bad" {
				panic("handler bug")
			}
			return respond(r)
		})
		_, err := runLayer(t, quietSettings(), handler, get("/a")+get("/bad"))
		var pe *stream.PanicError
		if !errors.As(err, &pe) || pe.Value != "handler bug" {
			t.Errorf("run error %v, want the handler's *stream.PanicError", err)
		}
	})
}

// failOn passes responses on and fails instead of answering target.
type failOn struct {
	up     stream.Puller[*Response]
	target string
	err    error
}

func (f *failOn) Pull() (*Response, error) {
	r, err := f.up.Pull()
	if err == nil && r.Entity != nil && r.Entity.ContentLength() == int64(len(f.target)) {
		if st, ok := r.Entity.(*entity.Strict); ok && string(st.Data) == f.target {
			f.up.Cancel(f.err)
			return nil, f.err
		}
	}
	return r, err
}

func (f *failOn) Cancel(cause error) { f.up.Cancel(cause) }
