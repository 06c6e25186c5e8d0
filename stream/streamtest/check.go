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
	// RunAhead, for a Prefetch flow that emits one element per input, is
	// exactly how many elements it pulls beyond the one downstream has
	// taken when downstream stops pulling: Buffer(n) pulls n+1 (n held,
	// one waiting for room), MapAsync(p) pulls p. 0 skips the check.
	RunAhead int
}

// newErr makes the failure or cancellation cause a check injects; each check
// makes a fresh one so errors.Is is exact.
func newErr(name string) error { return fmt.Errorf("streamtest: injected %s", name) }

// CheckFlow runs the stream contract checks on a flow, each as a subtest
// named after its rule:
//
//   - NoEmissionWithoutDemand: nothing arrives before a request, and a flow
//     without Prefetch does not pull before one;
//   - RunAhead (with FlowCase.RunAhead): an async flow pulls exactly that
//     far ahead of demand, no further;
//   - Completion, FailurePassesThrough: the output, then one terminal
//     signal, and an upstream failure reaches downstream and the run;
//   - CancelReachesUpstream, CancelWithPullInFlight: a cancellation reaches
//     upstream with its cause, through the flow's Puller.Cancel or, with a
//     pull outstanding, through the island's context;
//   - CancelStopsRunningProducer (Prefetch flows): once the flow's own
//     goroutine is running, its Puller.Cancel stops it and it cancels
//     upstream with the cause;
//   - NoSignalAfterTerminal: nothing after the terminal signal; the probes
//     also report, in every subtest, a pull after a terminal signal or
//     after cancellation and a cancellation passed on after the terminal;
//   - PanickingUserFunction (with FlowCase.Panicking): a *stream.PanicError
//     downstream, upstream and in the run;
//   - UpstreamConstructionFailure, DownstreamConstructionFailure: when
//     building the graph panics, the run fails with the *stream.PanicError
//     and what was built (the flow, its upstream) is cancelled with it;
//   - ContextCancelledMidStream: the run's context stops everything and is
//     the run's error.
//
// Every subtest waits for its run, and a run reports its end only after
// every goroutine it started with Materializer.Go has exited; run the
// package's tests under a goroutine leak check (internal/leakcheck's
// VerifyTestMain in this project) to catch goroutines started otherwise.
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
	if c.Prefetch && c.RunAhead > 0 && len(c.In) > 0 {
		t.Run("RunAhead", func(t *testing.T) { checkRunAhead(t, c) })
	}
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
	if c.Prefetch && !c.NoCancelUpstream && len(c.In) > 0 {
		t.Run("CancelStopsRunningProducer", func(t *testing.T) { checkCancelStopsProducer(t, c) })
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
	t.Run("UpstreamConstructionFailure", func(t *testing.T) {
		broken := stream.FromPuller(func(*stream.Materializer) stream.Puller[I] {
			panic("streamtest: upstream construction failed")
		})
		out := NewSinkProbe[O](t)
		run := startRun(t, context.Background(), stream.To(stream.Via(broken, c.Flow), out.Sink()))
		out.Request(1)
		var pe *stream.PanicError
		if err := out.ExpectError(); !errors.As(err, &pe) {
			t.Errorf("failure = %v, want the *stream.PanicError", err)
		}
		if err := waitRun(t, run); !errors.As(err, &pe) {
			t.Errorf("run error = %v, want the *stream.PanicError", err)
		}
	})
	t.Run("DownstreamConstructionFailure", func(t *testing.T) {
		broken := stream.NewFlow(func(*stream.Materializer, stream.Puller[O]) stream.Puller[O] {
			panic("streamtest: downstream construction failed")
		})
		in, out := NewSourceProbe[I](t), NewSinkProbe[O](t)
		run := startRun(t, context.Background(), stream.To(stream.Via(stream.Via(in.Source(), c.Flow), broken), out.Sink()))
		var pe *stream.PanicError
		if cause := in.ExpectCancellation(); !errors.As(cause, &pe) {
			t.Errorf("upstream of the built flow cancelled with %v, want the *stream.PanicError", cause)
		}
		out.Request(1)
		if err := out.ExpectError(); !errors.As(err, &pe) {
			t.Errorf("failure = %v, want the *stream.PanicError", err)
		}
		if err := waitRun(t, run); !errors.As(err, &pe) {
			t.Errorf("run error = %v, want the *stream.PanicError", err)
		}
	})
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

// checkRunAhead takes one element, then answers every pull with the next
// input (In, cycled) while downstream asks for nothing more.
func checkRunAhead[I, O any](t *testing.T, c FlowCase[I, O]) {
	p := ProbeFlow(t, context.Background(), c.Flow)
	p.Out.Request(1)
	p.In.ExpectRequest()
	p.In.SendNext(c.In[0])
	p.Out.ExpectNext()
	for i := 1; i <= c.RunAhead; i++ {
		p.In.ExpectRequest()
		p.In.SendNext(c.In[i%len(c.In)])
	}
	p.In.ExpectNoRequest(Quiet)
	if n, want := p.In.Pulls(), 1+c.RunAhead; n != want {
		t.Errorf("upstream pulled %d times with one element taken, want %d", n, want)
	}
	p.Out.Cancel(nil)
	p.Wait(t)
}

// checkCancelStopsProducer gets the flow's producer running (one element
// out, the rest of In offered without completion, no pull outstanding),
// then cancels through the flow's Puller.Cancel.
func checkCancelStopsProducer[I, O any](t *testing.T, c FlowCase[I, O]) {
	p := ProbeFlow(t, context.Background(), c.Flow)
	p.Out.Request(1)
	p.In.SendNext(c.In...)
	if ev := p.Out.ExpectEvent(); ev.Err != nil {
		return // the flow ended on its own: nothing left to stop
	}
	cause := newErr("cancellation cause")
	p.Out.Cancel(cause)
	if got := p.In.ExpectCancellation(); !errors.Is(got, cause) {
		t.Errorf("upstream cancelled with %v, want %v: the flow's Cancel did not stop its producer", got, cause)
	}
	if err := p.Wait(t); err != nil {
		t.Errorf("run error = %v, want nil after a cancellation", err)
	}
}

// startRun starts g and makes the test wait for it (cancelling it if
// needed) when it ends.
func startRun(t testing.TB, ctx context.Context, g stream.RunnableGraph[stream.NotUsed, stream.NotUsed]) *stream.Running[stream.NotUsed, stream.NotUsed] {
	t.Helper()
	run := g.Start(ctx)
	t.Cleanup(func() {
		run.Cancel(errors.New("streamtest: test ended"))
		select {
		case <-run.Done():
		case <-time.After(Timeout):
			t.Errorf("streamtest: run did not finish within %v of the test's end", Timeout)
		}
	})
	return run
}

func waitRun(t testing.TB, run *stream.Running[stream.NotUsed, stream.NotUsed]) error {
	t.Helper()
	select {
	case <-run.Done():
	case <-time.After(Timeout):
		t.Fatalf("streamtest: run did not finish within %v", Timeout)
	}
	_, err := run.Wait()
	return err
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
