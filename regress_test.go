package streamhttp_test

// Regression tests for server-layer bugs found while building the echo
// example and the replay tests.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func echoResponse(r *streamhttp.Request) *streamhttp.Response {
	return httpcore.NewResponse(200, entity.ChunkedFromData(r.ContentType, r.Entity.DataBytes()))
}

var echoHandlers = map[string]stream.Flow[*streamhttp.Request, *streamhttp.Response]{
	"sync Map": stream.Map(echoResponse),
	"MapAsync": stream.MapAsync(1, func(_ context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		return echoResponse(r), nil
	}),
}

func pipeServe(t *testing.T, h stream.Flow[*streamhttp.Request, *streamhttp.Response]) net.Conn {
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- streamhttp.ServeConn(context.Background(), server, h, streamhttp.ServerSettings{}) }()
	t.Cleanup(func() { client.Close(); <-done })
	return client
}

// A bug found once: a response that streams the request body back is not flushed while
// the layer waits for more of that body, when the handler is asynchronous.
func TestRegressionEchoFlush(t *testing.T) {
	for name, h := range echoHandlers {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := pipeServe(t, h)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				go io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
				br := bufio.NewReader(c)
				var got strings.Builder
				for !strings.HasSuffix(got.String(), "5\r\nfirst\r\n") {
					b, err := br.ReadByte()
					if err != nil {
						t.Fatalf("the head and first echoed chunk did not arrive before the body's end was sent: %v; got %q", err, got.String())
					}
					got.WriteByte(b)
				}
				go io.WriteString(c, "0\r\n\r\n")
			})
		})
	}
}

// A bug found once: Expect: 100-continue with a handler that answers before reading the
// body (here: an echo, whose response head is rendered before the body is
// pulled). The 100 Continue goes to c.inband, which outbound only drains
// between responses, and the response carries Connection: close. The client
// waits (curl: 1 s) and the connection is lost.
func TestRegressionExpectContinueEcho(t *testing.T) {
	for name, h := range echoHandlers {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := pipeServe(t, h)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				go io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
					t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
				}
				go io.WriteString(c, "hello")
			})
		})
	}
}

// Bug 3 (race detector): outbound.finish reads x.body after c.mu is
// released, while popPending has already put x on the free list and the
// inbound side may be reusing it (newExchange writes x.body). Read x.body
// before unlocking. Shows under -race with pipelined requests and an async
// handler (not every run).
func TestRegressionFinishRace(t *testing.T) {
	h := stream.MapAsync(4, func(_ context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		return httpcore.Text(200, "ok").ForRequest(r), nil
	})
	for i := 0; i < 50; i++ {
		client, server := net.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- streamhttp.ServeConn(context.Background(), server, h, streamhttp.ServerSettings{PipeliningLimit: 16})
		}()
		go io.WriteString(client, strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 32)+"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		out, _ := io.ReadAll(client)
		if n := strings.Count(string(out), "HTTP/1.1 200"); n != 33 {
			t.Fatalf("%d responses", n)
		}
		client.Close()
		<-done
	}
	fmt.Print()
}
