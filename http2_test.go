package streamhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cClient is net/http's client speaking HTTP/2 with prior knowledge.
func h2cClient() (*http.Client, func()) {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr.CloseIdleConnections
}

// echoH2 answers GET with the path and method, and POST with its body.
func echoH2(r *Request) *Response {
	if r.Method == httpcore.MethodPost {
		data, err := entity.ToStrict(r.Context(), r.Entity, 1<<20)
		if err != nil {
			return httpcore.Text(httpcore.StatusBadRequest, err.Error())
		}
		return httpcore.Bytes(httpcore.StatusOK, "application/octet-stream", data.Data)
	}
	return httpcore.Text(httpcore.StatusOK, string(r.Method)+" "+r.Target+" "+r.Proto.String())
}

func bindH2(t *testing.T, s ServerSettings) string {
	t.Helper()
	return serveSync(t, echoH2, s).LocalAddr().String()
}

// TestHTTP2NetHTTPClient: net/http's client, with prior knowledge, on the
// same port as HTTP/1.1.
func TestHTTP2NetHTTPClient(t *testing.T) {
	addr := bindH2(t, ServerSettings{})
	client, closeIdle := h2cClient()
	defer closeIdle()
	resp, err := client.Get("http://" + addr + "/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("proto %q", resp.Proto)
	}
	if diff := cmp.Diff("GET /a?b=c HTTP/2.0", string(body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: beyond the windows
	resp, err = client.Post("http://"+addr+"/echo", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, big) {
		t.Errorf("echo: got %d bytes, want %d", len(body), len(big))
	}
	// HTTP/1.1 still works on the same port.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	all, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(all), "HTTP/1.1 200 OK") || !strings.HasSuffix(string(all), "GET /x HTTP/1.1") {
		t.Errorf("HTTP/1.1: %q", all)
	}
}

// TestHTTP2Only: with HTTP2.Only, a connection that does not start with
// the preface gets GOAWAY(PROTOCOL_ERROR) and is closed (RFC 9113 §3.4).
func TestHTTP2Only(t *testing.T) {
	addr := bindH2(t, ServerSettings{HTTP2: HTTP2Settings{Only: true}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nil, bytes.NewReader(all))
	var codes []http2.ErrCode
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			codes = append(codes, g.ErrCode)
		}
	}
	if diff := cmp.Diff([]http2.ErrCode{http2.ErrCodeProtocol}, codes); diff != "" {
		t.Errorf("GOAWAY codes (-want +got):\n%s", diff)
	}
	// And a client with prior knowledge is served.
	client, closeIdle := h2cClient()
	defer closeIdle()
	resp, err := client.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != 200 {
		t.Errorf("%s %d", resp.Proto, resp.StatusCode)
	}
}

// bindAndGet binds h and opens stream 1 (GET /) on a raw HTTP/2
// connection to it, whose Framer it returns for the test to read.
func bindAndGet(t *testing.T, h func(context.Context, *Request) (*Response, error)) (*ServerBinding, *http2.Framer) {
	t.Helper()
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", h, 4, ServerSettings{DisableSignals: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	block := []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'a'} // GET http / :authority a
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
	return b, fr
}

// TestHTTP2Terminate: Terminate sends GOAWAY(NO_ERROR) with the last
// stream id; the stream in flight finishes, then the connection closes.
func TestHTTP2Terminate(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := func(_ context.Context, r *Request) (*Response, error) {
		close(entered)
		<-release
		return httpcore.Text(httpcore.StatusOK, "finished"), nil
	}
	b, fr := bindAndGet(t, h)
	<-entered
	terminated := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		terminated <- b.Terminate(ctx)
	}()
	var got []string
	released := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break // the server closed the connection
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			got = append(got, fmt.Sprintf("GOAWAY %v last %d", f.ErrCode, f.LastStreamID))
			if !released {
				released = true
				close(release)
			}
		case *http2.MetaHeadersFrame:
			got = append(got, fmt.Sprintf("HEADERS %d %s", f.StreamID, f.PseudoValue("status")))
		case *http2.DataFrame:
			got = append(got, fmt.Sprintf("DATA %d %q end %v", f.StreamID, f.Data(), f.StreamEnded()))
		}
	}
	want := []string{"GOAWAY NO_ERROR last 1", "HEADERS 1 200", `DATA 1 "finished" end true`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if err := <-terminated; err != nil {
		t.Errorf("Terminate: %v", err)
	}
	if st := b.Stats(); st.TotalRequests != 1 || st.OpenRequests != 0 || st.BytesIn == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTP2TerminateDeadline: at Terminate's hard deadline a stream still
// in its handler gets 503, as an HTTP/1.1 request would (the request's
// context ends, the handler's late answer is dropped), and the connection
// closes after a GOAWAY.
func TestHTTP2TerminateDeadline(t *testing.T) {
	entered := make(chan struct{})
	h := func(ctx context.Context, r *Request) (*Response, error) {
		close(entered)
		<-ctx.Done()
		return httpcore.Text(httpcore.StatusOK, "too late"), nil
	}
	b, fr := bindAndGet(t, h)
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := b.Terminate(ctx); err == nil {
		t.Error("Terminate reported no error at its deadline")
	}
	var got []string
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			got = append(got, fmt.Sprintf("GOAWAY %v", f.ErrCode))
		case *http2.RSTStreamFrame:
			got = append(got, fmt.Sprintf("RST_STREAM %d %v", f.StreamID, f.ErrCode))
		case *http2.MetaHeadersFrame:
			got = append(got, fmt.Sprintf("HEADERS %d %s", f.StreamID, f.PseudoValue("status")))
		case *http2.DataFrame:
			got = append(got, fmt.Sprintf("DATA %d end %v", f.StreamID, f.StreamEnded()))
		}
	}
	// The GOAWAY comes first when the graceful drain reached the connection
	// before the deadline, last when the binding's grace for connections
	// between requests outlasted it (Abort sends it then).
	if len(got) > 0 && got[0] == "GOAWAY NO_ERROR" {
		got = append(got[1:], got[0])
	}
	want := []string{"HEADERS 1 503", "DATA 1 end true", "GOAWAY NO_ERROR"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

// TestHTTP2EarnsSlot: an HTTP/2 connection earns its MaxConnections slot
// with its first request, as an HTTP/1.1 one does with its first head, so
// newer connections that send nothing do not evict it.
func TestHTTP2EarnsSlot(t *testing.T) {
	b := serveSync(t, echoH2, ServerSettings{MaxPendingConnections: 1})
	addr := b.LocalAddr().String()
	client, closeIdle := h2cClient()
	defer closeIdle()
	reused := false
	get := func() error {
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+"/x", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" {
			return fmt.Errorf("proto %s", resp.Proto)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	for range 3 { // silent connections: each evicts the pending one before it
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// Until the acceptor has taken them (and evicted the older ones).
	for deadline := time.Now().Add(5 * time.Second); b.Stats().TotalConnections < 4 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	if err := get(); err != nil || !reused {
		t.Errorf("the HTTP/2 connection after newer silent ones: %v, reused %v", err, reused)
	}
}
