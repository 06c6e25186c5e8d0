package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/stream"
)

// TestPipeliningAfterStreamedBody: once a handler has read a request's
// streamed body, the next pipelined request goes to the handler, without
// waiting for the first one's answer.
func TestPipeliningAfterStreamedBody(t *testing.T) {
	gate, second := make(chan struct{}), make(chan struct{})
	f := func(ctx context.Context, r *Request) (*Response, error) {
		if r.URI.Path == "/upload" {
			if _, err := entity.ToStrict(ctx, r.Entity, 1<<20); err != nil {
				return nil, err
			}
			<-gate
		} else {
			close(second)
		}
		return respond(r).ForRequest(r), nil
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			gate, second = make(chan struct{}), make(chan struct{})
			client, done := tr.dial(t, AsyncHandler(f, 4, 4), ServerSettings{PipeliningLimit: 4})
			io.WriteString(client, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
			time.Sleep(10 * time.Millisecond) // the body streams: it comes after the head
			io.WriteString(client, "0123456789"+get("/next"))
			select {
			case <-second:
			case <-time.After(3 * time.Second):
				t.Fatal("the request after a streamed body waits for the first one's answer")
			}
			close(gate)
			br := bufio.NewReader(client)
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			expectResponse(t, br, ok("/upload"))
			expectResponse(t, br, ok("/next"))
			client.Close()
			<-done
		})
	}
}

// TestUnorderedFlowMustLink: a handler flow that may reorder its responses
// (MapAsyncUnordered) and does not link them to their requests never sends
// a request another one's answer: the connection fails with a
// ProtocolError that says to link them. Linked, the same flow is served.
func TestUnorderedFlowMustLink(t *testing.T) {
	slowFirst := func(link bool) stream.Flow[*Request, *Response] {
		return stream.MapAsyncUnordered(8, func(_ context.Context, r *Request) (*Response, error) {
			var n int
			fmt.Sscanf(r.URI.Path, "/%d", &n)
			time.Sleep(time.Duration(8-n) * 5 * time.Millisecond)
			if link {
				return respond(r).ForRequest(r), nil
			}
			return respond(r), nil
		})
	}
	var in strings.Builder
	for i := range 8 {
		in.WriteString(get(fmt.Sprintf("/%d", i)))
	}
	for _, link := range []bool{false, true} {
		t.Run(fmt.Sprintf("linked %v", link), func(t *testing.T) {
			client, done := dialPipe(t, slowFirst(link), ServerSettings{PipeliningLimit: 8, Logger: quietSettings().Logger})
			go io.WriteString(client, in.String())
			br := bufio.NewReader(client)
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			n := 0
			for ; n < 8; n++ {
				got, err := readResponse(br)
				if err != nil {
					break
				}
				if want := ok(fmt.Sprintf("/%d", n)); got != want {
					t.Fatalf("response %d: %q, want %q", n, abbrev(got), want)
				}
			}
			client.Close()
			err := <-done
			var pe *ProtocolError
			switch {
			case link && (n != 8 || err != nil):
				t.Errorf("linked: %d responses, %v; want 8 and no error", n, err)
			case !link && !errors.As(err, &pe):
				t.Errorf("unlinked: ServeConn returned %v, want a ProtocolError", err)
			case !link && !strings.Contains(err.Error(), "ForRequest"):
				t.Errorf("the error does not say how to link: %v", err)
			}
		})
	}
}
