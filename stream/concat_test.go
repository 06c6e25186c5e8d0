package stream_test

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// concatRig is Concat over n source probes, run into a sink probe.
type concatRig struct {
	parts []*streamtest.SourceProbe[int]
	out   *streamtest.SinkProbe[int]
	run   *stream.Running[stream.NotUsed, stream.NotUsed]
}

func startConcat(t *testing.T, ctx context.Context, n int) *concatRig {
	t.Helper()
	r := &concatRig{out: streamtest.NewSinkProbe[int](t)}
	srcs := make([]stream.Source[int], n)
	for i := range n {
		p := streamtest.NewSourceProbe[int](t)
		r.parts = append(r.parts, p)
		srcs[i] = p.Source()
	}
	r.run = stream.To(stream.Concat(srcs...), r.out.Sink()).Start(ctx)
	t.Cleanup(func() {
		r.run.Cancel(errors.New("test ended"))
		<-r.run.Done()
	})
	return r
}

func (r *concatRig) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.run.Done():
	case <-time.After(streamtest.Timeout):
		t.Fatalf("run did not finish")
	}
	_, err := r.run.Wait()
	return err
}

func (r *concatRig) expectNext(t *testing.T, want ...int) {
	t.Helper()
	for _, w := range want {
		if got := r.out.ExpectNext(); got != w {
			t.Fatalf("element = %d, want %d", got, w)
		}
	}
}

func TestConcatOrder(t *testing.T) {
	r := startConcat(t, context.Background(), 3)
	a, b, c := r.parts[0], r.parts[1], r.parts[2]
	r.out.Request(2)
	a.SendNext(1, 2)
	r.expectNext(t, 1, 2)
	// The second source is not touched while the first has not completed.
	r.out.ExpectNoMessage(streamtest.Quiet)
	if n := b.Pulls(); n != 0 {
		t.Errorf("second source pulled %d times before the first completed", n)
	}
	r.out.Request(3)
	a.SendComplete()
	b.ExpectRequest()
	b.SendNext(3)
	b.SendComplete()
	c.SendComplete() // an empty last part adds nothing
	r.expectNext(t, 3)
	r.out.Request(1)
	r.out.ExpectComplete()
	if err := r.wait(t); err != nil {
		t.Errorf("run error = %v", err)
	}
	for i, p := range r.parts {
		p.ExpectNoCancellation(time.Millisecond)
		if i > 0 && p.Pulls() == 0 {
			t.Errorf("part %d never pulled", i)
		}
	}
}

func TestConcatFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failing   int // the part that fails; the ones before it complete
		cancelled []int
	}{
		{"first fails", 0, []int{1, 2}},
		{"middle fails", 1, []int{2}},
		{"last fails", 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startConcat(t, context.Background(), 3)
			r.out.Request(10)
			for i := range tc.failing {
				r.parts[i].SendNext(i)
				r.parts[i].SendComplete()
				r.expectNext(t, i)
			}
			boom := errors.New("part failed")
			r.parts[tc.failing].SendError(boom)
			if err := r.out.ExpectError(); err != boom {
				t.Errorf("failure = %v, want %v", err, boom)
			}
			if err := r.wait(t); err != boom {
				t.Errorf("run error = %v, want %v", err, boom)
			}
			for i, p := range r.parts {
				if i > tc.failing {
					if got := p.ExpectCancellation(); got != boom {
						t.Errorf("part %d cancelled with %v, want %v", i, got, boom)
					}
					if n := p.Pulls(); n != 0 {
						t.Errorf("part %d pulled %d times after an earlier part failed", i, n)
					}
				} else {
					p.ExpectNoCancellation(time.Millisecond)
				}
			}
		})
	}
}

func TestConcatCancel(t *testing.T) {
	downstream := errors.New("downstream failed")
	for _, tc := range []struct {
		name      string
		started   bool // downstream has pulled before cancelling
		completed int  // parts seen to complete before the cancellation
		inFlight  bool // a pull is waiting on the current part
		cause     error
	}{
		{"before anything", false, 0, false, downstream},
		{"during the first part", true, 0, false, downstream},
		{"during the second part", true, 1, false, downstream},
		{"with a pull in flight", true, 1, true, downstream},
		{"plain cancel with a pull in flight", true, 1, true, stream.ErrCancelled},
		{"during the last part", true, 2, false, downstream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startConcat(t, context.Background(), 3)
			if tc.started {
				var want []int
				for i := range tc.completed {
					r.parts[i].SendNext(i)
					r.parts[i].SendComplete()
					want = append(want, i)
				}
				cur := r.parts[tc.completed]
				if !tc.inFlight {
					cur.SendNext(100)
					want = append(want, 100)
				}
				r.out.Request(len(want))
				r.expectNext(t, want...)
				if tc.inFlight {
					r.out.Request(1)
					cur.ExpectRequest()
				}
			}
			r.out.Cancel(tc.cause)
			for i, p := range r.parts[tc.completed:] {
				if got := p.ExpectCancellation(); got != tc.cause {
					t.Errorf("part %d cancelled with %v, want %v", tc.completed+i, got, tc.cause)
				}
			}
			if err := r.wait(t); err != nil {
				t.Errorf("run error = %v, want nil after a cancellation", err)
			}
			for i := range tc.completed {
				r.parts[i].ExpectNoCancellation(time.Millisecond)
			}
		})
	}
}

func TestConcatContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := startConcat(t, ctx, 2)
	r.out.Request(1)
	r.parts[0].ExpectRequest()
	cancel()
	for i, p := range r.parts {
		if got := p.ExpectCancellation(); !errors.Is(got, context.Canceled) {
			t.Errorf("part %d cancelled with %v, want context.Canceled", i, got)
		}
	}
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("run error = %v, want context.Canceled", err)
	}
}

func TestConcatWithFusedSources(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		src     stream.Source[int]
		want    []int
		wantErr error
	}{
		{"no sources", stream.Concat[int](), nil, nil},
		{"only empty sources", stream.Concat(stream.Empty[int](), stream.Empty[int]()), nil, nil},
		{"slices", stream.Concat(stream.FromSlice([]int{1, 2}), stream.Empty[int](), stream.Single(3)),
			[]int{1, 2, 3}, nil},
		{"failure after elements", stream.Concat(stream.Single(1), stream.Failed[int](boom), stream.Single(2)),
			[]int{1}, boom},
		{"nested", stream.Concat(stream.Concat(stream.Single(1), stream.Single(2)), stream.Single(3)),
			[]int{1, 2, 3}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for run := range 2 { // a blueprint runs the same every time
				got, err := stream.RunWith(ctx, tc.src, stream.Collect[int]())
				if err != tc.wantErr {
					t.Errorf("run %d: error = %v, want %v", run, err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("run %d: output (-want +got):\n%s", run, diff)
				}
			}
		})
	}
}

func TestConcatTakeCancelsRest(t *testing.T) {
	a, b := streamtest.NewSourceProbe[int](t), streamtest.NewSourceProbe[int](t)
	a.SendNext(1, 2)
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.Concat(a.Source(), b.Source()), stream.Take[int](1)), stream.Collect[int]())
	if err != nil || !cmp.Equal([]int{1}, got) {
		t.Fatalf("got %v, %v; want [1]", got, err)
	}
	for i, p := range []*streamtest.SourceProbe[int]{a, b} {
		if c := p.ExpectCancellation(); c != stream.ErrCancelled {
			t.Errorf("part %d cancelled with %v, want stream.ErrCancelled", i, c)
		}
	}
	if n := b.Pulls(); n != 0 {
		t.Errorf("second part pulled %d times", n)
	}
}

func TestConcatPanicInPart(t *testing.T) {
	var panicky iter.Seq[int] = func(yield func(int) bool) {
		yield(1)
		panic("part broke")
	}
	b := streamtest.NewSourceProbe[int](t)
	got, err := stream.RunWith(context.Background(), stream.Concat(stream.FromSeq(panicky), b.Source()),
		stream.Collect[int]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "part broke" {
		t.Fatalf("run error = %v, want the *stream.PanicError", err)
	}
	if !cmp.Equal([]int{1}, got) {
		t.Errorf("output = %v, want [1]", got)
	}
	if c := b.ExpectCancellation(); c != pe {
		t.Errorf("second part cancelled with %v, want the PanicError", c)
	}
}
