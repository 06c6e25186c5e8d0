package stream

import (
	"fmt"
	"time"
)

// DefaultAsyncBuffer is the buffer size of an [Async] boundary.
const DefaultAsyncBuffer = 16

// Async marks an asynchronous boundary: the stages upstream of it run in their
// own goroutine (their own island), handing elements over through a bounded
// buffer of [DefaultAsyncBuffer] elements: upstream holds at most 16
// elements downstream has not taken and pulls at most 17 ahead. Everything
// between two boundaries is fused into plain calls in one goroutine.
//
//	in  -- 1 -- 2 -- 3 -- |
//	          [ async ]          (upstream runs in its own goroutine)
//	out -- 1 -- 2 -- 3 -- |
func Async[T any]() Flow[T, T] { return Buffer[T](DefaultAsyncBuffer, Backpressure) }

// Buffer is an async boundary with room for exactly size elements: upstream
// runs in its own goroutine and keeps pulling while there is room. An
// element leaves the buffer when downstream's Pull returns it, so upstream
// pulls at most size+1 elements beyond what downstream has taken. When the
// buffer is full the overflow strategy decides, over the size held
// elements, as Pekko's buffer does: [Backpressure] waits for room, [DropHead]
// drops the oldest, [DropTail] the youngest, [DropNew] the arriving
// element, and [Fail] fails with a [*BufferOverflowError] (after the held
// elements have been delivered). The memory grows with the elements held,
// so a huge size costs nothing until they arrive. It panics if size < 1.
//
// A failure upstream reaches downstream after the held elements; a
// cancellation from downstream cancels the upstream island at once, which
// wakes a pull blocked there; a panic or runtime.Goexit in a fused upstream
// stage fails the stream with a [*PanicError] or [ErrGoexit].
//
//	in  -- 1 -- 2 -- 3 -- 4 -- 5 --|         (downstream slow, size 2, DropHead)
//	          [ buffer(2, DropHead) ]
//	out ----------------- 4 ------ 5 -|
func Buffer[T any](size int, strategy OverflowStrategy) Flow[T, T] {
	if size < 1 {
		panic(fmt.Sprintf("stream: Buffer size %d < 1", size))
	}
	return boundary[T](size, strategy, 0, "")
}

// IdleTimeout fails the stream with a [*TimeoutError] when upstream delivers
// no element within d of the previous one (or of the first request). Only the
// time spent waiting for upstream counts; a downstream that is slow to pull
// does not make the stream idle. Upstream runs in its own goroutine so a
// blocked upstream cannot hold the timeout back. It panics if d <= 0.
//
//	in  -- 1 -- 2 ----------(d)----- 3
//	          [ idleTimeout(d) ]
//	out -- 1 -- 2 ----------X          (TimeoutError; upstream cancelled)
func IdleTimeout[T any](d time.Duration) Flow[T, T] {
	if d <= 0 {
		panic(fmt.Sprintf("stream: IdleTimeout %v <= 0", d))
	}
	return boundary[T](1, Backpressure, d, "idle timeout")
}

func boundary[T any](size int, strategy OverflowStrategy, timeout time.Duration, op string) Flow[T, T] {
	return Flow[T, T]{build: func(m *Materializer, upB func(*Materializer) Puller[T]) Puller[T] {
		island, cancel := m.Island()
		return &boundaryStage[T]{
			m: m, island: island, cancelIsland: cancel,
			up: upB(island), q: newQueue[T](size, strategy, 1),
			timeout: timeout, op: op,
		}
	}}
}

// boundaryStage is the downstream face of an async boundary. Its fields are
// owned by the downstream goroutine; up belongs to the producer goroutine once
// it has started.
type boundaryStage[T any] struct {
	m            *Materializer
	island       *Materializer
	cancelIsland func(error)
	up           Puller[T]
	q            *queue[T]
	timeout      time.Duration
	op           string
	started      bool
}

func (b *boundaryStage[T]) Pull() (T, error) {
	if !b.started {
		b.started = true
		b.island.Go(b.produce)
	}
	v, err := b.q.take(b.m, b.timeout, b.op)
	if err != nil && err != EOS {
		// A timeout, or the downstream island was cancelled: stop upstream.
		b.cancelIsland(err)
	}
	return v, err
}

func (b *boundaryStage[T]) Cancel(cause error) {
	if b.q.done != nil {
		return
	}
	if !b.started {
		b.q.done = cause
		b.up.Cancel(cause)
		return
	}
	b.q.cancel(cause)
	b.cancelIsland(cause)
}

// produce is the upstream island's goroutine. A panic or runtime.Goexit in
// a fused upstream stage ends the queue with that failure.
func (b *boundaryStage[T]) produce() {
	normal := false
	defer func() {
		if err := abnormal(recover(), normal); err != nil {
			b.up.Cancel(err)
			b.q.end(err)
		}
	}()
	b.produceLoop()
	normal = true
}

func (b *boundaryStage[T]) produceLoop() {
	for {
		v, err := b.up.Pull()
		if err != nil {
			b.q.end(err)
			return
		}
		if err := b.q.put(b.island, v); err != nil {
			b.up.Cancel(err)
			return
		}
	}
}
