package stream_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/internal/leakcheck"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// sinkInputs are the sources every plain sink is run against.
func sinkInputs() []struct {
	name    string
	src     stream.Source[int]
	wantErr error
} {
	return []struct {
		name    string
		src     stream.Source[int]
		wantErr error
	}{
		{"completes", stream.FromSlice([]int{1, 2, 3}), nil},
		{"fails after elements", stream.Concat(stream.FromSlice([]int{1, 2, 3}), stream.Failed[int](errBoom)), errBoom},
	}
}

func TestForEachCollectFoldIgnore(t *testing.T) {
	ctx := context.Background()
	for _, in := range sinkInputs() {
		t.Run(in.name, func(t *testing.T) {
			var seen []int
			_, err := stream.RunWith(ctx, in.src, stream.ForEach(func(x int) { seen = append(seen, x) }))
			if err != in.wantErr || !cmp.Equal([]int{1, 2, 3}, seen) {
				t.Errorf("ForEach saw %v, %v", seen, err)
			}

			got, err := stream.RunWith(ctx, in.src, stream.Collect[int]())
			if err != in.wantErr || !cmp.Equal([]int{1, 2, 3}, got) {
				t.Errorf("Collect = %v, %v", got, err)
			}

			// A non-commutative fold shows the order.
			s, err := stream.RunWith(ctx, in.src, stream.Fold("", func(a string, x int) string { return a + strconv.Itoa(x) }))
			if err != in.wantErr || s != "123" {
				t.Errorf("Fold = %q, %v; want \"123\"", s, err)
			}

			pulled := 0
			counted := stream.Via(in.src, stream.Map(func(x int) int { pulled++; return x }))
			if _, err := stream.RunWith(ctx, counted, stream.Ignore[int]()); err != in.wantErr || pulled != 3 {
				t.Errorf("Ignore pulled %d elements, %v; want 3", pulled, err)
			}
		})
	}
}

func TestCollectEmpty(t *testing.T) {
	got, err := stream.RunWith(context.Background(), stream.Empty[int](), stream.Collect[int]())
	if err != nil || len(got) != 0 {
		t.Errorf("Collect of Empty = %v, %v", got, err)
	}
}

// startProbed runs a source probe into sink and makes the test wait for the
// run at its end.
func startProbed[T, R any](t *testing.T, sink stream.Sink[T, R]) (*streamtest.SourceProbe[T], *stream.Running[stream.NotUsed, R]) {
	t.Helper()
	in := streamtest.NewSourceProbe[T](t)
	run := stream.To(in.Source(), sink).Start(context.Background())
	t.Cleanup(func() {
		run.Cancel(errors.New("test ended"))
		<-run.Done()
	})
	return in, run
}

func TestHead(t *testing.T) {
	in, run := startProbed(t, stream.Head[int]())
	in.SendNext(5, 6)
	if c := in.ExpectCancellation(); c != stream.ErrCancelled {
		t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", c)
	}
	if v, err := run.Wait(); v != 5 || err != nil {
		t.Errorf("Head = %d, %v; want 5", v, err)
	}
	if n := in.Pulls(); n != 1 {
		t.Errorf("upstream pulled %d times, want 1", n)
	}
	for _, tc := range []struct {
		name    string
		src     stream.Source[int]
		wantErr error
	}{
		{"empty", stream.Empty[int](), stream.ErrEmpty},
		{"failure", stream.Failed[int](errBoom), errBoom},
	} {
		if _, err := stream.RunWith(context.Background(), tc.src, stream.Head[int]()); err != tc.wantErr {
			t.Errorf("%s: Head error = %v, want %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestCancelledSink(t *testing.T) {
	in, run := startProbed(t, stream.Cancelled[int]())
	if c := in.ExpectCancellation(); c != stream.ErrCancelled {
		t.Errorf("upstream cancelled with %v, want stream.ErrCancelled", c)
	}
	if _, err := run.Wait(); err != nil {
		t.Errorf("run error = %v", err)
	}
	if n := in.Pulls(); n != 0 {
		t.Errorf("upstream pulled %d times", n)
	}
}

func TestPanicInForEach(t *testing.T) {
	in, run := startProbed(t, stream.ForEach(panicOn(2)))
	in.SendNext(1, 2, 3)
	c := in.ExpectCancellation()
	_, err := run.Wait()
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom at element" || len(pe.Stack) == 0 {
		t.Fatalf("run error = %v, want a *stream.PanicError with value and stack", err)
	}
	if c != pe {
		t.Errorf("upstream cancelled with %v, want the PanicError", c)
	}
	if n := in.Pulls(); n != 2 {
		t.Errorf("upstream pulled %d times, want 2", n)
	}
}

func TestPanicInCustomSink(t *testing.T) {
	in, run := startProbed(t, stream.NewSink(func(_ *stream.Materializer, up stream.Puller[int]) (int, error) {
		v, _ := up.Pull()
		panic(v)
	}))
	in.SendNext(9)
	c := in.ExpectCancellation()
	_, err := run.Wait()
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != 9 || c != pe {
		t.Errorf("run error = %v, upstream cancel = %v; want the same *stream.PanicError", err, c)
	}
}

func TestToChannel(t *testing.T) {
	var panicky iter.Seq[int] = func(yield func(int) bool) {
		yield(1)
		panic("seq broke")
	}
	for _, tc := range []struct {
		name    string
		src     stream.Source[int]
		want    []int
		wantErr func(error) bool
	}{
		{"completion", stream.FromSlice([]int{1, 2, 3}), []int{1, 2, 3}, func(err error) bool { return err == nil }},
		{"failure", stream.Concat(stream.Single(1), stream.Failed[int](errBoom)), []int{1},
			func(err error) bool { return err == errBoom }},
		{"panic upstream", stream.FromSeq(panicky), []int{1},
			func(err error) bool { var pe *stream.PanicError; return errors.As(err, &pe) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan int)
			errc := make(chan error, 1)
			go func() {
				_, err := stream.RunWith(context.Background(), tc.src, stream.ToChannel(ch))
				errc <- err
			}()
			var got []int
			timeout := time.After(streamtest.Timeout)
		recv:
			for {
				select {
				case v, ok := <-ch:
					if !ok {
						break recv
					}
					got = append(got, v)
				case <-timeout:
					t.Fatalf("channel not closed; got %v so far", got)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			if err := <-errc; !tc.wantErr(err) {
				t.Errorf("run error = %v", err)
			}
		})
	}
}

func TestToChannelBlockedSendReleasedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan int)
		var rec termRecorder
		errc := make(chan error, 1)
		go func() {
			src := stream.Via(stream.FromSlice([]int{1, 2}), stream.WatchTermination[int](rec.record))
			_, err := stream.RunWith(ctx, src, stream.ToChannel(ch))
			errc <- err
		}()
		synctest.Wait() // the sink is blocked sending 1 to nobody
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("run error = %v, want context.Canceled", err)
		}
		if v, ok := <-ch; ok {
			t.Errorf("received %d, want a closed channel", v)
		}
		if calls := rec.get(); len(calls) != 1 || !errors.Is(calls[0], context.Canceled) {
			t.Errorf("upstream terminated with %v, want a cancellation with context.Canceled", calls)
		}
	})
}

// failingWriter takes ok bytes, then writes part of the next buffer and fails.
type failingWriter struct {
	bytes.Buffer
	ok int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) <= w.ok {
		return w.Buffer.Write(p)
	}
	n, _ := w.Buffer.Write(p[:w.ok-w.Len()+1])
	return n, errBoom
}

func TestToWriter(t *testing.T) {
	var buf bytes.Buffer
	chunks := [][]byte{[]byte("ab"), {}, []byte("cde")}
	n, err := stream.RunWith(context.Background(), stream.FromSlice(chunks), stream.ToWriter(&buf))
	if err != nil || n != 5 || buf.String() != "abcde" {
		t.Errorf("ToWriter = %d, %v, wrote %q; want 5 bytes \"abcde\"", n, err, buf.String())
	}
}

func TestToWriterError(t *testing.T) {
	w := &failingWriter{ok: 2}
	in, run := startProbed(t, stream.ToWriter(w))
	in.SendNext([]byte("ab"), []byte("cd"), []byte("ef"))
	if c := in.ExpectCancellation(); c != errBoom {
		t.Errorf("upstream cancelled with %v, want the write error", c)
	}
	n, err := run.Wait()
	if err != errBoom || n != 3 {
		t.Errorf("ToWriter = %d, %v; want 3 bytes and the write error", n, err)
	}
	if got := in.Pulls(); got != 2 {
		t.Errorf("upstream pulled %d times, want 2", got)
	}
}

// pushPuller is a source fed through the channel it materializes.
type pushPuller struct {
	m  *stream.Materializer
	ch chan int
}

func (p *pushPuller) Pull() (int, error) {
	select {
	case v, ok := <-p.ch:
		if !ok {
			return 0, stream.EOS
		}
		return v, nil
	case <-p.m.Done():
		return 0, p.m.Cause()
	}
}

func (p *pushPuller) Cancel(error) {}

func pushSource() stream.SourceMat[int, chan<- int] {
	return stream.FromPullerMat(func(m *stream.Materializer) (stream.Puller[int], chan<- int) {
		ch := make(chan int)
		return &pushPuller{m: m, ch: ch}, ch
	})
}

func TestRunningStart(t *testing.T) {
	stop := errors.New("operator stopped it")
	for _, tc := range []struct {
		name    string
		end     func(ch chan<- int, run *stream.Running[chan<- int, []int], cancelCtx context.CancelFunc)
		wantErr error
	}{
		{"source completes", func(ch chan<- int, _ *stream.Running[chan<- int, []int], _ context.CancelFunc) { close(ch) }, nil},
		{"Cancel with a cause", func(_ chan<- int, run *stream.Running[chan<- int, []int], _ context.CancelFunc) { run.Cancel(stop) }, stop},
		{"Cancel(nil)", func(_ chan<- int, run *stream.Running[chan<- int, []int], _ context.CancelFunc) { run.Cancel(nil) }, stream.ErrCancelled},
		{"context cancelled", func(_ chan<- int, _ *stream.Running[chan<- int, []int], c context.CancelFunc) { c() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := stream.To(stream.Via(pushSource(), stream.Map(func(x int) int { return x * 10 })), stream.Collect[int]())
			run := g.Start(ctx)
			ch := run.Materialized()
			if ch == nil {
				t.Fatal("no materialized value after Start")
			}
			ch <- 1
			ch <- 2
			select {
			case <-run.Done():
				t.Fatal("Done closed while the source is open")
			default:
			}
			tc.end(ch, run, cancel)
			select {
			case <-run.Done():
			case <-time.After(streamtest.Timeout):
				t.Fatal("run did not finish")
			}
			got, err := run.Wait()
			if err != tc.wantErr {
				t.Errorf("Wait error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff([]int{10, 20}, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunningMaterializedPerRun(t *testing.T) {
	g := stream.To(stream.MapMaterialized(pushSource(), func(ch chan<- int) func(int) {
		return func(v int) { ch <- v }
	}), stream.Fold(0, func(a, x int) int { return a + x }))
	r1, r2 := g.Start(context.Background()), g.Start(context.Background())
	r1.Materialized()(1)
	r2.Materialized()(2)
	r2.Materialized()(3)
	r1.Cancel(nil)
	r2.Cancel(nil)
	s1, _ := r1.Wait()
	s2, _ := r2.Wait()
	if s1 != 1 || s2 != 5 {
		t.Errorf("sums = %d, %d; want 1 and 5 (one source per run)", s1, s2)
	}
}

func TestStartWithPanickingMaterialization(t *testing.T) {
	src := stream.FromPullerMat(func(*stream.Materializer) (stream.Puller[int], string) { panic("cannot build") })
	run := stream.To(src, stream.Ignore[int]()).Start(context.Background())
	_, err := run.Wait()
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "cannot build" {
		t.Errorf("Wait error = %v, want a *stream.PanicError", err)
	}
}

// TestRunWithContextCancelsInfiniteFusedSource runs an endless fused graph
// (no stage ever blocks) and cancels its context from another goroutine: the
// sink loop must notice, stop the iterator and leave no goroutine behind.
func TestRunWithContextCancelsInfiniteFusedSource(t *testing.T) {
	leakcheck.Check(t)
	var c countingSeq
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached := make(chan struct{})
	var once sync.Once
	src := stream.Via(stream.FromSeq(c.seq), stream.Map(func(x int) int {
		if x == 1000 {
			once.Do(func() { close(reached) })
		}
		return x * 2
	}))
	go func() {
		<-reached
		cancel()
	}()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := stream.RunWith(ctx, src, stream.Fold(0, func(a, _ int) int { return a + 1 }))
		done <- result{n, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(streamtest.Timeout):
		t.Fatal("run did not stop after its context was cancelled")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("run error = %v, want context.Canceled", r.err)
	}
	if r.n < 1001 {
		t.Errorf("run saw %d elements before it was cancelled, want at least 1001", r.n)
	}
	if n := c.cleaned.Load(); n != 1 {
		t.Errorf("iterator cleanup ran %d times, want 1", n)
	}
}

func TestRunWithContextAlreadyCancelled(t *testing.T) {
	var c countingSeq
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := stream.RunWith(ctx, stream.FromSeq(c.seq), stream.Collect[int]())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("run error = %v, want context.Canceled", err)
	}
	if n := c.produced.Load(); n != 0 {
		t.Errorf("iterator produced %d values for a cancelled run", n)
	}
}
