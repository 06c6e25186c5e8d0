package httpcore

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestAppendDateFormat: the Date is an IMF-fixdate (RFC 9110 §5.6.7) of
// the current time.
func TestAppendDateFormat(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	got := AppendDate([]byte("Date: "))
	after := time.Now()
	if string(got[:6]) != "Date: " {
		t.Fatalf("AppendDate lost the buffer's contents: %q", got)
	}
	d := string(got[6:])
	if len(d) != len(imfFixdate) {
		t.Errorf("AppendDate = %q: %d bytes, want %d", d, len(d), len(imfFixdate))
	}
	parsed, err := http.ParseTime(d)
	if err != nil {
		t.Fatalf("http.ParseTime(%q): %v", d, err)
	}
	if parsed.Before(before) || parsed.After(after) {
		t.Errorf("AppendDate = %q, want a time in [%v, %v]", d, before, after)
	}
	if want := parsed.UTC().Format(http.TimeFormat); d != want {
		t.Errorf("AppendDate = %q, want the IMF-fixdate %q", d, want)
	}
}

// TestAppendDateCache: the text is formatted once per second and changes
// when the second does (a synctest bubble's clock moves only when told).
func TestAppendDateCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(1500 * time.Millisecond) // mid-second
		first := string(AppendDate(nil))
		if want := "Sat, 01 Jan 2000 00:00:01 GMT"; first != want {
			t.Fatalf("AppendDate = %q, want %q", first, want)
		}
		entry := dateCache.Load()
		time.Sleep(499 * time.Millisecond) // 00:00:01.999
		if got := string(AppendDate(nil)); got != first {
			t.Errorf("AppendDate later in the same second = %q, want %q", got, first)
		}
		if dateCache.Load() != entry {
			t.Error("AppendDate formatted the same second twice")
		}
		time.Sleep(time.Millisecond) // 00:00:02.000
		if got, want := string(AppendDate(nil)), "Sat, 01 Jan 2000 00:00:02 GMT"; got != want {
			t.Errorf("AppendDate in the next second = %q, want %q", got, want)
		}
		time.Sleep(time.Hour + 59*time.Minute + 58*time.Second)
		if got, want := string(AppendDate(nil)), "Sat, 01 Jan 2000 02:00:00 GMT"; got != want {
			t.Errorf("AppendDate two hours on = %q, want %q", got, want)
		}
	})
	// Back on the real clock, the bubble's entry is not served.
	got := string(AppendDate(nil))
	if d, err := http.ParseTime(got); err != nil || time.Since(d) > time.Minute {
		t.Errorf("AppendDate after the bubble = %q (%v), not the current time", got, err)
	}
}

// TestAppendDateAllocs: no allocation within a second.
func TestAppendDateAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		buf := make([]byte, 0, 64)
		if n := testing.AllocsPerRun(100, func() { buf = AppendDate(buf[:0]) }); n != 0 {
			t.Errorf("AppendDate: %v allocations, want 0", n)
		}
	})
}

// TestAppendDateHook: tests can fix the Date through timeNow.
func TestAppendDateHook(t *testing.T) {
	fixDate(t)
	for range 3 {
		if got := string(AppendDate(nil)); got != testDate {
			t.Fatalf("AppendDate with a fixed clock = %q, want %q", got, testDate)
		}
	}
}

// TestAppendDateConcurrent: connections share the cache (run with -race).
func TestAppendDateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			buf := make([]byte, 0, 64)
			for range 2000 {
				buf = AppendDate(buf[:0])
				if _, err := http.ParseTime(string(buf)); err != nil {
					t.Errorf("AppendDate = %q: %v", buf, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
