package stream_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// assertPanics fails t unless f panics.
func assertPanics(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if recover() == nil {
			t.Errorf("%s did not panic", name)
		}
	}()
	f()
}

// termRecorder records every error a WatchTermination or Recover callback
// is called with. The callbacks run in the run's goroutine, the checks in
// the test's.
type termRecorder struct {
	mu    sync.Mutex
	calls []error
}

func (r *termRecorder) record(err error) {
	r.mu.Lock()
	r.calls = append(r.calls, err)
	r.mu.Unlock()
}

func (r *termRecorder) get() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.calls...)
}

// probedRun is what feedProbed saw of a flow.
type probedRun[O any] struct {
	out    []O
	term   error // stream.EOS on completion, else the failure
	cancel error // the cause upstream was cancelled with, if cancelCheck
}

// feedProbed runs f between probes with all the demand it wants: the source
// probe sends in and then end (stream.EOS for completion, a failure, or nil
// for nothing more). It returns the output up to the terminal signal and,
// when expectCancel is set, the cause of upstream's cancellation; when it is
// not set, a cancellation of upstream fails the test.
func feedProbed[I, O any](t *testing.T, f stream.Flow[I, O], in []I, end error, expectCancel bool) probedRun[O] {
	t.Helper()
	p := streamtest.ProbeFlow(t, context.Background(), f)
	p.Out.Request(len(in) + 2)
	p.In.SendNext(in...)
	switch {
	case end == stream.EOS:
		p.In.SendComplete()
	case end != nil:
		p.In.SendError(end)
	}
	var r probedRun[O]
	for {
		ev := p.Out.ExpectEvent()
		if ev.Err != nil {
			r.term = ev.Err
			break
		}
		r.out = append(r.out, ev.Value)
	}
	p.Wait(t)
	if expectCancel {
		r.cancel = p.In.ExpectCancellation()
	} else {
		// The run has finished: a cancellation would already be there.
		p.In.ExpectNoCancellation(time.Millisecond)
	}
	return r
}

var errBoom = errors.New("boom")

func TestTakeZero(t *testing.T) {
	p := streamtest.ProbeFlow(t, context.Background(), stream.Take[int](0))
	p.Out.Request(1)
	p.Out.ExpectComplete()
	if got := p.In.ExpectCancellation(); got != stream.ErrCancelled {
		t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", got)
	}
	if err := p.Wait(t); err != nil {
		t.Errorf("run error = %v", err)
	}
	if n := p.In.Pulls(); n != 0 {
		t.Errorf("Take(0) pulled upstream %d times", n)
	}
}

// TestTakeCancelsAfterNth checks that upstream is released as soon as the
// n-th element has gone by, not only at the next pull: a Take(1) of
// connections must close the listener while the first one is handled.
func TestTakeCancelsAfterNth(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			p := streamtest.ProbeFlow(t, context.Background(), stream.Take[int](n))
			p.Out.Request(n)
			for i := range n {
				p.In.ExpectRequest()
				p.In.SendNext(i * 10)
				if got := p.Out.ExpectNext(); got != i*10 {
					t.Fatalf("element %d = %d, want %d", i, got, i*10)
				}
			}
			if got := p.In.ExpectCancellation(); got != stream.ErrCancelled {
				t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", got)
			}
			p.Out.Request(1)
			p.Out.ExpectComplete()
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v", err)
			}
			if got := p.In.Pulls(); got != n {
				t.Errorf("upstream pulled %d times, want %d", got, n)
			}
		})
	}
}

func TestTakeOverFiveElements(t *testing.T) {
	r := feedProbed(t, stream.Take[int](2), []int{1, 2, 3, 4, 5}, nil, true)
	if diff := cmp.Diff([]int{1, 2}, r.out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if r.term != stream.EOS || r.cancel != stream.ErrCancelled {
		t.Errorf("terminal %v, upstream cancel %v; want EOS and ErrCancelled", r.term, r.cancel)
	}
}

func TestTakeNegativePanics(t *testing.T) {
	assertPanics(t, "Take(-1)", func() { stream.Take[int](-1) })
}

func TestTakeWhileStops(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         []int
		want       []int
		wantCancel bool
	}{
		{"first fails", []int{7, 1, 2}, nil, true},
		{"middle fails", []int{1, 2, 9, 3}, []int{1, 2}, true},
		{"none fails", []int{1, 2, 3}, []int{1, 2, 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []int
			f := stream.TakeWhile(func(x int) bool { seen = append(seen, x); return x < 4 })
			r := feedProbed(t, f, tc.in, stream.EOS, tc.wantCancel)
			if diff := cmp.Diff(tc.want, r.out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if r.term != stream.EOS {
				t.Errorf("terminal = %v, want completion", r.term)
			}
			if tc.wantCancel && r.cancel != stream.ErrCancelled {
				t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", r.cancel)
			}
			// The predicate sees each element once and nothing after the first false.
			if n := len(tc.want) + 1; tc.wantCancel && len(seen) != n {
				t.Errorf("predicate called on %v, want the first %d elements", seen, n)
			}
		})
	}
}

func TestGroupedFailureDropsPartialGroup(t *testing.T) {
	r := feedProbed(t, stream.Grouped[int](2), []int{1, 2, 3}, errBoom, false)
	if diff := cmp.Diff([][]int{{1, 2}}, r.out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if r.term != errBoom {
		t.Errorf("terminal = %v, want %v", r.term, errBoom)
	}
}

func TestGroupedSlicesAreDistinct(t *testing.T) {
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]int{1, 2, 3, 4, 5, 6, 7}), stream.Grouped[int](2)),
		stream.Collect[[]int]())
	if err != nil {
		t.Fatal(err)
	}
	// Scribbling over one group (including past its length, within its
	// capacity) must leave every other group as it was.
	for i := range got {
		g := got[i][:cap(got[i])]
		for j := range g {
			g[j] = -1
		}
		for k := i + 1; k < len(got); k++ {
			for _, v := range got[k] {
				if v == -1 {
					t.Fatalf("group %d shares memory with group %d", k, i)
				}
			}
		}
	}
}

func TestGroupedBadSizePanics(t *testing.T) {
	for _, n := range []int{0, -1} {
		assertPanics(t, "Grouped("+strconv.Itoa(n)+")", func() { stream.Grouped[int](n) })
	}
}

func TestRecover(t *testing.T) {
	for _, tc := range []struct {
		name      string
		end       error
		recovers  bool
		want      []int
		wantTerm  error
		wantCalls []error
	}{
		{"failure recovered", errBoom, true, []int{1, 2, -1}, stream.EOS, []error{errBoom}},
		{"failure passed on", errBoom, false, []int{1, 2}, errBoom, []error{errBoom}},
		{"completion untouched", stream.EOS, true, []int{1, 2}, stream.EOS, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec termRecorder
			f := stream.Recover(func(err error) (int, bool) { rec.record(err); return -1, tc.recovers })
			r := feedProbed(t, f, []int{1, 2}, tc.end, false)
			if diff := cmp.Diff(tc.want, r.out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if r.term != tc.wantTerm {
				t.Errorf("terminal = %v, want %v", r.term, tc.wantTerm)
			}
			if diff := cmp.Diff(tc.wantCalls, rec.get(), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("f called with (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecoverPanicInFusedUpstream(t *testing.T) {
	var rec termRecorder
	bad := panicOn(2)
	f := stream.ViaFlow(
		stream.Map(func(x int) int { bad(x); return x }),
		stream.Recover(func(err error) (int, bool) { rec.record(err); return -1, true }))
	r := feedProbed(t, f, []int{1, 2, 3}, stream.EOS, true)
	if diff := cmp.Diff([]int{1, -1}, r.out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if r.term != stream.EOS {
		t.Errorf("terminal = %v, want completion", r.term)
	}
	var pe *stream.PanicError
	calls := rec.get()
	if len(calls) != 1 || !errors.As(calls[0], &pe) || pe.Value != "boom at element" {
		t.Fatalf("f called with %v, want one *stream.PanicError", calls)
	}
	if r.cancel != pe {
		t.Errorf("upstream cancelled with %v, want the PanicError", r.cancel)
	}
}

// TestRecoverIgnoresCancellation checks that a cancellation from downstream
// that surfaces as the error of a blocked pull is not taken for a failure.
func TestRecoverIgnoresCancellation(t *testing.T) {
	var rec termRecorder
	p := streamtest.ProbeFlow(t, context.Background(),
		stream.Recover(func(err error) (int, bool) { rec.record(err); return -1, true }))
	p.Out.Request(1)
	p.In.ExpectRequest()
	p.Out.Cancel(nil)
	if got := p.In.ExpectCancellation(); got != stream.ErrCancelled {
		t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", got)
	}
	p.Wait(t)
	if calls := rec.get(); len(calls) != 0 {
		t.Errorf("f called with %v on a plain cancellation", calls)
	}
}

func TestWatchTermination(t *testing.T) {
	cause := errors.New("downstream failed")
	type drive func(t *testing.T, p *streamtest.Probed[int, int])
	send := func(end error) drive {
		return func(t *testing.T, p *streamtest.Probed[int, int]) {
			p.Out.Request(4)
			p.In.SendNext(1, 2)
			if end == stream.EOS {
				p.In.SendComplete()
			} else {
				p.In.SendError(end)
			}
			for _, want := range []int{1, 2} { // elements pass unchanged
				if got := p.Out.ExpectNext(); got != want {
					t.Errorf("element = %d, want %d", got, want)
				}
			}
			p.Out.ExpectEvent()
		}
	}
	cancel := func(c error, inFlight bool) drive {
		return func(t *testing.T, p *streamtest.Probed[int, int]) {
			p.Out.Request(1)
			p.In.SendNext(1)
			p.Out.ExpectNext()
			if inFlight {
				p.Out.Request(1)
				p.In.ExpectRequest() // the pull that got 1
				p.In.ExpectRequest() // the one now in flight
			}
			p.Out.Cancel(c)
			want := c
			if want == nil {
				want = stream.ErrCancelled
			}
			if got := p.In.ExpectCancellation(); got != want {
				t.Errorf("upstream cancelled with %v, want %v", got, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		run  drive
		want error
	}{
		{"completion", send(stream.EOS), nil},
		{"failure", send(errBoom), errBoom},
		{"plain cancel", cancel(nil, false), nil},
		{"plain cancel with pull in flight", cancel(nil, true), nil},
		{"failure cancel", cancel(cause, false), cause},
		{"failure cancel with pull in flight", cancel(cause, true), cause},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec termRecorder
			p := streamtest.ProbeFlow(t, context.Background(), stream.WatchTermination[int](rec.record))
			tc.run(t, p)
			p.Wait(t)
			if diff := cmp.Diff([]error{tc.want}, rec.get(), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("callback calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWatchTerminationInGraphs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		run      func(watch stream.Flow[int, int]) ([]int, error)
		wantOut  []int
		wantCall func(error) bool
	}{
		{"downstream Take", func(w stream.Flow[int, int]) ([]int, error) {
			return stream.RunWith(ctx, stream.Via(stream.FromSlice([]int{1, 2, 3}), w.Via(stream.Take[int](1))), stream.Collect[int]())
		}, []int{1}, func(err error) bool { return err == nil }},
		{"Head", func(w stream.Flow[int, int]) ([]int, error) {
			v, err := stream.RunWith(ctx, stream.Via(stream.FromSlice([]int{4, 5}), w), stream.Head[int]())
			return []int{v}, err
		}, []int{4}, func(err error) bool { return err == nil }},
		{"panicking sink", func(w stream.Flow[int, int]) ([]int, error) {
			_, err := stream.RunWith(ctx, stream.Via(stream.FromSlice([]int{1, 2}), w), stream.ForEach(panicOn(2)))
			return nil, err
		}, nil, func(err error) bool { var pe *stream.PanicError; return errors.As(err, &pe) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec termRecorder
			out, _ := tc.run(stream.WatchTermination[int](rec.record))
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if calls := rec.get(); len(calls) != 1 || !tc.wantCall(calls[0]) {
				t.Errorf("callback calls = %v", calls)
			}
		})
	}
}

func TestMapAndFilterExtra(t *testing.T) {
	ctx := context.Background()
	t.Run("Map changes the type", func(t *testing.T) {
		got, err := stream.RunWith(ctx, stream.Via(stream.FromSlice([]int{1, 22}), stream.Map(strconv.Itoa)),
			stream.Collect[string]())
		if err != nil || !cmp.Equal([]string{"1", "22"}, got) {
			t.Errorf("got %q, %v", got, err)
		}
	})
	t.Run("Filter dropping everything completes", func(t *testing.T) {
		r := feedProbed(t, stream.Filter(func(int) bool { return false }), []int{1, 2, 3}, stream.EOS, false)
		if len(r.out) != 0 || r.term != stream.EOS {
			t.Errorf("got %v then %v, want completion only", r.out, r.term)
		}
	})
	t.Run("Filter passes a failure after dropped elements", func(t *testing.T) {
		r := feedProbed(t, stream.Filter(func(x int) bool { return x > 1 }), []int{1, 1}, errBoom, false)
		if len(r.out) != 0 || r.term != errBoom {
			t.Errorf("got %v then %v, want failure %v only", r.out, r.term, errBoom)
		}
	})
	t.Run("FlowTo and ViaFlow compose in order", func(t *testing.T) {
		f := stream.ViaFlow(stream.Map(func(x int) int { return x + 1 }), stream.Map(func(x int) int { return x * 10 }))
		got, err := stream.RunWith(ctx, stream.FromSlice([]int{1, 2}), stream.FlowTo(f, stream.Collect[int]()))
		if err != nil || !cmp.Equal([]int{20, 30}, got) {
			t.Errorf("got %v, %v; want [20 30]", got, err)
		}
	})
}
