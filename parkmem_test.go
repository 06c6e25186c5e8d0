//go:build linux

package streamhttp

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
)

// The memory of a parked connection: what a binding keeps of an idle
// keep-alive connection once it is parked. The clients are raw sockets
// (file descriptors, no Go objects), so that the heap the test measures is
// the server's alone.

var (
	parkMemConns   = flag.Int("parkmem.conns", 0, "TestParkedConnMemory: connections to park (0: 400)")
	parkMemProfile = flag.String("parkmem.profile", "", "TestParkedConnMemory: write a heap profile of every allocation (MemProfileRate 1) with the connections parked to this file (one per case, suffixed with its name)")
)

// parkMemCase is a way of serving the parked connections.
type parkMemCase struct {
	name  string
	proxy bool // connections start with a PROXY v1 header
	// ready serves through readiness sets, as with one P: a run's reader
	// then has a deadline timer, stopped when the run ends, which keeps
	// the run in the runtime's timer heap for as long as the connection's
	// write deadline keeps the heap long (so parking clears it).
	ready bool
	bind  func(ctx context.Context, s ServerSettings) (*ServerBinding, error)
}

func okHandler(*Request) *Response { return httpcore.Text(httpcore.StatusOK, "ok") }

var parkMemCases = []parkMemCase{
	{name: "sync", bind: func(ctx context.Context, s ServerSettings) (*ServerBinding, error) {
		return BindAndHandleSync(ctx, "127.0.0.1:0", okHandler, s)
	}},
	{name: "async16", bind: func(ctx context.Context, s ServerSettings) (*ServerBinding, error) {
		return BindAndHandleAsync(ctx, "127.0.0.1:0", func(_ context.Context, r *Request) (*Response, error) {
			return okHandler(r), nil
		}, 16, s)
	}},
	{name: "async16-ready", ready: true, bind: func(ctx context.Context, s ServerSettings) (*ServerBinding, error) {
		return BindAndHandleAsync(ctx, "127.0.0.1:0", func(_ context.Context, r *Request) (*Response, error) {
			return okHandler(r), nil
		}, 16, s)
	}},
	{name: "sync-proxy", proxy: true, bind: func(ctx context.Context, s ServerSettings) (*ServerBinding, error) {
		s.ProxyProtocol.Mode = ProxyProtocolOptional
		return BindAndHandleSync(ctx, "127.0.0.1:0", okHandler, s)
	}},
}

// rawClient is a client connection as a bare socket.
type rawClient struct {
	port  int
	proxy bool
	buf   [512]byte
}

// open connects, sends one GET (after a PROXY v1 header when asked) and
// reads its answer, "ok"; the socket stays open.
func (rc *rawClient) open() (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	tv := syscall.Timeval{Sec: 10}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	if err := rawConnect(fd, rc.port); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	req := rawGet
	if rc.proxy {
		req = rawProxyGet
	}
	for len(req) > 0 {
		n, err := syscall.Write(fd, req)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			syscall.Close(fd)
			return -1, err
		}
		req = req[n:]
	}
	got := 0
	for !bytes.HasSuffix(rc.buf[:got], []byte("\r\n\r\nok")) {
		if got == len(rc.buf) {
			syscall.Close(fd)
			return -1, fmt.Errorf("answer too long: %q", rc.buf[:got])
		}
		n, err := syscall.Read(fd, rc.buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n == 0 {
			syscall.Close(fd)
			return -1, fmt.Errorf("reading the answer (%q so far): %v", rc.buf[:got], err)
		}
		got += n
	}
	return fd, nil
}

// rawConnect connects fd to the loopback port, through the interruptions
// of the runtime's signals: an interrupted connect goes on in the kernel.
func rawConnect(fd, port int) error {
	sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	err := syscall.Connect(fd, sa)
	for err == syscall.EINTR || err == syscall.EALREADY {
		time.Sleep(time.Millisecond)
		err = syscall.Connect(fd, sa)
	}
	if err == syscall.EISCONN {
		err = nil
	}
	return err
}

var (
	rawGet      = []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	rawProxyGet = []byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
)

// startParkMemCase binds a server as pc says, with s, until the end of
// the test, and returns it with a client for it.
func startParkMemCase(tb testing.TB, pc parkMemCase, s ServerSettings) (*ServerBinding, *rawClient) {
	tb.Helper()
	if pc.ready {
		old := readySetAlways.Swap(true)
		tb.Cleanup(func() { readySetAlways.Store(old) })
	}
	s.DisableSignals = true
	b, err := pc.bind(context.Background(), s)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		b.Close(ctx)
	})
	return b, &rawClient{port: b.LocalAddr().(*net.TCPAddr).Port, proxy: pc.proxy}
}

// parkedMemory is what parkConnsMeasured found.
type parkedMemory struct {
	bytes, objects float64 // live heap per parked connection, after GC
	allocBytes     float64 // allocated per connection, from connect to parked
	allocObjects   float64
}

func heapAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC() // the second one also empties sync.Pool's victim cache
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// parkConnsMeasured parks n connections served as pc says and measures
// the heap they hold. profile, when set, is a file for a heap profile of
// every allocation while they are parked.
func parkConnsMeasured(t testing.TB, pc parkMemCase, n int, profile string) parkedMemory {
	t.Helper()
	b, rc := startParkMemCase(t, pc, ServerSettings{ParkIdleAfter: 5 * time.Millisecond,
		MaxConnections: n + 10, MaxPendingConnections: n + 10})
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	waitParked := func(want int) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := b.Stats()
			if st.ParkedConnections == int64(want) && st.OpenConnections == int64(want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %d parked connections: stats %+v", want, st)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	// A first round of connections makes the binding's poller, readiness
	// set and sweeper, which the connections share, and the goroutines the
	// runtime keeps for reuse (a goroutine's record stays in the heap).
	open := func(k int) {
		for range k {
			fd, err := rc.open()
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
		}
		waitParked(len(fds))
	}
	open(min(n, 100))
	for _, fd := range fds {
		syscall.Close(fd)
	}
	fds = fds[:0]
	waitParked(0)

	if profile != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()
	}
	before := heapAfterGC()
	open(n)
	// The request timers of the ended runs were stopped, but a stopped
	// timer stays in the runtime's timer heap, holding its run, until its
	// time comes (or the runtime sweeps such timers out): wait a timer
	// period, so that what is measured is what the parked connections
	// hold.
	time.Sleep(h1.MaxTickPeriod + 50*time.Millisecond)
	after := heapAfterGC()
	if profile != "" {
		// The profile shows the heap as of the last GC but one: one more
		// makes it the heap measured.
		runtime.GC()
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return parkedMemory{
		bytes:        per(after.HeapAlloc, before.HeapAlloc),
		objects:      per(after.HeapObjects, before.HeapObjects),
		allocBytes:   per(after.TotalAlloc, before.TotalAlloc),
		allocObjects: per(after.Mallocs, before.Mallocs),
	}
}

// The bounds on what a parked connection holds. Measured over 400
// connections: 500 to 600 bytes in 7 to 8 objects, of which the socket
// (net's netFD, TCPConn and addresses) is about 300 bytes in 5 objects,
// the IncomingConnection 176 bytes, the binding's and the poller's maps
// the rest (and the PROXY source 64 bytes). The bounds leave room for
// measurement noise, not for a connection's run, buffers, contexts or
// closures kept while it is parked (before they were released, a parked
// connection held 900 to 1200 bytes in 17 to 20 objects).
const (
	maxParkedBytes   = 800
	maxParkedObjects = 10
)

// TestParkedConnMemory: a parked connection keeps little of the heap:
// measured over 400 connections (-parkmem.conns), for the synchronous and
// the concurrent handler (also through readiness sets, as with one P) and
// behind the PROXY protocol. -v prints the
// figures, also the bytes allocated per connection from its accept to its
// parking; -parkmem.profile writes a heap profile.
func TestParkedConnMemory(t *testing.T) {
	n := *parkMemConns
	if n <= 0 {
		n = 400
	}
	for _, pc := range parkMemCases {
		t.Run(pc.name, func(t *testing.T) {
			profile := ""
			if *parkMemProfile != "" {
				profile = *parkMemProfile + "." + pc.name
			}
			m := parkConnsMeasured(t, pc, n, profile)
			t.Logf("%d parked connections: %.0f B and %.1f objects live per connection; %.0f B in %.1f objects allocated per connection",
				n, m.bytes, m.objects, m.allocBytes, m.allocObjects)
			if m.bytes > maxParkedBytes || m.objects > maxParkedObjects {
				t.Errorf("a parked connection holds %.0f B of heap in %.1f objects, want at most %d B in %d objects",
					m.bytes, m.objects, maxParkedBytes, maxParkedObjects)
			}
		})
	}
}

// BenchmarkConnFirstRequest: what a connection allocates from its accept
// through its first request to its end (the client closes it after the
// answer), in B/op and allocs/op: the garbage each new connection leaves,
// which the heap grows by between collections.
func BenchmarkConnFirstRequest(b *testing.B) {
	for _, pc := range parkMemCases {
		b.Run(pc.name, func(b *testing.B) {
			bd, rc := startParkMemCase(b, pc, ServerSettings{})
			b.ReportAllocs()
			for b.Loop() {
				fd, err := rc.open()
				if err != nil {
					b.Fatal(err)
				}
				syscall.Close(fd)
			}
			b.StopTimer()
			// The server ends the last connections after the loop.
			deadline := time.Now().Add(10 * time.Second)
			for bd.Stats().OpenConnections > 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
	}
}
