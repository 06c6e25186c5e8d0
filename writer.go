package streamhttp

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/internal/clock"
)

// writer owns a served connection's output: the one write buffer, the
// flush rule, the write deadline and the end of writing. Every byte the
// server sends goes through it.
//
//	layer output --add--> buf (at most writeChunk bytes) --write--> connection
//	                        ^                  ^
//	   flush: the island is about to wait      bound: MaxFlushDelay after code
//	   (stream.Materializer.WillBlock), or     that may block without saying
//	   buf is full                             so (a handler, a body source)
//
// The flush rule: output is written when the connection's goroutine is
// about to wait (for input, or for a concurrent handler), when the buffer
// is full, and at the latest MaxFlushDelay after the layer called code that
// may block without telling the stream (bound). Pipelined answers to a fast
// handler therefore leave in one write, and no answer waits on anything but
// its own request: a slow handler, or a body source that blocks, cannot
// hold back the bytes before it for longer than the bound.
//
// Memory: the buffer never holds more than writeChunk bytes; a larger piece
// is written through in writeChunk pieces, not copied whole, so a client
// that reads slowly costs at most writeChunk of buffer whatever the chunk
// size of the response.
//
// Deadline: each write must complete within WriteTimeout (the deadline is
// moved at most about once a second, so it holds to within a second, or
// a quarter of a shorter timeout); a
// write that does not fails the connection. halt ends a write that blocks,
// for a server that is closing.
//
// Locking: mu guards the buffer and the write itself, so writes never
// interleave; the write blocks while holding it. halt takes no lock.
type writer struct {
	w      io.Writer
	wd     interface{ SetWriteDeadline(time.Time) error } // nil: no deadline
	s      *ServerSettings
	stats  *statShard    // nil outside a binding
	lastIO *atomic.Int64 // when bytes last moved, unix nanoseconds
	wrote  *atomic.Bool  // a write happened since the reader last looked
	failed func(error)   // called once, without mu, when a write fails

	halted atomic.Bool // halt: every write fails from now on

	mu       sync.Mutex
	buf      []byte
	armed    bool        // timer is set to flush within MaxFlushDelay
	timer    *time.Timer // created on first need
	closed   bool        // nothing more is written
	err      error       // the first write failure
	deadline int64       // the write deadline set, unix nanoseconds; 0: none
}

// writeChunk is the most the write buffer holds, and the largest single
// write.
const writeChunk = 16 << 10 // a TLS record's worth

// add queues p, writing when the buffer is full. p is not kept.
func (w *writer) add(p []byte) error {
	w.mu.Lock()
	if w.err != nil || w.closed {
		err := w.err
		w.mu.Unlock()
		return err
	}
	var err error
	if len(w.buf)+len(p) < writeChunk {
		w.buf = appendBounded(w.buf, p)
	} else {
		// Fill the buffer up, write it, write full pieces of p through, and
		// keep the rest.
		n := writeChunk - len(w.buf)
		w.buf = appendBounded(w.buf, p[:n])
		err = w.writeLocked(w.buf)
		w.buf = w.buf[:0]
		for p = p[n:]; err == nil && len(p) >= writeChunk; p = p[writeChunk:] {
			err = w.writeLocked(p[:writeChunk])
		}
		if err == nil {
			w.buf = appendBounded(w.buf, p)
		}
	}
	w.mu.Unlock()
	if err != nil {
		w.failed(err)
	}
	return err
}

// appendBounded appends p to buf, growing it to at most writeChunk.
func appendBounded(buf, p []byte) []byte {
	if n := len(buf) + len(p); n > cap(buf) {
		nb := make([]byte, len(buf), min(max(2*cap(buf), n, 512), writeChunk))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, p...)
}

// flush writes what is buffered.
func (w *writer) flush() error {
	w.mu.Lock()
	err := w.flushLocked()
	w.mu.Unlock()
	if err != nil {
		w.failed(err)
	}
	return err
}

func (w *writer) flushLocked() error {
	if w.err != nil || w.closed {
		return w.err
	}
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
	if len(w.buf) == 0 {
		return nil
	}
	err := w.writeLocked(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeLocked writes p now, under the write deadline. Called with mu held.
func (w *writer) writeLocked(p []byte) error {
	now := clock.Now()
	if w.wd != nil && w.s.WriteTimeout > 0 {
		// Move the deadline only when it has come noticeably closer (a
		// second, or a quarter of the timeout): a timer operation per write
		// would cost more than the write's bookkeeping.
		slack := min(int64(time.Second), int64(w.s.WriteTimeout/4))
		if d := now + int64(w.s.WriteTimeout); d-w.deadline > slack {
			w.deadline = d
			w.wd.SetWriteDeadline(clock.Time(d))
		}
	}
	if w.halted.Load() {
		// A halt may have come between the check and the deadline above.
		if w.wd != nil {
			w.wd.SetWriteDeadline(time.Unix(1, 0))
		}
		if w.err == nil {
			w.err = errHalted
		}
		return w.err
	}
	n, err := w.w.Write(p)
	if w.stats != nil {
		w.stats.bytesOut.Add(int64(n))
	}
	w.wrote.Store(true)
	w.lastIO.Store(now)
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

// bound makes sure that what is buffered now is written within
// MaxFlushDelay, whatever the connection's goroutine does next. The layer
// calls it before it calls code that may block without telling the stream.
func (w *writer) bound() {
	w.mu.Lock()
	if !w.armed && len(w.buf) > 0 && w.s.MaxFlushDelay > 0 && w.err == nil && !w.closed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.s.MaxFlushDelay, w.onTimer)
		} else {
			w.timer.Reset(w.s.MaxFlushDelay)
		}
	}
	w.mu.Unlock()
}

// onTimer runs in the timer's goroutine: the bound has passed.
func (w *writer) onTimer() {
	w.mu.Lock()
	var err error
	if w.armed {
		err = w.flushLocked()
	}
	w.mu.Unlock()
	if err != nil {
		w.failed(err)
	}
}

// writeNow writes p after what is buffered, at once.
func (w *writer) writeNow(p []byte) error {
	w.mu.Lock()
	err := w.flushLocked()
	if err == nil && !w.closed {
		err = w.writeLocked(p)
	}
	w.mu.Unlock()
	if err != nil {
		w.failed(err)
	}
	return err
}

// last writes what is buffered and p, and then nothing more. It reports
// whether writing had already ended (by an earlier last), and the first
// write failure.
func (w *writer) last(p []byte) (wasClosed bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wasClosed = w.closed
	if !w.closed {
		if w.flushLocked() == nil && len(p) > 0 {
			w.writeLocked(p)
		}
		w.closed = true
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	return wasClosed, w.err
}

// halt makes a write that blocks (a client that does not read) fail now,
// and every later one at once. It takes no lock: the write holds it.
func (w *writer) halt() {
	w.halted.Store(true)
	if w.wd != nil {
		w.wd.SetWriteDeadline(time.Unix(1, 0))
	}
}
