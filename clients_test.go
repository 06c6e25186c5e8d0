package streamhttp

// Tests of the serving API (Bind*, ServerBinding) with real clients over
// loopback sockets: net/http's client and transport, and raw sockets for
// what net/http does not do (pipelining, HTTP/1.0, timeouts).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
	"github.com/streamhttp/streamhttp/stream"
)

// bindLoopback binds 127.0.0.1:0 with bind and returns the binding and its
// base URL. The cleanup closes the binding, bounded in time.
func bindLoopback(t *testing.T, bind func(ctx context.Context, addr string) (*ServerBinding, error)) (*ServerBinding, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := bind(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		if err := b.Close(cctx); err != nil {
			t.Errorf("closing the binding: %v", err)
		}
	})
	return b, "http://" + b.LocalAddr().String()
}

// bindSync serves f with BindAndHandleSync on a loopback port.
func bindSync(t *testing.T, f func(*Request) *Response, s ServerSettings) (*ServerBinding, string) {
	t.Helper()
	return bindLoopback(t, func(ctx context.Context, addr string) (*ServerBinding, error) {
		return BindAndHandleSync(ctx, addr, f, s)
	})
}

// bindAsync serves f with BindAndHandleAsync on a loopback port.
func bindAsync(t *testing.T, f func(context.Context, *Request) (*Response, error), parallelism int, s ServerSettings) (*ServerBinding, string) {
	t.Helper()
	return bindLoopback(t, func(ctx context.Context, addr string) (*ServerBinding, error) {
		return BindAndHandleAsync(ctx, addr, f, parallelism, s)
	})
}

// asyncOf makes a synchronous handler an asynchronous one.
func asyncOf(f func(*Request) *Response) func(context.Context, *Request) (*Response, error) {
	return func(_ context.Context, r *Request) (*Response, error) { return f(r), nil }
}

// newHTTPClient returns a net/http client that keeps connections alive
// (up to idle per host) and whose idle connections the cleanup closes.
func newHTTPClient(t *testing.T, idle int) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: idle, MaxConnsPerHost: idle}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// clientRoute answers the requests of these tests; every response says in
// X-Chunked whether the request body came chunked, and in X-Request-Proto
// the request's protocol.
//
//	/echo      the request body streamed back, chunked
//	/count     "bytes=N": the length of the request body, read as it streams
//	/stream    n chunks (query n, default 3) of "chunk NNNN\n"
//	other      "METHOD TARGET", the body left unread
func clientRoute(r *Request) *Response {
	var resp *Response
	switch r.URI.Path {
	case "/echo":
		body := r.Entity
		if body == nil {
			body = entity.Empty
		}
		resp = httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData(r.ContentType, body.DataBytes()))
	case "/count":
		n := 0
		if r.Entity != nil {
			var err error
			n, err = stream.RunWith(r.Context(), r.Entity.DataBytes(),
				stream.Fold(0, func(n int, p []byte) int { return n + len(p) }))
			if err != nil {
				return httpcore.Text(httpcore.StatusBadRequest, err.Error())
			}
		}
		resp = httpcore.Text(httpcore.StatusOK, "bytes="+strconv.Itoa(n))
	case "/stream":
		n, err := strconv.Atoi(strings.TrimPrefix(r.URI.RawQuery, "n="))
		if err != nil {
			n = 3
		}
		resp = httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain", stream.FromSeq(numberedChunks(n))))
	default:
		resp = httpcore.Text(httpcore.StatusOK, string(r.Method)+" "+r.Target)
	}
	resp.Header.Add("X-Chunked", strconv.FormatBool(r.Chunked))
	resp.Header.Add("X-Request-Proto", r.Proto.String())
	return resp
}

// numberedChunks yields "chunk 0000\n", "chunk 0001\n", ... n of them.
func numberedChunks(n int) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := range n {
			if !yield(fmt.Appendf(nil, "chunk %04d\n", i)) {
				return
			}
		}
	}
}

// numberedText is what numberedChunks(n) yields, concatenated.
func numberedText(n int) string {
	var b strings.Builder
	for p := range numberedChunks(n) {
		b.Write(p)
	}
	return b.String()
}

// fetch sends req with client and returns the status code and body.
func fetch(t *testing.T, client *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(body)
}

// TestClientKeepAlive: net/http's client sends many requests one after the
// other over one connection, whatever the handler does with the request
// body (reads it, or leaves it for the server to drain).
func TestClientKeepAlive(t *testing.T) {
	leakcheck.Check(t)
	const n = 50
	cases := []struct {
		name   string
		async  bool
		method string
		path   string
		body   string
		want   string
	}{
		{"sync GET", false, "GET", "/a", "", "GET /a"},
		{"async GET", true, "GET", "/a", "", "GET /a"},
		{"POST body read", false, "POST", "/count", strings.Repeat("x", 1000), "bytes=1000"},
		{"POST body drained", true, "POST", "/unread", strings.Repeat("x", 1000), "POST /unread"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b *ServerBinding
			var base string
			if tc.async {
				b, base = bindAsync(t, asyncOf(clientRoute), 0, ServerSettings{})
			} else {
				b, base = bindSync(t, clientRoute, ServerSettings{})
			}
			client := newHTTPClient(t, 1)
			var fresh, reused int
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				} else {
					fresh++
				}
			}}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			for i := range n {
				req, err := http.NewRequestWithContext(ctx, tc.method, base+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				if code, body := fetch(t, client, req); code != http.StatusOK || body != tc.want {
					t.Fatalf("request %d: %d %q, want 200 %q", i, code, body, tc.want)
				}
			}
			if fresh != 1 || reused != n-1 {
				t.Errorf("connections: %d new, %d reused; want 1 new, %d reused", fresh, reused, n-1)
			}
			if _, maxOpen := b.OpenConnections(); maxOpen != 1 {
				t.Errorf("the server had up to %d connections open, want 1", maxOpen)
			}
			if st := b.Stats(); st.TotalConnections != 1 || st.TotalRequests != n {
				t.Errorf("Stats() = %+v; want %d requests on 1 connection", st, n)
			}
		})
	}
}

// TestClientConcurrency: many goroutines of one net/http client send
// requests at once to a handler that takes a little time; every request is
// answered with its own response.
func TestClientConcurrency(t *testing.T) {
	leakcheck.Check(t)
	const workers, perWorker = 32, 20
	slow := func(ctx context.Context, r *Request) (*Response, error) {
		timer := time.NewTimer(time.Millisecond)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		return clientRoute(r), nil
	}
	cases := []struct {
		name string
		bind func(t *testing.T) (*ServerBinding, string)
	}{
		{"BindAndHandleAsync", func(t *testing.T) (*ServerBinding, string) {
			return bindAsync(t, slow, 4, ServerSettings{})
		}},
		{"BindAndHandleSync", func(t *testing.T) (*ServerBinding, string) {
			return bindSync(t, func(r *Request) *Response {
				resp, _ := slow(context.Background(), r)
				return resp
			}, ServerSettings{})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, base := tc.bind(t)
			client := newHTTPClient(t, workers)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var answered atomic.Int32
			errs := make(chan error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						target := fmt.Sprintf("/w%d/r%d", w, i)
						req, err := http.NewRequestWithContext(ctx, "GET", base+target, nil)
						if err != nil {
							errs <- err
							return
						}
						resp, err := client.Do(req)
						if err != nil {
							errs <- err
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if want := "GET " + target; err != nil || resp.StatusCode != http.StatusOK || string(body) != want {
							errs <- fmt.Errorf("%s: %d %q (%v), want 200 %q", target, resp.StatusCode, body, err, want)
							return
						}
						answered.Add(1)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := answered.Load(); got != workers*perWorker {
				t.Errorf("%d requests answered, want %d", got, workers*perWorker)
			}
			if st := b.Stats(); st.TotalRequests != workers*perWorker || st.TotalConnections > workers {
				t.Errorf("Stats() = %+v; want %d requests on at most %d connections", st, workers*perWorker, workers)
			}
		})
	}
}

// uploadData is size bytes of pseudo-random data.
func uploadData(size int) []byte {
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return data
}

// TestClientStreamingUpload: a net/http client uploads several MiB of
// unknown length (so chunked), written into the request in pieces of
// varying size; the handler streams it back as it arrives, or counts it.
func TestClientStreamingUpload(t *testing.T) {
	leakcheck.Check(t)
	const size = 5 << 20
	data := uploadData(size)
	cases := []struct {
		path string
		want func(body []byte) string // "" when body is right
	}{
		{"/echo", func(body []byte) string {
			if bytes.Equal(body, data) {
				return ""
			}
			i := 0
			for i < min(len(body), len(data)) && body[i] == data[i] {
				i++
			}
			return fmt.Sprintf("the echo has %d bytes, the first difference at %d; want the %d bytes sent", len(body), i, len(data))
		}},
		{"/count", func(body []byte) string {
			if want := "bytes=" + strconv.Itoa(size); string(body) != want {
				return fmt.Sprintf("body %q, want %q", body, want)
			}
			return ""
		}},
	}
	s := ServerSettings{Parser: httpcore.ParserSettings{MaxContentLength: 2 * size}}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			_, base := bindSync(t, clientRoute, s)
			client := newHTTPClient(t, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			written := make(chan error, 1)
			go func() {
				rng := rand.New(rand.NewPCG(3, 4))
				for off := 0; off < len(data); {
					n := min(1+rng.IntN(64<<10), len(data)-off)
					if _, err := pw.Write(data[off : off+n]); err != nil {
						written <- err
						return
					}
					off += n
				}
				written <- pw.Close()
			}()
			defer func() {
				pr.CloseWithError(errors.New("the test is over"))
				if err := <-written; err != nil {
					t.Errorf("writing the upload: %v", err)
				}
			}()
			req, err := http.NewRequestWithContext(ctx, "POST", base+tc.path, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, abbrev(string(body)))
			}
			if msg := tc.want(body); msg != "" {
				t.Error(msg)
			}
			if got := resp.Header.Get("X-Chunked"); got != "true" {
				t.Errorf("the server saw X-Chunked %q, want a chunked request body", got)
			}
		})
	}
}

// TestClientStreamingDownload: a chunked response of many chunks reaches a
// net/http client whole and chunked, and a response is streamed: the client
// reads its first chunk before the handler has made the next.
func TestClientStreamingDownload(t *testing.T) {
	leakcheck.Check(t)
	t.Run("many chunks", func(t *testing.T) {
		const n = 5000
		_, base := bindSync(t, clientRoute, ServerSettings{})
		client := newHTTPClient(t, 1)
		resp, err := client.Get(base + "/stream?n=" + strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the body: %v", err)
		}
		if diff := cmp.Diff(numberedText(n), string(body)); diff != "" {
			t.Errorf("body (-want +got):\n%s", abbrev(diff))
		}
		if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.ContentLength != -1 {
			t.Errorf("Transfer-Encoding %q, Content-Length %d; want chunked, -1", resp.TransferEncoding, resp.ContentLength)
		}
	})
	t.Run("first chunk before the next is made", func(t *testing.T) {
		release := make(chan struct{}) // the handler makes the rest of the body
		stop := make(chan struct{})    // the test is over
		defer close(stop)
		fed := make(chan struct{})
		_, base := bindSync(t, func(r *Request) *Response {
			ch := make(chan []byte)
			go func() {
				defer close(fed)
				defer close(ch)
				for i, part := range []string{"first\n", "second\n", "third\n"} {
					if i == 1 {
						select {
						case <-release:
						case <-stop:
							return
						}
					}
					select {
					case ch <- []byte(part):
					case <-stop:
						return
					}
				}
			}()
			return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain", stream.FromChannel(ch)))
		}, ServerSettings{})
		client := newHTTPClient(t, 1)
		resp, err := client.Get(base + "/gated")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		first, err := br.ReadString('\n')
		if err != nil || first != "first\n" {
			t.Fatalf("first chunk: %q, %v", first, err)
		}
		close(release)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "second\nthird\n" {
			t.Errorf("rest of the body: %q, %v", rest, err)
		}
		<-fed
	})
}

// TestRawPipelining: 16 requests written at once on a raw socket to a
// BindAndHandleAsync server whose handler completes them in reverse order;
// the responses come back in request order, each answering its request.
func TestRawPipelining(t *testing.T) {
	leakcheck.Check(t)
	const depth = 16
	cases := []struct {
		name string
		// wait holds the handler for request i (1..depth) and calls done
		// when the call counts as completed.
		wait func(ctx context.Context, g *reverseGate, i int, done func()) error
		// reversed: the handler calls must have completed in reverse order.
		reversed bool
	}{
		{"reverse gate", func(ctx context.Context, g *reverseGate, i int, done func()) error {
			// Recorded before the call for i-1 may go on, so the record
			// is in completion order.
			select {
			case <-g.done[i]:
			case <-ctx.Done():
				return ctx.Err()
			}
			done()
			close(g.done[i-1])
			return nil
		}, true},
		{"sleep depth-i ms", func(ctx context.Context, _ *reverseGate, i int, done func()) error {
			timer := time.NewTimer(time.Duration(depth-i) * time.Millisecond)
			defer timer.Stop()
			select {
			case <-timer.C:
				done()
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gate := newReverseGate(depth)
			completed := make(chan int, depth)
			f := func(ctx context.Context, r *Request) (*Response, error) {
				i, err := strconv.Atoi(strings.TrimPrefix(r.URI.Path, "/p"))
				if err != nil || i < 1 || i > depth {
					return httpcore.Text(httpcore.StatusBadRequest, r.Target), nil
				}
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				if err := tc.wait(wctx, gate, i, func() { completed <- i }); err != nil {
					return nil, err
				}
				return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("response to %d", i)), nil
			}
			b, _ := bindAsync(t, f, depth, ServerSettings{PipeliningLimit: depth})
			c := dialBinding(t, b)
			var reqs strings.Builder
			for i := 1; i <= depth; i++ {
				fmt.Fprintf(&reqs, "GET /p%d HTTP/1.1\r\nHost: x\r\n", i)
				if i == depth {
					reqs.WriteString("Connection: close\r\n")
				}
				reqs.WriteString("\r\n")
			}
			if _, err := io.WriteString(c, reqs.String()); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for i := 1; i <= depth; i++ {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				if want := fmt.Sprintf("response to %d", i); err != nil || resp.StatusCode != http.StatusOK || string(body) != want {
					t.Fatalf("response %d: %d %q (%v), want 200 %q", i, resp.StatusCode, body, err, want)
				}
			}
			expectEOF(t, c, br)
			close(completed)
			var order []int
			for i := range completed {
				order = append(order, i)
			}
			if tc.reversed {
				var want []int
				for i := depth; i >= 1; i-- {
					want = append(want, i)
				}
				if diff := cmp.Diff(want, order); diff != "" {
					t.Errorf("handler completion order (-want +got):\n%s", diff)
				}
			} else if len(order) != depth {
				t.Errorf("%d handler calls completed, want %d", len(order), depth)
			}
		})
	}
}

// dialBinding connects to b; every read and write of the connection must
// happen within 10 s. The cleanup closes it.
func dialBinding(t *testing.T, b *ServerBinding) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.LocalAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRawHTTP10: an HTTP/1.0 request (without Host) gets an HTTP/1.1
// response that closes the connection, unless it asks for keep-alive; an
// HTTP/1.0 client gets no chunked body, so a streamed one is delimited by
// the close.
func TestRawHTTP10(t *testing.T) {
	leakcheck.Check(t)
	type step struct {
		request   string
		wantClose bool   // the response says the connection closes
		wantConn  string // the Connection field of a response that keeps it open
		wantTE    []string
		wantBody  string
	}
	cases := []struct {
		name  string
		steps []step // the connection must close after the last
	}{
		{"no Host closes", []step{
			{"GET /a HTTP/1.0\r\n\r\n", true, "", nil, "GET /a"},
		}},
		{"keep-alive", []step{
			{"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, "keep-alive", nil, "GET /a"},
			{"POST /b HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc", false, "keep-alive", nil, "POST /b"},
			{"GET /c HTTP/1.0\r\n\r\n", true, "", nil, "GET /c"},
		}},
		{"keep-alive streamed body", []step{
			{"GET /stream?n=4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, "", nil, numberedText(4)},
		}},
		{"HTTP/1.1 streamed body", []step{
			{"GET /stream?n=4 HTTP/1.1\r\nHost: x\r\n\r\n", false, "", []string{"chunked"}, numberedText(4)},
			{"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true, "", nil, "GET /d"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := bindSync(t, clientRoute, ServerSettings{})
			c := dialBinding(t, b)
			br := bufio.NewReader(c)
			for i, st := range tc.steps {
				if _, err := io.WriteString(c, st.request); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("step %d: reading the body: %v", i, err)
				}
				// net/http takes "Connection: close" out of the header
				// and reports it as Close.
				type summary struct {
					Proto      string
					Close      bool
					Connection string
					TE         []string
					Body       string
				}
				got := summary{resp.Proto, resp.Close, resp.Header.Get("Connection"), resp.TransferEncoding, string(body)}
				want := summary{"HTTP/1.1", st.wantClose, st.wantConn, st.wantTE, st.wantBody}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("step %d: response (-want +got):\n%s", i, diff)
				}
			}
			expectEOF(t, c, br)
		})
	}
}

// TestBindIdleTimeout: the server closes a connection that stays idle for
// IdleTimeout, whether or not it carried a request.
func TestBindIdleTimeout(t *testing.T) {
	leakcheck.Check(t)
	const idle = 200 * time.Millisecond
	for _, request := range []bool{true, false} {
		t.Run(fmt.Sprintf("after a request %v", request), func(t *testing.T) {
			b, _ := bindSync(t, hello, ServerSettings{IdleTimeout: idle})
			c := dialBinding(t, b)
			br := bufio.NewReader(c)
			start := time.Now()
			if request {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				start = time.Now()
			}
			expectEOF(t, c, br)
			if d := time.Since(start); d < idle/2 {
				t.Errorf("closed after %v, before the idle timeout %v", d, idle)
			}
		})
	}
}

// TestBindRequestTimeout: a handler that blocks past RequestTimeout gets
// its request answered with 503 and the connection closed while it blocks;
// when it returns later, nothing of the connection is left behind (the
// leak check).
func TestBindRequestTimeout(t *testing.T) {
	leakcheck.Check(t)
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async %v", async), func(t *testing.T) {
			release := make(chan struct{})
			returned := make(chan struct{})
			block := func(r *Request) *Response {
				defer close(returned)
				select {
				case <-release:
				case <-time.After(10 * time.Second): // a bound, should the test fail
				}
				return hello(r)
			}
			s := quietSettings()
			s.RequestTimeout = 100 * time.Millisecond
			var b *ServerBinding
			if async {
				b, _ = bindAsync(t, asyncOf(block), 1, s)
			} else {
				b, _ = bindSync(t, block, s)
			}
			c := dialBinding(t, b)
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
				t.Errorf("status %d, close %v; want 503 and close", resp.StatusCode, resp.Close)
			}
			expectEOF(t, c, br)
			select {
			case <-returned:
				t.Fatal("the handler returned before it was released")
			default:
			}
			close(release)
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler did not return")
			}
		})
	}
}

// TestBindPauseResume: after Pause a new connection is left in the
// kernel's backlog, unanswered, while open connections go on being served;
// after Resume it is answered.
func TestBindPauseResume(t *testing.T) {
	leakcheck.Check(t)
	const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, openFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("with an open connection %v", openFirst), func(t *testing.T) {
			b, _ := bindSync(t, hello, ServerSettings{})
			var open net.Conn
			var openBR *bufio.Reader
			if openFirst {
				open = dialBinding(t, b)
				openBR = bufio.NewReader(open)
				io.WriteString(open, request)
				expectHello(t, openBR)
			}
			b.Pause()
			waiting := dialBinding(t, b) // completes in the backlog
			waitingBR := bufio.NewReader(waiting)
			io.WriteString(waiting, request)
			waiting.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if n, err := waitingBR.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a connection made while paused: read %d bytes, %v; want no answer", n, err)
			}
			if openFirst {
				io.WriteString(open, request)
				expectHello(t, openBR)
			}
			b.Resume()
			waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
			expectHello(t, waitingBR)
		})
	}
}

// expectHello reads a response and checks that it is hello's.
func expectHello(t *testing.T, br *bufio.Reader) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "Hello, World!" {
		t.Fatalf("response: %d %q (%v), want 200 Hello, World!", resp.StatusCode, body, err)
	}
}
