package stream

import (
	"context"
	"errors"
)

// NotUsed is the materialized value of a blueprint that materializes nothing.
type NotUsed struct{}

// EOS is returned by [Puller.Pull] when the stage has completed normally: it
// is the end-of-stream signal, not a failure.
var EOS = errors.New("stream: end of stream")

// Puller is the run-time face of a stage's output: demand is the call to
// Pull itself, so a stage never produces an element nobody asked for.
//
// Pull returns the next element, or [EOS] on completion, or another error on
// failure. That error is the stage's one terminal signal: after it the caller
// never pulls again, and the stage never pulls its own upstream again.
//
// Cancel tells the stage that no more elements are wanted, with a cause
// ([ErrCancelled] for a plain "no more elements needed", an error when the
// cancellation comes from a failure downstream). The stage passes the
// cancellation upstream unless its upstream has already terminated (or been
// cancelled). Cancel is idempotent and a no-op after a terminal Pull, so a
// caller may call it after the end (every sink's run does, see [NewSink]);
// after Cancel the caller never pulls again.
//
// A Puller is owned by one goroutine at a time: Pull and Cancel are never
// called concurrently. A stage that blocks inside Pull (on a channel, a timer,
// another goroutine) must also wake when its [Materializer]'s Done channel
// closes, and treat that as a cancellation with [Materializer.Cause]. A stage
// that loops over its upstream without emitting looks at
// [Materializer.Stopped] now and then, so that a cancelled run stops even
// when nothing blocks.
type Puller[T any] interface {
	Pull() (T, error)
	Cancel(cause error)
}

// SourceMat is a blueprint of a stage with one output of type T that
// materializes a value of type M when the graph it is part of starts to run
// (for example the server binding of a bound socket).
//
// A blueprint is an immutable value: it may be shared and run any number of
// times, and nothing happens until it runs. The zero SourceMat is not usable;
// build sources with the constructors of this package.
type SourceMat[T, M any] struct {
	build func(m *Materializer) (Puller[T], M)
}

// Source is a [SourceMat] that materializes nothing.
type Source[T any] = SourceMat[T, NotUsed]

// Flow is a blueprint of a stage with one input of type I and one output of
// type O: a request handler reads as Flow[*httpcore.Request, *httpcore.Response].
// The zero Flow is not usable; build flows with the operators of this package.
type Flow[I, O any] struct {
	// build materializes the flow: it must call up exactly once, before
	// returning, with the Materializer of the island the upstream belongs to
	// (the flow's own m, unless the flow is an async boundary).
	build func(m *Materializer, up func(*Materializer) Puller[I]) Puller[O]
	// unordered: the flow may emit in another order than its input's (see
	// Unordered).
	unordered bool
}

// Unordered reports whether the flow may emit its elements in another order
// than their inputs': it is, or composes, [MapAsyncUnordered] or
// [FlatMapMerge] with a breadth above 1. Flows built with NewFlow (custom
// stages) are taken to keep the order. A consumer that pairs outputs with
// inputs by position (an HTTP server pairing responses with requests)
// uses it to insist on an explicit link instead.
func (f Flow[I, O]) Unordered() bool { return f.unordered }

// Sink is a blueprint of a stage with one input of type T that drives the
// run: it pulls until it is done and then yields its result of type R (the
// collected elements, a fold, the first element, or [NotUsed]).
type Sink[T, R any] struct {
	// consume builds the upstream with up (exactly once) and drives it.
	consume func(m *Materializer, up func(*Materializer) Puller[T]) (R, error)
}

// FromPuller makes a Source from a function that creates a fresh Puller for
// every run. It is the extension point for custom sources; a Puller that
// blocks must honour m.Done() as documented on [Puller].
func FromPuller[T any](newPuller func(m *Materializer) Puller[T]) Source[T] {
	return Source[T]{build: func(m *Materializer) (Puller[T], NotUsed) {
		return newPuller(m), NotUsed{}
	}}
}

// FromPullerMat is [FromPuller] for a source that materializes a value.
func FromPullerMat[T, M any](newPuller func(m *Materializer) (Puller[T], M)) SourceMat[T, M] {
	return SourceMat[T, M]{build: newPuller}
}

// NewFlow makes a Flow from a function that wraps the upstream Puller of every
// run into a new Puller. The wrapper runs in the same goroutine as its
// upstream and downstream (it is fused); to run something concurrently, start
// a goroutine with [Materializer.Go].
func NewFlow[I, O any](wrap func(m *Materializer, up Puller[I]) Puller[O]) Flow[I, O] {
	return Flow[I, O]{build: func(m *Materializer, up func(*Materializer) Puller[I]) Puller[O] {
		return wrap(m, up(m))
	}}
}

// NewAsyncFlow makes a Flow that is an async boundary, for custom stages that
// pull their upstream from a goroutine of their own (as [Buffer] does). The
// upstream is materialized in a new island below m; wrap gets m, that island
// and the upstream Puller. Start the goroutine that pulls up with island.Go:
// from then on it owns up (Pull and Cancel), and the downstream stops it with
// island.Cancel(cause), which wakes a pull blocked upstream. Until that
// goroutine starts, up belongs to the goroutine that calls the returned
// Puller, which cancels up directly if the stage ends first.
func NewAsyncFlow[I, O any](wrap func(m, island *Materializer, up Puller[I]) Puller[O]) Flow[I, O] {
	return Flow[I, O]{build: func(m *Materializer, up func(*Materializer) Puller[I]) Puller[O] {
		island, _ := m.Island()
		return wrap(m, island, up(island))
	}}
}

// NewSink makes a Sink from a function that drives the upstream Puller of a
// run to its end. A panic in consume becomes a [*PanicError] failure, and
// runtime.Goexit in it [ErrGoexit].
//
// When consume returns, for whatever reason, up is cancelled (with
// [ErrCancelled], or with consume's error): a no-op when consume has seen a
// terminal Pull or cancelled up itself, and the release of every stage above
// when it has not. When building the upstream fails (a constructor
// panics), consume still runs, over a Puller that fails with that
// [*PanicError], so that the sink releases what it holds (ToChannel closes
// its channel); the run reports the construction failure.
func NewSink[T, R any](consume func(m *Materializer, up Puller[T]) (R, error)) Sink[T, R] {
	return Sink[T, R]{consume: func(m *Materializer, upB func(*Materializer) Puller[T]) (R, error) {
		up, buildErr := buildUp(m, upB, func(failed Puller[T]) { runSink(m, failed, consume) })
		r, err := runSink(m, up, consume)
		if buildErr != nil {
			err = buildErr
		}
		return r, err
	}}
}

// buildUp builds a sink's upstream. A panic becomes a Puller that fails with
// it (and the error). On runtime.Goexit the goroutine is going away: onGoexit
// runs the sink over a failed Puller on the way out, so that it still
// releases what it holds.
func buildUp[T any](m *Materializer, upB func(*Materializer) Puller[T], onGoexit func(Puller[T])) (up Puller[T], err error) {
	normal := false
	defer func() {
		switch err = abnormal(recover(), normal); err {
		case nil:
		case ErrGoexit:
			onGoexit(&failedSource[T]{err: err})
		default:
			up = &failedSource[T]{err: err}
		}
	}()
	up = upB(m)
	normal = true
	return up, nil
}

// runSink runs consume and then cancels up (see NewSink).
func runSink[T, R any](m *Materializer, up Puller[T], consume func(*Materializer, Puller[T]) (R, error)) (r R, err error) {
	normal := false
	defer func() {
		if e := abnormal(recover(), normal); e != nil {
			err = e
		}
		cause := err
		if cause == nil || cause == EOS {
			cause = ErrCancelled
		}
		up.Cancel(cause)
	}()
	r, err = consume(m, up)
	normal = true
	return r, err
}

// releaseOnFailure is deferred by a constructor that builds Pullers and then
// does more that can fail (build a flow over them, call user code): when the
// construction panics or calls runtime.Goexit, it cancels what was built with
// that failure, so nothing built is left waiting, and lets the panic go on as
// a [*PanicError]. normal is set by the constructor when it is done.
func releaseOnFailure[T any](normal *bool, built *Puller[T]) {
	if *normal {
		return
	}
	v := recover()
	err := abnormal(v, false)
	if *built != nil {
		(*built).Cancel(err)
	}
	if v != nil {
		panic(err)
	}
}

// releaseAllOnFailure is releaseOnFailure for several Pullers (nil entries
// were not built).
func releaseAllOnFailure[T any](normal *bool, built []Puller[T]) {
	if *normal {
		return
	}
	v := recover()
	err := abnormal(v, false)
	for _, p := range built {
		if p != nil {
			p.Cancel(err)
		}
	}
	if v != nil {
		panic(err)
	}
}

// Materialize builds src inside the run of the stage that calls it and returns
// its Puller, owned by the caller, and its materialized value. It is for
// stages that consume a source per element (a renderer streaming a response
// body): the sub-stream runs in the caller's island, fused with the caller.
// The caller must pull it to its end or cancel it.
func Materialize[T, M any](m *Materializer, src SourceMat[T, M]) (Puller[T], M) {
	return src.build(m)
}

// Via attaches a Flow to a Source and keeps the source's materialized value.
func Via[T, U, M any](src SourceMat[T, M], f Flow[T, U]) SourceMat[U, M] {
	return SourceMat[U, M]{build: func(m *Materializer) (Puller[U], M) {
		var mat M
		var built Puller[T]
		normal := false
		defer releaseOnFailure(&normal, &built)
		p := f.build(m, func(m2 *Materializer) Puller[T] {
			built, mat = src.build(m2)
			return built
		})
		normal = true
		return p, mat
	}}
}

// ViaFlow composes two flows into one: the output of f feeds g.
func ViaFlow[A, B, C any](f Flow[A, B], g Flow[B, C]) Flow[A, C] {
	return Flow[A, C]{build: func(m *Materializer, up func(*Materializer) Puller[A]) Puller[C] {
		var built Puller[B]
		normal := false
		defer releaseOnFailure(&normal, &built)
		p := g.build(m, func(m2 *Materializer) Puller[B] { built = f.build(m2, up); return built })
		normal = true
		return p
	}, unordered: f.unordered || g.unordered}
}

// FlowTo attaches a Flow in front of a Sink, giving a Sink of the flow's input.
func FlowTo[A, B, R any](f Flow[A, B], s Sink[B, R]) Sink[A, R] {
	return Sink[A, R]{consume: func(m *Materializer, up func(*Materializer) Puller[A]) (R, error) {
		return s.consume(m, func(m2 *Materializer) Puller[B] {
			var built Puller[A]
			normal := false
			defer releaseOnFailure(&normal, &built)
			p := f.build(m2, func(m3 *Materializer) Puller[A] { built = up(m3); return built })
			normal = true
			return p
		})
	}}
}

// Via attaches a Flow that keeps the element type; see the package function
// [Via] for one that changes it.
func (s SourceMat[T, M]) Via(f Flow[T, T]) SourceMat[T, M] { return Via(s, f) }

// Via appends a Flow that keeps the element type; see [ViaFlow] for one that
// changes it.
func (f Flow[I, O]) Via(g Flow[O, O]) Flow[I, O] { return ViaFlow(f, g) }

// MapMaterialized transforms the materialized value of a source.
func MapMaterialized[T, M, N any](src SourceMat[T, M], f func(M) N) SourceMat[T, N] {
	return SourceMat[T, N]{build: func(m *Materializer) (Puller[T], N) {
		var p Puller[T]
		normal := false
		defer releaseOnFailure(&normal, &p)
		p, mat := src.build(m)
		n := f(mat)
		normal = true
		return p, n
	}}
}

// RunnableGraph is a source connected to a sink: a blueprint ready to run. M is
// the source's materialized value, available as soon as the run has started;
// R is the sink's result, available when the run has finished.
type RunnableGraph[M, R any] struct {
	run func(m *Materializer, materialized func(M)) (R, error)
}

// To connects a source to a sink.
func To[T, M, R any](src SourceMat[T, M], sink Sink[T, R]) RunnableGraph[M, R] {
	return RunnableGraph[M, R]{run: func(m *Materializer, materialized func(M)) (R, error) {
		return sink.consume(m, func(m2 *Materializer) Puller[T] {
			normal := false
			defer func() {
				if !normal {
					// Materialization failed: the sink still runs (see
					// NewSink), and Start must not wait for a value that
					// will never come.
					var zero M
					materialized(zero)
				}
			}()
			p, mat := src.build(m2)
			normal = true
			materialized(mat)
			return p
		})
	}}
}

// RunWith runs src into sink in the calling goroutine and returns the sink's
// result once the run has finished, with every goroutine it started gone.
// A fully fused graph runs without starting any goroutine.
func RunWith[T, M, R any](ctx context.Context, src SourceMat[T, M], sink Sink[T, R]) (R, error) {
	return To(src, sink).Run(ctx)
}

// Run runs the graph in the calling goroutine until it finishes and returns the
// sink's result and the run's first failure. Cancelling ctx cancels the run;
// the error is then the context's cause.
//
// When user code calls runtime.Goexit in the calling goroutine (t.FailNow
// in a test), the run is cancelled and awaited before the goroutine exits.
func (g RunnableGraph[M, R]) Run(ctx context.Context) (R, error) {
	m := newRoot(ctx)
	normal := false
	defer func() {
		if !normal {
			m.finish(ErrGoexit)
		}
	}()
	r, err := runSafely(m, g.run, func(M) {})
	normal = true
	return r, m.finish(err)
}

// Start materializes the graph, starts running it in a new goroutine and
// returns once the source's materialized value exists. When materialization
// fails (a constructor panics), Start returns with the zero materialized
// value, and Wait reports the failure.
func (g RunnableGraph[M, R]) Start(ctx context.Context) *Running[M, R] {
	m := newRoot(ctx)
	r := &Running[M, R]{m: m, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		once, normal := false, false
		defer func() {
			if !normal {
				// runtime.Goexit in user code: runSafely recovers panics,
				// so this is the only way here without normal.
				r.err = ErrGoexit
			}
			if !once {
				close(ready)
			}
			r.err = m.finish(r.err)
			close(r.done)
		}()
		r.result, r.err = runSafely(m, g.run, func(mat M) {
			if !once {
				once = true
				r.mat = mat
				close(ready)
			}
		})
		normal = true
	}()
	<-ready
	return r
}

func runSafely[M, R any](m *Materializer, run func(*Materializer, func(M)) (R, error), materialized func(M)) (r R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return run(m, materialized)
}

// Running is a graph that has been started with [RunnableGraph.Start].
type Running[M, R any] struct {
	m      *Materializer
	mat    M
	done   chan struct{}
	result R
	err    error
}

// Materialized returns the source's materialized value.
func (r *Running[M, R]) Materialized() M { return r.mat }

// Done is closed when the run has finished and every goroutine it started has
// exited.
func (r *Running[M, R]) Done() <-chan struct{} { return r.done }

// Wait waits for the run to finish and returns the sink's result and the
// run's first failure.
func (r *Running[M, R]) Wait() (R, error) {
	<-r.done
	return r.result, r.err
}

// Cancel cancels the run with the given cause (nil means [ErrCancelled]); it
// does not wait for the run to finish.
func (r *Running[M, R]) Cancel(cause error) {
	if cause == nil {
		cause = ErrCancelled
	}
	r.m.cancel(cause)
}
