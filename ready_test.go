package streamhttp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
)

// The tests below cover a connection after its first answer: on Linux it
// then reads through the binding's readiness set (connIO.read), where the
// read deadline, nudges and the peer's end must wake a reader that waits
// for its mark instead of waiting in a read.

// bodyLen answers the length of the request body.
func bodyLen(r *Request) *Response {
	if r.Entity == nil {
		return httpcore.Text(httpcore.StatusOK, "0")
	}
	s, err := entity.ToStrict(r.Context(), r.Entity, 8<<20)
	if err != nil {
		return httpcore.Text(httpcore.StatusBadRequest, err.Error())
	}
	return httpcore.Text(httpcore.StatusOK, fmt.Sprint(len(s.Data)))
}

// answered dials b, has one GET answered and returns the connection.
func answered(t *testing.T, b *ServerBinding) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	t.Cleanup(func() { c.Close() })
	if got := readBody(t, r); got != "0" {
		t.Fatalf("first answer %q", got)
	}
	return c, r
}

// inReadySet waits until the binding's readiness set holds n connections
// (on Linux; elsewhere there is none).
func inReadySet(t *testing.T, b *ServerBinding, n int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		r := b.ready
		b.mu.Unlock()
		if r != nil && r.Len() == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the readiness set does not hold %d connection(s)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// useReadySet makes the bindings of a test use readiness sets, which they
// do by themselves only on one P (go test runs with GOMAXPROCS = cores;
// make test runs this package with GOMAXPROCS=1 as well).
func useReadySet(t *testing.T) {
	old := readySetAlways.Swap(true)
	t.Cleanup(func() { readySetAlways.Store(old) })
}

// noPark keeps the connections of these tests in their runs.
const noPark = time.Hour

// TestReadyLargeBodies: bodies larger than the read buffer, after an
// answer, arrive whole: a read that fills the buffer reads again without
// waiting for a mark the kernel will not send.
func TestReadyLargeBodies(t *testing.T) {
	useReadySet(t)
	b := serveSync(t, bodyLen, ServerSettings{ParkIdleAfter: noPark})
	c, r := answered(t, b)
	inReadySet(t, b, 1)
	for _, size := range []int{100, 8 << 10, 1 << 20, 3<<20 + 7} {
		body := strings.Repeat("z", size)
		go io.WriteString(c, fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", size, body))
		if got := readBody(t, r); got != fmt.Sprint(size) {
			t.Fatalf("a body of %d bytes: answer %q", size, got)
		}
	}
	// Pipelined after an answer: three requests in one write.
	io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3))
	for i := 0; i < 3; i++ {
		if got := readBody(t, r); got != "0" {
			t.Fatalf("pipelined answer %d: %q", i, got)
		}
	}
}

// TestReadyIdleTimeout: with nothing else to wake it, the read deadline
// ends the wait of an answered connection.
func TestReadyIdleTimeout(t *testing.T) {
	useReadySet(t)
	b := serveSync(t, bodyLen, ServerSettings{ParkIdleAfter: noPark, IdleTimeout: 300 * time.Millisecond})
	c, r := answered(t, b)
	start := time.Now()
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("bytes on an idle connection")
	}
	if waited := time.Since(start); waited < 200*time.Millisecond || waited > 3*time.Second {
		t.Errorf("closed after %v idle, want about 300ms", waited)
	}
	c.Close() // ends the server's linger
	waitStats(t, b, "the connection to end", func(s Stats) bool { return s.OpenConnections == 0 })
	inReadySet(t, b, 0)
}

// TestReadyTimeouts: a head begun after an answer and never finished, and
// a body after an answer that trickles below the minimum rate, get 408
// from the timers that wake the wait.
func TestReadyTimeouts(t *testing.T) {
	useReadySet(t)
	for _, tc := range []struct {
		name string
		s    ServerSettings
		send string
	}{
		{"head", ServerSettings{HeadTimeout: 300 * time.Millisecond}, "GET / HTTP/1.1\r\nHo"},
		{"body", ServerSettings{MinRequestBodyRate: 1000, RequestBodyGrace: 200 * time.Millisecond},
			"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.ParkIdleAfter = noPark
			b := serveSync(t, bodyLen, tc.s)
			c, r := answered(t, b)
			io.WriteString(c, tc.send)
			start := time.Now()
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 408 {
				t.Errorf("got %s, want 408", resp.Status)
			}
			if waited := time.Since(start); waited > 3*time.Second {
				t.Errorf("answered after %v, want well under a second", waited)
			}
		})
	}
}

// TestReadyPeerEnds: the client's half-close after an answer ends the
// connection at once, and the next connection is served as well.
func TestReadyPeerEnds(t *testing.T) {
	useReadySet(t)
	b := serveSync(t, bodyLen, ServerSettings{ParkIdleAfter: noPark})
	c, r := answered(t, b)
	inReadySet(t, b, 1)
	c.(*net.TCPConn).CloseWrite()
	start := time.Now()
	if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
		t.Fatalf("after the half-close: %q, %v", rest, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the connection ended after %v", waited)
	}
	waitStats(t, b, "the connection to end", func(s Stats) bool { return s.OpenConnections == 0 })
	inReadySet(t, b, 0)
	answered(t, b)
	inReadySet(t, b, 1)
}

// TestReadyParks: an answered connection idle for ParkIdleAfter is nudged
// out of its wait and parked, leaves the readiness set, and is served again
// on its next request.
func TestReadyParks(t *testing.T) {
	useReadySet(t)
	b := serveSync(t, seqHandler, ServerSettings{ParkIdleAfter: 20 * time.Millisecond})
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	for i := 1; i <= 3; i++ {
		if i > 1 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		if got := readBody(t, r); got != fmt.Sprint(i) {
			t.Fatalf("answer %d: %q", i, got)
		}
		waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
		inReadySet(t, b, 0)
	}
}

// TestReadySetOnlyOnOneP: by themselves, bindings use readiness sets only
// when Go runs on one P.
func TestReadySetOnlyOnOneP(t *testing.T) {
	b := serveSync(t, bodyLen, ServerSettings{ParkIdleAfter: noPark})
	answered(t, b)
	if runtime.GOMAXPROCS(0) == 1 {
		inReadySet(t, b, 1)
		return
	}
	b.mu.Lock()
	r := b.ready
	b.mu.Unlock()
	if r != nil {
		t.Fatalf("a readiness set on %d Ps", runtime.GOMAXPROCS(0))
	}
}
