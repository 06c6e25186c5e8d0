package h2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
)

// TestPrefaceAndSettings: the server's first frame is its SETTINGS with
// the configured limits; it acknowledges the client's and answers PING.
func TestPrefaceAndSettings(t *testing.T) {
	srvConn := newClient(t, Config{MaxConcurrentStreams: 7, StreamWindow: 100000}, okHandler())
	_ = srvConn
	c := newClientWithSettings(t)
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}) })
	got := c.until("PING", func(e event) bool { return e.Type == http2.FramePing })
	if !got.Ack || !bytes.Equal(got.Data, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("PING answer %+v", got)
	}
}

// newClientWithSettings checks the SETTINGS the server opens with.
func newClientWithSettings(t *testing.T) *client {
	t.Helper()
	cfg := Config{MaxConcurrentStreams: 7, StreamWindow: 100000, MaxHeaderListSize: 5000}
	c := newClient(t, cfg, okHandler())
	// newClient consumed the SETTINGS; the next frames are the connection
	// WINDOW_UPDATE and the ACK of ours.
	wu := c.next()
	if wu.Type != http2.FrameWindowUpdate || wu.Stream != 0 || wu.Incr != DefaultConnWindow-initialWindow {
		t.Errorf("after SETTINGS: %+v, want the connection WINDOW_UPDATE", wu)
	}
	ack := c.next()
	if ack.Type != http2.FrameSettings || !ack.Ack {
		t.Errorf("then %+v, want the SETTINGS ACK", ack)
	}
	return c
}

func TestSettingsAdvertised(t *testing.T) {
	cfg := Config{MaxConcurrentStreams: 7, StreamWindow: 100000, MaxHeaderListSize: 5000}
	srvConn, cliConn := pipeSettings(t, cfg)
	_ = srvConn
	want := []http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: 7},
		{ID: http2.SettingInitialWindowSize, Val: 100000},
		{ID: http2.SettingMaxFrameSize, Val: DefaultMaxFrameSize},
		{ID: http2.SettingMaxHeaderListSize, Val: 5000},
		{ID: http2.SettingNoRFC7540Priorities, Val: 1},
	}
	if diff := cmp.Diff(want, cliConn); diff != "" {
		t.Errorf("SETTINGS (-want +got):\n%s", diff)
	}
}

// pipeSettings returns the settings of the server's first frame.
func pipeSettings(t *testing.T, cfg Config) (*client, []http2.Setting) {
	c := &client{}
	conn := NewConn(cfg.Resolved())
	defer conn.timer.Stop()
	fr := http2.NewFramer(nil, bytes.NewReader(conn.out))
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	var got []http2.Setting
	f.(*http2.SettingsFrame).ForeachSetting(func(s http2.Setting) error { got = append(got, s); return nil })
	return c, got
}

// TestGet: a request becomes a *Request with the stream's pseudo-header
// fields; the response comes back as HEADERS and DATA.
func TestGet(t *testing.T) {
	var got *httpcore.Request
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		got = r
		resp := httpcore.Text(httpcore.StatusOK, "hello")
		resp.Header.Add("X-Custom", "v")
		resp.Header.Add("Connection", "close") // dropped: connection-specific
		return resp
	})
	c := newClient(t, Config{ServerHeader: "test"}, h)
	c.get(1, "/a/b?c=d", "cookie", "a=1", "cookie", "b=2", "accept", "*/*")
	head, body := c.response(1)
	if head.field(":status") != "200" || head.field("x-custom") != "v" || head.field("connection") != "" ||
		head.field("content-length") != "5" || head.field("server") != "test" || head.field("date") == "" {
		t.Errorf("response head %+v", head.Fields)
	}
	if string(body) != "hello" {
		t.Errorf("body %q", body)
	}
	type view struct {
		Method, Target, Path, Query, Host, Proto string
		Header                                   httpcore.Headers
		Seq                                      uint64
	}
	want := view{"GET", "/a/b?c=d", "/a/b", "c=d", "example.com", "HTTP/2.0",
		httpcore.Headers{{Name: "accept", Value: "*/*"}, {Name: "cookie", Value: "a=1; b=2"}}, 1}
	gotv := view{string(got.Method), got.Target, got.URI.Path, got.URI.RawQuery, got.Host, got.Proto.String(), got.Header, got.Seq}
	if diff := cmp.Diff(want, gotv); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got.Context().Err() == nil {
		t.Error("the request's context is live after its response")
	}
}

// TestHead: HEAD gets the head only, with the length GET would have;
// with TransparentHEAD the handler sees a GET.
func TestHead(t *testing.T) {
	for _, tt := range []struct {
		transparent bool
		length      string // of "HEAD /x" or "GET /x"
	}{{false, "7"}, {true, "6"}} {
		c := newClient(t, Config{TransparentHEAD: tt.transparent}, okHandler())
		c.headers(1, true, ":method", "HEAD", ":scheme", "http", ":path", "/x", ":authority", "a")
		head, _ := c.response(1)
		if !head.End || head.field("content-length") != tt.length {
			t.Errorf("TransparentHEAD %v: HEAD response %+v", tt.transparent, head)
		}
	}
}

// TestExpectContinue: a client that sent Expect: 100-continue gets
// ":status 100" when the handler first pulls the body, not before.
func TestExpectContinue(t *testing.T) {
	pull := make(chan struct{})
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		<-pull
		data, err := entity.ToStrict(r.Context(), r.Entity, 100)
		if err != nil {
			return httpcore.Text(httpcore.StatusBadRequest, err.Error())
		}
		return httpcore.Text(httpcore.StatusOK, string(data.Data))
	})
	c := newClient(t, Config{}, h)
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", "expect", "100-continue")
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{}) })
	if e := c.until("PING or HEADERS", func(e event) bool { return e.Type == http2.FramePing || e.Stream == 1 }); e.Type != http2.FramePing {
		t.Fatalf("%+v before the handler pulled the body", e)
	}
	close(pull)
	e := c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders })
	if e.field(":status") != "100" || e.End {
		t.Fatalf("interim response %+v", e)
	}
	c.write(func(f *http2.Framer) error { return f.WriteData(1, true, []byte("body")) })
	if head, body := c.response(1); head.field(":status") != "200" || string(body) != "body" {
		t.Errorf("response %s %q", head.field(":status"), body)
	}
}

// TestOutOfOrder: responses linked to their requests (Seq) go to their
// streams in the order they complete.
func TestOutOfOrder(t *testing.T) {
	release := map[string]chan struct{}{"/1": make(chan struct{}), "/3": make(chan struct{})}
	h := stream.MapAsyncUnordered(4, func(_ context.Context, r *httpcore.Request) (*httpcore.Response, error) {
		<-release[r.Target]
		return httpcore.Text(httpcore.StatusOK, r.Target).ForRequest(r), nil
	})
	c := newClient(t, Config{}, h)
	c.get(1, "/1")
	c.get(3, "/3")
	close(release["/3"])
	head := c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders })
	if head.Stream != 3 {
		t.Fatalf("first response on stream %d, want 3", head.Stream)
	}
	close(release["/1"])
	if _, body := c.response(1); string(body) != "/1" {
		t.Errorf("stream 1 body %q", body)
	}
}

// TestPostEcho: a streamed request body (no content-length) with trailers
// reaches the handler as a Chunked entity; a Chunked response with
// trailers ends with a trailing HEADERS frame.
func TestPostEcho(t *testing.T) {
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		ch, ok := r.Entity.(*entity.Chunked)
		if !ok {
			return httpcore.Text(httpcore.StatusInternalServerError, fmt.Sprintf("entity %T", r.Entity))
		}
		return httpcore.NewResponse(httpcore.StatusOK, entity.NewChunked("text/plain", ch.Chunks))
	})
	c := newClient(t, Config{}, h)
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/echo", ":authority", "a")
	c.write(func(f *http2.Framer) error { return f.WriteData(1, false, []byte("abc")) })
	c.write(func(f *http2.Framer) error { return f.WriteData(1, false, []byte("def")) })
	c.write(func(f *http2.Framer) error {
		return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("x-trailer", "t"), EndStream: true, EndHeaders: true})
	})
	head := c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders && e.Stream == 1 })
	if head.field(":status") != "200" || head.End {
		t.Fatalf("head %+v", head)
	}
	var body []byte
	for {
		e := c.until("DATA or trailers", func(e event) bool { return e.Stream == 1 })
		if e.Type == http2.FrameHeaders {
			if !e.End || e.field("x-trailer") != "t" {
				t.Errorf("trailers %+v", e)
			}
			break
		}
		if e.Type != http2.FrameData || e.End {
			t.Fatalf("frame %+v", e)
		}
		body = append(body, e.Data...)
	}
	if string(body) != "abcdef" {
		t.Errorf("body %q", body)
	}
}

// TestRequestBodyBackpressure: a handler that does not read holds the
// client to the stream window: no WINDOW_UPDATE for the stream until the
// handler pulls, and never more buffered than the window.
func TestRequestBodyBackpressure(t *testing.T) {
	pull := make(chan int)
	pulled := make(chan int)
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		p, _ := stream.Materialize(nil, r.Entity.DataBytes())
		total := 0
		for n := range pull {
			for got := 0; got < n; {
				chunk, err := p.Pull()
				if err != nil {
					return httpcore.Text(httpcore.StatusInternalServerError, err.Error())
				}
				got += len(chunk)
				total += len(chunk)
			}
			pulled <- total
		}
		p.Cancel(nil)
		return httpcore.Text(httpcore.StatusOK, fmt.Sprint(total))
	})
	const window = 65535
	c := newClient(t, Config{StreamWindow: window}, h)
	var closeOnce sync.Once
	stop := func() { closeOnce.Do(func() { close(pull) }) }
	t.Cleanup(stop) // before the connection's cleanup, which waits for the handler
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", "content-length", "1000000")
	chunk := bytes.Repeat([]byte("x"), 16383)
	sent := 0
	for sent+len(chunk) <= window {
		c.write(func(f *http2.Framer) error { return f.WriteData(1, false, chunk) })
		sent += len(chunk)
	}
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{}) })
	// Everything before the PING ACK: no credit for stream 1.
	for {
		e := c.next()
		if e.Type == http2.FramePing {
			break
		}
		if e.Type == http2.FrameWindowUpdate && e.Stream == 1 {
			t.Fatalf("WINDOW_UPDATE %+v before the handler read anything", e)
		}
	}
	if b := bufferedBytes(c.srv, 1); b != sent {
		t.Errorf("%d bytes buffered, want %d", b, sent)
	}
	// The handler reads half a window: the stream gets its credit back.
	pull <- window / 2
	if n := <-pulled; n < window/2 {
		t.Fatalf("pulled %d", n)
	}
	wu := c.until("WINDOW_UPDATE", func(e event) bool { return e.Type == http2.FrameWindowUpdate && e.Stream == 1 })
	if wu.Incr < window/2 || wu.Incr > uint32(sent) {
		t.Errorf("stream credit %d after the handler read half the window", wu.Incr)
	}
	// Beyond the window: FLOW_CONTROL_ERROR on the stream.
	over := bytes.Repeat([]byte("y"), window)
	for range 5 { // 80 KiB, over any window of 64 KiB
		c.write(func(f *http2.Framer) error { return f.WriteData(1, false, over[:16384]) })
	}
	if e := c.reset(1); e.Code != http2.ErrCodeFlowControl {
		t.Errorf("RST_STREAM %v, want FLOW_CONTROL_ERROR", e.Code)
	}
	stop()
}

// bufferedBytes is the request body bytes the server holds for stream id.
func bufferedBytes(c *Conn, id uint32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[id]; s != nil {
		return s.bodyBytes
	}
	return -1
}

// TestResponseBodyBackpressure: a streamed response body is pulled only
// while the client's window is open.
func TestResponseBodyBackpressure(t *testing.T) {
	var pulls atomic.Int64
	chunk := bytes.Repeat([]byte("z"), 1000)
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] {
			return pullerFunc(func() ([]byte, error) {
				if pulls.Add(1) > 100 {
					return nil, stream.EOS
				}
				return chunk, nil
			})
		})
		return httpcore.NewResponse(httpcore.StatusOK, entity.NewDefault("", 100000, src))
	})
	c := newClient(t, Config{}, h, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 2500})
	c.get(1, "/")
	c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders })
	got := 0
	for got < 2500 {
		e := c.until("DATA", func(e event) bool { return e.Type == http2.FrameData })
		got += len(e.Data)
	}
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{}) })
	c.until("PING", func(e event) bool { return e.Type == http2.FramePing })
	// 2500 bytes of window: chunks 1-3 went out (the third in part), the
	// pump waits with nothing more pulled.
	if n := pulls.Load(); n != 3 {
		t.Errorf("%d chunks pulled with a window of 2.5 chunks, want 3", n)
	}
	c.write(func(f *http2.Framer) error { return f.WriteWindowUpdate(1, 100000) })
	c.write(func(f *http2.Framer) error { return f.WriteWindowUpdate(0, 100000) })
	for {
		e := c.until("DATA", func(e event) bool { return e.Type == http2.FrameData })
		got += len(e.Data)
		if e.End {
			break
		}
	}
	if got != 100000 {
		t.Errorf("got %d bytes", got)
	}
}

type pullerFunc func() ([]byte, error)

func (f pullerFunc) Pull() ([]byte, error) { return f() }
func (f pullerFunc) Cancel(error)          {}

// TestClientReset: RST_STREAM from the client cancels the request's
// context while its handler runs.
func TestClientReset(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	h := stream.MapAsyncUnordered(2, func(_ context.Context, r *httpcore.Request) (*httpcore.Response, error) {
		close(started)
		<-r.Context().Done()
		cancelled <- r.Context().Err()
		return httpcore.Text(httpcore.StatusOK, "late").ForRequest(r), nil
	})
	c := newClient(t, Config{}, h)
	c.get(1, "/")
	<-started
	c.write(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeCancel) })
	if err := <-cancelled; err == nil {
		t.Error("context not cancelled")
	}
	// The late answer is dropped; the connection goes on.
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{9}) })
	e := c.until("PING", func(e event) bool { return e.Type == http2.FramePing || e.Stream == 1 })
	if e.Type != http2.FramePing {
		t.Errorf("frame %+v for the reset stream", e)
	}
}

// TestShutdown: GOAWAY(NO_ERROR) with the last stream id; the stream in
// flight finishes, a later one is ignored, then the connection ends.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		entered <- struct{}{}
		<-release
		return httpcore.Text(httpcore.StatusOK, "done")
	})
	c := newClient(t, Config{}, h)
	c.get(1, "/")
	<-entered
	c.srv.Shutdown()
	g := c.goAway()
	if g.Code != http2.ErrCodeNo || g.LastID != 1 {
		t.Errorf("GOAWAY %+v", g)
	}
	c.get(3, "/")
	close(release)
	if _, body := c.response(1); string(body) != "done" {
		t.Errorf("body %q", body)
	}
	c.closed()
}

// TestEarlyResponse: a response complete before the request body ends
// leaves the stream half-closed; the rest of the body is dropped but
// still checked against its content-length (RFC 9113 §8.1.1), and a body
// that goes on past the stream's window is cut with RST_STREAM(NO_ERROR).
func TestEarlyResponse(t *testing.T) {
	for _, tt := range []struct {
		name string
		cl   string // the declared content-length
		data int    // bytes sent after the response, with END_STREAM
		want http2.ErrCode
	}{
		{"length mismatch", "1", 4, http2.ErrCodeProtocol},
		{"endless body", "1000000", 6 * 13107, http2.ErrCodeNo}, // the window is 5 x 13107
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, Config{StreamWindow: initialWindow}, okHandler())
			c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a", "content-length", tt.cl)
			if head, _ := c.response(1); head.field(":status") != "200" {
				t.Fatalf("head %+v", head)
			}
			for sent := 0; sent < tt.data; sent += 13107 {
				n := min(13107, tt.data-sent)
				c.write(func(f *http2.Framer) error { return f.WriteData(1, sent+n == tt.data, make([]byte, n)) })
			}
			if e := c.reset(1); e.Code != tt.want {
				t.Errorf("RST_STREAM %v, want %v", e.Code, tt.want)
			}
		})
	}
}

// TestAnsweredListBounded: answers out of order behind a request that is
// never answered do not pile up in the connection's state.
func TestAnsweredListBounded(t *testing.T) {
	release := make(chan struct{})
	h := stream.MapAsyncUnordered(8, func(_ context.Context, r *httpcore.Request) (*httpcore.Response, error) {
		if r.Target == "/stuck" {
			<-release
		}
		return httpcore.Text(httpcore.StatusOK, "ok").ForRequest(r), nil
	})
	c := newClient(t, Config{}, h)
	t.Cleanup(func() { close(release) })
	c.get(1, "/stuck")
	for id := uint32(3); id < 1000; id += 2 {
		c.get(id, "/")
		c.response(id)
	}
	c.srv.mu.Lock()
	n := len(c.srv.handed)
	c.srv.mu.Unlock()
	if n > 40 {
		t.Errorf("%d requests listed as handed with one unanswered", n)
	}
}

// TestAbortAnswers503: at a terminating server's hard deadline (Abort)
// every request not answered gets 503 on its stream, the one the handler
// holds and the one still queued for it alike; a response already under
// way is reset; a GOAWAY(NO_ERROR) ends the connection.
func TestAbortAnswers503(t *testing.T) {
	chunks := make(chan []byte, 1)
	chunks <- []byte("partial")
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		if r.Target == "/stream" {
			return httpcore.NewResponse(httpcore.StatusOK, entity.NewDefault("", 100, stream.FromChannel(chunks)))
		}
		<-r.Context().Done() // holds /wait until the end; /queued waits behind it
		return httpcore.Text(httpcore.StatusOK, "late")
	})
	c := newClient(t, Config{}, h)
	c.get(1, "/stream")
	head := c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders && e.Stream == 1 })
	if head.field(":status") != "200" {
		t.Fatalf("stream 1: %+v", head)
	}
	c.until("DATA", func(e event) bool { return e.Type == http2.FrameData && e.Stream == 1 })
	c.get(3, "/wait")
	c.get(5, "/queued")
	// Once both are in (a PING answered after them), the deadline.
	c.write(func(f *http2.Framer) error { return f.WritePing(false, [8]byte{1}) })
	c.until("PING", func(e event) bool { return e.Type == http2.FramePing })
	c.srv.Abort()
	var got []string
	for {
		var e event
		var ok bool
		select {
		case e, ok = <-c.events:
		case <-time.After(c.wait()):
			t.Fatalf("the connection did not end; frames so far %q", got)
		}
		if !ok {
			break
		}
		switch e.Type {
		case http2.FrameHeaders:
			got = append(got, fmt.Sprintf("HEADERS %d %s", e.Stream, e.field(":status")))
		case http2.FrameData:
			got = append(got, fmt.Sprintf("DATA %d end %v", e.Stream, e.End))
		case http2.FrameRSTStream, http2.FrameGoAway:
			got = append(got, fmt.Sprintf("%v %d %v", e.Type, e.Stream, e.Code))
		}
	}
	slices.Sort(got[:len(got)-1]) // the streams' frames in any order, GOAWAY last
	want := []string{"DATA 3 end true", "DATA 5 end true", "HEADERS 3 503", "HEADERS 5 503", "RST_STREAM 1 CANCEL", "GOAWAY 0 NO_ERROR"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames after Abort (-want +got):\n%s", diff)
	}
}

// TestMinBodyRate: a request body that the handler waits for and that
// arrives slower than MinBodyRate (after BodyGrace) gets 408 on its
// stream, its reader fails with ErrBodyTooSlow, and the connection serves
// on; a body the handler does not wait for is not timed.
func TestMinBodyRate(t *testing.T) {
	bodyErr := make(chan error, 1)
	release := make(chan struct{})
	h := stream.MapAsyncUnordered(4, func(ctx context.Context, r *httpcore.Request) (*httpcore.Response, error) {
		if r.Target == "/later" {
			<-release // the body is not read meanwhile: its pace does not count
			r.Target = "/upload"
		}
		if r.Target == "/upload" {
			_, err := entity.ToStrict(ctx, r.Entity, 1<<20)
			bodyErr <- err
			return httpcore.Text(httpcore.StatusOK, "read it all").ForRequest(r), nil
		}
		return httpcore.Text(httpcore.StatusOK, r.Target).ForRequest(r), nil
	})
	c := newClient(t, Config{MinBodyRate: 1000, BodyGrace: 100 * time.Millisecond}, h)
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/upload", ":authority", "example.com")
	c.write(func(f *http2.Framer) error { return f.WriteData(1, false, []byte("ten bytes.")) })
	start := time.Now()
	head, body := c.response(1)
	if got := head.field(":status"); got != "408" || !bytes.Contains(body, []byte("MinRequestBodyRate")) {
		t.Errorf("the stalled upload: %s %q, want 408", got, body)
	}
	// 10 bytes at 1000 B/s are worth 10 ms: 110 ms of waiting in all.
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("408 after %v, before BodyGrace", waited)
	}
	if err := <-bodyErr; !errors.Is(err, ErrBodyTooSlow) {
		t.Errorf("the handler's body read: %v, want ErrBodyTooSlow", err)
	}
	c.get(3, "/next")
	if head, body := c.response(3); head.field(":status") != "200" || string(body) != "/next" {
		t.Errorf("the next stream: %s %q", head.field(":status"), body)
	}
	c.headers(5, false, ":method", "POST", ":scheme", "http", ":path", "/later", ":authority", "example.com")
	c.write(func(f *http2.Framer) error { return f.WriteData(5, false, []byte("ten bytes.")) })
	time.Sleep(300 * time.Millisecond)
	c.write(func(f *http2.Framer) error { return f.WriteData(5, true, []byte("the rest")) })
	close(release)
	if head, body := c.response(5); head.field(":status") != "200" || string(body) != "read it all" {
		t.Errorf("a body read late: %s %q, want 200", head.field(":status"), body)
	}
	if err := <-bodyErr; err != nil {
		t.Errorf("a body read late: %v", err)
	}
}

// TestCompleteBodyIsStrict: a request body that has arrived whole when the
// handler takes the request is handed over as a Strict entity (its bytes
// credited back); one still arriving is streamed.
func TestCompleteBodyIsStrict(t *testing.T) {
	took := make(chan struct{}, 1)
	h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
		_, strict := r.Entity.(*entity.Strict)
		took <- struct{}{}
		data, err := entity.ToStrict(r.Context(), r.Entity, 1<<20)
		if err != nil {
			return httpcore.Text(httpcore.StatusBadRequest, err.Error())
		}
		return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("strict %v: %s", strict, data.Data))
	})
	c := newClient(t, Config{}, h)
	// HEADERS and DATA in one write: the server has both before the
	// handler can take the request.
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":scheme", "http", ":path", "/", ":authority", "example.com", "content-length", "5")})
	fr.WriteData(1, true, []byte("whole"))
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, body := c.response(1); string(body) != "strict true: whole" {
		t.Errorf("a body complete with its head: %q", body)
	}
	<-took
	c.headers(3, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "example.com")
	<-took // the handler has the request before any of its body
	c.write(func(f *http2.Framer) error { return f.WriteData(3, false, []byte("in ")) })
	c.write(func(f *http2.Framer) error { return f.WriteData(3, true, []byte("parts")) })
	if _, body := c.response(3); string(body) != "strict false: in parts" {
		t.Errorf("a body that arrives later: %q", body)
	}
}
