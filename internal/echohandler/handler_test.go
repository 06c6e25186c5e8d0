package echohandler_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
)

// serve runs ServeConn with the echo handler on one end of a net.Pipe and
// returns the other end; the cleanup closes it and waits for ServeConn.
func serve(t *testing.T, parallelism int, s streamhttp.ServerSettings) net.Conn {
	t.Helper()
	c, _ := serveWait(t, parallelism, s)
	return c
}

// serveWait is serve that also returns a function waiting for ServeConn to
// return (after the client end is closed, say) with its error.
func serveWait(t *testing.T, parallelism int, s streamhttp.ServerSettings) (net.Conn, func() error) {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- streamhttp.ServeConn(context.Background(), server, echohandler.Handler(parallelism), s)
	}()
	wait := sync.OnceValue(func() error { return <-done })
	t.Cleanup(func() {
		client.Close()
		wait()
	})
	return client, wait
}

// quietLogger drops the server's logs (tests that provoke errors).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// send writes the requests in a goroutine: net.Pipe is unbuffered, and the
// server may answer before it has read them all.
func send(t *testing.T, c net.Conn, requests string) {
	t.Helper()
	go func() { io.WriteString(c, requests) }()
}

// response is what a test compares of a response.
type response struct {
	Status      int
	ContentType string
	Chunked     bool
	Close       bool
	Body        string
}

func readResponse(t *testing.T, br *bufio.Reader) response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	return response{
		Status:      resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Chunked:     len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked",
		Close:       resp.Close,
		Body:        string(body),
	}
}

// assertClosed checks that the server closed the connection.
func assertClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err == nil {
		t.Errorf("the connection is still open: read %q", b)
	}
}

const textPlain = "text/plain; charset=utf-8"

func TestRoutes(t *testing.T) {
	pattern := func(n int) string { return strings.Repeat("0123456789abcdef", n/16+1)[:n] }
	tests := []struct {
		name    string
		request string
		want    response
	}{
		{"root", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, false, "Hello, World!"}},
		{"plaintext", "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, false, "Hello, World!"}},
		{"json", "GET /json HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, "application/json", false, false, `{"message":"Hello, World!"}`}},
		{"stats placeholder", "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, "application/json", false, false, "{}"}},
		{"echo length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 5\r\n\r\na,b,c",
			response{200, "text/csv", false, false, "a,b,c"}},
		{"echo chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
			response{200, "text/x", true, false, "abcde"}},
		{"echo empty", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
			response{200, "", false, false, ""}},
		{"stream", "GET /stream?n=3&size=20 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, "application/octet-stream", true, false, strings.Repeat(pattern(20), 3)}},
		{"stream defaults", "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, "application/octet-stream", true, false, strings.Repeat(pattern(64), 10)}},
		{"stream nothing", "GET /stream?n=0 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, "application/octet-stream", true, false, ""}},
		{"stream too many", "GET /stream?n=10001 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: n must be an integer from 0 to 10000\n"}},
		{"stream too large", "GET /stream?size=1048577 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: size must be an integer from 0 to 1048576\n"}},
		{"stream malformed", "GET /stream?n=x HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: n must be an integer from 0 to 10000\n"}},
		{"stream bad query", "GET /stream?n=1;size=2 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: the query does not parse\n"}},
		{"sleep 0", "GET /sleep?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, false, "slept"}},
		{"sleep negative", "GET /sleep?ms=-1 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: ms must be an integer from 0 to 60000\n"}},
		{"sleep too long", "GET /sleep?ms=60001 HTTP/1.1\r\nHost: x\r\n\r\n",
			response{400, textPlain, false, false, "Bad Request: ms must be an integer from 0 to 60000\n"}},
		{"close", "GET /close HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, true, "closing"}},
		{"panic", "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n",
			response{500, textPlain, false, true, "Internal Server Error\n"}},
		{"other with body", "PUT /things/1?x=y HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
			response{200, textPlain, false, false, "PUT /things/1 bytes=3"}},
		{"other chunked", "PATCH /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
			response{200, textPlain, false, false, "PATCH /p bytes=4"}},
		{"other without body", "DELETE /d HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, false, "DELETE /d bytes=0"}},
		{"echo is POST only", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
			response{200, textPlain, false, false, "GET /echo bytes=0"}},
		{"HTTP/1.0", "GET /plaintext HTTP/1.0\r\n\r\n",
			response{200, textPlain, false, true, "Hello, World!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, 1, streamhttp.ServerSettings{Logger: quietLogger()})
			send(t, c, tt.request)
			br := bufio.NewReader(c)
			if diff := cmp.Diff(tt.want, readResponse(t, br)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if tt.want.Close {
				assertClosed(t, br)
			}
		})
	}
}

// TestStreamChunks checks the framing of /stream: n chunks of size bytes.
func TestStreamChunks(t *testing.T) {
	c := serve(t, 1, streamhttp.ServerSettings{})
	send(t, c, "GET /stream?n=2&size=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no head in %q", raw)
	}
	if got, want := string(body), "3\r\n012\r\n3\r\n012\r\n0\r\n\r\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

// TestBodyLimit: the catch-all route answers 413 to a body over MaxBody
// (the server's own limit is raised so that the body reaches the handler).
func TestBodyLimit(t *testing.T) {
	s := streamhttp.ServerSettings{Logger: quietLogger()}
	s.Parser.MaxContentLength = 2 * echohandler.MaxBody
	c := serve(t, 1, s)
	go func() {
		io.WriteString(c, "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 1<<20, bytes.Repeat([]byte("x"), 1<<20))
		for range echohandler.MaxBody>>20 + 1 {
			if _, err := io.WriteString(c, chunk); err != nil {
				return // the server closed after answering
			}
		}
		io.WriteString(c, "0\r\n\r\n")
	}()
	got := readResponse(t, bufio.NewReader(c))
	want := response{413, textPlain, false, true, fmt.Sprintf("the body exceeds %d bytes\n", echohandler.MaxBody)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

// TestPipelined sends every kind of request in one write; the answers come
// back in request order.
func TestPipelined(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism ", parallelism), func(t *testing.T) {
			c := serve(t, parallelism, streamhttp.ServerSettings{PipeliningLimit: 16})
			send(t, c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /sleep?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"+
				"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /stream?n=2&size=2 HTTP/1.1\r\nHost: x\r\n\r\n"+
				"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"+
				"GET /close HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			var bodies []string
			for range 7 {
				bodies = append(bodies, readResponse(t, br).Body)
			}
			want := []string{"Hello, World!", "slept", "abcd", `{"message":"Hello, World!"}`, "0101", "PUT /x bytes=2", "closing"}
			if diff := cmp.Diff(want, bodies); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
			assertClosed(t, br)
		})
	}
}

// TestSleepInParallel: with parallelism 3, three pipelined sleeps of one
// connection overlap, finish out of order and are answered in order, and a
// second connection is not held up by them.
func TestSleepInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		c := serve(t, 3, streamhttp.ServerSettings{PipeliningLimit: 3})
		send(t, c, "GET /sleep?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /sleep?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"+
			"GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")

		other := serve(t, 3, streamhttp.ServerSettings{})
		send(t, other, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readResponse(t, bufio.NewReader(other)).Body; got != echohandler.Hello {
			t.Errorf("other connection: body %q", got)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the other connection was answered after %v, want at once", d)
		}

		br := bufio.NewReader(c)
		for i := range 3 {
			if got := readResponse(t, br).Body; got != "slept" {
				t.Errorf("response %d: body %q", i, got)
			}
			if d := time.Since(start); d != 300*time.Millisecond {
				t.Errorf("response %d after %v, want 300ms (the sleeps overlap)", i, d)
			}
		}
	})
}

// TestEchoStreams: POST /echo answers each chunk of the request body before
// the client sends the next one, so a client can converse with it.
//
// Known layer bug (reported to the lead): with an asynchronous handler the
// outbound side waits for the request body inside the handler's island, so
// the connection's write buffer is not flushed while it waits, and neither
// the response head nor the echoed chunk leaves before more input arrives.
func TestEchoStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := serve(t, 1, streamhttp.ServerSettings{})
		// Deadlines on a pipe in a bubble fire on the bubble's clock: a
		// server that holds the echo back fails the test at once.
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for i, chunk := range []string{"first", "second", "third"} {
			go fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
			if i == 0 {
				head, err := readHead(br)
				if err != nil {
					t.Fatalf("LAYER BUG (write buffer not flushed while the response waits for request body): the response head did not arrive with the first chunk: %v (read %q)", err, head)
				}
			}
			want := fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("chunk %d was not echoed before the next was sent: %v (read %q)", i, err, got)
			}
			if string(got) != want {
				t.Errorf("chunk %d: got %q, want %q", i, got, want)
			}
		}
		go io.WriteString(c, "0\r\n\r\n")
		last := make([]byte, 5)
		if _, err := io.ReadFull(br, last); err != nil || string(last) != "0\r\n\r\n" {
			t.Errorf("last chunk: %q, %v", last, err)
		}
	})
}

// readHead reads a response head up to its empty line.
func readHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			return head.String(), err
		}
		if line == "\r\n" {
			return head.String(), nil
		}
	}
}

func TestHandlerPanicsOnBadParallelism(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(0) did not panic")
		}
	}()
	echohandler.Handler(0)
}

// TestPanicLogged: the 500 of GET /panic comes from the handler's own panic,
// which the server logs with its value.
func TestPanicLogged(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	c, wait := serveWait(t, 1, streamhttp.ServerSettings{Logger: logger})
	send(t, c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if got := readResponse(t, br); got.Status != 500 {
		t.Errorf("status %d, want 500", got.Status)
	}
	assertClosed(t, br)
	c.Close()
	wait() // ServeConn has logged and returned: the buffer is ours
	if got := logs.String(); !strings.Contains(got, "handler panicked") || !strings.Contains(got, echohandler.ErrPanicRoute.Error()) {
		t.Errorf("log = %q, want the panic and its value", got)
	}
}
