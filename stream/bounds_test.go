package stream_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// TestAsyncBoundaryRunsAheadAtMostSize checks the bound of every queue-backed
// boundary: upstream holds at most size elements that downstream has not
// taken, and pulls one more that waits for room. The elements the consumer
// has taken into its private batch count until Pull returns them, so after
// downstream takes one element of a full buffer, upstream gets room for
// exactly one more.
func TestAsyncBoundaryRunsAheadAtMostSize(t *testing.T) {
	cases := []struct {
		name string
		size int
		run  func(t *testing.T) (*streamtest.SourceProbe[int], *streamtest.SinkProbe[int])
	}{
		{"Buffer(1)", 1, probeFlowRig(stream.Buffer[int](1, stream.Backpressure))},
		{"Buffer(4)", 4, probeFlowRig(stream.Buffer[int](4, stream.Backpressure))},
		{"Buffer(40)", 40, probeFlowRig(stream.Buffer[int](40, stream.Backpressure))},
		{"Async", stream.DefaultAsyncBuffer, probeFlowRig(stream.Async[int]())},
		{"IdleTimeout", 1, probeFlowRig(stream.IdleTimeout[int](time.Hour))},
		{"Merge", stream.DefaultMergeBuffer, func(t *testing.T) (*streamtest.SourceProbe[int], *streamtest.SinkProbe[int]) {
			in := streamtest.NewSourceProbe[int](t)
			out, _ := probeSource(t, context.Background(), stream.Merge(in.Source()))
			return in, out
		}},
		{"FlatMapMerge", stream.DefaultMergeBuffer, func(t *testing.T) (*streamtest.SourceProbe[int], *streamtest.SinkProbe[int]) {
			in := streamtest.NewSourceProbe[int](t)
			src := stream.Via(stream.Single(0), stream.FlatMapMerge(1, func(int) stream.Source[int] { return in.Source() }))
			out, _ := probeSource(t, context.Background(), src)
			return in, out
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, out := c.run(t)
			out.Request(1)
			in.ExpectRequest()
			in.SendNext(0)
			if got := out.ExpectNext(); got != 0 {
				t.Fatalf("first element = %d, want 0", got)
			}
			// size elements fill the buffer, one more waits in the producer.
			next := 1
			for ; next <= c.size+1; next++ {
				in.ExpectRequest()
				in.SendNext(next)
			}
			in.ExpectNoRequest(streamtest.Quiet)
			// Downstream takes one: the consumer moves the whole buffer into
			// its batch, yet only one element has left it.
			out.Request(1)
			if got := out.ExpectNext(); got != 1 {
				t.Fatalf("element = %d, want 1", got)
			}
			in.ExpectRequest()
			in.SendNext(next)
			in.ExpectNoRequest(streamtest.Quiet)
			if n := in.Pulls(); n != c.size+3 {
				t.Errorf("upstream pulled %d times with 2 elements taken, want %d (2 + %d held + 1 waiting)",
					n, c.size+3, c.size)
			}
			out.Request(next + 1)
			for want := 2; want <= next; want++ {
				if got := out.ExpectNext(); got != want {
					t.Fatalf("element = %d, want %d", got, want)
				}
			}
			in.ExpectRequest()
			in.SendComplete()
			out.ExpectComplete()
		})
	}
}

func probeFlowRig(f stream.Flow[int, int]) func(t *testing.T) (*streamtest.SourceProbe[int], *streamtest.SinkProbe[int]) {
	return func(t *testing.T) (*streamtest.SourceProbe[int], *streamtest.SinkProbe[int]) {
		p := streamtest.ProbeFlow(t, context.Background(), f)
		return p.In, p.Out
	}
}

// TestBufferOverflowLikePekko: Buffer(2), downstream takes 1 and then 2 while
// upstream has already offered 3; then upstream offers 4..10 while downstream
// takes nothing. The buffer holds {3, 4} when 5 arrives, as Pekko's buffer
// does, so each strategy keeps what Pekko keeps.
func TestBufferOverflowLikePekko(t *testing.T) {
	cases := []struct {
		strategy stream.OverflowStrategy
		last     int   // the last element offered before downstream resumes
		want     []int // everything downstream gets
		overflow bool  // the stream fails with *BufferOverflowError
	}{
		{stream.Backpressure, 5, []int{1, 2, 3, 4, 5}, false},
		{stream.DropHead, 10, []int{1, 2, 9, 10}, false},
		{stream.DropTail, 10, []int{1, 2, 3, 10}, false},
		{stream.DropNew, 10, []int{1, 2, 3, 4}, false},
		{stream.Fail, 5, []int{1, 2, 3, 4}, true},
	}
	for _, c := range cases {
		t.Run(c.strategy.String(), func(t *testing.T) {
			p := streamtest.ProbeFlow(t, context.Background(), stream.Buffer[int](2, c.strategy))
			p.Out.Request(1)
			p.In.ExpectRequest()
			p.In.SendNext(1)
			got := []int{p.Out.ExpectNext()}
			p.In.ExpectRequest()
			p.In.SendNext(2)
			p.In.ExpectRequest()
			p.In.SendNext(3)
			p.In.ExpectRequest() // 3 is in the buffer
			p.Out.Request(1)
			got = append(got, p.Out.ExpectNext())
			for v := 4; v <= c.last; v++ {
				if v > 4 {
					p.In.ExpectRequest()
				}
				p.In.SendNext(v)
			}
			switch {
			case c.overflow:
				var e *stream.BufferOverflowError
				if cause := p.In.ExpectCancellation(); !errors.As(cause, &e) {
					t.Fatalf("upstream cancelled with %v, want *BufferOverflowError", cause)
				}
				if n := p.In.Pulls(); n != c.last {
					t.Errorf("upstream pulled %d times, want %d: the buffer overflowed late", n, c.last)
				}
			case c.strategy == stream.Backpressure:
				p.In.ExpectNoRequest(streamtest.Quiet)
			default:
				p.In.ExpectRequest()
				p.In.SendComplete()
			}
			p.Out.Request(20)
			if c.strategy == stream.Backpressure {
				p.In.ExpectRequest()
				p.In.SendComplete()
			}
			var term error
			for term == nil {
				ev := p.Out.ExpectEvent()
				if ev.Err != nil {
					term = ev.Err
					break
				}
				got = append(got, ev.Value)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("downstream got (-want +got):\n%s", diff)
			}
			var e *stream.BufferOverflowError
			if c.overflow != errors.As(term, &e) || !c.overflow && term != stream.EOS {
				t.Errorf("terminal signal = %v, want overflow %v", term, c.overflow)
			}
		})
	}
}

// TestBuffersGrowOnDemand: a huge capacity costs nothing until elements
// arrive (Pekko's grouped(Int.MaxValue) idiom, a buffer sized as "unbounded").
func TestBuffersGrowOnDemand(t *testing.T) {
	const huge = 1 << 22
	flows := []struct {
		name string
		f    stream.Flow[int, int]
	}{
		{"Buffer", stream.Buffer[int](huge, stream.Backpressure)},
		{"BufferMaxInt", stream.Buffer[int](int(^uint(0)>>1), stream.DropHead)},
		{"MapAsync", stream.MapAsync(huge, func(_ context.Context, x int) (int, error) { return x, nil })},
		{"MapAsyncMaxInt", stream.MapAsync(int(^uint(0)>>1), func(_ context.Context, x int) (int, error) { return x, nil })},
		{"MapAsyncUnordered", stream.MapAsyncUnordered(huge, func(_ context.Context, x int) (int, error) { return x, nil })},
		{"MapAsyncUnorderedMaxInt", stream.MapAsyncUnordered(int(^uint(0)>>1), func(_ context.Context, x int) (int, error) { return x, nil })},
		{"Reorder", stream.Reorder(seqOf, 0, huge)},
		{"ReorderMaxInt", stream.Reorder(seqOf, 0, int(^uint(0)>>1))},
		{"FlatMapMergeMaxInt", stream.FlatMapMerge(int(^uint(0)>>1), func(x int) stream.Source[int] { return stream.Single(x) })},
		{"GroupedFlat", stream.ViaFlow(stream.Grouped[int](huge), stream.Map(func(g []int) int { return len(g) }))},
		{"GroupedMaxInt", stream.ViaFlow(stream.Grouped[int](int(^uint(0)>>1)), stream.Map(func(g []int) int { return len(g) }))},
	}
	for _, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			var err error
			bytes := allocBytes(func() {
				_, err = stream.RunWith(context.Background(), stream.Via(stream.FromSlice([]int{0, 1, 2}), f.f), stream.Ignore[int]())
			})
			if err != nil {
				t.Fatal(err)
			}
			if bytes > 64<<10 {
				t.Errorf("a 3-element run allocated %d bytes, want < 64 KiB", bytes)
			}
		})
	}
}

// allocBytes returns how many bytes f allocated (tests of this package do
// not run in parallel, so the figure is f's own).
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
