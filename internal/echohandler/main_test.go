package echohandler_test

import (
	"testing"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
