package httpcore

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// AttachContext makes r's context a child of parent that [Request.CancelContext]
// cancels: a server attaches the connection's context to each request
// before handing it to a handler, and cancels it when the response is done.
// It is called once, before anyone else sees r.
//
// The child costs nothing until someone waits on it: its Done channel is
// made when Done is first called, and only then is it registered with
// parent (context.AfterFunc, when parent can be cancelled at all). A
// request whose handler never asks for Done is attached and cancelled
// without an allocation. Err reports context.Canceled once CancelContext
// has cancelled it, parent.Err() otherwise (the first cancellation wins:
// CancelContext after parent's end changes nothing); context.Cause agrees.
// Deadline and Value are parent's. The context is safe for concurrent use.
func (r *Request) AttachContext(parent context.Context) {
	if parent == nil {
		panic("httpcore: nil context")
	}
	// Field stores, not a struct assignment: a fresh request's state is
	// nil already, and a store of nil would still cost a write barrier.
	r.ctx.parent = parent
	if r.ctx.load() != nil {
		atomic.StorePointer(&r.ctx.state, nil)
	}
	r.attached = true
}

// CancelContext cancels the context attached by AttachContext, if r's
// context was not ended already, and releases its registration with the
// parent. It is for servers, when the response is done. It is idempotent,
// safe to call from any goroutine, and a no-op for a context that was not
// attached.
func (r *Request) CancelContext() {
	if r.attached {
		r.ctx.cancel()
	}
}

// reqContext is the context AttachContext makes (or, when the request's
// attached flag is false, just holds the context SetContext set).
//
// state is nil while the context is live and nobody has called Done, and
// then a *ctxState: made by Done (or AfterFunc), or the shared
// canceledState when CancelContext came first. It is a plain pointer under
// atomic operations, not an atomic.Pointer, so that a Request is not
// marked as uncopyable (WithContext copies field by field).
type reqContext struct {
	parent context.Context
	state  unsafe.Pointer // *ctxState
}

// ctxState is the part of a request context that exists once someone
// waits on it.
type ctxState struct {
	done     chan struct{}
	canceled atomic.Bool // cancelled by CancelContext (set before done is closed)

	mu     sync.Mutex
	closed bool         // done is closed
	stop   func() bool  // undoes the registration with the parent
	funcs  []*afterFunc // AfterFunc's functions, run when done closes
}

type afterFunc struct{ f func() }

// canceledState is the state of every context that CancelContext ended
// before anyone called Done.
var canceledState = func() *ctxState {
	s := &ctxState{done: make(chan struct{}), closed: true}
	s.canceled.Store(true)
	close(s.done)
	return s
}()

// canceledCause answers package context's private lookup for the nearest
// cancelCtx (the only key Background does not answer nil to): asked by
// context.Cause on a context that CancelContext ended first, it says
// "Canceled" even when the parent ends later with another cause.
var canceledCause = func() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(context.Canceled)
	return ctx
}()

func (c *reqContext) load() *ctxState { return (*ctxState)(atomic.LoadPointer(&c.state)) }

// Deadline is the parent's.
func (c *reqContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel that is closed when the context is cancelled. The
// first call makes it and registers the context with its parent.
func (c *reqContext) Done() <-chan struct{} {
	if st := c.load(); st != nil {
		return st.done
	}
	return c.makeState().done
}

// Err is context.Canceled after CancelContext, otherwise the parent's.
func (c *reqContext) Err() error {
	st := c.load()
	if st != nil && st.canceled.Load() {
		return context.Canceled
	}
	err := c.parent.Err()
	if err != nil && st != nil {
		// The parent ended, and AfterFunc's goroutine may not have
		// closed done yet: close it now, as a context's Err is nil
		// until Done is closed. CancelContext may have been first.
		st.close(false)
		if st.canceled.Load() {
			return context.Canceled
		}
	}
	return err
}

// Value is the parent's, but for context.Cause's lookup once
// CancelContext has cancelled the context.
func (c *reqContext) Value(key any) any {
	if st := c.load(); st != nil && st.canceled.Load() {
		if v := canceledCause.Value(key); v != nil {
			return v
		}
	}
	return c.parent.Value(key)
}

// AfterFunc arranges to call f in its own goroutine once the context is
// cancelled, like context.AfterFunc: package context uses it for
// context.AfterFunc and for the children of the context (WithCancel,
// WithTimeout, ...), which so need no goroutine of their own to wait.
func (c *reqContext) AfterFunc(f func()) (stop func() bool) {
	st := c.load()
	if st == nil {
		st = c.makeState()
	}
	a := &afterFunc{f}
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	st.funcs = append(st.funcs, a)
	st.mu.Unlock()
	return func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		i := slices.Index(st.funcs, a)
		if i < 0 {
			return false // started, or stopped already
		}
		st.funcs = slices.Delete(st.funcs, i, i+1)
		return true
	}
}

// String names the context, as the contexts of package context do.
func (c *reqContext) String() string { return "httpcore.Request.Context" }

// makeState makes the state with the Done channel, unless another
// goroutine was first, and registers it with the parent.
func (c *reqContext) makeState() *ctxState {
	st := &ctxState{done: make(chan struct{})}
	if !atomic.CompareAndSwapPointer(&c.state, nil, unsafe.Pointer(st)) {
		return c.load()
	}
	pd := c.parent.Done()
	if pd == nil {
		return st // the parent is never cancelled
	}
	select {
	case <-pd:
		st.close(false) // at once, rather than in AfterFunc's goroutine
		return st
	default:
	}
	stop := context.AfterFunc(c.parent, func() { st.close(false) })
	st.mu.Lock()
	if st.closed {
		// CancelContext came in between and found no registration to undo.
		st.mu.Unlock()
		stop()
		return st
	}
	st.stop = stop
	st.mu.Unlock()
	return st
}

// cancel is CancelContext.
func (c *reqContext) cancel() {
	for {
		if st := c.load(); st != nil {
			st.close(c.parent.Err() == nil)
			return
		}
		if c.parent.Err() != nil {
			// The parent ended first: Err stays its. A later Done finds
			// the parent done and closes at once.
			return
		}
		if atomic.CompareAndSwapPointer(&c.state, nil, unsafe.Pointer(canceledState)) {
			return
		}
		// Done made the state meanwhile: close that.
	}
}

// close closes done, once: canceled says whether CancelContext does it
// (rather than the parent's end), and so decides Err.
func (s *ctxState) close(canceled bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if canceled {
		s.canceled.Store(true)
	}
	s.closed = true
	close(s.done)
	stop, funcs := s.stop, s.funcs
	s.stop, s.funcs = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, a := range funcs {
		go a.f()
	}
}
