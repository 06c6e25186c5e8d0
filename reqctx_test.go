package streamhttp

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRequestContextEndsWithResponse: a request's context is cancelled
// once its response is done, and not before.
func TestRequestContextEndsWithResponse(t *testing.T) {
	ended := make(chan error, 1)
	h := func(r *Request) *Response {
		ctx := r.Context()
		if ctx.Err() != nil {
			ended <- errors.New("the context ended before the response")
			return hello(r)
		}
		context.AfterFunc(ctx, func() { ended <- ctx.Err() })
		return hello(r)
	}
	b := serveSync(t, h, ServerSettings{})
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	readBody(t, r)
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the context ended with %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request's context was not cancelled after its response")
	}
}
