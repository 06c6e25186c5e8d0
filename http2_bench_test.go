package streamhttp

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"golang.org/x/net/http2"
)

// BenchmarkHTTP2IdleConn reports what an idle HTTP/2 connection costs the
// server (heap and goroutine stacks, bytes/conn) after one request. Run it
// with -benchtime=Nx: N connections are held at once.
func BenchmarkHTTP2IdleConn(b *testing.B) {
	bind, err := BindAndHandleSync(context.Background(), "127.0.0.1:0", func(r *Request) *Response {
		return httpcore.Text(httpcore.StatusOK, "ok")
	}, ServerSettings{DisableSignals: true, MaxConnections: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	defer bind.Close(context.Background())
	addr := bind.LocalAddr().String()
	block := []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'a'} // GET http / :authority a
	open := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndStream: true, EndHeaders: true})
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				b.Fatal(err)
			}
			if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
				return c
			}
		}
	}
	measure := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	open().Close()
	before, g0 := measure(), runtime.NumGoroutine()
	conns := make([]net.Conn, 0, b.N)
	b.ResetTimer()
	for range b.N {
		conns = append(conns, open())
	}
	b.StopTimer()
	time.Sleep(100 * time.Millisecond) // the server settles after the last answer
	after, g1 := measure(), runtime.NumGoroutine()
	// The client's ends live in this process too: each costs about a
	// net.Conn and its poller entry, counted here (a few hundred bytes).
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/conn")
	b.ReportMetric(float64(g1-g0)/float64(b.N), "goroutines/conn")
	for _, c := range conns {
		c.Close()
	}
}
