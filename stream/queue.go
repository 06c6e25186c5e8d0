package stream

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// OverflowStrategy says what a [Buffer] does with an element that arrives
// when it is full.
type OverflowStrategy int

const (
	// Backpressure stops pulling upstream until there is room (the default).
	Backpressure OverflowStrategy = iota
	// DropHead drops the oldest buffered element to make room.
	DropHead
	// DropTail drops the youngest buffered element to make room.
	DropTail
	// DropNew drops the arriving element.
	DropNew
	// Fail fails the stream with a [*BufferOverflowError].
	Fail
)

func (s OverflowStrategy) String() string {
	switch s {
	case Backpressure:
		return "backpressure"
	case DropHead:
		return "drop-head"
	case DropTail:
		return "drop-tail"
	case DropNew:
		return "drop-new"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("OverflowStrategy(%d)", int(s))
}

// BufferOverflowError is the failure of a [Buffer] with the [Fail] strategy.
type BufferOverflowError struct{ Size int }

func (e *BufferOverflowError) Error() string {
	return fmt.Sprintf("stream: buffer overflow: more than %d elements waiting", e.Size)
}

// queue is the bounded hand-off between the producer goroutines of an async
// boundary (upstream island) and its consumer (downstream island).
//
// The queue holds at most size elements, counting those the consumer has
// taken into its private batch but not yet returned from Pull: an element
// leaves the buffer when Pull returns it, as in Pekko. So a producer runs at
// most size elements ahead of the consumer (plus the one element it has
// pulled and is trying to put).
//
// With Backpressure the consumer takes everything that is waiting into its
// private batch in one lock acquisition, so a busy boundary costs one lock
// round trip per batch on the consumer side. It publishes how many batch
// elements it has returned (an atomic counter) so that producers see the
// room as it appears, and wakes a parked producer when half of the batch is
// out. With the dropping strategies and Fail the consumer takes one element
// per lock acquisition: the element an overflow drops must be the oldest or
// youngest of all held elements, and those all stay in the ring.
type queue[T any] struct {
	size     int
	strategy OverflowStrategy
	batching bool // strategy == Backpressure: the consumer takes batches

	mu        sync.Mutex
	ring      []T // grows on demand up to size; guarded by mu
	head, n   int
	claimed   int   // length of the consumer's current batch; guarded by mu
	producers int   // producers still running
	term      error // set once: EOS after the last producer ends, or the first failure
	cancelled error // set when the consumer cancels; producers stop
	waitingC  bool  // consumer parked on notEmpty

	returned atomic.Int64 // batch elements the consumer has returned; written by the consumer
	waitingP atomic.Int32 // producers parked on notFull; changed under mu

	notEmpty chan struct{} // cap 1: wakes the consumer
	notFull  chan struct{} // wakes parked producers

	// Owned by the consumer goroutine.
	batch []T
	pos   int
	done  error // terminal error already returned to the consumer
}

// initialRing is the ring's first allocation: a queue of a million
// elements that carries three allocates for three.
const initialRing = 16

func newQueue[T any](size int, strategy OverflowStrategy, producers int) *queue[T] {
	if size < 1 {
		panic(fmt.Sprintf("stream: buffer size %d < 1", size))
	}
	return &queue[T]{
		size: size, strategy: strategy, batching: strategy == Backpressure,
		producers: producers,
		notEmpty:  make(chan struct{}, 1),
		notFull:   make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// addProducer registers one more producer (FlatMapMerge's substreams).
func (q *queue[T]) addProducer() {
	q.mu.Lock()
	q.producers++
	q.mu.Unlock()
}

// held is the number of elements in the buffer: in the ring, and taken by
// the consumer but not yet returned. Called with mu held.
func (q *queue[T]) held() int {
	return q.n + q.claimed - int(q.returned.Load())
}

// push appends v to the ring, growing it while it is smaller than size.
// Called with mu held and held() < size.
func (q *queue[T]) push(v T) {
	if q.n == len(q.ring) {
		grown := make([]T, min(q.size, max(initialRing, 2*len(q.ring))))
		for i := range q.n {
			grown[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = v
	q.n++
}

// put adds v, applying the overflow strategy. It returns a non-nil error when
// the producer must stop: the consumer cancelled (the cause), the island was
// cancelled, or the buffer overflowed with the Fail strategy.
func (q *queue[T]) put(island *Materializer, v T) error {
	q.mu.Lock()
	for {
		if q.cancelled != nil {
			err := q.cancelled
			q.mu.Unlock()
			return err
		}
		if island.Stopped() {
			q.mu.Unlock()
			return island.Cause()
		}
		if q.term != nil {
			// Another producer failed (term is never EOS while a producer
			// runs): stop with that failure.
			err := q.term
			q.mu.Unlock()
			return err
		}
		if q.held() < q.size {
			q.push(v)
			break
		}
		// Full. Only Backpressure batches, so for the other strategies
		// every held element is in the ring.
		switch q.strategy {
		case DropHead:
			q.ring[q.head] = v
			q.head = (q.head + 1) % len(q.ring)
		case DropTail:
			q.ring[(q.head+q.n-1)%len(q.ring)] = v
		case DropNew:
		case Fail:
			err := &BufferOverflowError{Size: q.size}
			q.term = err
			wake := q.waitingC
			q.waitingC = false
			q.mu.Unlock()
			if wake {
				signal(q.notEmpty)
			}
			return err
		default: // Backpressure
			// Announce the wait before the last look at the room: the
			// consumer returns elements without the lock and then looks
			// at waitingP, so one of the two sees the other.
			q.waitingP.Add(1)
			if q.held() < q.size {
				q.waitingP.Add(-1)
				continue
			}
			q.mu.Unlock()
			select {
			case <-q.notFull:
			case <-island.Done():
				q.waitingP.Add(-1)
				return island.Cause()
			}
			q.mu.Lock()
			q.waitingP.Add(-1)
			continue
		}
		break
	}
	wake := q.waitingC
	q.waitingC = false
	// Pass the wake-up on to the next parked producer while room remains.
	wakeP := q.waitingP.Load() > 0 && q.held() < q.size
	q.mu.Unlock()
	if wake {
		signal(q.notEmpty)
	}
	if wakeP {
		signal(q.notFull)
	}
	return nil
}

// end records that one producer ended with err (EOS or a failure). A failure
// ends the stream at once; EOS does when the last producer has ended.
func (q *queue[T]) end(err error) {
	q.mu.Lock()
	if q.term == nil {
		if err != EOS {
			q.term = err
		} else if q.producers--; q.producers <= 0 {
			q.term = EOS
		}
	}
	wake := q.waitingC && q.term != nil
	if wake {
		q.waitingC = false
	}
	q.mu.Unlock()
	if wake {
		signal(q.notEmpty)
	}
}

// take returns the next element for the consumer, waiting for one if needed.
// It returns the terminal error once the buffer is drained, the downstream
// island's cause if that is cancelled first, and a *TimeoutError if timeout
// (when positive) passes without an element.
func (q *queue[T]) take(down *Materializer, timeout time.Duration, op string) (T, error) {
	var zero T
	if q.pos < len(q.batch) {
		v := q.batch[q.pos]
		q.batch[q.pos] = zero
		q.pos++
		q.returned.Store(int64(q.pos))
		// Half of the batch is out: a parked producer may refill that
		// half while the consumer works through the rest.
		if q.pos == (len(q.batch)+1)/2 && q.waitingP.Load() > 0 {
			signal(q.notFull)
		}
		return v, nil
	}
	if q.done != nil {
		return zero, q.done
	}
	var timer *time.Timer
	for {
		q.mu.Lock()
		if q.n > 0 {
			var v T
			if q.batching {
				// The previous batch is all returned: claim the ring.
				q.batch = q.batch[:0]
				for ; q.n > 0; q.n-- {
					q.batch = append(q.batch, q.ring[q.head])
					q.ring[q.head] = zero
					q.head = (q.head + 1) % len(q.ring)
				}
				q.claimed = len(q.batch)
				q.pos = 1
				q.returned.Store(1)
				v = q.batch[0]
				q.batch[0] = zero
			} else {
				v = q.ring[q.head]
				q.ring[q.head] = zero
				q.head = (q.head + 1) % len(q.ring)
				q.n--
			}
			// One token wakes one parked producer, which passes it on
			// while room remains (see put).
			wake := q.waitingP.Load() > 0 && q.held() < q.size
			q.mu.Unlock()
			if wake {
				signal(q.notFull)
			}
			if timer != nil {
				timer.Stop()
			}
			return v, nil
		}
		if q.term != nil {
			q.done = q.term
			q.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return zero, q.done
		}
		q.waitingC = true
		q.mu.Unlock()
		var expired <-chan time.Time
		if timeout > 0 {
			if timer == nil {
				timer = time.NewTimer(timeout)
			}
			expired = timer.C
		}
		down.WillBlock()
		select {
		case <-q.notEmpty:
		case <-down.Done():
			q.mu.Lock()
			q.waitingC = false
			q.mu.Unlock()
			q.done = down.Cause()
			return zero, q.done
		case <-expired:
			q.mu.Lock()
			q.waitingC = false
			q.mu.Unlock()
			q.done = &TimeoutError{Op: op, Limit: timeout}
			return zero, q.done
		}
	}
}

// cancel stops the producers with cause; the caller also cancels their island.
func (q *queue[T]) cancel(cause error) {
	q.mu.Lock()
	if q.cancelled == nil {
		q.cancelled = cause
	}
	q.mu.Unlock()
	if q.done == nil {
		q.done = cause
	}
}
