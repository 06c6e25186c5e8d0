package stream

import "io"

// ForEach calls f for every element, in the pulling goroutine.
//
//	in -- 1 -- 2 --|    f(1); f(2); result NotUsed
func ForEach[T any](f func(T)) Sink[T, NotUsed] {
	return NewSink(func(m *Materializer, up Puller[T]) (NotUsed, error) {
		return NotUsed{}, drive(m, up, func(v T) error { f(v); return nil })
	})
}

// Collect gathers every element into a slice, the result of the run.
//
//	in -- 1 -- 2 --|    result [1 2]
func Collect[T any]() Sink[T, []T] {
	return NewSink(func(m *Materializer, up Puller[T]) ([]T, error) {
		var xs []T
		err := driveAll(m, up, func(v T) { xs = append(xs, v) })
		return xs, err
	})
}

// Ignore pulls and discards every element.
//
//	in -- 1 -- 2 --|    result NotUsed
func Ignore[T any]() Sink[T, NotUsed] {
	return NewSink(func(m *Materializer, up Puller[T]) (NotUsed, error) {
		return NotUsed{}, driveAll(m, up, func(T) {})
	})
}

// Fold combines the elements, starting from zero, into the run's result.
//
//	in -- 1 -- 2 -- 3 --|    Fold(0, +): result 6
func Fold[T, A any](zero A, f func(A, T) A) Sink[T, A] {
	return NewSink(func(m *Materializer, up Puller[T]) (A, error) {
		acc := zero
		err := driveAll(m, up, func(v T) { acc = f(acc, v) })
		return acc, err
	})
}

// Head takes the first element as the run's result and cancels upstream; an
// empty stream fails with [ErrEmpty].
//
//	in -- 1 -- 2 --    result 1 (upstream cancelled after 1)
func Head[T any]() Sink[T, T] {
	return NewSink(func(m *Materializer, up Puller[T]) (T, error) {
		var first T
		got := false
		err := drive(m, up, func(v T) error { first, got = v, true; return errStop })
		if err == nil && !got {
			err = ErrEmpty
		}
		return first, err
	})
}

// Cancelled cancels its upstream at once with [ErrCancelled].
//
//	in -- (cancelled before the first element)    result NotUsed
func Cancelled[T any]() Sink[T, NotUsed] {
	return NewSink(func(_ *Materializer, up Puller[T]) (NotUsed, error) {
		up.Cancel(ErrCancelled)
		return NotUsed{}, nil
	})
}

// ToChannel sends every element on ch, waiting while ch is full, and closes ch
// when the stream ends (the sink is the sender): also when the run is
// cancelled and when building the graph fails, so a `range ch` reader always
// ends. The run's error says whether the stream completed or failed.
//
//	in -- 1 -- 2 --|    ch <- 1; ch <- 2; close(ch)
func ToChannel[T any](ch chan<- T) Sink[T, NotUsed] {
	return NewSink(func(m *Materializer, up Puller[T]) (NotUsed, error) {
		defer close(ch)
		return NotUsed{}, drive(m, up, func(v T) error {
			select {
			case ch <- v:
				return nil
			case <-m.Done():
				return m.Cause()
			}
		})
	})
}

// ToWriter writes every chunk to w; the result is the number of bytes
// written. A write error fails the run and cancels upstream with that error.
//
//	in -- "ab" -- "c" --|    w gets "abc"; result 3
func ToWriter(w io.Writer) Sink[[]byte, int64] {
	return NewSink(func(m *Materializer, up Puller[[]byte]) (int64, error) {
		var n int64
		err := drive(m, up, func(p []byte) error {
			k, err := w.Write(p)
			n += int64(k)
			if err == nil && k < len(p) {
				err = io.ErrShortWrite // a Writer that breaks its contract
			}
			return err
		})
		return n, err
	})
}
