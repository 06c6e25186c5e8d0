package stream_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
)

func TestThrottleTiming(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name     string
		elements int
		per      time.Duration
		burst    int
		n        int
		pause    map[int]time.Duration // upstream takes this long to produce element i
		want     []time.Duration       // emission times
	}{
		{name: "one per 10ms", elements: 1, per: 10 * ms, burst: 1, n: 4,
			want: []time.Duration{0, 10 * ms, 20 * ms, 30 * ms}},
		{name: "burst 0 means 1", elements: 1, per: 10 * ms, burst: 0, n: 3,
			want: []time.Duration{0, 10 * ms, 20 * ms}},
		{name: "two per 10ms", elements: 2, per: 10 * ms, burst: 1, n: 4,
			want: []time.Duration{0, 5 * ms, 10 * ms, 15 * ms}},
		{name: "burst 3", elements: 1, per: 10 * ms, burst: 3, n: 5,
			want: []time.Duration{0, 0, 0, 10 * ms, 20 * ms}},
		{name: "burst refills after a quiet time", elements: 1, per: 10 * ms, burst: 3, n: 7,
			pause: map[int]time.Duration{3: 30 * ms},
			want:  []time.Duration{0, 0, 0, 30 * ms, 30 * ms, 30 * ms, 40 * ms}},
		{name: "half refilled", elements: 1, per: 10 * ms, burst: 3, n: 6,
			pause: map[int]time.Duration{3: 10 * ms},
			want:  []time.Duration{0, 0, 0, 10 * ms, 20 * ms, 30 * ms}},
		{name: "slow upstream is not delayed", elements: 1, per: 10 * ms, burst: 1, n: 3,
			pause: map[int]time.Duration{1: 25 * ms, 2: 25 * ms},
			want:  []time.Duration{0, 25 * ms, 50 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				xs := make([]int, tc.n)
				for i := range xs {
					xs[i] = i
				}
				src := stream.Via(stream.FromSlice(xs), stream.Map(func(i int) int {
					time.Sleep(tc.pause[i])
					return i
				}))
				var got []time.Duration
				_, err := stream.RunWith(context.Background(),
					stream.Via(src, stream.Throttle[int](tc.elements, tc.per, tc.burst)),
					stream.ForEach(func(int) { got = append(got, time.Since(start)) }))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("emission times (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestThrottleBackpressures checks that a throttled element is held in the
// stage: upstream is not pulled again until it has gone out.
func TestThrottleBackpressures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var pulled []time.Duration
		src := stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.Map(func(x int) int {
			pulled = append(pulled, time.Since(start))
			return x
		}))
		_, err := stream.RunWith(context.Background(),
			stream.Via(src, stream.Throttle[int](1, 10*time.Millisecond, 1)), stream.Ignore[int]())
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 0, 10 * time.Millisecond}
		if diff := cmp.Diff(want, pulled); diff != "" {
			t.Errorf("upstream pull times (-want +got):\n%s", diff)
		}
	})
}

func TestThrottleCancelledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Millisecond)
		defer cancel()
		var rec termRecorder
		src := stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.WatchTermination[int](rec.record))
		got, err := stream.RunWith(ctx, stream.Via(src, stream.Throttle[int](1, time.Hour, 1)),
			stream.Collect[int]())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("run error = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 15*time.Millisecond {
			t.Errorf("run took %v, want 15ms (the context's deadline)", d)
		}
		if diff := cmp.Diff([]int{1}, got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
		calls := rec.get()
		if len(calls) != 1 || !errors.Is(calls[0], context.DeadlineExceeded) {
			t.Errorf("upstream terminated with %v, want one cancellation with the deadline", calls)
		}
	})
}

func TestThrottleBadArgsPanic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		elements int
		per      time.Duration
	}{
		{"zero elements", 0, time.Second},
		{"negative elements", -1, time.Second},
		{"zero period", 1, 0},
		{"negative period", 1, -time.Second},
	} {
		assertPanics(t, tc.name, func() { stream.Throttle[int](tc.elements, tc.per, 1) })
	}
}
