// Package exampletest starts the example servers in their tests.
package exampletest

import (
	"context"
	"net"
	"testing"
)

// Start runs a server until the test ends and returns its address. run
// serves until its context is cancelled, calling ready with the bound
// address first; an error from it fails the test.
func Start(t testing.TB, run func(ctx context.Context, ready func(net.Addr)) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(a net.Addr) { addrs <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case a := <-addrs:
		return a.String()
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return ""
}
