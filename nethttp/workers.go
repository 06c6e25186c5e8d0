package nethttp

import (
	"slices"
	"sync"
	"time"
)

// Defaults of Options.MaxIdleWorkers and Options.WorkerIdleTimeout.
const (
	DefaultMaxIdleWorkers    = 256
	DefaultWorkerIdleTimeout = time.Second
)

// workers are the goroutines that run an adapter's handlers, kept for the
// requests that follow. A goroutine started for each request would begin
// with a small stack and grow it, copying it each time, on every request
// (a router and its middleware run deep): a kept goroutine has its stack
// grown already, and costs a channel send rather than a goroutine's start.
// The runtime shrinks the stacks of idle ones at garbage collections.
//
// Idle workers wait on a stack, the last one parked first out (its stack is
// the warmest, and the others may time out); at most max of them wait, each
// at most timeout.
type workers struct {
	mu      sync.Mutex
	idle    []*worker
	max     int
	timeout time.Duration
}

// worker is an idle goroutine's mailbox.
type worker struct {
	work  chan *responseWriter // capacity 1: the dispatcher never waits
	timer *time.Timer
}

// dispatch runs the handler for w in an idle worker, or in a new one.
func (a *adapter) dispatch(w *responseWriter) {
	p := &a.workers
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		wk := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		wk.work <- w
		return
	}
	p.mu.Unlock()
	go a.run(w)
}

// run is a worker's goroutine: it serves w, then waits for more.
func (a *adapter) run(w *responseWriter) {
	var wk *worker
	for {
		a.serve(w, w.hr)
		if a.workers.max <= 0 {
			return
		}
		if wk == nil {
			wk = &worker{work: make(chan *responseWriter, 1), timer: time.NewTimer(time.Hour)}
			wk.timer.Stop()
		}
		if w = a.workers.park(wk); w == nil {
			return
		}
	}
}

// park waits as an idle worker for the next request; nil means leave (the
// idle stack is full, or nothing came within the timeout).
func (p *workers) park(wk *worker) *responseWriter {
	p.mu.Lock()
	if len(p.idle) >= p.max {
		p.mu.Unlock()
		return nil
	}
	p.idle = append(p.idle, wk)
	p.mu.Unlock()
	wk.timer.Reset(p.timeout)
	select {
	case w := <-wk.work:
		wk.timer.Stop()
		return w
	case <-wk.timer.C:
	}
	p.mu.Lock()
	if i := slices.Index(p.idle, wk); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	// A dispatcher took it off the stack just now: its request is on its
	// way.
	return <-wk.work
}

// idleCount is the number of idle workers (tests).
func (p *workers) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
