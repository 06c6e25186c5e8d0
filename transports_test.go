package streamhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// The test harness: a behaviour test ranges over transports and states its
// behaviour once; it is checked in every mode (net/http's run(t, f, modes)
// pattern).

// transport is one way to serve a handler flow on a connection: dial
// serves it and returns the client's end, and a channel with the end of
// the serving (ServeConn's error, or the connection's Err in a binding).
type transport struct {
	name string
	dial func(*testing.T, stream.Flow[*Request, *Response], ServerSettings) (net.Conn, <-chan error)
}

// transports are the modes: ServeConn over an in-memory pipe, loopback
// TCP and TLS; a binding (Bind and HandleWith); a binding whose connection
// parks between requests and is woken by each; and a binding on one P,
// where a connection reads through the binding's readiness set.
var transports = []transport{
	{"pipe", dialPipe},
	{"tcp", dialTCP},
	{"tls", dialTLS},
	{"binding", dialBound},
	{"parked", dialParked},
	{"one-P", dialOneP},
}

// dialBound serves handler on a binding of its own (Bind and
// IncomingConnection.HandleWith, as BindAndHandle does) and returns a
// client connection to it; the channel gets the connection's Err once it
// has been served.
func dialBound(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	client, done, _ := bindOne(t, s, func(c *IncomingConnection) { c.HandleWith(handler) })
	return client, done
}

// dialOneP is dialBound with Go on one P for the rest of the test: the
// binding's connections read through its readiness set (see
// ServerBinding.readyFor), and the client shares the P with the server.
func dialOneP(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	prev := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) }) // after the binding's end
	return dialBound(t, handler, s)
}

// parkTestAfter is the ParkIdleAfter of the parked mode (unless the test
// sets its own).
const parkTestAfter = 2 * time.Millisecond

// dialParked serves handler on a binding whose connection parks when idle
// (as a handler function's connection does; each run materializes the flow
// anew), and returns a client connection that, before each write after
// the first made while the server is between requests, waits for the
// connection to park: every request after the first is read by a woken
// connection.
func dialParked(t *testing.T, handler stream.Flow[*Request, *Response], s ServerSettings) (net.Conn, <-chan error) {
	t.Helper()
	if s.ParkIdleAfter == 0 {
		s.ParkIdleAfter = parkTestAfter
	}
	client, done, served := bindOne(t, s, func(c *IncomingConnection) { c.handle(handler, true) })
	pc := &parkingConn{Conn: client, served: served}
	t.Cleanup(func() {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		if pc.missed > 0 {
			t.Errorf("parked mode: %d writes found the connection idle and not parked within %v", pc.missed, parkWait)
		}
	})
	return pc, done
}

// parkWait bounds how long a write of the parked mode waits for the
// connection to park.
const parkWait = 2 * time.Second

// parkingConn is the client's end of the parked mode.
type parkingConn struct {
	net.Conn
	served <-chan *IncomingConnection

	mu     sync.Mutex
	ic     *IncomingConnection
	woken  int // writes made to the parked connection
	missed int // writes that waited parkWait in vain
}

func (p *parkingConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.ic == nil {
		// The first write: a new connection waits for its first request
		// (HeadTimeout) and does not park before it.
		select {
		case p.ic = <-p.served:
		case <-time.After(parkWait):
		}
	} else {
		p.waitParked()
	}
	p.mu.Unlock()
	return p.Conn.Write(b)
}

// closeGrace is how long a connection may look closing with nothing under
// way before the parked mode takes it for one that closes (its client
// writes into the close) rather than one that ends its run to park.
const closeGrace = 50 * time.Millisecond

// waitParked waits until the connection is parked, unless it has a
// request under way or ends. Called with p.mu held.
func (p *parkingConn) waitParked() {
	deadline := time.Now().Add(parkWait)
	var closingSince time.Time
	for {
		switch p.ic.parkState() {
		case connParked:
			p.woken++
			return
		case connUnderWay, connEnded:
			return
		case connClosing:
			if closingSince.IsZero() {
				closingSince = time.Now()
			} else if time.Since(closingSince) > closeGrace {
				return
			}
		default:
			closingSince = time.Time{}
		}
		if time.Now().After(deadline) {
			p.missed++
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// What the parked mode sees of a connection (parkState).
const (
	connIdle     = iota // between requests, or between a run's end and its parking
	connParked          // parked
	connUnderWay        // a request (or its head) is under way
	connClosing         // closing, nothing under way: the end of a run
	connEnded           // done
)

// parkState says what c is doing, for the parked mode.
func (c *IncomingConnection) parkState() int {
	select {
	case <-c.Done():
		return connEnded
	default:
	}
	b := c.b
	b.mu.Lock()
	parked, cio := c.parked, c.cio
	b.mu.Unlock()
	switch {
	case parked:
		return connParked
	case cio == nil:
		return connIdle
	case cio.layer == nil: // HTTP/2: never parked
		return connUnderWay
	}
	l := cio.layer
	switch {
	case l.Between():
		return connIdle
	case l.HeadDeadline() != 0 || l.HandlerWorking() || l.Busy():
		return connUnderWay
	}
	return connClosing
}

// bindOne runs a binding of its own that serves each connection with
// handle, dials it, and returns the client's end, a channel with the
// connection's Err once it has been served, and one with the connection.
// The binding terminates when the test ends.
func bindOne(t *testing.T, s ServerSettings, handle func(*IncomingConnection)) (net.Conn, <-chan error, <-chan *IncomingConnection) {
	t.Helper()
	s.DisableSignals = true
	done := make(chan error, 1)
	served := make(chan *IncomingConnection, 1)
	ctx, cancel := context.WithCancel(context.Background())
	sink := stream.ForEach(func(c *IncomingConnection) {
		handle(c)
		select {
		case served <- c:
		default:
		}
		go func() {
			<-c.Done()
			done <- c.Err()
		}()
	})
	run := stream.To(Bind("127.0.0.1:0", s), sink).Start(ctx)
	b := run.Materialized()
	if b.Err() != nil {
		cancel()
		t.Fatal(b.Err())
	}
	client, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := b.Terminate(cctx); err != nil {
			t.Errorf("terminating the binding: %v", err)
		}
		cancel()
		run.Wait()
	})
	return client, done, served
}

// TestParkedMode: the parked mode does what it says: each request after
// the first is written to a parked connection, which wakes and answers it
// (numbered on from the requests before), and the binding counts one
// connection throughout.
func TestParkedMode(t *testing.T) {
	c, done := dialParked(t, stream.Map(seqHandler), ServerSettings{})
	br := bufio.NewReader(c)
	for i := 1; i <= 3; i++ {
		io.WriteString(c, get("/"))
		if got := readRaw(t, br).Body; got != fmt.Sprint(i) {
			t.Fatalf("response %d: %q", i, got)
		}
	}
	pc := c.(*parkingConn)
	pc.mu.Lock()
	woken, ic := pc.woken, pc.ic
	pc.mu.Unlock()
	if woken != 2 {
		t.Errorf("%d requests written to a parked connection, want 2", woken)
	}
	if st := ic.b.Stats(); st.TotalConnections != 1 {
		t.Errorf("stats %+v: want one connection", st)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("the connection's end: %v", err)
	}
}
