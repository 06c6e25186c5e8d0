package stream

import "fmt"

// ReorderError is the failure of a [Reorder] stage: an element that does not
// fit the sequence, or a stream that ended with a gap.
type ReorderError struct {
	Seq      uint64 // the offending sequence number (the missing one for a gap)
	Expected uint64 // the next sequence number the stage was waiting for
	Window   int
	Reason   string
}

func (e *ReorderError) Error() string {
	return fmt.Sprintf("stream: reorder: %s: sequence %d while waiting for %d (window %d)",
		e.Reason, e.Seq, e.Expected, e.Window)
}

// Reorder puts elements back into sequence order: seq gives each element's
// sequence number, first is the number of the first element, and every number
// must appear exactly once. Elements that arrive early wait in a window of
// the given size; an element more than window-1 ahead of the one awaited, a
// duplicate, or a gap when upstream completes fails the stream with a
// [*ReorderError]. It is fused (no goroutine) and panics if window < 1.
// The window's memory grows with the elements actually held, so a huge
// window costs nothing until elements arrive out of order.
//
//	in  -- 1 -- 0 -- 3 -- 2 --|
//	      [ reorder(first 0, window 4) ]
//	out ------- 0 1 ------ 2 3 --|
func Reorder[T any](seq func(T) uint64, first uint64, window int) Flow[T, T] {
	if window < 1 {
		panic(fmt.Sprintf("stream: Reorder window %d < 1", window))
	}
	return NewFlow(func(_ *Materializer, up Puller[T]) Puller[T] {
		return &reorderStage[T]{up: up, seq: seq, next: first, window: window}
	})
}

type reorderStage[T any] struct {
	up     Puller[T]
	seq    func(T) uint64
	next   uint64 // the sequence number to emit next
	window int
	slots  []T // ring indexed by sequence number modulo len(slots) <= window
	full   []bool
	held   int // elements waiting in slots
	done   error
}

func (s *reorderStage[T]) Pull() (T, error) {
	var zero T
	w := uint64(s.window)
	for s.done == nil {
		if i := s.next % uint64(max(len(s.slots), 1)); s.held > 0 && s.full[i] {
			v := s.slots[i]
			s.slots[i], s.full[i] = zero, false
			s.held--
			s.next++
			return v, nil
		}
		v, err := s.up.Pull()
		if err != nil {
			if err == EOS && s.held > 0 {
				err = &ReorderError{Seq: s.next, Expected: s.next, Window: s.window,
					Reason: "completed with elements missing"}
			}
			s.done = err
			break
		}
		n := s.seq(v)
		switch {
		case n == s.next:
			s.next++
			return v, nil
		case n < s.next || n-s.next >= w:
			reason := "outside the window"
			if n < s.next {
				reason = "already emitted"
			}
			s.fail(&ReorderError{Seq: n, Expected: s.next, Window: s.window, Reason: reason})
		default:
			if n-s.next >= uint64(len(s.slots)) {
				s.grow(n - s.next + 1)
			}
			i := n % uint64(len(s.slots))
			if s.full[i] {
				s.fail(&ReorderError{Seq: n, Expected: s.next, Window: s.window, Reason: "duplicate"})
				break
			}
			s.slots[i], s.full[i] = v, true
			s.held++
		}
	}
	return zero, s.done
}

// grow makes the ring hold at least need consecutive sequence numbers from
// next on (need <= window), moving the held elements to their new places.
func (s *reorderStage[T]) grow(need uint64) {
	size := min(uint64(s.window), max(need, 2*uint64(len(s.slots)), 16))
	slots, full := make([]T, size), make([]bool, size)
	for i := range uint64(len(s.slots)) {
		from := (s.next + i) % uint64(len(s.slots))
		if s.full[from] {
			to := (s.next + i) % size
			slots[to], full[to] = s.slots[from], true
		}
	}
	s.slots, s.full = slots, full
}

func (s *reorderStage[T]) fail(err error) {
	s.done = err
	s.up.Cancel(err)
	clear(s.slots)
}

func (s *reorderStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.fail(cause)
	}
}
