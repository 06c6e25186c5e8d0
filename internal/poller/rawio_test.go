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

func newWriter(t *testing.T, c net.Conn) *Writer {
	t.Helper()
	w, err := NewWriter(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

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
	server.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err := w.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= 64<<20 {
		t.Fatalf("Write = %d, %v; want part of it and the deadline", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the deadline of 50ms took %v", d)
	}
	if !strings.HasPrefix(err.Error(), "write tcp ") {
		t.Errorf("error %q, want it to read like net.Conn's (write tcp ...)", err)
	}
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
	if !strings.HasPrefix(err.Error(), "write tcp ") {
		t.Errorf("error %q, want it to read like net.Conn's (write tcp ...)", err)
	}
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
