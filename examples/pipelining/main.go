// Command pipelining shows HTTP/1.1 pipelining with an asynchronous handler:
// a client sends several requests on one connection without waiting, the
// server works on up to -parallelism of them at once, and the responses
// still leave in request order.
//
// GET /work?ms=N answers after N milliseconds (0 to 10000). The handler runs
// through streamhttp.BindAndHandleAsync with ServerSettings.PipeliningLimit
// set to -parallelism, so that many requests of a connection are read and
// handled at once. Each response is linked to its request (Request.Seq), and
// the server's reorder stage holds back a response that is ready early until
// the ones before it have been written. The log shows the order in which the
// handler finished; the client sees request order.
//
// Run it with
//
//	go run ./examples/pipelining -addr 127.0.0.1:8080 -parallelism 8
//
// and pipeline three requests, the slowest first, on one connection:
//
//	printf 'GET /work?ms=900 HTTP/1.1\r\nHost: x\r\n\r\nGET /work?ms=500 HTTP/1.1\r\nHost: x\r\n\r\nGET /work?ms=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
//		nc 127.0.0.1 8080
//
// The three answers arrive together after about 900 ms, in the order sent
// (not after 1.5 s, which handling them one at a time would take).
// curl 'http://127.0.0.1:8080/work?ms=300' sends a single one.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"strconv"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

// maxWork bounds the ms parameter of /work.
const maxWork = 10000

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	parallelism := flag.Int("parallelism", 8, "requests of one connection handled at once (1 to 1024)")
	flag.Parse()

	ready := func(a net.Addr) { fmt.Printf("pipelining: serving http://%s/work?ms=100\n", a) }
	if err := run(context.Background(), *addr, *parallelism, ready); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until the server is stopped: gracefully by SIGTERM, at
// once by SIGINT (BindAndHandle handles both) or by cancelling ctx. It calls
// ready with the bound address once it accepts connections.
func run(ctx context.Context, addr string, parallelism int, ready func(net.Addr)) error {
	if parallelism < 1 || parallelism > streamhttp.MaxPipeliningLimit {
		return fmt.Errorf("pipelining: -parallelism %d is not in 1..%d", parallelism, streamhttp.MaxPipeliningLimit)
	}
	settings := streamhttp.ServerSettings{PipeliningLimit: parallelism}
	binding, err := streamhttp.BindAndHandleAsync(ctx, addr, work, parallelism, settings)
	if err != nil {
		return err
	}
	ready(binding.LocalAddr())

	binding.Wait()
	return nil
}

// work answers GET /work?ms=N after N ms. It runs for several requests of a
// connection at once, so a short request finishes before a long one sent
// earlier; BindAndHandleAsync links each response to its request.
func work(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
	if r.URI.Path != "/work" {
		return httpcore.Text(httpcore.StatusNotFound, "Not Found: try /work?ms=100\n"), nil
	}
	ms, err := strconv.Atoi(queryValue(r, "ms"))
	if err != nil || ms < 0 || ms > maxWork {
		return httpcore.Text(httpcore.StatusBadRequest, fmt.Sprintf("ms must be an integer from 0 to %d\n", maxWork)), nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		// The client went away or the server is stopping: no one will read
		// an answer.
		return nil, context.Cause(ctx)
	}
	log.Printf("pipelining: %s request %d finished (%d ms)", r.RemoteAddr, r.Seq, ms)
	return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("request %d: worked %d ms\n", r.Seq, ms)), nil
}

// queryValue returns the first value of the query parameter name, "" when
// absent or when the query does not parse.
func queryValue(r *streamhttp.Request, name string) string {
	u, err := r.URL()
	if err != nil {
		return ""
	}
	return u.Query().Get(name)
}
