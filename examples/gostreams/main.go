// Command gostreams shows operators of github.com/reugn/go-streams inside
// a streamhttp request flow, through the adapters of package
// stream/gostreams.
//
// The handler of each connection is one typed flow of three stages:
//
//	*Request --[ go-streams Throttler ]--> *Request
//	         --[ go-streams Map: upper-case the path ]--> string
//	         --[ stream.Map: make the response ]--> *Response
//
// The Throttler lets at most -rate requests of a connection through per
// second (0: no throttle) and holds back the rest, which in turn holds back
// the reading of further requests from the socket. gostreams.ViaFlow builds
// fresh go-streams operators for every connection and checks the types of
// what comes out of them. The responses are not linked to their requests:
// both operators keep the order, so each answers the oldest request.
//
// Run it with
//
//	go run ./examples/gostreams -addr 127.0.0.1:8080 -rate 2
//
// and try curl http://127.0.0.1:8080/hello/world (it answers /HELLO/WORLD),
// or five requests on one connection, which take two seconds at -rate 2:
//
//	curl http://127.0.0.1:8080/[1-5]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	rate := flag.Int("rate", 10, "requests of one connection answered per second (0: no limit)")
	flag.Parse()

	ready := func(a net.Addr) { fmt.Printf("gostreams: serving http://%s/hello/world\n", a) }
	if err := run(context.Background(), *addr, *rate, ready); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until the server is stopped: gracefully by SIGTERM, at
// once by SIGINT (BindAndHandle handles both) or by cancelling ctx. It calls
// ready with the bound address once it accepts connections.
func run(ctx context.Context, addr string, rate int, ready func(net.Addr)) error {
	binding, err := streamhttp.BindAndHandle(ctx, addr, handler(rate), streamhttp.ServerSettings{})
	if err != nil {
		return err
	}
	ready(binding.LocalAddr())

	binding.Wait()
	return nil
}

// handler is the request flow of a connection: go-streams operators
// between typed stages.
func handler(rate int) stream.Flow[*streamhttp.Request, *streamhttp.Response] {
	upper := gostreams.ViaFlow[*streamhttp.Request, string](func() streams.Flow {
		return flow.NewMap(func(r *streamhttp.Request) string { return strings.ToUpper(r.URI.Path) }, 1)
	})
	respond := stream.Map(func(path string) *streamhttp.Response {
		return httpcore.Text(httpcore.StatusOK, path+"\n")
	})
	h := stream.ViaFlow(upper, respond)
	if rate > 0 {
		throttle := gostreams.ViaFlow[*streamhttp.Request, *streamhttp.Request](func() streams.Flow {
			return flow.NewThrottler(rate, time.Second, 1, flow.Backpressure)
		})
		h = stream.ViaFlow(throttle, h)
	}
	return h
}
