package h2

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
)

// blockingHandler runs up to 10000 requests at once and counts them;
// it answers "/" at once and holds every other path until release is
// closed (or the request's context ends).
func blockingHandler(calls *atomic.Int64, release <-chan struct{}) handlerFlow {
	return stubbornHandler(calls, release, false)
}

// stubbornHandler is blockingHandler; with deaf set, it does not listen to
// the request's context either (a handler that keeps working after its
// client has gone).
func stubbornHandler(calls *atomic.Int64, release <-chan struct{}, deaf bool) handlerFlow {
	return stream.MapAsyncUnordered(10000, func(_ context.Context, r *httpcore.Request) (*httpcore.Response, error) {
		calls.Add(1)
		if r.Target == "/" {
			return httpcore.Text(httpcore.StatusOK, "ok").ForRequest(r), nil
		}
		done := r.Context().Done()
		if deaf {
			done = nil
		}
		select {
		case <-release:
		case <-done:
		}
		return httpcore.Text(httpcore.StatusOK, "ok").ForRequest(r), nil
	})
}

// TestMaxConcurrentStreams: a stream over the advertised limit is refused
// (RFC 9113 §5.1.2); once a stream ends, a new one is taken.
func TestMaxConcurrentStreams(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	c := newClient(t, Config{MaxConcurrentStreams: 2}, blockingHandler(&calls, release))
	t.Cleanup(func() { close(release) })
	c.get(1, "/block")
	c.get(3, "/block")
	c.get(5, "/block")
	if e := c.reset(5); e.Code != http2.ErrCodeRefusedStream {
		t.Errorf("stream 5: %v, want REFUSED_STREAM", e.Code)
	}
	c.write(func(f *http2.Framer) error { return f.WriteRSTStream(1, http2.ErrCodeCancel) })
	c.get(7, "/")
	if _, body := c.response(7); string(body) != "ok" {
		t.Errorf("stream 7 body %q", body)
	}
}

// TestHeaderListSize: a head over MaxHeaderListSize gets 431 and the
// connection's HPACK state stays usable; a block over twice the limit
// ends the connection.
func TestHeaderListSize(t *testing.T) {
	cfg := Config{MaxHeaderListSize: 1000}
	c := newClient(t, cfg, okHandler())
	v := strings.Repeat("a", 400)
	c.get(1, "/", "x-a", v, "x-b", v, "x-c", v)
	if head, _ := c.response(1); head.field(":status") != "431" {
		t.Errorf("status %s, want 431", head.field(":status"))
	}
	c.get(3, "/next", "x-small", "b")
	if _, body := c.response(3); string(body) != "GET /next" {
		t.Errorf("next request: %q", body)
	}
	v = strings.Repeat("~", 900) // no Huffman gain: the block is over 4500 bytes
	c.get(5, "/", "x-a", v, "x-b", v, "x-c", v, "x-d", v, "x-e", v)
	if e := c.goAway(); e.Code != http2.ErrCodeProtocol {
		t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", e.Code)
	}
}

// TestContinuationFlood (CVE-2023-45288): endless CONTINUATION frames,
// empty or not, end the connection before the block is decoded, with
// the buffered input bounded.
func TestContinuationFlood(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int
		want http2.ErrCode
	}{
		{"empty frames", 0, http2.ErrCodeEnhanceYourCalm},
		{"large frames", 16384, http2.ErrCodeProtocol},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
				calls.Add(1)
				return httpcore.Text(httpcore.StatusOK, "")
			})
			c := newClient(t, Config{}, h)
			frag := c.block(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")
			c.write(func(f *http2.Framer) error {
				return f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag, EndHeaders: false})
			})
			payload := make([]byte, tt.size)
			var maxIn int
			for i := 0; i < 1000; i++ {
				if err := c.fr.WriteContinuation(1, false, payload); err != nil {
					break // the server closed the connection
				}
				maxIn = max(maxIn, inputBuffered(c.srv))
			}
			if e := c.goAway(); e.Code != tt.want {
				t.Errorf("GOAWAY %v, want %v", e.Code, tt.want)
			}
			if limit := 2*DefaultMaxHeaderListSize + 2*(DefaultMaxFrameSize+9); maxIn > limit {
				t.Errorf("%d bytes of input buffered, over %d", maxIn, limit)
			}
			if calls.Load() != 0 {
				t.Error("the handler saw the request")
			}
		})
	}
}

func inputBuffered(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(cap(c.in), cap(c.inBuf)) // between Feeds, in is nil or a view of inBuf
}

// TestRapidReset (CVE-2023-44487): streams opened and reset at once cost
// flood budget; a reset stream keeps its handler slot while the handler
// runs. Either bound ends the connection with ENHANCE_YOUR_CALM, with the
// handler called a bounded number of times.
func TestRapidReset(t *testing.T) {
	for _, tt := range []struct {
		name     string
		cfg      Config
		maxCalls int64
	}{
		{"flood budget", Config{FloodBurst: 50, FloodRate: 1}, 51},
		{"pending requests", Config{MaxConcurrentStreams: 10, MaxPendingRequests: 40, FloodBurst: 1 << 20}, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			release := make(chan struct{})
			c := newClient(t, tt.cfg, stubbornHandler(&calls, release, true))
			t.Cleanup(func() { close(release) })
			for id := uint32(1); id < 20000; id += 2 {
				if c.tryHeaders(id, true, request("/block")...) != nil || c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
					break
				}
			}
			if e := c.goAway(); e.Code != http2.ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", e.Code)
			}
			if n := calls.Load(); n > tt.maxCalls {
				t.Errorf("handler called %d times, more than %d", n, tt.maxCalls)
			}
		})
	}
}

// TestMadeYouReset (CVE-2025-8671): resets the server sends because of
// the client's errors (here WINDOW_UPDATE with increment 0 on an open
// stream) cost the same budget, and the handlers of those streams keep
// their slots.
func TestMadeYouReset(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	c := newClient(t, Config{FloodBurst: 30, FloodRate: 1}, blockingHandler(&calls, release))
	t.Cleanup(func() { close(release) })
	resets := 0
	for id := uint32(1); id < 2000; id += 2 {
		if c.tryHeaders(id, false, ":method", "POST", ":scheme", "http", ":path", "/block", ":authority", "a") != nil || c.fr.WriteWindowUpdate(id, 0) != nil {
			break
		}
	}
	for {
		e := c.until("RST_STREAM or GOAWAY", func(e event) bool {
			return e.Type == http2.FrameRSTStream || e.Type == http2.FrameGoAway
		})
		if e.Type == http2.FrameGoAway {
			if e.Code != http2.ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", e.Code)
			}
			break
		}
		if e.Code != http2.ErrCodeProtocol {
			t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", e.Code)
		}
		resets++
	}
	if resets > 31 || calls.Load() > 31 {
		t.Errorf("%d resets, %d handler calls before the GOAWAY; the budget is 30", resets, calls.Load())
	}
}

// TestEmptyFrameFlood (CVE-2019-9518): DATA frames that carry nothing
// cost flood budget.
func TestEmptyFrameFlood(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	c := newClient(t, Config{FloodBurst: 100, FloodRate: 1}, blockingHandler(&calls, release))
	t.Cleanup(func() { close(release) })
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/block", ":authority", "a")
	for range 1000 {
		if c.fr.WriteData(1, false, nil) != nil {
			break
		}
	}
	if e := c.goAway(); e.Code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", e.Code)
	}
}

// TestOversizedFrame: a frame over MaxFrameSize ends the connection with
// FRAME_SIZE_ERROR before its payload is buffered (RFC 9113 §4.2).
func TestOversizedFrame(t *testing.T) {
	c := newClient(t, Config{}, okHandler())
	c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a")
	// Only the header of a 1 MiB frame: the server must not wait for it.
	c.write(func(f *http2.Framer) error {
		_, err := c.conn.Write([]byte{0x10, 0, 0, byte(http2.FrameData), 0, 0, 0, 0, 1})
		return err
	})
	if e := c.goAway(); e.Code != http2.ErrCodeFrameSize {
		t.Errorf("GOAWAY %v, want FRAME_SIZE_ERROR", e.Code)
	}
	if n := inputBuffered(c.srv); n > 64<<10 {
		t.Errorf("%d bytes of input buffered", n)
	}
}

// TestControlFloodNotRead: a client that sends PING or SETTINGS frames
// and reads nothing is held back: once MaxOutputBuffer bytes of answers
// wait, the server stops reading, so its memory stays flat while TCP (here
// the pipe) pushes back on the client.
func TestControlFloodNotRead(t *testing.T) {
	for _, kind := range []string{"PING", "SETTINGS"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := Config{MaxOutputBuffer: 8 << 10}
				const flood = 20000
				c := startServer(t, cfg, okHandler())
				var sent atomic.Int64
				go func() {
					c.conn.Write([]byte(http2.ClientPreface))
					c.fr.WriteSettings()
					for range flood { // bounded, should the server read it all
						var err error
						if kind == "PING" {
							err = c.fr.WritePing(false, [8]byte{})
						} else {
							err = c.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
						}
						if err != nil {
							return
						}
						sent.Add(1)
					}
				}()
				srv := <-c.started
				synctest.Wait() // everyone blocked: the client in its write
				n := sent.Load()
				srv.mu.Lock()
				out, in := len(srv.out), cap(srv.in)
				srv.mu.Unlock()
				if n >= flood/2 {
					t.Errorf("the server read %d frames from a client that reads nothing", n)
				}
				// One read's worth of answers past the limit, at most.
				if limit := cfg.MaxOutputBuffer + 2*(16<<10); out > limit {
					t.Errorf("%d bytes of output held, over %d", out, limit)
				}
				if in > 64<<10 {
					t.Errorf("%d bytes of input held", in)
				}
				c.conn.Close()
			})
		})
	}
}

// TestZeroWindowStall: a client that opens no window for a response gets
// the stream reset after SendTimeout, and the connection, idle then, ends
// after IdleTimeout with GOAWAY(NO_ERROR).
func TestZeroWindowStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{SendTimeout: 5 * time.Second, IdleTimeout: 20 * time.Second}
		c := newClient(t, cfg, okHandler(), http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
		c.waitFor = time.Minute
		start := time.Now()
		c.get(1, "/")
		e := c.until("RST_STREAM", func(e event) bool {
			if e.Type == http2.FrameData && len(e.Data) > 0 {
				t.Errorf("DATA sent into a zero window: %+v", e)
			}
			return e.Type == http2.FrameRSTStream
		})
		if e.Code != http2.ErrCodeCancel || time.Since(start) < cfg.SendTimeout {
			t.Errorf("RST_STREAM %v after %v, want CANCEL after %v", e.Code, time.Since(start), cfg.SendTimeout)
		}
		g := c.goAway()
		if g.Code != http2.ErrCodeNo || time.Since(start) < cfg.IdleTimeout {
			t.Errorf("GOAWAY %v after %v, want NO_ERROR after the idle timeout", g.Code, time.Since(start))
		}
		c.closed()
	})
}

// TestPrefaceTimeout: a client that connects and sends no preface is
// dropped after PrefaceTimeout.
func TestPrefaceTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startServer(t, Config{PrefaceTimeout: 3 * time.Second}, okHandler())
		c.waitFor = time.Minute
		start := time.Now()
		c.reading = true
		go c.read()
		c.closed()
		if d := time.Since(start); d < 3*time.Second || d > 5*time.Second {
			t.Errorf("closed after %v, want 3s", d)
		}
	})
}

// TestRequestTimeout: a handler that has not answered within
// RequestTimeout gets its stream answered 503; its late answer is dropped
// and the connection goes on.
func TestRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		h := mapHandler(func(r *httpcore.Request) *httpcore.Response {
			if r.Target == "/slow" {
				<-release
			}
			return httpcore.Text(httpcore.StatusOK, "answer "+r.Target)
		})
		c := newClient(t, Config{RequestTimeout: 5 * time.Second}, h)
		c.waitFor = time.Minute
		start := time.Now()
		c.get(1, "/slow")
		head, body := c.response(1)
		if head.field(":status") != "503" || time.Since(start) < 5*time.Second || time.Since(start) > 7*time.Second {
			t.Errorf("after %v: %s %q, want 503 after 5s", time.Since(start), head.field(":status"), body)
		}
		close(release)
		c.get(3, "/next")
		if _, body := c.response(3); string(body) != "answer /next" {
			t.Errorf("next request: %q", body)
		}
	})
}
