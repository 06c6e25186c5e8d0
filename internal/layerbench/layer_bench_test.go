// Package layerbench holds the server layer's benchmarks in a package of
// their own: their test binary links only what the layer needs, so the
// figures are not moved by what other tests import (net/http's client, for
// one, grows the globals that every garbage collection scans, and this
// benchmark allocates fast enough to collect constantly).
package layerbench_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/stream"
)

const plaintextRequest = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// benchLayer runs the layer joined with a synchronous "Hello, World!"
// handler over b.N requests in memory, perBuffer requests per input buffer,
// and reports ns and allocations per request.
func benchLayer(b *testing.B, perBuffer int) {
	hello := stream.Map(func(*streamhttp.Request) *streamhttp.Response {
		return httpcore.Text(httpcore.StatusOK, "Hello, World!")
	})
	benchLayerWith(b, perBuffer, hello, streamhttp.ServerSettings{})
}

// benchLayerWith is benchLayer with the handler flow and the settings
// given (PipeliningLimit set to perBuffer).
func benchLayerWith(b *testing.B, perBuffer int, handler stream.Flow[*streamhttp.Request, *streamhttp.Response], s streamhttp.ServerSettings) {
	buf := []byte(bytes.Repeat([]byte(plaintextRequest), perBuffer))
	nbuf := (b.N + perBuffer - 1) / perBuffer
	s.PipeliningLimit = perBuffer
	flow := bidi.JoinLeft(handler, streamhttp.ServerLayer(s))
	src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] { return &repeatPuller{buf: buf, n: nbuf} })
	// Each pull of the layer yields one whole response here (strict
	// bodies): count them as a socket writer would see them, cheaply.
	count := stream.Fold(0, func(n int, p []byte) int {
		if bytes.HasPrefix(p, []byte("HTTP/1.1 200 OK\r\n")) {
			n++
		}
		return n
	})
	b.ReportAllocs()
	b.ResetTimer()
	n, err := stream.RunWith(context.Background(), stream.Via(src, flow), count)
	b.StopTimer()
	if err != nil || n != nbuf*perBuffer {
		b.Fatalf("got %d responses, %v; want %d", n, err, nbuf*perBuffer)
	}
	reqs := float64(nbuf * perBuffer)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/reqs, "ns/req")
}

// repeatPuller emits the same buffer n times, as a connection would.
type repeatPuller struct {
	buf []byte
	n   int
}

func (r *repeatPuller) Pull() ([]byte, error) {
	if r.n == 0 {
		return nil, stream.EOS
	}
	r.n--
	return r.buf, nil
}

func (r *repeatPuller) Cancel(error) { r.n = 0 }

// BenchmarkServerLayerPipelined: 16 pipelined GET /plaintext per input buffer.
func BenchmarkServerLayerPipelined(b *testing.B) { benchLayer(b, 16) }

// helloAsync is the "Hello, World!" handler in the form BindAndHandleAsync
// takes.
func helloAsync(context.Context, *streamhttp.Request) (*streamhttp.Response, error) {
	return httpcore.Text(httpcore.StatusOK, "Hello, World!"), nil
}

// BenchmarkServerLayerPipelinedAsync: BenchmarkServerLayerPipelined with
// the handler run through AsyncHandler with a parallelism of 16, the flow
// for composing: each request in a goroutine of its own
// (stream.MapAsyncUnordered). scripts/benchlayer.sh runs it with -cpu 1,2.
func BenchmarkServerLayerPipelinedAsync(b *testing.B) {
	benchLayerWith(b, 16, streamhttp.AsyncHandler(helloAsync, 16, 16), streamhttp.ServerSettings{})
}

// BenchmarkServerLayerPipelinedAsyncJoined: the same handler with a
// parallelism of 16 the way BindAndHandleAsync and the echo example's
// default run it: the concurrent call stage joined to the layer
// (h1.HandlerFlow), which runs a quick handler inline and hands requests
// to goroutines only once a call takes its time.
func BenchmarkServerLayerPipelinedAsyncJoined(b *testing.B) {
	flow := h1.HandlerFlow(helloAsync, 16, streamhttp.AsyncHandler(helloAsync, 16, 16))
	benchLayerWith(b, 16, flow, streamhttp.ServerSettings{})
}

// BenchmarkServerLayerPipelinedInline: the same through AsyncHandler with a
// parallelism of 1, the inline path of examples/echo -parallelism 1.
func BenchmarkServerLayerPipelinedInline(b *testing.B) {
	benchLayerWith(b, 16, streamhttp.AsyncHandler(helloAsync, 1, 16), streamhttp.ServerSettings{})
}

// BenchmarkServerLayerPipelinedExample: BenchmarkServerLayerPipelinedInline
// with the echo example's own handler (its router, and the shared response
// of GET /plaintext) and settings (ReuseRequests): what examples/echo
// -parallelism 1 costs per request, less the socket. It allocates nothing.
func BenchmarkServerLayerPipelinedExample(b *testing.B) {
	benchLayerWith(b, 16, streamhttp.AsyncHandler(echohandler.Func(nil), 1, 16), streamhttp.ServerSettings{ReuseRequests: true})
}

// BenchmarkServerLayerKeepAlive: one request per input buffer.
func BenchmarkServerLayerKeepAlive(b *testing.B) { benchLayer(b, 1) }

// BenchmarkServerLayerEcho4K: POST /echo with a 4 KiB body, one request per
// input buffer, through the layer and the echo example's handler run
// inline (AsyncHandler with a parallelism of 1): the request body streams
// back as a chunked response. Reports ns and allocations per request.
func BenchmarkServerLayerEcho4K(b *testing.B) {
	req := "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n" + strings.Repeat("x", 4096)
	buf := []byte(req)
	handler := streamhttp.AsyncHandler(echohandler.Func(nil), 1, 1)
	flow := bidi.JoinLeft(handler, streamhttp.ServerLayer(streamhttp.ServerSettings{}))
	src := stream.FromPuller(func(*stream.Materializer) stream.Puller[[]byte] { return &repeatPuller{buf: buf, n: b.N} })
	count := stream.Fold(0, func(n int, p []byte) int {
		if bytes.HasPrefix(p, []byte("HTTP/1.1 200 OK\r\n")) {
			n++
		}
		return n
	})
	b.ReportAllocs()
	b.ResetTimer()
	n, err := stream.RunWith(context.Background(), stream.Via(src, flow), count)
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("got %d responses, %v; want %d", n, err, b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/req")
}
