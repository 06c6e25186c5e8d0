package gostreams

import (
	"context"

	"github.com/reugn/go-streams"

	"github.com/streamhttp/streamhttp/stream"
)

// Source is a typed stream.Source running as a go-streams source; make it
// with [AsSource]. Besides the go-streams interface it reports how the typed
// run ended, which go-streams itself has no way to say.
type Source struct {
	out  chan any
	done chan struct{}
	err  error // written before done is closed
}

var _ streams.Source = (*Source)(nil)

// AsSource runs src as a go-streams source. Like every go-streams source it
// starts at once: the typed graph runs from this call on, in a goroutine of
// its own, and sends each element on Out as an any. The run stays
// demand-driven: Out is unbuffered, so the graph pulls an element and waits
// until a reader takes it. Out is closed when the run has finished, once
// every goroutine of the run has exited; [Source.Err] then tells completion
// from failure. Cancelling ctx stops the run and closes Out; it is also the
// only way to stop a Source whose Out nobody reads.
//
//	src:  -- 1 -- 2 --|
//	AsSource(ctx, src).Out():  -- 1 -- 2 --| (closed; Err() == nil)
func AsSource[T any](ctx context.Context, src stream.Source[T]) *Source {
	ctx = orBackground(ctx)
	s := &Source{out: make(chan any), done: make(chan struct{})}
	go func() {
		_, s.err = stream.RunWith(ctx, src, sendTo[T](s.out))
		close(s.done)
		close(s.out)
	}()
	return s
}

// Out returns the channel of the elements; it is closed when the run has finished.
func (s *Source) Out() <-chan any { return s.out }

// Via streams the elements into f in a new goroutine, closes f's In when the
// run has finished, and returns f, as go-streams sources do.
func (s *Source) Via(f streams.Flow) streams.Flow {
	go transmit(s, f)
	return f
}

// Err returns the run's failure once Out is closed: nil after completion, the
// first failure, or the context's cause. It returns nil while the run goes on.
func (s *Source) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Wait waits for the run to finish and returns its failure, as [Source.Err].
func (s *Source) Wait() error {
	<-s.done
	return s.err
}

// Flow is a typed stream.Flow running as a go-streams operator; make it with
// [AsFlow].
type Flow struct {
	in   chan any
	out  chan any
	done chan struct{}
	err  error // written before done is closed
}

var _ streams.Flow = (*Flow)(nil)

// AsFlow runs f as a go-streams operator. Like every go-streams operator it
// starts at once, in a goroutine of its own: f pulls what is sent to In,
// each element cast to I, and its output goes to Out as any. Closing In
// completes f's input. An element that is not an I fails the run with a
// [*TypeError] (not a panic). Out is closed when the run has finished;
// [Flow.Err] then tells completion from failure. Cancelling ctx stops the run.
//
// A go-streams operator must take everything sent to its In, or the sender
// blocks for ever; so once the run has finished early (f completed, failed,
// or met an element of the wrong type), the adapter goes on receiving and
// dropping what arrives on In until In is closed or ctx ends.
//
//	In:   -- 1 -- 2 -- 3 --|
//	      [ AsFlow(ctx, stream.Map(x => x*10)) ]
//	Out:  -- 10 - 20 - 30 -|
func AsFlow[I, O any](ctx context.Context, f stream.Flow[I, O]) *Flow {
	ctx = orBackground(ctx)
	fl := &Flow{in: make(chan any), out: make(chan any), done: make(chan struct{})}
	go func() {
		_, fl.err = stream.RunWith(ctx, stream.Via(fromChan[I](fl.in), f), sendTo[O](fl.out))
		close(fl.done)
		close(fl.out)
		drainUntil(ctx.Done(), fl.in)
	}()
	return fl
}

// In returns the channel the operator reads; close it to complete the input.
func (f *Flow) In() chan<- any { return f.in }

// Out returns the channel of the output; it is closed when the run has finished.
func (f *Flow) Out() <-chan any { return f.out }

// Via streams the output into next in a new goroutine, closes next's In when
// the run has finished, and returns next.
func (f *Flow) Via(next streams.Flow) streams.Flow {
	go transmit(f, next)
	return next
}

// To streams the output into sink, closes its In when the run has finished,
// and blocks until sink.AwaitCompletion returns.
func (f *Flow) To(sink streams.Sink) {
	transmit(f, sink)
	sink.AwaitCompletion()
}

// Err returns the run's failure once Out is closed, as [Source.Err].
func (f *Flow) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Wait waits for the run to finish and returns its failure.
func (f *Flow) Wait() error {
	<-f.done
	return f.err
}

// Sink is a typed stream.Sink running as a go-streams sink; make it with
// [AsSink]. R is the typed sink's result.
type Sink[R any] struct {
	in     chan any
	done   chan struct{}
	result R     // written before done is closed
	err    error // written before done is closed
}

var _ streams.Sink = (*Sink[int])(nil)

// AsSink runs s as a go-streams sink. Like every go-streams sink it starts at
// once, in a goroutine of its own: s pulls what is sent to In, each element
// cast to T, and closing In completes the stream. An element that is not a
// T fails the run with a [*TypeError] (not a panic). [Sink.AwaitCompletion]
// blocks until the run has finished; [Sink.Result] returns s's result and
// the run's failure. Cancelling ctx stops the run.
//
// As with [AsFlow], once the run has finished early the adapter goes on
// receiving and dropping what arrives on In until In is closed or ctx ends.
//
//	In:  -- 1 -- 2 -- 3 --|
//	     [ AsSink(ctx, stream.Fold(0, +)) ]    Result() == 6, nil
func AsSink[T, R any](ctx context.Context, s stream.Sink[T, R]) *Sink[R] {
	ctx = orBackground(ctx)
	k := &Sink[R]{in: make(chan any), done: make(chan struct{})}
	go func() {
		k.result, k.err = stream.RunWith(ctx, fromChan[T](k.in), s)
		close(k.done)
		drainUntil(ctx.Done(), k.in)
	}()
	return k
}

// In returns the channel the sink reads; close it to complete the stream.
func (k *Sink[R]) In() chan<- any { return k.in }

// AwaitCompletion blocks until the typed run has finished.
func (k *Sink[R]) AwaitCompletion() { <-k.done }

// Result waits for the run to finish and returns the typed sink's result and
// the run's failure.
func (k *Sink[R]) Result() (R, error) {
	<-k.done
	return k.result, k.err
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// fromChan is a typed Source of the elements sent on ch, for a channel that
// the adapter drains itself after the run.
func fromChan[T any](ch <-chan any) stream.Source[T] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[T] {
		return newChanPuller[T](m, ch, false)
	})
}

// sendTo is a Sink that sends every element on out as an any, waiting while
// nobody receives; it leaves closing out to its caller, who does so once the
// run has finished and its error is known.
func sendTo[T any](out chan<- any) stream.Sink[T, stream.NotUsed] {
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[T]) (stream.NotUsed, error) {
		for {
			if m.Stopped() {
				cause := m.Cause()
				up.Cancel(cause)
				return stream.NotUsed{}, cause
			}
			v, err := up.Pull()
			if err != nil {
				if err == stream.EOS {
					err = nil
				}
				return stream.NotUsed{}, err
			}
			select {
			case out <- v:
			case <-m.Done():
				cause := m.Cause()
				up.Cancel(cause)
				return stream.NotUsed{}, cause
			}
		}
	})
}
