package stream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

func TestSimpleSources(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		src     stream.Source[int]
		want    []int
		wantErr error
	}{
		{"FromSlice", stream.FromSlice([]int{1, 2, 3}), []int{1, 2, 3}, nil},
		{"FromSlice nil", stream.FromSlice[int](nil), nil, nil},
		{"FromSlice empty", stream.FromSlice([]int{}), nil, nil},
		{"Single", stream.Single(7), []int{7}, nil},
		{"Empty", stream.Empty[int](), nil, nil},
		{"Failed", stream.Failed[int](errBoom), nil, errBoom},
		{"FromSeq", stream.FromSeq(slices.Values([]int{4, 5})), []int{4, 5}, nil},
		{"FromSeq empty", stream.FromSeq(slices.Values([]int(nil))), nil, nil},
		{"Lazy", stream.Lazy(func() stream.Source[int] { return stream.FromSlice([]int{8, 9}) }), []int{8, 9}, nil},
		{"Lazy of Failed", stream.Lazy(func() stream.Source[int] { return stream.Failed[int](errBoom) }), nil, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A blueprint is reusable: every run starts afresh.
			for run := range 2 {
				got, err := stream.RunWith(ctx, tc.src, stream.Collect[int]())
				if err != tc.wantErr {
					t.Errorf("run %d: error = %v, want %v", run, err, tc.wantErr)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("run %d: output (-want +got):\n%s", run, diff)
				}
			}
		})
	}
}

func TestFromSliceReusableAfterPartialRun(t *testing.T) {
	ctx := context.Background()
	src := stream.FromSlice([]int{1, 2, 3})
	if v, err := stream.RunWith(ctx, src, stream.Head[int]()); v != 1 || err != nil {
		t.Fatalf("Head = %d, %v", v, err)
	}
	if v, err := stream.RunWith(ctx, stream.Via(src, stream.Take[int](2)), stream.Collect[int]()); !cmp.Equal([]int{1, 2}, v) || err != nil {
		t.Fatalf("Take(2) = %v, %v", v, err)
	}
	got, err := stream.RunWith(ctx, src, stream.Collect[int]())
	if err != nil || !cmp.Equal([]int{1, 2, 3}, got) {
		t.Errorf("third run = %v, %v; want [1 2 3]", got, err)
	}
}

func TestFailedNilPanics(t *testing.T) {
	assertPanics(t, "Failed(nil)", func() { stream.Failed[int](nil) })
}

func TestFromChannel(t *testing.T) {
	ctx := context.Background()
	t.Run("completes when closed", func(t *testing.T) {
		ch := make(chan int, 3)
		ch <- 1
		ch <- 2
		ch <- 3
		close(ch)
		got, err := stream.RunWith(ctx, stream.FromChannel(ch), stream.Collect[int]())
		if err != nil || !cmp.Equal([]int{1, 2, 3}, got) {
			t.Errorf("got %v, %v; want [1 2 3]", got, err)
		}
	})
	for _, tc := range []struct {
		name string
		sink stream.Sink[int, []int]
		left int
	}{
		{"cancellation by Take(2) stops reading", stream.FlowTo(stream.Take[int](2), stream.Collect[int]()), 3},
		{"cancellation by Head stops reading",
			stream.FlowTo(stream.Map(func(x int) []int { return []int{x} }), stream.Head[[]int]()), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := make(chan int, 5)
			for i := range 5 {
				ch <- i
			}
			if _, err := stream.RunWith(ctx, stream.FromChannel(ch), tc.sink); err != nil {
				t.Fatal(err)
			}
			if len(ch) != tc.left {
				t.Errorf("%d elements left in the channel, want %d", len(ch), tc.left)
			}
			close(ch) // panics if the source closed it
		})
	}
	t.Run("context cancelled while blocked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cause := errors.New("caller gave up")
			ctx, cancel := context.WithCancelCause(context.Background())
			ch := make(chan int)
			type result struct {
				got []int
				err error
			}
			done := make(chan result)
			go func() {
				got, err := stream.RunWith(ctx, stream.FromChannel(ch), stream.Collect[int]())
				done <- result{got, err}
			}()
			ch <- 1
			synctest.Wait() // the source is now blocked waiting for 2
			select {
			case r := <-done:
				t.Fatalf("run ended while the channel was open: %v", r)
			default:
			}
			cancel(cause)
			r := <-done
			if r.err != cause {
				t.Errorf("run error = %v, want the context's cause %v", r.err, cause)
			}
			if !cmp.Equal([]int{1}, r.got) {
				t.Errorf("output = %v, want [1]", r.got)
			}
			close(ch) // panics if the source closed it
		})
	})
}

// countingSeq is an endless iterator that counts what it produced and
// whether its deferred cleanup ran.
type countingSeq struct {
	produced, cleaned atomic.Int64
}

func (c *countingSeq) seq(yield func(int) bool) {
	defer c.cleaned.Add(1)
	for i := 0; ; i++ {
		c.produced.Add(1)
		if !yield(i) {
			return
		}
	}
}

func TestFromSeqTakeStopsIterator(t *testing.T) {
	var c countingSeq
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.FromSeq(c.seq), stream.Take[int](2)), stream.Collect[int]())
	if err != nil || !cmp.Equal([]int{0, 1}, got) {
		t.Fatalf("got %v, %v; want [0 1]", got, err)
	}
	if n := c.produced.Load(); n != 2 {
		t.Errorf("iterator produced %d values, want 2", n)
	}
	if n := c.cleaned.Load(); n != 1 {
		t.Errorf("iterator cleanup ran %d times, want 1", n)
	}
}

func TestFromSeqIsDemandDriven(t *testing.T) {
	var c countingSeq
	out := streamtest.NewSinkProbe[int](t)
	run := stream.To(stream.FromSeq(c.seq), out.Sink()).Start(context.Background())
	out.ExpectNoMessage(streamtest.Quiet)
	if n := c.produced.Load(); n != 0 {
		t.Errorf("iterator produced %d values without demand", n)
	}
	out.Request(2)
	out.ExpectNext()
	out.ExpectNext()
	out.ExpectNoMessage(streamtest.Quiet)
	if n := c.produced.Load(); n != 2 {
		t.Errorf("iterator produced %d values for a demand of 2", n)
	}
	out.Cancel(nil)
	if _, err := run.Wait(); err != nil {
		t.Errorf("run error = %v", err)
	}
	if n := c.cleaned.Load(); n != 1 {
		t.Errorf("iterator cleanup ran %d times after cancellation, want 1", n)
	}
}

func TestFromSeqPanic(t *testing.T) {
	seq := func(yield func(string) bool) {
		if !yield("a") {
			return
		}
		panic("seq broke")
	}
	got, err := stream.RunWith(context.Background(), stream.FromSeq(seq), stream.Collect[string]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "seq broke" {
		t.Fatalf("run error = %v, want a *stream.PanicError with the panic value", err)
	}
	if len(pe.Stack) == 0 {
		t.Errorf("PanicError carries no stack")
	}
	if !cmp.Equal([]string{"a"}, got) {
		t.Errorf("output = %q, want [a]", got)
	}
}

// stutterReader returns (0, nil) a few times before each real read.
type stutterReader struct {
	r       io.Reader
	empties int
	left    int
}

func (s *stutterReader) Read(p []byte) (int, error) {
	if s.left > 0 {
		s.left--
		return 0, nil
	}
	s.left = s.empties
	return s.r.Read(p)
}

// dataErrOnce returns data together with err on its first read.
type dataErrOnce struct {
	data string
	err  error
	done bool
}

func (d *dataErrOnce) Read(p []byte) (int, error) {
	if d.done {
		return 0, errors.New("read after error")
	}
	d.done = true
	return copy(p, d.data), d.err
}

func TestFromReader(t *testing.T) {
	big := strings.Repeat("x", 2*stream.DefaultChunkSize+100)
	for _, tc := range []struct {
		name    string
		r       func() io.Reader
		size    int
		want    []string
		wantErr error
	}{
		{"chunks of 2", func() io.Reader { return strings.NewReader("hello") }, 2, []string{"he", "ll", "o"}, nil},
		{"one chunk", func() io.Reader { return strings.NewReader("hello") }, 16, []string{"hello"}, nil},
		{"exact multiple", func() io.Reader { return strings.NewReader("abcd") }, 2, []string{"ab", "cd"}, nil},
		{"empty", func() io.Reader { return strings.NewReader("") }, 4, nil, nil},
		{"default chunk size", func() io.Reader { return strings.NewReader(big) }, 0,
			[]string{big[:stream.DefaultChunkSize], big[stream.DefaultChunkSize : 2*stream.DefaultChunkSize], big[2*stream.DefaultChunkSize:]}, nil},
		{"OneByteReader", func() io.Reader { return iotest.OneByteReader(strings.NewReader("abc")) }, 4,
			[]string{"a", "b", "c"}, nil},
		{"HalfReader", func() io.Reader { return iotest.HalfReader(strings.NewReader("abcdefgh")) }, 4,
			[]string{"ab", "cd", "ef", "gh"}, nil},
		{"DataErrReader", func() io.Reader { return iotest.DataErrReader(strings.NewReader("abc")) }, 2,
			[]string{"ab", "c"}, nil},
		{"TimeoutReader", func() io.Reader { return iotest.TimeoutReader(strings.NewReader("abcdef")) }, 4,
			[]string{"abcd"}, iotest.ErrTimeout},
		{"ErrReader", func() io.Reader { return iotest.ErrReader(errBoom) }, 4, nil, errBoom},
		{"data with an error", func() io.Reader { return &dataErrOnce{data: "xy", err: errBoom} }, 4,
			[]string{"xy"}, errBoom},
		{"data with EOF", func() io.Reader { return &dataErrOnce{data: "xy", err: io.EOF} }, 4,
			[]string{"xy"}, nil},
		{"empty reads are skipped", func() io.Reader { return &stutterReader{r: strings.NewReader("abc"), empties: 2} }, 2,
			[]string{"ab", "c"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := stream.RunWith(context.Background(), stream.FromReader(tc.r(), tc.size), stream.Collect[[]byte]())
			if err != tc.wantErr {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, c := range chunks {
				got = append(got, string(c))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromReaderChunksAreKept checks that a chunk handed out stays as it
// was while the next ones are read (the receiver may keep it).
func TestFromReaderChunksAreKept(t *testing.T) {
	var kept [][]byte
	var copies []string
	_, err := stream.RunWith(context.Background(), stream.FromReader(strings.NewReader("aabbccdd"), 2),
		stream.ForEach(func(c []byte) {
			for i, k := range kept {
				if string(k) != copies[i] {
					t.Errorf("chunk %d changed from %q to %q", i, copies[i], k)
				}
			}
			kept = append(kept, c)
			copies = append(copies, string(c))
		}))
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(kept, nil); string(got) != "aabbccdd" {
		t.Errorf("chunks joined = %q", got)
	}
}

func TestFromReaderNegativeChunkPanics(t *testing.T) {
	assertPanics(t, "FromReader(r, -1)", func() { stream.FromReader(strings.NewReader(""), -1) })
}

// lazyCounter makes a Lazy source that counts its factory calls.
func lazyCounter(calls *atomic.Int64, xs ...int) stream.Source[int] {
	return stream.Lazy(func() stream.Source[int] {
		calls.Add(1)
		return stream.FromSlice(xs)
	})
}

func TestLazyFactoryCalledAtFirstPull(t *testing.T) {
	var calls atomic.Int64
	out := streamtest.NewSinkProbe[int](t)
	run := stream.To(lazyCounter(&calls, 1, 2), out.Sink()).Start(context.Background())
	out.ExpectNoMessage(streamtest.Quiet)
	if n := calls.Load(); n != 0 {
		t.Fatalf("factory called %d times before the first pull", n)
	}
	if got := out.RequestNext(); got != 1 {
		t.Errorf("first element = %d, want 1", got)
	}
	out.Request(2)
	out.ExpectNext()
	out.ExpectComplete()
	if _, err := run.Wait(); err != nil {
		t.Errorf("run error = %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("factory called %d times, want 1", n)
	}
}

func TestLazyNotCalledWhenCancelledFirst(t *testing.T) {
	var calls atomic.Int64
	if _, err := stream.RunWith(context.Background(), lazyCounter(&calls, 1), stream.Cancelled[int]()); err != nil {
		t.Fatal(err)
	}
	out := streamtest.NewSinkProbe[int](t)
	run := stream.To(lazyCounter(&calls, 1), out.Sink()).Start(context.Background())
	out.Cancel(errors.New("not interested"))
	run.Wait()
	if n := calls.Load(); n != 0 {
		t.Errorf("factory called %d times although nothing was pulled", n)
	}
}

func TestLazyOncePerRun(t *testing.T) {
	var calls atomic.Int64
	src := lazyCounter(&calls, 1, 2, 3)
	for range 3 {
		if _, err := stream.RunWith(context.Background(), src, stream.Ignore[int]()); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("factory called %d times over 3 runs, want 3", n)
	}
}

func TestLazyCancelReachesInnerSource(t *testing.T) {
	inner := streamtest.NewSourceProbe[int](t)
	inner.SendNext(1, 2)
	got, err := stream.RunWith(context.Background(),
		stream.Via(stream.Lazy(inner.Source), stream.Take[int](1)), stream.Collect[int]())
	if err != nil || !cmp.Equal([]int{1}, got) {
		t.Fatalf("got %v, %v; want [1]", got, err)
	}
	if c := inner.ExpectCancellation(); c != stream.ErrCancelled {
		t.Errorf("inner source cancelled with %v, want stream.ErrCancelled", c)
	}
}

func TestLazyFactoryPanic(t *testing.T) {
	src := stream.Lazy(func() stream.Source[int] { panic("no source today") })
	_, err := stream.RunWith(context.Background(), src, stream.Collect[int]())
	var pe *stream.PanicError
	if !errors.As(err, &pe) || pe.Value != "no source today" {
		t.Errorf("run error = %v, want a *stream.PanicError", err)
	}
}
