package streamhttptest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/streamhttptest"
)

// recorder is a testing.TB that records failures instead of failing the
// test, so that the helpers' failures can be checked.
type recorder struct {
	testing.TB
	failures []string
	fatal    bool
}

func (r *recorder) Helper() {}

func (r *recorder) Error(args ...any) { r.failures = append(r.failures, fmt.Sprint(args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	runtime.Goexit()
}

// record runs check with a recorder in its own goroutine (Fatalf ends it)
// and returns the recorder.
func record(t *testing.T, check func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

var hello = stream.Map(func(*streamhttp.Request) *streamhttp.Response {
	return httpcore.Text(httpcore.StatusOK, "Hello, World!")
})

// dropSecond breaks the contract of a handler: it never answers the
// second request.
var dropSecond = stream.ViaFlow(stream.Filter(func(r *streamhttp.Request) bool { return r.Seq != 2 }), hello)

const (
	req  = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	resp = "HTTP/1.1 200 OK\r\nServer: streamhttp\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"
)

func TestCheckReplay(t *testing.T) {
	tests := []struct {
		name    string
		handler streamhttptest.Handler
		req     string
		want    string
		fails   []string // parts of the one failure; nil: none
	}{
		{name: "same but for the date", handler: hello, req: req + req, want: resp + resp},
		{name: "body differs", handler: hello, req: req, want: strings.Replace(resp, "Hello, World!", "Hello, Gophers!", 1),
			fails: []string{"the responses differ (-want +got)", `-`, `"Hello, Gophers!"`, `+`, `"Hello, World!"`}},
		{name: "line end differs", handler: hello, req: req, want: strings.Replace(resp, "Server: streamhttp\r\n", "Server: streamhttp\n", 1),
			fails: []string{`"Server: streamhttp\n"`, `"Server: streamhttp\r\n"`}},
		{name: "missing response", handler: hello, req: req + req, want: resp,
			fails: []string{"the responses differ"}},
		{name: "replay fails", handler: dropSecond, req: req + req, want: resp + resp,
			fails: []string{"the replay failed: ", "completed with 1 request(s) unanswered", "the responses differ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := streamhttp.ServerSettings{PipeliningLimit: 2}
			r := record(t, func(tb testing.TB) {
				streamhttptest.CheckReplay(tb, tt.handler, s, []byte(tt.req), []byte(tt.want))
			})
			checkFailures(t, r, false, tt.fails)
		})
	}
}

// checkFailures checks that r failed once with a message holding every
// part of want, or not at all when want is nil.
func checkFailures(t *testing.T, r *recorder, fatal bool, want []string) {
	t.Helper()
	if want == nil {
		if len(r.failures) > 0 {
			t.Errorf("unexpected failures: %q", r.failures)
		}
		return
	}
	if len(r.failures) != 1 {
		t.Fatalf("failures %q, want one", r.failures)
	}
	for _, w := range want {
		if !strings.Contains(r.failures[0], w) {
			t.Errorf("the failure does not mention %q:\n%s", w, r.failures[0])
		}
	}
	if r.fatal != fatal {
		t.Errorf("fatal = %v, want %v", r.fatal, fatal)
	}
}

func TestReplayFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	reqPath, respPath := write("a.req", req), write("a.resp", resp)
	otherPath := write("b.resp", strings.Replace(resp, "200 OK", "201 Created", 1))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name              string
		reqPath, respPath string
		fatal             bool
		fails             []string
	}{
		{"same", reqPath, respPath, false, nil},
		{"differs", reqPath, otherPath, false, []string{reqPath + " against " + otherPath, `"HTTP/1.1 201 Created\r\n"`}},
		{"no request file", missing, respPath, true, []string{"reading the request stream"}},
		{"no response file", reqPath, missing, true, []string{"reading the response stream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, func(tb testing.TB) {
				streamhttptest.ReplayFiles(tb, hello, streamhttp.ServerSettings{}, tt.reqPath, tt.respPath)
			})
			checkFailures(t, r, tt.fatal, tt.fails)
		})
	}
}

// TestReplayPcap replays a real capture of the echo example.
func TestReplayPcap(t *testing.T) {
	capture := filepath.Join("..", "testdata", "captures", "go-keepalive.pcap")
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "text.pcap")
	if err := os.WriteFile(notPcap, []byte(req), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pcap")
	header := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0}
	if err := os.WriteFile(empty, header, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		handler streamhttptest.Handler
		path    string
		fatal   bool
		fails   []string
	}{
		{"echo", echohandler.Handler(1), capture, false, nil},
		{"another handler", hello, capture, false, []string{"connection 1 (127.0.0.1:", "the responses differ", `"Content-Length: 34\r\n"`}},
		{"no file", hello, filepath.Join(dir, "missing.pcap"), true, []string{"opening the capture"}},
		{"not a capture", hello, notPcap, true, []string{"not a pcap file"}},
		{"no connection", hello, empty, true, []string{"holds no TCP connection"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record(t, func(tb testing.TB) {
				streamhttptest.ReplayPcap(tb, tt.handler, streamhttp.ServerSettings{PipeliningLimit: 16}, tt.path)
			})
			checkFailures(t, r, tt.fatal, tt.fails)
		})
	}
}
