package bidi

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/streamhttp/streamhttp/stream"
)

// ProtocolError is the failure of a [OneToOne] guard whose wrapped flow broke
// its contract of exactly one output per input, in order.
type ProtocolError struct {
	// Reason says what the wrapped flow did, e.g. "flow emitted an output
	// for which no input was outstanding".
	Reason string
}

func (e *ProtocolError) Error() string { return "bidi: one-to-one: " + e.Reason }

// OneToOne guards a flow whose contract is one output per input, in order
// (a request handler), and bounds how many inputs it holds at once. The
// guarded flow goes on the guard's metal side, Join(OneToOne[I, O](n), f)
// with f a stream.Flow[I, O]: the top direction carries inputs into f, the
// bottom direction carries f's outputs back.
//
//	      +------ OneToOne(limit) ------+
//	I  ~> | ---- count in, wait while - | ~> I ----+
//	      |      limit are outstanding  |        [ f ]
//	O  <~ | <--- count out ------------ | <~ O ----+
//	      +-----------------------------+
//
//	in   -- 1 -- 2 -- 3 -- 4 --|        (limit 2; f answers 1 late)
//	into f  1 -- 2 ------- 3 -- 4 --|   3 is pulled only once 1' is out
//	out  -------- 1' - 2' -- 3' - 4' --|
//
// At most limit inputs are inside f at once: when limit are outstanding the
// guard stops pulling its input until an output frees a slot, which is
// backpressure all the way up. The guard fails the stream with a
// [*ProtocolError], which reaches the consumer as the failure and the
// producer as the cause of its cancellation, when
//
//   - an output arrives while no input is outstanding;
//   - f completes while inputs are unanswered;
//   - f is synchronous (fused with the guard, in one goroutine) and asks for
//     another input while limit inputs are unanswered: no output can come
//     before that input, so waiting would never end. A sync f that drops an
//     input is caught this way.
//
// An asynchronous f that drops an input can only be noticed at its
// completion: until then the guard waits, one slot short (the server's
// request timeout ends such a connection). Failures and cancellations pass
// through unchanged in both directions.
//
// Each run has its own counter. For the server, where the handler is joined
// on the application side, the guard is turned around:
// JoinLeft(handler, Atop(Reversed(OneToOne[*Request, *Response](n)), layer)).
// OneToOne panics if limit < 1.
func OneToOne[I, O any](limit int) Flow[I, I, O, O] {
	if limit < 1 {
		panic(fmt.Sprintf("bidi: OneToOne limit %d < 1", limit))
	}
	return FromFunc(func() (stream.Flow[I, I], stream.Flow[O, O]) {
		g := &guard{limit: limit, freed: make(chan struct{}, 1)}
		in := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[I]) stream.Puller[I] {
			return &guardIn[I]{g: g, m: m, up: up}
		})
		out := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[O]) stream.Puller[O] {
			g.outM = m
			return &guardOut[O]{g: g, up: up}
		})
		return in, out
	})
}

// guard is the state the two directions of one run of a OneToOne share. The
// input side may run in a different goroutine than the output side (when
// the guarded flow has an async boundary), hence the lock.
type guard struct {
	limit int
	freed chan struct{} // cap 1: wakes the input side when a slot frees

	// outM is the island of the output side, set when it is built (before
	// the run starts); outPulling is set while the output side waits for
	// its upstream. Both together tell the input side that it is being
	// pulled from inside the output side's own pull, in one goroutine.
	outM       *stream.Materializer
	outPulling atomic.Bool

	mu          sync.Mutex
	outstanding int  // inputs handed to the flow and not answered yet
	waiting     bool // the input side is parked on freed
}

// wait returns once fewer than limit inputs are outstanding, or the
// island's cause if m is cancelled first. Only the input side adds to
// outstanding, so room seen here is still there when its pull returns.
//
// When the input side runs in the same island as the output side and the
// output side is inside its pull, the flow between them is synchronous and
// asks for another input before answering the ones it holds: waiting would
// wait for itself forever, so wait fails with a *ProtocolError instead.
func (g *guard) wait(m *stream.Materializer) error {
	for {
		g.mu.Lock()
		if g.outstanding < g.limit {
			g.waiting = false
			g.mu.Unlock()
			return nil
		}
		if m == g.outM && g.outPulling.Load() {
			n := g.outstanding
			g.mu.Unlock()
			return &ProtocolError{Reason: fmt.Sprintf(
				"synchronous flow pulled another input with %d %s unanswered (the limit): "+
					"it drops inputs or needs more than the limit before it answers", n, plural(n, "input"))}
		}
		g.waiting = true
		g.mu.Unlock()
		select {
		case <-g.freed:
		case <-m.Done():
			return m.Cause()
		}
	}
}

func (g *guard) add() {
	g.mu.Lock()
	g.outstanding++
	g.mu.Unlock()
}

// answer counts one output; it reports false when none was outstanding.
func (g *guard) answer() bool {
	g.mu.Lock()
	if g.outstanding == 0 {
		g.mu.Unlock()
		return false
	}
	g.outstanding--
	wake := g.waiting
	g.waiting = false
	g.mu.Unlock()
	if wake {
		select {
		case g.freed <- struct{}{}:
		default:
		}
	}
	return true
}

func (g *guard) unanswered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.outstanding
}

// guardIn is the input side of a OneToOne: it pulls the next input only
// when there is room for it.
type guardIn[I any] struct {
	g    *guard
	m    *stream.Materializer
	up   stream.Puller[I]
	done bool
}

func (s *guardIn[I]) Pull() (I, error) {
	var zero I
	if err := s.g.wait(s.m); err != nil {
		s.done = true
		s.up.Cancel(err)
		return zero, err
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = true
		return zero, err
	}
	s.g.add()
	return v, nil
}

func (s *guardIn[I]) Cancel(cause error) {
	if s.done {
		return
	}
	s.done = true
	s.up.Cancel(cause)
}

// guardOut is the output side of a OneToOne: it matches every output with
// an outstanding input.
type guardOut[O any] struct {
	g    *guard
	up   stream.Puller[O]
	done bool
}

func (s *guardOut[O]) Pull() (O, error) {
	var zero O
	s.g.outPulling.Store(true)
	v, err := s.up.Pull()
	s.g.outPulling.Store(false)
	switch {
	case err == stream.EOS:
		s.done = true
		if n := s.g.unanswered(); n > 0 {
			return zero, &ProtocolError{Reason: fmt.Sprintf("flow completed with %d %s unanswered", n, plural(n, "input"))}
		}
		return zero, err
	case err != nil:
		s.done = true
		return zero, err
	case !s.g.answer():
		s.done = true
		perr := &ProtocolError{Reason: "flow emitted an output for which no input was outstanding"}
		s.up.Cancel(perr)
		return zero, perr
	}
	return v, nil
}

func (s *guardOut[O]) Cancel(cause error) {
	if s.done {
		return
	}
	s.done = true
	s.up.Cancel(cause)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
