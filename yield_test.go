package streamhttp

import (
	"bufio"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// TestReaderYieldsOnlyOnOneP: a connection read outside a readiness set
// (here one end of a net.Pipe) yields before every other read that follows
// an answer when Go runs on one P, and never on more (see connIO.read).
func TestReaderYieldsOnlyOnOneP(t *testing.T) {
	const requests = 10
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		var yields atomic.Int64
		count := func() {
			yields.Add(1)
			runtime.Gosched()
		}
		yieldHook.Store(&count)
		hello := stream.Map(func(*Request) *Response { return httpcore.Text(httpcore.StatusOK, "hi") })
		client, done := dialPipe(t, hello, ServerSettings{})
		r := bufio.NewReader(client)
		for i := range requests {
			if _, err := client.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatalf("GOMAXPROCS %d, request %d: %v", procs, i, err)
			}
			if got := readBody(t, r); got != "hi" {
				t.Fatalf("GOMAXPROCS %d, answer %d: %q", procs, i, got)
			}
		}
		client.Close()
		if err := <-done; err != nil {
			t.Errorf("GOMAXPROCS %d: ServeConn: %v", procs, err)
		}
		yieldHook.Store(nil)
		runtime.GOMAXPROCS(prev)
		switch n := yields.Load(); {
		case procs == 1 && n < requests/2-1:
			t.Errorf("one P: %d yields after %d answers, want about one every other read", n, requests)
		case procs > 1 && n != 0:
			t.Errorf("%d Ps: %d yields, want none", procs, n)
		}
	}
}
