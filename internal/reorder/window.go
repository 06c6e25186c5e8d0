// Package reorder is the one reorder of the module: a window of values
// held by sequence number, from the number awaited next on. stream.Reorder
// puts a stream's elements back in sequence with it, and the HTTP/1.1
// server (internal/h1) holds the exchanges of a connection in it, so that
// a response linked to its request (Response.Seq) finds it at once and
// responses leave in request order.
package reorder

import "math"

// Window holds values by sequence number: Next is the number awaited (the
// head), and a value may be put up to Limit numbers ahead of it. Storage is
// a ring indexed by number, which grows with the values actually held (up
// to the limit), so a wide window costs nothing until values arrive out of
// order. The zero Window awaits 0 and has no limit. Not safe for
// concurrent use.
//
//	put 2, put 0, put 3  ->  [0] _ [2] [3]    Next 0, Held 3, End 4
//	pop                  ->      _ [2] [3]    Next 1 (the head is missing)
type Window[T any] struct {
	next  uint64 // the number awaited
	limit uint64 // how far past next a value may be put; noLimit: none (0 in the zero Window)
	end   uint64 // one past the highest number held, while any is
	held  int
	slots []slot[T] // number n lives at n & mask
	mask  uint64
}

// slot is a place in the ring: a value and whether it is there (a value
// and its flag side by side, one bounds check and one cache line).
type slot[T any] struct {
	v    T
	full bool
}

// Fit is how a value fits a window (Put).
type Fit uint8

const (
	Fits   Fit = iota // held
	Behind            // its number is below Next: emitted (or skipped) already
	Beyond            // its number is Limit or more past Next
	Taken             // a value with that number is held already
)

// Reset empties w and makes it await first, with a window of limit numbers
// (0 or less: no limit). The storage it had is kept.
func (w *Window[T]) Reset(first uint64, limit int) {
	if w.held > 0 { // an empty ring is clear already (Pop, Clear)
		clear(w.slots)
	}
	w.next, w.end, w.held = first, first, 0
	w.limit = noLimit
	if limit > 0 {
		w.limit = uint64(limit)
	}
}

// noLimit is the limit of a window without one.
const noLimit = math.MaxUint64

// Next is the number awaited.
func (w *Window[T]) Next() uint64 { return w.next }

// Held is how many values w holds.
func (w *Window[T]) Held() int { return w.held }

// End is one past the highest number held; Next when w is empty.
func (w *Window[T]) End() uint64 { return w.end }

// Put holds v under number n, if it fits.
func (w *Window[T]) Put(n uint64, v T) Fit {
	// The common case in a few instructions: a number inside the ring as
	// it is and under the limit (a number behind next wraps around to a
	// huge distance), not taken.
	if d := n - w.next; d < uint64(len(w.slots)) && d < w.limit {
		if e := &w.slots[n&w.mask]; !e.full {
			e.v, e.full = v, true
			w.held++
			if n >= w.end {
				w.end = n + 1
			}
			return Fits
		}
	}
	return w.put(n, v)
}

// put is Put's other cases: a number behind, beyond, taken, or one the
// ring must grow for.
func (w *Window[T]) put(n uint64, v T) Fit {
	if w.limit == 0 { // the zero Window
		w.limit = noLimit
	}
	switch {
	case n < w.next:
		return Behind
	case n-w.next >= w.limit:
		return Beyond
	}
	if n-w.next >= uint64(len(w.slots)) {
		w.grow(n - w.next + 1)
	}
	e := &w.slots[n&w.mask]
	if e.full {
		return Taken
	}
	e.v, e.full = v, true
	w.held++
	w.end = max(w.end, n+1)
	return Fits
}

// Get returns the value held under n.
func (w *Window[T]) Get(n uint64) (v T, ok bool) {
	if n < w.next || n >= w.end {
		return v, false
	}
	e := &w.slots[n&w.mask]
	return e.v, e.full
}

// Head returns the value awaited, if it is held.
func (w *Window[T]) Head() (v T, ok bool) {
	if w.held == 0 {
		return v, false
	}
	e := &w.slots[w.next&w.mask]
	return e.v, e.full
}

// Pop removes the value awaited, if it is held, and awaits the next
// number.
func (w *Window[T]) Pop() (v T, ok bool) {
	if w.held == 0 {
		return v, false
	}
	e := &w.slots[w.next&w.mask]
	if !e.full {
		return v, false
	}
	v = e.v
	*e = slot[T]{}
	w.held--
	w.next++
	if w.held == 0 {
		w.end = w.next
	}
	return v, true
}

// Clear drops every value held (to let them be collected), leaving Next
// as it is.
func (w *Window[T]) Clear() {
	clear(w.slots)
	w.held, w.end = 0, w.next
}

// grow makes the ring hold at least need consecutive numbers from next on,
// moving the values held to their new places. Sizes are powers of two, so
// that a number's place is a mask, not a division.
func (w *Window[T]) grow(need uint64) {
	size := uint64(max(16, 2*len(w.slots)))
	for size < need {
		size *= 2
	}
	slots := make([]slot[T], size)
	for n := w.next; n < w.end; n++ {
		slots[n&(size-1)] = w.slots[n&w.mask]
	}
	w.slots, w.mask = slots, size-1
}
