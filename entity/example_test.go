package entity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/stream"
)

func chunks(ss ...string) stream.Source[[]byte] {
	ps := make([][]byte, len(ss))
	for i, s := range ss {
		ps[i] = []byte(s)
	}
	return stream.FromSlice(ps)
}

// A handler reads a streamed body into memory, with a limit.
func ExampleToStrict() {
	body := entity.NewDefault("text/plain", 11, chunks("hello", " world"))
	s, err := entity.ToStrict(context.Background(), body, 1<<20)
	fmt.Printf("%s %q %v\n", s.Type, s.Data, err)
	// Output: text/plain "hello world" <nil>
}

// A body over the limit fails with a SizeLimitError; a declared length
// over the limit fails before a byte is read.
func ExampleToStrict_limit() {
	ctx := context.Background()
	var tooLarge *entity.SizeLimitError

	_, err := entity.ToStrict(ctx, entity.NewDefault("", 1<<30, chunks()), 1<<20)
	if errors.As(err, &tooLarge) {
		fmt.Println(tooLarge.Limit, tooLarge.Declared, err)
	}
	_, err = entity.ToStrict(ctx, entity.ChunkedFromData("", chunks("abc", "def")), 4)
	if errors.As(err, &tooLarge) {
		fmt.Println(tooLarge.Limit, tooLarge.Declared, err)
	}
	// Output:
	// 1048576 1073741824 entity: declared size of 1073741824 bytes exceeds the limit of 1048576 bytes
	// 4 -1 entity: data exceeds the limit of 4 bytes
}

// WithSizeLimit keeps the kind of the entity; its data fails once it has
// gone past the limit.
func ExampleWithSizeLimit() {
	e := entity.WithSizeLimit(entity.ChunkedFromData("text/csv", chunks("a,b\n", "c,d\n", "e,f\n")), 8)
	fmt.Printf("%T\n", e)
	_, err := stream.RunWith(context.Background(), e.DataBytes(),
		stream.ForEach(func(p []byte) { fmt.Printf("%q\n", p) }))
	fmt.Println(err)
	// Output:
	// *entity.Chunked
	// "a,b\n"
	// "c,d\n"
	// entity: data exceeds the limit of 8 bytes
}

// The data of a request body can be read once.
func ExampleOnce() {
	body := entity.NewDefault("", 5, entity.Once(chunks("hello")))
	ctx := context.Background()
	s, err := entity.ToStrict(ctx, body, 100)
	fmt.Printf("%q %v\n", s.Data, err)
	_, err = entity.ToStrict(ctx, body, 100)
	fmt.Println(errors.Is(err, entity.ErrConsumed))
	// Output:
	// "hello" <nil>
	// true
}

// Every non-empty slice becomes a chunk.
func ExampleChunkedFromData() {
	e := entity.ChunkedFromData("text/plain", chunks("ab", "", "c"))
	parts, _ := stream.RunWith(context.Background(), e.Chunks, stream.Collect[entity.ChunkPart]())
	for _, p := range parts {
		fmt.Printf("%q last=%v\n", p.Data, p.Last)
	}
	// Output:
	// "ab" last=false
	// "c" last=false
}

// TransformData changes the data and so drops the declared length.
func ExampleTransformData() {
	e := entity.TransformData(entity.Text("hello"), stream.Map(bytes.ToUpper))
	s, _ := entity.ToStrict(context.Background(), e, 100)
	fmt.Printf("%T %d %q %q\n", e, e.ContentLength(), s.Type, s.Data)
	// Output: *entity.Chunked -1 "text/plain; charset=utf-8" "HELLO"
}

// Discard drains a body nobody wants.
func ExampleDiscard() {
	read := 0
	body := entity.NewDefault("", 3, stream.Via(chunks("a", "b", "c"),
		stream.Map(func(p []byte) []byte { read += len(p); return p })))
	err := entity.Discard(context.Background(), body)
	fmt.Println(read, err)
	// Output: 3 <nil>
}
