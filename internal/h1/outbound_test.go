package h1

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// serveBytes runs the layer with no driver over the input chunks, joined
// with handler, and returns what it wrote, piece by piece.
func serveBytes(t *testing.T, handler func(*Request) *Response, chunks ...string) [][]byte {
	t.Helper()
	return serveWith(t, &Config{Logger: slog.Default()}, handler, chunks...)
}

// serveWith is serveBytes with cfg (its limits filled in when zero).
func serveWith(t *testing.T, cfg *Config, handler func(*Request) *Response, chunks ...string) [][]byte {
	t.Helper()
	if cfg.PipeliningLimit == 0 {
		cfg.PipeliningLimit = 16
	}
	cfg.MaxDrainBytes, cfg.Parser.MaxContentLength = 1<<20, 1<<20
	in := make([][]byte, len(chunks))
	for i, c := range chunks {
		in[i] = []byte(c)
	}
	flow := bidi.JoinLeft(stream.Map(handler), NewLayer(cfg))
	// The layer's output is valid until its next pull: keep copies.
	keep := stream.Map(func(p []byte) []byte { return bytes.Clone(p) })
	out, err := stream.RunWith(context.Background(), stream.Via(stream.Via(stream.FromSlice(in), flow), keep), stream.Collect[[]byte]())
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	return out
}

// TestLargeStrictBody: a strict body larger than copyBody leaves in a piece
// of its own, the caller's memory as it is, right after its head; a smaller
// one leaves with its head. The bytes on the wire are the same either way,
// pipelined responses stay in order, and a HEAD response carries no body.
func TestLargeStrictBody(t *testing.T) {
	large := strings.Repeat("0123456789abcdef", copyBody/16+1)
	small := strings.Repeat("s", copyBody)
	handler := func(r *Request) *Response {
		if r.URI.Path == "/small" {
			return httpcore.Bytes(httpcore.StatusOK, "text/plain", []byte(small))
		}
		return httpcore.Bytes(httpcore.StatusOK, "text/plain", []byte(large))
	}
	req := func(method, path string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"
	}
	out := serveBytes(t, handler, req("GET", "/large")+req("GET", "/small")+req("HEAD", "/large")+req("GET", "/large"))

	var want [][]byte
	head := func(n int) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + itoa(n) + "\r\n\r\n"
	}
	want = append(want, []byte(head(len(large))), []byte(large))
	want = append(want, []byte(head(len(small))+small))
	want = append(want, []byte(head(len(large))))
	want = append(want, []byte(head(len(large))), []byte(large))
	// Date varies: compare without it.
	for i := range out {
		out[i] = dropDate(out[i])
	}
	if len(out) != len(want) {
		t.Fatalf("%d pieces, want %d:\n%q", len(out), len(want), out)
	}
	for i := range want {
		if !bytes.Equal(out[i], want[i]) {
			t.Errorf("piece %d:\n got %.120q\nwant %.120q", i, out[i], want[i])
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// dropDate removes the Date field line from a response head.
func dropDate(p []byte) []byte {
	i := bytes.Index(p, []byte("\r\nDate: "))
	if i < 0 {
		return p
	}
	j := bytes.Index(p[i+2:], []byte("\r\n"))
	return append(p[:i:i], p[i+2+j:]...)
}

// countWarnings counts the records of a logger, by message.
type countWarnings struct {
	slog.Handler
	n map[string]int
}

func (h *countWarnings) Handle(_ context.Context, r slog.Record) error {
	h.n[r.Message]++
	return nil
}

// TestHeadReuse: the head kept for strict responses without fields of
// their own is reused only for a response it is right for. Every response
// of a sequence that varies each thing a head depends on is what the
// renderer makes of it on its own, and a field the renderer drops is
// warned about each time.
func TestHeadReuse(t *testing.T) {
	responses := map[string]func() *Response{
		"/a":     func() *Response { return httpcore.Text(httpcore.StatusOK, "hello") },
		"/b":     func() *Response { return httpcore.Text(httpcore.StatusNotFound, "hello") },
		"/json":  func() *Response { return httpcore.Bytes(httpcore.StatusOK, "application/json", []byte("hello")) },
		"/len":   func() *Response { return httpcore.Text(httpcore.StatusOK, "hello!") },
		"/10":    func() *Response { r := httpcore.Text(httpcore.StatusOK, "hello"); r.Proto = httpcore.HTTP10; return r },
		"/field": func() *Response { r := httpcore.Text(httpcore.StatusOK, "hello"); r.Header.Add("X-A", "1"); return r },
		"/bad":   func() *Response { return httpcore.Bytes(httpcore.StatusOK, "text/plain\r\nX: y", []byte("hello")) },
		"/204":   func() *Response { return httpcore.Text(httpcore.StatusNoContent, "") },
	}
	type sent struct {
		method, path, proto string
		close               bool
	}
	seq := []sent{
		{"GET", "/a", "HTTP/1.1", false}, {"GET", "/a", "HTTP/1.1", false}, {"HEAD", "/a", "HTTP/1.1", false},
		{"GET", "/a", "HTTP/1.1", false}, {"GET", "/b", "HTTP/1.1", false}, {"GET", "/json", "HTTP/1.1", false},
		{"GET", "/len", "HTTP/1.1", false}, {"GET", "/field", "HTTP/1.1", false},
		{"GET", "/field", "HTTP/1.1", false}, {"GET", "/bad", "HTTP/1.1", false}, {"GET", "/bad", "HTTP/1.1", false},
		{"GET", "/204", "HTTP/1.1", false}, {"GET", "/a", "HTTP/1.1", false}, {"GET", "/a", "HTTP/1.0", false},
		{"GET", "/10", "HTTP/1.0", false}, {"GET", "/a", "HTTP/1.1", false}, {"GET", "/a", "HTTP/1.1", true},
	}
	var in strings.Builder
	for _, r := range seq {
		in.WriteString(r.method + " " + r.path + " " + r.proto + "\r\nHost: a\r\n")
		if r.close {
			in.WriteString("Connection: close\r\n")
		}
		if r.proto == "HTTP/1.0" {
			in.WriteString("Connection: keep-alive\r\n")
		}
		in.WriteString("\r\n")
	}
	logs := &countWarnings{Handler: slog.Default().Handler(), n: map[string]int{}}
	cfg := &Config{RequestTimeout: time.Minute, Logger: slog.New(logs)}
	out := serveWith(t, cfg, func(r *Request) *Response { return responses[r.URI.Path]() }, in.String())
	if len(out) != len(seq) {
		t.Fatalf("%d pieces, want %d:\n%q", len(out), len(seq), out)
	}
	for i, r := range seq {
		rc := httpcore.RenderContext{Method: httpcore.Method(r.method), Proto: httpcore.HTTP11, CloseRequested: r.close, ServerChecked: true}
		if r.proto == "HTTP/1.0" {
			rc.Proto = httpcore.HTTP10
		}
		want, _, _ := httpcore.AppendResponse(nil, responses[r.path](), &rc)
		if got := dropDate(out[i]); !bytes.Equal(got, dropDate(want)) {
			t.Errorf("response %d (%s %s %s):\n got %q\nwant %q", i, r.method, r.path, r.proto, got, dropDate(want))
		}
	}
	if n := logs.n["streamhttp: response header dropped"]; n != 2 {
		t.Errorf("%d warnings of a dropped field, want 2 (one per response)", n)
	}
}

// TestAllocsPerRequest: a pipelined GET with a strict answer costs the
// layer one allocation, its Request (the handler's Response is the
// other, none when the handler returns a shared one), with the Date and
// the kept head in use (RequestTimeout set).
func TestAllocsPerRequest(t *testing.T) {
	fresh := func(*Request) *Response { return httpcore.Text(httpcore.StatusOK, "Hello, World!") }
	hello := httpcore.Text(httpcore.StatusOK, "Hello, World!").Shared()
	shared := func(*Request) *Response { return hello }
	// serveWith keeps a copy of each response: one more per request.
	t.Run("fresh response", func(t *testing.T) {
		if n := layerAllocsPerRequest(t, fresh); n != 3 {
			t.Errorf("%d allocations per request, want 3: the Request, the handler's Response and the test's copy of the output", n)
		}
	})
	t.Run("shared response", func(t *testing.T) {
		if n := layerAllocsPerRequest(t, shared); n != 2 {
			t.Errorf("%d allocations per request, want 2: the Request and the test's copy of the output", n)
		}
	})
	t.Run("shared response, reused requests", func(t *testing.T) {
		if raceEnabled {
			t.Skip("the race detector makes sync.Pool drop items at random")
		}
		if n := layerAllocsPerRequest(t, shared, reuseRequests); n != 1 {
			t.Errorf("%d allocations per request, want 1: the test's copy of the output", n)
		}
	})
}

func reuseRequests(cfg *Config) { cfg.Parser.ReuseRequests = true }

// layerAllocsPerRequest returns the allocations per pipelined GET of a run
// of the layer with handler.
func layerAllocsPerRequest(t *testing.T, handler func(*Request) *Response, opts ...func(*Config)) uint64 {
	const get = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
	mallocs := func(requests int) uint64 {
		cfg := &Config{RequestTimeout: time.Minute, Logger: slog.Default()}
		for _, o := range opts {
			o(cfg)
		}
		chunks := make([]string, requests/16)
		for i := range chunks {
			chunks[i] = strings.Repeat(get, 16)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out := serveWith(t, cfg, handler, chunks...)
		runtime.ReadMemStats(&after)
		if len(out) != requests {
			t.Fatalf("%d responses, want %d", len(out), requests)
		}
		return after.Mallocs - before.Mallocs
	}
	// What the run costs whatever its length cancels out; the least of a
	// few tries, as anything else the process allocates only adds.
	best := uint64(math.MaxUint64)
	for range 5 {
		small, large := mallocs(160), mallocs(1760)
		if large > small {
			best = min(best, (large-small)/1600)
		}
	}
	return best
}

// TestSharedResponseUnmodified: one shared response answers requests of
// every kind (pipelined, HEAD with and without TransparentHEAD, HTTP/1.0,
// a request that closes): every answer is rendered from it as from a
// response of its own, and the layer leaves it exactly as it was.
func TestSharedResponseUnmodified(t *testing.T) {
	for _, transparent := range []bool{false, true} {
		resp := httpcore.Text(httpcore.StatusOK, "Hello, World!")
		resp.Header.Add("X-Shared", "yes")
		resp.Shared()
		want := *resp
		want.Header = slices.Clone(resp.Header)
		body := slices.Clone(resp.Entity.(*entity.Strict).Data)
		reqs := []struct{ method, proto, extra string }{
			{"GET", "HTTP/1.1", ""},
			{"HEAD", "HTTP/1.1", ""},
			{"GET", "HTTP/1.0", "Connection: keep-alive\r\n"},
			{"GET", "HTTP/1.1", ""},
			{"GET", "HTTP/1.1", "Connection: close\r\n"},
		}
		var in strings.Builder
		for _, r := range reqs {
			in.WriteString(r.method + " /p " + r.proto + "\r\nHost: x\r\n" + r.extra + "\r\n")
		}
		cfg := &Config{RequestTimeout: time.Minute, TransparentHEAD: transparent, Logger: slog.Default()}
		out := serveWith(t, cfg, func(*Request) *Response { return resp }, in.String(), in.String())
		if len(out) != len(reqs) {
			t.Fatalf("TransparentHEAD %v: %d responses, want %d", transparent, len(out), len(reqs))
		}
		for i, r := range reqs {
			own := httpcore.Text(httpcore.StatusOK, "Hello, World!")
			own.Header.Add("X-Shared", "yes")
			rc := httpcore.RenderContext{Method: httpcore.Method(r.method), Proto: httpcore.HTTP11, ServerChecked: true,
				CloseRequested: r.extra == "Connection: close\r\n", ForceClose: i == len(reqs)-1}
			if r.proto == "HTTP/1.0" {
				rc.Proto = httpcore.HTTP10
			}
			wantBytes, _, _ := httpcore.AppendResponse(nil, own, &rc)
			if got := dropDate(out[i]); !bytes.Equal(got, dropDate(wantBytes)) {
				t.Errorf("TransparentHEAD %v, response %d (%s %s):\n got %q\nwant %q", transparent, i, r.method, r.proto, got, dropDate(wantBytes))
			}
		}
		if resp.Status != want.Status || resp.Proto != want.Proto || resp.Seq != 0 || resp.Switch != nil ||
			!slices.Equal(resp.Header, want.Header) || resp.Entity != want.Entity || !resp.IsShared() ||
			!bytes.Equal(resp.Entity.(*entity.Strict).Data, body) || resp.Entity.ContentType() != want.Entity.ContentType() {
			t.Errorf("TransparentHEAD %v: the shared response changed: %+v, was %+v", transparent, *resp, want)
		}
	}
}

// TestSharedResponseConcurrent: concurrent handlers of two connections
// link one shared response to their requests (ForRequest makes linked
// copies) while the layers render it: nothing writes to it (the race
// detector would see it), and every request gets its answer, in order.
func TestSharedResponseConcurrent(t *testing.T) {
	hello := httpcore.Text(httpcore.StatusOK, "Hello, World!").Shared()
	const requests = 256
	var in strings.Builder
	for i := range requests {
		fmt.Fprintf(&in, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			handler := stream.MapAsync(16, func(_ context.Context, r *Request) (*Response, error) {
				return hello.ForRequest(r), nil
			})
			flow := bidi.JoinLeft(handler, NewLayer(&Config{PipeliningLimit: 16, MaxDrainBytes: 1 << 20, Logger: slog.Default()}))
			chunks := [][]byte{[]byte(in.String())}
			n, err := stream.RunWith(context.Background(), stream.Via(stream.FromSlice(chunks), flow), stream.Fold(0, func(n int, p []byte) int {
				return n + bytes.Count(p, []byte("HTTP/1.1 200 OK\r\n"))
			}))
			if err == nil && n != requests {
				err = fmt.Errorf("%d responses, want %d", n, requests)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if hello.Seq != 0 || !hello.IsShared() {
		t.Errorf("the shared response changed: Seq %d, shared %v", hello.Seq, hello.IsShared())
	}
}
