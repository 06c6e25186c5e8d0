package gostreams_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
)

func TestAsSource(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		src     stream.Source[int]
		want    []any
		wantErr error
	}{
		{name: "elements", src: stream.FromSlice([]int{1, 2, 3}), want: anys(1, 2, 3)},
		{name: "empty", src: stream.Empty[int]()},
		{name: "failure", src: stream.Concat(stream.Single(1), stream.Failed[int](boom)), want: anys(1), wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := gostreams.AsSource(context.Background(), tt.src)
			got := receiveAll(t, s.Out())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := s.Err(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Err() = %v, want %v", err, tt.wantErr)
			}
			if err := s.Wait(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Wait() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestAsSourceVia(t *testing.T) {
	s := gostreams.AsSource(context.Background(), stream.FromSlice([]int{1, 2, 3}))
	got := receiveAll(t, s.Via(doubler()).Out())
	if diff := cmp.Diff(anys(2, 4, 6), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAsSourceContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	never := make(chan int)
	s := gostreams.AsSource(ctx, stream.FromChannel(never))
	if err := s.Err(); err != nil {
		t.Errorf("Err() = %v while running, want nil", err)
	}
	cancel()
	if got := receiveAll(t, s.Out()); len(got) != 0 {
		t.Errorf("got %v, want nothing", got)
	}
	if err := s.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", err)
	}
}

func TestAsSourceIsDemandDriven(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pulled atomic.Int32
		src := stream.Via(stream.FromSlice(ints(100)),
			stream.Map(func(x int) int { pulled.Add(1); return x }))
		s := gostreams.AsSource(t.Context(), src)
		<-s.Out()
		<-s.Out()
		synctest.Wait()
		// Two taken, and a third in hand waiting for a reader.
		if n := pulled.Load(); n != 3 {
			t.Errorf("pulled %d elements after 2 were read, want 3", n)
		}
		if got := len(receiveAll(t, s.Out())); got != 98 {
			t.Errorf("read %d more elements, want 98", got)
		}
	})
}

// --- AsFlow ----------------------------------------------------------------

func TestAsFlow(t *testing.T) {
	tests := []struct {
		name    string
		flow    stream.Flow[int, int]
		in      []any
		want    []any
		wantErr *gostreams.TypeError
	}{
		{name: "map", flow: stream.Map(func(x int) int { return 10 * x }), in: anys(1, 2, 3), want: anys(10, 20, 30)},
		{name: "completes early", flow: stream.Take[int](2), in: anys(1, 2, 3, 4, 5), want: anys(1, 2)},
		{name: "wrong type", flow: stream.Map(func(x int) int { return x }), in: anys[any](1, "two", 3, 4),
			want: anys(1), wantErr: &gostreams.TypeError{Want: "int", Got: "string", Value: "two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := gostreams.AsFlow(context.Background(), tt.flow)
			sent := send(f.In(), tt.in...)
			got := receiveAll(t, f.Out())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The sender is never left blocked, even after an early end.
			wait(t, sent, "sender done")
			if tt.wantErr == nil {
				if err := f.Wait(); err != nil {
					t.Fatalf("Wait() = %v, want nil", err)
				}
				return
			}
			if diff := cmp.Diff(tt.wantErr, asTypeError(t, f.Err())); diff != "" {
				t.Errorf("TypeError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAsFlowInGoStreamsPipeline(t *testing.T) {
	ctx := context.Background()
	evens := gostreams.AsFlow(ctx, stream.Filter(func(x int) bool { return x%2 == 0 }))
	sum := gostreams.AsSink(ctx, stream.Fold(0, func(a, x int) int { return a + x }))
	sliceSource(1, 2, 3, 4, 5, 6).Via(evens).Via(doubler()).To(sum)
	got, err := sum.Result()
	if err != nil || got != 24 {
		t.Fatalf("Result() = %d, %v; want 24, nil", got, err)
	}
	if err := evens.Err(); err != nil {
		t.Errorf("evens.Err() = %v", err)
	}
}

func TestAsFlowContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := gostreams.AsFlow(ctx, stream.Map(func(x int) int { return x }))
	f.In() <- 1
	if v := <-f.Out(); v != 1 {
		t.Fatalf("got %v, want 1", v)
	}
	cancel()
	receiveAll(t, f.Out())
	if err := f.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait() = %v, want context.Canceled", err)
	}
}

// --- AsSink ----------------------------------------------------------------

func TestAsSink(t *testing.T) {
	tests := []struct {
		name    string
		in      []any
		sink    stream.Sink[int, []int]
		want    []int
		wantErr *gostreams.TypeError
	}{
		{name: "collect", in: anys(1, 2, 3), sink: stream.Collect[int](), want: []int{1, 2, 3}},
		{name: "ends early", in: anys(1, 2, 3, 4),
			sink: stream.FlowTo(stream.Take[int](1), stream.Collect[int]()), want: []int{1}},
		{name: "wrong type", in: anys[any](1, 2.5, 3), sink: stream.Collect[int](), want: []int{1},
			wantErr: &gostreams.TypeError{Want: "int", Got: "float64", Value: 2.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := gostreams.AsSink(context.Background(), tt.sink)
			sent := send(k.In(), tt.in...)
			k.AwaitCompletion()
			got, err := k.Result()
			wait(t, sent, "sender done")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Result() error = %v, want nil", err)
				}
				return
			}
			if diff := cmp.Diff(tt.wantErr, asTypeError(t, err)); diff != "" {
				t.Errorf("TypeError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAsSinkRoundTrip(t *testing.T) {
	// Typed -> go-streams sink -> typed sink.
	k := gostreams.AsSink(context.Background(), stream.Collect[string]())
	_, err := stream.RunWith(context.Background(), stream.FromSlice([]string{"a", "b"}), gostreams.ToSink[string](k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAsSinkContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	k := gostreams.AsSink(ctx, stream.Collect[int]())
	k.In() <- 1
	cancel()
	got, err := k.Result()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Result() error = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([]int{1}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
