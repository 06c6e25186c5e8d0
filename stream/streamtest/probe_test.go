package streamtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// recorder is a testing.TB that records failures instead of failing, so the
// probes' own checks can be tested. Its Cleanup runs when finish is called.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) finish() []string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r.errs
}

// A stage that pulls again after its upstream completed is reported.
func TestSourceProbeReportsPullAfterTerminal(t *testing.T) {
	rec := &recorder{TB: t}
	src := streamtest.NewSourceProbe[int](rec)
	greedy := stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] {
		return pullTwice{up}
	})
	done := make(chan error, 1)
	go func() {
		_, err := stream.RunWith(context.Background(), stream.Via(src.Source(), greedy), stream.Ignore[int]())
		done <- err
	}()
	src.SendComplete()
	if err := <-done; err != nil {
		t.Fatalf("run error = %v", err)
	}
	errs := rec.finish()
	if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, "source probe: pulled after the terminal signal") }) {
		t.Fatalf("recorded %q, want the pull after the terminal signal", errs)
	}
}

// pullTwice pulls its upstream once more after a terminal signal: a bug.
type pullTwice struct{ up stream.Puller[int] }

func (p pullTwice) Pull() (int, error) {
	v, err := p.up.Pull()
	if err != nil {
		p.up.Pull()
	}
	return v, err
}
func (p pullTwice) Cancel(cause error) { p.up.Cancel(cause) }

func TestProbesRoundTrip(t *testing.T) {
	p := streamtest.ProbeFlow(t, context.Background(), stream.Map(func(x int) int { return -x }))
	p.Out.Request(2)
	p.In.ExpectRequest()
	p.In.SendNext(1)
	if got := p.Out.ExpectNext(); got != -1 {
		t.Errorf("got %d, want -1", got)
	}
	p.In.ExpectRequest()
	boom := errors.New("boom")
	p.In.SendError(boom)
	if err := p.Out.ExpectError(); !errors.Is(err, boom) {
		t.Errorf("error = %v, want boom", err)
	}
	if err := p.Wait(t); !errors.Is(err, boom) {
		t.Errorf("run error = %v, want boom", err)
	}
}

func TestSinkProbeCancelWithPullInFlight(t *testing.T) {
	p := streamtest.ProbeFlow(t, context.Background(), stream.Filter(func(int) bool { return true }))
	p.Out.Request(1)
	p.In.ExpectRequest()
	cause := errors.New("enough")
	p.Out.Cancel(cause)
	if got := p.In.ExpectCancellation(); !errors.Is(got, cause) {
		t.Errorf("cancellation cause = %v, want %v", got, cause)
	}
	if err := p.Wait(t); err != nil {
		t.Errorf("run error = %v, want nil", err)
	}
}

// brokenFlows are stages that each break one rule of the contract, with the
// CheckFlow subtest that must catch it.
var brokenFlows = []struct {
	name    string
	c       streamtest.FlowCase[int, int]
	failing string // the subtest (or message) the child must report
}{
	{"deaf cancel", streamtest.FlowCase[int, int]{
		Flow: stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] { return deafCancel{up} }),
		In:   []int{1}, Want: []int{1},
	}, "--- FAIL: TestCheckFlowCatchesBrokenFlow/CancelReachesUpstream"},
	{"producer deaf to cancel", streamtest.FlowCase[int, int]{
		Flow: deafProducer(false), In: []int{1, 2}, Want: []int{1, 2}, Prefetch: true,
	}, "--- FAIL: TestCheckFlowCatchesBrokenFlow/CancelStopsRunningProducer"},
	{"pulls without demand", streamtest.FlowCase[int, int]{
		Flow: deafProducer(true), In: []int{1, 2}, Want: []int{1, 2},
	}, "--- FAIL: TestCheckFlowCatchesBrokenFlow/NoEmissionWithoutDemand"},
	{"ignores cancel before the first pull", streamtest.FlowCase[int, int]{
		Flow: stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] { return &lateCancel{up: up} }),
		In:   []int{1}, Want: []int{1},
	}, "--- FAIL: TestCheckFlowCatchesBrokenFlow/DownstreamConstructionFailure"},
	{"runs too far ahead", streamtest.FlowCase[int, int]{
		Flow: stream.Buffer[int](4, stream.Backpressure), In: []int{1, 2}, Want: []int{1, 2}, Prefetch: true, RunAhead: 2,
	}, "--- FAIL: TestCheckFlowCatchesBrokenFlow/RunAhead"},
	{"passes cancel on after the end", streamtest.FlowCase[int, int]{
		Flow: stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] { return passOn{up} }),
		In:   []int{1}, Want: []int{1},
	}, "a flow passed on a cancellation"},
}

// CheckFlow must fail for each broken flow. Each check runs in a child
// process so that its failure does not fail this test.
func TestCheckFlowCatchesBrokenFlow(t *testing.T) {
	if name := os.Getenv("STREAMTEST_BROKEN_FLOW"); name != "" {
		streamtest.Quiet = 20 * time.Millisecond
		streamtest.Timeout = 300 * time.Millisecond // the missing signal is reported quickly
		for _, b := range brokenFlows {
			if b.name == name {
				streamtest.CheckFlow(t, b.c)
			}
		}
		return
	}
	for _, b := range brokenFlows {
		t.Run(b.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCheckFlowCatchesBrokenFlow$", "-test.v")
			cmd.Env = append(os.Environ(), "STREAMTEST_BROKEN_FLOW="+b.name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("CheckFlow passed a broken flow:\n%s", out)
			}
			if !strings.Contains(string(out), b.failing) {
				t.Fatalf("child output lacks %q:\n%s", b.failing, out)
			}
		})
	}
}

// A Request without demand is a bug in the test: the probe reports it.
func TestSinkProbeRejectsNonPositiveDemand(t *testing.T) {
	for _, n := range []int{0, -1} {
		rec := &recorder{TB: t}
		p := streamtest.NewSinkProbe[int](rec)
		p.Request(n)
		if errs := rec.finish(); len(errs) != 1 || !strings.Contains(errs[0], "demand must be positive") {
			t.Errorf("Request(%d) recorded %q, want one failure", n, errs)
		}
	}
}

// deafCancel never passes a cancellation upstream: a bug CheckFlow must catch.
type deafCancel struct{ up stream.Puller[int] }

func (d deafCancel) Pull() (int, error) { return d.up.Pull() }
func (d deafCancel) Cancel(error)       {}

// passOn passes every Cancel on, also after its upstream ended.
type passOn struct{ up stream.Puller[int] }

func (p passOn) Pull() (int, error) { return p.up.Pull() }
func (p passOn) Cancel(cause error) { p.up.Cancel(cause) }

// lateCancel ignores a Cancel that comes before its first Pull (a stage
// that only sets itself up there): what a failed construction downstream
// of it built would then never be released.
type lateCancel struct {
	up     stream.Puller[int]
	pulled bool
}

func (l *lateCancel) Pull() (int, error) { l.pulled = true; return l.up.Pull() }
func (l *lateCancel) Cancel(cause error) {
	if l.pulled {
		l.up.Cancel(cause)
	}
}

// deafProducer is an async flow whose producer goroutine (started at the
// first pull, or at once when eager) pulls upstream into a channel; its
// Cancel forgets to stop that goroutine, which only ends with the run.
func deafProducer(eager bool) stream.Flow[int, int] {
	return stream.NewAsyncFlow(func(m, island *stream.Materializer, up stream.Puller[int]) stream.Puller[int] {
		d := &deafProducerStage{m: m, island: island, up: up, ch: make(chan result, 1)}
		if eager {
			d.start()
		}
		return d
	})
}

type result struct {
	v   int
	err error
}

type deafProducerStage struct {
	m, island *stream.Materializer
	up        stream.Puller[int]
	ch        chan result
	started   bool
	done      bool
}

func (d *deafProducerStage) start() {
	d.started = true
	d.island.Go(func() {
		for {
			v, err := d.up.Pull()
			select {
			case d.ch <- result{v, err}:
			case <-d.island.Done():
				if err == nil {
					d.up.Cancel(d.island.Cause())
				}
				return
			}
			if err != nil {
				return
			}
		}
	})
}

func (d *deafProducerStage) Pull() (int, error) {
	if !d.started {
		d.start()
	}
	select {
	case r := <-d.ch:
		d.done = r.err != nil
		return r.v, r.err
	case <-d.m.Done():
		d.done = true
		return 0, d.m.Cause()
	}
}

func (d *deafProducerStage) Cancel(cause error) {
	if !d.started && !d.done {
		d.done = true
		d.up.Cancel(cause)
	}
	// Started: the producer should be stopped here, and is not.
}
