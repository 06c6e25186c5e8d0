package stream_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
)

func ptr[T any](v T) *T { return &v }

func panicOn[T comparable](bad T) func(T) {
	return func(v T) {
		if v == bad {
			panic("boom at element")
		}
	}
}

func TestRunWithCollect(t *testing.T) {
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.Map(func(x int) int { return x + 1 })),
		stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 3, 4}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPanicInSinkCancelsUpstream(t *testing.T) {
	var cause error
	src := stream.Via(stream.FromSlice([]int{1, 2, 3}), stream.WatchTermination[int](func(err error) { cause = err }))
	_, err := stream.RunWith(context.Background(), src, stream.ForEach(func(int) { panic("sink") }))
	var pe *stream.PanicError
	if !errors.As(err, &pe) || !errors.As(cause, &pe) {
		t.Fatalf("err = %v, cause = %v; want *PanicError", err, cause)
	}
}
