package streamhttp

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
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

// maxFreshGrace bounds how long Terminate leaves a just-accepted
// connection alone (see drainConns).
const maxFreshGrace = time.Second

// freshGraceLeft is how much is left at now of the grace that Terminate
// gives a just-accepted connection: HeadTimeout, at most maxFreshGrace,
// from its accept.
func (c *IncomingConnection) freshGraceLeft(now time.Time) time.Duration {
	grace := maxFreshGrace
	if t := c.b.s.HeadTimeout; t > 0 {
		grace = min(grace, t)
	}
	return grace - time.Duration(now.UnixNano()-c.accepted)
}

// waitingForRequest reports whether c is served and has no request in
// the handler: being set up (TLS handshake, PROXY header), or its layer has
// handed out nothing that is unanswered. Such a connection, drained, would
// close at once.
func (c *IncomingConnection) waitingForRequest() bool {
	b := c.b
	b.mu.Lock()
	handled, parked, cio := c.handled, c.parked != nil, c.cio
	b.mu.Unlock()
	if !handled || parked {
		return false
	}
	if cio == nil {
		return true
	}
	l := cio.hooks.layer.Load()
	return l == nil || l.inFlow.Load() == 0
}

// drainConns starts the graceful end of every connection, for Terminate.
// A connection accepted within the grace (HeadTimeout, at most
// maxFreshGrace) drains once it is that old: its client has just
// connected and its first request is on the way, and closing it now would
// fail that request (a client that opens a connection per request loses
// one at every restart otherwise). The returned function stops the
// delayed drains, for the hard deadline.
func (b *ServerBinding) drainConns() (stop func()) {
	now := time.Now()
	var timers []*time.Timer
	for _, c := range b.connsWhere(anyConn) {
		if left := c.freshGraceLeft(now); left > 0 && c.waitingForRequest() {
			timers = append(timers, time.AfterFunc(left, func() { c.terminate(false) }))
			continue
		}
		c.terminate(false)
	}
	return func() {
		for _, t := range timers {
			t.Stop()
		}
	}
}
