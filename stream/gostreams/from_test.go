package gostreams_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

func TestFromSource(t *testing.T) {
	tests := []struct {
		name    string
		in      []any
		want    []int
		wantErr *gostreams.TypeError
	}{
		{name: "elements", in: anys(1, 2, 3), want: []int{1, 2, 3}},
		{name: "empty", in: nil},
		{name: "wrong type", in: anys[any](1, "x", 3), want: []int{1},
			wantErr: &gostreams.TypeError{Want: "int", Got: "string", Value: "x"}},
		{name: "untyped nil", in: anys[any](nil),
			wantErr: &gostreams.TypeError{Want: "int", Got: "<nil>"}},
		{name: "int64 is no int", in: anys[any](int64(7)),
			wantErr: &gostreams.TypeError{Want: "int", Got: "int64", Value: int64(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			_, err := stream.RunWith(context.Background(),
				gostreams.FromSource[int](sliceSource(tt.in...)),
				stream.ForEach(func(x int) { got = append(got, x) }))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("elements (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("run error = %v, want nil", err)
				}
				return
			}
			if diff := cmp.Diff(tt.wantErr, asTypeError(t, err)); diff != "" {
				t.Errorf("TypeError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromSourceInterfaceType(t *testing.T) {
	boom := errors.New("boom")
	got, err := stream.RunWith(context.Background(),
		gostreams.FromSource[error](sliceSource(boom, nil)), stream.Collect[error]())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != boom || got[1] != nil {
		t.Errorf("got %v, want [boom <nil>]: an untyped nil is the zero value of an interface type", got)
	}
}

func TestFromSourceOfPipeline(t *testing.T) {
	// The end of a go-streams pipeline is a source too.
	src := sliceSource(1, 2, 3).Via(doubler())
	got, err := stream.RunWith(context.Background(), gostreams.FromSource[int](src), stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 4, 6}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFromSourceServesOneRun(t *testing.T) {
	src := gostreams.FromSource[int](sliceSource(1))
	if _, err := stream.RunWith(context.Background(), src, stream.Ignore[int]()); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := stream.RunWith(context.Background(), src, stream.Ignore[int]()); !errors.Is(err, gostreams.ErrReused) {
		t.Fatalf("second run error = %v, want ErrReused", err)
	}
}

func TestFromSourceTakeDrainsTheSource(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		src, finished := counting(1000)
		// The run goes on after Take(2) until the go-streams source has ended:
		// that happens only if the adapter drains the 998 elements left.
		g := stream.Concat(
			stream.Via(gostreams.FromSource[int](src), stream.Take[int](2)),
			stream.FromChannel(finished))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := stream.RunWith(ctx, g, stream.Collect[int]())
		if err != nil {
			t.Fatalf("run error = %v: the source was not drained", err)
		}
		if diff := cmp.Diff([]int{0, 1}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestFromSourceDrainsAfterTypeError(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		ch := make(chan any)
		finished := make(chan int)
		go func() {
			defer close(finished)
			ch <- "not an int"
			for i := range 1000 {
				ch <- i
			}
			close(ch)
		}()
		var failure error
		recovered := stream.Recover(func(err error) (int, bool) { failure = err; return -1, true })
		g := stream.Concat(
			stream.Via(gostreams.FromSource[int](extension.NewChanSource(ch)), recovered),
			stream.FromChannel(finished))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		got, err := stream.RunWith(ctx, g, stream.Collect[int]())
		if err != nil {
			t.Fatalf("run error = %v: the source was not drained", err)
		}
		if diff := cmp.Diff([]int{-1}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if te := asTypeError(t, failure); te.Got != "string" {
			t.Errorf("TypeError.Got = %q, want string", te.Got)
		}
	})
}

func TestFromSourceRunDoesNotWaitForEndlessSource(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		src, stop, finished := endless()
		got, err := stream.RunWith(t.Context(),
			stream.Via(gostreams.FromSource[int](src), stream.Take[int](3)), stream.Collect[int]())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{0, 1, 2}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// The run is over while the source goes on; stopping it is the source's
		// business, and it can, since nothing of the adapter holds it.
		close(stop)
		wait(t, finished, "source goroutine ends")
	})
}

func TestFromSourceContextCancelled(t *testing.T) {
	src, stop, finished := endless()
	defer func() { close(stop); <-finished }()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := stream.RunWith(ctx, gostreams.FromSource[int](src), stream.ForEach(func(int) {
		if n++; n == 5 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v, want context.Canceled", err)
	}
}

// --- ViaFlow ---------------------------------------------------------------

func TestViaFlowContract(t *testing.T) {
	panicking := gostreams.ViaFlow[int, int](func() streams.Flow { panic("factory") })
	t.Run("Map", func(t *testing.T) {
		streamtest.CheckFlow(t, streamtest.FlowCase[int, int]{
			Flow:      gostreams.ViaFlow[int, int](doubler),
			In:        []int{1, 2, 3},
			Want:      []int{2, 4, 6},
			Prefetch:  true,
			Panicking: &panicking,
		})
	})
	t.Run("Filter", func(t *testing.T) {
		streamtest.CheckFlow(t, streamtest.FlowCase[int, int]{
			Flow: gostreams.ViaFlow[int, int](func() streams.Flow {
				return flow.NewFilter(func(x int) bool { return x%2 == 1 }, 1)
			}),
			In:       []int{1, 2, 3, 4, 5},
			Want:     []int{1, 3, 5},
			Prefetch: true,
		})
	})
	t.Run("Batch", func(t *testing.T) {
		streamtest.CheckFlow(t, streamtest.FlowCase[int, []int]{
			Flow: gostreams.ViaFlow[int, []int](func() streams.Flow {
				return flow.NewBatch[int](2, time.Hour)
			}),
			In:       []int{1, 2, 3, 4, 5},
			Want:     [][]int{{1, 2}, {3, 4}, {5}},
			Prefetch: true,
		})
	})
}

func TestViaFlowFreshOperatorPerRun(t *testing.T) {
	calls := 0
	f := gostreams.ViaFlow[int, int](func() streams.Flow { calls++; return doubler() })
	g := stream.Via(stream.FromSlice([]int{1, 2}), f)
	for run := range 3 {
		got, err := stream.RunWith(context.Background(), g, stream.Collect[int]())
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if diff := cmp.Diff([]int{2, 4}, got); diff != "" {
			t.Errorf("run %d (-want +got):\n%s", run, diff)
		}
	}
	if calls != 3 {
		t.Errorf("factory called %d times for 3 runs, want 3", calls)
	}
}

func TestViaFlowTakeLeaksNothing(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		noLeaks(t, func(t *testing.T) {
			f := gostreams.ViaFlow[int, int](func() streams.Flow {
				return flow.NewMap(func(x int) int { return 2 * x }, parallelism)
			})
			g := stream.Via(stream.Via(stream.Via(stream.FromSlice(ints(1000)), f), fillUp[int]()), stream.Take[int](2))
			got, err := stream.RunWith(t.Context(), g, stream.Collect[int]())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Errorf("parallelism %d: got %v, want 2 elements", parallelism, got)
			}
		})
	}
}

func TestViaFlowOutputTypeMismatch(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		var upstream error
		src := stream.Via(stream.FromSlice(ints(100)),
			stream.WatchTermination[int](func(err error) { upstream = err }))
		_, err := stream.RunWith(t.Context(),
			stream.Via(src, gostreams.ViaFlow[int, string](doubler)), stream.Collect[string]())
		te := asTypeError(t, err)
		if diff := cmp.Diff(&gostreams.TypeError{Want: "string", Got: "int", Value: 2}, te); diff != "" {
			t.Errorf("TypeError (-want +got):\n%s", diff)
		}
		if !errors.As(upstream, &te) {
			t.Errorf("upstream cancelled with %v, want the *TypeError", upstream)
		}
	})
}

func TestViaFlowUpstreamFailure(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		boom := errors.New("boom")
		src := stream.Concat(stream.FromSlice(ints(10)), stream.Failed[int](boom))
		var got []int
		_, err := stream.RunWith(t.Context(),
			stream.Via(stream.Via(src, gostreams.ViaFlow[int, int](doubler)), fillUp[int]()),
			stream.ForEach(func(x int) { got = append(got, x) }))
		if !errors.Is(err, boom) {
			t.Fatalf("run error = %v, want %v", err, boom)
		}
		// fillUp lets the operator fill up before each element goes on: when
		// the feeder meets the failure, 9 and 10 are inside the operator, and
		// the failure overtakes them.
		if diff := cmp.Diff([]int{2, 4, 6, 8, 10, 12, 14, 16}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestViaFlowNilFactory(t *testing.T) {
	var upstream error
	src := stream.Via(stream.FromSlice([]int{1}),
		stream.WatchTermination[int](func(err error) { upstream = err }))
	_, err := stream.RunWith(context.Background(),
		stream.Via(src, gostreams.ViaFlow[int, int](func() streams.Flow { return nil })),
		stream.Ignore[int]())
	if err == nil || !strings.Contains(err.Error(), "nil streams.Flow") {
		t.Fatalf("run error = %v, want the nil-factory failure", err)
	}
	if upstream != err {
		t.Errorf("upstream cancelled with %v, want %v", upstream, err)
	}
}

func TestViaFlowThrottler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The Throttler throttles in its Via, which ViaFlow uses: 2 elements
		// per second means 3 windows for 6 elements.
		start := time.Now()
		f := gostreams.ViaFlow[int, int](func() streams.Flow {
			return flow.NewThrottler(2, time.Second, 6, flow.Backpressure)
		})
		got, err := stream.RunWith(t.Context(), stream.Via(stream.FromSlice(ints(6)), f), stream.Collect[int]())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ints(6), got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("took %v, want 2s (two quota resets)", d)
		}
	})
}

func TestViaFlowCancelledByContext(t *testing.T) {
	noLeaks(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := 0
		src := stream.FromSeq(func(yield func(int) bool) {
			for i := 0; yield(i); i++ {
			}
		})
		_, err := stream.RunWith(ctx, stream.Via(stream.Via(src, gostreams.ViaFlow[int, int](doubler)), fillUp[int]()),
			stream.ForEach(func(int) {
				if n++; n == 10 {
					cancel()
				}
			}))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run error = %v, want context.Canceled", err)
		}
	})
}

// --- ToSink ----------------------------------------------------------------

// gateSink is a go-streams sink that records what it receives and whose
// AwaitCompletion also waits for release to be closed.
type gateSink struct {
	in       chan any
	got      []any
	received chan struct{} // closed when In has been closed and drained
	release  chan struct{}
}

func newGateSink(release chan struct{}) *gateSink {
	s := &gateSink{in: make(chan any), received: make(chan struct{}), release: release}
	go func() {
		defer close(s.received)
		for v := range s.in {
			s.got = append(s.got, v)
		}
	}()
	return s
}

func (s *gateSink) In() chan<- any { return s.in }
func (s *gateSink) AwaitCompletion() {
	<-s.received
	<-s.release
}

func TestToSink(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		src     stream.Source[int]
		want    []any
		wantErr error
	}{
		{name: "elements", src: stream.FromSlice([]int{1, 2, 3}), want: anys(1, 2, 3)},
		{name: "empty", src: stream.Empty[int]()},
		{name: "upstream failure closes In", src: stream.Concat(stream.FromSlice([]int{1, 2}), stream.Failed[int](boom)),
			want: anys(1, 2), wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// In a bubble, a run that hangs fails the test at once.
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				close(release)
				s := newGateSink(release)
				_, err := stream.RunWith(t.Context(), tt.src, gostreams.ToSink[int](s))
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("run error = %v, want %v", err, tt.wantErr)
				}
				// The run waited for AwaitCompletion, so the sink has seen it all.
				select {
				case <-s.received:
				default:
					t.Fatal("run ended before the go-streams sink completed")
				}
				if diff := cmp.Diff(tt.want, s.got); diff != "" {
					t.Errorf("sink received (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestToSinkWaitsForCompletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		s := newGateSink(release)
		run := stream.To(stream.FromSlice([]int{1}), gostreams.ToSink[int](s)).Start(t.Context())
		<-s.received
		synctest.Wait()
		select {
		case <-run.Done():
			t.Fatal("run ended before AwaitCompletion returned")
		default:
		}
		close(release)
		if _, err := run.Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestToSinkContextEndsWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // lets the AwaitCompletion goroutine end
	s := newGateSink(release)
	ctx, cancel := context.WithCancel(context.Background())
	run := stream.To(stream.FromSlice([]int{1, 2}), gostreams.ToSink[int](s)).Start(ctx)
	wait(t, s.received, "In closed")
	cancel()
	select {
	case <-run.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end when its context did")
	}
	if _, err := run.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v, want context.Canceled", err)
	}
}

func TestToSinkContextEndsMidStream(t *testing.T) {
	// A go-streams sink that takes one element and then stops reading.
	in := make(chan any)
	took := make(chan struct{})
	go func() {
		<-in
		close(took)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var upstream error
	src := stream.Via(stream.FromSlice(ints(10)), stream.WatchTermination[int](func(err error) { upstream = err }))
	run := stream.To(src, gostreams.ToSink[int](extension.NewChanSink(in))).Start(ctx)
	wait(t, took, "first element taken")
	cancel()
	if _, err := run.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("run error = %v, want context.Canceled", err)
	}
	if !errors.Is(upstream, context.Canceled) {
		t.Errorf("upstream cancelled with %v, want context.Canceled", upstream)
	}
	if _, ok := <-in; ok {
		t.Error("In not closed after the run")
	}
}

func TestToSinkServesOneRun(t *testing.T) {
	sink := gostreams.ToSink[int](extension.NewIgnoreSink())
	if _, err := stream.RunWith(context.Background(), stream.FromSlice([]int{1}), sink); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := stream.RunWith(context.Background(), stream.FromSlice([]int{1}), sink); !errors.Is(err, gostreams.ErrReused) {
		t.Fatalf("second run error = %v, want ErrReused", err)
	}
}

// TestToSinkClosesInWhenConstructionFails: the upstream's constructor
// panics; the go-streams sink still sees In closed (its reader ends) and the
// run reports the panic.
func TestToSinkClosesInWhenConstructionFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		close(release)
		s := newGateSink(release)
		panicky := stream.FromPuller(func(*stream.Materializer) stream.Puller[int] { panic("construction failed") })
		_, err := stream.RunWith(t.Context(), panicky, gostreams.ToSink[int](s))
		var pe *stream.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("run error = %v, want *stream.PanicError", err)
		}
		synctest.Wait()
		select {
		case <-s.received:
		default:
			t.Fatal("In was not closed")
		}
	})
}
