package stream_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

var allOverflowStrategies = []stream.OverflowStrategy{
	stream.Backpressure, stream.DropHead, stream.DropTail, stream.DropNew, stream.Fail,
}

// TestBufferOverflow fills a Buffer of 3 while downstream does not pull.
// Downstream first takes element 1 (which starts the producer), then asks
// for nothing; the producer goes on pulling 2, 3, 4, ... on its own until
// the strategy stops it. Only then does downstream ask for more, and it gets
// the buffer's content in one batch.
func TestBufferOverflow(t *testing.T) {
	const size = 3
	cases := []struct {
		strategy stream.OverflowStrategy
		last     int   // the last element upstream sends before the request
		want     []int // what downstream gets after the request
		after    []int // sent after the request (Backpressure only)
	}{
		{stream.Backpressure, 5, []int{2, 3, 4, 5}, []int{6, 7}},
		{stream.DropHead, 7, []int{5, 6, 7}, nil},
		{stream.DropTail, 7, []int{2, 3, 7}, nil},
		{stream.DropNew, 7, []int{2, 3, 4}, nil},
		{stream.Fail, 5, []int{2, 3, 4}, nil},
	}
	for _, c := range cases {
		t.Run(c.strategy.String(), func(t *testing.T) {
			p := streamtest.ProbeFlow(t, context.Background(), stream.Buffer[int](size, c.strategy))
			p.Out.Request(1)
			p.In.ExpectRequest()
			p.In.SendNext(1)
			if got := p.Out.ExpectNext(); got != 1 {
				t.Fatalf("first element = %d, want 1", got)
			}
			// Each request proves the previous element has been buffered.
			for v := 2; v <= c.last; v++ {
				p.In.ExpectRequest()
				p.In.SendNext(v)
			}
			var overflow *stream.BufferOverflowError
			switch c.strategy {
			case stream.Backpressure:
				// 2, 3, 4 fill the buffer; 5 waits in the producer.
				p.In.ExpectNoRequest(streamtest.Quiet)
			case stream.Fail:
				cause := p.In.ExpectCancellation()
				if !errors.As(cause, &overflow) || overflow.Size != size {
					t.Fatalf("upstream cancelled with %v, want *BufferOverflowError{Size: %d}", cause, size)
				}
			default:
				p.In.ExpectRequest() // 7 was handled: the producer asks for more
				p.In.SendComplete()
			}
			p.Out.ExpectNoMessage(streamtest.Quiet)

			p.Out.Request(20)
			want := slices.Concat(c.want, c.after)
			var got []int
			for range c.want {
				got = append(got, p.Out.ExpectNext())
			}
			if c.strategy == stream.Backpressure {
				p.In.ExpectRequest()
				p.In.SendNext(c.after...)
				p.In.SendComplete()
				for range c.after {
					got = append(got, p.Out.ExpectNext())
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("elements after the request (-want +got):\n%s", diff)
			}
			if c.strategy == stream.Fail {
				err := p.Out.ExpectError()
				var e *stream.BufferOverflowError
				if !errors.As(err, &e) || e != overflow {
					t.Errorf("failure = %v, want the *BufferOverflowError that cancelled upstream", err)
				}
				if err := p.Wait(t); !errors.As(err, &e) {
					t.Errorf("run error = %v, want *BufferOverflowError", err)
				}
				return
			}
			p.Out.ExpectComplete()
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v, want nil", err)
			}
		})
	}
}

func TestBufferOverflowErrorMessage(t *testing.T) {
	got := (&stream.BufferOverflowError{Size: 7}).Error()
	if want := "stream: buffer overflow: more than 7 elements waiting"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestBufferBadSizePanics(t *testing.T) {
	for _, size := range []int{0, -1} {
		for _, s := range allOverflowStrategies {
			t.Run(s.String(), func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Errorf("Buffer(%d, %v) did not panic", size, s)
					}
				}()
				stream.Buffer[int](size, s)
			})
		}
	}
}

func TestOverflowStrategyString(t *testing.T) {
	cases := []struct {
		s    stream.OverflowStrategy
		want string
	}{
		{stream.Backpressure, "backpressure"},
		{stream.DropHead, "drop-head"},
		{stream.DropTail, "drop-tail"},
		{stream.DropNew, "drop-new"},
		{stream.Fail, "fail"},
		{stream.OverflowStrategy(42), "OverflowStrategy(42)"},
		{stream.OverflowStrategy(-1), "OverflowStrategy(-1)"},
	}
	for _, c := range cases {
		if got := c.s.String(); got != c.want {
			t.Errorf("OverflowStrategy(%d).String() = %q, want %q", int(c.s), got, c.want)
		}
	}
}

// TestAsyncRunsAhead: once started, the upstream of an Async boundary keeps
// pulling while downstream asks for nothing, until the buffer is full.
func TestAsyncRunsAhead(t *testing.T) {
	p := streamtest.ProbeFlow(t, context.Background(), stream.Async[int]())
	p.Out.Request(1)
	p.In.ExpectRequest()
	p.In.SendNext(0)
	if got := p.Out.ExpectNext(); got != 0 {
		t.Fatalf("first element = %d, want 0", got)
	}
	// DefaultAsyncBuffer elements fill the buffer and one more waits in the
	// producer; then it stops.
	n := stream.DefaultAsyncBuffer + 1
	for v := 1; v <= n; v++ {
		p.In.ExpectRequest()
		p.In.SendNext(v)
	}
	p.In.ExpectNoRequest(streamtest.Quiet)
	p.Out.Request(n + 1)
	for v := 1; v <= n; v++ {
		if got := p.Out.ExpectNext(); got != v {
			t.Fatalf("element = %d, want %d", got, v)
		}
	}
	p.In.ExpectRequest()
	p.In.SendComplete()
	p.Out.ExpectComplete()
}

// TestAsyncRunsUpstreamConcurrently: the sink holds on to the first element
// until the stage upstream of Async has produced every element, which only
// works if upstream runs in a goroutine of its own.
func TestAsyncRunsUpstreamConcurrently(t *testing.T) {
	const n = 5
	produced := make(chan int, n)
	src := stream.Via(stream.Via(stream.FromSlice(rangeInts(n)), stream.Map(func(x int) int {
		produced <- x
		return x
	})), stream.Async[int]())
	var got []int
	_, err := stream.RunWith(context.Background(), src, stream.ForEach(func(x int) {
		if x == 0 {
			for range n {
				select {
				case <-produced:
				case <-time.After(streamtest.Timeout):
					panic("upstream did not run while the sink was busy")
				}
			}
		}
		got = append(got, x)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rangeInts(n), got); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestAsyncPipelineStress runs a pipeline with four async boundaries many
// times (meant for -race) and checks the exact output and that every
// goroutine is gone afterwards.
func TestAsyncPipelineStress(t *testing.T) {
	const n, runs = 10000, 20
	var want []int
	for x := range n {
		if y := 3*x + 1; y%2 == 0 {
			want = append(want, y)
		}
	}
	src := stream.Via(stream.FromSlice(rangeInts(n)), stream.Map(func(x int) int { return 3 * x }))
	src = stream.Via(src, stream.Async[int]())
	src = stream.Via(src, stream.MapAsync(4, func(_ context.Context, x int) (int, error) { return x + 1, nil }))
	src = stream.Via(src, stream.Buffer[int](8, stream.Backpressure))
	src = stream.Via(src, stream.Filter(func(x int) bool { return x%2 == 0 }))

	base := runtime.NumGoroutine()
	for i := range runs {
		got, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("run %d: output (-want +got):\n%s", i, diff)
		}
	}
	deadline := time.Now().Add(streamtest.Timeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left after the runs, %d before:\n%s",
				runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBufferUpstreamFailureAfterElements: the elements buffered before an
// upstream failure are delivered, then the failure.
func TestBufferUpstreamFailureAfterElements(t *testing.T) {
	boom := errors.New("buffer test: boom")
	p := streamtest.ProbeFlow(t, context.Background(), stream.Buffer[int](4, stream.Backpressure))
	p.Out.Request(1)
	p.In.ExpectRequest()
	p.In.SendNext(1)
	p.Out.ExpectNext()
	p.In.ExpectRequest()
	p.In.SendNext(2, 3)
	p.In.SendError(boom)
	p.Out.Request(5)
	for _, want := range []int{2, 3} {
		if got := p.Out.ExpectNext(); got != want {
			t.Fatalf("element = %d, want %d", got, want)
		}
	}
	if err := p.Out.ExpectError(); !errors.Is(err, boom) {
		t.Errorf("failure = %v, want %v", err, boom)
	}
	if err := p.Wait(t); !errors.Is(err, boom) {
		t.Errorf("run error = %v, want %v", err, boom)
	}
}
