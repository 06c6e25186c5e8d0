package nethttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unsafe"

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

// BenchmarkAdapterHello: the adapter alone (request, writer, response
// head and entity; the handler's goroutine is a kept one). The streamhttp
// requests are made in batches with the timer stopped, so allocs/op are
// the adapter's, plus one of the handler's own (the value slice of
// Header().Set).
func BenchmarkAdapterHello(b *testing.B) {
	f := Handler(helloHandler, Options{})
	reqs := make([]*streamhttp.Request, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(reqs) == 0 {
			b.StopTimer()
			for range cap(reqs) {
				reqs = append(reqs, helloRequest())
			}
			b.StartTimer()
		}
		r := reqs[len(reqs)-1]
		reqs = reqs[:len(reqs)-1]
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

// BenchmarkReplayAdapter and BenchmarkReplayNative run 1024 keep-alive
// requests through the server layer, the first through the adapter, with
// request reuse (Options.ReuseRequests and ServerSettings.ReuseRequests)
// and without. allocs/req counts every allocation of a replay per request:
// the server's and the handler's (one, the value slice of Header().Set,
// for the adapter; two, the response and its body, for the native
// handler), and some 0.06 of the replay's own setup.
func BenchmarkReplayAdapter(b *testing.B) {
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			benchReplay(b, Flow(helloHandler, 1, Options{ReuseRequests: reuse}), reuse)
		})
	}
}

func BenchmarkReplayNative(b *testing.B) {
	for _, reuse := range []bool{false, true} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			benchReplay(b, stream.Map(func(*streamhttp.Request) *streamhttp.Response {
				return httpcore.Bytes(200, "text/plain", []byte("Hello, World!"))
			}), reuse)
		})
	}
}

func benchReplay(b *testing.B, h stream.Flow[*streamhttp.Request, *streamhttp.Response], reuse bool) {
	const n = 1024
	in := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n", n))
	s := streamhttp.ServerSettings{ReuseRequests: reuse}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		out, err := streamhttp.Replay(context.Background(), bytes.NewReader(in), h, s)
		if err != nil || bytes.Count(out, []byte("Hello, World!")) != n {
			b.Fatalf("%v: %q", err, out)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/req")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/req")
}

// TestAdapterAllocs keeps the adapter's allocations per request honest:
// the request (with the response head and its short body) and its header
// map (the map and its table); one more is the handler's own
// (Header().Set). The streamhttp requests are made beforehand.
func TestAdapterAllocs(t *testing.T) {
	f := Handler(helloHandler, Options{})
	const runs = 200
	reqs := make([]*streamhttp.Request, runs+1) // AllocsPerRun runs once more, to warm up
	for i := range reqs {
		reqs[i] = helloRequest()
	}
	n := testing.AllocsPerRun(runs, func() {
		r := reqs[len(reqs)-1]
		reqs = reqs[:len(reqs)-1]
		if resp, err := f(r.Context(), r); err != nil || resp.Status != 200 {
			t.Fatal(resp, err)
		}
		r.CancelContext()
	})
	limit := 4.0
	if raceEnabled {
		limit += 2 // a writer the pool dropped: the writer and its channel
	}
	if n > limit {
		t.Errorf("%v allocations per request through the adapter, want at most %v (1 of them the handler's)", n, limit)
	}
}

// TestRequestSizeClass keeps a request, with the 8-byte header the
// allocator adds to an object of more than 512 bytes that holds pointers,
// in the 896-byte size class (see smallBody): a field added to it without
// taking as much from smallBody moves every request to 1024 bytes.
func TestRequestSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(request{}) + 8; size > 896 {
		t.Errorf("a request takes %d bytes with the allocator's header, more than its 896-byte size class: shorten smallBody", size)
	}
}
