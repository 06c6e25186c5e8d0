package stream_test

import (
	"context"
	"errors"
	"io"
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

// blockedSource is pulled, says so on pulled, and waits for its island to
// be cancelled; it then reports the cause as its error, as every blocking
// stage does.
func blockedSource(pulled chan<- struct{}) stream.Source[int] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[int] {
		return &blockedPuller{m: m, pulled: pulled}
	})
}

type blockedPuller struct {
	m      *stream.Materializer
	pulled chan<- struct{}
}

func (p *blockedPuller) Pull() (int, error) {
	p.pulled <- struct{}{}
	<-p.m.Done()
	return 0, p.m.Cause()
}
func (p *blockedPuller) Cancel(error) {}

// TestRecoverDoesNotRecoverCancellation: the run's context is cancelled
// while upstream is blocked; Recover must pass the cancellation on, so the
// run's error is the context's cause and no element is invented.
func TestRecoverDoesNotRecoverCancellation(t *testing.T) {
	pulled := make(chan struct{}, 1)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := errors.New("edges test: stop")
	src := stream.Via(blockedSource(pulled), stream.Recover(func(error) (int, bool) { return 99, true }))
	run := stream.To(src, stream.Collect[int]()).Start(ctx)
	<-pulled
	cancel(stop)
	got, err := run.Wait()
	if !errors.Is(err, stop) || len(got) != 0 {
		t.Errorf("run = (%v, %v), want ([], %v)", got, err, stop)
	}
}

// panicky is a source whose construction panics.
func panicky() stream.Source[int] {
	return stream.FromPuller(func(*stream.Materializer) stream.Puller[int] { panic("edges test: construction failed") })
}

// TestToChannelClosedWhenConstructionFails: a `range ch` reader must end
// even when the graph never runs because a constructor panicked.
func TestToChannelClosedWhenConstructionFails(t *testing.T) {
	for name, src := range map[string]stream.Source[int]{
		"source":  panicky(),
		"flow":    stream.Via(stream.Single(1), stream.NewFlow(func(*stream.Materializer, stream.Puller[int]) stream.Puller[int] { panic("flow") })),
		"concat":  stream.Concat(stream.Single(1), panicky()),
		"inMerge": stream.Merge(stream.Single(1), panicky()),
	} {
		t.Run(name, func(t *testing.T) {
			ch := make(chan int, 4)
			_, err := runWithin(t, src, stream.ToChannel(ch))
			var pe *stream.PanicError
			if !errors.As(err, &pe) {
				t.Errorf("run error = %v, want *stream.PanicError", err)
			}
			select {
			case _, ok := <-ch:
				if ok {
					t.Errorf("got an element; want ch closed and empty")
				}
			case <-time.After(streamtest.Timeout):
				t.Fatal("ch was not closed")
			}
		})
	}
}

// TestFailedConstructionReleasesWhatWasBuilt: when a constructor panics
// after another part of the graph has been built, the built part is
// cancelled with the *PanicError (its resources released), and the run
// reports it.
func TestFailedConstructionReleasesWhatWasBuilt(t *testing.T) {
	panicFlow := stream.NewFlow(func(*stream.Materializer, stream.Puller[int]) stream.Puller[int] {
		panic("edges test: flow construction failed")
	})
	cases := []struct {
		name string
		src  func(built stream.Source[int]) stream.Source[int]
	}{
		{"Concat", func(b stream.Source[int]) stream.Source[int] { return stream.Concat(b, panicky()) }},
		{"Merge", func(b stream.Source[int]) stream.Source[int] { return stream.Merge(b, panicky()) }},
		{"Via", func(b stream.Source[int]) stream.Source[int] { return stream.Via(b, panicFlow) }},
		{"ViaFlow", func(b stream.Source[int]) stream.Source[int] {
			return stream.Via(b, stream.ViaFlow(stream.Map(func(x int) int { return x }), panicFlow))
		}},
		{"ViaAfterAsync", func(b stream.Source[int]) stream.Source[int] {
			return stream.Via(stream.Via(b, stream.Async[int]()), panicFlow)
		}},
		{"ViaAfterMapAsync", func(b stream.Source[int]) stream.Source[int] {
			return stream.Via(stream.Via(b, stream.MapAsync(2, func(_ context.Context, x int) (int, error) { return x, nil })), panicFlow)
		}},
		{"MapMaterialized", func(b stream.Source[int]) stream.Source[int] {
			return stream.MapMaterialized(b, func(stream.NotUsed) stream.NotUsed { panic("edges test: mat") })
		}},
		{"FlowToSink", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := streamtest.NewSourceProbe[int](t)
			var err error
			if c.src == nil {
				sink := stream.FlowTo(panicFlow, stream.Ignore[int]())
				_, err = runWithin(t, in.Source(), sink)
			} else {
				_, err = runWithin(t, c.src(in.Source()), stream.Ignore[int]())
			}
			var pe *stream.PanicError
			if !errors.As(err, &pe) {
				t.Errorf("run error = %v, want *stream.PanicError", err)
			}
			if cause := in.ExpectCancellation(); !errors.As(cause, &pe) {
				t.Errorf("the built source was cancelled with %v, want the *stream.PanicError", cause)
			}
		})
	}
}

// TestSinkLeavingEarlyReleasesTheGraph: a sink that pulls once and returns
// without cancelling (allowed) must not leave FromSeq's iterator parked or
// WatchTermination's callback unrun.
func TestSinkLeavingEarlyReleasesTheGraph(t *testing.T) {
	seqDone := make(chan struct{})
	naturals := func(yield func(int) bool) {
		defer close(seqDone)
		for i := 0; yield(i); i++ {
		}
	}
	watched := make(chan error, 1)
	src := stream.Via(stream.FromSeq(naturals), stream.WatchTermination[int](func(err error) { watched <- err }))
	once := stream.NewSink(func(_ *stream.Materializer, up stream.Puller[int]) (int, error) {
		return up.Pull()
	})
	got, err := runWithin(t, src, once)
	if got != 0 || err != nil {
		t.Fatalf("run = (%v, %v), want (0, nil)", got, err)
	}
	select {
	case err := <-watched:
		if err != nil {
			t.Errorf("WatchTermination got %v, want nil (a plain cancellation)", err)
		}
	default:
		t.Error("WatchTermination's callback did not run")
	}
	select {
	case <-seqDone:
	case <-time.After(streamtest.Timeout):
		t.Error("FromSeq's iterator is still parked")
	}
}

// TestCancellationStopsFusedBusyLoops: a fused stage that consumes without
// emitting (Filter that rejects everything, Grouped(math.MaxInt)) over an
// endless synchronous source must stop when the run is cancelled; so must
// FromReader over a reader that returns (0, nil).
func TestCancellationStopsFusedBusyLoops(t *testing.T) {
	stop := errors.New("edges test: stop")
	never := func(int) bool { return false }
	cases := []struct {
		name string
		src  func(cancel func()) stream.Source[int]
	}{
		{"Filter", func(cancel func()) stream.Source[int] {
			return stream.Via(endless(cancel), stream.Filter(never))
		}},
		{"FilterBatched", func(cancel func()) stream.Source[int] {
			calls := 0
			return stream.Via(stream.FromSlice(make([]int, 1<<20)), stream.Filter(func(int) bool {
				if calls++; calls == 1000 {
					cancel()
				}
				return false
			}))
		}},
		{"MapFilterBatched", func(cancel func()) stream.Source[int] {
			calls := 0
			src := stream.Via(stream.FromSlice(make([]int, 1<<20)), stream.Map(func(x int) int {
				if calls++; calls == 1000 {
					cancel()
				}
				return x
			}))
			return stream.Via(src, stream.Filter(never))
		}},
		{"GroupedMaxInt", func(cancel func()) stream.Source[int] {
			return stream.Via(endless(cancel), stream.ViaFlow(stream.Grouped[int](int(^uint(0)>>1)),
				stream.Map(func(g []int) int { return len(g) })))
		}},
		{"FromReaderNoProgress", func(cancel func()) stream.Source[int] {
			r := &emptyReader{onRead: cancel}
			return stream.Via(stream.FromReader(r, 8), stream.Map(func(b []byte) int { return len(b) }))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			src := c.src(func() { cancel(stop) })
			// Run in the test goroutine's place: Start, bounded by runWithin.
			started := make(chan *stream.Running[stream.NotUsed, []int], 1)
			go func() { started <- stream.To(src, stream.Collect[int]()).Start(ctx) }()
			run := <-started
			select {
			case <-run.Done():
			case <-time.After(streamtest.Timeout):
				t.Fatal("the cancelled run goes on")
			}
			if _, err := run.Wait(); !errors.Is(err, stop) {
				t.Errorf("run error = %v, want %v", err, stop)
			}
		})
	}
}

// endless is a synchronous source of zeros that calls cancel at its 1000th
// pull, standing in for a cancellation from another goroutine.
func endless(cancel func()) stream.Source[int] {
	return stream.FromPuller(func(*stream.Materializer) stream.Puller[int] { return &endlessPuller{cancel: cancel} })
}

type endlessPuller struct {
	n      int
	cancel func()
}

func (p *endlessPuller) Pull() (int, error) {
	if p.n++; p.n == 1000 {
		p.cancel()
	}
	return 0, nil
}
func (p *endlessPuller) Cancel(error) {}

// emptyReader returns (0, nil) forever, calling onRead (if set) at its
// 10th read.
type emptyReader struct {
	n      int
	onRead func()
}

func (r *emptyReader) Read([]byte) (int, error) {
	if r.n++; r.n == 10 && r.onRead != nil {
		r.onRead()
	}
	return 0, nil
}

func TestFromReaderNoProgress(t *testing.T) {
	_, err := runWithin(t, stream.FromReader(&emptyReader{}, 8), stream.Ignore[[]byte]())
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("run error = %v, want io.ErrNoProgress", err)
	}
}

// endedPuller completes at its first pull and counts the cancellations that
// reach it afterwards: the Puller contract says a stage does not pass a
// Cancel on to an upstream that has already terminated.
type endedPuller struct {
	ended   bool
	late    *int
	pullErr error
}

func (p *endedPuller) Pull() (int, error) { p.ended = true; return 0, p.pullErr }
func (p *endedPuller) Cancel(error) {
	if p.ended {
		*p.late++
	}
}

// TestCancelAfterTerminalNotPassedOn runs every fused operator over a source
// that ends at once, pulls to the end, then cancels: no Cancel may reach the
// source.
func TestCancelAfterTerminalNotPassedOn(t *testing.T) {
	boom := errors.New("edges test: boom")
	id := func(x int) int { return x }
	flows := map[string]stream.Flow[int, int]{
		"Map":              stream.Map(id),
		"Filter":           stream.Filter(func(int) bool { return true }),
		"Take":             stream.Take[int](3),
		"TakeWhile":        stream.TakeWhile(func(int) bool { return true }),
		"Grouped":          stream.ViaFlow(stream.Grouped[int](2), stream.Map(func(g []int) int { return len(g) })),
		"Recover":          stream.Recover(func(error) (int, bool) { return 0, false }),
		"WatchTermination": stream.WatchTermination[int](func(error) {}),
		"Reorder":          stream.Reorder(seqOf, 0, 4),
		"Throttle":         stream.Throttle[int](1000, time.Second, 10),
		"Async":            stream.Async[int](),
		"MapAsync":         stream.MapAsync(2, func(_ context.Context, x int) (int, error) { return x, nil }),
		"DeferFlow":        stream.DeferFlow(func(*stream.Materializer) stream.Flow[int, int] { return stream.Map(id) }),
	}
	sources := map[string]func(stream.Source[int]) stream.Source[int]{
		"Lazy": func(s stream.Source[int]) stream.Source[int] {
			return stream.Lazy(func() stream.Source[int] { return s })
		},
		"Concat": func(s stream.Source[int]) stream.Source[int] { return stream.Concat(s) },
		"Merge":  func(s stream.Source[int]) stream.Source[int] { return stream.Merge(s) },
	}
	for name, f := range flows {
		sources[name] = func(s stream.Source[int]) stream.Source[int] { return stream.Via(s, f) }
	}
	for name, wrap := range sources {
		for _, end := range []error{stream.EOS, boom} {
			t.Run(name+"/"+map[error]string{stream.EOS: "complete", boom: "fail"}[end], func(t *testing.T) {
				late := 0
				src := stream.FromPuller(func(*stream.Materializer) stream.Puller[int] {
					return &endedPuller{late: &late, pullErr: end}
				})
				drain := stream.NewSink(func(_ *stream.Materializer, up stream.Puller[int]) (stream.NotUsed, error) {
					for {
						if _, err := up.Pull(); err != nil {
							up.Cancel(stream.ErrCancelled)
							up.Cancel(stream.ErrCancelled)
							return stream.NotUsed{}, nil
						}
					}
				})
				if _, err := runWithin(t, wrap(src), drain); err != nil {
					t.Fatal(err)
				}
				if late != 0 {
					t.Errorf("%d cancellations reached the terminated upstream", late)
				}
			})
		}
	}
}
