package entity

import (
	"errors"
	"fmt"

	"github.com/streamhttp/streamhttp/stream"
)

// Entity is the body of a request or response: its content type, its length
// when known, and its bytes as a stream. The kinds are [Strict] (in memory),
// [Default] (declared length, streamed), [Chunked] (chunked transfer coding,
// streamed) and [CloseDelimited] (responses only: the body ends when the
// connection closes).
//
// The data of a streamed request entity can be consumed only once: it comes
// straight from the connection. A second consumer fails with [ErrConsumed].
type Entity interface {
	// ContentType is the media type, "" when there is none.
	ContentType() string
	// ContentLength is the length in bytes, or -1 when it is not known
	// before the data has been read.
	ContentLength() int64
	// IsKnownEmpty reports whether the entity has no data, known without
	// reading anything.
	IsKnownEmpty() bool
	// DataBytes returns the entity's data as a stream of byte slices.
	DataBytes() stream.Source[[]byte]

	isEntity()
}

// Header is one header field (a trailer field of a chunked entity), name and
// value as sent.
type Header struct {
	Name, Value string
}

// ErrConsumed is the failure of a second consumer of a streamed entity's data.
var ErrConsumed = errors.New("entity: data stream already consumed (a streamed entity can be read only once)")

// SizeLimitError is the failure of an entity whose data exceeds a size limit.
type SizeLimitError struct {
	Limit    int64 // the limit in bytes
	Declared int64 // the declared Content-Length, or -1 when the data was streamed
}

func (e *SizeLimitError) Error() string {
	if e.Declared >= 0 {
		return fmt.Sprintf("entity: declared size of %d bytes exceeds the limit of %d bytes", e.Declared, e.Limit)
	}
	return fmt.Sprintf("entity: data exceeds the limit of %d bytes", e.Limit)
}

// LengthMismatchError is the failure of a [Default] entity whose data does
// not amount to its declared length.
//
// Reading stops at the first element that goes past the declared length, so
// when the data is too long Actual counts the bytes up to and including that
// element: the data amounts to at least that many bytes.
type LengthMismatchError struct {
	Declared int64 // the declared Content-Length
	Actual   int64 // the bytes the data amounted to (a lower bound when > Declared)
}

func (e *LengthMismatchError) Error() string {
	if e.Actual > e.Declared {
		return fmt.Sprintf("entity: declared Content-Length %d but the data amounts to at least %d bytes", e.Declared, e.Actual)
	}
	return fmt.Sprintf("entity: declared Content-Length %d but the data amounts to %d bytes", e.Declared, e.Actual)
}

// Strict is an entity whose data is in memory.
type Strict struct {
	Type string
	Data []byte
}

// NewStrict returns a Strict entity of the given content type. It keeps
// data, not a copy: do not modify data while the entity is in use.
func NewStrict(contentType string, data []byte) *Strict {
	return &Strict{Type: contentType, Data: data}
}

// Text returns a Strict entity of type "text/plain; charset=utf-8" holding s.
func Text(s string) *Strict { return NewStrict("text/plain; charset=utf-8", []byte(s)) }

// Empty is the empty entity with no content type.
var Empty Entity = &emptyEntity

var emptyEntity = Strict{}

// ContentType returns s.Type.
func (s *Strict) ContentType() string { return s.Type }

// ContentLength returns len(s.Data).
func (s *Strict) ContentLength() int64 { return int64(len(s.Data)) }

// IsKnownEmpty reports whether s has no data.
func (s *Strict) IsKnownEmpty() bool { return len(s.Data) == 0 }

// DataBytes emits s.Data as one element (nothing when it is empty).
func (s *Strict) DataBytes() stream.Source[[]byte] {
	if len(s.Data) == 0 {
		return stream.Empty[[]byte]()
	}
	return stream.Single(s.Data)
}

func (*Strict) isEntity() {}

// Default is a streamed entity with a declared length (sent with a
// Content-Length header, RFC 9112 §6.2). Its data must amount to exactly
// Length bytes.
type Default struct {
	Type   string
	Length int64
	Data   stream.Source[[]byte]
}

// NewDefault returns a Default entity whose data stream amounts to length
// bytes. It panics if length < 0.
func NewDefault(contentType string, length int64, data stream.Source[[]byte]) *Default {
	if length < 0 {
		panic(fmt.Sprintf("entity: NewDefault with negative length %d", length))
	}
	return &Default{Type: contentType, Length: length, Data: data}
}

// ContentType returns d.Type.
func (d *Default) ContentType() string { return d.Type }

// ContentLength returns the declared length.
func (d *Default) ContentLength() int64 { return d.Length }

// IsKnownEmpty reports whether the declared length is 0.
func (d *Default) IsKnownEmpty() bool { return d.Length == 0 }

// DataBytes returns the data stream, d.Data. The data of a request entity
// comes straight from the connection and is single-use: a second run of it
// fails with [ErrConsumed].
func (d *Default) DataBytes() stream.Source[[]byte] { return d.Data }

func (*Default) isEntity() {}

// ChunkPart is one element of a [Chunked] entity: a chunk of data with its
// extension, or the last chunk (Last) with its extension and trailer fields.
type ChunkPart struct {
	Data      []byte
	Extension string // as sent, without the leading ';'
	Last      bool
	Trailer   []Header
}

// Chunked is a streamed entity in the chunked transfer coding. Its chunks
// stream ends with an optional part with Last set; a stream that ends
// without one is rendered with an empty last chunk.
type Chunked struct {
	Type   string
	Chunks stream.Source[ChunkPart]
}

// NewChunked returns a Chunked entity made of the given chunks.
func NewChunked(contentType string, chunks stream.Source[ChunkPart]) *Chunked {
	return &Chunked{Type: contentType, Chunks: chunks}
}

// ChunkedFromData returns a Chunked entity with one chunk, without extension,
// for every non-empty slice of data; empty slices are skipped (an empty chunk
// would end the body on the wire). The stream has no Last part, so the
// entity ends with an empty last chunk without trailer.
//
//	data   -- "ab" -- "" -- "c" --|
//	chunks -- {ab} ---------{c} --|
func ChunkedFromData(contentType string, data stream.Source[[]byte]) *Chunked {
	return NewChunked(contentType, stream.Via(
		stream.Via(data, stream.Filter(func(p []byte) bool { return len(p) > 0 })),
		stream.Map(func(p []byte) ChunkPart { return ChunkPart{Data: p} })))
}

// ContentType returns c.Type.
func (c *Chunked) ContentType() string { return c.Type }

// ContentLength returns -1: the length is not known in advance.
func (c *Chunked) ContentLength() int64 { return -1 }

// IsKnownEmpty returns false: a chunked entity is known to be empty only
// after reading it.
func (c *Chunked) IsKnownEmpty() bool { return false }

// DataBytes returns the data of the chunks, skipping empty ones; chunk
// extensions and the last chunk's extension and trailer are dropped (read
// c.Chunks to see them). The chunks of a request entity come straight from
// the connection and are single-use: a second run of them fails with
// [ErrConsumed].
func (c *Chunked) DataBytes() stream.Source[[]byte] {
	return stream.Via(
		stream.Via(c.Chunks, stream.Filter(func(p ChunkPart) bool { return len(p.Data) > 0 })),
		stream.Map(func(p ChunkPart) []byte { return p.Data }))
}

func (*Chunked) isEntity() {}

// CloseDelimited is a response entity whose end is the closing of the
// connection (an HTTP/1.0-style body of unknown length).
type CloseDelimited struct {
	Type string
	Data stream.Source[[]byte]
}

// NewCloseDelimited returns a CloseDelimited (response) entity.
func NewCloseDelimited(contentType string, data stream.Source[[]byte]) *CloseDelimited {
	return &CloseDelimited{Type: contentType, Data: data}
}

// ContentType returns c.Type.
func (c *CloseDelimited) ContentType() string { return c.Type }

// ContentLength returns -1.
func (c *CloseDelimited) ContentLength() int64 { return -1 }

// IsKnownEmpty returns false.
func (c *CloseDelimited) IsKnownEmpty() bool { return false }

// DataBytes returns the data stream.
func (c *CloseDelimited) DataBytes() stream.Source[[]byte] { return c.Data }

func (*CloseDelimited) isEntity() {}

var (
	_ Entity = (*Strict)(nil)
	_ Entity = (*Default)(nil)
	_ Entity = (*Chunked)(nil)
	_ Entity = (*CloseDelimited)(nil)
)
