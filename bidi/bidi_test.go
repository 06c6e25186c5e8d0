package bidi_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func ptr[T any](v T) *T { return &v }

// suffix is a flow that appends s to every element.
func suffix(s string) stream.Flow[string, string] {
	return stream.Map(func(v string) string { return v + s })
}

// mark is a bidi flow that appends top to what goes out and bottom to what
// comes in, so a joined flow's output spells the order the parts ran in.
func mark(top, bottom string) bidi.Flow[string, string, string, string] {
	return bidi.FromFlows(suffix(top), suffix(bottom))
}

// encode and decode are a length-prefixed codec: a 4-byte big-endian
// length, then the bytes.
func encode(s string) []byte {
	return append(binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(s)), uint32(len(s))), s...)
}

func decode(b []byte) string {
	if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		panic(fmt.Sprintf("malformed frame % x", b))
	}
	return string(b[4:])
}

// codec is a framing layer: strings out, frames on the wire, strings in.
func codec() bidi.Flow[string, []byte, []byte, string] {
	return bidi.FromFlows(stream.Map(encode), stream.Map(decode))
}

func collect[I, O any](t *testing.T, f stream.Flow[I, O], in []I) []O {
	t.Helper()
	out, err := stream.RunWith(context.Background(), stream.Via(stream.FromSlice(in), f), stream.Collect[O]())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// TestOperations checks every operation by the order in which the parts of
// the joined flow touch an element, and runs the stream contract checks on
// each joined flow.
func TestOperations(t *testing.T) {
	a, b, c := mark("a", "A"), mark("b", "B"), mark("c", "C")
	f := suffix("|")
	stateful := bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) {
		return suffix("s"), suffix("S")
	})
	tests := []struct {
		name string
		flow stream.Flow[string, string]
		want string // for input "x"
	}{
		{"Join", bidi.Join(a, f), "xa|A"},
		{"JoinLeft", bidi.JoinLeft(f, a), "xA|a"},
		{"Atop", bidi.Join(bidi.Atop(a, b), f), "xab|BA"},
		{"AtopJoinLeft", bidi.JoinLeft(f, bidi.Atop(a, b)), "xBA|ab"},
		{"AtopAssociativeLeft", bidi.Join(bidi.Atop(bidi.Atop(a, b), c), f), "xabc|CBA"},
		{"AtopAssociativeRight", bidi.Join(bidi.Atop(a, bidi.Atop(b, c)), f), "xabc|CBA"},
		{"Reversed", bidi.Join(bidi.Reversed(a), f), "xA|a"},
		{"ReversedTwice", bidi.Join(bidi.Reversed(bidi.Reversed(a)), f), "xa|A"},
		{"ReversedTwiceJoinLeft", bidi.JoinLeft(f, bidi.Reversed(bidi.Reversed(a))), "xA|a"},
		{"ReversedAtop", bidi.Join(bidi.Reversed(bidi.Atop(a, b)), f), "xBA|ab"},
		{"AtopOfReversedSwapped", bidi.Join(bidi.Atop(bidi.Reversed(b), bidi.Reversed(a)), f), "xBA|ab"},
		{"Identity", bidi.Join(bidi.Identity[string, string](), f), "x|"},
		{"IdentityAtop", bidi.Join(bidi.Atop(bidi.Identity[string, string](), a), f), "xa|A"},
		{"AtopIdentity", bidi.Join(bidi.Atop(a, bidi.Identity[string, string]()), f), "xa|A"},
		{"JoinBidi", bidi.Join(bidi.JoinBidi(a, b), f), "xaB|bA"},
		{"JoinBidiIsAtopReversed", bidi.Join(bidi.Atop(a, bidi.Reversed(b)), f), "xaB|bA"},
		{"FromFunc", bidi.Join(stateful, f), "xs|S"},
		{"FromFuncJoinLeft", bidi.JoinLeft(f, stateful), "xS|s"},
		{"FromFuncAtop", bidi.Join(bidi.Atop(a, bidi.Atop(stateful, b)), f), "xasb|BSA"},
		{"FromFuncReversedJoinBidi", bidi.Join(bidi.JoinBidi(bidi.Reversed(stateful), a), f), "xSA|as"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := collect(t, tt.flow, []string{"x", "y"})
			want := []string{tt.want, "y" + tt.want[1:]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("output mismatch (-want +got):\n%s", diff)
			}
			streamtest.CheckFlow(t, streamtest.FlowCase[string, string]{
				Flow: tt.flow,
				In:   []string{"x", "y"},
				Want: want,
			})
		})
	}
}

// TestPanickingPart runs the contract's panic check with the panicking
// function in each part of a joined flow.
func TestPanickingPart(t *testing.T) {
	boom := func(v string) string {
		if v == "y" || strings.HasPrefix(v, "y") {
			panic("boom at y")
		}
		return v
	}
	a := mark("a", "A")
	tests := []struct {
		name      string
		flow      stream.Flow[string, string]
		panicking stream.Flow[string, string]
		want      []string
	}{
		{
			name:      "top",
			flow:      bidi.Join(a, suffix("|")),
			panicking: bidi.Join(bidi.Atop(a, bidi.FromFlows(stream.Map(boom), suffix(""))), suffix("|")),
			want:      []string{"xa|A", "ya|A"},
		},
		{
			name:      "metal side",
			flow:      bidi.Join(a, suffix("|")),
			panicking: bidi.Join(a, stream.Map(boom)),
			want:      []string{"xa|A", "ya|A"},
		},
		{
			name: "bottom of FromFunc",
			flow: bidi.JoinLeft(suffix("|"), a),
			panicking: bidi.JoinLeft(suffix("|"), bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) {
				return suffix("a"), stream.Map(boom)
			})),
			want: []string{"xA|a", "yA|a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streamtest.CheckFlow(t, streamtest.FlowCase[string, string]{
				Flow:      tt.flow,
				In:        []string{"x", "y"},
				Want:      tt.want,
				Panicking: ptr(tt.panicking),
			})
		})
	}
}

// failOn is a stage that fails with err when it sees the element bad,
// cancelling its upstream with the same error as a failing stage must.
func failOn(bad string, err error) stream.Flow[string, string] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[string]) stream.Puller[string] {
		return &failStage{up: up, bad: bad, err: err}
	})
}

type failStage struct {
	up   stream.Puller[string]
	bad  string
	err  error
	done bool
}

func (s *failStage) Pull() (string, error) {
	v, err := s.up.Pull()
	if err != nil {
		s.done = true
		return "", err
	}
	if strings.HasPrefix(v, s.bad) {
		s.done = true
		s.up.Cancel(s.err)
		return "", s.err
	}
	return v, nil
}

func (s *failStage) Cancel(cause error) {
	if !s.done {
		s.done = true
		s.up.Cancel(cause)
	}
}

// TestFailureInEachPart fails each part of a joined flow in turn: the
// failure must reach the consumer and cancel the producer, whichever way
// the bidi flow is joined and whether the metal side is async.
func TestFailureInEachPart(t *testing.T) {
	boom := errors.New("boom")
	ok := suffix("")
	bad := failOn("y", boom)
	async := stream.MapAsync(2, func(_ context.Context, v string) (string, error) { return v, nil })
	tests := []struct {
		name string
		flow stream.Flow[string, string]
	}{
		{"Join/top", bidi.Join(bidi.FromFlows(bad, ok), ok)},
		{"Join/metal side", bidi.Join(bidi.FromFlows(ok, ok), bad)},
		{"Join/bottom", bidi.Join(bidi.FromFlows(ok, bad), ok)},
		{"Join/top/async", bidi.Join(bidi.FromFlows(bad, ok), async)},
		{"Join/bottom/async", bidi.Join(bidi.FromFlows(ok, bad), async)},
		{"JoinLeft/top", bidi.JoinLeft(ok, bidi.FromFlows(bad, ok))},
		{"JoinLeft/application side", bidi.JoinLeft(bad, bidi.FromFlows(ok, ok))},
		{"JoinLeft/bottom", bidi.JoinLeft(ok, bidi.FromFlows(ok, bad))},
		{"JoinLeft/top/async", bidi.JoinLeft(async, bidi.FromFlows(bad, ok))},
		{"JoinBidi/b's bottom", bidi.Join(bidi.JoinBidi(bidi.FromFlows(ok, ok), bidi.FromFlows(ok, bad)), ok)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := streamtest.ProbeFlow(t, context.Background(), tt.flow)
			p.Out.Request(2)
			p.In.SendNext("x", "y")
			if got := p.Out.ExpectNext(); got != "x" {
				t.Errorf("first element = %q, want %q", got, "x")
			}
			if err := p.Out.ExpectError(); !errors.Is(err, boom) {
				t.Errorf("failure = %v, want %v", err, boom)
			}
			if cause := p.In.ExpectCancellation(); !errors.Is(cause, boom) {
				t.Errorf("producer cancelled with %v, want %v", cause, boom)
			}
			if err := p.Wait(t); !errors.Is(err, boom) {
				t.Errorf("run error = %v, want %v", err, boom)
			}
		})
	}
}

// goid returns the id of the calling goroutine, from its stack header
// ("goroutine 7 [running]:").
func goid() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return strings.Fields(string(buf[:n]))[1]
}

// TestFusion checks where the parts of joined flows run: synchronous parts
// all in the goroutine that runs the graph, without starting any; with an
// async handler, the top direction in the boundary's goroutine.
func TestFusion(t *testing.T) {
	tests := []struct {
		name  string
		build func(tap func(part string) stream.Flow[string, string]) stream.Flow[string, string]
		// asyncTop is true when the top direction must run in a goroutine
		// of its own (upstream of an async boundary).
		asyncTop bool
	}{
		{"Join", func(tap func(string) stream.Flow[string, string]) stream.Flow[string, string] {
			return bidi.Join(bidi.FromFlows(tap("top"), tap("bottom")), tap("metal"))
		}, false},
		{"JoinLeft", func(tap func(string) stream.Flow[string, string]) stream.Flow[string, string] {
			return bidi.JoinLeft(tap("metal"), bidi.FromFlows(tap("top"), tap("bottom")))
		}, false},
		{"FromFunc/Atop/Reversed", func(tap func(string) stream.Flow[string, string]) stream.Flow[string, string] {
			st := bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) { return tap("top"), tap("bottom") })
			return bidi.Join(bidi.Atop(bidi.Reversed(bidi.Reversed(st)), bidi.Identity[string, string]()), tap("metal"))
		}, false},
		{"OneToOne", func(tap func(string) stream.Flow[string, string]) stream.Flow[string, string] {
			guarded := bidi.Atop(bidi.FromFlows(tap("top"), tap("bottom")), bidi.OneToOne[string, string](1))
			return bidi.Join(guarded, tap("metal"))
		}, false},
		{"MapAsync handler", func(tap func(string) stream.Flow[string, string]) stream.Flow[string, string] {
			handler := stream.ViaFlow(stream.MapAsync(1, func(_ context.Context, v string) (string, error) { return v, nil }), tap("metal"))
			return bidi.Join(bidi.FromFlows(tap("top"), tap("bottom")), handler)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]map[string]bool{}
			tap := func(part string) stream.Flow[string, string] {
				return stream.Map(func(v string) string {
					mu.Lock()
					defer mu.Unlock()
					if seen[part] == nil {
						seen[part] = map[string]bool{}
					}
					seen[part][goid()] = true
					return v
				})
			}
			flow := tt.build(tap)
			self := goid()
			before := runtime.NumGoroutine()
			var during int
			count := stream.Map(func(v string) string { during = max(during, runtime.NumGoroutine()); return v })
			got := collect(t, stream.ViaFlow(flow, count), []string{"x", "y", "z"})
			if diff := cmp.Diff([]string{"x", "y", "z"}, got); diff != "" {
				t.Fatalf("output mismatch (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[string]map[string]bool{
				"top": {self: true}, "metal": {self: true}, "bottom": {self: true},
			}
			if tt.asyncTop {
				delete(seen["top"], self)
				if len(seen["top"]) != 1 {
					t.Errorf("top ran in goroutines %v, want one other than the caller's (%s)", seen["top"], self)
				}
				delete(want, "top")
				delete(seen, "top")
			} else if during > before {
				t.Errorf("%d goroutines while running, %d before: the joined flow is not fused", during, before)
			}
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Errorf("goroutines of the parts (-want +got), caller is %s:\n%s", self, diff)
			}
		})
	}
}

// TestAsyncHandler joins a codec with a handler whose calls finish out of
// order: the output keeps the input order.
func TestAsyncHandler(t *testing.T) {
	var in, want []string
	for i := range 200 {
		in = append(in, fmt.Sprint("m", i))
		want = append(want, fmt.Sprint("M", i))
	}
	handler := stream.MapAsync(8, func(_ context.Context, b []byte) ([]byte, error) {
		runtime.Gosched()
		return encode(strings.ToUpper(decode(b))), nil
	})
	flow := bidi.Join(codec(), handler)
	if diff := cmp.Diff(want, collect(t, flow, in)); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
	streamtest.CheckFlow(t, streamtest.FlowCase[string, string]{
		Flow: flow, In: in[:3], Want: want[:3], Prefetch: true,
	})
}

// methodLayer is what the server layer needs: the inbound side records each
// request's method, the outbound side reads it back to render the response
// (a HEAD response has no body). Its two directions share a queue, which is
// locked because they run in different goroutines under an async handler.
// The layer is Flow[response, wire, wire, request]; calls counts factory calls.
func methodLayer(calls *atomic.Int32) bidi.Flow[string, string, string, string] {
	return bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) {
		calls.Add(1)
		var mu sync.Mutex
		var methods []string
		var seq int
		inbound := stream.Map(func(line string) string {
			method, path, _ := strings.Cut(line, " ")
			mu.Lock()
			defer mu.Unlock()
			seq++
			methods = append(methods, method)
			return fmt.Sprintf("%s#%d", path, seq)
		})
		outbound := stream.Map(func(body string) string {
			mu.Lock()
			defer mu.Unlock()
			method := methods[0]
			methods = methods[1:]
			if method == "HEAD" {
				body = "-"
			}
			return method + " " + body
		})
		return outbound, inbound
	})
}

// TestFromFuncStatePerRun runs one joined blueprint with shared per-run
// state several times, two of them concurrently: each run must see state
// of its own (its sequence numbers start at 1) and the factory must be
// called once per run.
func TestFromFuncStatePerRun(t *testing.T) {
	var calls atomic.Int32
	handler := stream.MapAsync(4, func(_ context.Context, req string) (string, error) {
		runtime.Gosched()
		return "body:" + req, nil
	})
	conn := bidi.JoinLeft(handler, methodLayer(&calls)) // stream.Flow[wire, wire]
	lines := func(prefix string, n int) (in, want []string) {
		for i := range n {
			method := []string{"GET", "HEAD"}[i%2]
			in = append(in, fmt.Sprintf("%s /%s%d", method, prefix, i))
			body := fmt.Sprintf("body:/%s%d#%d", prefix, i, i+1)
			if method == "HEAD" {
				body = "-"
			}
			want = append(want, method+" "+body)
		}
		return in, want
	}
	var wg sync.WaitGroup
	for _, prefix := range []string{"a", "b"} {
		wg.Go(func() {
			in, want := lines(prefix, 300)
			got, err := stream.RunWith(context.Background(), stream.Via(stream.FromSlice(in), conn), stream.Collect[string]())
			if err != nil {
				t.Errorf("run %s: %v", prefix, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("run %s: output mismatch (-want +got):\n%s", prefix, diff)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Errorf("factory called %d times for 2 runs", n)
	}
	in, want := lines("c", 3)
	if diff := cmp.Diff(want, collect(t, conn, in)); diff != "" {
		t.Errorf("third run: output mismatch (-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("factory called %d times for 3 runs", n)
	}
	// The same bidi flow joined twice into one graph: two instances.
	twice := stream.ViaFlow(conn, stream.ViaFlow(stream.Map(func(s string) string { return "GET /" + s }), conn))
	got := collect(t, twice, []string{"GET /x"})
	if diff := cmp.Diff([]string{"GET body:/GET body:/x#1#1"}, got); diff != "" {
		t.Errorf("joined twice: output mismatch (-want +got):\n%s", diff)
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("factory called %d times after a run with two instances, want 5", n)
	}
}

// TestJoinBidiCodecRoundTrip puts a client codec and a server codec face to
// face and closes them with a server handler: strings go out as frames,
// are decoded on the server side, answered, and come back.
func TestJoinBidiCodecRoundTrip(t *testing.T) {
	// Fused stages may run several elements ahead of each other, so each
	// direction of the wire is recorded on its own.
	var out, in []string
	tap := bidi.FromFlows(
		stream.Map(func(b []byte) []byte { out = append(out, fmt.Sprintf("% x", b)); return b }),
		stream.Map(func(b []byte) []byte { in = append(in, fmt.Sprintf("% x", b)); return b }),
	)
	client := bidi.Atop(codec(), tap)
	server := codec()
	handler := stream.Map(strings.ToUpper)
	flow := bidi.Join(bidi.JoinBidi(client, server), handler)
	got := collect(t, flow, []string{"hi", "bidi"})
	if diff := cmp.Diff([]string{"HI", "BIDI"}, got); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"00 00 00 02 68 69", "00 00 00 04 62 69 64 69"}, out); diff != "" {
		t.Errorf("client to server frames (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"00 00 00 02 48 49", "00 00 00 04 42 49 44 49"}, in); diff != "" {
		t.Errorf("server to client frames (-want +got):\n%s", diff)
	}
	streamtest.CheckFlow(t, streamtest.FlowCase[string, string]{
		Flow: bidi.Join(bidi.JoinBidi(codec(), codec()), handler),
		In:   []string{"a", "bc"}, Want: []string{"A", "BC"},
	})
}

func TestFromFuncFactoryPanics(t *testing.T) {
	bad := bidi.FromFunc(func() (stream.Flow[string, string], stream.Flow[string, string]) { panic("no state today") })
	_, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSlice([]string{"x"}), bidi.Join(bad, suffix(""))), stream.Collect[string]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "no state today" {
		t.Errorf("run error = %v, want the factory's panic as a *stream.PanicError", err)
	}
}

func TestZeroFlowPanics(t *testing.T) {
	var zero bidi.Flow[string, string, string, string]
	a := mark("a", "A")
	tests := []struct {
		name string
		f    func()
	}{
		{"Join", func() { bidi.Join(zero, suffix("")) }},
		{"JoinLeft", func() { bidi.JoinLeft(suffix(""), zero) }},
		{"Atop/left", func() { bidi.Atop(zero, a) }},
		{"Atop/right", func() { bidi.Atop(a, zero) }},
		{"Reversed", func() { bidi.Reversed(zero) }},
		{"JoinBidi", func() { bidi.JoinBidi(a, zero) }},
		{"FromFunc(nil)", func() { bidi.FromFunc[string, string, string, string](nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if s, ok := v.(string); !ok || !strings.HasPrefix(s, "bidi: ") {
					t.Errorf("panic value = %v, want a bidi: message", v)
				}
			}()
			tt.f()
		})
	}
}
