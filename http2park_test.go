package streamhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

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
