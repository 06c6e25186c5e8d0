package stream

import (
	"fmt"
	"io"
	"iter"
)

// FromSlice emits the elements of xs in order, then completes. The slice is
// shared, not copied: do not modify it while a run uses it.
//
//	FromSlice([1 2 3]):  -- 1 -- 2 -- 3 --|
func FromSlice[T any](xs []T) Source[T] {
	return FromPuller(func(*Materializer) Puller[T] { return &sliceSource[T]{xs: xs} })
}

type sliceSource[T any] struct {
	xs   []T
	i    int
	done error
}

func (s *sliceSource[T]) Pull() (T, error) {
	if s.done == nil && s.i < len(s.xs) {
		v := s.xs[s.i]
		s.i++
		return v, nil
	}
	if s.done == nil {
		s.done = EOS
	}
	var zero T
	return zero, s.done
}

func (s *sliceSource[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
	}
}

// Single emits v, then completes.
//
//	Single(x):  -- x --|
func Single[T any](v T) Source[T] { return FromSlice([]T{v}) }

// Empty completes at once.
//
//	Empty():  --|
func Empty[T any]() Source[T] { return FromSlice[T](nil) }

// Failed fails at once with err.
//
//	Failed(err):  --X(err)
func Failed[T any](err error) Source[T] {
	if err == nil {
		panic("stream: Failed(nil)")
	}
	return FromPuller(func(*Materializer) Puller[T] { return &failedSource[T]{err: err} })
}

type failedSource[T any] struct{ err error }

func (s *failedSource[T]) Pull() (T, error) { var zero T; return zero, s.err }
func (s *failedSource[T]) Cancel(error)     {}

// FromChannel emits what arrives on ch and completes when ch is closed.
// Cancelling the stream stops reading; it never closes ch.
//
//	ch <- 1; ch <- 2; close(ch):  -- 1 -- 2 --|
func FromChannel[T any](ch <-chan T) Source[T] {
	return FromPuller(func(m *Materializer) Puller[T] { return &chanSource[T]{m: m, ch: ch} })
}

type chanSource[T any] struct {
	m    *Materializer
	ch   <-chan T
	done error
}

func (s *chanSource[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	select {
	case v, ok := <-s.ch:
		if ok {
			return v, nil
		}
		s.done = EOS
		return zero, s.done
	default:
	}
	s.m.WillBlock()
	select {
	case v, ok := <-s.ch:
		if ok {
			return v, nil
		}
		s.done = EOS
	case <-s.m.Done():
		s.done = s.m.Cause()
	}
	return zero, s.done
}

func (s *chanSource[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
	}
}

// FromSeq emits the values of an iterator. The iterator runs as a coroutine
// of the pulling goroutine (see [iter.Pull]) and is stopped when the stream
// is cancelled, also when the sink returns early without cancelling; a
// panic in it fails the stream.
//
//	FromSeq(slices.Values([1 2])):  -- 1 -- 2 --|
func FromSeq[T any](seq iter.Seq[T]) Source[T] {
	return FromPuller(func(*Materializer) Puller[T] { return &seqSource[T]{seq: seq} })
}

type seqSource[T any] struct {
	seq  iter.Seq[T]
	next func() (T, bool)
	stop func()
	done error
}

func (s *seqSource[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	if s.next == nil {
		s.next, s.stop = iter.Pull(s.seq)
	}
	v, ok := s.next()
	if !ok {
		s.done = EOS
		s.stop()
		return zero, EOS
	}
	return v, nil
}

func (s *seqSource[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		if s.stop != nil {
			s.stop()
		}
	}
}

// DefaultChunkSize is the read size of [FromReader] when given 0.
const DefaultChunkSize = 32 << 10

// FromReader emits the bytes of r in chunks of at most chunkSize bytes (0
// means [DefaultChunkSize]); each chunk is a new slice that the receiver may
// keep. io.EOF completes the stream; another read error fails it. A Read that
// blocks is not interrupted by cancellation: close the reader for that. A
// reader that keeps returning (0, nil) fails the stream with
// io.ErrNoProgress after 100 such reads (as bufio does), and a cancelled
// run stops the retries at once.
//
//	FromReader("hello", 2):  -- "he" -- "ll" -- "o" --|
func FromReader(r io.Reader, chunkSize int) Source[[]byte] {
	if chunkSize < 0 {
		panic(fmt.Sprintf("stream: FromReader chunk size %d < 0", chunkSize))
	}
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	return FromPuller(func(m *Materializer) Puller[[]byte] {
		return &readerSource{m: m, r: r, size: chunkSize}
	})
}

// maxEmptyReads is how many (0, nil) reads in a row FromReader accepts.
const maxEmptyReads = 100

type readerSource struct {
	m    *Materializer
	r    io.Reader
	buf  []byte
	size int
	done error
}

func (s *readerSource) Pull() ([]byte, error) {
	if s.done != nil {
		return nil, s.done
	}
	if s.buf == nil {
		s.buf = make([]byte, s.size)
	}
	for range maxEmptyReads {
		n, err := s.r.Read(s.buf)
		if n > 0 {
			if err != nil {
				s.done = readErr(err)
			}
			return append([]byte(nil), s.buf[:n]...), nil
		}
		if err != nil {
			s.done = readErr(err)
			return nil, s.done
		}
		if s.m.Stopped() {
			s.done = s.m.Cause()
			return nil, s.done
		}
	}
	s.done = io.ErrNoProgress
	return nil, s.done
}

func readErr(err error) error {
	if err == io.EOF {
		return EOS
	}
	return err
}

func (s *readerSource) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
	}
}

// Lazy calls factory when the first element is pulled (not when the graph is
// materialized) and then emits what its source emits. Cancelled before that
// first pull, it never calls factory; after the source has ended, a Cancel
// is not passed on to it.
//
//	Lazy(f):  (pull) f() -- 1 -- 2 --|
func Lazy[T any](factory func() Source[T]) Source[T] {
	return FromPuller(func(m *Materializer) Puller[T] { return &lazySource[T]{m: m, factory: factory} })
}

type lazySource[T any] struct {
	m       *Materializer
	factory func() Source[T]
	up      Puller[T]
	done    error
}

func (s *lazySource[T]) Pull() (T, error) {
	if s.done != nil {
		var zero T
		return zero, s.done
	}
	if s.up == nil {
		s.up, _ = s.factory().build(s.m)
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = err
	}
	return v, err
}

func (s *lazySource[T]) Cancel(cause error) {
	if s.done != nil {
		return
	}
	s.done = cause
	if s.up != nil {
		s.up.Cancel(cause)
	}
}
