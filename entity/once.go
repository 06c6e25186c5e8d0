package entity

import (
	"sync/atomic"

	"github.com/streamhttp/streamhttp/stream"
)

// Once returns a source that lets only one run have the elements of src:
// the server layer wraps the data of a streamed request entity with it,
// since those bytes come off the connection once. The first run to pull
// claims src and runs it; every other run, before or after, concurrent or
// not, fails at its first pull with [ErrConsumed]. Claiming is atomic, so
// runs may race for it from any goroutines.
//
// src is materialized at the claiming run's first pull, not when that run
// is materialized: a run that is cancelled before it has pulled neither
// reads nor claims src, and src then sees no cancellation either.
//
//	run 1:  -- a -- b --|
//	run 2:  --X(ErrConsumed)
func Once[T any](src stream.Source[T]) stream.Source[T] {
	var claimed atomic.Bool
	return stream.Lazy(func() stream.Source[T] {
		if claimed.CompareAndSwap(false, true) {
			return src
		}
		return stream.Failed[T](ErrConsumed)
	})
}
