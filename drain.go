package streamhttp

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/h1"
)

// Draining is the state of a binding that is about to stop, behind a load
// balancer: it goes on accepting and serving, while its health check
// (HealthHandler) answers 503 so that the balancer sends new connections
// and requests elsewhere. Once the balancer has noticed (after its check
// interval times its fall count), Terminate finds nothing left to cut.
//
//	serving ──Drain──▶ draining ──Terminate──▶ terminating ──▶ done
//	  health 200         health 503              no accepts
//
// SIGTERM runs the whole sequence when ServerSettings.DrainPeriod is set
// (see HandleSignals); DrainThenTerminate runs it from code.

// Drain puts the binding in the draining state: HealthHandler answers 503
// from now on; everything else goes on as before. Draining cannot be
// undone, and a second call does nothing.
func (b *ServerBinding) Drain() {
	if b.draining.CompareAndSwap(false, true) {
		attrs := []any{}
		if addr := b.LocalAddr(); addr != nil {
			attrs = append(attrs, slog.String("addr", addr.String()))
		}
		b.s.Logger.Info("streamhttp: draining", attrs...)
	}
}

// Draining reports whether Drain was called.
func (b *ServerBinding) Draining() bool { return b.draining.Load() }

// DrainThenTerminate drains the binding for period (the balancer's time to
// notice: its health check interval times its fall count, and a margin),
// then terminates it gracefully with ctx's deadline as the hard deadline.
// The period ends early when ctx ends or the binding ends.
func (b *ServerBinding) DrainThenTerminate(ctx context.Context, period time.Duration) error {
	b.Drain()
	b.drainFor(ctx, period)
	return b.Terminate(ctx)
}

// bindingKey is the context key under which a binding's connections find
// it.
type bindingKey struct{}

// BindingOf returns the binding that accepted the connection of a request
// (pass the request's Context), or nil for a connection served on its own
// (ServeConn).
func BindingOf(ctx context.Context) *ServerBinding {
	b, _ := ctx.Value(bindingKey{}).(*ServerBinding)
	return b
}

// HealthHandler answers a load balancer's health check: 200 "serving"
// while the request's binding serves, 503 "draining" once it drains or
// terminates. Route the balancer's check path to it:
//
//	if r.URI.Path == "/health" {
//		return streamhttp.HealthHandler(r)
//	}
//
// The 503 carries Connection: close, so that a balancer that keeps its
// check connections open checks over a new one next time.
func HealthHandler(r *Request) *Response {
	b := BindingOf(r.Context())
	if b != nil && (b.Draining() || b.terminatingNow()) {
		resp := httpcore.Text(httpcore.StatusServiceUnavailable, "draining\n")
		resp.Header.Add("Connection", "close")
		return resp
	}
	return httpcore.Text(httpcore.StatusOK, "serving\n")
}

// terminatingNow reports whether Terminate or Close has started.
func (b *ServerBinding) terminatingNow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.terminating || b.closed
}

// drainFor drains the binding for period, or until ctx or the binding
// ends.
func (b *ServerBinding) drainFor(ctx context.Context, period time.Duration) {
	if period <= 0 {
		return
	}
	b.Drain()
	t := time.NewTimer(period)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-b.done:
	}
}

// maxDrainGrace bounds how long Terminate leaves alone a connection that
// has no request in the handler (see drainConns).
const maxDrainGrace = time.Second

// drainGrace is that time: HeadTimeout, at most maxDrainGrace.
func (b *ServerBinding) drainGrace() time.Duration {
	if t := b.s.HeadTimeout; t > 0 {
		return min(t, maxDrainGrace)
	}
	return maxDrainGrace
}

// freshGraceLeft is how much is left at now of the grace that Terminate
// gives a just-accepted connection, counted from its accept.
func (c *IncomingConnection) freshGraceLeft(now time.Time) time.Duration {
	return c.b.drainGrace() - time.Duration(now.UnixNano()-c.accepted)
}

// betweenRequests reports whether c is served and has no request in the
// handler: being set up (TLS handshake, PROXY header; l is nil then), or
// its layer l has handed out nothing that is unanswered. Such a
// connection, drained, would close at once, failing the request its client
// may be sending.
func (c *IncomingConnection) betweenRequests() (l *h1.Conn, between bool) {
	b := c.b
	b.mu.Lock()
	handled, parked, cio := c.handled, c.parked, c.cio
	b.mu.Unlock()
	if !handled || parked {
		return nil, false
	}
	if cio == nil {
		return nil, true
	}
	l = cio.layer // nil: HTTP/2
	return l, l == nil || !l.HandlerWorking()
}

// closeAfterNext makes the layer's next response its last (it carries
// Connection: close) while it goes on reading the request that may be on
// its way; draining it (closing) would drop that request.
func closeAfterNext(l *h1.Conn) { l.CloseAfterNext() }

// drainConns starts the graceful end of every connection, for Terminate.
// A connection with requests in the handler drains now: no further
// request, the last response closes. One between requests answers its next
// request with Connection: close, and drains (closes, when still idle) only
// after a grace (HeadTimeout, at most a second; for a just-accepted one,
// counted from its accept): its client may have sent that request already,
// and a connection closed under it fails it (a client that opens a
// connection per request, or that does not retry on a closed keep-alive
// connection, loses one at every restart otherwise). Idle connections that
// park meanwhile close. The returned function ends the graces, for the
// hard deadline.
func (b *ServerBinding) drainConns() (stop func()) {
	now := time.Now()
	for _, c := range b.connsWhere(anyConn) {
		if l, between := c.betweenRequests(); between {
			if l != nil {
				closeAfterNext(l) // now: its next request may be on the way
			}
			wait := b.drainGrace()
			if left := c.freshGraceLeft(now); left > 0 {
				wait = left
			}
			b.graceDrain(c, now.Add(wait))
			continue
		}
		c.terminate(false)
	}
	return func() {
		b.mu.Lock()
		clear(b.graced)
		b.mu.Unlock()
	}
}

// graceTick is how often the connections in their grace are looked at:
// the layer of one whose serving is starting appears, a request reaches
// the handler of another.
const graceTick = time.Millisecond

// graceDrain lets c run until deadline before it drains, making its next
// response its last as soon as its layer is there; a request in its
// handler meanwhile drains it at once (its response closes). One goroutine
// per binding watches them, while there are any.
func (b *ServerBinding) graceDrain(c *IncomingConnection, deadline time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.graced == nil {
		b.graced = make(map[*IncomingConnection]*graceState)
	}
	if _, ok := b.graced[c]; ok {
		return
	}
	b.graced[c] = &graceState{deadline: deadline, marked: c.cio != nil && c.cio.layer != nil}
	if !b.gracing {
		b.gracing = true
		go b.watchGraced()
	}
}

// graceState is what graceDrain knows of a connection.
type graceState struct {
	deadline time.Time
	marked   bool // its layer closes after its next response
}

// watchGraced is graceDrain's goroutine.
func (b *ServerBinding) watchGraced() {
	t := time.NewTicker(graceTick)
	defer t.Stop()
	type entry struct {
		c *IncomingConnection
		g *graceState
	}
	var all []entry
	var due []*IncomingConnection
	for {
		select {
		case <-t.C:
		case <-b.done:
			b.mu.Lock()
			b.gracing = false
			clear(b.graced)
			b.mu.Unlock()
			return
		}
		b.mu.Lock()
		if len(b.graced) == 0 {
			b.gracing = false
			b.mu.Unlock()
			return
		}
		for c, g := range b.graced {
			all = append(all, entry{c, g})
		}
		b.mu.Unlock()
		now := time.Now()
		for _, e := range all {
			l, between := e.c.betweenRequests()
			switch {
			case now.After(e.g.deadline), !between:
				// The grace is over, or a request is in the handler (its
				// response closes), or it parked (it closes).
				due = append(due, e.c)
			case l != nil && !e.g.marked:
				closeAfterNext(l)
				e.g.marked = true
			}
		}
		clear(all)
		all = all[:0]
		b.mu.Lock()
		for _, c := range due {
			delete(b.graced, c)
		}
		b.mu.Unlock()
		for i, c := range due {
			c.terminate(false)
			due[i] = nil
		}
		due = due[:0]
	}
}
