//go:build unix

package streamhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
)

// BenchmarkKeepAliveInline drives the inline path (BindAndHandleAsync with
// a parallelism of 1) over loopback TCP with 50 keep-alive connections,
// one request at a time each, clients in the same process. Besides the
// time per request it reports the process's CPU time per request (user
// and system, from getrusage), which the load of other processes on the
// machine disturbs less than the time. Run it with GOMAXPROCS=1 for the
// readiness set, with 2 for the path of several Ps.
func BenchmarkKeepAliveInline(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plain := func(context.Context, *Request) (*Response, error) {
		return httpcore.Text(httpcore.StatusOK, "Hello, World!"), nil
	}
	bnd, err := BindAndHandleAsync(ctx, "127.0.0.1:0", plain, 1, ServerSettings{DisableSignals: true})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		bnd.Close(cctx)
	}()
	addr := bnd.LocalAddr().String()
	const conns = 50
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n")
	clients := make([]net.Conn, conns)
	readers := make([]*bufio.Reader, conns)
	var respLen int
	for i := range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i], readers[i] = c, bufio.NewReaderSize(c, 4096)
		// The first exchange learns the response's length (a Date header
		// keeps it the same).
		c.Write(req)
		n, err := responseLen(readers[i])
		if err != nil {
			b.Fatal(err)
		}
		respLen = n
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var u0, u1 syscall.Rusage
	b.ResetTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &u0)
	for i := range clients {
		wg.Add(1)
		go func(c net.Conn, r *bufio.Reader) {
			defer wg.Done()
			buf := make([]byte, respLen)
			for left.Add(-1) >= 0 {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}(clients[i], readers[i])
	}
	wg.Wait()
	syscall.Getrusage(syscall.RUSAGE_SELF, &u1)
	b.StopTimer()
	ns := func(tv syscall.Timeval) float64 { return float64(tv.Nano()) }
	b.ReportMetric((ns(u1.Utime)-ns(u0.Utime))/float64(b.N), "user-ns/op")
	b.ReportMetric((ns(u1.Stime)-ns(u0.Stime))/float64(b.N), "sys-ns/op")
}

// responseLen reads one response whose body has a Content-Length, and
// returns its length in bytes.
func responseLen(r *bufio.Reader) (int, error) {
	n, bodyLen := 0, 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		n += len(line)
		if len(line) > 16 && line[:16] == "Content-Length: " {
			for _, ch := range line[16:] {
				if ch >= '0' && ch <= '9' {
					bodyLen = bodyLen*10 + int(ch-'0')
				}
			}
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := r.Discard(bodyLen); err != nil {
		return 0, err
	}
	return n + bodyLen, nil
}
