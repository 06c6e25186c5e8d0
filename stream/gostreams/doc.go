// Package gostreams connects typed stream graphs with github.com/reugn/go-streams,
// both ways.
//
// # Overview
//
// Into a typed graph:
//
//	gostreams.FromSource[T](s)          // streams.Source -> stream.Source[T]
//	gostreams.ViaFlow[I, O](newFlow)    // func() streams.Flow -> stream.Flow[I, O]
//	gostreams.ToSink[T](s)              // streams.Sink -> stream.Sink[T, stream.NotUsed]
//
// Out of a typed graph:
//
//	gostreams.AsSource(ctx, src)        // stream.Source[T] -> *gostreams.Source (a streams.Source)
//	gostreams.AsFlow(ctx, f)            // stream.Flow[I, O] -> *gostreams.Flow (a streams.Flow)
//	gostreams.AsSink(ctx, s)            // stream.Sink[T, R] -> *gostreams.Sink[R] (a streams.Sink)
//
// A go-streams operator in the middle of a typed graph:
//
//	src := stream.Via(stream.FromSlice([]int{1, 2, 3}),
//		gostreams.ViaFlow[int, int](func() streams.Flow {
//			return flow.NewMap(func(x int) int { return x * 2 }, 1)
//		}))
//	got, err := stream.RunWith(ctx, src, stream.Collect[int]()) // [2 4 6]
//
// # Semantic gaps
//
// The two libraries model streams differently, and the adapters bridge the
// differences as follows.
//
// Types. go-streams elements travel as any over chan any; the typed side
// casts each one and fails the stream with a [*TypeError] (never a panic)
// when an element is not of the expected type. An untyped nil passes as
// the zero value only when the expected type is an interface. The reverse
// is not in the adapters' hands: a go-streams operator that receives an
// element it cannot handle panics in its own goroutine.
//
// Instances and blueprints. A typed Source, Flow or Sink is a blueprint that
// can run any number of times, and nothing happens until it runs. A go-streams
// component is one running instance: its goroutines start in its
// constructor. So [FromSource] and [ToSink], which wrap an instance, serve
// one run ([ErrReused] after that), while [ViaFlow] takes a factory and builds
// a fresh operator for every run. In the other direction, [AsSource],
// [AsFlow] and [AsSink] start their typed run at once, as go-streams
// components do, and stop it when their context ends.
//
// Errors. go-streams has no error signal: a component ends by closing a
// channel, and that means success. Into a typed graph, a failure upstream of
// a go-streams operator or sink is delivered downstream (or returned by the
// run) while the operator or sink only sees its input closed. Out of a typed
// graph, a failure closes the output channel like completion; the concrete
// types carry the difference: [Source.Err], [Flow.Err], [Sink.Result].
//
// Cancellation. go-streams cannot be told to stop; its one signal is the
// closing of an input. A go-streams operator ([ViaFlow]) or sink ([ToSink])
// whose typed stream ends early gets its input closed, and [ViaFlow]
// receives (and drops) the rest of the operator's output until the operator
// closes it: a stock operator then finishes, and the run waits for that, so
// no goroutine of the operator outlives the run. A go-streams source
// ([FromSource]) cannot be asked to end; the adapter receives and drops its
// elements until it closes its output or the run ends, whichever comes first.
// A source that goes on after the run has ended has goroutines blocked on
// a send: they belong to go-streams and nothing can release them, so give
// such sources a way to stop (most connectors take a context). Typed
// components exposed to go-streams ([AsFlow], [AsSink]) likewise keep
// taking and dropping elements from their input once their typed run has
// ended early, until the input is closed or their context ends, so that
// the go-streams component feeding them is not left blocked.
//
// Demand. Typed graphs are demand-driven; go-streams pushes as fast as its
// unbuffered channels allow, which is backpressure of its own kind. Where the
// two meet, an unbuffered channel keeps at most one element in hand; a typed
// stage upstream of [ViaFlow] is pulled ahead of demand as far as the
// operator's buffers take, as upstream of any async boundary.
//
// # Concurrency
//
// [ViaFlow] is an async boundary: its typed upstream runs in a goroutine of
// its own (an island, in the terms of package stream) that feeds the
// operator, and the output is read by the downstream goroutine. [FromSource]
// and [ToSink] are fused with their neighbours and block their goroutine on
// the go-streams channels, waking when the run is cancelled. The goroutines
// these adapters start are goroutines of the run, which waits for them,
// with one exception: [ToSink] waits for AwaitCompletion in a goroutine of
// its own, and when the run's context ends first the run returns at once
// while that goroutine remains until the go-streams sink completes.
//
// [AsSource], [AsFlow] and [AsSink] each run their typed graph in one new
// goroutine that lives as long as the run (and, for [AsFlow] and [AsSink],
// as long as the input keeps coming after an early end, see above). Their
// channels may be used from any goroutine, as go-streams channels are; Via
// and To copy the output in the way of go-streams operators, Via in a new
// goroutine and To in the calling one.
//
// # Errors
//
// A typed run that involves the adapters fails with:
//
//   - [*TypeError] when an element of the untyped world has the wrong type;
//   - [ErrReused] when a blueprint of [FromSource] or [ToSink] runs again;
//   - [*stream.PanicError] when a panic happens where the adapters can
//     recover it: in a fused typed stage, in the factory of [ViaFlow], or
//     in a sink's AwaitCompletion;
//   - the upstream failure or the context's cause, as any run.
//
// Panics in goroutines that go-streams starts itself cannot be recovered by
// anyone but go-streams, which does not: they crash the program.
package gostreams
