//go:build linux

package poller

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readsLikeNetConn checks that err reads as net.Conn's error of op would.
func readsLikeNetConn(t *testing.T, err error, op string) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), op+" tcp ") {
		t.Errorf("error %q, want it to read like net.Conn's (%s tcp ...)", err, op)
	}
}

// socket returns the Socket of c.
func socket(t *testing.T, c net.Conn) *Socket {
	t.Helper()
	s := new(Socket)
	if err := s.Init(c.(*net.TCPConn)); err != nil {
		t.Fatal(err)
	}
	return s
}

func newWriter(t *testing.T, c net.Conn) *Writer { return &socket(t, c).Writer }

func newReader(t *testing.T, c net.Conn) *Reader { return &socket(t, c).Reader }

// A write larger than the socket's buffers waits while the peer reads,
// slowly, and writes all of it, in order.
func TestWriterWritesAllWhileThePeerReadsSlowly(t *testing.T) {
	server, client := pair(t)
	w := newWriter(t, server)
	p := make([]byte, 8<<20)
	for i := range p {
		p[i] = byte(i * 7 / 5)
	}
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 64<<10)
		for b.Len() < len(p) {
			n, err := client.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
			if b.Len() < 1<<20 {
				time.Sleep(time.Millisecond) // slow at first: the writer waits
			}
		}
		got <- b.Bytes()
	}()
	n, err := w.Write(p)
	if n != len(p) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
	}
	if b := <-got; !bytes.Equal(b, p) {
		t.Fatalf("the peer read %d bytes, not the %d written", len(b), len(p))
	}
}

// A peer that does not read: the write ends at the connection's write
// deadline, with what it wrote, and reads like net.Conn's.
func TestWriterDeadline(t *testing.T) {
	server, _ := pair(t)
	w := newWriter(t, server)
	p := make([]byte, 64<<20)
	server.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err := w.Write(p)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n < 0 || n >= len(p) {
		t.Fatalf("Write = %d, %v; want what fitted in the socket's buffers, and the deadline", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deadline of 50ms took %v", d)
	}
	readsLikeNetConn(t, err, "write")
}

// A peer that reset the connection: the write fails with the system
// call's error.
func TestWriterPeerReset(t *testing.T) {
	server, client := pair(t)
	w := newWriter(t, server)
	client.(*net.TCPConn).SetLinger(0)
	client.Close() // a reset
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write([]byte("hello"))
		time.Sleep(time.Millisecond)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Fatalf("Write after a reset: %v; want a reset or a broken pipe", err)
	}
	readsLikeNetConn(t, err, "write")
}

// A closed connection is not written to.
func TestWriterClosed(t *testing.T) {
	server, client := pair(t)
	w := newWriter(t, server)
	if n, err := w.Write([]byte("before")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	server.Close()
	if n, err := w.Write([]byte("after")); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on a closed connection = %d, %v; want net.ErrClosed", n, err)
	}
	b, _ := io.ReadAll(client)
	if string(b) != "before" {
		t.Fatalf("the peer read %q, want %q", b, "before")
	}
}

// A read waits for the peer's bytes, and reports the end of its input as
// io.EOF.
func TestReaderWaitsAndEnds(t *testing.T) {
	server, client := pair(t)
	r := newReader(t, server)
	go func() {
		time.Sleep(20 * time.Millisecond) // the read waits
		client.Write([]byte("hello"))
		client.(*net.TCPConn).CloseWrite()
	}()
	b, err := io.ReadAll(r)
	if string(b) != "hello" || err != nil {
		t.Fatalf("read %q, %v; want %q and the end", b, err, "hello")
	}
	if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end = %d, %v; want io.EOF", n, err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read into nothing = %d, %v; want 0, nil", n, err)
	}
}

// A read ends at the connection's read deadline, and at its close, with
// errors that read like net.Conn's.
func TestReaderDeadlineAndClose(t *testing.T) {
	server, _ := pair(t)
	r := newReader(t, server)
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := r.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !strings.HasPrefix(err.Error(), "read tcp ") {
		t.Fatalf("Read past the deadline = %d, %v; want the deadline, as read tcp ...", n, err)
	}
	server.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read ended by the close: %v; want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the close did not end the read")
	}
}

// A peer that reset the connection: the read fails with the system call's
// error.
func TestReaderPeerReset(t *testing.T) {
	server, client := pair(t)
	r := newReader(t, server)
	client.(*net.TCPConn).SetLinger(0)
	client.Close()
	_, err := r.Read(make([]byte, 8))
	var se *os.SyscallError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ECONNRESET) || !strings.HasPrefix(err.Error(), "read tcp ") {
		t.Fatalf("Read after a reset: %v; want the reset, as read tcp ...", err)
	}
}
