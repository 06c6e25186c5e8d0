package bidi_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

func itoaAsync(_ context.Context, v int) (string, error) { return strconv.Itoa(v), nil }

func TestOneToOneContract(t *testing.T) {
	tests := []struct {
		name     string
		flow     stream.Flow[int, string]
		prefetch bool
	}{
		{"sync/limit1", bidi.Join(bidi.OneToOne[int, string](1), stream.Map(strconv.Itoa)), false},
		{"sync/limit3", bidi.Join(bidi.OneToOne[int, string](3), stream.Map(strconv.Itoa)), false},
		{"async/limit2", bidi.Join(bidi.OneToOne[int, string](2), stream.MapAsync(4, itoaAsync)), true},
		{"async/unordered", bidi.Join(bidi.OneToOne[int, string](2), stream.MapAsyncUnordered(1, itoaAsync)), true},
		{"reversed/JoinLeft", bidi.JoinLeft(stream.Map(strconv.Itoa), bidi.Reversed(bidi.OneToOne[int, string](1))), false},
		{"reversed/JoinLeft/async", bidi.JoinLeft(stream.MapAsync(3, itoaAsync), bidi.Reversed(bidi.OneToOne[int, string](2))), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			streamtest.CheckFlow(t, streamtest.FlowCase[int, string]{
				Flow:     tt.flow,
				In:       []int{1, 2, 3, 4},
				Want:     []string{"1", "2", "3", "4"},
				Prefetch: tt.prefetch,
			})
		})
	}
}

// TestOneToOneLimit holds every call of an async handler until the test
// releases it, and checks after each release (once everything has settled)
// that exactly limit inputs are inside the handler and that the guard has
// pulled no more than that from upstream, although the handler would take
// more.
func TestOneToOneLimit(t *testing.T) {
	const n = 10
	for _, limit := range []int{1, 3, n} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make([]chan struct{}, n+1)
				for i := range release {
					release[i] = make(chan struct{})
				}
				var mu sync.Mutex
				inFlight, entered, maxInFlight := 0, 0, 0
				handler := stream.MapAsync(2*n, func(ctx context.Context, v int) (int, error) {
					mu.Lock()
					inFlight++
					entered++
					maxInFlight = max(maxInFlight, inFlight)
					mu.Unlock()
					select {
					case <-release[v]:
					case <-ctx.Done():
						return 0, context.Cause(ctx)
					}
					mu.Lock()
					inFlight--
					mu.Unlock()
					return v * 10, nil
				})
				var pulled atomic.Int32
				in := make([]int, n)
				for i := range in {
					in[i] = i + 1
				}
				src := stream.Via(stream.FromSlice(in), stream.Map(func(v int) int { pulled.Add(1); return v }))
				flow := bidi.Join(bidi.OneToOne[int, int](limit), handler)
				run := stream.To(stream.Via(src, flow), stream.Collect[int]()).Start(context.Background())

				check := func(released int) {
					t.Helper()
					synctest.Wait()
					mu.Lock()
					defer mu.Unlock()
					wantIn := min(limit, n-released)
					wantEntered := min(n, released+limit)
					if inFlight != wantIn || entered != wantEntered || int(pulled.Load()) != wantEntered {
						t.Fatalf("after %d released: in flight %d, entered %d, pulled %d; want %d, %d, %d",
							released, inFlight, entered, pulled.Load(), wantIn, wantEntered, wantEntered)
					}
				}
				check(0)
				for v := 1; v <= n; v++ {
					close(release[v])
					check(v)
				}
				out, err := run.Wait()
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if diff := cmp.Diff([]int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, out); diff != "" {
					t.Errorf("output mismatch (-want +got):\n%s", diff)
				}
				if maxInFlight != limit {
					t.Errorf("at most %d in flight, want %d", maxInFlight, limit)
				}
			})
		})
	}
}

// duplicate emits every element twice.
func duplicate() stream.Flow[int, string] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[string] {
		return &dupStage{up: up}
	})
}

type dupStage struct {
	up      stream.Puller[int]
	pending []string
}

func (s *dupStage) Pull() (string, error) {
	if len(s.pending) > 0 {
		v := s.pending[0]
		s.pending = s.pending[1:]
		return v, nil
	}
	v, err := s.up.Pull()
	if err != nil {
		return "", err
	}
	s.pending = append(s.pending, strconv.Itoa(v))
	return strconv.Itoa(v), nil
}

func (s *dupStage) Cancel(cause error) { s.up.Cancel(cause) }

// spontaneous emits "!" before it has pulled anything, then passes on.
func spontaneous() stream.Flow[int, string] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[string] {
		return &spontaneousStage{up: up}
	})
}

type spontaneousStage struct {
	up      stream.Puller[int]
	emitted bool
}

func (s *spontaneousStage) Pull() (string, error) {
	if !s.emitted {
		s.emitted = true
		return "!", nil
	}
	v, err := s.up.Pull()
	return strconv.Itoa(v), err
}

func (s *spontaneousStage) Cancel(cause error) { s.up.Cancel(cause) }

const extraOutput = "flow emitted an output for which no input was outstanding"

// TestOneToOneBrokenContract wraps flows that answer too often or too
// rarely: the guard fails with a *ProtocolError and cancels what is
// upstream of it with the same error.
func TestOneToOneBrokenContract(t *testing.T) {
	dropEven := stream.ViaFlow(stream.Filter(func(v int) bool { return v%2 == 1 }), stream.Map(strconv.Itoa))
	pairs := stream.ViaFlow(stream.Grouped[int](2), stream.Map(func(g []int) string { return fmt.Sprint(g) }))
	const (
		completes = iota // the test completes the input; nothing to cancel
		protocol         // the guard cancels upstream with its failure
		cancelled        // the wrapped flow cancels upstream itself
	)
	tests := []struct {
		name     string
		flow     stream.Flow[int, string]
		in       []int
		want     []string // elements before the terminal signal
		reason   string   // "" for plain completion
		upstream int
	}{
		{"duplicate", bidi.Join(bidi.OneToOne[int, string](1), duplicate()), []int{1, 2}, []string{"1"}, extraOutput, protocol},
		{"duplicate/limit4", bidi.Join(bidi.OneToOne[int, string](4), duplicate()), []int{1, 2}, []string{"1"}, extraOutput, protocol},
		{"spontaneous", bidi.Join(bidi.OneToOne[int, string](1), spontaneous()), []int{1}, nil, extraOutput, protocol},
		{"reversed/duplicate", bidi.JoinLeft(duplicate(), bidi.Reversed(bidi.OneToOne[int, string](2))), []int{1, 2}, []string{"1"}, extraOutput, protocol},
		{"drop at the limit", bidi.Join(bidi.OneToOne[int, string](1), dropEven), []int{1, 2, 3}, []string{"1"},
			"synchronous flow pulled another input with 1 input unanswered (the limit): " +
				"it drops inputs or needs more than the limit before it answers", protocol},
		{"needs more than the limit", bidi.Join(bidi.OneToOne[int, string](2), stream.ViaFlow(stream.Grouped[int](3), stream.Map(func(g []int) string { return fmt.Sprint(g) }))),
			[]int{1, 2, 3}, nil,
			"synchronous flow pulled another input with 2 inputs unanswered (the limit): " +
				"it drops inputs or needs more than the limit before it answers", protocol},
		{"drop one", bidi.Join(bidi.OneToOne[int, string](2), dropEven), []int{1, 2, 3}, []string{"1", "3"},
			"flow completed with 1 input unanswered", completes},
		{"drop two", bidi.Join(bidi.OneToOne[int, string](3), dropEven), []int{1, 2, 3, 4}, []string{"1", "3"},
			"flow completed with 2 inputs unanswered", completes},
		{"completes early", bidi.Join(bidi.OneToOne[int, string](2), stream.ViaFlow(pairs, stream.Take[string](1))),
			[]int{1, 2}, []string{"[1 2]"}, "flow completed with 1 input unanswered", cancelled},
		{"completes with none outstanding", bidi.Join(bidi.OneToOne[int, string](1), stream.ViaFlow(stream.Map(strconv.Itoa), stream.Take[string](0))),
			[]int{1}, nil, "", cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := streamtest.ProbeFlow(t, context.Background(), tt.flow)
			p.Out.Request(len(tt.in) * 2)
			p.In.SendNext(tt.in...)
			if tt.upstream == completes {
				p.In.SendComplete()
			}
			var got []string
			var err error
			for {
				ev := p.Out.ExpectEvent()
				if ev.Err != nil {
					err = ev.Err
					break
				}
				got = append(got, ev.Value)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("elements before the terminal signal (-want +got):\n%s", diff)
			}
			var pe *bidi.ProtocolError
			switch {
			case tt.reason == "" && err != stream.EOS:
				t.Errorf("terminal signal = %v, want completion", err)
			case tt.reason != "" && (!errors.As(err, &pe) || pe.Reason != tt.reason):
				t.Errorf("failure = %v, want a *bidi.ProtocolError with reason %q", err, tt.reason)
			}
			switch tt.upstream {
			case protocol:
				if cause := p.In.ExpectCancellation(); cause != error(pe) {
					t.Errorf("upstream cancelled with %v, want the protocol error %v", cause, pe)
				}
			case cancelled:
				if cause := p.In.ExpectCancellation(); cause != stream.ErrCancelled {
					t.Errorf("upstream cancelled with %v, want %v", cause, stream.ErrCancelled)
				}
			}
			if err := p.Wait(t); (tt.reason == "") != (err == nil) || (pe != nil && err != error(pe)) {
				t.Errorf("run error = %v, want %v", err, pe)
			}
		})
	}
}

// TestOneToOneFailures checks that failures and cancellations pass through
// the guard unchanged in both directions, also while the input side waits
// for a free slot.
func TestOneToOneFailures(t *testing.T) {
	boom := errors.New("boom")
	t.Run("handler fails", func(t *testing.T) {
		handler := stream.MapAsync(2, func(_ context.Context, v int) (string, error) {
			if v == 1 {
				return "", boom
			}
			return strconv.Itoa(v), nil
		})
		p := streamtest.ProbeFlow(t, context.Background(), bidi.Join(bidi.OneToOne[int, string](2), handler))
		p.Out.Request(3)
		p.In.SendNext(1, 2, 3)
		if err := p.Out.ExpectError(); !errors.Is(err, boom) {
			t.Errorf("failure = %v, want %v", err, boom)
		}
		if cause := p.In.ExpectCancellation(); !errors.Is(cause, boom) {
			t.Errorf("upstream cancelled with %v, want %v", cause, boom)
		}
		p.Wait(t)
	})
	for _, limit := range []int{1, 2} {
		t.Run("cancel while waiting for a slot/limit"+strconv.Itoa(limit), func(t *testing.T) {
			var cancelled atomic.Int32
			handler := stream.MapAsync(4, func(ctx context.Context, v int) (string, error) {
				<-ctx.Done() // never answers
				cancelled.Add(1)
				return "", context.Cause(ctx)
			})
			p := streamtest.ProbeFlow(t, context.Background(), bidi.Join(bidi.OneToOne[int, string](limit), handler))
			p.Out.Request(1)
			p.In.SendNext(1, 2, 3, 4)
			for range limit {
				p.In.ExpectRequest()
			}
			p.In.ExpectNoRequest(streamtest.Quiet)
			cause := errors.New("consumer gone")
			p.Out.Cancel(cause)
			if got := p.In.ExpectCancellation(); !errors.Is(got, cause) {
				t.Errorf("upstream cancelled with %v, want %v", got, cause)
			}
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v, want nil after a cancellation", err)
			}
			if n := cancelled.Load(); int(n) != limit {
				t.Errorf("%d handler calls saw the cancellation, want %d", n, limit)
			}
		})
	}
	t.Run("context cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		handler := stream.MapAsync(4, func(ctx context.Context, v int) (string, error) {
			<-ctx.Done()
			return "", context.Cause(ctx)
		})
		p := streamtest.ProbeFlow(t, ctx, bidi.Join(bidi.OneToOne[int, string](1), handler))
		p.Out.Request(1)
		p.In.SendNext(1, 2)
		p.In.ExpectRequest()
		p.In.ExpectNoRequest(streamtest.Quiet)
		cancel()
		if got := p.In.ExpectCancellation(); !errors.Is(got, context.Canceled) {
			t.Errorf("upstream cancelled with %v, want context.Canceled", got)
		}
		if err := p.Wait(t); !errors.Is(err, context.Canceled) {
			t.Errorf("run error = %v, want context.Canceled", err)
		}
	})
}

// TestOneToOnePerRun runs one joined blueprint twice: a first run that
// leaves an input unanswered must not use up the slot of the second.
func TestOneToOnePerRun(t *testing.T) {
	flow := bidi.Join(bidi.OneToOne[string, string](1), stream.Filter(func(s string) bool { return s != "drop" }))
	run := func(in ...string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), streamtest.Timeout)
		defer cancel()
		return stream.RunWith(ctx, stream.Via(stream.FromSlice(in), flow), stream.Collect[string]())
	}
	var pe *bidi.ProtocolError
	if _, err := run("drop"); !errors.As(err, &pe) {
		t.Fatalf("first run: error = %v, want a *bidi.ProtocolError", err)
	}
	got, err := run("a")
	if err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("second run = %q, %v; want [a], nil", got, err)
	}
}

func TestOneToOneBadLimit(t *testing.T) {
	for _, limit := range []int{0, -1} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil {
					t.Errorf("OneToOne(%d) did not panic", limit)
				}
			}()
			bidi.OneToOne[int, int](limit)
		})
	}
}

func TestProtocolErrorMessage(t *testing.T) {
	err := error(&bidi.ProtocolError{Reason: extraOutput})
	if got, want := err.Error(), "bidi: one-to-one: "+extraOutput; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
