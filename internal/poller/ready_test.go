//go:build linux

package poller

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func newReady(t *testing.T) *Ready {
	t.Helper()
	r, err := NewReady()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		<-r.Done()
	})
	return r
}

// add puts server in r, to be removed when the test ends.
func add(t *testing.T, r *Ready, server net.Conn) *Sub {
	t.Helper()
	s, err := r.Add(server.(Conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Remove)
	return s
}

// waitMark waits for a token and then expects the mark.
func waitMark(t *testing.T, s *Sub) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !s.Take() {
		select {
		case <-s.Wait():
		case <-deadline:
			t.Fatal("no mark within 5 s")
		}
	}
}

func noMark(t *testing.T, s *Sub) {
	t.Helper()
	select {
	case <-s.Wait():
		if s.Take() {
			t.Fatal("marked without new bytes")
		}
	case <-time.After(50 * time.Millisecond):
	}
}

func TestReadyMarksNewBytes(t *testing.T) {
	r := newReady(t)
	server, client := pair(t)
	s := add(t, r, server)
	noMark(t, s)
	buf := make([]byte, 16)
	if _, err := s.Read(buf); err != ErrAgain {
		t.Fatalf("Read before any bytes: %v, want ErrAgain", err)
	}
	for _, msg := range []string{"first", "second"} {
		client.Write([]byte(msg))
		waitMark(t, s)
		n, err := s.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("Read = %q, %v; want %q", buf[:n], err, msg)
		}
		if _, err := s.Read(buf); err != ErrAgain {
			t.Fatalf("second Read: %v, want ErrAgain", err)
		}
		noMark(t, s)
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d, want 1", r.Len())
	}
}

func TestReadyMarksBytesAlreadyThere(t *testing.T) {
	r := newReady(t)
	server, client := pair(t)
	client.Write([]byte("early"))
	time.Sleep(20 * time.Millisecond) // let them arrive
	s := add(t, r, server)
	waitMark(t, s)
}

func TestReadyMarksHangUp(t *testing.T) {
	r := newReady(t)
	server, client := pair(t)
	s := add(t, r, server)
	client.Close()
	waitMark(t, s)
	if n, err := s.Read(make([]byte, 8)); n != 0 || err != nil {
		t.Fatalf("Read after hang-up = %d, %v; want 0, nil (end of input)", n, err)
	}
}

func TestReadyRemoveStopsMarks(t *testing.T) {
	r := newReady(t)
	server, client := pair(t)
	s, err := r.Add(server.(Conn))
	if err != nil {
		t.Fatal(err)
	}
	s.Remove()
	s.Remove() // twice is fine
	client.Write([]byte("x"))
	noMark(t, s)
	if r.Len() != 0 {
		t.Fatalf("Len = %d after Remove, want 0", r.Len())
	}
	// The slot is reused by the next connection; that one is marked.
	server2, client2 := pair(t)
	s2 := add(t, r, server2)
	client2.Write([]byte("y"))
	waitMark(t, s2)
}

func TestReadyPokeAndDeadline(t *testing.T) {
	r := newReady(t)
	server, _ := pair(t)
	s := add(t, r, server)
	s.Poke()
	select {
	case <-s.Wait():
	default:
		t.Fatal("Poke left no token")
	}
	if s.Take() {
		t.Fatal("Poke marked the connection")
	}
	if !s.TakePoke() || s.TakePoke() {
		t.Fatal("TakePoke does not report one Poke once")
	}
	server.SetReadDeadline(time.Unix(1, 0))
	if _, err := s.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestReadyClose(t *testing.T) {
	r, err := NewReady()
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t)
	s, err := r.Add(server.(Conn))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the set's goroutine did not end")
	}
	s.Remove() // a no-op now
	client.Write([]byte("x"))
	if _, err := r.Add(server.(Conn)); err != ErrClosed {
		t.Fatalf("Add after Close: %v, want ErrClosed", err)
	}
	r.Close() // twice is fine
	// A set closed before its first Add has no goroutine to wait for.
	r2, err := NewReady()
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	<-r2.Done()
}

func TestReadyReadClosed(t *testing.T) {
	r := newReady(t)
	server, _ := pair(t)
	s, err := r.Add(server.(Conn))
	if err != nil {
		t.Fatal(err)
	}
	server.Close()
	if _, err := s.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read of a closed connection: %v, want net.ErrClosed", err)
	}
	s.Remove() // after the close: the kernel has dropped it from the set
	if r.Len() != 0 {
		t.Fatalf("Len = %d, want 0", r.Len())
	}
}
