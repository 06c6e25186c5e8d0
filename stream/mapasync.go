package stream

import (
	"context"
	"fmt"
)

// MapAsync runs f on up to parallelism elements at once, each in its own
// goroutine, and emits the results in the order of the input. A slow
// element holds back the ones after it (up to parallelism in flight or
// waiting). An error returned by f, or a panic in it, fails the stream at
// once (without waiting for earlier elements) and cancels upstream and the
// other calls with that failure. f's context is cancelled when the
// stream is cancelled or the run ends. It panics if parallelism < 1.
//
//	in  -- 1 -- 2 -- 3 --|
//	      [ mapAsync(2, f) ]     f(2) finishes before f(1)
//	out ---------- 1' 2' -- 3' --|
func MapAsync[I, O any](parallelism int, f func(context.Context, I) (O, error)) Flow[I, O] {
	return mapAsync(parallelism, f, true)
}

// MapAsyncUnordered is [MapAsync] that emits each result as soon as it is
// ready, in completion order.
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
		s := &mapAsyncStage[I, O]{
			m: m, island: island, cancelIsland: cancel, up: upB(island), f: f,
			ordered: ordered,
			slots:   make(chan struct{}, parallelism),
			// One more than parallelism: room for the terminal task.
			queue: make(chan *task[O], parallelism+1),
		}
		return s
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
// are running or waiting.
type mapAsyncStage[I, O any] struct {
	m            *Materializer
	island       *Materializer
	cancelIsland context.CancelCauseFunc
	up           Puller[I] // owned by the feeder once started
	f            func(context.Context, I) (O, error)
	ordered      bool
	slots        chan struct{}
	queue        chan *task[O]

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
	// downstream too; a failed call cancels it (see call), which fails the
	// stream at once instead of after the earlier calls.
	var t *task[O]
	select {
	case t = <-s.queue:
	default:
		s.m.WillBlock()
		select {
		case t = <-s.queue:
		case <-s.island.Done():
			return zero, s.fail(s.island.Cause())
		}
	}
	select {
	case <-t.done:
	default:
		s.m.WillBlock()
		select {
		case <-t.done:
		case <-s.island.Done():
			return zero, s.fail(s.island.Cause())
		}
	}
	if t.err != nil {
		err := t.err
		if err != EOS && s.island.Stopped() {
			// Report the first failure, not the cancellation it caused.
			err = s.island.Cause()
		}
		return zero, s.fail(err)
	}
	<-s.slots
	return t.val, nil
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

// feed runs in the upstream island's goroutine.
func (s *mapAsyncStage[I, O]) feed() {
	defer func() {
		if v := recover(); v != nil {
			err := newPanicError(v)
			s.up.Cancel(err)
			s.finish(err)
		}
	}()
	ctx := s.island.Context()
	for {
		if ctx.Err() != nil {
			s.up.Cancel(context.Cause(ctx))
			return
		}
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			s.up.Cancel(context.Cause(ctx))
			return
		}
		v, err := s.up.Pull()
		if err != nil {
			<-s.slots
			s.finish(err)
			return
		}
		t := &task[O]{done: make(chan struct{})}
		if s.ordered {
			s.queue <- t // never blocks: a slot was taken
		}
		s.island.Go(func() { s.call(ctx, t, v) })
	}
}

func (s *mapAsyncStage[I, O]) call(ctx context.Context, t *task[O], v I) {
	defer func() {
		if r := recover(); r != nil {
			t.err = newPanicError(r)
		}
		if t.err != nil {
			// Stop upstream and the other calls now, not when the
			// consumer reaches this result.
			s.cancelIsland(t.err)
		}
		close(t.done)
		if !s.ordered {
			s.queue <- t // never blocks: one entry per slot
		}
	}()
	t.val, t.err = s.f(ctx, v)
}

// finish queues the terminal task once every call has been emitted (in
// unordered mode the calls queue themselves, so wait for all slots).
func (s *mapAsyncStage[I, O]) finish(err error) {
	if !s.ordered && err == EOS {
		ctx := s.island.Context()
		for range cap(s.slots) {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}
	t := &task[O]{done: make(chan struct{}), err: err}
	close(t.done)
	select {
	case s.queue <- t:
	default: // the consumer is gone or failed; nobody waits for this
	}
}
