package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// A fused pipeline: FromSlice, Filter and Map run as plain calls in the
// goroutine that calls RunWith.
func ExampleRunWith() {
	src := stream.Via(
		stream.Via(stream.FromSlice([]int{1, 2, 3, 4, 5}), stream.Filter(func(x int) bool { return x%2 == 1 })),
		stream.Map(strconv.Itoa))
	out, err := stream.RunWith(context.Background(), src, stream.Collect[string]())
	fmt.Println(out, err)
	// Output: [1 3 5] <nil>
}

// A reusable flow built from two operators with ViaFlow.
func ExampleViaFlow() {
	shout := stream.ViaFlow(stream.Map(strings.TrimSpace), stream.Map(strings.ToUpper))
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{" hello ", "world "}), shout),
		stream.Collect[string]())
	fmt.Printf("%q\n", out)
	// Output: ["HELLO" "WORLD"]
}

// MapAsync runs calls concurrently and still emits in input order.
func ExampleMapAsync() {
	slow := func(ctx context.Context, x int) (int, error) {
		time.Sleep(time.Duration(5-x) * time.Millisecond) // later elements finish first
		return x * x, nil
	}
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]int{1, 2, 3, 4}), stream.MapAsync(4, slow)),
		stream.Collect[int]())
	fmt.Println(out)
	// Output: [1 4 9 16]
}

// Reorder restores sequence order, as the server does for pipelined responses.
func ExampleReorder() {
	type resp struct {
		seq  uint64
		body string
	}
	in := []resp{{2, "c"}, {0, "a"}, {1, "b"}}
	out, _ := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice(in), stream.Reorder(func(r resp) uint64 { return r.seq }, 0, 4)),
		stream.Collect[resp]())
	fmt.Println(out)
	// Output: [{0 a} {1 b} {2 c}]
}

// Recover turns a failure into a last element; a panic arrives as a
// *PanicError with the panic value and stack.
func ExampleRecover() {
	src := stream.Via(
		stream.Via(stream.FromSlice([]int{1, 2, 0, 4}), stream.Map(func(x int) int {
			if x == 0 {
				panic("zero")
			}
			return 12 / x
		})),
		stream.Recover(func(err error) (int, bool) {
			var pe *stream.PanicError
			return -1, errors.As(err, &pe)
		}))
	out, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
	fmt.Println(out, err)
	// Output: [12 6 -1] <nil>
}

// Start runs a graph in the background and hands out the source's
// materialized value at once.
func ExampleRunnableGraph_Start() {
	src := stream.FromPullerMat(func(m *stream.Materializer) (stream.Puller[int], string) {
		return counter(3), "counter ready"
	})
	run := stream.To(src, stream.Fold(0, func(a, x int) int { return a + x })).Start(context.Background())
	fmt.Println(run.Materialized())
	sum, err := run.Wait()
	fmt.Println(sum, err)
	// Output:
	// counter ready
	// 3 <nil>
}

// counter is a custom Puller emitting 0..n-1.
type counterPuller struct{ i, n int }

func counter(n int) *counterPuller { return &counterPuller{n: n} }

func (c *counterPuller) Pull() (int, error) {
	if c.i == c.n {
		return 0, stream.EOS
	}
	c.i++
	return c.i - 1, nil
}

func (c *counterPuller) Cancel(error) { c.n = c.i }
