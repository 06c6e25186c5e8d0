package stream

import (
	"context"
	"fmt"
	"sync"
)

// MapAsync runs f on up to parallelism elements at once, each in its own
// goroutine, and emits the results in the order of the input. A slow
// element holds back the ones after it: at most parallelism calls are
// running or have a result waiting to be emitted, so upstream runs at most
// parallelism elements ahead of downstream (plus one element pulled and
// waiting for a slot).
//
// A failure of a call fails the stream at once, without waiting for earlier
// elements: an error returned by f, a panic in f (a [*PanicError]),
// runtime.Goexit in f ([ErrGoexit]), f returning [EOS] as its error
// ([ErrUnexpectedEOS]). It cancels upstream and the context of every
// running call with that failure. An upstream failure cancels the context
// of every running call at once too; the results already ahead of it (in
// input order; for MapAsyncUnordered, those already complete) are emitted,
// a call that ends because of the cancellation fails the stream with the
// upstream failure, and then the stream fails with it. f's context is also
// cancelled when the stream is cancelled or the run ends. Slots are not preallocated: a parallelism of
// math.MaxInt means unbounded. It panics if parallelism < 1.
//
//	in  -- 1 -- 2 -- 3 --|
//	      [ mapAsync(2, f) ]     f(2) finishes before f(1)
//	out ---------- 1' 2' -- 3' --|
func MapAsync[I, O any](parallelism int, f func(context.Context, I) (O, error)) Flow[I, O] {
	return mapAsync(parallelism, f, true)
}

// MapAsyncUnordered is [MapAsync] that emits each result as soon as it is
// ready, in completion order. It has the same bounds and failure rules.
//
//	in  -- 1 -- 2 -- 3 --|
//	      [ mapAsyncUnordered(2, f) ]   f(2) finishes before f(1)
//	out -------- 2' - 1' -- 3' --|
func MapAsyncUnordered[I, O any](parallelism int, f func(context.Context, I) (O, error)) Flow[I, O] {
	return mapAsync(parallelism, f, false)
}

func mapAsync[I, O any](parallelism int, f func(context.Context, I) (O, error), ordered bool) Flow[I, O] {
	if parallelism < 1 {
		panic(fmt.Sprintf("stream: MapAsync parallelism %d < 1", parallelism))
	}
	return Flow[I, O]{unordered: !ordered && parallelism > 1, build: func(m *Materializer, upB func(*Materializer) Puller[I]) Puller[O] {
		island, cancel := m.Island()
		return &mapAsyncStage[I, O]{
			m: m, island: island, cancelIsland: cancel, up: upB(island), f: f,
			ordered: ordered, parallelism: parallelism,
			wakeC: make(chan struct{}, 1), wakeF: make(chan struct{}, 1),
		}
	}}
}

// task is one call of f; done is closed when val and err are set.
type task[O any] struct {
	done chan struct{}
	val  O
	err  error
}

// mapAsyncStage: a feeder goroutine (upstream island) pulls upstream, takes a
// slot per element and starts a goroutine per call. In ordered mode it queues
// each task as it starts, so the consumer waits on tasks in input order; in
// unordered mode each call queues its task when it is done. The consumer
// frees the slot when it emits the result, so at most parallelism results
// are running or waiting. The task queue is a slice that grows with the
// calls actually in flight.
type mapAsyncStage[I, O any] struct {
	m            *Materializer
	island       *Materializer
	cancelIsland context.CancelCauseFunc
	up           Puller[I] // owned by the feeder once started
	f            func(context.Context, I) (O, error)
	ordered      bool
	parallelism  int

	mu       sync.Mutex
	inFlight int        // slots taken: calls running or results not yet emitted
	tasks    []*task[O] // queued tasks from index head on
	head     int
	term     error // the feeder's end: EOS or the upstream failure
	waitC    bool  // the consumer waits on wakeC
	waitF    bool  // the feeder waits on wakeF
	wakeC    chan struct{}
	wakeF    chan struct{}

	started bool  // consumer-owned from here on
	done    error // terminal error returned downstream
}

func (s *mapAsyncStage[I, O]) Pull() (O, error) {
	var zero O
	if s.done != nil {
		return zero, s.done
	}
	if !s.started {
		s.started = true
		s.island.Go(s.feed)
	}
	// The island is a child of s.m, so its Done covers a cancelled
	// downstream too; a failed call and an upstream failure cancel it,
	// which fails the stream at once instead of after the earlier calls.
	var t *task[O]
	for t == nil {
		s.mu.Lock()
		switch {
		case s.head < len(s.tasks):
			t = s.tasks[s.head]
			s.tasks[s.head] = nil
			if s.head++; s.head == len(s.tasks) {
				s.tasks, s.head = s.tasks[:0], 0
			}
			s.mu.Unlock()
			continue
		case s.term != nil && (s.term != EOS || s.ordered || s.inFlight == 0):
			// An upstream failure comes after the results queued before
			// it; completion after every result.
			err := s.term
			s.mu.Unlock()
			return zero, s.fail(err)
		}
		s.waitC = true
		s.mu.Unlock()
		s.m.WillBlock()
		select {
		case <-s.wakeC:
		case <-s.island.Done():
			if !s.upstreamFailed() {
				return zero, s.fail(s.island.Cause())
			}
		}
	}
	select {
	case <-t.done:
	default:
		s.m.WillBlock()
		select {
		case <-t.done:
		case <-s.island.Done():
			if !s.upstreamFailed() {
				return zero, s.fail(s.island.Cause())
			}
			// The upstream failure has cancelled t's context: t ends
			// soon, and its result (or its cancellation) comes first.
			select {
			case <-t.done:
			case <-s.m.Done():
				return zero, s.fail(s.m.Cause())
			}
		}
	}
	if t.err != nil {
		err := t.err
		if s.island.Stopped() {
			// Report the first failure, not the cancellation it caused.
			err = s.island.Cause()
		}
		return zero, s.fail(err)
	}
	s.mu.Lock()
	s.inFlight--
	wake := s.waitF
	s.waitF = false
	s.mu.Unlock()
	if wake {
		signal(s.wakeF)
	}
	return t.val, nil
}

// upstreamFailed reports whether the island was cancelled by an upstream
// failure (and not by a failed call or by downstream).
func (s *mapAsyncStage[I, O]) upstreamFailed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term != nil && s.term != EOS && s.island.Cause() == s.term && !s.m.Stopped()
}

// fail ends the stage with err and stops the feeder and every running call.
func (s *mapAsyncStage[I, O]) fail(err error) error {
	s.done = err
	if err != EOS {
		s.cancelIsland(err)
	}
	return err
}

func (s *mapAsyncStage[I, O]) Cancel(cause error) {
	if s.done != nil {
		return
	}
	s.done = cause
	if !s.started {
		s.up.Cancel(cause)
		return
	}
	s.cancelIsland(cause)
}

// enqueue queues t for the consumer and wakes it.
func (s *mapAsyncStage[I, O]) enqueue(t *task[O]) {
	s.mu.Lock()
	s.tasks = append(s.tasks, t)
	wake := s.waitC
	s.waitC = false
	s.mu.Unlock()
	if wake {
		signal(s.wakeC)
	}
}

// feed runs in the upstream island's goroutine.
func (s *mapAsyncStage[I, O]) feed() {
	normal := false
	defer func() {
		if err := abnormal(recover(), normal); err != nil {
			s.up.Cancel(err)
			s.finish(err)
		}
	}()
	ctx := s.island.Context()
	for {
		// Take a slot.
		s.mu.Lock()
		for s.inFlight >= s.parallelism && ctx.Err() == nil {
			s.waitF = true
			s.mu.Unlock()
			select {
			case <-s.wakeF:
			case <-ctx.Done():
			}
			s.mu.Lock()
		}
		if ctx.Err() != nil {
			s.mu.Unlock()
			s.up.Cancel(context.Cause(ctx))
			normal = true
			return
		}
		s.inFlight++
		s.mu.Unlock()
		v, err := s.up.Pull()
		if err != nil {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
			s.finish(err)
			normal = true
			return
		}
		t := &task[O]{done: make(chan struct{})}
		if s.ordered {
			s.enqueue(t)
		}
		s.island.Go(func() { s.call(ctx, t, v) })
	}
}

func (s *mapAsyncStage[I, O]) call(ctx context.Context, t *task[O], v I) {
	normal := false
	defer func() {
		if err := abnormal(recover(), normal); err != nil {
			t.err = err
		}
		if t.err != nil {
			// Stop upstream and the other calls now, not when the
			// consumer reaches this result.
			s.cancelIsland(t.err)
		}
		close(t.done)
		if !s.ordered {
			s.enqueue(t)
		}
	}()
	t.val, t.err = s.f(ctx, v)
	if t.err == EOS {
		t.err = ErrUnexpectedEOS
	}
	normal = true
}

// finish records the feeder's end. An upstream failure also cancels the
// island, so the running calls stop and the consumer fails at once.
func (s *mapAsyncStage[I, O]) finish(err error) {
	s.mu.Lock()
	if s.term == nil {
		s.term = err
	}
	wake := s.waitC
	s.waitC = false
	s.mu.Unlock()
	if wake {
		signal(s.wakeC)
	}
	if err != EOS {
		s.cancelIsland(err)
	}
}
