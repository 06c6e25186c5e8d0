package streamhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

func hello(*Request) *Response { return httpcore.Text(httpcore.StatusOK, "Hello, World!") }

// get fetches url with a client that does not keep connections around.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status + " " + string(b)
}

func TestBindAndHandleSyncPortZero(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := BindAndHandleSync(ctx, "127.0.0.1:0", hello, ServerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.LocalAddr().(*net.TCPAddr)
	if addr.Port == 0 {
		t.Fatalf("LocalAddr %v: want the real port", addr)
	}
	if got := httpGet(t, "http://"+addr.String()+"/"); got != "200 OK Hello, World!" {
		t.Errorf("got %q", got)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBindFailureTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = BindAndHandleSync(context.Background(), ln.Addr().String(), hello, ServerSettings{})
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v, want EADDRINUSE", err)
	}
	// The low-level source fails its run with the same error, and the
	// binding reports it.
	run := stream.To(Bind(ln.Addr().String(), ServerSettings{}), stream.Ignore[*IncomingConnection]()).Start(context.Background())
	if _, err := run.Wait(); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("run error = %v, want EADDRINUSE", err)
	}
	if err := run.Materialized().Err(); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("binding Err = %v, want EADDRINUSE", err)
	}
}

// Every run of the source binds anew, and a connection is accepted only
// when the source is pulled.
func TestBindSourceRunsBindAnew(t *testing.T) {
	src := Bind("127.0.0.1:0", ServerSettings{})
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		conns := make(chan *IncomingConnection)
		run := stream.To(src, stream.ForEach(func(c *IncomingConnection) {
			conns <- c
		})).Start(ctx)
		b := run.Materialized()
		if b.Err() != nil {
			t.Fatal(b.Err())
		}
		go func() {
			c, err := net.Dial("tcp", b.LocalAddr().String())
			if err == nil {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				io.ReadAll(c)
				c.Close()
			}
		}()
		c := <-conns
		c.HandleWithSyncHandler(hello)
		<-c.Done()
		if c.Err() != nil {
			t.Errorf("connection: %v", c.Err())
		}
		cancel()
		if _, err := run.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run %d: %v", i, err)
		}
		b.Wait()
	}
}

func TestUnbindKeepsOpenConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := BindAndHandleSync(ctx, "127.0.0.1:0", hello, ServerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.LocalAddr().String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "Hello, World!") {
		t.Fatalf("first response: %q, %v", buf[:n], err)
	}
	if err := b.Unbind(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c2, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c2.Close()
		t.Errorf("a new connection was accepted after Unbind")
	}
	// The open connection goes on.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	rest, _ := io.ReadAll(c)
	if !strings.Contains(string(rest), "Hello, World!") {
		t.Errorf("second response on the open connection: %q", rest)
	}
	c.Close() // ends the server's linger
	b.Wait()
}

func TestMaxConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := BindAndHandleSync(ctx, "127.0.0.1:0", hello, ServerSettings{MaxConnections: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.LocalAddr().String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	first.Read(buf)
	// The second connection is not accepted while the first is open: it
	// waits in the backlog and gets no answer.
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	io.WriteString(second, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _ := second.Read(buf); n > 0 {
		t.Fatalf("second connection served while the first was open: %q", buf[:n])
	}
	if open, _ := b.OpenConnections(); open != 1 {
		t.Errorf("open connections = %d, want 1", open)
	}
	first.Close() // frees the slot
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, _ := io.ReadAll(second)
	if !strings.Contains(string(rest), "Hello, World!") {
		t.Errorf("second connection after the first closed: %q", rest)
	}
	second.Close()
	if err := b.Close(context.Background()); err != nil {
		t.Error(err)
	}
}
