package h1

import (
	"testing"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when one of them leaves a goroutine
// behind, and checks the lock invariants as they run (lockChecks).
func TestMain(m *testing.M) {
	lockChecks = true
	leakcheck.VerifyTestMain(m)
}
