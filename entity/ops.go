package entity

import (
	"context"
	"fmt"

	"github.com/streamhttp/streamhttp/stream"
)

// ToStrict reads the data of e into memory, at most maxBytes of it, and
// returns it as a Strict entity of the same content type. maxBytes must be
// > 0; pass math.MaxInt64 for no limit.
//
// A Strict entity is returned as it is. A [Default] entity whose declared
// length exceeds maxBytes fails at once with a [*SizeLimitError] carrying
// the declared length, without running its data; otherwise its data is read
// into a buffer of the declared length and must amount to exactly that many
// bytes, or ToStrict fails with a [*LengthMismatchError]. A [Chunked] or
// [CloseDelimited] entity is read until its data ends; once more than
// maxBytes have arrived ToStrict fails with a [*SizeLimitError] (Declared
// -1). When ToStrict fails while the data is still streaming, it cancels the
// data stream with that failure.
//
// The returned entity owns its bytes: they are copied out of the stream.
// Cancelling ctx stops the read; ToStrict then returns ctx's cause. The data
// of a streamed request entity can be read only once: after ToStrict, use
// the returned entity.
func ToStrict(ctx context.Context, e Entity, maxBytes int64) (*Strict, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("entity: ToStrict: maxBytes %d must be > 0 (use math.MaxInt64 for no limit)", maxBytes)
	}
	var data stream.Source[[]byte]
	declared := int64(-1)
	switch e := e.(type) {
	case *Strict:
		if n := int64(len(e.Data)); n > maxBytes {
			return nil, &SizeLimitError{Limit: maxBytes, Declared: n}
		}
		return e, nil
	case *Default:
		if e.Length > maxBytes {
			return nil, &SizeLimitError{Limit: maxBytes, Declared: e.Length}
		}
		data, declared = e.Data, e.Length
	default:
		data = e.DataBytes()
	}
	buf, err := stream.RunWith(ctx, data, collectBytes(maxBytes, declared))
	if err != nil {
		return nil, err
	}
	return &Strict{Type: e.ContentType(), Data: buf}, nil
}

// collectBytes is the sink of ToStrict: it appends every slice to one buffer.
// With a declared length (>= 0) the data must amount to exactly that many
// bytes and the buffer is allocated once; without one it may amount to at
// most limit bytes.
func collectBytes(limit, declared int64) stream.Sink[[]byte, []byte] {
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[[]byte]) ([]byte, error) {
		var buf []byte
		if declared >= 0 {
			limit = declared
			if declared > 0 {
				buf = make([]byte, 0, declared)
			}
		}
		for {
			// A source that never blocks would not notice a cancelled
			// context on its own.
			if m.Stopped() {
				cause := m.Cause()
				up.Cancel(cause)
				return nil, cause
			}
			p, err := up.Pull()
			if err == stream.EOS {
				break
			}
			if err != nil {
				return nil, err
			}
			// Written so that it cannot overflow: len(buf) <= limit.
			if int64(len(p)) > limit-int64(len(buf)) {
				var err error = &SizeLimitError{Limit: limit, Declared: -1}
				if declared >= 0 {
					err = &LengthMismatchError{Declared: declared, Actual: int64(len(buf)) + int64(len(p))}
				}
				up.Cancel(err)
				return nil, err
			}
			buf = append(buf, p...)
		}
		if declared >= 0 && int64(len(buf)) != declared {
			return nil, &LengthMismatchError{Declared: declared, Actual: int64(len(buf))}
		}
		return buf, nil
	})
}

// Discard runs the data of e to its end and drops it, so that a request
// entity nobody wants does not block the connection it arrives on. It is a
// no-op for a Strict entity. It returns the failure of the data stream, or
// ctx's cause when ctx is cancelled first.
func Discard(ctx context.Context, e Entity) error {
	var err error
	switch e := e.(type) {
	case *Strict:
	case *Chunked:
		// The chunks as they are: no need to pick the data out of them.
		_, err = stream.RunWith(ctx, e.Chunks, stream.Ignore[ChunkPart]())
	default:
		_, err = stream.RunWith(ctx, e.DataBytes(), stream.Ignore[[]byte]())
	}
	return err
}

// WithSizeLimit returns e limited to n bytes of data, of the same kind as e
// where it can be: the data stream of the result fails with a
// [*SizeLimitError] (and cancels the data of e with it) as soon as more than
// n bytes would have passed. It panics if n <= 0.
//
//	data  -- "ab" -- "cd" -- "e" --|
//	        [ WithSizeLimit(3) ]
//	out   -- "ab" --X(SizeLimitError{3, -1})
//
// By kind:
//   - a Strict entity of at most n bytes is returned as it is; a larger one
//     becomes a [*Default] of the same length whose data fails at once with
//     SizeLimitError{n, length};
//   - a [*Default] entity stays a *Default of the same declared length;
//     if that length exceeds n its data fails at once with
//     SizeLimitError{n, length} (the data of e is never run), otherwise its
//     data is counted as it streams;
//   - a [*Chunked] entity stays *Chunked, counting the data of its chunks,
//     extensions and trailer untouched; a [*CloseDelimited] stays
//     *CloseDelimited.
//
// Limits stack: the limit of WithSizeLimit(WithSizeLimit(e, a), b) is the
// smaller of a and b, so a limit applied by the server cannot be raised by
// wrapping its entity again.
func WithSizeLimit(e Entity, n int64) Entity {
	if n <= 0 {
		panic(fmt.Sprintf("entity: WithSizeLimit(%d): limit must be > 0", n))
	}
	switch e := e.(type) {
	case *Strict:
		l := int64(len(e.Data))
		if l <= n {
			return e
		}
		return &Default{Type: e.Type, Length: l, Data: stream.Failed[[]byte](&SizeLimitError{Limit: n, Declared: l})}
	case *Default:
		d := *e
		if d.Length > n {
			d.Data = stream.Failed[[]byte](&SizeLimitError{Limit: n, Declared: d.Length})
		} else {
			d.Data = stream.Via(d.Data, limitFlow(n, byteLen))
		}
		return &d
	case *Chunked:
		c := *e
		c.Chunks = stream.Via(c.Chunks, limitFlow(n, func(p ChunkPart) int { return len(p.Data) }))
		return &c
	case *CloseDelimited:
		c := *e
		c.Data = stream.Via(c.Data, limitFlow(n, byteLen))
		return &c
	}
	panic(fmt.Sprintf("entity: WithSizeLimit: unknown entity type %T", e))
}

func byteLen(p []byte) int { return len(p) }

// limitFlow passes elements on while their sizes add up to at most n; the
// element that would take the total past n fails the stream with
// SizeLimitError{n, -1} instead, and cancels upstream with it.
func limitFlow[T any](n int64, size func(T) int) stream.Flow[T, T] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[T]) stream.Puller[T] {
		return &limitStage[T]{up: up, limit: n, left: n, size: size}
	})
}

type limitStage[T any] struct {
	up          stream.Puller[T]
	limit, left int64
	size        func(T) int
	done        error
}

func (s *limitStage[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = err
		return zero, err
	}
	k := int64(s.size(v))
	if k > s.left {
		s.done = &SizeLimitError{Limit: s.limit, Declared: -1}
		s.up.Cancel(s.done)
		return zero, s.done
	}
	s.left -= k
	return v, nil
}

func (s *limitStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}

// TransformData returns a [*Chunked] entity of e's content type whose data
// is e's data passed through f, whatever the kind of e: f may change the
// length, so the result cannot keep a declared one. Empty slices that f
// emits are skipped; the chunk extensions and trailer of a Chunked e are
// dropped. The data of e runs only when the result's does, so a single-use
// request entity stays single-use.
//
//	e.DataBytes()  -- "ab" -- "c" --|
//	               [ TransformData(upper) ]
//	chunks         -- {AB} -- {C} --|
func TransformData(e Entity, f stream.Flow[[]byte, []byte]) Entity {
	return ChunkedFromData(e.ContentType(), stream.Via(e.DataBytes(), f))
}
