// Package bidi provides bidirectional flows: stages with two directions,
// the building blocks of protocol stacks (Pekko's BidiFlow). It knows
// nothing of HTTP; the server layer of streamhttp is built from it.
//
// # Overview
//
// A [Flow][I1, O1, I2, O2] has a top direction from I1 to O1, outbound
// towards the transport ("the metal"), drawn left to right, and a bottom
// direction from I2 to O2, inbound from the metal, drawn right to left:
//
//	            +--------------+
//	app   I1 ~> | ---- top --> | ~> O1   metal
//	side  O2 <~ | <- bottom -- | <~ I2   side
//	            +--------------+
//
// Stacks grow to the left: [Atop](a, b) puts b closer to the metal than a.
// A codec, a timeout and a pipelining guard stack into one layer:
//
//	layer := bidi.Atop(bidi.Atop(guard, timeout), codec)
//
// Make bidi flows with [FromFlows] (two independent directions), [FromFunc]
// (two directions that share state, created afresh for every run) and
// [Identity]; turn one around with [Reversed]; put two face to face with
// [JoinBidi]. A bidi flow runs once it is closed into an ordinary
// [stream.Flow]: [Join] closes its metal side with a flow (a transport, an
// echo in tests), [JoinLeft] its application side (a request handler,
// which yields the bytes-to-bytes flow of a connection). [OneToOne] guards
// a flow that must answer every input exactly once, in order.
//
// Blueprints are immutable values: a bidi flow can be shared, stacked and
// joined any number of times, and every run of a joined flow has its own
// stages and its own state.
//
// # Backpressure
//
// Joining chains the parts in one line. Join(b, f) runs
// I1 -> top -> f -> bottom -> O2; JoinLeft(f, b) runs
// I2 -> bottom -> f -> top -> O1. Demand is the pull of whoever consumes the
// joined flow: it reaches the far direction only through the near one and
// f, so nothing moves on either side of a layer unless the consumer asks,
// and a layer that stops pulling (as [OneToOne] does at its limit) stops
// everything upstream of it, down to the socket. Completion and failure
// travel the same line: when I1 completes, the top direction completes,
// then f, then the bottom direction.
//
// # Concurrency
//
// Joining adds no goroutine and no channel: synchronous parts (Map, Filter,
// codecs written with [stream.NewFlow]) are fused into plain calls in the
// goroutine that pulls the joined flow, exactly as if they had been chained
// with [stream.ViaFlow]. Goroutines appear only at async boundaries inside
// the parts or the joined flow, for example a handler built with
// [stream.MapAsync]: everything upstream of the boundary, the top direction
// of Join(b, f) included, then runs in the boundary's own goroutine while
// the bottom direction runs in the consumer's.
//
// So the two directions of one bidi stage may run in different goroutines
// at the same time. State they share (made with [FromFunc]) must be
// synchronized, with a mutex or channels; [OneToOne]'s counter is. Nor do
// the directions take turns element by element: an async boundary lets the
// top direction run ahead, and fused stages may process several elements
// at once, so pair what one direction records with what the other reads
// through a queue (first in, first out), not a single variable. State is
// never shared between runs: FromFunc's factory is called once per run of
// the joined flow, while the run is being materialized. A stage that blocks
// must also wake up when its [stream.Materializer]'s Done channel closes,
// as every stage does.
//
// # Errors
//
// Failures flow downstream and cancellations upstream through the joined
// line, unchanged: a failure of the metal-side flow in Join(b, f) reaches
// the bottom direction and the consumer; the consumer's cancellation
// reaches the bottom direction, f, the top direction and I1's producer, with
// its cause. A [OneToOne] guard whose flow emits an output with no input
// outstanding, or completes with inputs unanswered, fails with a
// [*ProtocolError]. The operations panic on the zero Flow and OneToOne on a
// limit below 1; these are programmer errors.
//
// A framing codec closed with an echo on the metal side:
//
//	codec := bidi.FromFlows(stream.Map(encode), stream.Map(decode))
//	echo := stream.Map(func(b []byte) []byte { return b })
//	flow := bidi.Join(codec, echo) // stream.Flow[string, string]
package bidi
