package stream_test

import (
	"context"
	"testing"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp/stream"
)

const chainLen = 10

func inc(x int) int { return x + 1 }

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

// BenchmarkFusedMapChain runs 10 chained Map stages over b.N ints in one
// fused run: no goroutine, no channel hop, no allocation per element.
func BenchmarkFusedMapChain(b *testing.B) {
	xs := ints(b.N)
	src := stream.Source[int](stream.FromSlice(xs))
	for range chainLen {
		src = stream.Via(src, stream.Map(inc))
	}
	sum := stream.Fold(0, func(a, x int) int { return a + x })
	b.ReportAllocs()
	b.ResetTimer()
	got, err := stream.RunWith(context.Background(), src, sum)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if want := b.N*(b.N-1)/2 + b.N*chainLen; got != want {
		b.Fatalf("sum = %d, want %d", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/elem")
}

// BenchmarkGoStreamsMapChain is the same chain built from go-streams'
// flow.NewMap (parallelism 1), fed through a ChanSource into a ChanSink.
func BenchmarkGoStreamsMapChain(b *testing.B) {
	in := make(chan any)
	out := make(chan any)
	cur := extension.NewChanSource(in).Via(flow.NewMap(inc, 1))
	for range chainLen - 1 {
		cur = cur.Via(flow.NewMap(inc, 1))
	}
	go cur.To(extension.NewChanSink(out))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := range b.N {
			in <- i
		}
		close(in)
	}()
	sum := 0
	for v := range out {
		sum += v.(int)
	}
	b.StopTimer()
	if want := b.N*(b.N-1)/2 + b.N*chainLen; sum != want {
		b.Fatalf("sum = %d, want %d", sum, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/elem")
}

// BenchmarkAsyncBoundary moves b.N ints across one Async boundary between two
// goroutines and reports the throughput in elements per second.
func BenchmarkAsyncBoundary(b *testing.B) {
	src := stream.Via(stream.FromSlice(ints(b.N)), stream.Async[int]())
	b.ReportAllocs()
	b.ResetTimer()
	n, err := stream.RunWith(context.Background(), src, stream.Fold(0, func(a, _ int) int { return a + 1 }))
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("got %d, %v; want %d", n, err, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "elem/s")
}
