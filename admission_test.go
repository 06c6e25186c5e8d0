package streamhttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// attack is how a hostile connection behaves once connected.
type attack int

const (
	silent       attack = iota // sends nothing
	slowloris                  // sends a head line by line, never its end
	partialHello               // TLS: a record header, never the ClientHello
)

// attackers opens n connections to addr that behave as a says, each
// accepted before the next is dialled; they stay open until the test ends
// (the server may close them). slowloris connections send a header line
// every 50 ms from one goroutine.
func attackers(t *testing.T, addr string, n int, a attack) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		conns[i] = c
		switch a {
		case slowloris:
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
		case partialHello:
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00}) // a 512-byte handshake record follows, never
		}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		if a != slowloris {
			return
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				io.WriteString(c, "X-Slow: a\r\n") // fails once the server closed it
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-stopped
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// getWithin sends one GET on a new connection and reports how long the
// answer took; it fails the test when none comes within limit.
func getWithin(t *testing.T, addr string, pool *tlsClient, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var c net.Conn
	var err error
	if pool != nil {
		d := &net.Dialer{Deadline: start.Add(limit)}
		c, err = tls.DialWithDialer(d, "tcp", addr, pool.config)
	} else {
		c, err = net.DialTimeout("tcp", addr, limit)
	}
	if err != nil {
		t.Fatalf("normal client: %v", err)
	}
	defer c.Close()
	c.SetDeadline(start.Add(limit))
	io.WriteString(c, "GET /normal HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("normal client, after %v: %v", time.Since(start), err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "Hello, World!" {
		t.Fatalf("normal client: %s %q", resp.Status, body)
	}
	return time.Since(start)
}

type tlsClient struct{ config *tls.Config }

// TestSlowConnectionsCannotStarve: with MaxConnections 8, fifty
// connections that never complete a head (or a TLS handshake) hold no
// slot, and a normal client is served at once. Before connections had to
// earn their slots, it waited in the listen backlog for HeadTimeout.
func TestSlowConnectionsCannotStarve(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, c := range []struct {
		name       string
		tls        bool
		attack     attack
		maxPending int
	}{
		{name: "silent", attack: silent},
		{name: "slowloris", attack: slowloris},
		{name: "silent, pending places full", attack: silent, maxPending: 16},
		{name: "slowloris, pending places full", attack: slowloris, maxPending: 16},
		{name: "TLS silent", tls: true, attack: silent},
		{name: "TLS partial ClientHello", tls: true, attack: partialHello},
		{name: "TLS silent, pending places full", tls: true, attack: silent, maxPending: 16},
		{name: "TLS slowloris after the handshake", tls: true, attack: slowloris},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ServerSettings{MaxConnections: 8, MaxPendingConnections: c.maxPending}
			var client *tlsClient
			if c.tls {
				s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
				client = &tlsClient{&tls.Config{RootCAs: pool, ServerName: "localhost"}}
			}
			b := serveSync(t, hello, s)
			addr := b.LocalAddr().String()
			if c.tls && c.attack == slowloris {
				// Handshaken, then a head that never ends.
				for range 50 {
					tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, client.config)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { tc.Close() })
					io.WriteString(tc, "GET / HTTP/1.1\r\nHost: x\r\n")
				}
			} else {
				attackers(t, addr, 50, c.attack)
			}
			for i := range 3 {
				if d := getWithin(t, addr, client, 3*time.Second); d > time.Second {
					t.Errorf("request %d answered after %v", i, d)
				}
			}
		})
	}
}

// TestEvictOldestPending: when a connection finds the pending places all
// taken, the oldest pending connection is closed (promptly: no linger),
// and only it.
func TestEvictOldestPending(t *testing.T) {
	const maxPending, n = 4, 10
	b := serveSync(t, hello, ServerSettings{MaxConnections: 8, MaxPendingConnections: maxPending})
	conns := attackers(t, b.LocalAddr().String(), n, silent)
	want := make([]bool, n) // closed by the server
	for i := range n - maxPending {
		want[i] = true
	}
	got := make([]bool, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			// The evicted see their end at once; the others time out.
			c.SetReadDeadline(time.Now().Add(time.Second))
			_, err := c.Read(make([]byte, 1))
			got[i] = !errors.Is(err, os.ErrDeadlineExceeded)
		})
	}
	wg.Wait()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("closed connections, oldest first (-want +got):\n%s", d)
	}
	getWithin(t, b.LocalAddr().String(), nil, 3*time.Second)
}

// TestEarnedWaitsForSlot: a pending connection whose head completes while
// every slot is taken waits for one (it is not evicted, nor refused), is
// served once a slot frees, and Close ends its wait.
func TestEarnedWaitsForSlot(t *testing.T) {
	for _, closeFirst := range []bool{false, true} {
		name := map[bool]string{false: "slot frees", true: "Close while waiting"}[closeFirst]
		t.Run(name, func(t *testing.T) {
			release, entered := make(chan struct{}), make(chan struct{}, 1)
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free)
			f := func(r *Request) *Response {
				if r.URI.Path == "/hold" {
					entered <- struct{}{}
					<-release
				}
				return hello(r)
			}
			b, err := BindAndHandleSync(context.Background(), "127.0.0.1:0", f,
				ServerSettings{MaxConnections: 1, DisableSignals: true})
			if err != nil {
				t.Fatal(err)
			}
			addr := b.LocalAddr().String()
			waiter := attackers(t, addr, 1, silent)[0] // pending: accepted with a slot free
			holder, r := dialSend(t, b.LocalAddr(), "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
			defer holder.Close()
			// The holder earns the only slot; then the waiter's head comes.
			<-entered
			io.WriteString(waiter, "GET /w HTTP/1.1\r\nHost: x\r\n\r\n")
			waiter.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, err := waiter.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the waiter got %d bytes, %v while the slot was taken", n, err)
			}
			if closeFirst {
				// Close ends the wait: the waiter's connection closes
				// unanswered while the holder's handler still runs.
				closed := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					closed <- b.Close(ctx)
				}()
				waiter.SetReadDeadline(time.Now().Add(3 * time.Second))
				n, err := waiter.Read(make([]byte, 1))
				if n > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("the waiter after Close: %d bytes, %v; want its end", n, err)
				}
				free()
				if err := <-closed; err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			free()
			if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("holder: %v", err)
			}
			holder.Close()
			waiter.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(waiter), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("waiter after the slot freed: %v", err)
			}
			resp.Body.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			waiter.Close()
			if err := b.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestAdmissionCounts: a unit view of the bookkeeping: pending, earned,
// evicted and released connections.
func TestAdmissionCounts(t *testing.T) {
	b := newBinding(&ServerSettings{})
	a := newAdmission(2, 2)
	mk := func() *IncomingConnection {
		client, server := net.Pipe()
		t.Cleanup(func() { client.Close(); server.Close() })
		c := newIncoming(b, server)
		b.accepted(c)
		return c
	}
	type counts struct{ Earned, Waiting, Pending int }
	get := func() counts { e, w, p := a.counts(); return counts{e, w, p} }
	ctx := context.Background()
	c1, c2, c3 := mk(), mk(), mk()
	for _, c := range []*IncomingConnection{c1, c2} {
		if !a.admit(ctx, c) {
			t.Fatal("admit refused")
		}
	}
	if d := cmp.Diff(counts{0, 0, 2}, get()); d != "" {
		t.Fatalf("two pending (-want +got):\n%s", d)
	}
	a.admit(ctx, c3) // evicts c1, which was never handled: refused
	<-c1.Done()
	if !errors.Is(c1.Err(), errRefused) {
		t.Errorf("evicted before being handled: %v", c1.Err())
	}
	if err := c2.earnSlot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.earnSlot(ctx); !errors.Is(err, errEvicted) {
		t.Errorf("an evicted connection's head: %v, want errEvicted", err)
	}
	if d := cmp.Diff(counts{1, 0, 1}, get()); d != "" {
		t.Fatalf("c2 earned (-want +got):\n%s", d)
	}
	c2.release()
	c2.release() // twice: no effect
	c3.release()
	c1.release()
	if d := cmp.Diff(counts{0, 0, 0}, get()); d != "" {
		t.Fatalf("all released (-want +got):\n%s", d)
	}
}

// TestMaxPendingConnectionsDefault: the zero value means the default.
func TestMaxPendingConnectionsDefault(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, DefaultMaxPendingConnections}, {-1, DefaultMaxPendingConnections}, {7, 7}} {
		if got := (ServerSettings{MaxPendingConnections: c.in}).resolved().MaxPendingConnections; got != c.want {
			t.Errorf("MaxPendingConnections %d resolves to %d, want %d", c.in, got, c.want)
		}
	}
}

// TestPendingHeadTimeout: a pending connection is still bound by
// HeadTimeout: a slowloris one gets 408 and is closed, counting nothing.
func TestPendingHeadTimeout(t *testing.T) {
	const head = 300 * time.Millisecond
	b := serveSync(t, hello, ServerSettings{MaxConnections: 1, HeadTimeout: head})
	c := attackers(t, b.LocalAddr().String(), 1, slowloris)[0]
	start := time.Now()
	c.SetReadDeadline(start.Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 408 ") {
		t.Fatalf("got %q, want a 408", got)
	}
	if d := time.Since(start); d > head+2*time.Second {
		t.Errorf("408 after %v, want about %v", d, head)
	}
	getWithin(t, b.LocalAddr().String(), nil, 3*time.Second)
}
