package gostreams

import (
	"sync/atomic"

	"github.com/reugn/go-streams"

	"github.com/streamhttp/streamhttp/stream"
)

// FromSource makes a typed Source of a go-streams source (or of the last
// operator of a go-streams pipeline, which is one too). Each element is cast
// to T; an element of another type fails the stream with a [*TypeError].
// The stream completes when the go-streams side closes its output.
//
// The adapter reads s.Out(), except when s is also a streams.Flow (the last
// operator of a go-streams pipeline): then it connects with s.Via, as a
// go-streams operator would, so that an operator whose behaviour lives in its
// Via (flow.Throttler) keeps it.
//
// s is one running instance, not a blueprint: the returned Source serves one
// run, and a second run fails with [ErrReused]. To get a fresh go-streams
// source per run, build it inside [stream.Lazy].
//
// go-streams has no cancellation. When the typed stream stops early (the
// downstream cancels, or an element has the wrong type) the adapter keeps
// receiving and dropping elements in a goroutine of the run, so that a
// go-streams source that ends releases its goroutines, until the source
// closes its output or the island the adapter runs in ends (at the latest
// when the run finishes; the run does not wait for a source that never
// ends). Goroutines of the go-streams source still blocked on a send after
// that are its own and cannot be released: give such a source a way to stop,
// such as the context its constructor takes.
//
//	s.Out():   -- 1 -- 2 -- "x" --
//	FromSource[int](s):  -- 1 -- 2 -- X(*TypeError)
func FromSource[T any](s streams.Source) stream.Source[T] {
	var used atomic.Bool
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[T] {
		if used.Swap(true) {
			return failedPuller[T]{err: ErrReused}
		}
		if f, ok := s.(streams.Flow); ok {
			ch := make(chanFlow)
			f.Via(ch)
			return newChanPuller[T](m, ch, true)
		}
		return newChanPuller[T](m, s.Out(), true)
	})
}

// ViaFlow runs a go-streams operator inside a typed graph. newFlow is called
// once per run, at the first pull, because a go-streams operator is a running
// instance (its goroutines start in its constructor), not a reusable
// blueprint. The typed upstream runs in its own goroutine, which sends its
// elements into the operator's In and closes In when upstream completes;
// the operator's output is received through its Via, cast to O (an element
// of another type fails the stream with a [*TypeError]) and emitted on
// demand. The stream completes when the operator closes its output. ViaFlow
// is an async boundary: upstream is pulled ahead of demand, as far as the
// operator's buffers take.
//
// go-streams has no error signal and no cancellation; ViaFlow bridges both
// with the one signal an operator understands, the closing of In:
//
//   - Upstream fails: the failure goes downstream at once, In is closed, and
//     what the operator still emits is dropped.
//   - Downstream cancels (or the run's context ends): the upstream is
//     cancelled with the cause, In is closed, and what the operator still
//     emits is dropped.
//
// Either way the run waits until the operator has closed its output, so
// every goroutine of the operator has ended when the run has: a stock
// go-streams operator does so as soon as it has passed on what it held
// (a Throttler at its rate). An operator that never closes its output after
// its input was closed breaks the go-streams contract and holds the run.
// A panic inside the operator (say in the function of a flow.Map, or on an
// element that is not of the operator's input type) happens in a goroutine
// of go-streams and crashes the program: make I the operator's input type.
//
//	in  -- 1 -- 2 -- 3 --|
//	      [ ViaFlow(flow.NewMap(x => x*2, 1)) ]
//	out -- 2 -- 4 -- 6 --|
func ViaFlow[I, O any](newFlow func() streams.Flow) stream.Flow[I, O] {
	return stream.NewAsyncFlow(func(m, island *stream.Materializer, up stream.Puller[I]) stream.Puller[O] {
		return &viaStage[I, O]{
			m: m, island: island, up: up, newFlow: newFlow,
			c: newCaster[O](), failed: make(chan error, 1),
		}
	})
}

// viaStage is the downstream face of a [ViaFlow]. Its fields are owned by the
// downstream goroutine; up belongs to the feeder once it has started.
type viaStage[I, O any] struct {
	m       *stream.Materializer // downstream island
	island  *stream.Materializer // upstream island, where the feeder runs
	up      stream.Puller[I]
	newFlow func() streams.Flow
	c       caster[O]
	failed  chan error // the feeder's upstream failure; written at most once
	out     chanFlow   // the operator's output; nil until started
	done    error
}

func (s *viaStage[I, O]) start() error {
	f := s.newFlow()
	if f == nil {
		return errNilFlow
	}
	out := make(chanFlow)
	f.Via(out)
	s.out = out
	in := f.In()
	s.island.Go(func() { s.feed(in) })
	return nil
}

func (s *viaStage[I, O]) Pull() (O, error) {
	var zero O
	if s.done != nil {
		return zero, s.done
	}
	if s.out == nil {
		// A panic in newFlow leaves s.out nil, so that the Cancel that
		// follows cancels up directly.
		if err := s.start(); err != nil {
			s.done = err
			s.up.Cancel(err)
			return zero, err
		}
	}
	// A failure goes first, ahead of elements already waiting.
	select {
	case err := <-s.failed:
		return zero, s.stop(err)
	default:
	}
	if len(s.out) == 0 {
		// About to wait for the operator: what this island has ready goes
		// out first (a server flushes its responses).
		s.m.WillBlock()
	}
	select {
	case v, ok := <-s.out:
		if !ok {
			// The failure, if any, was recorded before In was closed, and
			// so before the operator closed its output.
			select {
			case err := <-s.failed:
				return zero, s.stop(err)
			default:
			}
			// Stops the feeder if the operator completed on its own.
			return zero, s.stop(stream.EOS)
		}
		o, err := s.c.cast(v)
		if err != nil {
			return zero, s.stop(err)
		}
		return o, nil
	case err := <-s.failed:
		return zero, s.stop(err)
	case <-s.m.Done():
		return zero, s.stop(s.m.Cause())
	}
}

func (s *viaStage[I, O]) Cancel(cause error) {
	if s.done != nil {
		return
	}
	if s.out == nil {
		s.done = cause
		s.up.Cancel(cause)
		return
	}
	s.stop(cause)
}

// stop ends the stage with err: it stops the feeder (which cancels upstream
// unless it has terminated, and closes In) and drops whatever the operator
// still emits until it closes its output.
func (s *viaStage[I, O]) stop(err error) error {
	s.done = err
	cause := err
	if err == stream.EOS {
		cause = stream.ErrCancelled
	}
	s.island.Cancel(cause)
	if err != stream.EOS {
		out := s.out
		s.m.Go(func() {
			for range out {
			}
		})
	}
	return err
}

// feed runs in the upstream island's goroutine: it sends upstream's elements
// into the operator and closes In when it stops, for whatever reason.
func (s *viaStage[I, O]) feed(in chan<- any) {
	defer close(in)
	defer func() {
		if v := recover(); v != nil {
			// A panic in a fused upstream stage.
			pe := stream.NewPanicError(v)
			s.up.Cancel(pe)
			s.failed <- pe
		}
	}()
	for {
		if s.island.Stopped() {
			s.up.Cancel(s.island.Cause())
			return
		}
		v, err := s.up.Pull()
		if err != nil {
			if err != stream.EOS {
				s.failed <- err
			}
			return
		}
		select {
		case in <- v:
		case <-s.island.Done():
			s.up.Cancel(s.island.Cause())
			return
		}
	}
}

// ToSink makes a typed Sink of a go-streams sink: it sends every element into
// s.In(), closes In when the stream ends, and then waits for
// s.AwaitCompletion. The run's result is [stream.NotUsed]; its error is nil
// once the go-streams sink has completed.
//
// s is one running instance: the returned Sink serves one run, and a second
// run fails with [ErrReused].
//
// go-streams has no error signal: when upstream fails, In is closed all the
// same (the go-streams sink sees a normal end), the adapter waits for
// AwaitCompletion, and the run fails with upstream's failure. When the run's
// context ends first, in the middle of the stream or while waiting, the run
// ends at once with the context's cause; In is closed, and the goroutine
// waiting on AwaitCompletion ends when the go-streams sink completes, after
// the run.
//
//	in -- 1 -- 2 --|    s.In() <- 1; s.In() <- 2; close(s.In()); s.AwaitCompletion()
func ToSink[T any](s streams.Sink) stream.Sink[T, stream.NotUsed] {
	var used atomic.Bool
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[T]) (stream.NotUsed, error) {
		if used.Swap(true) {
			up.Cancel(ErrReused)
			return stream.NotUsed{}, ErrReused
		}
		err := feedSink(m, up, s.In())
		if m.Stopped() {
			// The run is over: do not wait for the go-streams sink.
			if err == nil {
				err = m.Cause()
			}
			return stream.NotUsed{}, err
		}
		if werr := awaitSink(m, s); err == nil {
			err = werr
		}
		return stream.NotUsed{}, err
	})
}

// feedSink sends up's elements into in until up ends or m is cancelled, and
// closes in either way.
func feedSink[T any](m *stream.Materializer, up stream.Puller[T], in chan<- any) error {
	defer close(in)
	for {
		if m.Stopped() {
			cause := m.Cause()
			up.Cancel(cause)
			return cause
		}
		v, err := up.Pull()
		if err != nil {
			if err == stream.EOS {
				return nil
			}
			return err
		}
		if len(in) == cap(in) {
			m.WillBlock() // the send may wait: flush first
		}
		select {
		case in <- v:
		case <-m.Done():
			cause := m.Cause()
			up.Cancel(cause)
			return cause
		}
	}
}

// awaitSink waits for s.AwaitCompletion or for m to be cancelled. The call
// cannot be interrupted, so it runs in a goroutine that outlives the run when
// m is cancelled first.
func awaitSink(m *stream.Materializer, s streams.Sink) error {
	done := make(chan struct{})
	var perr error
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				perr = stream.NewPanicError(v)
			}
		}()
		s.AwaitCompletion()
	}()
	select {
	case <-done:
		return perr
	case <-m.Done():
		return m.Cause()
	}
}
