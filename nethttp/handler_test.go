package nethttp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
)

// serve binds h through Handler on a loopback port and returns the base
// URL; the cleanup closes the binding.
func serve(t *testing.T, h http.Handler, s streamhttp.ServerSettings) string {
	t.Helper()
	s.DisableSignals = true
	ctx, cancel := context.WithCancel(context.Background())
	b, err := streamhttp.BindAndHandleAsync(ctx, "127.0.0.1:0", Handler(h, Options{Logger: discardLogger()}), 1, s)
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
	return "http://" + b.LocalAddr().String()
}

// client is a transport per test, so that idle connections end with it.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestRequestFields(t *testing.T) {
	type seen struct {
		Method, RequestURI, Path, Query, Proto, Host string
		Header                                       http.Header
		ContentLength                                int64
		Body                                         string
		HasServer, LocalOK, RemoteOK                 bool
	}
	got := make(chan seen, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		_, srvOK := r.Context().Value(http.ServerContextKey).(*http.Server)
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		_, _, rerr := net.SplitHostPort(r.RemoteAddr)
		h := r.Header.Clone()
		h.Del("User-Agent")
		h.Del("Accept-Encoding")
		got <- seen{r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Proto, r.Host, h, r.ContentLength, string(b),
			srvOK, la != nil && strings.HasPrefix(la.String(), "127.0.0.1:"), rerr == nil}
	}), streamhttp.ServerSettings{})
	req, _ := http.NewRequest("POST", url+"/a%20b/c?x=1&y=2", strings.NewReader("hello"))
	req.Header.Set("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	req.Header.Set("content-type", "text/plain")
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := seen{"POST", "/a%20b/c?x=1&y=2", "/a b/c", "x=1&y=2", "HTTP/1.1", strings.TrimPrefix(url, "http://"),
		http.Header{"X-Multi": {"1", "2"}, "Content-Type": {"text/plain"}, "Content-Length": {"5"}}, 5, "hello", true, true, true}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestSmallResponseGetsLength(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-A", "b")
		io.WriteString(w, "<html>hi</html>")
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := []any{resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Header.Get("Content-Type"), resp.Header.Get("X-A"), string(b)}
	want := []any{200, int64(15), []string(nil), "text/html; charset=utf-8", "b", "<html>hi</html>"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A large body streams: its hash arrives intact, chunked.
func TestLargeStreamedResponse(t *testing.T) {
	const n = 8 << 20
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := make([]byte, 1000)
		for i := 0; i < n/len(p); i++ {
			for j := range p {
				p[j] = byte(i + j)
			}
			if _, err := w.Write(p); err != nil {
				return
			}
		}
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	p := make([]byte, 1000)
	for i := 0; i < n/len(p); i++ {
		for j := range p {
			p[j] = byte(i + j)
		}
		want.Write(p)
	}
	if got != n/1000*1000 || !bytes.Equal(h.Sum(nil), want.Sum(nil)) || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("got %d bytes, %v; hash match %v", got, resp.TransferEncoding, bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
}

// Flush sends the head and what was written while the handler goes on;
// the handler then waits for the client's signal.
func TestFlushStreamsBeforeReturn(t *testing.T) {
	release := make(chan struct{})
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "event one\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "event two\n")
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "event one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "event two\n" {
		t.Errorf("rest %q", rest)
	}
}

// The request body is read as the handler pulls it: the handler sees the
// first part before the client has sent the second.
func TestRequestBodyStreams(t *testing.T) {
	pr, pw := io.Pipe()
	got := make(chan string, 2)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				break
			}
			got <- line
		}
		io.WriteString(w, "done")
	}), streamhttp.ServerSettings{})
	req, _ := http.NewRequest("POST", url, pr)
	done := make(chan error, 1)
	go func() {
		resp, err := client(t).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	pw.Write([]byte("first\n"))
	if l := <-got; l != "first\n" {
		t.Errorf("got %q", l)
	}
	pw.Write([]byte("second\n"))
	if l := <-got; l != "second\n" {
		t.Errorf("got %q", l)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Full duplex: the handler echoes the body line by line while the client
// is still sending it.
func TestFullDuplexEcho(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Error(err)
		}
		w.WriteHeader(200)
		rc.Flush()
		br := bufio.NewReader(r.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(w, strings.ToUpper(line))
			rc.Flush()
		}
	}), streamhttp.ServerSettings{})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", url, pr)
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, s := range []string{"a\n", "bc\n", "def\n"} {
		pw.Write([]byte(s))
		line, err := br.ReadString('\n')
		if err != nil || line != strings.ToUpper(s) {
			t.Fatalf("got %q, %v", line, err)
		}
	}
	pw.Close()
}

// Trailers declared in the head and set by TrailerPrefix arrive.
func TestTrailers(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.WriteHeader(200)
		io.WriteString(w, "data")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := http.Header{"X-Sum": {"42"}, "X-Late": {"yes"}}
	if diff := cmp.Diff(want, resp.Trailer); diff != "" || string(b) != "data" {
		t.Errorf("body %q; trailers (-want +got):\n%s", b, diff)
	}
}

// Write blocks while the client does not read: the handler gets far less
// than the response size ahead of the client.
func TestWriteBackpressure(t *testing.T) {
	var written atomic.Int64
	done := make(chan struct{})
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		p := make([]byte, 64<<10)
		for range 1 << 10 { // 64 MiB
			n, err := w.Write(p)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}), streamhttp.ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(64 << 10)
	}
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// Wait until the handler is stuck: its count stops moving.
	var last int64 = -1
	for i := 0; ; i++ {
		time.Sleep(50 * time.Millisecond)
		n := written.Load()
		if n == last && n > 0 {
			break
		}
		last = n
		if i > 200 {
			t.Fatal("the handler never blocked")
		}
	}
	if last > 16<<20 {
		t.Errorf("the handler wrote %d bytes ahead of a client that reads nothing", last)
	}
	conn.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's Write did not fail after the client left")
	}
}

// The handler's context ends when the client leaves mid-response, and
// writes after that fail.
func TestContextCancelledWhenClientLeaves(t *testing.T) {
	errs := make(chan error, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := io.WriteString(w, "tick\n"); err != nil {
				select {
				case <-r.Context().Done():
					errs <- nil
				case <-time.After(time.Second):
					errs <- fmt.Errorf("write failed (%v) but the context is alive", err)
				}
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				errs <- nil
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	br.ReadString('\n')
	resp.Body.Close() // the transport closes the connection: the body is unread
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("the handler's context was still alive 1 s after the client left")
	}
}

// ErrAbortHandler after the head cuts the body short: the client sees an
// error, not a clean end.
func TestAbortHandlerAfterHead(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || string(b) != "partial" {
		t.Errorf("body %q, err %v; want the partial body and an error", b, err)
	}
}

// A panic before the head is answered 500 and the server goes on.
func TestPanicBeforeHead(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	}), streamhttp.ServerSettings{Logger: discardLogger()})
	c := client(t)
	resp, err := c.Get(url + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("status %d", resp.StatusCode)
	}
	resp, err = c.Get(url + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("after the panic: %q", b)
	}
}

// ResponseController finds every method, through an Unwrap wrapper too.
func TestResponseController(t *testing.T) {
	errs := make(chan error, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(wrapped{w})
		errs <- errors.Join(
			rc.SetReadDeadline(time.Now().Add(time.Minute)),
			rc.SetWriteDeadline(time.Now().Add(time.Minute)),
			rc.EnableFullDuplex(),
			rc.Flush(),
		)
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-errs; err != nil {
		t.Error(err)
	}
}

type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// A passed write deadline fails a blocked Write.
func TestWriteDeadline(t *testing.T) {
	errs := make(chan error, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		p := make([]byte, 64<<10)
		for {
			if _, err := w.Write(p); err != nil {
				errs <- err
				return
			}
		}
	}), streamhttp.ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-errs:
		if !errors.Is(err, errWriteDeadline) {
			t.Errorf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked past its deadline")
	}
}

// Flow with a parallelism over 1: pipelined requests run at once and are
// answered in request order.
func TestFlowPipelined(t *testing.T) {
	release := make(chan struct{})
	fast := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
		if r.URL.Path != "/slow" {
			fast <- struct{}{}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := streamhttp.BindAndHandle(ctx, "127.0.0.1:0", Flow(h, 4, Options{}), streamhttp.ServerSettings{PipeliningLimit: 4, DisableSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	conn, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	<-fast // /a and /b are answered before /slow is
	<-fast
	close(release)
	br := bufio.NewReader(conn)
	var got []string
	for range 3 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		got = append(got, string(body))
	}
	if diff := cmp.Diff([]string{"/slow", "/a", "/b"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestContextCancelledWhenSilentClientLeaves: a handler that waits without
// writing learns that its client left through r.Context() (the server
// watches the connection while a request waits).
func TestContextCancelledWhenSilentClientLeaves(t *testing.T) {
	entered, cancelled := make(chan struct{}), make(chan bool, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(5 * time.Second):
			cancelled <- false
		}
	}), streamhttp.ServerSettings{})
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	start := time.Now()
	c.Close()
	if !<-cancelled {
		t.Fatal("the handler's context was still alive 5 s after the client left")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the handler learnt it after %v, want within a second or so", d)
	}
}
