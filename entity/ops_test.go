package entity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// errMustNotRun fails a data stream that the operation under test must not run.
var errMustNotRun = errors.New("data stream ran")

func TestToStrict(t *testing.T) {
	tests := []struct {
		name    string
		e       Entity
		max     int64
		want    *Strict
		wantErr error
	}{
		{"strict within limit", Text("hello"), 5, Text("hello"), nil},
		{"strict over limit", Text("hello"), 4, nil, &SizeLimitError{Limit: 4, Declared: 5}},
		{"empty", Empty, 1, &Strict{}, nil},
		{"default", NewDefault("a/b", 5, bytesOf("he", "", "llo")), 5, NewStrict("a/b", []byte("hello")), nil},
		{"default under limit", NewDefault("a/b", 5, bytesOf("hello")), math.MaxInt64, NewStrict("a/b", []byte("hello")), nil},
		{"default declared over limit", NewDefault("a/b", 6, stream.Failed[[]byte](errMustNotRun)), 5, nil, &SizeLimitError{Limit: 5, Declared: 6}},
		{"default shorter than declared", NewDefault("a/b", 5, bytesOf("he")), 10, nil, &LengthMismatchError{Declared: 5, Actual: 2}},
		{"default longer than declared", NewDefault("a/b", 3, bytesOf("ab", "cd", "ef")), 10, nil, &LengthMismatchError{Declared: 3, Actual: 4}},
		{"default empty", NewDefault("a/b", 0, bytesOf("", "")), 10, &Strict{Type: "a/b"}, nil},
		{"default empty with data", NewDefault("a/b", 0, bytesOf("x")), 10, nil, &LengthMismatchError{Declared: 0, Actual: 1}},
		{"default data fails", NewDefault("a/b", 5, stream.Concat(bytesOf("ab"), stream.Failed[[]byte](errBoom))), 10, nil, errBoom},
		{"chunked at limit", ChunkedFromData("a/b", bytesOf("ab", "cd")), 4, NewStrict("a/b", []byte("abcd")), nil},
		{"chunked over limit", ChunkedFromData("a/b", bytesOf("ab", "cd", "e")), 4, nil, &SizeLimitError{Limit: 4, Declared: -1}},
		{"chunked with trailer", NewChunked("a/b", stream.FromSlice([]ChunkPart{
			{Data: []byte("ab"), Extension: "x"}, {Last: true, Trailer: []Header{{"A", "b"}}},
		})), 4, NewStrict("a/b", []byte("ab")), nil},
		{"chunked without data", NewChunked("a/b", stream.FromSlice([]ChunkPart{{Last: true}})), 4, &Strict{Type: "a/b"}, nil},
		{"close-delimited", NewCloseDelimited("a/b", bytesOf("a", "b")), 2, NewStrict("a/b", []byte("ab")), nil},
		{"close-delimited over limit", NewCloseDelimited("a/b", bytesOf("abc")), 2, nil, &SizeLimitError{Limit: 2, Declared: -1}},
		{"close-delimited fails", NewCloseDelimited("a/b", stream.Failed[[]byte](errBoom)), 2, nil, errBoom},
		{"size-limited strict", WithSizeLimit(Text("hello"), 3), 10, nil, &SizeLimitError{Limit: 3, Declared: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ToStrict(context.Background(), tc.e, tc.max)
			if diff := cmp.Diff(errText(tc.wantErr), errText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToStrictReturnsStrictAsIs(t *testing.T) {
	s := Text("hello")
	got, err := ToStrict(context.Background(), s, 5)
	if err != nil || got != s {
		t.Errorf("ToStrict(strict) = %p, %v; want the same %p", got, err, s)
	}
}

func TestToStrictBuffer(t *testing.T) {
	// Known length: one buffer of exactly that size.
	got, err := ToStrict(context.Background(), NewDefault("", 5, bytesOf("he", "llo")), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 5 || cap(got.Data) != 5 {
		t.Errorf("len, cap = %d, %d; want 5, 5", len(got.Data), cap(got.Data))
	}

	// The result owns its bytes, even when they arrived as one slice.
	in := []byte("abc")
	got, err = ToStrict(context.Background(), NewCloseDelimited("", stream.Single(in)), 100)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	if string(got.Data) != "abc" {
		t.Errorf("ToStrict shares the stream's slice: data %q after the slice changed", got.Data)
	}
}

func TestToStrictRejectsBadLimit(t *testing.T) {
	for _, max := range []int64{0, -1, math.MinInt64} {
		_, err := ToStrict(context.Background(), NewCloseDelimited("", stream.Failed[[]byte](errMustNotRun)), max)
		if err == nil || errors.Is(err, errMustNotRun) || !strings.Contains(err.Error(), "maxBytes") {
			t.Errorf("ToStrict(max %d) error = %v, want one about maxBytes", max, err)
		}
	}
}

// toStrictAsync runs ToStrict in a goroutine; the channel yields its error.
func toStrictAsync(ctx context.Context, e Entity, max int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := ToStrict(ctx, e, max)
		done <- err
	}()
	return done
}

func TestToStrictCancelsDataWhenItFails(t *testing.T) {
	tests := []struct {
		name string
		kind func(stream.Source[[]byte]) Entity
		max  int64
		send []string
		want error
	}{
		{"close-delimited over limit", func(s stream.Source[[]byte]) Entity { return NewCloseDelimited("", s) },
			4, []string{"abc", "de"}, &SizeLimitError{Limit: 4, Declared: -1}},
		{"chunked over limit", func(s stream.Source[[]byte]) Entity { return ChunkedFromData("", s) },
			4, []string{"abc", "", "de"}, &SizeLimitError{Limit: 4, Declared: -1}},
		{"default longer than declared", func(s stream.Source[[]byte]) Entity { return NewDefault("", 3, s) },
			10, []string{"ab", "cd"}, &LengthMismatchError{Declared: 3, Actual: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			probe := streamtest.NewSourceProbe[[]byte](t)
			done := toStrictAsync(context.Background(), tc.kind(probe.Source()), tc.max)
			for _, s := range tc.send {
				probe.ExpectRequest()
				probe.SendNext([]byte(s))
			}
			cause := probe.ExpectCancellation()
			if diff := cmp.Diff(errText(tc.want), errText(cause)); diff != "" {
				t.Errorf("data cancelled with (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(errText(tc.want), errText(<-done)); diff != "" {
				t.Errorf("ToStrict error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToStrictContextCancelled(t *testing.T) {
	cause := errors.New("client went away")

	t.Run("blocked on a channel", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		never := make(chan []byte)
		done := toStrictAsync(ctx, NewCloseDelimited("", stream.FromChannel(never)), 10)
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Errorf("ToStrict error = %v, want %v", err, cause)
		}
	})

	t.Run("blocked in a pull", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		probe := streamtest.NewSourceProbe[[]byte](t)
		done := toStrictAsync(ctx, NewDefault("", 4, probe.Source()), 10)
		probe.ExpectRequest()
		probe.SendNext([]byte("ab"))
		probe.ExpectRequest()
		cancel(cause)
		if got := probe.ExpectCancellation(); !errors.Is(got, cause) {
			t.Errorf("data cancelled with %v, want %v", got, cause)
		}
		if err := <-done; !errors.Is(err, cause) {
			t.Errorf("ToStrict error = %v, want %v", err, cause)
		}
	})

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		// FromSlice never blocks: only the sink's own check can stop it.
		_, err := ToStrict(ctx, NewCloseDelimited("", bytesOf("a", "b")), 10)
		if !errors.Is(err, cause) {
			t.Errorf("ToStrict error = %v, want %v", err, cause)
		}
	})
}

func TestDiscard(t *testing.T) {
	var pulled atomic.Int32
	count := func(src stream.Source[[]byte]) stream.Source[[]byte] {
		return stream.Via(src, stream.Map(func(p []byte) []byte { pulled.Add(1); return p }))
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		e          Entity
		wantPulled int32
		wantErr    error
	}{
		{"strict", context.Background(), Text("abc"), 0, nil},
		{"strict is a no-op even when cancelled", cancelled, Text("abc"), 0, nil},
		{"default", context.Background(), NewDefault("", 3, count(bytesOf("a", "b", "c"))), 3, nil},
		{"chunked", context.Background(), NewChunked("", stream.FromSlice([]ChunkPart{
			{Data: []byte("a")}, {Data: []byte("b")}, {Last: true, Trailer: []Header{{"A", "b"}}},
		})), 0, nil},
		{"close-delimited", context.Background(), NewCloseDelimited("", count(bytesOf("a", "b"))), 2, nil},
		{"data fails", context.Background(), NewCloseDelimited("", count(stream.Concat(bytesOf("a"), stream.Failed[[]byte](errBoom)))), 1, errBoom},
		{"size limit", context.Background(), WithSizeLimit(NewCloseDelimited("", count(bytesOf("ab", "cd"))), 3), 2, &SizeLimitError{Limit: 3, Declared: -1}},
		{"context cancelled", cancelled, NewCloseDelimited("", count(bytesOf("a"))), 0, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pulled.Store(0)
			err := Discard(tc.ctx, tc.e)
			if diff := cmp.Diff(errText(tc.wantErr), errText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if n := pulled.Load(); n != tc.wantPulled {
				t.Errorf("%d elements pulled, want %d", n, tc.wantPulled)
			}
		})
	}
}

func TestDiscardReadsChunksToTheEnd(t *testing.T) {
	probe := streamtest.NewSourceProbe[ChunkPart](t)
	done := make(chan error, 1)
	go func() { done <- Discard(context.Background(), NewChunked("", probe.Source())) }()
	probe.ExpectRequest()
	probe.SendNext(ChunkPart{Data: []byte("ab")})
	probe.ExpectRequest()
	probe.SendNext(ChunkPart{Last: true})
	probe.ExpectRequest()
	probe.SendComplete()
	if err := <-done; err != nil {
		t.Errorf("Discard = %v", err)
	}
}

func TestDiscardContextCancelledWhileBlocked(t *testing.T) {
	cause := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	never := make(chan []byte)
	done := make(chan error, 1)
	go func() { done <- Discard(ctx, NewDefault("", 10, stream.FromChannel(never))) }()
	cancel(cause)
	if err := <-done; !errors.Is(err, cause) {
		t.Errorf("Discard = %v, want %v", err, cause)
	}
}

func TestWithSizeLimit(t *testing.T) {
	closeDelimited := NewCloseDelimited("a/b", bytesOf("ab", "cd", "ef"))
	tests := []struct {
		name     string
		e        Entity
		n        int64
		wantKind string
		wantLen  int64
		wantData []string // what the data stream emits before it ends
		wantErr  error
	}{
		{"strict within", Text("abc"), 3, "*entity.Strict", 3, []string{"abc"}, nil},
		{"strict over", Text("abcd"), 3, "*entity.Default", 4, nil, &SizeLimitError{Limit: 3, Declared: 4}},
		{"default within", NewDefault("a/b", 4, bytesOf("ab", "cd")), 4, "*entity.Default", 4, []string{"ab", "cd"}, nil},
		{"default declared over", NewDefault("a/b", 5, stream.Failed[[]byte](errMustNotRun)), 4, "*entity.Default", 5, nil, &SizeLimitError{Limit: 4, Declared: 5}},
		// A declared length within the limit does not let more data through.
		{"default data over", NewDefault("a/b", 4, bytesOf("ab", "cd", "ef")), 4, "*entity.Default", 4, []string{"ab", "cd"}, &SizeLimitError{Limit: 4, Declared: -1}},
		{"chunked within", ChunkedFromData("a/b", bytesOf("ab", "cd")), 4, "*entity.Chunked", -1, []string{"ab", "cd"}, nil},
		{"chunked over", ChunkedFromData("a/b", bytesOf("ab", "cd", "e")), 4, "*entity.Chunked", -1, []string{"ab", "cd"}, &SizeLimitError{Limit: 4, Declared: -1}},
		{"close-delimited within", closeDelimited, 6, "*entity.CloseDelimited", -1, []string{"ab", "cd", "ef"}, nil},
		{"close-delimited over", closeDelimited, 5, "*entity.CloseDelimited", -1, []string{"ab", "cd"}, &SizeLimitError{Limit: 5, Declared: -1}},
		{"first element over", closeDelimited, 1, "*entity.CloseDelimited", -1, nil, &SizeLimitError{Limit: 1, Declared: -1}},
		{"data fails within", NewCloseDelimited("a/b", stream.Concat(bytesOf("a"), stream.Failed[[]byte](errBoom))), 5, "*entity.CloseDelimited", -1, []string{"a"}, errBoom},
		{"tighter inner limit", WithSizeLimit(closeDelimited, 3), 10, "*entity.CloseDelimited", -1, []string{"ab"}, &SizeLimitError{Limit: 3, Declared: -1}},
		{"tighter outer limit", WithSizeLimit(closeDelimited, 10), 3, "*entity.CloseDelimited", -1, []string{"ab"}, &SizeLimitError{Limit: 3, Declared: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := WithSizeLimit(tc.e, tc.n)
			if kind := fmt.Sprintf("%T", got); kind != tc.wantKind {
				t.Errorf("kind = %s, want %s", kind, tc.wantKind)
			}
			if got.ContentType() != tc.e.ContentType() {
				t.Errorf("ContentType() = %q, want %q", got.ContentType(), tc.e.ContentType())
			}
			if n := got.ContentLength(); n != tc.wantLen {
				t.Errorf("ContentLength() = %d, want %d", n, tc.wantLen)
			}
			data, err := collect(got.DataBytes())
			if diff := cmp.Diff(tc.wantData, data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(errText(tc.wantErr), errText(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithSizeLimitKeepsStrictWithin(t *testing.T) {
	s := Text("abc")
	if got := WithSizeLimit(s, 3); got != Entity(s) {
		t.Errorf("WithSizeLimit(strict within) = %p, want the same %p", got, s)
	}
}

func TestWithSizeLimitKeepsChunkMetadata(t *testing.T) {
	parts := []ChunkPart{
		{Data: []byte("ab"), Extension: "a=1"},
		{Data: []byte("c")},
		{Last: true, Extension: "end", Trailer: []Header{{"Digest", "x"}}},
	}
	c := WithSizeLimit(NewChunked("a/b", stream.FromSlice(parts)), 3).(*Chunked)
	got, err := stream.RunWith(context.Background(), c.Chunks, stream.Collect[ChunkPart]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parts, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
}

func TestWithSizeLimitDoesNotChangeTheOriginal(t *testing.T) {
	d := NewDefault("a/b", 4, bytesOf("ab", "cd"))
	WithSizeLimit(d, 1)
	if got, err := collect(d.DataBytes()); err != nil || !cmp.Equal([]string{"ab", "cd"}, got) {
		t.Errorf("original data = %q, %v; want [ab cd], nil", got, err)
	}
}

// limitCancels checks that the data of a limited entity cancels its source
// with the SizeLimitError when send takes it past n.
func limitCancels[T any](t *testing.T, kind func(stream.Source[T]) Entity, n int64, send ...T) {
	t.Helper()
	probe := streamtest.NewSourceProbe[T](t)
	e := WithSizeLimit(kind(probe.Source()), n)
	done := make(chan error, 1)
	go func() {
		_, err := collect(e.DataBytes())
		done <- err
	}()
	for _, v := range send {
		probe.ExpectRequest()
		probe.SendNext(v)
	}
	want := errText(&SizeLimitError{Limit: n, Declared: -1})
	if diff := cmp.Diff(want, errText(probe.ExpectCancellation())); diff != "" {
		t.Errorf("source cancelled with (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, errText(<-done)); diff != "" {
		t.Errorf("data failed with (-want +got):\n%s", diff)
	}
}

func TestWithSizeLimitCancelsData(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		limitCancels(t, func(s stream.Source[[]byte]) Entity { return NewDefault("", 3, s) }, 3, []byte("ab"), []byte("cd"))
	})
	t.Run("close-delimited", func(t *testing.T) {
		limitCancels(t, func(s stream.Source[[]byte]) Entity { return NewCloseDelimited("", s) }, 3, []byte("abc"), []byte("d"))
	})
	t.Run("chunked", func(t *testing.T) {
		limitCancels(t, func(s stream.Source[ChunkPart]) Entity { return NewChunked("", s) }, 3,
			ChunkPart{Data: []byte("ab"), Extension: "x"}, ChunkPart{}, ChunkPart{Data: []byte("cd")})
	})
}

func TestWithSizeLimitPanicsOnBadLimit(t *testing.T) {
	for _, n := range []int64{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WithSizeLimit(e, %d) did not panic", n)
				}
			}()
			WithSizeLimit(Text("a"), n)
		}()
	}
}

// The limit stage keeps the stream contract when its limit is not reached.
func TestLimitFlowContract(t *testing.T) {
	streamtest.CheckFlow(t, streamtest.FlowCase[[]byte, []byte]{
		Flow: limitFlow(5, byteLen),
		In:   [][]byte{[]byte("ab"), []byte("cd"), []byte("e")},
		Want: [][]byte{[]byte("ab"), []byte("cd"), []byte("e")},
	})
}

func TestTransformData(t *testing.T) {
	// upper drops the element "-" to show that empty results are skipped.
	upper := stream.Map(func(p []byte) []byte {
		if string(p) == "-" {
			return nil
		}
		return bytes.ToUpper(p)
	})
	tests := []struct {
		name string
		e    Entity
		want []ChunkPart
	}{
		{"strict", Text("ab"), []ChunkPart{{Data: []byte("AB")}}},
		{"empty", Empty, nil},
		{"default", NewDefault("a/b", 3, bytesOf("ab", "-", "c")), []ChunkPart{{Data: []byte("AB")}, {Data: []byte("C")}}},
		{"chunked", NewChunked("a/b", stream.FromSlice([]ChunkPart{
			{Data: []byte("ab"), Extension: "x"}, {Last: true, Trailer: []Header{{"A", "b"}}},
		})), []ChunkPart{{Data: []byte("AB")}}},
		{"close-delimited", NewCloseDelimited("a/b", bytesOf("ab")), []ChunkPart{{Data: []byte("AB")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := TransformData(tc.e, upper).(*Chunked)
			if !ok {
				t.Fatalf("TransformData returned %T, want *Chunked", got)
			}
			if got.Type != tc.e.ContentType() {
				t.Errorf("type = %q, want %q", got.Type, tc.e.ContentType())
			}
			parts, err := stream.RunWith(context.Background(), got.Chunks, stream.Collect[ChunkPart]())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, parts); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransformDataRunsDataOnlyWhenRun(t *testing.T) {
	var runs atomic.Int32
	e := NewDefault("", 2, Once(counted(&runs, bytesOf("ab"))))
	out := TransformData(e, stream.Map(bytes.ToUpper))
	if n := runs.Load(); n != 0 {
		t.Fatalf("TransformData ran the data %d times before the result ran", n)
	}
	if got, err := collect(out.DataBytes()); err != nil || !cmp.Equal([]string{"AB"}, got) {
		t.Errorf("data = %q, %v; want [AB], nil", got, err)
	}
	if _, err := collect(out.DataBytes()); !errors.Is(err, ErrConsumed) {
		t.Errorf("second run: %v, want %v", err, ErrConsumed)
	}
}
