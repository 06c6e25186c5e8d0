package h1

import (
	"log/slog"
	"strings"
	"testing"
)

// TestLockChecks: a function whose caller must hold the connection's lock
// panics when nobody holds it (the invariant every test of the package
// runs with), and does not when it is held.
func TestLockChecks(t *testing.T) {
	c := newConn(&Config{Logger: slog.Default()})
	c.mu.Lock()
	c.beginClose(closeRequested) // held: fine
	c.mu.Unlock()
	defer func() {
		v := recover()
		if msg, _ := v.(string); !strings.Contains(msg, "conn.mu must be held") {
			t.Fatalf("beginClose without the lock: recovered %v, want the lock check's panic", v)
		}
	}()
	c.beginClose(closeRequested)
}
