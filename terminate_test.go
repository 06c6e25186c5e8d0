package streamhttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startTerminable serves a handler that answers /block only when release
// is closed, and everything else at once.
func startTerminable(t *testing.T, release chan struct{}, entered chan struct{}) *ServerBinding {
	t.Helper()
	h := func(ctx context.Context, r *Request) (*Response, error) {
		if r.URI.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		return hello(r), nil
	}
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", h, 4,
		ServerSettings{DisableSignals: true, PipeliningLimit: 4})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dialSend(t *testing.T, addr net.Addr, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if req != "" {
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	return c, bufio.NewReader(c)
}

func TestTerminateGraceful(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 4)
	b := startTerminable(t, release, entered)
	addr := b.LocalAddr()

	// An idle keep-alive connection, and one with two requests in flight.
	idle, idleR := dialSend(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer idle.Close()
	if resp, err := http.ReadResponse(idleR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("idle connection's first response: %v %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	busy, busyR := dialSend(t, addr, "GET /block HTTP/1.1\r\nHost: x\r\n\r\nGET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	defer busy.Close()
	<-entered
	<-entered

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- b.Terminate(ctx)
	}()
	// The idle connection closes now.
	if _, err := idleR.ReadByte(); err == nil {
		t.Fatal("the idle connection got bytes, want its close")
	}
	// New connections are refused.
	time.Sleep(50 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after Terminate")
	}
	close(release)
	for i, wantClose := range []bool{false, true} {
		resp, err := http.ReadResponse(busyR, nil)
		if err != nil {
			t.Fatalf("in-flight response %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close != wantClose {
			t.Errorf("in-flight response %d: %d close=%v, want 200 close=%v", i, resp.StatusCode, resp.Close, wantClose)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	select {
	case <-b.Done():
	default:
		t.Fatal("Done is open after Terminate returned")
	}
}

func TestTerminateDeadline(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 4)
	defer close(release)
	b := startTerminable(t, release, entered)
	c, r := dialSend(t, b.LocalAddr(), "GET /block HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	<-entered
	// The second request is taken before the termination begins: one that
	// is still unparsed then is not taken at all (its client sees the
	// connection close and may retry), which is another case.
	waitUntil(t, "both requests to be taken", func() bool { return b.Stats().TotalRequests == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := b.Terminate(ctx); err == nil {
		t.Error("Terminate returned nil with a request never answered, want the deadline's error")
	}
	var got []string
	for {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			break
		}
		resp.Body.Close()
		got = append(got, resp.Status+" close="+map[bool]string{true: "yes", false: "no"}[resp.Close])
	}
	want := "503 Service Unavailable close=no|200 OK close=yes"
	if strings.Join(got, "|") != want {
		t.Errorf("responses %q, want %q", strings.Join(got, "|"), want)
	}
	if st := b.Stats(); st.RequestTimeouts != 1 || st.TotalRequests != 2 || st.OpenRequests != 0 {
		t.Errorf("stats %+v: want 1 timeout, 2 requests, none open", st)
	}
}
