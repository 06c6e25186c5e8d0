package clock

import (
	"testing"
	"time"
)

func TestNowFollowsTheMonotonicClock(t *testing.T) {
	a := Now()
	time.Sleep(10 * time.Millisecond)
	b := Now()
	if d := time.Duration(b - a); d < 10*time.Millisecond || d > 5*time.Second {
		t.Fatalf("two readings 10 ms apart differ by %v", d)
	}
	if d := time.Duration(Now() - time.Now().UnixNano()); d < -time.Second || d > time.Second {
		t.Fatalf("a reading is %v away from the wall clock", d)
	}
}

func TestTimeCarriesTheMonotonicReading(t *testing.T) {
	n := Now()
	at := Time(n + int64(time.Hour))
	if got := at.UnixNano() - n; got != int64(time.Hour) {
		t.Fatalf("Time(n + 1h) is %v after n", time.Duration(got))
	}
	// A time with a monotonic reading prints it ("m=+..."); one rebuilt
	// from unix nanoseconds would not, and a wall clock step would move it.
	if d := time.Until(at); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("time.Until(Time(n + 1h)) = %v", d)
	}
	if s := at.String(); !containsMonotonic(s) {
		t.Fatalf("Time(n) has no monotonic reading: %s", s)
	}
}

func containsMonotonic(s string) bool {
	for i := 0; i+3 <= len(s); i++ {
		if s[i:i+3] == "m=+" {
			return true
		}
	}
	return false
}
