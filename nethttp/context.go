package nethttp

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// handlerCtx is a handler's r.Context(): a child of the streamhttp
// request's context (parent) that ServeHTTP's return cancels, with
// net/http's server context keys. It lives in the request's allocation
// (request) and costs no allocation of its own until someone waits on it:
// the first Done (or a child context, which asks for Done) makes a
// context.WithCancel child of base, which is the one that is cancelled
// from then on; a cancel before that only sets canceled.
//
// Children of it register with that child (context's own lookup finds it
// through Value), so they need no goroutine.
type handlerCtx struct {
	base     serverCtx                 // parent with the server keys
	lazy     atomic.Pointer[cancelCtx] // made by the first Done
	canceled atomic.Bool               // cancel has run
}

// cancelCtx is the lazily made child of base.
type cancelCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// init sets c up as a child of parent; c is a zero handlerCtx, before
// anyone else sees it.
func (c *handlerCtx) init(parent context.Context, srv *http.Server, local net.Addr) {
	c.base = serverCtx{Context: parent, srv: srv, local: local}
}

// cancel ends the context (context.Canceled), once ServeHTTP has returned
// or the connection was hijacked and let go. Idempotent.
func (c *handlerCtx) cancel() {
	c.canceled.Store(true)
	if l := c.lazy.Load(); l != nil {
		l.cancel()
	}
}

func (c *handlerCtx) Deadline() (time.Time, bool) { return c.base.Deadline() }

func (c *handlerCtx) Done() <-chan struct{} {
	if l := c.lazy.Load(); l != nil {
		return l.ctx.Done()
	}
	return c.makeLazy().ctx.Done()
}

// makeLazy makes the cancellable child, unless another goroutine was
// first; a cancel that came before is applied to it.
func (c *handlerCtx) makeLazy() *cancelCtx {
	ctx, cancel := context.WithCancel(&c.base)
	l := &cancelCtx{ctx: ctx, cancel: cancel}
	if !c.lazy.CompareAndSwap(nil, l) {
		cancel()
		return c.lazy.Load()
	}
	if c.canceled.Load() {
		cancel()
	}
	return l
}

func (c *handlerCtx) Err() error {
	if l := c.lazy.Load(); l != nil {
		return l.ctx.Err()
	}
	if c.canceled.Load() {
		return context.Canceled
	}
	if err := c.base.Err(); err != nil {
		// As a context's Err is set only once Done is closed: the child
		// made now is cancelled at once, and says so.
		return c.makeLazy().ctx.Err()
	}
	return nil
}

// Value answers the server keys, and context's lookup of the nearest
// cancellable context (context.Cause, children) with the lazy child, which
// a cancel that came first makes now, already cancelled.
func (c *handlerCtx) Value(key any) any {
	if l := c.lazy.Load(); l != nil {
		return l.ctx.Value(key)
	}
	if c.canceled.Load() {
		return c.makeLazy().ctx.Value(key)
	}
	return c.base.Value(key)
}

// String names the context, as the contexts of package context do.
func (c *handlerCtx) String() string { return "nethttp.Request.Context" }
