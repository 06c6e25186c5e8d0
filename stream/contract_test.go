package stream_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// contractCase runs streamtest.CheckFlow on one configuration of an
// operator; op names the exported function it covers.
type contractCase struct {
	op   string
	name string
	run  func(t *testing.T)
}

// check wraps a FlowCase of any element types as a contractCase.
func check[I, O any](op, name string, c streamtest.FlowCase[I, O]) contractCase {
	return contractCase{op: op, name: name, run: func(t *testing.T) { streamtest.CheckFlow(t, c) }}
}

// operatorContracts lists every flow operator of the package, in every
// configuration whose edges differ, with what it must emit. Sources are
// checked as flows where they can be fused with their upstream (Concat);
// Merge, whose sources run in goroutines of their own, has
// TestMergeContract.
func operatorContracts() []contractCase {
	p2, p3 := panicOn(2), panicOn(3)
	id := func(x int) int { return x }
	times10 := func(_ context.Context, x int) (int, error) { return x * 10, nil }
	var cs []contractCase
	cs = append(cs,
		check("Map", "", streamtest.FlowCase[int, int]{
			Flow: stream.Map(func(x int) int { return x * 10 }),
			In:   []int{1, 2, 3}, Want: []int{10, 20, 30},
			Panicking: ptr(stream.Map(func(x int) int { p2(x); return x })),
		}),
		check("Filter", "", streamtest.FlowCase[int, int]{
			Flow: stream.Filter(func(x int) bool { return x%2 == 0 }),
			In:   []int{1, 2, 3, 4}, Want: []int{2, 4},
			Panicking: ptr(stream.Filter(func(x int) bool { p2(x); return true })),
		}),
		check("TakeWhile", "", streamtest.FlowCase[int, int]{
			Flow: stream.TakeWhile(func(x int) bool { return x < 4 }),
			In:   []int{1, 2, 3, 5, 1}, Want: []int{1, 2, 3},
			Panicking: ptr(stream.TakeWhile(func(x int) bool { p2(x); return true })),
		}),
		check("Recover", "", streamtest.FlowCase[int, int]{
			Flow: stream.Recover(func(error) (int, bool) { return -1, true }),
			In:   []int{1, 2, 3}, Want: []int{1, 2, 3},
			Failure: func(t *testing.T, out *streamtest.SinkProbe[int], boom error) {
				if got := out.ExpectNext(); got != -1 {
					t.Errorf("recovered element = %d, want -1", got)
				}
				out.Request(1) // the check asked for one element only
				out.ExpectComplete()
			},
		}),
		check("WatchTermination", "", streamtest.FlowCase[int, int]{
			Flow: stream.WatchTermination[int](func(error) {}),
			In:   []int{1, 2, 3}, Want: []int{1, 2, 3},
		}),
		check("Reorder", "", streamtest.FlowCase[int, int]{
			Flow: stream.Reorder(seqOf, 0, 4),
			In:   []int{1, 0, 3, 2}, Want: []int{0, 1, 2, 3},
			Panicking: ptr(stream.Reorder(func(x int) uint64 { p3(x); return seqOf(x) }, 0, 4)),
		}),
		check("Throttle", "", streamtest.FlowCase[int, int]{
			Flow: stream.Throttle[int](100, 10*time.Millisecond, 1),
			In:   []int{1, 2, 3}, Want: []int{1, 2, 3},
		}),
		check("Async", "", streamtest.FlowCase[int, int]{
			Flow: stream.Async[int](),
			In:   []int{1, 2, 3}, Want: []int{1, 2, 3},
			Prefetch: true, RunAhead: stream.DefaultAsyncBuffer + 1,
		}),
		check("IdleTimeout", "", streamtest.FlowCase[int, int]{
			Flow: stream.IdleTimeout[int](time.Hour),
			In:   []int{1, 2, 3}, Want: []int{1, 2, 3},
			Prefetch: true, RunAhead: 2,
		}),
		check("DeferFlow", "", streamtest.FlowCase[int, int]{
			Flow: stream.DeferFlow(func(*stream.Materializer) stream.Flow[int, int] { return stream.Map(id) }),
			In:   []int{1, 2}, Want: []int{1, 2},
		}),
		check("ViaFlow", "", streamtest.FlowCase[int, int]{
			Flow: stream.ViaFlow(stream.Map(id), stream.Async[int]()),
			In:   []int{1, 2}, Want: []int{1, 2}, Prefetch: true,
		}),
		check("NewFlow", "", streamtest.FlowCase[int, int]{
			Flow: stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] { return &passThrough{up: up} }),
			In:   []int{1, 2}, Want: []int{1, 2},
		}),
		check("NewAsyncFlow", "", streamtest.FlowCase[int, int]{
			// A boundary that starts no goroutine keeps pulling up itself.
			Flow: stream.NewAsyncFlow(func(_, _ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] { return &passThrough{up: up} }),
			In:   []int{1, 2}, Want: []int{1, 2},
		}),
		check("Concat", "upstream then one more", streamtest.FlowCase[int, int]{
			Flow: stream.NewFlow(func(m *stream.Materializer, up stream.Puller[int]) stream.Puller[int] {
				p, _ := stream.Materialize(m, stream.Concat(stream.FromPuller(func(*stream.Materializer) stream.Puller[int] { return up }), stream.Single(9)))
				return p
			}),
			In: []int{1, 2}, Want: []int{1, 2, 9},
		}),
	)
	for _, tc := range []struct {
		n        int
		in, want []int
	}{{5, []int{1, 2, 3}, []int{1, 2, 3}}, {2, []int{1, 2, 3}, []int{1, 2}}, {3, []int{1, 2, 3}, []int{1, 2, 3}}} {
		cs = append(cs, check("Take", fmt.Sprintf("n=%d/in=%d", tc.n, len(tc.in)), streamtest.FlowCase[int, int]{
			Flow: stream.Take[int](tc.n), In: tc.in, Want: tc.want,
		}))
	}
	for _, tc := range []struct {
		n    int
		in   []int
		want [][]int
	}{
		{2, []int{1, 2, 3, 4, 5}, [][]int{{1, 2}, {3, 4}, {5}}},
		{2, []int{1, 2, 3, 4}, [][]int{{1, 2}, {3, 4}}},
		{1, []int{1, 2}, [][]int{{1}, {2}}},
		{5, []int{1, 2}, [][]int{{1, 2}}},
		{3, nil, nil},
		{int(^uint(0) >> 1), []int{1, 2}, [][]int{{1, 2}}},
	} {
		cs = append(cs, check("Grouped", fmt.Sprintf("n=%d/in=%d", tc.n, len(tc.in)), streamtest.FlowCase[int, []int]{
			Flow: stream.Grouped[int](tc.n), In: tc.in, Want: tc.want,
		}))
	}
	for _, s := range allOverflowStrategies {
		for _, size := range []int{1, 4} {
			c := streamtest.FlowCase[int, int]{
				Flow: stream.Buffer[int](size, s),
				In:   []int{1, 2, 3}, Want: []int{1, 2, 3}, Prefetch: true,
			}
			if s == stream.Backpressure {
				c.RunAhead = size + 1
			}
			if size < len(c.In) && s != stream.Backpressure {
				continue // the strategy drops or fails: see TestBufferOverflowLikePekko
			}
			cs = append(cs, check("Buffer", fmt.Sprintf("%v/%d", s, size), c))
		}
	}
	for _, ordered := range []bool{true, false} {
		op := map[bool]string{true: "MapAsync", false: "MapAsyncUnordered"}[ordered]
		for _, par := range []int{1, 3} {
			cs = append(cs, check(op, fmt.Sprintf("parallelism=%d", par), streamtest.FlowCase[int, int]{
				Flow: mapAsyncOf(ordered, par, times10),
				In:   []int{1, 2, 3, 4, 5}, Want: []int{10, 20, 30, 40, 50},
				Unordered: !ordered, Prefetch: true, RunAhead: par,
				Panicking: ptr(mapAsyncOf(ordered, par, func(ctx context.Context, x int) (int, error) {
					p2(x)
					return times10(ctx, x)
				})),
			}))
		}
	}
	pf, pm := panicOn(2), panicOn(20)
	for _, breadth := range []int{1, 3} {
		cs = append(cs,
			check("FlatMapMerge", fmt.Sprintf("breadth=%d/f panics", breadth), streamtest.FlowCase[int, int]{
				Flow: stream.FlatMapMerge(breadth, func(x int) stream.Source[int] {
					return stream.FromSlice([]int{x, x * 10})
				}),
				In: []int{1, 2, 3}, Want: []int{1, 10, 2, 20, 3, 30},
				Unordered: true, Prefetch: true,
				Panicking: ptr(stream.FlatMapMerge(breadth, func(x int) stream.Source[int] {
					pf(x)
					return stream.Single(x)
				})),
			}),
			check("FlatMapMerge", fmt.Sprintf("breadth=%d/substream panics", breadth), streamtest.FlowCase[int, int]{
				Flow: stream.FlatMapMerge(breadth, func(x int) stream.Source[int] { return stream.Single(x * 10) }),
				In:   []int{1, 2, 3}, Want: []int{10, 20, 30},
				Unordered: true, Prefetch: true,
				Panicking: ptr(stream.FlatMapMerge(breadth, func(x int) stream.Source[int] {
					return stream.Via(stream.Single(x*10), stream.Map(func(y int) int { pm(y); return y }))
				})),
			}))
	}
	return cs
}

// passThrough is the smallest correct custom stage. (A flow that returns
// its upstream Puller itself is no stage: the probes cannot tell it from
// its upstream, and the sink's cancellation after the end, which is
// allowed, would look like one passed on.)
type passThrough struct {
	up    stream.Puller[int]
	ended bool
}

func (p *passThrough) Pull() (int, error) {
	v, err := p.up.Pull()
	if err != nil {
		p.ended = true
	}
	return v, err
}

func (p *passThrough) Cancel(cause error) {
	if !p.ended {
		p.ended = true
		p.up.Cancel(cause)
	}
}

// TestEveryOperatorKeepsTheContract is the package's TCK: the contract
// checks of streamtest.CheckFlow over every flow operator.
func TestEveryOperatorKeepsTheContract(t *testing.T) {
	for _, c := range operatorContracts() {
		name := c.op
		if c.name != "" {
			name += "/" + c.name
		}
		t.Run(name, c.run)
	}
}

// TestContractCoversEveryOperator: every exported function of the package
// that returns a Flow has a case in operatorContracts, so a new operator
// cannot skip the contract.
func TestContractCoversEveryOperator(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var ops []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || fd.Type.Results == nil {
				continue
			}
			if res := fd.Type.Results.List; len(res) == 1 && isFlowType(res[0].Type) {
				ops = append(ops, fd.Name.Name)
			}
		}
	}
	if len(ops) < 10 {
		t.Fatalf("found only %d flow operators (%v): the scan is broken", len(ops), ops)
	}
	covered := map[string]bool{}
	for _, c := range operatorContracts() {
		covered[c.op] = true
	}
	slices.Sort(ops)
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("flow operator %s has no case in operatorContracts", op)
		}
	}
}

func isFlowType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.IndexExpr:
		return isFlowType(x.X)
	case *ast.IndexListExpr:
		return isFlowType(x.X)
	case *ast.Ident:
		return x.Name == "Flow"
	}
	return false
}
