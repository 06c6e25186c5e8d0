package stream_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// delayedPuller emits 0, 1, 2, ... each after its delay, then completes. It
// records why it stopped: the cause of a cancellation, or the cause of its
// island's cancellation while it waited.
type delayedPuller struct {
	m      *stream.Materializer
	delays []time.Duration
	i      int
	cause  *error
}

func delayedSource(delays []time.Duration, cause *error) stream.Source[int] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[int] {
		return &delayedPuller{m: m, delays: delays, cause: cause}
	})
}

func (p *delayedPuller) Pull() (int, error) {
	if p.i == len(p.delays) {
		return 0, stream.EOS
	}
	select {
	case <-time.After(p.delays[p.i]):
		p.i++
		return p.i - 1, nil
	case <-p.m.Done():
		*p.cause = p.m.Cause()
		return 0, *p.cause
	}
}

func (p *delayedPuller) Cancel(cause error) { *p.cause = cause }

func TestIdleTimeout(t *testing.T) {
	const d = 100 * time.Millisecond
	repeat := func(n int, v time.Duration) []time.Duration {
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = v
		}
		return ds
	}
	cases := []struct {
		name     string
		delays   []time.Duration // upstream's delay before each element
		slowSink time.Duration   // how long the sink spends on each element
		want     []int
		timeout  bool          // the stream fails with the idle timeout
		elapsed  time.Duration // when the run ends; 0: not checked
	}{
		{"upstream stalls", []time.Duration{d / 2, d / 2, 2 * d}, 0, []int{0, 1}, true, 2 * d},
		{"first element late", []time.Duration{d + 1}, 0, nil, true, d},
		{"steady below the limit", repeat(10, d*9/10), 0, rangeInts(10), false, 9 * d},
		{"slow sink is not idle", repeat(4, d/2), 3 * d, rangeInts(4), false, 0},
		{"empty", nil, 0, nil, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cause error
				src := stream.Via(delayedSource(c.delays, &cause), stream.IdleTimeout[int](d))
				var got []int
				start := time.Now()
				_, err := stream.RunWith(context.Background(), src, stream.ForEach(func(x int) {
					got = append(got, x)
					time.Sleep(c.slowSink)
				}))
				elapsed := time.Since(start)
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("elements (-want +got):\n%s", diff)
				}
				if c.elapsed != 0 && elapsed != c.elapsed {
					t.Errorf("run ended after %v, want %v", elapsed, c.elapsed)
				}
				if !c.timeout {
					if err != nil {
						t.Errorf("run error = %v, want nil", err)
					}
					return
				}
				var te *stream.TimeoutError
				if !errors.As(err, &te) {
					t.Fatalf("run error = %v, want a *stream.TimeoutError", err)
				}
				if diff := cmp.Diff(&stream.TimeoutError{Op: "idle timeout", Limit: d}, te); diff != "" {
					t.Errorf("TimeoutError (-want +got):\n%s", diff)
				}
				if !te.Timeout() {
					t.Error("TimeoutError.Timeout() = false")
				}
				if !errors.Is(cause, te) {
					t.Errorf("upstream stopped with %v, want the TimeoutError", cause)
				}
			})
		})
	}
}

// TestIdleTimeoutWithProbes: the timer runs only while downstream waits, and
// it is reset by every element.
func TestIdleTimeoutWithProbes(t *testing.T) {
	const d = time.Second
	synctest.Test(t, func(t *testing.T) {
		p := streamtest.ProbeFlow(t, context.Background(), stream.IdleTimeout[int](d))
		// No demand for a long time: not idle.
		time.Sleep(10 * d)
		p.Out.Request(1)
		p.In.ExpectRequest()
		time.Sleep(d - 1)
		p.In.SendNext(1)
		if got := p.Out.ExpectNext(); got != 1 {
			t.Fatalf("element = %d, want 1", got)
		}
		start := time.Now()
		p.Out.Request(1)
		cause := p.In.ExpectCancellation()
		if waited := time.Since(start); waited != d {
			t.Errorf("upstream cancelled %v after the request, want %v", waited, d)
		}
		err := p.Out.ExpectError()
		var te *stream.TimeoutError
		if !errors.As(err, &te) || te.Limit != d || te.Op != "idle timeout" {
			t.Fatalf("failure = %v, want an idle timeout of %v", err, d)
		}
		if !errors.Is(cause, te) {
			t.Errorf("upstream cancelled with %v, want the TimeoutError", cause)
		}
		if err := p.Wait(t); !errors.Is(err, te) {
			t.Errorf("run error = %v, want the TimeoutError", err)
		}
	})
}

func TestTimeoutErrorMessage(t *testing.T) {
	err := &stream.TimeoutError{Op: "idle timeout", Limit: 3 * time.Second}
	if got, want := err.Error(), "stream: idle timeout: no element within 3s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestIdleTimeoutBadDurationPanics(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("IdleTimeout(%v) did not panic", d)
				}
			}()
			stream.IdleTimeout[int](d)
		})
	}
}
