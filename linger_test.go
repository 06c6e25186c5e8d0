package streamhttp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestLingerFreesSlot: a connection that got a closing answer (a bad
// request) and whose client does not close its end lingers without holding
// a MaxConnections slot: the next client is served at once.
func TestLingerFreesSlot(t *testing.T) {
	_, url := bindSync(t, hello, ServerSettings{MaxConnections: 1, DisableSignals: true, LingerTimeout: time.Minute})
	addr := strings.TrimPrefix(url, "http://")
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	io.WriteString(bad, "GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n")
	if got, err := readResponse(bufio.NewReader(bad)); err != nil || !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Fatalf("bad request answered %q, %v; want 400", abbrev(got), err)
	}
	// bad stays open: the server lingers on it.
	good, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	io.WriteString(good, get("/"))
	good.SetReadDeadline(time.Now().Add(3 * time.Second))
	if got, err := readResponse(bufio.NewReader(good)); err != nil || !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Fatalf("the next client got %q, %v; want 200 while the bad one lingers", abbrev(got), err)
	}
}

// TestLingerBytes: a client that goes on sending a body the server refused
// is read for at most MaxLingerBytes, however long LingerTimeout is.
func TestLingerBytes(t *testing.T) {
	client, server := tcpPair(t)
	defer client.Close()
	done := make(chan error, 1)
	s := ServerSettings{LingerTimeout: time.Minute, MaxLingerBytes: 64 << 10}
	s.Parser.MaxContentLength = 1 << 10
	go func() { done <- ServeConn(context.Background(), server, pathHandler, s) }()
	io.WriteString(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
	go func() {
		// Goes on sending until the server closes.
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for {
			if _, err := client.Write(chunk); err != nil {
				return
			}
		}
	}()
	if got, err := readResponse(bufio.NewReader(client)); err != nil || !strings.HasPrefix(got, "HTTP/1.1 413 ") {
		t.Fatalf("answered %q, %v; want 413", abbrev(got), err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the server still lingers, reading a refused upload")
	}
}
