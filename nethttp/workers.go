package nethttp

import (
	"sync"
	"time"
)

// Defaults of Options.MaxIdleWorkers and Options.WorkerIdleTimeout.
const (
	DefaultMaxIdleWorkers    = 256
	DefaultWorkerIdleTimeout = time.Second
)

// minTick bounds the sweeper's tick from below: a WorkerIdleTimeout under
// twice it acts as twice it.
const minTick = time.Millisecond

// workers are the goroutines that run an adapter's handlers, kept for the
// requests that follow. A goroutine started for each request would begin
// with a small stack and grow it, copying it each time, on every request
// (a router and its middleware run deep): a kept goroutine has its stack
// grown already, and costs a channel send rather than a goroutine's start.
// The runtime shrinks the stacks of idle ones at garbage collections.
//
// Idle workers wait on a stack, the last one parked first out (its stack is
// the warmest; the oldest are at the bottom); at most max of them wait.
// While some wait, a sweeper ticks every timeout/2 and ends those that
// have seen three ticks since they parked (they have waited between
// timeout and 1.5 timeout): no timer per request.
type workers struct {
	mu       sync.Mutex
	idle     []*worker
	max      int
	timeout  time.Duration
	tick     uint64 // the sweeper's ticks
	sweeping bool   // the sweeper runs
}

// worker is an idle goroutine's mailbox.
type worker struct {
	work   chan *responseWriter // capacity 1: the sender never waits; nil: leave
	parked uint64               // the tick at which it parked
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
		st := w.st // w is recycled by the time serve returns
		a.serve(w, w.hr)
		if st.recycled() {
			st.release()
		}
		if a.workers.max <= 0 {
			return
		}
		if wk == nil {
			wk = &worker{work: make(chan *responseWriter, 1)}
		}
		if w = a.workers.park(wk); w == nil {
			return
		}
	}
}

// park waits as an idle worker for the next request; nil means leave (the
// idle stack is full, or the sweeper ended it).
func (p *workers) park(wk *worker) *responseWriter {
	p.mu.Lock()
	if len(p.idle) >= p.max {
		p.mu.Unlock()
		return nil
	}
	wk.parked = p.tick
	p.idle = append(p.idle, wk)
	if !p.sweeping {
		p.sweeping = true
		go p.sweep()
	}
	p.mu.Unlock()
	return <-wk.work
}

// sweep ends the workers that have waited too long, until none waits.
func (p *workers) sweep() {
	t := time.NewTicker(max(p.timeout/2, minTick))
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		p.tick++
		n := 0
		for n < len(p.idle) && p.idle[n].parked+3 <= p.tick {
			p.idle[n].work <- nil
			n++
		}
		if n > 0 {
			rest := copy(p.idle, p.idle[n:])
			clear(p.idle[rest:])
			p.idle = p.idle[:rest]
		}
		if len(p.idle) == 0 {
			p.sweeping = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// idleCount is the number of idle workers (tests).
func (p *workers) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
