package h2

import (
	"testing"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
