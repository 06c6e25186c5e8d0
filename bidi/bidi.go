package bidi

import "github.com/streamhttp/streamhttp/stream"

// Flow is a blueprint of a stage with two directions, like a layer of a
// protocol stack. The top direction takes I1 and emits O1 and runs outbound,
// towards the transport (the metal), drawn left to right; the bottom
// direction takes I2 and emits O2 and runs inbound, from the metal towards
// the application, drawn right to left:
//
//	      +-----------------------+
//	I1 ~> |  top:    I1 ---> O1   | ~> O1
//	      |                       |
//	O2 <~ |  bottom: O2 <--- I2   | <~ I2
//	      +-----------------------+
//	application side     metal side
//
// Stacks grow to the left: the rightmost layer is the one closest to the
// metal ([Atop]). A bidi flow does not run by itself; [Join] closes its metal
// side with a [stream.Flow] (and [JoinLeft] its application side), which
// gives an ordinary stream.Flow.
//
// Like every blueprint, a Flow is an immutable value that may be shared and
// joined any number of times; each run of a joined flow gets fresh stages
// and, for a flow made with [FromFunc], fresh shared state. The zero Flow is
// not usable: the operations of this package panic on it.
type Flow[I1, O1, I2, O2 any] struct {
	// parts returns the two directions. It is called once per
	// materialization of a joined flow when perRun is set (a FromFunc stage
	// is inside), and may be called once per join otherwise.
	parts  func() (stream.Flow[I1, O1], stream.Flow[I2, O2])
	perRun bool
}

// must returns b's parts function, panicking on the zero Flow.
func (b Flow[I1, O1, I2, O2]) must(op string) func() (stream.Flow[I1, O1], stream.Flow[I2, O2]) {
	if b.parts == nil {
		panic("bidi: " + op + " of the zero Flow")
	}
	return b.parts
}

// FromFlows makes a bidi flow from two independent directions: top carries
// I1 to O1 (outbound) and bottom carries I2 to O2 (inbound).
//
//	      +-------------------+
//	I1 ~> | ----[ top ]-----> | ~> O1
//	      |                   |
//	O2 <~ | <---[ bottom ]--- | <~ I2
//	      +-------------------+
//
// Each run builds its own stages of top and bottom, as for any
// [stream.Flow]; use [FromFunc] when the two directions share state.
func FromFlows[I1, O1, I2, O2 any](top stream.Flow[I1, O1], bottom stream.Flow[I2, O2]) Flow[I1, O1, I2, O2] {
	return Flow[I1, O1, I2, O2]{parts: func() (stream.Flow[I1, O1], stream.Flow[I2, O2]) { return top, bottom }}
}

// FromFunc makes a bidi flow whose two directions are created by factory,
// once for every run of a flow it is joined into (when that flow is
// materialized, in the goroutine materializing it). The two flows that one
// call returns may share state, for example a queue in which the inbound
// side records each request's method and the outbound side reads it back;
// no state is ever shared between two runs, even of the same blueprint.
//
//	      +------------------------------+
//	I1 ~> | ----[ top ]----------------> | ~> O1
//	      |        \__ shared state __/  |      (one instance per run)
//	O2 <~ | <---[ bottom ]-------------- | <~ I2
//	      +------------------------------+
//
// The two directions may run in different goroutines (see the package
// documentation, Concurrency): state they share must be synchronized.
func FromFunc[I1, O1, I2, O2 any](factory func() (top stream.Flow[I1, O1], bottom stream.Flow[I2, O2])) Flow[I1, O1, I2, O2] {
	if factory == nil {
		panic("bidi: FromFunc with a nil factory")
	}
	return Flow[I1, O1, I2, O2]{parts: factory, perRun: true}
}

// Identity is the bidi flow that passes both directions through unchanged.
// It is the neutral element of [Atop].
//
//	      +----------+
//	A  ~> | -------> | ~> A
//	      |          |
//	B  <~ | <------- | <~ B
//	      +----------+
func Identity[A, B any]() Flow[A, A, B, B] {
	return FromFlows(identity[A](), identity[B]())
}

// identity is a flow that hands its upstream Puller on as its own: it costs
// nothing at run time.
func identity[T any]() stream.Flow[T, T] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[T]) stream.Puller[T] { return up })
}

// Atop stacks b below a, on its metal side: a's outbound output feeds b's
// outbound input, and b's inbound output feeds a's inbound input.
//
//	      +---------------- Atop(a, b) ----------------+
//	      |  +-------+                  +-------+      |
//	I1 ~> |  |       | ------ O1 -----> |       |      | ~> O3
//	      |  |   a   |                  |   b   |      |
//	O2 <~ |  |       | <----- I2 ------ |       |      | <~ I3
//	      |  +-------+                  +-------+      |
//	      +--------------------------------------------+
//
// Atop is associative: Atop(Atop(a, b), c) behaves as Atop(a, Atop(b, c)).
func Atop[I1, O1, I2, O2, O3, I3 any](a Flow[I1, O1, I2, O2], b Flow[O1, O3, I3, I2]) Flow[I1, O3, I3, O2] {
	ap, bp := a.must("Atop"), b.must("Atop")
	return Flow[I1, O3, I3, O2]{
		parts: func() (stream.Flow[I1, O3], stream.Flow[I3, O2]) {
			aTop, aBottom := ap()
			bTop, bBottom := bp()
			return stream.ViaFlow(aTop, bTop), stream.ViaFlow(bBottom, aBottom)
		},
		perRun: a.perRun || b.perRun,
	}
}

// Reversed turns b around: its bottom direction becomes the top one and its
// top direction the bottom one, so its application side faces the metal.
// Reversed(Reversed(b)) behaves as b.
//
//	      +-----+                    +-------------+
//	I1 ~> |     | ~> O1        I2 ~> |             | ~> O2
//	      |  b  |         =>         | Reversed(b) |
//	O2 <~ |     | <~ I2        O1 <~ |             | <~ I1
//	      +-----+                    +-------------+
func Reversed[I1, O1, I2, O2 any](b Flow[I1, O1, I2, O2]) Flow[I2, O2, I1, O1] {
	bp := b.must("Reversed")
	return Flow[I2, O2, I1, O1]{
		parts: func() (stream.Flow[I2, O2], stream.Flow[I1, O1]) {
			top, bottom := bp()
			return bottom, top
		},
		perRun: b.perRun,
	}
}

// Join closes the metal side of b with f: what b sends out on its top
// direction goes through f and comes back into b's bottom direction. The
// result is an ordinary flow from b's application-side input to its
// application-side output (Pekko's BidiFlow.join).
//
//	      +--------- Join(b, f) ----------+
//	      |  +-----+                      |
//	I1 ~> |  |     | ----- O1 ----+       |
//	      |  |  b  |              [ f ]   |
//	O2 <~ |  |     | <---- I2 ----+       |
//	      |  +-----+                      |
//	      +-------------------------------+
//
// The stages are chained in one line, I1 -> top -> f -> bottom -> O2, so
// synchronous parts are fused into plain calls in one goroutine and demand
// on O2 is what drives the top direction. For a bidi flow made with
// [FromFunc] (or stacked from one), each run of the result calls the
// factory once.
func Join[I1, O1, I2, O2 any](b Flow[I1, O1, I2, O2], f stream.Flow[O1, I2]) stream.Flow[I1, O2] {
	bp := b.must("Join")
	join := func() stream.Flow[I1, O2] {
		top, bottom := bp()
		return stream.ViaFlow(stream.ViaFlow(top, f), bottom)
	}
	return closed(b.perRun, join)
}

// JoinLeft closes the application side of b with f: what b delivers on its
// bottom direction goes through f and comes back into b's top direction.
// This is how a request handler meets the server layer: the result is a
// flow from the metal-side input to the metal-side output, bytes to bytes
// (Pekko's Flow.join(bidi)).
//
//	+-------- JoinLeft(f, b) -------+
//	|                     +-----+   |
//	|       +---- I1 ---> |     |   | ~> O1
//	|     [ f ]           |  b  |   |
//	|       +<--- O2 ---- |     |   | <~ I2
//	|                     +-----+   |
//	+-------------------------------+
//
// The stages are chained as I2 -> bottom -> f -> top -> O1; everything said
// for [Join] holds. JoinLeft(f, b) behaves as Join(Reversed(b), f).
func JoinLeft[I1, O1, I2, O2 any](f stream.Flow[O2, I1], b Flow[I1, O1, I2, O2]) stream.Flow[I2, O1] {
	bp := b.must("JoinLeft")
	join := func() stream.Flow[I2, O1] {
		top, bottom := bp()
		return stream.ViaFlow(stream.ViaFlow(bottom, f), top)
	}
	return closed(b.perRun, join)
}

// JoinBidi puts a and b face to face, metal side to metal side: a's
// outbound output feeds b's inbound input (O1), and b's outbound output
// feeds a's inbound input (I2), as when a client codec meets a server codec
// over a wire. What is left open is a's application side and b's, so the
// result is again a bidi flow: its top carries I1 through a to b's
// application side (O3), its bottom carries b's replies I3 back to O2.
//
//	      +--------------------- JoinBidi(a, b) ---------------------+
//	      |  +-------+                              +-------+         |
//	I1 ~> |  |       | ---- O1 ---->  (b's inbound) |       | ~~~~~~~~|~> O3
//	      |  |   a   |                              |   b   |         |
//	O2 <~ |  |       | <--- I2 ----- (b's outbound) |       | <~~~~~~~|~~ I3
//	      |  +-------+                              +-------+         |
//	      |   app side ~ metal side        metal side ~ app side      |
//	      +----------------------------------------------------------+
//
// JoinBidi(a, b) equals Atop(a, Reversed(b)).
func JoinBidi[I1, O1, I2, O2, I3, O3 any](a Flow[I1, O1, I2, O2], b Flow[I3, I2, O1, O3]) Flow[I1, O3, I3, O2] {
	return Atop(a, Reversed(b))
}

// closed turns the joining function of Join or JoinLeft into a flow: for a
// stateless bidi flow the chain is fixed once, for one with per-run state
// it is built afresh, with fresh state, every time the flow is materialized.
func closed[I, O any](perRun bool, join func() stream.Flow[I, O]) stream.Flow[I, O] {
	if !perRun {
		return join()
	}
	return stream.DeferFlow(func(*stream.Materializer) stream.Flow[I, O] { return join() })
}
