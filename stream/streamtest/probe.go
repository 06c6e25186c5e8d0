package streamtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// Timeout is how long an Expect method waits before it fails the test.
var Timeout = 5 * time.Second

// signal is what a source probe hands to one pull.
type signal[T any] struct {
	v   T
	err error // nil for an element, stream.EOS for completion, else failure
}

// SourceProbe is a manually driven source: the test sees every pull (the
// demand) and every cancellation, and decides what each pull gets. A probe
// serves one run; materializing it twice fails the test.
type SourceProbe[T any] struct {
	t       testing.TB
	pulls   chan struct{}
	sends   chan signal[T]
	cancels chan error

	behindFlow bool // set by ProbeFlow: a flow is the probe's only caller

	mu         sync.Mutex
	used       bool
	sentTerm   bool // the test has sent a terminal signal
	pullCount  int
	violations []string
}

// NewSourceProbe returns a source probe whose protocol violations (a pull
// after a terminal signal or after cancellation, a cancellation after the
// terminal signal) fail t when the test ends.
func NewSourceProbe[T any](t testing.TB) *SourceProbe[T] {
	t.Helper()
	p := &SourceProbe[T]{
		t:       t,
		pulls:   make(chan struct{}, 1<<16),
		sends:   make(chan signal[T], 1<<16),
		cancels: make(chan error, 1),
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, v := range p.violations {
			t.Errorf("source probe: %s", v)
		}
	})
	return p
}

// Source returns the probe as a source for one run.
func (p *SourceProbe[T]) Source() stream.Source[T] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[T] {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.used {
			p.violations = append(p.violations, "materialized twice")
		}
		p.used = true
		return &probePuller[T]{p: p, m: m}
	})
}

func (p *SourceProbe[T]) violate(format string, args ...any) {
	p.mu.Lock()
	p.violations = append(p.violations, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

// Pulls returns how many times the source has been pulled so far.
func (p *SourceProbe[T]) Pulls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pullCount
}

// ExpectRequest waits until the source is pulled (one pull per call).
func (p *SourceProbe[T]) ExpectRequest() {
	p.t.Helper()
	select {
	case <-p.pulls:
	case <-time.After(Timeout):
		p.t.Fatalf("source probe: no request within %v", Timeout)
	}
}

// ExpectNoRequest checks that no pull arrives within d (pulls already seen by
// ExpectRequest do not count).
func (p *SourceProbe[T]) ExpectNoRequest(d time.Duration) {
	p.t.Helper()
	select {
	case <-p.pulls:
		p.t.Fatalf("source probe: unexpected request")
	case <-time.After(d):
	}
}

func (p *SourceProbe[T]) send(s signal[T]) {
	p.t.Helper()
	p.mu.Lock()
	term := p.sentTerm
	if s.err != nil {
		p.sentTerm = true
	}
	p.mu.Unlock()
	if term {
		p.t.Fatalf("source probe: signal sent after the terminal signal")
	}
	p.sends <- s
}

// SendNext queues v for a pull (the current one or the next one).
func (p *SourceProbe[T]) SendNext(vs ...T) {
	p.t.Helper()
	for _, v := range vs {
		p.send(signal[T]{v: v})
	}
}

// SendComplete queues completion.
func (p *SourceProbe[T]) SendComplete() { p.t.Helper(); p.send(signal[T]{err: stream.EOS}) }

// SendError queues a failure.
func (p *SourceProbe[T]) SendError(err error) { p.t.Helper(); p.send(signal[T]{err: err}) }

// ExpectCancellation waits for the source to be cancelled and returns the cause.
func (p *SourceProbe[T]) ExpectCancellation() error {
	p.t.Helper()
	select {
	case err := <-p.cancels:
		return err
	case <-time.After(Timeout):
		p.t.Fatalf("source probe: no cancellation within %v", Timeout)
		return nil
	}
}

// ExpectNoCancellation checks that the source is not cancelled within d.
func (p *SourceProbe[T]) ExpectNoCancellation(d time.Duration) {
	p.t.Helper()
	select {
	case err := <-p.cancels:
		p.t.Fatalf("source probe: unexpected cancellation: %v", err)
	case <-time.After(d):
	}
}

// probePuller is the run-time side of a SourceProbe.
type probePuller[T any] struct {
	p    *SourceProbe[T]
	m    *stream.Materializer
	term error // terminal signal returned, if any
	canc bool  // cancelled
}

func (s *probePuller[T]) Pull() (T, error) {
	var zero T
	switch {
	case s.canc:
		s.p.violate("pulled after cancellation")
		return zero, stream.ErrCancelled
	case s.term != nil:
		s.p.violate("pulled after the terminal signal %v", s.term)
		return zero, s.term
	}
	s.p.mu.Lock()
	s.p.pullCount++
	s.p.mu.Unlock()
	s.p.pulls <- struct{}{}
	select {
	case sig := <-s.p.sends:
		if sig.err != nil {
			s.term = sig.err
		}
		return sig.v, sig.err
	case <-s.m.Done():
		cause := s.m.Cause()
		s.Cancel(cause)
		return zero, cause
	}
}

func (s *probePuller[T]) Cancel(cause error) {
	if s.term != nil {
		// The Puller contract: a stage does not pass a Cancel on to an
		// upstream that has terminated. A sink may cancel after the end
		// (it is a no-op), so only a probe with a flow between it and the
		// sink (ProbeFlow's) reports it.
		if s.p.behindFlow {
			s.p.violate("a flow passed on a cancellation (%v) after the terminal signal %v", cause, s.term)
		}
		return
	}
	if s.canc {
		return
	}
	s.canc = true
	s.p.cancels <- cause
}

// Event is what a sink probe observed: an element, completion or failure.
type Event[T any] struct {
	Value T
	Err   error // nil for an element, stream.EOS for completion
}

// SinkProbe is a manually driven sink: the test requests elements one batch
// at a time and checks what arrives. A probe serves one run.
type SinkProbe[T any] struct {
	t      testing.TB
	demand chan int
	events chan Event[T]

	mu         sync.Mutex
	m          *stream.Materializer
	island     *stream.Materializer // the island the upstream runs in
	inFlight   bool                 // a pull is outstanding
	cancel     error                // cause of the test's cancellation
	cancelReq  chan struct{}
	violations []string
}

// NewSinkProbe returns a sink probe bound to t.
func NewSinkProbe[T any](t testing.TB) *SinkProbe[T] {
	t.Helper()
	p := &SinkProbe[T]{
		t:         t,
		demand:    make(chan int, 1<<10),
		events:    make(chan Event[T], 1<<16),
		cancelReq: make(chan struct{}, 1),
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, v := range p.violations {
			t.Errorf("sink probe: %s", v)
		}
	})
	return p
}

// Sink returns the probe as a sink for one run. The sink's run ends after the
// terminal signal, after Cancel, or when the run is cancelled.
//
// The upstream is materialized in an island of its own (no goroutine is
// started: the probe pulls it directly), so that Cancel can interrupt an
// outstanding pull the way a downstream async boundary does, without
// cancelling the whole run.
func (p *SinkProbe[T]) Sink() stream.Sink[T, stream.NotUsed] {
	own := stream.NewAsyncFlow(func(_, island *stream.Materializer, up stream.Puller[T]) stream.Puller[T] {
		p.mu.Lock()
		p.island = island
		p.mu.Unlock()
		return up
	})
	return stream.FlowTo(own, stream.NewSink(func(m *stream.Materializer, up stream.Puller[T]) (stream.NotUsed, error) {
		p.mu.Lock()
		if p.m != nil {
			p.violations = append(p.violations, "materialized twice")
		}
		p.m = m
		p.mu.Unlock()
		return stream.NotUsed{}, p.consume(m, up)
	}))
}

func (p *SinkProbe[T]) cancelled() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cancel
}

// startPull marks a pull as outstanding unless the test has cancelled.
func (p *SinkProbe[T]) startPull() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel == nil {
		p.inFlight = true
	}
	return p.cancel
}

func (p *SinkProbe[T]) endPull() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight = false
	return p.cancel
}

func (p *SinkProbe[T]) consume(m *stream.Materializer, up stream.Puller[T]) (err error) {
	defer func() {
		// A panic in a fused upstream stage unwinds to here: report it as
		// the failure it becomes, then cancel upstream as any sink would.
		if v := recover(); v != nil {
			pe := stream.NewPanicError(v)
			p.events <- Event[T]{Err: pe}
			up.Cancel(pe)
			err = pe
		}
	}()
	for {
		select {
		case n := <-p.demand:
			for range n {
				if cause := p.startPull(); cause != nil {
					up.Cancel(cause)
					return nil
				}
				v, err := up.Pull()
				if cause := p.endPull(); cause != nil {
					up.Cancel(cause) // a no-op if the pull was terminal
					return nil
				}
				if err != nil {
					p.events <- Event[T]{Err: err}
					if err == stream.EOS {
						return nil
					}
					return err
				}
				p.events <- Event[T]{Value: v}
			}
		case <-p.cancelReq:
			up.Cancel(p.cancelled())
			return nil
		case <-m.Done():
			if cause := p.cancelled(); cause != nil {
				up.Cancel(cause)
				return nil
			}
			cause := m.Cause()
			up.Cancel(cause)
			return cause
		}
	}
}

// Request asks for n more elements. Demand must be positive: Request(0)
// and negative demand fail the test (Reactive Streams rule 3.9).
func (p *SinkProbe[T]) Request(n int) {
	p.t.Helper()
	if n <= 0 {
		p.t.Errorf("sink probe: Request(%d): demand must be positive", n)
		return
	}
	p.demand <- n
}

// Cancel cancels the upstream with cause (nil means stream.ErrCancelled).
// Without a pull outstanding it calls the upstream Puller's Cancel, so a
// flow whose Cancel does not stop its producer is caught. With a pull
// outstanding (which no Cancel may interrupt: Pull and Cancel are never
// concurrent) it cancels the island the upstream runs in, as a downstream
// async boundary does, and the Puller's Cancel follows once the pull
// returns. It never cancels the run itself.
func (p *SinkProbe[T]) Cancel(cause error) {
	if cause == nil {
		cause = stream.ErrCancelled
	}
	p.mu.Lock()
	if p.cancel == nil {
		p.cancel = cause
	}
	island, inFlight := p.island, p.inFlight
	p.mu.Unlock()
	if inFlight && island != nil {
		island.Cancel(cause)
		return
	}
	select {
	case p.cancelReq <- struct{}{}:
	default:
	}
}

func (p *SinkProbe[T]) next() Event[T] {
	p.t.Helper()
	select {
	case ev := <-p.events:
		return ev
	case <-time.After(Timeout):
		p.t.Fatalf("sink probe: nothing arrived within %v", Timeout)
		return Event[T]{}
	}
}

// ExpectNext waits for the next element and returns it; completion or a
// failure fails the test.
func (p *SinkProbe[T]) ExpectNext() T {
	p.t.Helper()
	ev := p.next()
	if ev.Err != nil {
		p.t.Fatalf("sink probe: want an element, got terminal signal %v", ev.Err)
	}
	return ev.Value
}

// RequestNext requests one element and waits for it.
func (p *SinkProbe[T]) RequestNext() T {
	p.t.Helper()
	p.Request(1)
	return p.ExpectNext()
}

// ExpectComplete waits for completion.
func (p *SinkProbe[T]) ExpectComplete() {
	p.t.Helper()
	if ev := p.next(); ev.Err != stream.EOS {
		p.t.Fatalf("sink probe: want completion, got %s", describe(ev))
	}
}

// ExpectError waits for a failure and returns it.
func (p *SinkProbe[T]) ExpectError() error {
	p.t.Helper()
	ev := p.next()
	if ev.Err == nil || ev.Err == stream.EOS {
		p.t.Fatalf("sink probe: want a failure, got %s", describe(ev))
	}
	return ev.Err
}

// ExpectEvent waits for the next event of any kind.
func (p *SinkProbe[T]) ExpectEvent() Event[T] { p.t.Helper(); return p.next() }

// ExpectNoMessage checks that nothing arrives within d.
func (p *SinkProbe[T]) ExpectNoMessage(d time.Duration) {
	p.t.Helper()
	select {
	case ev := <-p.events:
		p.t.Fatalf("sink probe: want nothing, got %s", describe(ev))
	case <-time.After(d):
	}
}

func describe[T any](ev Event[T]) string {
	switch {
	case ev.Err == nil:
		return fmt.Sprintf("element %v", ev.Value)
	case errors.Is(ev.Err, stream.EOS):
		return "completion"
	}
	return fmt.Sprintf("failure %v", ev.Err)
}

// Probed is a flow run between a source probe and a sink probe.
type Probed[I, O any] struct {
	In  *SourceProbe[I]
	Out *SinkProbe[O]
	Run *stream.Running[stream.NotUsed, stream.NotUsed]
}

// ProbeFlow starts f between a new source probe and a new sink probe under
// ctx, and makes the test wait for the run to end (by cancelling it if
// needed) when it finishes.
func ProbeFlow[I, O any](t testing.TB, ctx context.Context, f stream.Flow[I, O]) *Probed[I, O] {
	t.Helper()
	in, out := NewSourceProbe[I](t), NewSinkProbe[O](t)
	in.behindFlow = true
	run := startRun(t, ctx, stream.To(stream.Via(in.Source(), f), out.Sink()))
	return &Probed[I, O]{In: in, Out: out, Run: run}
}

// Wait waits for the run to finish and returns its error.
func (p *Probed[I, O]) Wait(t testing.TB) error {
	t.Helper()
	return waitRun(t, p.Run)
}
