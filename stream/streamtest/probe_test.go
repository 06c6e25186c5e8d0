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

// CheckFlow must fail for a flow that swallows cancellation. The check runs
// in a child process so that its failure does not fail this test.
func TestCheckFlowCatchesBrokenFlow(t *testing.T) {
	if os.Getenv("STREAMTEST_BROKEN_FLOW") == "1" {
		streamtest.Quiet = 1
		deaf := stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[int]) stream.Puller[int] {
			return deafCancel{up}
		})
		streamtest.Timeout = 200 * time.Millisecond // the missing cancellation is reported quickly
		streamtest.CheckFlow(t, streamtest.FlowCase[int, int]{Flow: deaf, In: []int{1}, Want: []int{1}})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckFlowCatchesBrokenFlow$", "-test.v")
	cmd.Env = append(os.Environ(), "STREAMTEST_BROKEN_FLOW=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("CheckFlow passed a flow that ignores cancellation:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestCheckFlowCatchesBrokenFlow/CancelReachesUpstream") {
		t.Fatalf("child output lacks the CancelReachesUpstream failure:\n%s", out)
	}
}

// deafCancel never passes a cancellation upstream: a bug CheckFlow must catch.
type deafCancel struct{ up stream.Puller[int] }

func (d deafCancel) Pull() (int, error) { return d.up.Pull() }
func (d deafCancel) Cancel(error)       {}
