// Package stream is a typed, demand-driven, fused stream library: the
// blueprints every part of streamhttp is assembled from. It knows nothing of
// HTTP.
//
// # Overview
//
// A graph is described by immutable blueprints and only runs when asked to:
//
//   - [Source] (and [SourceMat], a source that materializes a value such as
//     a server binding) has one output;
//   - [Flow] has one input and one output: a request handler is a
//     stream.Flow[*httpcore.Request, *httpcore.Response];
//   - [Sink] has one input, drives the run and yields a result (the
//     collected elements, a fold, the first element, or [NotUsed]).
//
// Go methods cannot take type parameters, so composition that changes the
// element type is done with package functions: [Via] (source + flow),
// [ViaFlow] (flow + flow), [FlowTo] (flow + sink), [To] (source + sink, a
// [RunnableGraph]). Methods only keep the type (Source.Via, Flow.Via).
//
//	src := stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.Map(strconv.Itoa))
//	out, err := stream.RunWith(ctx, src, stream.Collect[string]())
//
// A blueprint can be run any number of times, concurrently; each run has its
// own state. Running blocks in the calling goroutine ([RunnableGraph.Run],
// [RunWith]) or starts a goroutine ([RunnableGraph.Start]), which returns a
// [Running] handle with the source's materialized value, Wait, Done and
// Cancel.
//
// # Backpressure
//
// Demand is the pull itself. At run time every stage is a [Puller]: a
// downstream stage asks for one element by calling Pull, and a stage never
// produces an element that was not pulled. A stage that needs several inputs
// for one output (Filter, Grouped) pulls several times; a stage that stops
// early (Take, Head) cancels its upstream. Sinks that consume everything
// (Collect, Fold, Ignore) ask runs of FromSlice, Map and Filter for up to 64
// elements per call, which makes such a chain a loop over a slice; their user
// functions then run up to one batch ahead of the sink. Async boundaries hold a bounded
// buffer: their upstream runs ahead by at most that many elements, then
// waits (or, for [Buffer], drops or fails as its [OverflowStrategy] says).
//
// # Concurrency
//
// Adjacent synchronous stages (Map, Filter, Take, Reorder, Concat, ...) are
// fused: they run as plain method calls in the goroutine that pulls, with
// no channel hop and no allocation per element. A graph of synchronous
// stages run with [RunWith] starts no goroutine at all.
//
// Goroutines start only at explicit async boundaries: [Async], [Buffer],
// [IdleTimeout], [MapAsync], [MapAsyncUnordered], [Merge] and
// [FlatMapMerge]. Each boundary runs its upstream in a new island (one
// goroutine pulling the stages above it) and hands elements over through a
// bounded queue that the consumer drains in batches. User functions in fused
// stages are called from the pulling goroutine; the functions of MapAsync run
// in a goroutine per element. Every goroutine a run starts has exited when
// the run reports that it has finished.
//
// # Errors
//
// Completion and failure flow downstream: Pull returns [EOS] or the error,
// exactly once. Cancellation flows upstream with a cause: [ErrCancelled]
// when downstream simply needs no more elements, the error when a failure
// downstream is the reason. A run reports its first failure.
//
// A panic in user code (a Map function, a sink callback, an iterator) does
// not crash the process: it becomes a [*PanicError] failure carrying the
// panic value and stack, and the stages above it are cancelled with it.
// [Recover] can turn an upstream failure into a final element.
//
// Cancelling the context of a run cancels every stage: stages blocked on a
// channel, a timer or another goroutine wake up, the run's error is the
// context's cause, and the run still waits for all its goroutines.
//
// # Writing stages
//
// [FromPuller], [NewFlow] and [NewSink] turn a Puller (or a function over
// one) into a blueprint. The rules a Puller follows are on its doc comment:
// one terminal signal; idempotent Cancel; Pull and Cancel never concurrent;
// blocking only together with the [Materializer]'s Done channel.
// Package streamtest has probes to test a stage deterministically and
// CheckFlow to run the contract checks on it.
//
// Package gostreams plugs operators of github.com/reugn/go-streams into
// typed graphs and exposes typed graphs as go-streams components.
package stream
