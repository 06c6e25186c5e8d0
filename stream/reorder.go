package stream

import (
	"fmt"

	"github.com/streamhttp/streamhttp/internal/reorder"
)

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
		s := &reorderStage[T]{up: up, seq: seq, window: window}
		s.held.Reset(first, window)
		return s
	})
}

// reorderStage holds the early elements in a reorder.Window: the same
// code as the server's reorder of responses (internal/h1).
type reorderStage[T any] struct {
	up     Puller[T]
	seq    func(T) uint64
	window int
	held   reorder.Window[T] // awaits the sequence number to emit next
	done   error
}

func (s *reorderStage[T]) Pull() (T, error) {
	var zero T
	for s.done == nil {
		if v, ok := s.held.Pop(); ok {
			return v, nil
		}
		v, err := s.up.Pull()
		if err != nil {
			if err == EOS && s.held.Held() > 0 {
				err = &ReorderError{Seq: s.held.Next(), Expected: s.held.Next(), Window: s.window,
					Reason: "completed with elements missing"}
			}
			s.done = err
			break
		}
		n, next := s.seq(v), s.held.Next()
		switch s.held.Put(n, v) {
		case reorder.Fits: // held: popped above once it is the one awaited
		case reorder.Behind:
			s.fail(&ReorderError{Seq: n, Expected: next, Window: s.window, Reason: "already emitted"})
		case reorder.Beyond:
			s.fail(&ReorderError{Seq: n, Expected: next, Window: s.window, Reason: "outside the window"})
		case reorder.Taken:
			s.fail(&ReorderError{Seq: n, Expected: next, Window: s.window, Reason: "duplicate"})
		}
	}
	return zero, s.done
}

func (s *reorderStage[T]) fail(err error) {
	s.done = err
	s.up.Cancel(err)
	s.held.Clear()
}

func (s *reorderStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.fail(cause)
	}
}
