package nethttp

import (
	"io"
	"log/slog"
	"testing"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when one of them leaves a goroutine
// behind: a handler that never ends, a connection that stays open.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
