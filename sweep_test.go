package streamhttp

import (
	"testing"
	"time"
)

// TestIdleSweepBacksOff: sweeps that find held-up connections (a server
// running behind) double the idle time before a parking, up to
// maxParkBackoff times ParkIdleAfter; sweeps that find none bring it back
// to ParkIdleAfter. The sweeps come every half of it, at least every
// millisecond.
func TestIdleSweepBacksOff(t *testing.T) {
	const base = 10 * time.Millisecond
	var s idleSweep
	s.init(base)
	if s.after != base || s.every() != base/2 {
		t.Fatalf("at the start: after %v, every %v; want %v, %v", s.after, s.every(), base, base/2)
	}
	if s.adapt(0) {
		t.Error("a sweep that found no held-up connection changed the idle time from ParkIdleAfter")
	}
	want := base
	for want < maxParkBackoff*base {
		want *= 2
		if !s.adapt(3) || s.after != want || s.every() != want/2 {
			t.Fatalf("after a sweep with held-up connections: after %v, every %v; want %v, %v", s.after, s.every(), want, want/2)
		}
	}
	if s.adapt(1) || s.after != maxParkBackoff*base {
		t.Errorf("beyond the bound: after %v, want %v", s.after, maxParkBackoff*base)
	}
	for want > base {
		want /= 2
		if !s.adapt(0) || s.after != want {
			t.Fatalf("after a sweep with none held up: after %v, want %v", s.after, want)
		}
	}
	if s.adapt(0) || s.after != base {
		t.Errorf("below ParkIdleAfter: after %v, want %v", s.after, base)
	}
	var short idleSweep
	short.init(time.Millisecond)
	if short.every() != time.Millisecond {
		t.Errorf("ParkIdleAfter 1ms: sweeps every %v, want 1ms", short.every())
	}
}
