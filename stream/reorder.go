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
//
//	in  -- 1 -- 0 -- 3 -- 2 --|
//	      [ reorder(first 0, window 4) ]
//	out ------- 0 1 ------ 2 3 --|
func Reorder[T any](seq func(T) uint64, first uint64, window int) Flow[T, T] {
	if window < 1 {
		panic(fmt.Sprintf("stream: Reorder window %d < 1", window))
	}
	return NewFlow(func(_ *Materializer, up Puller[T]) Puller[T] {
		return &reorderStage[T]{up: up, seq: seq, next: first,
			slots: make([]T, window), full: make([]bool, window)}
	})
}

type reorderStage[T any] struct {
	up    Puller[T]
	seq   func(T) uint64
	next  uint64 // the sequence number to emit next
	slots []T    // ring indexed by sequence number modulo window
	full  []bool
	held  int // elements waiting in slots
	done  error
}

func (s *reorderStage[T]) Pull() (T, error) {
	var zero T
	w := uint64(len(s.slots))
	for s.done == nil {
		if i := s.next % w; s.full[i] {
			v := s.slots[i]
			s.slots[i], s.full[i] = zero, false
			s.held--
			s.next++
			return v, nil
		}
		v, err := s.up.Pull()
		if err != nil {
			if err == EOS && s.held > 0 {
				err = &ReorderError{Seq: s.next, Expected: s.next, Window: len(s.slots),
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
			s.fail(&ReorderError{Seq: n, Expected: s.next, Window: len(s.slots), Reason: reason})
		case s.full[n%w]:
			s.fail(&ReorderError{Seq: n, Expected: s.next, Window: len(s.slots), Reason: "duplicate"})
		default:
			s.slots[n%w], s.full[n%w] = v, true
			s.held++
		}
	}
	return zero, s.done
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
