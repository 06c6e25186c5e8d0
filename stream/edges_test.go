package stream_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// runWithin starts src into sink and fails the test if the run does not end
// within streamtest.Timeout (the run is then cancelled). It uses Start, so
// that runtime.Goexit in fused user code ends the run's goroutine, not the
// test's, and calls it from a goroutine of its own, so that a Start that
// never returns fails the test instead of hanging it.
func runWithin[T, R any](t *testing.T, src stream.Source[T], sink stream.Sink[T, R]) (R, error) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	started := make(chan *stream.Running[stream.NotUsed, R], 1)
	go func() { started <- stream.To(src, sink).Start(ctx) }()
	timeout := time.After(streamtest.Timeout)
	select {
	case run := <-started:
		select {
		case <-run.Done():
			return run.Wait()
		case <-timeout:
		}
	case <-timeout:
	}
	cancel(errors.New("edges test: hung"))
	t.Fatalf("the run did not end within %v", streamtest.Timeout)
	var zero R
	return zero, nil
}

// TestMapAsyncUpstreamFailureFailsFast: upstream emits 0 and fails while
// f(0) waits for its context. Both modes fail at once with the upstream
// failure and cancel the running call (Pekko's mapAsync fails on
// onUpstreamFailure without waiting for the calls in flight).
func TestMapAsyncUpstreamFailureFailsFast(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(map[bool]string{true: "ordered", false: "unordered"}[ordered], func(t *testing.T) {
			boom := errors.New("edges test: upstream failed")
			cancelled := make(chan error, 1)
			src := stream.Concat(stream.Single(0), stream.Failed[int](boom))
			f := mapAsyncOf(ordered, 4, func(ctx context.Context, x int) (int, error) {
				<-ctx.Done()
				cancelled <- context.Cause(ctx)
				return x, nil
			})
			_, err := runWithin(t, stream.Via(src, f), stream.Collect[int]())
			if !errors.Is(err, boom) {
				t.Errorf("run error = %v, want %v", err, boom)
			}
			if cause := <-cancelled; !errors.Is(cause, boom) {
				t.Errorf("the call's context was cancelled with %v, want %v", cause, boom)
			}
		})
	}
}

// TestMapAsyncFunctionReturningEOSFails: EOS is a stage's completion signal;
// a user function returning it must not end the stream silently.
func TestMapAsyncFunctionReturningEOSFails(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(map[bool]string{true: "ordered", false: "unordered"}[ordered], func(t *testing.T) {
			f := mapAsyncOf(ordered, 1, func(_ context.Context, x int) (int, error) {
				if x == 1 {
					return 0, stream.EOS
				}
				return x, nil
			})
			got, err := runWithin(t, stream.Via(stream.FromSlice([]int{0, 1, 2}), f), stream.Collect[int]())
			if !errors.Is(err, stream.ErrUnexpectedEOS) {
				t.Errorf("run = (%v, %v), want ErrUnexpectedEOS", got, err)
			}
		})
	}
}

// goexitOn returns a function that calls runtime.Goexit (as t.FailNow does)
// for the element bad and returns the others unchanged.
func goexitOn(bad int) func(int) int {
	return func(x int) int {
		if x == bad {
			runtime.Goexit()
		}
		return x
	}
}

// TestGoexitInUserCodeFailsTheStage: runtime.Goexit in user code ends the
// goroutine without a return value and without a panic to recover. Every
// stage treats it as its failure (ErrGoexit): no invented zero element, no
// hung run, no silent success.
func TestGoexitInUserCodeFailsTheStage(t *testing.T) {
	in := []int{1, 2, 3}
	cases := []struct {
		name string
		src  stream.Source[int]
	}{
		{"MapAsync", stream.Via(stream.FromSlice(in), stream.MapAsync(2, func(_ context.Context, x int) (int, error) {
			return goexitOn(2)(x), nil
		}))},
		{"MapAsyncUnordered", stream.Via(stream.FromSlice(in), stream.MapAsyncUnordered(2, func(_ context.Context, x int) (int, error) {
			return goexitOn(2)(x), nil
		}))},
		{"MapBehindAsync", stream.Via(stream.Via(stream.FromSlice(in), stream.Map(goexitOn(2))), stream.Async[int]())},
		{"MapBehindMerge", stream.Merge(stream.Via(stream.FromSlice(in), stream.Map(goexitOn(2))))},
		{"FlatMapMergeFunction", stream.Via(stream.FromSlice(in), stream.FlatMapMerge(2, func(x int) stream.Source[int] {
			return stream.Single(goexitOn(2)(x))
		}))},
		{"MapBehindMapAsync", stream.Via(stream.Via(stream.FromSlice(in), stream.Map(goexitOn(2))),
			stream.MapAsync(2, func(_ context.Context, x int) (int, error) { return x, nil }))},
		{"FusedMap", stream.Via(stream.FromSlice(in), stream.Map(goexitOn(2)))},
		{"FromPullerFactory", stream.FromPuller(func(*stream.Materializer) stream.Puller[int] {
			runtime.Goexit()
			return nil
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runWithin(t, c.src, stream.Collect[int]())
			if !errors.Is(err, stream.ErrGoexit) {
				t.Errorf("run = (%v, %v), want ErrGoexit", got, err)
			}
		})
	}
	t.Run("ForEachSink", func(t *testing.T) {
		_, err := runWithin(t, stream.FromSlice(in), stream.ForEach(func(x int) { goexitOn(2)(x) }))
		if !errors.Is(err, stream.ErrGoexit) {
			t.Errorf("run error = %v, want ErrGoexit", err)
		}
	})
}
