package streamhttp

import (
	"testing"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when one of them leaves a goroutine
// behind: a connection that does not end, a timer callback that blocks.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
