//go:build linux

package poller

import (
	"net"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// funcParked is a connection that calls wake when it is readable.
type funcParked struct {
	Conn
	wake func()
}

func (f funcParked) Wake() { f.wake() }

func parked(c net.Conn, wake func()) Parked { return funcParked{c.(Conn), wake} }

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		<-p.Done()
	})
	return p
}

func TestWakesOnData(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	woke := make(chan struct{})
	var w Waiter
	if err := p.Park(&w, parked(server, func() { close(woke) })); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woke:
		t.Fatal("woke before any data")
	case <-time.After(50 * time.Millisecond):
	}
	client.Write([]byte("x"))
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by data")
	}
	// The connection reads normally afterwards, and can be parked again.
	buf := make([]byte, 1)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := server.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q, %v", buf, err)
	}
	// The same Waiter, once woken, parks the connection again.
	again := make(chan struct{})
	if err := p.Park(&w, parked(server, func() { close(again) })); err != nil {
		t.Fatalf("parking again: %v", err)
	}
	client.Close() // a hang-up wakes too
	select {
	case <-again:
	case <-time.After(5 * time.Second):
		t.Fatal("not woken by the peer's close")
	}
}

func TestWakesOnDataAlreadyThere(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	client.Write([]byte("early"))
	time.Sleep(20 * time.Millisecond) // let it arrive
	woke := make(chan struct{})
	if err := p.Park(new(Waiter), parked(server, func() { close(woke) })); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("bytes that arrived before parking did not wake")
	}
}

func TestStop(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	woke := make(chan struct{}, 1)
	w := new(Waiter)
	err := p.Park(w, parked(server, func() { woke <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 1 {
		t.Errorf("Len = %d, want 1", p.Len())
	}
	if err := p.Park(w, parked(server, func() {})); err != errParked {
		t.Errorf("parking a parked Waiter: %v, want errParked", err)
	}
	if p.Stop(&Waiter{}) {
		t.Error("Stop of a Waiter never parked reported true")
	}
	if !p.Stop(w) {
		t.Fatal("Stop of a parked connection reported false")
	}
	if p.Stop(w) {
		t.Error("a second Stop reported true")
	}
	client.Write([]byte("x"))
	select {
	case <-woke:
		t.Fatal("a stopped connection woke")
	case <-time.After(100 * time.Millisecond):
	}
	if p.Len() != 0 {
		t.Errorf("Len = %d, want 0", p.Len())
	}
}

func TestStopAfterWake(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t)
	woke := make(chan struct{})
	w := new(Waiter)
	err := p.Park(w, parked(server, func() { close(woke) }))
	if err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	<-woke
	if p.Stop(w) {
		t.Error("Stop after the wake-up reported true")
	}
}

func TestManyAndClose(t *testing.T) {
	p := newPoller(t)
	const n = 200
	woke := make(chan int, n)
	var clients []net.Conn
	for i := range n {
		server, client := pair(t)
		clients = append(clients, client)
		if err := p.Park(new(Waiter), parked(server, func() { woke <- i })); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients[:n/2] {
		c.Write([]byte("x"))
	}
	seen := map[int]bool{}
	for range n / 2 {
		select {
		case i := <-woke:
			if seen[i] {
				t.Fatalf("connection %d woke twice", i)
			}
			seen[i] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d woke", len(seen), n/2)
		}
	}
	if p.Len() != n/2 {
		t.Errorf("Len = %d, want %d", p.Len(), n/2)
	}
	p.Close()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not end")
	}
	server, _ := pair(t)
	if err := p.Park(new(Waiter), parked(server, func() {})); err != ErrClosed {
		t.Errorf("Park after Close: %v, want ErrClosed", err)
	}
}

// TestReadable: Readable sees bytes waiting (past a read deadline that
// has expired, without consuming them) and the peer's end, and nothing on
// a quiet connection.
func TestReadable(t *testing.T) {
	server, client := pair(t)
	if Readable(server.(Conn)) {
		t.Fatal("readable before any data")
	}
	client.Write([]byte("xy"))
	server.SetReadDeadline(time.Unix(1, 0))
	deadline := time.Now().Add(5 * time.Second)
	for !Readable(server.(Conn)) {
		if time.Now().After(deadline) {
			t.Fatal("not readable with bytes sent")
		}
		time.Sleep(time.Millisecond)
	}
	server.SetReadDeadline(time.Time{})
	buf := make([]byte, 4)
	if n, err := server.Read(buf); err != nil || string(buf[:n]) != "xy" {
		t.Fatalf("read %q, %v after Readable; want the bytes unconsumed", buf[:n], err)
	}
	if Readable(server.(Conn)) {
		t.Fatal("readable with nothing left")
	}
	client.Close()
	for !Readable(server.(Conn)) {
		if time.Now().After(deadline) {
			t.Fatal("not readable at the peer's end")
		}
		time.Sleep(time.Millisecond)
	}
}
