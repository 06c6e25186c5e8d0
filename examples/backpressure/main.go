// Command backpressure shows TCP backpressure reaching a client from a slow
// request handler: the server reads a request body from the socket only as
// fast as the handler pulls it, so when the handler is slow the kernel's
// buffers fill up and the client's writes block.
//
// POST /upload reads the request body as a stream of byte chunks (the
// entity's DataBytes source), passes it through stream.Throttle, which lets
// at most -chunks-per-sec chunks through per second, and answers with the
// number of bytes read. A chunk is what one read from the socket brought (a
// few KiB at most), so the default of 64 chunks a second is at most a
// quarter of a MiB a second. The handler itself is a flow too: a
// stream.MapAsync over the requests of a connection, served with
// streamhttp.BindAndHandle. Nothing buffers the body on the way: the log
// shows the bytes read each second, and the client's upload rate drops to
// the handler's.
//
// Run it with
//
//	go run ./examples/backpressure -addr 127.0.0.1:8080
//
// and upload 4 MiB; curl's progress meter shows the upload held to the
// handler's pace (about 16 s at the default rate):
//
//	head -c 4M /dev/zero | curl --data-binary @- http://127.0.0.1:8080/upload
//
// With -chunks-per-sec 0 the handler reads at full speed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// maxUpload bounds the size of an upload.
const maxUpload = 1 << 30

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	rate := flag.Int("chunks-per-sec", 64, "body chunks the handler reads per second (0: no limit)")
	flag.Parse()

	ready := func(a net.Addr) { fmt.Printf("backpressure: serving http://%s/upload\n", a) }
	if err := run(context.Background(), *addr, *rate, ready); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until the server is stopped: gracefully by SIGTERM, at
// once by SIGINT (BindAndHandle handles both) or by cancelling ctx. It calls
// ready with the bound address once it accepts connections.
func run(ctx context.Context, addr string, rate int, ready func(net.Addr)) error {
	// One request of a connection at a time; each reads its body at the
	// handler's pace.
	handler := stream.MapAsync(1, func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		return upload(ctx, r, rate), nil
	})
	// The body is never held in memory, so it may be large.
	settings := streamhttp.ServerSettings{Parser: httpcore.ParserSettings{MaxContentLength: maxUpload}}
	binding, err := streamhttp.BindAndHandle(ctx, addr, handler, settings)
	if err != nil {
		return err
	}
	ready(binding.LocalAddr())

	binding.Wait()
	return nil
}

// upload answers POST /upload with the size of the body, read at most rate
// chunks a second (rate 0: as fast as it comes).
func upload(ctx context.Context, r *streamhttp.Request, rate int) *streamhttp.Response {
	if r.URI.Path != "/upload" {
		return httpcore.Text(httpcore.StatusNotFound, "Not Found: POST to /upload\n")
	}
	if r.Method != httpcore.MethodPost {
		resp := httpcore.Text(httpcore.StatusMethodNotAllowed, "Method Not Allowed: POST to /upload\n")
		resp.Header.Add("Allow", "POST")
		return resp
	}
	body := r.Entity
	if body == nil {
		body = entity.Empty
	}

	// The body as a stream: socket reads, throttled, counted. Each stage
	// pulls from the one before only when asked, so the throttle decides
	// when the next read from the socket happens.
	data := body.DataBytes()
	if rate > 0 {
		data = stream.Via(data, stream.Throttle[[]byte](rate, time.Second, 1))
	}
	p := &progress{from: r.RemoteAddr, start: time.Now(), last: time.Now()}
	data = stream.Via(data, stream.Map(p.chunk))
	n, err := stream.RunWith(ctx, data, stream.Fold(int64(0), func(n int64, b []byte) int64 { return n + int64(len(b)) }))
	var tooLarge *entity.SizeLimitError
	switch {
	case errors.As(err, &tooLarge):
		return httpcore.Text(httpcore.StatusContentTooLarge, fmt.Sprintf("the body exceeds %d bytes\n", maxUpload))
	case err != nil:
		log.Printf("backpressure: %s: upload failed after %d bytes: %v", r.RemoteAddr, p.n, err)
		return httpcore.Text(httpcore.StatusBadRequest, "the body could not be read\n")
	}
	elapsed := time.Since(p.start)
	log.Printf("backpressure: %s: %d bytes in %v (%.0f KiB/s)", r.RemoteAddr, n, elapsed.Round(time.Millisecond), float64(n)/1024/elapsed.Seconds())
	return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("%d bytes\n", n))
}

// progress logs, about once a second, how much of a body has been read.
type progress struct {
	from        net.Addr
	start, last time.Time
	n, chunks   int64
}

func (p *progress) chunk(b []byte) []byte {
	p.n += int64(len(b))
	p.chunks++
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		p.last = now
		log.Printf("backpressure: %s: %d KiB read in %d chunks so far", p.from, p.n>>10, p.chunks)
	}
	return b
}
