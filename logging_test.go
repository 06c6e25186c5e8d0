package streamhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// reset closes c with a TCP reset.
func reset(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// TestClientResetsLogNothing: what clients do to their own connections
// (reset them idle, in the middle of a request body, while a response
// streams, or while a handler reads the body) logs nothing above DEBUG.
func TestClientResetsLogNothing(t *testing.T) {
	logs, log := newLog() // its handler logs INFO and above
	var made atomic.Int64
	handler := func(ctx context.Context, r *Request) (*Response, error) {
		switch r.URI.Path {
		case "/read":
			_, err := entity.ToStrict(ctx, r.Entity, 1<<20)
			if err != nil {
				return nil, err
			}
		case "/stream":
			src := stream.FromSeq(func(yield func([]byte) bool) {
				for yield([]byte("data\n")) {
					made.Add(1)
					time.Sleep(time.Millisecond)
				}
			})
			return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain", src)), nil
		}
		return respond(r), nil
	}
	for _, parallelism := range []int{1, 4} {
		b, url := bindAsync(t, handler, parallelism, ServerSettings{Logger: log, DisableSignals: true})
		addr := strings.TrimPrefix(url, "http://")
		clients := []func(c net.Conn){
			func(c net.Conn) { // idle after an answer
				io.WriteString(c, get("/"))
				readResponse(bufio.NewReader(c))
			},
			func(c net.Conn) { // half a body the handler does not read
				io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
			},
			func(c net.Conn) { // half a body the handler reads
				io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf")
				time.Sleep(10 * time.Millisecond)
			},
			func(c net.Conn) { // half a chunked body the handler reads
				io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n")
				time.Sleep(10 * time.Millisecond)
			},
			func(c net.Conn) { // a streaming response
				io.WriteString(c, get("/stream"))
				br := bufio.NewReader(c)
				readHead(br)
			},
			func(c net.Conn) { // half a head
				io.WriteString(c, "GET / HTTP/1.1\r\nHo")
			},
		}
		for range 5 {
			for _, client := range clients {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				client(c)
				reset(c)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b.Terminate(ctx)
		cancel()
	}
	if got := logs.String(); got != "" {
		t.Errorf("client resets logged above DEBUG:\n%s", got)
	}
}

// TestPanicStackReadable: a handler's panic is logged with its stack frame
// by frame, not as one escaped string.
func TestPanicStackReadable(t *testing.T) {
	logs, log := newLog()
	handler := stream.Map(func(r *Request) *Response { panic("handler bug") })
	client, done := dialPipe(t, handler, ServerSettings{Logger: log})
	io.WriteString(client, get("/"))
	readResponse(bufio.NewReader(client))
	client.Close()
	<-done
	got := logs.String()
	if !strings.Contains(got, "stack.0=") || !strings.Contains(got, "logging_test.go:") {
		t.Errorf("the panic's log has no frames:\n%s", got)
	}
	if strings.Contains(got, `\n\t`) {
		t.Errorf("the panic's stack is one escaped line:\n%s", got)
	}
}
