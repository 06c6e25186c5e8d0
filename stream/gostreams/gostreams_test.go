package gostreams_test

import (
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// --- helpers ---------------------------------------------------------------

// counting is a go-streams source of the ints 0..n-1 sent by a goroutine of
// its own, as go-streams sources are made; finished is closed once that
// goroutine has closed the output and is about to exit.
func counting(n int) (src streams.Source, finished chan int) {
	ch := make(chan any)
	finished = make(chan int)
	go func() {
		defer close(finished)
		for i := range n {
			ch <- i
		}
		close(ch)
	}()
	return extension.NewChanSource(ch), finished
}

// endless is a go-streams source that sends 0, 1, 2, ... until stop is
// closed; finished is closed when its goroutine ends.
func endless() (src streams.Source, stop chan struct{}, finished chan struct{}) {
	ch := make(chan any)
	stop, finished = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		defer close(ch)
		for i := 0; ; i++ {
			select {
			case ch <- i:
			case <-stop:
				return
			}
		}
	}()
	return extension.NewChanSource(ch), stop, finished
}

// sliceSource is a go-streams source of the given elements.
func sliceSource(xs ...any) streams.Source {
	ch := make(chan any, len(xs))
	for _, x := range xs {
		ch <- x
	}
	close(ch)
	return extension.NewChanSource(ch)
}

// expectGoroutines polls until runtime.NumGoroutine is back at baseline,
// failing with every stack after a few seconds.
func expectGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n := runtime.NumGoroutine(); n > baseline; n = runtime.NumGoroutine() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want %d after the run:\n%s", n, baseline, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks runs f in a synctest bubble, which fails the test if a goroutine
// started in it is left blocked for good, and then checks that
// runtime.NumGoroutine is back where it was.
func noLeaks(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	baseline := runtime.NumGoroutine()
	synctest.Test(t, f)
	expectGoroutines(t, baseline)
}

// fillUp is a fused stage that, before passing an element on, waits until
// every other goroutine of the bubble is blocked: the go-streams operator
// upstream has then filled all its channels, the worst case for an early end.
func fillUp[T any]() stream.Flow[T, T] {
	return stream.Map(func(v T) T { synctest.Wait(); return v })
}

// send sends xs into in and closes it, in a new goroutine; the returned
// channel is closed when all is sent, so a test can tell that the sender was
// not left blocked.
func send(in chan<- any, xs ...any) <-chan struct{} {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for _, x := range xs {
			in <- x
		}
		close(in)
	}()
	return sent
}

func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not within 5s", what)
	}
}

func receiveAll(t *testing.T, out <-chan any) []any {
	t.Helper()
	var got []any
	timeout := time.After(5 * time.Second)
	for {
		select {
		case v, ok := <-out:
			if !ok {
				return got
			}
			got = append(got, v)
		case <-timeout:
			t.Fatalf("output not closed within 5s; got %v so far", got)
		}
	}
}

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i + 1
	}
	return xs
}

func anys[T any](xs ...T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func asTypeError(t *testing.T, err error) *gostreams.TypeError {
	t.Helper()
	var te *gostreams.TypeError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want a *gostreams.TypeError", err)
	}
	return te
}

func doubler() streams.Flow { return flow.NewMap(func(x int) int { return 2 * x }, 1) }

func TestTypeErrorMessage(t *testing.T) {
	err := &gostreams.TypeError{Want: "int", Got: "string", Value: "x"}
	if got, want := err.Error(), "gostreams: element of type string, want int"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
