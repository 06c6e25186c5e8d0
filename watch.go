package streamhttp

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/internal/clock"
)

// Watching the client while a handler runs: cancellation starts at the
// socket.
//
// Between two requests the connection's reader is in a read, and notices
// at once when the client closes or resets. While a handler works (or a
// response body source produces) nobody reads: a synchronous handler runs
// in the reader's own goroutine. So once the oldest unanswered request has
// waited a tick of the request timer (see internal/h1/timeout.go) and its body is not
// being read, the connection starts a watch: a read, in a goroutine of its
// own, that is the reader's next read started early. Its result is the
// reader's: bytes it reads (the next pipelined request) are handed to the
// reader, whose next read waits for the watch rather than reading itself.
// A reset or another failure ends the run (the requests' contexts and the
// response's source are cancelled, and nothing more is pulled from it);
// the end of the input (the client closed, or half-closed, its side)
// cancels the contexts of the requests still unanswered, whose answers are
// still written for a client that only half-closed.
//
// A fast handler never meets a watch: it costs nothing on the hot path
// but an atomic state change per read.

// Watch states (connIO.watchState).
const (
	watchIdle     = iota // nobody reads
	watchReading         // the reader is in a read
	watchStarting        // a watch is being set up
	watchActive          // the watch's read is under way, or done: watchDone tells
)

// Watch starts a watch when nobody reads the connection. Called by the
// layer's timer.
func (c *connIO) Watch() {
	if c.dl == nil {
		// Without read deadlines the reader could not take over the watch's
		// read with its own timeouts.
		return
	}
	if !c.watchState.CompareAndSwap(watchIdle, watchStarting) {
		return
	}
	c.watchMu.Lock()
	if c.watchStopped {
		c.watchMu.Unlock()
		c.watchState.Store(watchIdle)
		return
	}
	// The reader's last deadline may be one for idleness, which does not
	// apply while a request is under way; the reader sets its own again
	// when it takes over (dlReset).
	c.dlReset.Store(true)
	c.dl.SetReadDeadline(time.Time{})
	c.watchMu.Unlock()
	c.watchDone = make(chan struct{})
	c.watchBuf = readBuffers.Get().(*[]byte)
	c.watchState.Store(watchActive)
	go c.runWatch()
}

// stopWatching makes a watch under way return, and keeps any later one
// from starting: the run is ending. It sets a read deadline in the past,
// which a watch can no longer clear.
func (c *connIO) stopWatching() {
	c.watchMu.Lock()
	c.watchStopped = true
	if c.dl != nil {
		c.dl.SetReadDeadline(time.Unix(1, 0))
	}
	c.watchMu.Unlock()
}

func (c *connIO) runWatch() {
	defer close(c.watchDone)
	n, err := c.rwc.Read(*c.watchBuf)
	c.watchN, c.watchErr = n, err
	switch {
	case n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded):
		// Bytes for the reader, or the run's end (or the reader's own
		// deadline) cut the wait short: nothing to tell.
	case errors.Is(err, io.EOF):
		if l := c.layer; l != nil {
			l.PeerClosed()
		}
	default:
		c.cancel(errors.Join(errPeerGone, err))
	}
}

// readOrTake is the reader's read: its own, or the result of the watch
// under way (which the end of the run, or the deadline the reader sets,
// cuts short).
func (c *connIO) readOrTake(p []byte, answered bool) (int, error) {
	for {
		switch c.watchState.Load() {
		case watchIdle:
			if !c.watchState.CompareAndSwap(watchIdle, watchReading) {
				continue
			}
			n, err := c.read(p, answered)
			c.watchState.Store(watchIdle)
			return n, err
		case watchStarting:
			runtime.Gosched()
		case watchActive:
			if c.dlReset.Swap(false) && c.deadline != 0 {
				// The watch cleared the deadline the reader had set.
				c.dl.SetReadDeadline(clock.Time(c.deadline))
				if c.runEnded.Load() {
					// The run's end may have set its deadline in the past
					// just before: the one above must not undo it, or
					// the watch's read would go on waiting for the
					// client (see connReader.Pull).
					c.dl.SetReadDeadline(time.Unix(1, 0))
				}
			}
			<-c.watchDone
			n := copy(p, (*c.watchBuf)[:c.watchN])
			err := c.watchErr
			c.endWatch()
			return n, err
		}
	}
}

// endWatch releases a finished watch. Called by the reader, or when the
// run has ended.
func (c *connIO) endWatch() {
	readBuffers.Put(c.watchBuf)
	c.watchBuf, c.watchN, c.watchErr = nil, 0, nil
	c.watchState.Store(watchIdle)
}

// stopWatch waits for a watch still under way at the end of a run (which
// has set a deadline in the past, or closed the connection) and releases
// it; the bytes it read are lost with the run.
func (c *connIO) stopWatch() {
	c.stopWatching()
	if c.watchState.Load() == watchActive {
		<-c.watchDone
		c.endWatch()
	}
}

// watchFields are the watch's, in connIO.
type watchFields struct {
	watchMu      sync.Mutex // orders a watch's clearing of the read deadline with the run's end
	watchStopped bool       // the run is ending: no watch starts (guarded by watchMu)
	watchState   atomic.Int32
	dlReset      atomic.Bool // a watch cleared the read deadline: the reader sets it anew
	watchDone    chan struct{}
	watchBuf     *[]byte
	watchN       int
	watchErr     error
}
