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
// functions then run up to one batch ahead of the sink's own callback.
//
// # Bounds of the async boundaries
//
// An async boundary lets its upstream run ahead of downstream's demand, by
// exactly this much (an element counts as held until Pull has returned it,
// also when the consumer has already moved it out of the shared buffer):
//
//   - [Buffer](n): n elements held; upstream pulls at most n+1 elements
//     beyond what downstream has taken (the last one waits for room, or
//     meets the overflow strategy);
//   - [Async]: a Buffer of [DefaultAsyncBuffer] (16) with backpressure:
//     16 held, 17 pulled ahead;
//   - [IdleTimeout]: a Buffer of 1: 1 held, 2 pulled ahead;
//   - [Merge]: [DefaultMergeBuffer] (16) held for all sources together,
//     plus one element per source waiting for room;
//   - [FlatMapMerge](breadth, f): 16 held for all substreams together, plus
//     one element per running substream waiting for room, plus the upstream
//     elements whose substreams have started (at most breadth);
//   - [MapAsync](p) and [MapAsyncUnordered](p): p calls running or results
//     waiting; upstream is pulled only when a slot is free, so p ahead.
//
// Capacities are limits, not allocations: buffers, MapAsync's slots,
// Reorder's window and Grouped's group grow with the elements actually
// held, so math.MaxInt means "unbounded" (Pekko's grouped(Int.MaxValue)).
//
// A full Buffer does what its [OverflowStrategy] says, as Pekko's buffer
// does, over exactly the n held elements: [Backpressure] stops pulling,
// [DropHead] drops the oldest held element, [DropTail] the youngest held
// one, [DropNew] the arriving one, and [Fail] fails the stream with a
// [*BufferOverflowError] when element n+1 arrives. Unlike Pekko, which
// fails at once, the elements held before the overflow are delivered
// before the failure.
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
// [Recover] can turn an upstream failure into a final element; it never
// turns a cancellation into one.
//
// # Edges
//
// What happens at each edge of a run:
//
//   - Cancelling the context of a run cancels every stage: stages blocked
//     on a channel, a timer or another goroutine wake up, fused stages that
//     consume without emitting (Filter, Grouped) look at the context every
//     256 elements, the run's error is the context's cause, and the run
//     still waits for all its goroutines.
//   - A cancellation from downstream reaches every stage above, across
//     async boundaries (a boundary cancels its upstream island's context,
//     which wakes a pull blocked there). A stage does not pass a Cancel on
//     to an upstream that has already terminated.
//   - A failure fails the stages below it and cancels the ones above it
//     with the failure as cause. MapAsync fails at once on a failed call;
//     on an upstream failure it cancels the running calls at once and
//     fails after the results ahead of the failure.
//   - runtime.Goexit in user code (t.FailNow in a test) is a failure of the
//     stage, [ErrGoexit]: no invented element, no hung run. [RunnableGraph.Run]
//     cancels and awaits the run before the calling goroutine exits.
//   - A user function that returns [EOS] as its error fails the stream
//     with [ErrUnexpectedEOS] instead of ending it silently.
//   - When building the graph fails (a constructor panics), whatever was
//     built already is cancelled with the [*PanicError], the sink still
//     runs over a failing upstream so that it releases what it holds
//     ([ToChannel] closes its channel), [RunnableGraph.Start] returns, and
//     the run reports the failure.
//   - When a sink returns without having seen the end of its upstream and
//     without cancelling it, the run cancels it: iterators stop,
//     [WatchTermination] callbacks run, and every goroutine of the run has
//     exited when the run reports that it has finished.
//
// # Writing stages
//
// [FromPuller], [NewFlow] and [NewSink] turn a Puller (or a function over
// one) into a blueprint. The rules a Puller follows are on its doc comment:
// one terminal signal; idempotent Cancel; Pull and Cancel never concurrent;
// blocking only together with the [Materializer]'s Done channel.
// Package streamtest has probes to test a stage deterministically and
// CheckFlow to run the contract checks on it, the same checks this
// package runs over each of its operators.
//
// Package gostreams plugs operators of github.com/reugn/go-streams into
// typed graphs and exposes typed graphs as go-streams components.
package stream
