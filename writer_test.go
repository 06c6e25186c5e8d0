package streamhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// endless answers with a chunked body that never ends: pieces of size
// bytes, each counted in made, until the server stops pulling; stopped is
// closed when the source has been released.
func endless(size int, every time.Duration, made *atomic.Int64, stopped chan struct{}) func(*Request) *Response {
	piece := make([]byte, size)
	return func(*Request) *Response {
		src := stream.FromSeq(func(yield func([]byte) bool) {
			defer close(stopped)
			for {
				if every > 0 {
					time.Sleep(every)
				}
				made.Add(1)
				if !yield(piece) {
					return
				}
			}
		})
		return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("application/octet-stream", src))
	}
}

// nonReader dials addr with a small receive buffer and sends one request;
// it never reads.
func nonReader(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, get("/stream"))
	return c
}

// TestWriteTimeout: a client that asks for a streamed response and never
// reads fails its connection once a write has waited WriteTimeout, and the
// response's source is released.
func TestWriteTimeout(t *testing.T) {
	client, server := tcpPair(t)
	defer client.Close()
	server.(*net.TCPConn).SetWriteBuffer(4096)
	client.(*net.TCPConn).SetReadBuffer(4096)
	var made atomic.Int64
	stopped := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ServeConn(context.Background(), server, stream.Map(endless(64<<10, 0, &made, stopped)),
			ServerSettings{WriteTimeout: 200 * time.Millisecond})
	}()
	io.WriteString(client, get("/stream"))
	select {
	case err := <-done:
		if err == nil {
			t.Error("ServeConn returned nil, want the write's failure")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn still writing to a client that does not read")
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the response's source was not released")
	}
}

// TestCloseEndsBlockedWriter: ServerBinding.Close ends a connection whose
// write blocks on a client that never reads (its WriteTimeout is far off).
func TestCloseEndsBlockedWriter(t *testing.T) {
	var made atomic.Int64
	stopped := make(chan struct{})
	b, addr := bindSync(t, endless(64<<10, 0, &made, stopped), ServerSettings{DisableSignals: true})
	nonReader(t, strings.TrimPrefix(addr, "http://"))
	waitUntil(t, "the server to have written", func() bool { return made.Load() > 2 })
	time.Sleep(100 * time.Millisecond) // the writer blocks
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v after %v, want the blocked connection ended", err, time.Since(start))
	}
	<-stopped
}

// TestTerminateEndsBlockedWriter: the hard deadline of Terminate ends a
// connection whose write blocks.
func TestTerminateEndsBlockedWriter(t *testing.T) {
	var made atomic.Int64
	stopped := make(chan struct{})
	b, addr := bindSync(t, endless(64<<10, 0, &made, stopped), ServerSettings{DisableSignals: true})
	nonReader(t, strings.TrimPrefix(addr, "http://"))
	waitUntil(t, "the server to have written", func() bool { return made.Load() > 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	b.Terminate(ctx)
	select {
	case <-b.Done():
	case <-time.After(3 * time.Second):
		t.Fatalf("the binding has not ended %v after Terminate's deadline", time.Since(start))
	}
	<-stopped
}

// TestClientResetStopsSource: once a client has reset its connection, the
// server stops pulling the endless body it was streaming to it and
// releases the source.
func TestClientResetStopsSource(t *testing.T) {
	var made atomic.Int64
	stopped := make(chan struct{})
	client, done := dialTCP(t, stream.Map(endless(16, 20*time.Millisecond, &made, stopped)), ServerSettings{})
	io.WriteString(client, get("/stream"))
	br := bufio.NewReader(client)
	if _, err := readHead(br); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).SetLinger(0)
	client.Close() // a reset
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatalf("the source is still pulled after the client's reset (%d pieces)", made.Load())
	}
	<-done
}

// readHead reads a response head.
func readHead(br *bufio.Reader) (string, error) {
	var head []byte
	for {
		line, err := br.ReadString('\n')
		head = append(head, line...)
		if err != nil || line == "\r\n" {
			return string(head), err
		}
	}
}
