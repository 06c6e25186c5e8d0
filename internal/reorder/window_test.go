package reorder

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// state is what a window shows of itself.
type state struct {
	Next, End uint64
	Held      int
	Values    map[uint64]int // Get over [Next, End)
	Head      int            // -1: none
}

func stateOf(w *Window[int]) state {
	s := state{Next: w.Next(), End: w.End(), Held: w.Held(), Values: map[uint64]int{}, Head: -1}
	for n := w.Next(); n < w.End(); n++ {
		if v, ok := w.Get(n); ok {
			s.Values[n] = v
		}
	}
	if v, ok := w.Head(); ok {
		s.Head = v
	}
	return s
}

func TestWindowPut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first uint64
		limit int
		puts  []uint64 // each put under its own number, the value being 100 + number
		fits  []Fit
		want  state
	}{
		{name: "empty", first: 3, want: state{Next: 3, End: 3, Values: map[uint64]int{}, Head: -1}},
		{name: "in order", puts: []uint64{0, 1, 2}, fits: []Fit{Fits, Fits, Fits},
			want: state{Next: 0, End: 3, Held: 3, Values: map[uint64]int{0: 100, 1: 101, 2: 102}, Head: 100}},
		{name: "a gap at the head", puts: []uint64{2, 1}, fits: []Fit{Fits, Fits},
			want: state{Next: 0, End: 3, Held: 2, Values: map[uint64]int{1: 101, 2: 102}, Head: -1}},
		{name: "behind, beyond, taken", first: 5, limit: 4, puts: []uint64{4, 9, 8, 8},
			fits: []Fit{Behind, Beyond, Fits, Taken},
			want: state{Next: 5, End: 9, Held: 1, Values: map[uint64]int{8: 108}, Head: -1}},
		{name: "no limit grows past 16", puts: []uint64{40, 0},
			fits: []Fit{Fits, Fits},
			want: state{Next: 0, End: 41, Held: 2, Values: map[uint64]int{0: 100, 40: 140}, Head: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Window[int]
			w.Reset(tc.first, tc.limit)
			var fits []Fit
			for _, n := range tc.puts {
				fits = append(fits, w.Put(n, 100+int(n)))
			}
			if diff := cmp.Diff(tc.fits, fits); diff != "" {
				t.Errorf("fits (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, stateOf(&w)); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWindowRing runs values through a window for long enough that the
// ring wraps around many times, each block of numbers put in reverse
// order, one block wide enough to make the ring grow while it holds
// wrapped values, and checks that they come out in order.
func TestWindowRing(t *testing.T) {
	var w Window[int]
	w.Reset(0, 64)
	var got []int
	n := uint64(0)
	for block := range 100 {
		size := uint64(3)
		if block == 50 {
			size = 30
		}
		for k := n + size; k > n; k-- {
			if f := w.Put(k-1, int(k-1)); f != Fits {
				t.Fatalf("put %d: %v", k-1, f)
			}
		}
		n += size
		for {
			v, ok := w.Pop()
			if !ok {
				break
			}
			got = append(got, v)
		}
		if w.Held() != 0 {
			t.Fatalf("after block %d: %d values held", block, w.Held())
		}
	}
	if uint64(len(got)) != n {
		t.Fatalf("got %d values, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("value %d is %d, want %d", i, v, i)
		}
	}
	if len(w.slots) != 32 {
		t.Errorf("ring of %d slots, want 32 (grown once, for the wide block)", len(w.slots))
	}
}

func TestWindowPopAndClear(t *testing.T) {
	var w Window[*int]
	w.Reset(10, 4)
	a, b := new(int), new(int)
	w.Put(11, b)
	if _, ok := w.Pop(); ok {
		t.Fatal("Pop with the head missing returned a value")
	}
	w.Put(10, a)
	if v, ok := w.Pop(); !ok || v != a {
		t.Fatalf("Pop = %v, %v; want the head", v, ok)
	}
	if v, ok := w.Head(); !ok || v != b {
		t.Fatalf("Head = %v, %v; want 11's value", v, ok)
	}
	w.Clear()
	if w.Held() != 0 || w.Next() != 11 || w.End() != 11 {
		t.Fatalf("after Clear: Held %d, Next %d, End %d; want 0, 11, 11", w.Held(), w.Next(), w.End())
	}
	for _, e := range w.slots {
		if e.v != nil || e.full {
			t.Fatal("Clear left a value in the ring")
		}
	}
	if f := w.Put(15, a); f != Beyond {
		t.Fatalf("put 15 with Next 11, limit 4: %v, want Beyond", f)
	}
	if f := w.Put(14, a); f != Fits {
		t.Fatalf("put 14 with Next 11, limit 4: %v, want Fits", f)
	}
}

// BenchmarkWindowInOrder is the server's use: each value put under the
// next number, looked at as the head a few times, and popped.
func BenchmarkWindowInOrder(b *testing.B) {
	var w Window[*int]
	v := new(int)
	for n := uint64(0); n < uint64(b.N); n++ {
		w.Put(n, v)
		for range 3 {
			if h, ok := w.Head(); !ok || h != v {
				b.Fatal("no head")
			}
		}
		w.Pop()
	}
}
