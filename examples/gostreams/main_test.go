package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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

// get fetches path and returns "STATUS BODY".
func get(t *testing.T, client *http.Client, addr, path string) string {
	t.Helper()
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, body)
}

func newClient(t *testing.T) *http.Client {
	c := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestUpperCase: the go-streams Map upper-cases the path of every request of
// a connection, in order, with and without the throttle in front of it.
func TestUpperCase(t *testing.T) {
	for _, rate := range []int{0, 1000} {
		t.Run(fmt.Sprint("rate ", rate), func(t *testing.T) {
			addr := start(t, rate)
			client := newClient(t)
			tests := []struct{ path, want string }{
				{"/hello/world", "200 /HELLO/WORLD\n"},
				{"/", "200 /\n"},
				{"/MiXeD/case?q=x", "200 /MIXED/CASE\n"},
				// The path as sent: escapes are not decoded.
				{"/caf%c3%a9", "200 /CAF%C3%A9\n"},
			}
			for _, tt := range tests {
				if diff := cmp.Diff(tt.want, get(t, client, addr, tt.path)); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
				}
			}
		})
	}
}

// TestThrottle: at 4 requests a second, 10 requests of one connection pass
// in three periods of the go-streams Throttler, so they take at least two
// seconds; without the throttle they take far less.
func TestThrottle(t *testing.T) {
	tests := []struct {
		rate     int
		min, max time.Duration
	}{
		{4, 1900 * time.Millisecond, 5 * time.Second},
		{0, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("rate ", tt.rate), func(t *testing.T) {
			addr := start(t, tt.rate)
			client := newClient(t)
			begin := time.Now()
			for i := range 10 {
				path := fmt.Sprintf("/r%d", i)
				if got, want := get(t, client, addr, path), fmt.Sprintf("200 /R%d\n", i); got != want {
					t.Errorf("GET %s: %q, want %q", path, got, want)
				}
			}
			if elapsed := time.Since(begin); elapsed < tt.min || elapsed > tt.max {
				t.Errorf("10 requests took %v; want %v to %v", elapsed, tt.min, tt.max)
			}
		})
	}
}
