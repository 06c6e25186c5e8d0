package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// TestCutSecond reads slowhttptest's statistics of a 10 s run: the first
// second with at most half of the peak connected, the last of a run that
// ended early, or -1.
func TestCutSecond(t *testing.T) {
	for _, c := range []struct {
		name, csv string
		cut, peak int
	}{
		{"cut", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,50\n1,0,0,50,50\n5,0,0,50,50\n6,46,0,4,50\n7,50,0,0,50\n", 6, 50},
		{"ended early", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,50\n1,0,0,50,50\n5,0,0,50,50\n6,20,0,30,50\n", 6, 50},
		{"never cut", "Seconds,Closed,Pending,Connected,Service Available\n0,0,1,0,50\n1,0,0,50,50\n9,0,0,48,50\n", -1, 50},
		{"never connected", "Seconds,Closed,Pending,Connected,Service Available\n0,0,50,0,0\n", -1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.csv")
			os.WriteFile(path, []byte(c.csv), 0o600)
			cut, peak, err := cutSecond(path, 10)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([2]int{c.cut, c.peak}, [2]int{cut, peak}); d != "" {
				t.Errorf("(cut, peak) (-want +got):\n%s", d)
			}
		})
	}
}

// TestLogLinesSince counts the lines after an offset, and those not at
// DEBUG.
func TestLogLinesSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.log")
	head := "2026/01/01 00:00:00 INFO echo: listening\n"
	body := "2026/01/01 00:00:01 WARN streamhttp: connection failed\n" +
		"time=x level=DEBUG msg=quiet\n" +
		"2026/01/01 00:00:02 http: TLS handshake error\n"
	os.WriteFile(path, []byte(head+body), 0o600)
	s := &server{logPath: path}
	above, total, err := s.logLinesSince(int64(len(head)))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([2]int{2, 3}, [2]int{above, total}); d != "" {
		t.Errorf("(above DEBUG, total) (-want +got):\n%s", d)
	}
}
