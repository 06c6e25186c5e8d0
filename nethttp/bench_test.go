package nethttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// The adapter's cost per request, without sockets: a small GET answered
// with a header and 13 bytes, through the adapter (Handler), next to the
// same answer from a native handler function and from net/http's own
// serving of a recorded request (httptest.ResponseRecorder, no socket
// either). `go test -bench . -benchmem ./nethttp` prints allocs/op.

var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello, World!")
})

func helloRequest() *streamhttp.Request {
	r := &streamhttp.Request{
		Method: httpcore.MethodGet, Target: "/plaintext", URI: httpcore.URI{Path: "/plaintext"},
		Header: httpcore.Headers{{Name: "Host", Value: "localhost"}, {Name: "Accept", Value: "*/*"}},
		Host:   "localhost", ContentLength: -1, Seq: 1,
	}
	r.AttachContext(context.Background())
	return r
}

// BenchmarkAdapterHello: the adapter alone (request, goroutine, writer,
// response head and entity).
func BenchmarkAdapterHello(b *testing.B) {
	f := Handler(helloHandler, Options{})
	b.ReportAllocs()
	for b.Loop() {
		r := helloRequest()
		resp, err := f(r.Context(), r)
		if err != nil || resp.Status != 200 {
			b.Fatal(resp, err)
		}
		r.CancelContext()
	}
}

// BenchmarkNetHTTPRecorderHello: net/http's handler side for the same
// request (the request built from text, a ResponseRecorder).
func BenchmarkNetHTTPRecorderHello(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/plaintext", nil)
		w := httptest.NewRecorder()
		helloHandler.ServeHTTP(w, r)
	}
}

// BenchmarkReplayAdapter and BenchmarkReplayNative run 64 keep-alive
// requests through the server layer, the first through the adapter.
func BenchmarkReplayAdapter(b *testing.B) {
	benchReplay(b, Flow(helloHandler, 1, Options{}))
}

func BenchmarkReplayNative(b *testing.B) {
	benchReplay(b, stream.Map(func(*streamhttp.Request) *streamhttp.Response {
		return httpcore.Bytes(200, "text/plain", []byte("Hello, World!"))
	}))
}

func benchReplay(b *testing.B, h stream.Flow[*streamhttp.Request, *streamhttp.Response]) {
	const n = 64
	in := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n", n))
	b.ReportAllocs()
	for b.Loop() {
		out, err := streamhttp.Replay(context.Background(), bytes.NewReader(in), h, streamhttp.ServerSettings{})
		if err != nil || bytes.Count(out, []byte("Hello, World!")) != n {
			b.Fatalf("%v: %q", err, out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/req")
}

// TestAdapterAllocs keeps the adapter's allocations per request honest:
// the request built by the test costs 2 of them.
func TestAdapterAllocs(t *testing.T) {
	f := Handler(helloHandler, Options{})
	n := testing.AllocsPerRun(200, func() {
		r := helloRequest()
		if resp, err := f(r.Context(), r); err != nil || resp.Status != 200 {
			t.Fatal(resp, err)
		}
		r.CancelContext()
	})
	if n > 9 {
		t.Errorf("%v allocations per request through the adapter, want at most 9 (2 of them the test's request)", n)
	}
}
