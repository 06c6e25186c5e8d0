package streamtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
)

// Quiet is how long the checks wait to be sure that nothing happens.
var Quiet = 50 * time.Millisecond

// FlowCase describes a flow for [CheckFlow]: what it must emit for a given
// input, and how it is expected to behave around the edges.
type FlowCase[I, O any] struct {
	// Flow is the flow under test; it is materialized once per check.
	Flow stream.Flow[I, O]
	// In is sent by the source probe, followed by completion; Want is what
	// the flow must emit for it before completing.
	In   []I
	Want []O
	// Unordered compares Want as a multiset (Merge, MapAsyncUnordered).
	Unordered bool
	// Prefetch is true for flows that may pull upstream before downstream
	// asks (async boundaries); false asserts no pull without demand.
	Prefetch bool
	// Panicking is the same operator built with a user function that
	// panics on an element of In; nil when the operator takes no function
	// (the panic check is then not run).
	Panicking *stream.Flow[I, O]
	// Failure checks the outcome when upstream fails with boom before any
	// element; nil expects that failure downstream (errors.Is). Recover-like
	// operators override it.
	Failure func(t *testing.T, out *SinkProbe[O], boom error)
	// NoCancelUpstream is set for flows that stop pulling and cancel on
	// their own before downstream cancels (Take(0)).
	NoCancelUpstream bool
}

// newErr makes the failure or cancellation cause a check injects; each check
// makes a fresh one so errors.Is is exact.
func newErr(name string) error { return fmt.Errorf("streamtest: injected %s", name) }

// CheckFlow runs the stream contract checks on a flow, each as a subtest:
// no emission without demand, completion, failure passing through,
// cancellation reaching upstream with its cause (with and without a pull in
// flight), no signal after a terminal one (checked by the probes in every
// subtest), a panicking user function, and context cancellation mid-stream.
func CheckFlow[I, O any](t *testing.T, c FlowCase[I, O]) {
	t.Helper()
	t.Run("NoEmissionWithoutDemand", func(t *testing.T) {
		p := ProbeFlow(t, context.Background(), c.Flow)
		p.In.SendNext(c.In...)
		p.In.SendComplete()
		p.Out.ExpectNoMessage(Quiet)
		if n := p.In.Pulls(); !c.Prefetch && n != 0 {
			t.Errorf("upstream pulled %d times before any demand", n)
		}
		p.Out.Request(len(c.Want) + 1)
		checkOutput(t, p.Out, c)
	})
	t.Run("Completion", func(t *testing.T) {
		p := ProbeFlow(t, context.Background(), c.Flow)
		p.Out.Request(len(c.Want) + 1)
		p.In.SendNext(c.In...)
		p.In.SendComplete()
		checkOutput(t, p.Out, c)
		if err := p.Wait(t); err != nil {
			t.Errorf("run error = %v, want nil", err)
		}
	})
	t.Run("FailurePassesThrough", func(t *testing.T) {
		p := ProbeFlow(t, context.Background(), c.Flow)
		boom := newErr("failure")
		p.Out.Request(1)
		p.In.SendError(boom)
		if c.Failure != nil {
			c.Failure(t, p.Out, boom)
			return
		}
		if err := p.Out.ExpectError(); !errors.Is(err, boom) {
			t.Errorf("failure = %v, want %v", err, boom)
		}
		if err := p.Wait(t); !errors.Is(err, boom) {
			t.Errorf("run error = %v, want %v", err, boom)
		}
	})
	if !c.NoCancelUpstream {
		t.Run("CancelReachesUpstream", func(t *testing.T) {
			p := ProbeFlow(t, context.Background(), c.Flow)
			cause := newErr("cancellation cause")
			p.Out.Cancel(cause)
			if got := p.In.ExpectCancellation(); !errors.Is(got, cause) {
				t.Errorf("upstream cancelled with %v, want %v", got, cause)
			}
			if err := p.Wait(t); err != nil {
				t.Errorf("run error = %v, want nil after a cancellation", err)
			}
		})
		t.Run("CancelWithPullInFlight", func(t *testing.T) {
			p := ProbeFlow(t, context.Background(), c.Flow)
			cause := newErr("cancellation cause")
			p.Out.Request(1)
			p.In.ExpectRequest()
			p.Out.Cancel(cause)
			if got := p.In.ExpectCancellation(); !errors.Is(got, cause) {
				t.Errorf("upstream cancelled with %v, want %v", got, cause)
			}
			p.Wait(t)
		})
	}
	t.Run("NoSignalAfterTerminal", func(t *testing.T) {
		p := ProbeFlow(t, context.Background(), c.Flow)
		p.Out.Request(len(c.Want) + 3)
		p.In.SendNext(c.In...)
		p.In.SendComplete()
		checkOutput(t, p.Out, c)
		p.Out.ExpectNoMessage(Quiet)
		p.Wait(t)
		// The probes record a pull after the terminal signal, a second
		// terminal, or an element after it, and fail the test at cleanup.
	})
	if c.Panicking != nil {
		t.Run("PanickingUserFunction", func(t *testing.T) { checkPanic(t, c) })
	}
	t.Run("ContextCancelledMidStream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := ProbeFlow(t, ctx, c.Flow)
		p.Out.Request(1)
		p.In.ExpectRequest()
		cancel()
		if got := p.In.ExpectCancellation(); !errors.Is(got, context.Canceled) {
			t.Errorf("upstream cancelled with %v, want context.Canceled", got)
		}
		if err := p.Wait(t); !errors.Is(err, context.Canceled) {
			t.Errorf("run error = %v, want context.Canceled", err)
		}
	})
}

func checkPanic[I, O any](t *testing.T, c FlowCase[I, O]) {
	p := ProbeFlow(t, context.Background(), *c.Panicking)
	p.Out.Request(len(c.Want) + 1)
	p.In.SendNext(c.In...)
	var pe *stream.PanicError
	for {
		ev := p.Out.ExpectEvent()
		if ev.Err == nil {
			continue // elements before the panic are fine
		}
		if !errors.As(ev.Err, &pe) {
			t.Fatalf("terminal signal = %v, want a *stream.PanicError", ev.Err)
		}
		break
	}
	if len(pe.Stack) == 0 {
		t.Errorf("PanicError carries no stack")
	}
	if got := p.In.ExpectCancellation(); !errors.As(got, &pe) {
		t.Errorf("upstream cancelled with %v, want the *stream.PanicError", got)
	}
	if err := p.Wait(t); !errors.As(err, &pe) {
		t.Errorf("run error = %v, want the *stream.PanicError", err)
	}
}

func checkOutput[I, O any](t *testing.T, out *SinkProbe[O], c FlowCase[I, O]) {
	t.Helper()
	var got []O
	for range c.Want {
		got = append(got, out.ExpectNext())
	}
	out.ExpectComplete()
	want := c.Want
	if c.Unordered {
		key := func(v O) string { return fmt.Sprintf("%#v", v) }
		byKey := func(a, b O) int {
			ka, kb := key(a), key(b)
			switch {
			case ka < kb:
				return -1
			case ka > kb:
				return 1
			}
			return 0
		}
		got, want = slices.Clone(got), slices.Clone(want)
		slices.SortFunc(got, byKey)
		slices.SortFunc(want, byKey)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("output mismatch (-want +got):\n%s", diff)
	}
}
