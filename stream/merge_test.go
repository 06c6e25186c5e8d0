package stream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

type sourceRun = stream.Running[stream.NotUsed, stream.NotUsed]

// probeSource starts src into a new sink probe under ctx and makes the test
// wait for the run to end (cancelling it if needed) when it finishes.
func probeSource[T any](t *testing.T, ctx context.Context, src stream.Source[T]) (*streamtest.SinkProbe[T], *sourceRun) {
	t.Helper()
	out := streamtest.NewSinkProbe[T](t)
	run := stream.To(src, out.Sink()).Start(ctx)
	t.Cleanup(func() {
		run.Cancel(errors.New("merge test: test ended"))
		select {
		case <-run.Done():
		case <-time.After(streamtest.Timeout):
			t.Errorf("run did not finish within %v of the test's end", streamtest.Timeout)
		}
	})
	return out, run
}

func waitRun(t *testing.T, run *sourceRun) error {
	t.Helper()
	select {
	case <-run.Done():
	case <-time.After(streamtest.Timeout):
		t.Fatalf("run did not finish within %v", streamtest.Timeout)
	}
	_, err := run.Wait()
	return err
}

func sourceProbes(t *testing.T, n int) ([]*streamtest.SourceProbe[int], []stream.Source[int]) {
	ps := make([]*streamtest.SourceProbe[int], n)
	srcs := make([]stream.Source[int], n)
	for i := range ps {
		ps[i] = streamtest.NewSourceProbe[int](t)
		srcs[i] = ps[i].Source()
	}
	return ps, srcs
}

// expectElements takes n elements from out, in any order, and compares them
// with want as a multiset.
func expectElements(t *testing.T, out *streamtest.SinkProbe[int], want []int) {
	t.Helper()
	var got []int
	for range want {
		got = append(got, out.ExpectNext())
	}
	if diff := cmp.Diff(want, got, sortedInts(true)); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
}

// TestMergeContract is the stream contract of CheckFlow, for a source that
// merges three source probes.
func TestMergeContract(t *testing.T) {
	t.Run("NoEmissionWithoutDemand", func(t *testing.T) {
		in, srcs := sourceProbes(t, 3)
		out, _ := probeSource(t, context.Background(), stream.Merge(srcs...))
		in[0].SendNext(1, 2)
		in[1].SendNext(3)
		for _, p := range in {
			p.SendComplete()
		}
		out.ExpectNoMessage(streamtest.Quiet)
		for i, p := range in {
			if n := p.Pulls(); n != 0 {
				t.Errorf("source %d pulled %d times before any demand", i, n)
			}
		}
		out.Request(4)
		expectElements(t, out, []int{1, 2, 3})
		out.ExpectComplete()
	})
	t.Run("Completion", func(t *testing.T) {
		in, srcs := sourceProbes(t, 3)
		out, run := probeSource(t, context.Background(), stream.Merge(srcs...))
		out.Request(10)
		in[0].SendNext(1, 2, 3)
		in[1].SendNext(4)
		for _, p := range in {
			p.SendComplete()
		}
		expectElements(t, out, []int{1, 2, 3, 4})
		out.ExpectComplete()
		if err := waitRun(t, run); err != nil {
			t.Errorf("run error = %v, want nil", err)
		}
	})
	t.Run("CompletesAfterAllSourcesComplete", func(t *testing.T) {
		in, srcs := sourceProbes(t, 3)
		out, _ := probeSource(t, context.Background(), stream.Merge(srcs...))
		out.Request(10)
		in[0].SendNext(1)
		in[0].SendComplete()
		in[1].SendComplete()
		in[2].SendNext(2)
		expectElements(t, out, []int{1, 2})
		out.ExpectNoMessage(streamtest.Quiet)
		in[2].SendComplete()
		out.ExpectComplete()
	})
	t.Run("FailurePassesThrough", func(t *testing.T) {
		in, srcs := sourceProbes(t, 3)
		out, run := probeSource(t, context.Background(), stream.Merge(srcs...))
		boom := errors.New("merge test: boom")
		out.Request(1)
		for _, p := range in {
			p.ExpectRequest()
		}
		in[1].SendError(boom)
		if err := out.ExpectError(); !errors.Is(err, boom) {
			t.Errorf("failure = %v, want %v", err, boom)
		}
		for _, i := range []int{0, 2} {
			if got := in[i].ExpectCancellation(); !errors.Is(got, boom) {
				t.Errorf("source %d cancelled with %v, want %v", i, got, boom)
			}
		}
		if err := waitRun(t, run); !errors.Is(err, boom) {
			t.Errorf("run error = %v, want %v", err, boom)
		}
	})
	for _, inFlight := range []bool{false, true} {
		t.Run(fmt.Sprintf("CancelReachesEverySource/pullInFlight=%v", inFlight), func(t *testing.T) {
			in, srcs := sourceProbes(t, 3)
			out, run := probeSource(t, context.Background(), stream.Merge(srcs...))
			cause := errors.New("merge test: cancellation cause")
			if inFlight {
				out.Request(1)
				for _, p := range in {
					p.ExpectRequest()
				}
			}
			out.Cancel(cause)
			for i, p := range in {
				if got := p.ExpectCancellation(); !errors.Is(got, cause) {
					t.Errorf("source %d cancelled with %v, want %v", i, got, cause)
				}
			}
			if err := waitRun(t, run); err != nil {
				t.Errorf("run error = %v, want nil after a cancellation", err)
			}
		})
	}
	t.Run("ContextCancelledMidStream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in, srcs := sourceProbes(t, 3)
		out, run := probeSource(t, ctx, stream.Merge(srcs...))
		out.Request(1)
		for _, p := range in {
			p.ExpectRequest()
		}
		cancel()
		for i, p := range in {
			if got := p.ExpectCancellation(); !errors.Is(got, context.Canceled) {
				t.Errorf("source %d cancelled with %v, want context.Canceled", i, got)
			}
		}
		if err := waitRun(t, run); !errors.Is(err, context.Canceled) {
			t.Errorf("run error = %v, want context.Canceled", err)
		}
	})
	t.Run("PanicInFusedMap", func(t *testing.T) {
		in, srcs := sourceProbes(t, 1)
		p := panicOn(2)
		bad := stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.Map(func(x int) int { p(x); return x }))
		out, run := probeSource(t, context.Background(), stream.Merge(bad, srcs[0]))
		out.Request(10)
		var pe *stream.PanicError
		for {
			ev := out.ExpectEvent()
			if ev.Err == nil {
				if ev.Value != 1 {
					t.Errorf("element %d before the panic, want only 1", ev.Value)
				}
				continue
			}
			if !errors.As(ev.Err, &pe) {
				t.Fatalf("terminal signal = %v, want a *stream.PanicError", ev.Err)
			}
			break
		}
		if len(pe.Stack) == 0 {
			t.Error("PanicError carries no stack")
		}
		if got := in[0].ExpectCancellation(); !errors.Is(got, pe) {
			t.Errorf("other source cancelled with %v, want the PanicError", got)
		}
		if err := waitRun(t, run); !errors.Is(err, pe) {
			t.Errorf("run error = %v, want the PanicError", err)
		}
	})
}

func TestMergeNoSources(t *testing.T) {
	got, err := stream.RunWith(context.Background(), stream.Merge[int](), stream.Collect[int]())
	if err != nil || len(got) != 0 {
		t.Errorf("Merge() = %v, %v; want no elements and no error", got, err)
	}
	out, run := probeSource(t, context.Background(), stream.Merge[int]())
	out.Request(1)
	out.ExpectComplete()
	if err := waitRun(t, run); err != nil {
		t.Errorf("run error = %v, want nil", err)
	}
}

// TestMergeAllElements merges sources of different lengths: every element
// arrives, and the elements of each source keep their order.
func TestMergeAllElements(t *testing.T) {
	lens := []int{0, 1, 1000, 37, 500}
	var srcs []stream.Source[int]
	var want []int
	for i, n := range lens {
		xs := make([]int, n)
		for j := range xs {
			xs[j] = i*10000 + j
		}
		want = append(want, xs...)
		srcs = append(srcs, stream.FromSlice(xs))
	}
	got, err := stream.RunWith(context.Background(), stream.Merge(srcs...), stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, sortedInts(true)); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
	next := make([]int, len(lens))
	for _, x := range got {
		src, j := x/10000, x%10000
		if j != next[src] {
			t.Fatalf("source %d: element %d arrived when %d was due", src, j, next[src])
		}
		next[src]++
	}
}

// TestMergeFailureCancelsOthers: a failing source cancels the others with
// its failure at once, even when downstream is not pulling: one that waits
// for its own upstream and one that waits for room in the full buffer.
// Downstream then gets what was buffered, and the failure.
func TestMergeFailureCancelsOthers(t *testing.T) {
	in, srcs := sourceProbes(t, 3)
	out, run := probeSource(t, context.Background(), stream.Merge(srcs...))
	boom := errors.New("merge test: boom")
	out.Request(1)
	for _, p := range in {
		p.ExpectRequest()
	}
	in[1].SendNext(0)
	if got := out.ExpectNext(); got != 0 {
		t.Fatalf("first element = %d, want 0", got)
	}
	// Fill the buffer from source 1, and one more that waits in its pump.
	n := stream.DefaultMergeBuffer + 1
	for v := 1; v <= n; v++ {
		in[1].ExpectRequest()
		in[1].SendNext(v)
	}
	in[1].ExpectNoRequest(streamtest.Quiet)

	in[0].SendError(boom)
	for _, i := range []int{1, 2} {
		if got := in[i].ExpectCancellation(); !errors.Is(got, boom) {
			t.Errorf("source %d cancelled with %v, want %v", i, got, boom)
		}
	}
	out.Request(n + 1)
	for v := 1; v < n; v++ {
		if got := out.ExpectNext(); got != v {
			t.Fatalf("element = %d, want %d", got, v)
		}
	}
	if err := out.ExpectError(); !errors.Is(err, boom) {
		t.Errorf("failure = %v, want %v", err, boom)
	}
	if err := waitRun(t, run); !errors.Is(err, boom) {
		t.Errorf("run error = %v, want %v", err, boom)
	}
}

// source returns a substream for FlatMapMerge that, on its first pull,
// counts itself in flight, reports x as started and emits x*10 once x's gate
// is open; it then completes. It is out of flight once it has terminated or
// been cancelled.
func (g *callGate) source(x int) stream.Source[int] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[int] {
		return &gatedPuller{g: g, x: x, m: m}
	})
}

type gatedPuller struct {
	g       *callGate
	x       int
	m       *stream.Materializer
	emitted bool
	active  bool
}

func (p *gatedPuller) Pull() (int, error) {
	if p.emitted {
		p.leave()
		return 0, stream.EOS
	}
	p.active = true
	p.g.enter()
	p.g.started <- p.x
	select {
	case <-p.g.gates[p.x]:
		p.emitted = true
		return p.x * 10, nil
	case <-p.m.Done():
		p.leave()
		return 0, p.m.Cause()
	}
}

func (p *gatedPuller) leave() {
	if p.active {
		p.active = false
		p.g.inFlight.Add(-1)
	}
}

func (p *gatedPuller) Cancel(error) { p.leave() }

// TestFlatMapMergeAllElements: every element of every substream arrives,
// each substream's in order, and substreams may be empty.
func TestFlatMapMergeAllElements(t *testing.T) {
	const n = 50
	var want []int
	for x := range n {
		for j := range x % 7 {
			want = append(want, x*100+j)
		}
	}
	flow := stream.FlatMapMerge(4, func(x int) stream.Source[int] {
		xs := make([]int, x%7)
		for j := range xs {
			xs[j] = x*100 + j
		}
		return stream.FromSlice(xs)
	})
	got, err := stream.RunWith(context.Background(), stream.Via(stream.FromSlice(rangeInts(n)), flow), stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, sortedInts(true)); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
	next := make([]int, n)
	for _, y := range got {
		x, j := y/100, y%100
		if j != next[x] {
			t.Fatalf("substream %d: element %d arrived when %d was due", x, j, next[x])
		}
		next[x]++
	}
}

// TestFlatMapMergeBreadth checks that no more than breadth substreams are
// ever active at once, and that the limit is reached.
func TestFlatMapMergeBreadth(t *testing.T) {
	const n = 10
	for _, breadth := range []int{1, 3} {
		t.Run(fmt.Sprintf("breadth=%d", breadth), func(t *testing.T) {
			g := newCallGate(n)
			run := stream.To(stream.Via(stream.FromSlice(rangeInts(n)), stream.FlatMapMerge(breadth, g.source)),
				stream.Collect[int]()).Start(context.Background())
			g.releaseInBatches(t, n, breadth)
			got, err := run.Wait()
			if err != nil {
				t.Fatalf("run error = %v", err)
			}
			want := make([]int, n)
			for i := range want {
				want[i] = i * 10
			}
			if diff := cmp.Diff(want, got, sortedInts(true)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if peak := int(g.peak.Load()); peak != breadth {
				t.Errorf("peak active substreams = %d, want %d", peak, breadth)
			}
		})
	}
}

// TestFlatMapMergeCompletion: the stream completes only when upstream and
// every substream have completed, whichever finishes last.
func TestFlatMapMergeCompletion(t *testing.T) {
	for _, upstreamLast := range []bool{false, true} {
		t.Run(fmt.Sprintf("upstreamLast=%v", upstreamLast), func(t *testing.T) {
			g := newCallGate(1)
			p := streamtest.ProbeFlow(t, context.Background(), stream.FlatMapMerge(2, g.source))
			p.Out.Request(3)
			p.In.ExpectRequest()
			p.In.SendNext(0)
			g.expectStart(t)
			p.In.ExpectRequest()
			if upstreamLast {
				g.open(0)
				if got := p.Out.ExpectNext(); got != 0 {
					t.Fatalf("element = %d, want 0", got)
				}
				p.Out.ExpectNoMessage(streamtest.Quiet)
				p.In.SendComplete()
			} else {
				p.In.SendComplete()
				p.Out.ExpectNoMessage(streamtest.Quiet)
				g.open(0)
				if got := p.Out.ExpectNext(); got != 0 {
					t.Fatalf("element = %d, want 0", got)
				}
			}
			p.Out.ExpectComplete()
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v, want nil", err)
			}
		})
	}
}

// TestFlatMapMergeFailure: a failing substream, or upstream, fails the stream
// and cancels upstream and the other substreams with that failure, also when
// downstream is not pulling at that moment.
func TestFlatMapMergeFailure(t *testing.T) {
	for _, c := range []struct {
		name   string
		demand bool // downstream is waiting for an element when it fails
		failUp bool // upstream fails rather than a substream
	}{
		{"substream/with demand", true, false},
		{"substream/without demand", false, false},
		{"upstream/with demand", true, true},
		{"upstream/without demand", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			boom := errors.New("flatmapmerge test: boom")
			subs, _ := sourceProbes(t, 2)
			p := streamtest.ProbeFlow(t, context.Background(), stream.FlatMapMerge(3, func(x int) stream.Source[int] {
				return subs[x].Source()
			}))
			p.Out.Request(1)
			p.In.ExpectRequest()
			p.In.SendNext(0)
			subs[0].ExpectRequest()
			subs[0].SendNext(100)
			if got := p.Out.ExpectNext(); got != 100 {
				t.Fatalf("element = %d, want 100", got)
			}
			p.In.ExpectRequest()
			p.In.SendNext(1)
			subs[1].ExpectRequest()
			subs[0].ExpectRequest()
			p.In.ExpectRequest()
			if c.demand {
				p.Out.Request(1)
			}
			// Everybody is now waiting for an element.
			var others []*streamtest.SourceProbe[int]
			if c.failUp {
				p.In.SendError(boom)
				others = subs
			} else {
				subs[1].SendError(boom)
				others = []*streamtest.SourceProbe[int]{p.In, subs[0]}
			}
			for i, o := range others {
				if got := o.ExpectCancellation(); !errors.Is(got, boom) {
					t.Errorf("other source %d cancelled with %v, want %v", i, got, boom)
				}
			}
			if !c.demand {
				p.Out.Request(1)
			}
			if err := p.Out.ExpectError(); !errors.Is(err, boom) {
				t.Errorf("failure = %v, want %v", err, boom)
			}
			if err := p.Wait(t); !errors.Is(err, boom) {
				t.Errorf("run error = %v, want %v", err, boom)
			}
		})
	}
}

func TestFlatMapMergeBadBreadthPanics(t *testing.T) {
	for _, breadth := range []int{0, -1} {
		t.Run(fmt.Sprint(breadth), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("FlatMapMerge(%d) did not panic", breadth)
				}
			}()
			stream.FlatMapMerge(breadth, func(x int) stream.Source[int] { return stream.Single(x) })
		})
	}
}
