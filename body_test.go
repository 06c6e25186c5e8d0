package streamhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// post is the head of a POST with a Content-Length body.
func post(target string, length int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", target, length)
}

// postChunked is the head of a POST with a chunked body.
func postChunked(target string) string {
	return "POST " + target + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
}

// firstPiece reads the first piece of a body and leaves the rest unread,
// without cancelling it.
func firstPiece(r *Request) string {
	first := stream.NewSink(func(_ *stream.Materializer, up stream.Puller[[]byte]) (string, error) {
		p, err := up.Pull()
		return string(p), err
	})
	s, _ := stream.RunWith(context.Background(), r.Entity.DataBytes(), first)
	return s
}

// bodyHandler answers /read after reading the whole body, /first after
// reading its first piece, /cancel after reading the first piece and
// cancelling the rest, and anything else without touching the body.
func bodyHandler(r *Request) *Response {
	switch r.URI.Path {
	case "/read":
		s, err := toStrict(r)
		if err != nil {
			return httpcore.Text(httpcore.StatusBadRequest, err.Error())
		}
		return httpcore.Text(httpcore.StatusOK, s)
	case "/first":
		return httpcore.Text(httpcore.StatusOK, firstPiece(r))
	case "/cancel":
		s, _ := stream.RunWith(context.Background(), stream.Via(r.Entity.DataBytes(), stream.Take[[]byte](1)),
			stream.Fold("", func(acc string, p []byte) string { return acc + string(p) }))
		return httpcore.Text(httpcore.StatusOK, s)
	}
	return respond(r)
}

// TestRequestBody checks what a request body the handler does not read in
// full does to the connection: an untouched body within MaxDrainBytes is
// discarded after the response and the connection goes on; a larger one,
// a body the handler started reading (an early response) or cancelled
// closes it, with Connection: close in the response and nothing more read.
// The body arrives after its head, in separate buffers, so that it streams.
func TestRequestBody(t *testing.T) {
	next := get("/next")
	cases := []struct {
		name  string
		drain int64
		in    []string
		want  string
		pulls int // pulls of the input (the last one of a connection that goes on meets its end)
	}{
		{"read in full", 0, []string{post("/read", 10), "01234", "56789", next},
			text("200 OK", "", "0123456789") + ok("/next"), 5},
		{"read in full, chunked", 0, []string{postChunked("/read"), "5\r\n01234\r\n", "5\r\n56789\r\n0\r\n\r\n", next},
			text("200 OK", "", "0123456789") + ok("/next"), 5},
		{"untouched, drained", 0, []string{post("/a", 10), "01234", "56789", next},
			ok("/a") + ok("/next"), 5},
		{"untouched chunked, drained", 0, []string{postChunked("/a"), "5\r\n01234\r\n", "5\r\n56789\r\n0\r\n\r\n", next},
			ok("/a") + ok("/next"), 5},
		{"untouched, as large as MaxDrainBytes", 10, []string{post("/a", 10), "01234", "56789", next},
			ok("/a") + ok("/next"), 5},
		{"untouched, larger than MaxDrainBytes", 9, []string{post("/a", 10), "01234", "56789", next},
			okClose("/a"), 1},
		{"untouched chunked, larger than MaxDrainBytes", 9, []string{postChunked("/a"), "5\r\n01234\r\n", "5\r\n56789\r\n0\r\n\r\n", next},
			// The response cannot know in advance: the connection closes
			// after it when draining runs over.
			ok("/a"), 3},
		{"early response", 0, []string{post("/first", 10), "01234", "56789", next},
			okClose("01234"), 2},
		{"early response, chunked", 0, []string{postChunked("/first"), "5\r\n01234\r\n", "5\r\n56789\r\n0\r\n\r\n", next},
			okClose("01234"), 2},
		{"cancelled", 0, []string{post("/cancel", 10), "01234", "56789", next},
			okClose("01234"), 2},
		{"cancelled, chunked", 0, []string{postChunked("/cancel"), "5\r\n01234\r\n", "5\r\n56789\r\n0\r\n\r\n", next},
			okClose("01234"), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var pulls atomic.Int32
			var cancelled atomic.Bool
			src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] {
				return &funcPuller{
					pull: func() ([]byte, error) {
						n := int(pulls.Add(1))
						if n > len(tc.in) {
							return nil, stream.EOS
						}
						return []byte(tc.in[n-1]), nil
					},
					cancel: func(error) { cancelled.Store(true) },
				}
			})
			s := quietSettings()
			s.MaxDrainBytes = tc.drain
			out, err := stream.RunWith(context.Background(), stream.Via(src, layerFlow(s, stream.Map(bodyHandler))),
				stream.Fold("", func(acc string, p []byte) string { return acc + normalize(p) }))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if n := int(pulls.Load()); n != tc.pulls {
				t.Errorf("input read %d times, want %d", n, tc.pulls)
			}
			if tc.pulls < len(tc.in) && !cancelled.Load() {
				t.Error("input not cancelled after the closing response")
			}
		})
	}
}

// TestTruncatedBody checks that a connection that ends in the middle of a
// request body fails the entity stream the handler reads with errTruncated,
// and that the connection closes after the handler's answer.
func TestTruncatedBody(t *testing.T) {
	for _, head := range []string{post("/read", 10), postChunked("/read")} {
		var got error
		handler := stream.Map(func(r *Request) *Response {
			_, got = toStrict(r)
			return httpcore.Text(httpcore.StatusBadRequest, "truncated")
		})
		out, err := runLayer(t, quietSettings(), handler, head, "5\r\n012")
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(got, h1.ErrTruncated) {
			t.Errorf("the handler read %v, want errTruncated", got)
		}
		if want := text("400 Bad Request", "Connection: close\r\n", "truncated"); out != want {
			t.Errorf("output %q, want %q", out, want)
		}
	}
}

// TestChunkedBodyLimit checks that a chunked body is bounded by
// ParserSettings.MaxContentLength as it streams, the default included, and
// that a handler failing with the *SizeLimitError gets its client a 413.
func TestChunkedBodyLimit(t *testing.T) {
	handler := stream.MapAsync(1, func(_ context.Context, r *Request) (*Response, error) {
		if _, err := toStrict(r); err != nil {
			return nil, err
		}
		return httpcore.Text(httpcore.StatusOK, "read"), nil
	})
	chunk := fmt.Sprintf("%x\r\n%s\r\n", 1<<20, strings.Repeat("a", 1<<20))
	cases := []struct {
		name  string
		limit int64
		size  int // in MiB
		want  string
	}{
		{"within the default", 0, 8, text("200 OK", "", "read")},
		{"over the default", 0, 9, ""},
		{"over a configured limit", 3 << 20, 4, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []string{postChunked("/")}
			for range tc.size {
				in = append(in, chunk)
			}
			in = append(in, "0\r\n\r\n")
			s := quietSettings()
			s.Parser.MaxContentLength = tc.limit
			out, err := runLayer(t, s, handler, in...)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				limit := tc.limit
				if limit == 0 {
					limit = httpcore.DefaultMaxContentLength
				}
				want = text("413 Content Too Large", "Connection: close\r\n",
					fmt.Sprintf("Content Too Large: the request body exceeds the limit of %d bytes\n", limit))
			}
			if out != want {
				t.Errorf("output %q, want %q", abbrev(out), want)
			}
		})
	}
}

// interim100 is the interim response that asks a client for its body.
const interim100 = "HTTP/1.1 100 Continue\r\n\r\n"

// expectNothing checks that the server sends nothing for d.
func expectNothing(t *testing.T, c net.Conn, br *bufio.Reader, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	if b, err := br.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server sent %q (%v), want nothing yet", b, err)
	}
	c.SetReadDeadline(time.Time{})
}

// readExactly reads exactly len(want) bytes and compares them with want.
func readExactly(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("read %q (%v), want %q", got, err, want)
	}
}

// TestExpectContinue checks 100-continue (RFC 9110 §10.1.1) over a
// connection: the interim response goes out when the handler first asks
// for the body and never before; not when the body came with the head;
// not for HTTP/1.0; a handler that answers without reading gets no 100 and
// closes the connection; another expectation gets 417 and a close.
func TestExpectContinue(t *testing.T) {
	expect := func(target, proto string, length int) string {
		return fmt.Sprintf("POST %s %s\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", target, proto, length)
	}
	for _, tr := range transports {
		t.Run(tr.name+"/sent on the first demand", func(t *testing.T) {
			start := make(chan struct{})
			handler := stream.Map(func(r *Request) *Response {
				<-start
				return bodyHandler(r)
			})
			c, done := tr.dial(t, handler, ServerSettings{})
			br := bufio.NewReader(c)
			go io.WriteString(c, expect("/read", "HTTP/1.1", 5))
			expectNothing(t, c, br, 50*time.Millisecond)
			close(start)
			readExactly(t, br, interim100)
			go io.WriteString(c, "hello"+get("/next"))
			expectResponse(t, br, text("200 OK", "", "hello"))
			expectResponse(t, br, ok("/next"))
			c.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		t.Run(tr.name+"/not when the body came with the head", func(t *testing.T) {
			c, done := tr.dial(t, stream.Map(bodyHandler), ServerSettings{})
			br := bufio.NewReader(c)
			go io.WriteString(c, expect("/read", "HTTP/1.1", 5)+"hello")
			expectResponse(t, br, text("200 OK", "", "hello"))
			c.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		t.Run(tr.name+"/not to HTTP/1.0", func(t *testing.T) {
			c, done := tr.dial(t, stream.Map(bodyHandler), ServerSettings{})
			br := bufio.NewReader(c)
			go io.WriteString(c, expect("/read", "HTTP/1.0", 5))
			expectNothing(t, c, br, 50*time.Millisecond)
			go io.WriteString(c, "hello")
			expectResponse(t, br, okClose("hello"))
			expectEOF(t, c, br)
			c.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		t.Run(tr.name+"/answered without reading", func(t *testing.T) {
			c, done := tr.dial(t, stream.Map(bodyHandler), ServerSettings{})
			br := bufio.NewReader(c)
			go io.WriteString(c, expect("/a", "HTTP/1.1", 5))
			expectResponse(t, br, okClose("/a"))
			expectEOF(t, c, br)
			c.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("another expectation", func(t *testing.T) {
		var calls atomic.Int32
		out, err := runLayer(t, ServerSettings{}, counting(&calls, respond),
			"POST /a HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\n", "hello", get("/next"))
		if err != nil {
			t.Fatal(err)
		}
		want := text("417 Expectation Failed", "Connection: close\r\n", "Expectation Failed: only 100-continue is supported\n")
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("the handler saw %d requests, want 0", n)
		}
	})
}

// expectHead is the head of a POST that expects 100-continue.
func expectHead(target string, length int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", target, length)
}

// TestExpectContinueInBand checks the 100 Continue of a layer that cannot
// write ahead of its responses (in memory, or behind an earlier response):
// it goes out after the responses to the requests before it, and never
// after the final response of its own request.
func TestExpectContinueInBand(t *testing.T) {
	t.Run("behind an earlier response", func(t *testing.T) {
		slow := make(chan struct{})
		handler := stream.MapAsyncUnordered(2, func(_ context.Context, r *Request) (*Response, error) {
			if r.URI.Path == "/slow" {
				<-slow
			}
			return bodyHandler(r).ForRequest(r), nil
		})
		p := streamtest.ProbeFlow(t, context.Background(), layerFlow(ServerSettings{PipeliningLimit: 2}, handler))
		p.Out.Request(10)
		p.In.ExpectRequest()
		p.In.SendNext([]byte(get("/slow") + expectHead("/read", 5)))
		// The handler of /read asks for its body: the layer reads, but the
		// 100 Continue must wait for the response to /slow.
		p.In.ExpectRequest()
		p.Out.ExpectNoMessage(50 * time.Millisecond)
		close(slow)
		if got := normalize(p.Out.ExpectNext()); got != ok("/slow") {
			t.Fatalf("first %q, want the response to /slow", got)
		}
		if got := string(p.Out.ExpectNext()); got != interim100 {
			t.Fatalf("second %q, want %q", got, interim100)
		}
		p.In.SendNext([]byte("hello"))
		if got := normalize(p.Out.ExpectNext()); got != text("200 OK", "", "hello") {
			t.Fatalf("third %q, want the response to /read", got)
		}
	})
	for _, h := range []struct {
		name    string
		handler stream.Flow[*Request, *Response]
	}{
		{"sync", stream.Map(bodyHandler)},
		{"async", stream.MapAsync(1, func(_ context.Context, r *Request) (*Response, error) { return bodyHandler(r), nil })},
	} {
		t.Run(h.name+" handler, no stray 100 after the response", func(t *testing.T) {
			// The client sends its body without waiting (as clients do
			// after a while): the 100 that could not go out before the
			// response must not follow it.
			got, err := runLayer(t, ServerSettings{}, h.handler, expectHead("/read", 5), "hello", get("/next"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(text("200 OK", "", "hello")+ok("/next"), got); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBodyOfAnEarlierRequest checks a synchronous flow that asks for the
// next request before it has answered one with an unread body: the body is
// discarded (the layer cannot wait for a response that only comes after
// the next request), a late read of it fails with errDiscarded, and the
// connection goes on.
func TestBodyOfAnEarlierRequest(t *testing.T) {
	var queue []*Request
	var readErr error
	flow := protocolFlow(func(up stream.Puller[*Request]) (*Response, error) {
		if len(queue) == 0 {
			for range 2 {
				r, err := up.Pull()
				if err != nil {
					return nil, err
				}
				queue = append(queue, r)
			}
			_, readErr = toStrict(queue[0])
		}
		r := queue[0]
		queue = queue[1:]
		return respond(r), nil
	})
	got, err := runLayer(t, ServerSettings{PipeliningLimit: 2}, flow, post("/a", 5), "hello", get("/b"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ok("/a")+ok("/b"), got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if !errors.Is(readErr, h1.ErrDiscarded) {
		t.Errorf("reading the discarded body: %v, want errDiscarded", readErr)
	}
}
