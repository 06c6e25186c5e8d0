package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/internal/exampletest"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// start runs the server on a free port until the test ends and returns its
// address.
func start(t *testing.T, parallelism int) string {
	t.Helper()
	return exampletest.Start(t, func(ctx context.Context, ready func(net.Addr)) error {
		return run(ctx, "127.0.0.1:0", parallelism, ready)
	})
}

// TestPipelinedInRequestOrder sends eight requests at once on one
// connection, the slowest first: the handler finishes them in reverse order,
// the client reads them in request order, and the whole takes about as long
// as the slowest one rather than the sum.
func TestPipelinedInRequestOrder(t *testing.T) {
	addr := start(t, 8)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))

	var reqs strings.Builder
	var want []string
	var sum, longest time.Duration
	for i := range 8 {
		ms := 40 * (8 - i) // 320, 280, ..., 40
		fmt.Fprintf(&reqs, "GET /work?ms=%d HTTP/1.1\r\nHost: x\r\n\r\n", ms)
		want = append(want, fmt.Sprintf("200 request %d: worked %d ms\n", i+1, ms))
		sum += time.Duration(ms) * time.Millisecond
		longest = max(longest, time.Duration(ms)*time.Millisecond)
	}
	begin := time.Now()
	if _, err := io.WriteString(c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var got []string
	for range want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("after %d responses: %v", len(got), err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, body))
	}
	elapsed := time.Since(begin)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if elapsed < longest || elapsed >= sum*8/10 {
		t.Errorf("took %v; want at least the slowest request (%v) and well under the sum (%v)", elapsed, longest, sum)
	}
}

// TestOneAtATime: with -parallelism 1 the same requests are handled one
// after the other, so the whole takes at least the sum.
func TestOneAtATime(t *testing.T) {
	addr := start(t, 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	begin := time.Now()
	io.WriteString(c, strings.Repeat("GET /work?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n", 4))
	br := bufio.NewReader(c)
	for i := range 4 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	if elapsed := time.Since(begin); elapsed < 200*time.Millisecond {
		t.Errorf("4 requests of 50 ms took %v one at a time; want at least 200ms", elapsed)
	}
}

func TestRoutes(t *testing.T) {
	addr := start(t, 2)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/work?ms=0", 200, "request 1: worked 0 ms\n"},
		{"/work?ms=-1", 400, "ms must be an integer from 0 to 10000\n"},
		{"/work?ms=10001", 400, "ms must be an integer from 0 to 10000\n"},
		{"/work", 400, "ms must be an integer from 0 to 10000\n"},
		{"/other", 404, "Not Found: try /work?ms=100\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := client.Get("http://" + addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fmt.Sprintf("%d %s", tt.status, tt.body), fmt.Sprintf("%d %s", resp.StatusCode, body)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadParallelism(t *testing.T) {
	for _, p := range []int{0, -1, 1025} {
		if err := run(context.Background(), "127.0.0.1:0", p, func(net.Addr) {}); err == nil {
			t.Errorf("run with parallelism %d: no error", p)
		}
	}
}

// TestSignals: SIGTERM and SIGINT stop the server (BindAndHandle handles
// them): run returns, and an idle connection is closed.
func TestSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			addrs := make(chan net.Addr, 1)
			done := make(chan error, 1)
			go func() { done <- run(context.Background(), "127.0.0.1:0", 2, func(a net.Addr) { addrs <- a }) }()
			var addr net.Addr
			select {
			case addr = <-addrs:
			case err := <-done:
				t.Fatalf("run: %v", err)
			}
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /work?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)

			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Errorf("idle connection after %v: read %q, %v; want EOF", sig, b, err)
			}
			c.Close()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("run did not return after %v", sig)
			}
		})
	}
}
