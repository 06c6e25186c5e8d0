package streamhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func seqHandler(r *Request) *Response {
	return httpcore.Text(httpcore.StatusOK, fmt.Sprint(r.Seq))
}

// waitStats polls the binding's statistics until ok holds, for up to 5 s.
func waitStats(t *testing.T, b *ServerBinding, what string, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(b.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, b.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readBody reads one response from r and returns its body.
func readBody(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	return readRaw(t, r).Body
}

// TestParkIdleConnection: an idle keep-alive connection is parked, wakes
// for its next request (numbered after the first), and a parked
// connection still times out when idle.
func TestParkIdleConnection(t *testing.T) {
	b := serveSync(t, seqHandler, ServerSettings{ParkIdleAfter: 20 * time.Millisecond, IdleTimeout: 400 * time.Millisecond})
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	if got := readBody(t, r); got != "1" {
		t.Fatalf("first response %q", got)
	}
	waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
	for i := 2; i <= 3; i++ {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readBody(t, r); got != fmt.Sprint(i) {
			t.Fatalf("response %d after a parking: %q", i, got)
		}
		waitStats(t, b, "the connection to park again", func(s Stats) bool { return s.ParkedConnections == 1 })
	}
	if st := b.Stats(); st.OpenConnections != 1 || st.TotalConnections != 1 {
		t.Errorf("a parked connection counts as one open connection: %+v", st)
	}
	// The idle timeout closes it while parked.
	start := time.Now()
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("bytes on an idle connection")
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("closed after %v idle, want about 400ms", waited)
	}
	waitStats(t, b, "the connection to be gone", func(s Stats) bool { return s.OpenConnections == 0 && s.ParkedConnections == 0 })
}

// TestParkNotForFlows: a handler flow may keep per-connection state, so its
// connections are never parked.
func TestParkNotForFlows(t *testing.T) {
	calls := 0
	counter := stream.DeferFlow(func(*stream.Materializer) stream.Flow[*Request, *Response] {
		calls = 0 // per materialization: per connection
		return stream.Map(func(r *Request) *Response {
			calls++
			return httpcore.Text(httpcore.StatusOK, fmt.Sprint(calls))
		})
	})
	b, err := BindAndHandle(context.Background(), "127.0.0.1:0", counter, ServerSettings{DisableSignals: true, ParkIdleAfter: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	readBody(t, r)
	time.Sleep(100 * time.Millisecond)
	if n := b.Stats().ParkedConnections; n != 0 {
		t.Errorf("%d parked connections, want none", n)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := readBody(t, r); got != "2" {
		t.Errorf("the flow's second response %q, want 2 (state kept)", got)
	}
}

// TestTerminateClosesParked: Terminate closes parked connections at once.
func TestTerminateClosesParked(t *testing.T) {
	b, err := BindAndHandleSync(context.Background(), "127.0.0.1:0", seqHandler, ServerSettings{DisableSignals: true, ParkIdleAfter: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	readBody(t, r)
	waitStats(t, b, "the connection to park", func(s Stats) bool { return s.ParkedConnections == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Terminate(ctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Error("the parked connection is still open")
	}
}

// TestParkedEvictedAtLimit: at MaxConnections, a parked connection is
// closed to make room for a new one.
func TestParkedEvictedAtLimit(t *testing.T) {
	b := serveSync(t, seqHandler, ServerSettings{MaxConnections: 2, ParkIdleAfter: 10 * time.Millisecond})
	for i := range 2 {
		c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		defer c.Close()
		readBody(t, r)
		waitStats(t, b, fmt.Sprintf("%d parked", i+1), func(s Stats) bool { return s.ParkedConnections == int64(i+1) })
	}
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	if got := readBody(t, r); got != "1" {
		t.Errorf("the third connection: %q", got)
	}
	if st := b.Stats(); st.OpenConnections != 2 || st.TotalConnections != 3 {
		t.Errorf("stats %+v: want 2 open of 3", st)
	}
}

// TestPendingInputNotParked: a reader nudged for parking (its read
// deadline set in the past) while its client's next request waits on the
// socket does not park: pendingInput sees the bytes without reading them
// and clears the deadline, so that the next read returns them.
func TestPendingInputNotParked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := &connIO{rwc: server, dl: server}
	if c.inputWaiting() || c.pendingInput() {
		t.Fatal("input waiting on a quiet connection")
	}
	io.WriteString(client, get("/"))
	c.deadline = time.Unix(1, 0).UnixNano() // the nudge
	server.SetReadDeadline(time.Unix(1, 0))
	deadline := time.Now().Add(5 * time.Second)
	for !c.inputWaiting() {
		if time.Now().After(deadline) {
			t.Fatal("the request sent is not seen waiting")
		}
		time.Sleep(time.Millisecond)
	}
	if !c.pendingInput() {
		t.Fatal("pendingInput: false with a request waiting")
	}
	if c.deadline != 0 {
		t.Errorf("deadline %v after pendingInput, want it cleared", c.deadline)
	}
	buf := make([]byte, 256)
	// No deadline set again: the bytes wait, and a deadline left in the
	// past would fail this read at once.
	n, err := io.ReadAtLeast(server, buf, len(get("/")))
	if err != nil || string(buf[:n]) != get("/") {
		t.Fatalf("read %q, %v; want the request, unconsumed by the peek", buf[:n], err)
	}
}
