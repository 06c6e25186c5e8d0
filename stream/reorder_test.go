package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// seqOf numbers an int element by its value.
func seqOf(x int) uint64 { return uint64(x) }

func TestReorder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		first   uint64
		window  int
		in      []int
		end     error // what upstream ends with
		want    []int
		wantErr *stream.ReorderError // nil: the run ends with end
		// wantCancel: upstream is cancelled with the ReorderError.
		wantCancel bool
	}{
		{name: "in order, window 1", window: 1, in: []int{0, 1, 2, 3}, end: stream.EOS,
			want: []int{0, 1, 2, 3}},
		{name: "swapped pairs", window: 2, in: []int{1, 0, 3, 2}, end: stream.EOS,
			want: []int{0, 1, 2, 3}},
		{name: "reversed, window just wide enough", window: 4, in: []int{3, 2, 1, 0}, end: stream.EOS,
			want: []int{0, 1, 2, 3}},
		{name: "ring wraps around", window: 3,
			in: []int{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9}, end: stream.EOS,
			want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{name: "first is not zero", first: 10, window: 2, in: []int{11, 10, 12}, end: stream.EOS,
			want: []int{10, 11, 12}},
		{name: "empty", window: 2, end: stream.EOS},
		{name: "outside the window", window: 2, in: []int{0, 3, 1}, end: stream.EOS, want: []int{0},
			wantErr:    &stream.ReorderError{Seq: 3, Expected: 1, Window: 2, Reason: "outside the window"},
			wantCancel: true},
		{name: "first element outside the window", first: 5, window: 1, in: []int{6}, end: stream.EOS,
			wantErr:    &stream.ReorderError{Seq: 6, Expected: 5, Window: 1, Reason: "outside the window"},
			wantCancel: true},
		{name: "duplicate while waiting", window: 4, in: []int{2, 2}, end: stream.EOS,
			wantErr:    &stream.ReorderError{Seq: 2, Expected: 0, Window: 4, Reason: "duplicate"},
			wantCancel: true},
		{name: "already emitted", window: 4, in: []int{0, 1, 0}, end: stream.EOS, want: []int{0, 1},
			wantErr:    &stream.ReorderError{Seq: 0, Expected: 2, Window: 4, Reason: "already emitted"},
			wantCancel: true},
		{name: "below first", first: 5, window: 4, in: []int{4}, end: stream.EOS,
			wantErr:    &stream.ReorderError{Seq: 4, Expected: 5, Window: 4, Reason: "already emitted"},
			wantCancel: true},
		{name: "completion with a gap", window: 4, in: []int{0, 2, 3}, end: stream.EOS, want: []int{0},
			wantErr: &stream.ReorderError{Seq: 1, Expected: 1, Window: 4, Reason: "completed with elements missing"}},
		{name: "failure with elements held", window: 4, in: []int{1, 2}, end: errBoom},
		{name: "failure after elements", window: 4, in: []int{1, 0}, end: errBoom, want: []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := feedProbed(t, stream.Reorder(seqOf, tc.first, tc.window), tc.in, tc.end, tc.wantCancel)
			if diff := cmp.Diff(tc.want, r.out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if tc.wantErr == nil {
				if r.term != tc.end {
					t.Errorf("terminal = %v, want %v", r.term, tc.end)
				}
				return
			}
			var re *stream.ReorderError
			if !errors.As(r.term, &re) {
				t.Fatalf("terminal = %v, want a *stream.ReorderError", r.term)
			}
			if diff := cmp.Diff(tc.wantErr, re); diff != "" {
				t.Errorf("ReorderError (-want +got):\n%s", diff)
			}
			if !strings.Contains(re.Error(), tc.wantErr.Reason) {
				t.Errorf("Error() = %q does not give the reason %q", re.Error(), tc.wantErr.Reason)
			}
			if tc.wantCancel && r.cancel != re {
				t.Errorf("upstream cancelled with %v, want the ReorderError %v", r.cancel, re)
			}
		})
	}
}

// TestReorderHoldsBackEarlyElements checks that an early element is not
// emitted before the one it waits for, and that the stage then hands out
// the waiting run without pulling upstream again.
func TestReorderHoldsBackEarlyElements(t *testing.T) {
	p := streamtest.ProbeFlow(t, context.Background(), stream.Reorder(seqOf, 0, 4))
	p.Out.Request(1)
	p.In.SendNext(2, 1)
	p.Out.ExpectNoMessage(streamtest.Quiet)
	if n := p.In.Pulls(); n != 3 {
		t.Errorf("upstream pulled %d times, want 3 (2, 1, then waiting for 0)", n)
	}
	p.In.SendNext(0)
	if got := p.Out.ExpectNext(); got != 0 {
		t.Fatalf("first element = %d, want 0", got)
	}
	p.Out.Request(2)
	for _, want := range []int{1, 2} {
		if got := p.Out.ExpectNext(); got != want {
			t.Fatalf("element = %d, want %d", got, want)
		}
	}
	if n := p.In.Pulls(); n != 3 {
		t.Errorf("upstream pulled %d times, want still 3", n)
	}
	p.Out.Request(1)
	p.In.SendComplete()
	p.Out.ExpectComplete()
	if err := p.Wait(t); err != nil {
		t.Errorf("run error = %v", err)
	}
}

func TestReorderRunFails(t *testing.T) {
	_, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]int{0, 5}), stream.Reorder(seqOf, 0, 2)), stream.Ignore[int]())
	var re *stream.ReorderError
	if !errors.As(err, &re) || re.Seq != 5 {
		t.Errorf("run error = %v, want the ReorderError for 5", err)
	}
}

func TestReorderBadWindowPanics(t *testing.T) {
	for _, w := range []int{0, -3} {
		assertPanics(t, "Reorder window", func() { stream.Reorder(seqOf, 0, w) })
	}
}
