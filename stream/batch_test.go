package stream_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
)

// The batched path (FromSlice -> Map/Filter -> Collect/Fold/Ignore) must give
// exactly what the element-at-a-time path gives.
func TestBatchedChainMatchesElementwise(t *testing.T) {
	xs := ints(1000)
	chain := func(src stream.Source[int]) stream.Source[int] {
		src = stream.Via(src, stream.Map(func(x int) int { return x * 3 }))
		src = stream.Via(src, stream.Filter(func(x int) bool { return x%2 == 0 }))
		src = stream.Via(src, stream.Filter(func(x int) bool { return x%1000 < 10 })) // whole batches dropped
		return stream.Via(src, stream.Map(func(x int) int { return x + 1 }))
	}
	batched, err := stream.RunWith(context.Background(), chain(stream.FromSlice(xs)), stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	// FromSeq does not batch, so the same chain runs element by element.
	seq := func(yield func(int) bool) {
		for _, x := range xs {
			if !yield(x) {
				return
			}
		}
	}
	single, err := stream.RunWith(context.Background(), chain(stream.FromSeq(seq)), stream.Collect[int]())
	if err != nil {
		t.Fatal(err)
	}
	if len(batched) == 0 {
		t.Fatal("chain emitted nothing")
	}
	if diff := cmp.Diff(single, batched); diff != "" {
		t.Errorf("batched != element-wise (-single +batched):\n%s", diff)
	}
	sum, err := stream.RunWith(context.Background(), chain(stream.FromSlice(xs)), stream.Fold(0, func(a, x int) int { return a + x }))
	want := 0
	for _, x := range single {
		want += x
	}
	if err != nil || sum != want {
		t.Errorf("Fold = %d, %v; want %d", sum, err, want)
	}
}

func TestBatchedChainPanic(t *testing.T) {
	var cause error
	src := stream.Via(stream.FromSlice(ints(500)), stream.WatchTermination[int](func(err error) { cause = err }))
	src = stream.Via(src, stream.Map(func(x int) int {
		if x == 300 {
			panic("map 300")
		}
		return x
	}))
	_, err := stream.RunWith(context.Background(), src, stream.Ignore[int]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "map 300" {
		t.Fatalf("err = %v, want PanicError(map 300)", err)
	}
	if !errors.As(cause, &pe) {
		t.Errorf("upstream terminated with %v, want the PanicError", cause)
	}
}

func TestBatchedChainPanicInBatchStage(t *testing.T) {
	src := stream.Via(stream.FromSlice(ints(500)), stream.Map(func(x int) int {
		if x == 300 {
			panic("map 300")
		}
		return x
	}))
	_, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || len(pe.Stack) == 0 {
		t.Fatalf("err = %v, want PanicError with stack", err)
	}
}

func TestBatchedChainContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	src := stream.Via(stream.FromSlice(ints(1<<20)), stream.Map(func(x int) int {
		if n++; n == 1000 {
			cancel()
		}
		return x
	}))
	_, err := stream.RunWith(ctx, src, stream.Ignore[int]())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n > 1000+64 {
		t.Errorf("Map ran %d times; the run should stop within one batch of the cancellation", n)
	}
}
