package streamhttp

import (
	"testing"

	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when one of them leaves a goroutine
// behind (a connection that does not end, a timer callback that blocks),
// and checks the engine's lock invariants as they run (h1.CheckLocks).
func TestMain(m *testing.M) {
	h1.CheckLocks()
	leakcheck.VerifyTestMain(m)
}
