package streamhttp

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// writtenBody is the body of response i of TestOnWritten: sizes that the
// layer copies into its buffer and sizes it writes from the response's own
// memory.
func writtenBody(i int) []byte {
	n := []int{0, 7, 600, 5000, 70000, 300000}[i%6]
	return bytes.Repeat([]byte{byte('a' + i%26)}, n)
}

// TestOnWritten: Response.OnWritten is called once per response, and only
// once the server is done with it. Each hook scribbles over its response's
// body and header, as a handler that recycles them would overwrite them
// with the next response's: a call made while any byte of them was still
// to be written shows on the wire. Responses are pipelined, answered out
// of order (parallelism 4), strict and streamed.
func TestOnWritten(t *testing.T) {
	const n = 120
	var calls [n]atomic.Int32
	f := func(ctx context.Context, r *Request) (*Response, error) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URI.Path, "/w/"))
		if err != nil || i < 0 || i >= n {
			return httpcore.Text(httpcore.StatusBadRequest, "bad target\n"), nil
		}
		if i%4 == 1 {
			time.Sleep(time.Millisecond) // answered after requests behind it
		}
		body := writtenBody(i)
		var resp *Response
		if i%5 == 4 {
			// Streamed: the body in two pieces of the same memory.
			h := len(body) / 2
			resp = &Response{Status: httpcore.StatusOK, Entity: &entity.Chunked{
				Type:   "text/plain",
				Chunks: stream.FromSlice([]entity.ChunkPart{{Data: body[:h]}, {Data: body[h:]}}),
			}}
		} else {
			resp = httpcore.Bytes(httpcore.StatusOK, "text/plain", body)
		}
		resp.Header = httpcore.Headers{{Name: "X-Id", Value: strconv.Itoa(i)}}
		resp.OnWritten = func() {
			calls[i].Add(1)
			for k := range body {
				body[k] = '#'
			}
			resp.Header[0].Value = "gone"
		}
		return resp.ForRequest(r), nil
	}
	s := quietSettings()
	s.DisableSignals, s.PipeliningLimit = true, 16
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, 4, s)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	c, br := dialSend(t, b.LocalAddr(), "")
	defer c.Close()
	go func() {
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "GET /w/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		c.Write([]byte(in.String()))
	}()
	for i := range n {
		resp, body := readFull(t, br)
		if resp.StatusCode != 200 || resp.Header.Get("X-Id") != strconv.Itoa(i) || !bytes.Equal(body, writtenBody(i)) {
			t.Fatalf("response %d: %d, X-Id %q, %d bytes of body %.20q", i, resp.StatusCode, resp.Header.Get("X-Id"), len(body), body)
		}
	}
	// Each hook runs once the bytes of its response are written, when the
	// connection asks for its next output.
	deadline := time.Now().Add(5 * time.Second)
	for i := range n {
		for calls[i].Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := calls[i].Load(); got != 1 {
			t.Errorf("response %d: OnWritten called %d times, want once", i, got)
		}
	}
}

// TestOnWrittenNotCalled: no call for a response the server did not
// write (a timeout's 503 took its place), for a shared one, nor for one
// the connection failed to write; plain responses get theirs.
func TestOnWrittenNotCalled(t *testing.T) {
	var shared, late, plain, failed atomic.Int32
	sharedResp := httpcore.Text(httpcore.StatusOK, "shared\n")
	sharedResp.OnWritten = func() { shared.Add(1) }
	sharedResp.Shared()
	lateDone := make(chan struct{})
	f := func(ctx context.Context, r *Request) (*Response, error) {
		switch r.URI.Path {
		case "/shared":
			return sharedResp, nil
		case "/late":
			defer close(lateDone)
			time.Sleep(300 * time.Millisecond)
			resp := httpcore.Text(httpcore.StatusOK, "late\n")
			resp.OnWritten = func() { late.Add(1) }
			return resp, nil
		case "/big":
			resp := httpcore.Bytes(httpcore.StatusOK, "text/plain", make([]byte, 64<<20))
			resp.OnWritten = func() { failed.Add(1) }
			return resp, nil
		}
		resp := httpcore.Text(httpcore.StatusOK, "plain\n")
		resp.OnWritten = func() { plain.Add(1) }
		return resp, nil
	}
	s := quietSettings()
	s.DisableSignals, s.RequestTimeout = true, 50*time.Millisecond
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, 4, s)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())

	c, br := dialSend(t, b.LocalAddr(), "GET /shared HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	expectRaw(t, br, rawResponse{200, false, "shared\n"})
	c.Write([]byte("GET /plain HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n"))
	expectRaw(t, br, rawResponse{200, false, "plain\n"}, rawResponse{200, false, "plain\n"})

	// The 503 closes its connection; the handler's answer that comes
	// after it is dropped.
	c1, br1 := dialSend(t, b.LocalAddr(), "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c1.Close()
	if resp := readRaw(t, br1); resp.Status != 503 {
		t.Fatalf("the late request: %d, want 503", resp.Status)
	}
	<-lateDone

	// A response the client stops reading: the connection fails before
	// it is written.
	c2, br2 := dialSend(t, b.LocalAddr(), "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := br2.Peek(1); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for (b.Stats().OpenConnections > 1 || plain.Load() < 2) && time.Now().Before(deadline) { // c stays open
		time.Sleep(time.Millisecond)
	}
	if shared.Load() != 0 || late.Load() != 0 || plain.Load() != 2 || failed.Load() != 0 {
		t.Errorf("OnWritten calls: shared %d, late %d, plain %d, failed %d; want 0, 0, 2, 0", shared.Load(), late.Load(), plain.Load(), failed.Load())
	}
}
