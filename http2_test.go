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

// h2Raw is a raw HTTP/2 client connection (prior knowledge) with its own
// HPACK encoder, which indexes every field, so that a request can refer to
// a field an earlier one sent.
type h2Raw struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func dialH2(t *testing.T, addr net.Addr) *h2Raw {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	h := &h2Raw{t: t, c: c, fr: http2.NewFramer(c, c)}
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.hbuf)
	io.WriteString(c, http2.ClientPreface)
	h.fr.WriteSettings()
	return h
}

// get sends GET path on stream id with the extra fields (name, value...).
func (h *h2Raw) get(id uint32, path string, extra ...string) {
	h.t.Helper()
	h.headers(id, true, append([]string{":method", "GET", ":scheme", "http", ":path", path, ":authority", "test"}, extra...)...)
}

// headers opens stream id with the fields kv (name, value...); end ends
// the stream.
func (h *h2Raw) headers(id uint32, end bool, kv ...string) {
	h.t.Helper()
	h.hbuf.Reset()
	for i := 0; i < len(kv); i += 2 {
		h.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hbuf.Bytes(), EndStream: end, EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
}

// answer reads frames until stream id ends and returns its status, the
// server field and the body, acknowledging SETTINGS on the way.
func (h *h2Raw) answer(id uint32) string {
	h.t.Helper()
	var status, server string
	var body []byte
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("reading the answer on stream %d: %v", id, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			h.t.Fatalf("GOAWAY %v while waiting for stream %d", f.ErrCode, id)
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				status, server = f.PseudoValue("status"), ""
				for _, hf := range f.RegularFields() {
					if hf.Name == "server" {
						server = hf.Value
					}
				}
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				body = append(body, f.Data()...)
			}
		}
		if f.Header().StreamID == id && f.Header().Flags.Has(http2.FlagDataEndStream) &&
			(f.Header().Type == http2.FrameData || f.Header().Type == http2.FrameHeaders) {
			return fmt.Sprintf("%s %s %s", status, server, body)
		}
	}
}

// frames reads until the connection ends and returns what it read.
func (h *h2Raw) frames() []string {
	h.t.Helper()
	var got []string
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return got
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			got = append(got, fmt.Sprintf("GOAWAY %v last %d", f.ErrCode, f.LastStreamID))
		default:
			got = append(got, f.Header().Type.String())
		}
	}
}

// tokenHandler answers with the request's x-token field and number.
func tokenHandler(r *Request) *Response {
	return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("%s %d", r.Header.Get("x-token"), r.Seq))
}

// waitGoroutines waits up to 5 s for the number of goroutines to be at
// most n (those of an earlier test may still be ending).
func waitGoroutines(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d goroutines, want %d", what, runtime.NumGoroutine(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHTTP2ParkResume: an idle HTTP/2 connection is parked (its goroutines
// gone), and woken by its next stream, which it serves; the HPACK state
// survives the parking both ways: a field the client indexed before is
// referred to after, and the client still decodes the answers.
func TestHTTP2ParkResume(t *testing.T) {
	b := serveSync(t, tokenHandler, ServerSettings{ParkIdleAfter: 10 * time.Millisecond})
	// An HTTP/1.1 connection, parked first, starts what parking needs (the
	// sweeper, the poller): the baseline.
	c1, r1 := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c1.Close()
	readBody(t, r1)
	waitStats(t, b, "the HTTP/1.1 connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
	baseline := runtime.NumGoroutine()

	h := dialH2(t, b.LocalAddr())
	var got []string
	for i, id := range []uint32{1, 3, 5} {
		h.get(id, "/", "x-token", "secret-token")
		got = append(got, h.answer(id))
		waitStats(t, b, fmt.Sprintf("the HTTP/2 connection to park (%d)", i+1), func(s Stats) bool { return s.ParkedConnections == 2 })
		waitGoroutines(t, baseline, "parked")
	}
	want := []string{"200 streamhttp secret-token 1", "200 streamhttp secret-token 2", "200 streamhttp secret-token 3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if st := b.Stats(); st.OpenConnections != 2 || st.TotalRequests != 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTP2ParkedIdleTimeout: a parked HTTP/2 connection still reaches its
// idle timeout, and ends with GOAWAY(NO_ERROR) naming the last stream.
func TestHTTP2ParkedIdleTimeout(t *testing.T) {
	b := serveSync(t, tokenHandler, ServerSettings{ParkIdleAfter: 10 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	h := dialH2(t, b.LocalAddr())
	h.get(1, "/")
	h.answer(1)
	waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
	start := time.Now()
	if diff := cmp.Diff([]string{"GOAWAY NO_ERROR last 1"}, h.frames()); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("closed after %v, want about 300ms", waited)
	}
	waitStats(t, b, "the connection to be gone", func(s Stats) bool { return s.OpenConnections == 0 && s.ParkedConnections == 0 })
}

// TestHTTP2ParkedTerminate: Terminate ends a parked HTTP/2 connection with
// GOAWAY(NO_ERROR) at once.
func TestHTTP2ParkedTerminate(t *testing.T) {
	b := serveSync(t, tokenHandler, ServerSettings{ParkIdleAfter: 10 * time.Millisecond})
	h := dialH2(t, b.LocalAddr())
	h.get(1, "/")
	h.answer(1)
	waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Terminate(ctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if diff := cmp.Diff([]string{"GOAWAY NO_ERROR last 1"}, h.frames()); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

// TestHTTP2MinRequestBodyRate: ServerSettings.MinRequestBodyRate applies
// to HTTP/2 request bodies: a stalled upload gets 408 on its stream, and
// the connection serves on.
func TestHTTP2MinRequestBodyRate(t *testing.T) {
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", func(ctx context.Context, r *Request) (*Response, error) {
		if r.Method == httpcore.MethodPost {
			if _, err := entity.ToStrict(ctx, r.Entity, 1<<20); err != nil {
				return httpcore.Text(httpcore.StatusBadRequest, err.Error()), nil
			}
		}
		return httpcore.Text(httpcore.StatusOK, "ok"), nil
	}, 4, ServerSettings{DisableSignals: true, MinRequestBodyRate: 1000, RequestBodyGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	h := dialH2(t, b.LocalAddr())
	h.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "test")
	h.fr.WriteData(1, false, []byte("a start"))
	got := []string{h.answer(1)}
	h.get(3, "/")
	got = append(got, h.answer(3))
	want := []string{"408 streamhttp Request Timeout: the request body arrived slower than MinRequestBodyRate\n", "200 streamhttp ok"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}
