package entity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
)

var errBoom = errors.New("boom")

// bytesOf is a source of one []byte per string.
func bytesOf(ss ...string) stream.Source[[]byte] {
	ps := make([][]byte, len(ss))
	for i, s := range ss {
		ps[i] = []byte(s)
	}
	return stream.FromSlice(ps)
}

// collect runs src to its end and returns every element as a string, those
// before a failure included, and the run's error.
func collect(src stream.Source[[]byte]) ([]string, error) {
	var got []string
	_, err := stream.RunWith(context.Background(), src, stream.ForEach(func(p []byte) { got = append(got, string(p)) }))
	return got, err
}

// errText shows an error with its type, so that a diff tells a
// *SizeLimitError from a *LengthMismatchError with a similar message.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T: %v", err, err)
}

// counted is src, counting the runs that reach its first pull in n.
func counted[T any](n *atomic.Int32, src stream.Source[T]) stream.Source[T] {
	return stream.Lazy(func() stream.Source[T] { n.Add(1); return src })
}

func TestKinds(t *testing.T) {
	tests := []struct {
		name      string
		e         Entity
		wantType  string
		wantLen   int64
		wantEmpty bool
		wantData  []string
	}{
		{"Empty", Empty, "", 0, true, nil},
		{"Strict", NewStrict("application/json", []byte(`{}`)), "application/json", 2, false, []string{"{}"}},
		{"Strict empty", NewStrict("text/html", nil), "text/html", 0, true, nil},
		{"Text", Text("héllo"), "text/plain; charset=utf-8", 6, false, []string{"héllo"}},
		{"Default", NewDefault("a/b", 5, bytesOf("he", "llo")), "a/b", 5, false, []string{"he", "llo"}},
		{"Default empty", NewDefault("a/b", 0, bytesOf()), "a/b", 0, true, nil},
		{"Chunked", NewChunked("a/b", stream.FromSlice([]ChunkPart{
			{Data: []byte("ab"), Extension: "x=1"},
			{Data: []byte{}},
			{Data: []byte("c")},
			{Last: true, Extension: "end", Trailer: []Header{{"Digest", "sha-256=x"}}},
		})), "a/b", -1, false, []string{"ab", "c"}},
		{"Chunked without chunks", NewChunked("", stream.Empty[ChunkPart]()), "", -1, false, nil},
		{"ChunkedFromData", ChunkedFromData("a/b", bytesOf("", "ab", "", "c", "")), "a/b", -1, false, []string{"ab", "c"}},
		{"CloseDelimited", NewCloseDelimited("a/b", bytesOf("ab", "c")), "a/b", -1, false, []string{"ab", "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.ContentType(); got != tc.wantType {
				t.Errorf("ContentType() = %q, want %q", got, tc.wantType)
			}
			if got := tc.e.ContentLength(); got != tc.wantLen {
				t.Errorf("ContentLength() = %d, want %d", got, tc.wantLen)
			}
			if got := tc.e.IsKnownEmpty(); got != tc.wantEmpty {
				t.Errorf("IsKnownEmpty() = %v, want %v", got, tc.wantEmpty)
			}
			got, err := collect(tc.e.DataBytes())
			if err != nil {
				t.Fatalf("DataBytes failed: %v", err)
			}
			if diff := cmp.Diff(tc.wantData, got); diff != "" {
				t.Errorf("DataBytes (-want +got):\n%s", diff)
			}
			// Blueprints run any number of times unless wrapped with Once.
			if again, err := collect(tc.e.DataBytes()); err != nil || !cmp.Equal(got, again) {
				t.Errorf("second run = %q, %v; want %q", again, err, got)
			}
		})
	}
}

func TestConstructors(t *testing.T) {
	data := []byte("abc")
	if diff := cmp.Diff(&Strict{Type: "a/b", Data: data}, NewStrict("a/b", data)); diff != "" {
		t.Errorf("NewStrict (-want +got):\n%s", diff)
	}
	if s := NewStrict("", data); &s.Data[0] != &data[0] {
		t.Errorf("NewStrict copied its data; it is documented to keep it")
	}
	if diff := cmp.Diff(&Strict{Type: "text/plain; charset=utf-8", Data: []byte("hi")}, Text("hi")); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
	d := NewDefault("a/b", 7, bytesOf("x"))
	if d.Type != "a/b" || d.Length != 7 {
		t.Errorf("NewDefault = {%q, %d}, want {\"a/b\", 7}", d.Type, d.Length)
	}
	if c := NewChunked("a/b", stream.Empty[ChunkPart]()); c.Type != "a/b" {
		t.Errorf("NewChunked type = %q", c.Type)
	}
	if c := NewCloseDelimited("a/b", bytesOf()); c.Type != "a/b" {
		t.Errorf("NewCloseDelimited type = %q", c.Type)
	}
}

func TestNewDefaultPanicsOnNegativeLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("NewDefault(-1) did not panic")
		}
	}()
	NewDefault("", -1, bytesOf())
}

func TestChunkedFromDataChunks(t *testing.T) {
	c := ChunkedFromData("a/b", bytesOf("", "ab", "", "", "c"))
	got, err := stream.RunWith(context.Background(), c.Chunks, stream.Collect[ChunkPart]())
	if err != nil {
		t.Fatal(err)
	}
	want := []ChunkPart{{Data: []byte("ab")}, {Data: []byte("c")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
}

func TestChunkedDataBytesKeepsFailure(t *testing.T) {
	c := NewChunked("", stream.Concat(stream.FromSlice([]ChunkPart{{Data: []byte("ab")}}), stream.Failed[ChunkPart](errBoom)))
	got, err := collect(c.DataBytes())
	if !errors.Is(err, errBoom) || !cmp.Equal([]string{"ab"}, got) {
		t.Errorf("DataBytes = %q, %v; want [ab], %v", got, err, errBoom)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&SizeLimitError{Limit: 10, Declared: 20}, "entity: declared size of 20 bytes exceeds the limit of 10 bytes"},
		{&SizeLimitError{Limit: 10, Declared: -1}, "entity: data exceeds the limit of 10 bytes"},
		{&LengthMismatchError{Declared: 5, Actual: 3}, "entity: declared Content-Length 5 but the data amounts to 3 bytes"},
		{&LengthMismatchError{Declared: 5, Actual: 7}, "entity: declared Content-Length 5 but the data amounts to at least 7 bytes"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%#v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestOnceSequential(t *testing.T) {
	var runs atomic.Int32
	src := Once(counted(&runs, bytesOf("a", "b")))
	got, err := collect(src)
	if err != nil || !cmp.Equal([]string{"a", "b"}, got) {
		t.Fatalf("first run = %q, %v; want [a b], nil", got, err)
	}
	for i := range 2 {
		got, err := collect(src)
		if !errors.Is(err, ErrConsumed) || got != nil {
			t.Errorf("run %d = %q, %v; want nothing, %v", i+2, got, err, ErrConsumed)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("src ran %d times, want 1", n)
	}
}

func TestOnceCancelledBeforePullDoesNotClaim(t *testing.T) {
	var runs atomic.Int32
	src := Once(counted(&runs, bytesOf("a")))
	if _, err := stream.RunWith(context.Background(), src, stream.Cancelled[[]byte]()); err != nil {
		t.Fatalf("cancelled run: %v", err)
	}
	if n := runs.Load(); n != 0 {
		t.Fatalf("a run cancelled before its first pull ran src %d times", n)
	}
	if got, err := collect(src); err != nil || !cmp.Equal([]string{"a"}, got) {
		t.Errorf("run after the cancelled one = %q, %v; want [a], nil", got, err)
	}
}

func TestOnceClaimedByPartialRun(t *testing.T) {
	src := Once(bytesOf("a", "b", "c"))
	first, err := stream.RunWith(context.Background(), src, stream.Head[[]byte]())
	if err != nil || string(first) != "a" {
		t.Fatalf("Head = %q, %v", first, err)
	}
	if _, err := collect(src); !errors.Is(err, ErrConsumed) {
		t.Errorf("run after a partial one: %v, want %v", err, ErrConsumed)
	}
}

func TestOnceConcurrent(t *testing.T) {
	const runners = 16
	var runs atomic.Int32
	src := Once(counted(&runs, bytesOf("a", "b")))
	type result struct {
		got []string
		err error
	}
	results := make([]result, runners)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range runners {
		wg.Go(func() {
			<-start
			got, err := collect(src)
			results[i] = result{got, err}
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, r := range results {
		switch {
		case r.err == nil:
			winners++
			if !cmp.Equal([]string{"a", "b"}, r.got) {
				t.Errorf("runner %d got %q, want [a b]", i, r.got)
			}
		case !errors.Is(r.err, ErrConsumed):
			t.Errorf("runner %d failed with %v, want %v", i, r.err, ErrConsumed)
		}
	}
	if winners != 1 || runs.Load() != 1 {
		t.Errorf("%d runs succeeded and src ran %d times, want 1 and 1", winners, runs.Load())
	}
}

func TestOnceRequestEntity(t *testing.T) {
	e := NewDefault("a/b", 2, Once(bytesOf("a", "b")))
	s, err := ToStrict(context.Background(), e, 10)
	if err != nil || string(s.Data) != "ab" {
		t.Fatalf("first ToStrict = %v, %v", s, err)
	}
	if _, err := ToStrict(context.Background(), e, 10); !errors.Is(err, ErrConsumed) {
		t.Errorf("second ToStrict: %v, want %v", err, ErrConsumed)
	}
	if err := Discard(context.Background(), e); !errors.Is(err, ErrConsumed) {
		t.Errorf("Discard after ToStrict: %v, want %v", err, ErrConsumed)
	}
}
