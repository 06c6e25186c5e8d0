package stream

import (
	"context"
	"errors"
	"sync"
)

// Materializer is what a stage sees of the run it belongs to while it is
// materialized and while it runs: the run's context, scoped to the stage's
// island, and a way to start goroutines that the run waits for.
//
// An island is the set of stages that run in one goroutine. Each async
// boundary (Async, Buffer, MapAsync, Merge, ...) starts a new island for its
// upstream; cancelling the boundary from downstream cancels that island's
// context, which wakes every stage blocked in it.
type Materializer struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	run    *runState

	// onBlock are called, in the island's goroutine, before a stage of the
	// island blocks; owned by that goroutine.
	onBlock []func()
}

// runState is shared by every island of one run.
type runState struct {
	cancel  context.CancelCauseFunc // cancels the root island
	wg      sync.WaitGroup
	mu      sync.Mutex
	failure error // first failure reported by a goroutine, guarded by mu
}

// errRunFinished is the cause with which a finished run cancels its root
// context to release whatever is still parked.
var errRunFinished = errors.New("stream: run finished")

func newRoot(ctx context.Context) *Materializer {
	if ctx == nil {
		ctx = context.Background()
	}
	c, cancel := context.WithCancelCause(ctx)
	return &Materializer{ctx: c, cancel: cancel, run: &runState{cancel: cancel}}
}

// Context returns the context of the stage's island. It is cancelled when the
// run's context is cancelled, when the run finishes, and when the island is
// cancelled from downstream. Pass it to user functions that take a context.
func (m *Materializer) Context() context.Context { return m.ctx }

// Done is shorthand for m.Context().Done().
func (m *Materializer) Done() <-chan struct{} { return m.ctx.Done() }

// Cause returns why the island's context was cancelled, or nil.
func (m *Materializer) Cause() error { return context.Cause(m.ctx) }

// Stopped reports whether the island's context has been cancelled. It is a
// cheap check meant for loops that do not otherwise block.
func (m *Materializer) Stopped() bool { return m.ctx.Err() != nil }

// Go starts f in a goroutine that the run waits for before it reports that
// it has finished. A panic in f fails the whole run with a [*PanicError],
// runtime.Goexit in f with [ErrGoexit].
func (m *Materializer) Go(f func()) {
	m.run.wg.Add(1)
	go func() {
		defer m.run.wg.Done()
		normal := false
		defer func() {
			if err := abnormal(recover(), normal); err != nil {
				m.Fail(err)
			}
		}()
		f()
		normal = true
	}()
}

// Cancel cancels m's island with cause: every stage blocked in it wakes and
// treats that as a cancellation. For the root island that is the whole run.
// A custom stage uses it to interrupt its own upstream from another
// goroutine (the sink probe of package streamtest does).
func (m *Materializer) Cancel(cause error) { m.cancel(cause) }

// OnBlock registers f to run in the island's goroutine whenever a stage of
// the island is about to block (to wait for another goroutine, a timer or
// I/O). A sink that buffers output uses it to flush before the island goes
// idle: pipelined results leave together, and nothing waits in a buffer
// while the island sleeps. Register during materialization or from the
// island's goroutine.
func (m *Materializer) OnBlock(f func()) { m.onBlock = append(m.onBlock, f) }

// WillBlock runs the OnBlock functions of m's island. Stages call it right
// before they block, and only then: on the fast path nothing is called.
func (m *Materializer) WillBlock() {
	for _, f := range m.onBlock {
		f()
	}
}

// Island returns a Materializer for a new island below m and the function
// that cancels it with a cause. Async boundaries use it for their upstream.
func (m *Materializer) Island() (*Materializer, context.CancelCauseFunc) {
	c, cancel := context.WithCancelCause(m.ctx)
	return &Materializer{ctx: c, cancel: cancel, run: m.run}, cancel
}

// Fail fails the whole run with err: the run reports it (unless it already
// failed) and every island is cancelled with it. Stages normally fail by
// returning an error from Pull; Fail is for goroutines with nobody to return to.
func (m *Materializer) Fail(err error) {
	m.run.mu.Lock()
	if m.run.failure == nil {
		m.run.failure = err
	}
	m.run.mu.Unlock()
	m.run.cancel(err)
}

// finish ends a run: it cancels what is still parked, waits for every
// goroutine of the run, and returns the run's first failure.
func (m *Materializer) finish(err error) error {
	m.cancel(errRunFinished)
	m.run.wg.Wait()
	m.run.mu.Lock()
	defer m.run.mu.Unlock()
	if m.run.failure != nil && err == nil {
		return m.run.failure
	}
	return err
}
