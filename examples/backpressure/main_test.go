package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/internal/exampletest"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// start runs the server on a free port until the test ends and returns its
// address.
func start(t *testing.T, rate int) string {
	t.Helper()
	return exampletest.Start(t, func(ctx context.Context, ready func(net.Addr)) error {
		return run(ctx, "127.0.0.1:0", rate, ready)
	})
}

// TestUploadBackpressure uploads 8 MiB, more than the socket buffers hold,
// on a raw connection. Against a handler that reads at most 1000 chunks a
// second (a few MiB a second) the client's write cannot finish within
// 250 ms: it is held back, and completes once the deadline is lifted. Against
// a handler that reads at full speed the same write goes through at once.
func TestUploadBackpressure(t *testing.T) {
	const size = 8 << 20
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	tests := []struct {
		name     string
		rate     int
		deadline time.Duration // for the first write of the whole body
		held     bool          // whether that write must time out
	}{
		{"slow handler", 1000, 250 * time.Millisecond, true},
		{"fast handler", 0, 10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := start(t, tt.rate)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A small send buffer keeps what the kernel takes off the
			// client's hands small, so that the hold-back shows clearly.
			if err := c.(*net.TCPConn).SetWriteBuffer(64 << 10); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)

			c.SetWriteDeadline(time.Now().Add(tt.deadline))
			n, err := c.Write(body)
			held := errors.Is(err, os.ErrDeadlineExceeded)
			if err != nil && !held {
				t.Fatal(err)
			}
			if held != tt.held {
				t.Fatalf("write of %d bytes within %v: wrote %d, err %v; want held back: %v", size, tt.deadline, n, err, tt.held)
			}
			t.Logf("wrote %d of %d bytes within %v", n, size, tt.deadline)

			// The rest goes through as the handler reads.
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(body[n:]); err != nil {
				t.Fatalf("writing the rest: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fmt.Sprintf("200 %d bytes\n", size), fmt.Sprintf("%d %s", resp.StatusCode, got)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	addr := start(t, 0)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	tests := []struct {
		name, method, path, body string
		chunked                  bool // send the body with Transfer-Encoding: chunked
		want                     string
	}{
		{"upload", "POST", "/upload", "hello", false, "200 5 bytes\n"},
		{"chunked upload", "POST", "/upload", strings.Repeat("x", 100000), true, "200 100000 bytes\n"},
		{"empty upload", "POST", "/upload", "", false, "200 0 bytes\n"},
		{"GET", "GET", "/upload", "", false, "405 Method Not Allowed: POST to /upload\n"},
		{"other path", "POST", "/other", "x", false, "404 Not Found: POST to /upload\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				// A reader of unknown length: net/http sends it chunked.
				body = io.MultiReader(body)
			}
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, fmt.Sprintf("%d %s", resp.StatusCode, got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
