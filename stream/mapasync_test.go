package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// rangeInts returns 0, 1, ..., n-1.
func rangeInts(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

// callGate lets a test decide when each asynchronous call (a MapAsync
// function, a FlatMapMerge substream) finishes: a call reports its element
// on started and finishes once the test opens its gate, or fails with the
// cause when its context is cancelled first. It counts the calls in flight
// and remembers the peak.
type callGate struct {
	started  chan int
	gates    []chan struct{}
	inFlight atomic.Int32
	peak     atomic.Int32
}

func newCallGate(n int) *callGate {
	g := &callGate{started: make(chan int, n), gates: make([]chan struct{}, n)}
	for i := range g.gates {
		g.gates[i] = make(chan struct{})
	}
	return g
}

func (g *callGate) enter() {
	n := g.inFlight.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// f is a MapAsync function: x -> x*10 once x's gate is open.
func (g *callGate) f(ctx context.Context, x int) (int, error) {
	g.enter()
	defer g.inFlight.Add(-1)
	g.started <- x
	select {
	case <-g.gates[x]:
		return x * 10, nil
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

func (g *callGate) open(x int) { close(g.gates[x]) }

// releaseInBatches checks that n calls start limit at a time: each batch
// starts in full, no further call starts, then the batch is let through.
func (g *callGate) releaseInBatches(t *testing.T, n, limit int) {
	t.Helper()
	for done := 0; done < n; {
		batch := min(limit, n-done)
		started := make([]int, batch)
		for i := range started {
			started[i] = g.expectStart(t)
		}
		g.expectNoStart(t)
		for _, x := range started {
			g.open(x)
		}
		done += batch
	}
}

func (g *callGate) expectStart(t *testing.T) int {
	t.Helper()
	select {
	case x := <-g.started:
		return x
	case <-time.After(streamtest.Timeout):
		t.Fatalf("no call started within %v", streamtest.Timeout)
		return 0
	}
}

func (g *callGate) expectNoStart(t *testing.T) {
	t.Helper()
	select {
	case x := <-g.started:
		t.Fatalf("call for element %d started beyond the limit (%d in flight)", x, g.inFlight.Load())
	case <-time.After(streamtest.Quiet):
	}
}

var mapAsyncModes = []struct {
	name    string
	ordered bool
}{{"ordered", true}, {"unordered", false}}

func mapAsyncOf[I, O any](ordered bool, parallelism int, f func(context.Context, I) (O, error)) stream.Flow[I, O] {
	if ordered {
		return stream.MapAsync(parallelism, f)
	}
	return stream.MapAsyncUnordered(parallelism, f)
}

// TestMapAsyncEmissionOrder starts four calls at once and finishes them in a
// chosen order: MapAsync holds results back until every earlier one is out,
// MapAsyncUnordered emits each as it finishes; neither completes early.
func TestMapAsyncEmissionOrder(t *testing.T) {
	cases := []struct {
		name    string
		ordered bool
		finish  []int   // the order in which the calls finish
		want    [][]int // what is emitted after each call finishes
	}{
		{"ordered/reverse", true, []int{3, 2, 1, 0}, [][]int{nil, nil, nil, {0, 10, 20, 30}}},
		{"ordered/interleaved", true, []int{1, 3, 0, 2}, [][]int{nil, nil, {0, 10}, {20, 30}}},
		{"ordered/in order", true, []int{0, 1, 2, 3}, [][]int{{0}, {10}, {20}, {30}}},
		{"unordered/reverse", false, []int{3, 2, 1, 0}, [][]int{{30}, {20}, {10}, {0}}},
		{"unordered/interleaved", false, []int{1, 3, 0, 2}, [][]int{{10}, {30}, {0}, {20}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newCallGate(4)
			p := streamtest.ProbeFlow(t, context.Background(), mapAsyncOf(c.ordered, 4, g.f))
			p.Out.Request(5)
			p.In.SendNext(0, 1, 2, 3)
			p.In.SendComplete()
			for range 4 {
				g.expectStart(t)
			}
			for i, x := range c.finish {
				g.open(x)
				var got []int
				for range c.want[i] {
					got = append(got, p.Out.ExpectNext())
				}
				if diff := cmp.Diff(c.want[i], got); diff != "" {
					t.Fatalf("after call %d finished (-want +got):\n%s", x, diff)
				}
				if i < len(c.finish)-1 {
					// Nothing else, in particular no completion while
					// calls are still running.
					p.Out.ExpectNoMessage(streamtest.Quiet)
				}
			}
			p.Out.ExpectComplete()
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v, want nil", err)
			}
		})
	}
}

// TestMapAsyncParallelism checks that no more than parallelism calls are
// ever in flight, and that the limit is reached.
func TestMapAsyncParallelism(t *testing.T) {
	const n = 10
	for _, mode := range mapAsyncModes {
		for _, par := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/parallelism=%d", mode.name, par), func(t *testing.T) {
				g := newCallGate(n)
				run := stream.To(stream.Via(stream.FromSlice(rangeInts(n)), mapAsyncOf(mode.ordered, par, g.f)),
					stream.Collect[int]()).Start(context.Background())
				g.releaseInBatches(t, n, par)
				got, err := run.Wait()
				if err != nil {
					t.Fatalf("run error = %v", err)
				}
				want := make([]int, n)
				for i := range want {
					want[i] = i * 10
				}
				if diff := cmp.Diff(want, got, sortedInts(!mode.ordered)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
				if peak := int(g.peak.Load()); peak != par {
					t.Errorf("peak calls in flight = %d, want %d", peak, par)
				}
			})
		}
	}
}

// TestMapAsyncFailure: a call that fails (by error or panic) while others
// are still running fails the stream at once, in either mode, cancels
// upstream with that failure and cancels the context of the other calls.
func TestMapAsyncFailure(t *testing.T) {
	for _, mode := range mapAsyncModes {
		for _, panics := range []bool{false, true} {
			name := mode.name + "/error"
			if panics {
				name = mode.name + "/panic"
			}
			t.Run(name, func(t *testing.T) {
				boom := errors.New("mapasync test: boom")
				fire := make(chan struct{})
				started := make(chan int, 3)
				causes := make(chan error, 3)
				f := func(ctx context.Context, x int) (int, error) {
					started <- x
					if x == 1 {
						<-fire
						if panics {
							panic("mapasync test: boom")
						}
						return 0, boom
					}
					// Element 0 comes first and never finishes on its own: the
					// failure of element 1 must not wait for it.
					<-ctx.Done()
					causes <- context.Cause(ctx)
					return 0, context.Cause(ctx)
				}
				p := streamtest.ProbeFlow(t, context.Background(), mapAsyncOf(mode.ordered, 3, f))
				p.Out.Request(3)
				p.In.SendNext(0, 1, 2)
				for range 3 {
					select {
					case <-started:
					case <-time.After(streamtest.Timeout):
						t.Fatal("calls did not start")
					}
				}
				close(fire)
				got := p.Out.ExpectError()
				if panics {
					var pe *stream.PanicError
					if !errors.As(got, &pe) {
						t.Fatalf("failure = %v, want a *stream.PanicError", got)
					}
					if pe.Value != "mapasync test: boom" {
						t.Errorf("PanicError.Value = %v", pe.Value)
					}
					if !bytes.Contains(pe.Stack, []byte("mapasync_test.go")) {
						t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
					}
				} else if !errors.Is(got, boom) {
					t.Fatalf("failure = %v, want %v", got, boom)
				}
				if c := p.In.ExpectCancellation(); !errors.Is(c, got) {
					t.Errorf("upstream cancelled with %v, want %v", c, got)
				}
				for range 2 {
					select {
					case c := <-causes:
						if !errors.Is(c, got) {
							t.Errorf("other call's context cancelled with %v, want %v", c, got)
						}
					case <-time.After(streamtest.Timeout):
						t.Fatal("the context of a running call was not cancelled")
					}
				}
				if err := p.Wait(t); !errors.Is(err, got) {
					t.Errorf("run error = %v, want %v", err, got)
				}
			})
		}
	}
}

// TestMapAsyncFailureIsRecoverable: a failing or panicking call fails the
// stream, not the whole run, so Recover downstream can turn it into a last
// element and the run succeeds.
func TestMapAsyncFailureIsRecoverable(t *testing.T) {
	for _, mode := range mapAsyncModes {
		for _, panics := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/panic=%v", mode.name, panics), func(t *testing.T) {
				boom := errors.New("mapasync test: boom")
				f := func(_ context.Context, x int) (int, error) {
					if x == 2 {
						if panics {
							panic(boom)
						}
						return 0, boom
					}
					return x * 10, nil
				}
				var seen error
				src := stream.Via(stream.Via(stream.FromSlice(rangeInts(5)), mapAsyncOf(mode.ordered, 1, f)),
					stream.Recover(func(err error) (int, bool) { seen = err; return -1, true }))
				got, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
				if err != nil {
					t.Fatalf("run error = %v, want nil: Recover handled the failure", err)
				}
				if diff := cmp.Diff([]int{0, 10, -1}, got); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
				if !errors.Is(seen, boom) {
					t.Errorf("Recover saw %v, want %v", seen, boom)
				}
			})
		}
	}
}

// TestMapAsyncCancelCancelsCalls: a downstream that cancels with a cause
// cancels upstream and the context of every running call with that cause.
func TestMapAsyncCancelCancelsCalls(t *testing.T) {
	for _, mode := range mapAsyncModes {
		t.Run(mode.name, func(t *testing.T) {
			cause := errors.New("mapasync test: downstream gone")
			oneStarted := make(chan struct{})
			callCause := make(chan error, 1)
			f := func(ctx context.Context, x int) (int, error) {
				if x == 0 {
					return 0, nil
				}
				close(oneStarted)
				<-ctx.Done()
				callCause <- context.Cause(ctx)
				return 0, ctx.Err()
			}
			// The sink takes element 0, waits until the call for 1 runs and
			// cancels.
			sink := stream.NewSink(func(_ *stream.Materializer, up stream.Puller[int]) (int, error) {
				v, err := up.Pull()
				if err != nil {
					return 0, err
				}
				<-oneStarted
				up.Cancel(cause)
				return v, nil
			})
			in := streamtest.NewSourceProbe[int](t)
			run := stream.To(stream.Via(in.Source(), mapAsyncOf(mode.ordered, 2, f)), sink).Start(context.Background())
			in.SendNext(0, 1)
			if got := in.ExpectCancellation(); !errors.Is(got, cause) {
				t.Errorf("upstream cancelled with %v, want %v", got, cause)
			}
			select {
			case got := <-callCause:
				if !errors.Is(got, cause) {
					t.Errorf("running call's context cancelled with %v, want %v", got, cause)
				}
			case <-time.After(streamtest.Timeout):
				t.Fatal("the running call's context was not cancelled")
			}
			if _, err := run.Wait(); err != nil {
				t.Errorf("run error = %v, want nil after a cancellation", err)
			}
		})
	}
}

func TestMapAsyncBadParallelismPanics(t *testing.T) {
	f := func(_ context.Context, x int) (int, error) { return x, nil }
	for _, mode := range mapAsyncModes {
		for _, par := range []int{0, -1} {
			t.Run(fmt.Sprintf("%s/%d", mode.name, par), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Errorf("parallelism %d did not panic", par)
					}
				}()
				mapAsyncOf(mode.ordered, par, f)
			})
		}
	}
}

// sleepyIdentity is the MapAsync function of the speed test and benchmark.
func sleepyIdentity(_ context.Context, x int) (int, error) {
	time.Sleep(time.Millisecond)
	return x, nil
}

func TestMapAsyncOrderAndSpeed(t *testing.T) {
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice(rangeInts(1000)), stream.MapAsync(8, sleepyIdentity)),
		stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rangeInts(1000), got); diff != "" {
		t.Errorf("output not 0..999 in order (-want +got):\n%s", diff)
	}
}

// BenchmarkMapAsync runs 1000 elements through MapAsync(8) with a function
// that sleeps 1 ms; a run ideally takes 125 ms. It reports ms per run.
func BenchmarkMapAsync(b *testing.B) {
	want := rangeInts(1000)
	src := stream.Via(stream.FromSlice(want), stream.MapAsync(8, sleepyIdentity))
	for b.Loop() {
		got, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
		if err != nil {
			b.Fatal(err)
		}
		if !cmp.Equal(want, got) {
			b.Fatal("output not 0..999 in order")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/run")
}

// sortedInts is a cmp option that compares []int as multisets when on.
func sortedInts(on bool) cmp.Option {
	if !on {
		return cmp.Options{}
	}
	return cmpopts.SortSlices(func(a, b int) bool { return a < b })
}
