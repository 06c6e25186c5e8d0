package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestServe: the accept loop serves connections until its context is
// cancelled, then stops accepting, closes the open connections and returns.
func TestServe(t *testing.T) {
	leakcheck.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, echohandler.Handler(2), streamhttp.ServerSettings{PipeliningLimit: 4}, 5*time.Second)
	}()

	// Two connections: one keeps its connection open after a request.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	br := bufio.NewReader(idle)
	for range 2 {
		if _, err := io.WriteString(idle, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != echohandler.Hello {
			t.Errorf("body %q", body)
		}
	}
	other, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(other, "GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if out, _ := io.ReadAll(other); len(out) == 0 {
		t.Error("no response on the second connection")
	}
	other.Close()

	cancel()
	// The idle connection is closed by the server: the client sees the end.
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after the stop: read %q, %v; want EOF", n, err)
	}
	idle.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the stop")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts after the stop")
	}
}

// failingListener fails its first Accept.
type failingListener struct{ net.Listener }

var errAccept = errors.New("accept failed")

func (failingListener) Accept() (net.Conn, error) { return nil, errAccept }

func TestServeAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = serve(context.Background(), failingListener{ln}, echohandler.Handler(1), streamhttp.ServerSettings{}, time.Second)
	if !errors.Is(err, errAccept) {
		t.Errorf("serve: %v, want the accept error", err)
	}
}
