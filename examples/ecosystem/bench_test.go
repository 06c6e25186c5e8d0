package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/nethttp"
)

// BenchmarkChiReplay: the router of make bench's scenario n (no request
// log) through the adapter and the server layer, without sockets: 64
// requests of GET /hello as a load generator sends them, ns and
// allocations per request, with request reuse (the command's default) and
// without.
func BenchmarkChiReplay(b *testing.B) {
	for _, reuse := range []bool{true, false} {
		b.Run(fmt.Sprint("reuse=", reuse), func(b *testing.B) {
			const n = 64
			in := []byte(strings.Repeat("GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n", n))
			flow := nethttp.Flow(newRouter(config{}), 1, nethttp.Options{ReuseRequests: reuse})
			s := streamhttp.ServerSettings{ReuseRequests: reuse}
			b.ReportAllocs()
			for b.Loop() {
				out, err := streamhttp.Replay(context.Background(), bytes.NewReader(in), flow, s)
				if err != nil || bytes.Count(out, []byte("Hello, World!")) != n {
					b.Fatalf("%v: %q", err, out)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/req")
		})
	}
}
