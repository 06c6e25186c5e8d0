package streamhttp

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
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
