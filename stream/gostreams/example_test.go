package gostreams_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
)

// A go-streams operator in the middle of a typed graph: the factory builds a
// fresh flow.Map for every run.
func Example() {
	double := gostreams.ViaFlow[int, int](func() streams.Flow {
		return flow.NewMap(func(x int) int { return x * 2 }, 1)
	})
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]int{1, 2, 3}), double), stream.Collect[int]())
	fmt.Println(got, err)
	// Output: [2 4 6] <nil>
}

// A go-streams Batch between typed stages: its output is []int, so the
// adapter is a Flow[int, []int].
func ExampleViaFlow() {
	batches := gostreams.ViaFlow[int, []int](func() streams.Flow {
		return flow.NewBatch[int](3, time.Hour) // by size; the hour never passes
	})
	g := stream.Via(stream.FromSlice([]int{1, 2, 3, 4, 5, 6, 7}), stream.Map(func(x int) int { return x * 10 }))
	sums := stream.Via(stream.Via(g, batches), stream.Map(func(b []int) string {
		sum := 0
		for _, x := range b {
			sum += x
		}
		return fmt.Sprint(b, "=", sum)
	}))
	got, err := stream.RunWith(context.Background(), sums, stream.Collect[string]())
	fmt.Println(strings.Join(got, "\n"), err)
	// Output:
	// [10 20 30]=60
	// [40 50 60]=150
	// [70]=70 <nil>
}

// A go-streams Throttler keeps throttling inside a typed graph (it acts in
// its Via, which the adapter uses): 3 elements per 10ms.
func ExampleViaFlow_throttler() {
	throttle := gostreams.ViaFlow[string, string](func() streams.Flow {
		return flow.NewThrottler(3, 10*time.Millisecond, 8, flow.Backpressure)
	})
	start := time.Now()
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice(strings.Fields("a b c d e f g")), throttle), stream.Collect[string]())
	fmt.Println(got, err, time.Since(start) >= 20*time.Millisecond)
	// Output: [a b c d e f g] <nil> true
}

func ExampleFromSource() {
	ch := make(chan any, 3)
	ch <- "go"
	ch <- "streams"
	ch <- 42 // not a string
	close(ch)
	got, err := stream.RunWith(context.Background(),
		stream.Via(gostreams.FromSource[string](extension.NewChanSource(ch)), stream.Map(strings.ToUpper)),
		stream.Collect[string]())
	var te *gostreams.TypeError
	fmt.Println(got, errors.As(err, &te), err)
	// Output: [GO STREAMS] true gostreams: element of type int, want string
}

func ExampleToSink() {
	_, err := stream.RunWith(context.Background(),
		stream.FromSlice([]string{"one", "two"}), gostreams.ToSink[string](extension.NewStdoutSink()))
	fmt.Println(err)
	// Output:
	// one
	// two
	// <nil>
}

// A typed source feeding a go-streams pipeline.
func ExampleAsSource() {
	src := gostreams.AsSource(context.Background(), stream.FromSlice([]int{1, 2, 3}))
	src.Via(flow.NewMap(func(x int) int { return x * x }, 1)).To(extension.NewStdoutSink())
	fmt.Println(src.Err())
	// Output:
	// 1
	// 4
	// 9
	// <nil>
}

// A typed flow as a go-streams operator.
func ExampleAsFlow() {
	ch := make(chan any, 4)
	for _, x := range []int{1, 2, 3, 4} {
		ch <- x
	}
	close(ch)
	evens := gostreams.AsFlow(context.Background(), stream.Filter(func(x int) bool { return x%2 == 0 }))
	extension.NewChanSource(ch).Via(evens).To(extension.NewStdoutSink())
	fmt.Println(evens.Err())
	// Output:
	// 2
	// 4
	// <nil>
}

// A typed sink at the end of a go-streams pipeline; its result comes back
// typed.
func ExampleAsSink() {
	ch := make(chan any, 3)
	for _, w := range []string{"typed", "and", "untyped"} {
		ch <- w
	}
	close(ch)
	longest := gostreams.AsSink(context.Background(), stream.Fold("", func(acc, w string) string {
		if len(w) > len(acc) {
			return w
		}
		return acc
	}))
	extension.NewChanSource(ch).Via(flow.NewPassThrough()).To(longest)
	fmt.Println(longest.Result())
	// Output: untyped <nil>
}
