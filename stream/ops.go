package stream

import "fmt"

// Map applies f to every element. It is fused: f runs in the goroutine that
// pulls, with no channel hop. After upstream has ended, a Cancel is not
// passed on to it.
//
//	in  -- 1 -- 2 -- 3 --|
//	      [ map(x => x*10) ]
//	out -- 10 - 20 - 30 -|
func Map[I, O any](f func(I) O) Flow[I, O] {
	return NewFlow(func(_ *Materializer, up Puller[I]) Puller[O] {
		if bup, ok := up.(batchPuller[I]); ok {
			return &mapBatchStage[I, O]{mapStage: mapStage[I, O]{up: up, f: f}, bup: bup}
		}
		return &mapStage[I, O]{up: up, f: f}
	})
}

type mapStage[I, O any] struct {
	up    Puller[I]
	f     func(I) O
	ended bool // upstream terminated or was cancelled: Cancel is a no-op
}

func (s *mapStage[I, O]) Pull() (O, error) {
	v, err := s.up.Pull()
	if err != nil {
		s.ended = true
		var zero O
		return zero, err
	}
	return s.f(v), nil
}

func (s *mapStage[I, O]) Cancel(cause error) {
	if !s.ended {
		s.ended = true
		s.up.Cancel(cause)
	}
}

// Filter passes on the elements for which keep returns true. While it
// rejects element after element it looks at its island's context every 256
// elements, so a cancelled run stops even over an endless synchronous
// source that never passes the test.
//
//	in  -- 1 -- 2 -- 3 -- 4 --|
//	      [ filter(even) ]
//	out ------- 2 ------- 4 --|
func Filter[T any](keep func(T) bool) Flow[T, T] {
	return NewFlow(func(m *Materializer, up Puller[T]) Puller[T] {
		if bup, ok := up.(batchPuller[T]); ok {
			return &filterBatchStage[T]{filterStage: filterStage[T]{m: m, up: up, keep: keep}, bup: bup}
		}
		return &filterStage[T]{m: m, up: up, keep: keep}
	})
}

// stopCheckEvery is how many elements a fused stage may consume in one Pull
// without emitting before it looks at its island's context: a Filter that
// rejects everything from an endless synchronous source must still stop
// when the run is cancelled, and the look costs too much to take it for
// every element.
const stopCheckEvery = 256

type filterStage[T any] struct {
	m     *Materializer
	up    Puller[T]
	keep  func(T) bool
	ended bool // upstream terminated or was cancelled: Cancel is a no-op
}

func (s *filterStage[T]) Pull() (T, error) {
	for i := 1; ; i++ {
		v, err := s.up.Pull()
		if err != nil {
			s.ended = true
			return v, err
		}
		if s.keep(v) {
			return v, nil
		}
		if i%stopCheckEvery == 0 && s.m.Stopped() {
			return v, s.stop()
		}
	}
}

// stop ends a Pull that the island's cancellation interrupted: upstream is
// cancelled with the cause, which is also the Pull's terminal error.
func (s *filterStage[T]) stop() error {
	cause := s.m.Cause()
	s.Cancel(cause)
	return cause
}

func (s *filterStage[T]) Cancel(cause error) {
	if !s.ended {
		s.ended = true
		s.up.Cancel(cause)
	}
}

// Take passes on the first n elements, then cancels upstream (with
// [ErrCancelled]) and completes. It panics if n < 0.
//
//	in  -- 1 -- 2 -- 3 -- 4 --
//	      [ take(2) ]
//	out -- 1 -- 2|
func Take[T any](n int) Flow[T, T] {
	if n < 0 {
		panic(fmt.Sprintf("stream: Take(%d): negative count", n))
	}
	return NewFlow(func(_ *Materializer, up Puller[T]) Puller[T] {
		return &takeStage[T]{up: up, left: n}
	})
}

type takeStage[T any] struct {
	up   Puller[T]
	left int
	done error
}

func (s *takeStage[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	if s.left == 0 {
		s.done = EOS
		s.up.Cancel(ErrCancelled)
		return zero, EOS
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = err
		return zero, err
	}
	// Release upstream as soon as the n-th element is out, not at the next
	// pull: downstream may hold on to it for long.
	s.left--
	if s.left == 0 {
		s.done = EOS
		s.up.Cancel(ErrCancelled)
	}
	return v, nil
}

func (s *takeStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// TakeWhile passes on elements while ok returns true; at the first element for
// which it returns false it cancels upstream and completes (that element is
// dropped).
//
//	in  -- 1 -- 2 -- 5 -- 3 --
//	      [ takeWhile(x < 4) ]
//	out -- 1 -- 2 -|
func TakeWhile[T any](ok func(T) bool) Flow[T, T] {
	return NewFlow(func(_ *Materializer, up Puller[T]) Puller[T] {
		return &takeWhileStage[T]{up: up, ok: ok}
	})
}

type takeWhileStage[T any] struct {
	up   Puller[T]
	ok   func(T) bool
	done error
}

func (s *takeWhileStage[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = err
		return zero, err
	}
	if !s.ok(v) {
		s.done = EOS
		s.up.Cancel(ErrCancelled)
		return zero, EOS
	}
	return v, nil
}

func (s *takeWhileStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// Grouped collects elements into slices of n; the last slice may be shorter.
// Each slice is new and belongs to the receiver. A failure drops the partial
// group. A slice grows with its elements, so Grouped(math.MaxInt) collects
// the whole stream into one slice; while it fills a group it looks at its
// island's context every 256 elements. It panics if n < 1.
//
//	in  -- 1 -- 2 -- 3 -- 4 -- 5 --|
//	      [ grouped(2) ]
//	out ------ [1 2] ---- [3 4] -- [5]|
func Grouped[T any](n int) Flow[T, []T] {
	if n < 1 {
		panic(fmt.Sprintf("stream: Grouped(%d): size < 1", n))
	}
	return NewFlow(func(m *Materializer, up Puller[T]) Puller[[]T] {
		return &groupedStage[T]{m: m, up: up, n: n}
	})
}

// maxGroupPrealloc caps the capacity a group starts with.
const maxGroupPrealloc = 64

type groupedStage[T any] struct {
	m    *Materializer
	up   Puller[T]
	n    int
	done error
}

func (s *groupedStage[T]) Pull() ([]T, error) {
	if s.done != nil {
		return nil, s.done
	}
	var g []T
	for len(g) < s.n {
		if len(g) > 0 && len(g)%stopCheckEvery == 0 && s.m.Stopped() {
			// Grouped(math.MaxInt) over an endless source: see Filter.
			s.Cancel(s.m.Cause())
			return nil, s.done
		}
		v, err := s.up.Pull()
		if err != nil {
			s.done = err
			if err == EOS && len(g) > 0 {
				return g, nil
			}
			return nil, err
		}
		if g == nil {
			// Grow on demand: Grouped(math.MaxInt) means "everything".
			g = make([]T, 0, min(s.n, maxGroupPrealloc))
		}
		g = append(g, v)
	}
	return g, nil
}

func (s *groupedStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// Recover turns an upstream failure into a last element: when upstream fails
// (including a panic in a fused upstream stage, which arrives as a
// [*PanicError]) and f returns (v, true), Recover emits v and completes;
// when f returns false the failure passes on. Cancellations are not
// failures and are never recovered: neither [ErrCancelled] nor the cause of
// a cancelled context or island (the run's error stays the context's cause).
//
//	in  -- 1 -- 2 -- X(err)
//	      [ recover(err => 0, true) ]
//	out -- 1 -- 2 -- 0|
func Recover[T any](f func(error) (T, bool)) Flow[T, T] {
	return NewFlow(func(m *Materializer, up Puller[T]) Puller[T] {
		return &recoverStage[T]{m: m, up: up, f: f}
	})
}

type recoverStage[T any] struct {
	m    *Materializer
	up   Puller[T]
	f    func(error) (T, bool)
	done error
}

func (s *recoverStage[T]) pull() (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := newPanicError(r)
			s.up.Cancel(pe)
			err = pe
		}
	}()
	return s.up.Pull()
}

func (s *recoverStage[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	v, err := s.pull()
	if err == nil {
		return v, nil
	}
	// An upstream stopped by the island's cancellation reports the cause
	// as its error: that is a cancellation, not a failure to recover.
	if err != EOS && !isCancel(err) && !s.m.Stopped() {
		if r, ok := s.f(err); ok {
			s.done = EOS
			return r, nil
		}
	}
	s.done = err
	return zero, err
}

func (s *recoverStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// WatchTermination calls f exactly once when the stage terminates: with nil
// when upstream completes or downstream cancels with [ErrCancelled], with the
// failure when upstream fails, and with the cause when downstream cancels
// because of a failure. A sink that returns without finishing or cancelling
// the stream still gets f called: the run cancels what the sink left.
// Elements pass through unchanged.
//
//	in  -- 1 -- 2 --|
//	      [ watchTermination(f) ]
//	out -- 1 -- 2 --|              f(nil)
func WatchTermination[T any](f func(err error)) Flow[T, T] {
	return NewFlow(func(_ *Materializer, up Puller[T]) Puller[T] {
		return &watchStage[T]{up: up, f: f}
	})
}

type watchStage[T any] struct {
	up   Puller[T]
	f    func(error)
	done bool
}

func (s *watchStage[T]) Pull() (T, error) {
	v, err := s.up.Pull()
	if err != nil && !s.done {
		s.done = true
		// A cancellation from downstream can surface as the error of a
		// blocked pull: it is no failure.
		if err == EOS || isCancel(err) {
			s.f(nil)
		} else {
			s.f(err)
		}
	}
	return v, err
}

func (s *watchStage[T]) Cancel(cause error) {
	if s.done {
		return
	}
	s.done = true
	s.up.Cancel(cause)
	if isCancel(cause) {
		s.f(nil)
	} else {
		s.f(cause)
	}
}
