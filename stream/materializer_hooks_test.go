package stream_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/streamhttp/streamhttp/stream"
)

// A sink that buffers output flushes through OnBlock: the hook runs only
// when the island is about to wait, and before it waits.
func TestOnBlockRunsBeforeWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := make(chan int)
		var flushes, seen, buffered []int
		sink := stream.NewSink(func(m *stream.Materializer, up stream.Puller[int]) (stream.NotUsed, error) {
			m.OnBlock(func() {
				flushes = append(flushes, len(buffered))
				seen = append(seen, buffered...)
				buffered = buffered[:0]
			})
			for {
				v, err := up.Pull()
				if err != nil {
					return stream.NotUsed{}, nil
				}
				buffered = append(buffered, v)
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			stream.RunWith(context.Background(), stream.FromChannel(ch), sink)
		}()
		synctest.Wait() // the source waits for 1: a flush of nothing
		ch <- 1
		synctest.Wait() // the source waits for 2: 1 is flushed
		close(ch)
		<-done
		if want := []int{0, 1}; len(flushes) != 2 || flushes[0] != 0 || flushes[1] != 1 {
			t.Fatalf("flushes = %v, want %v", flushes, want)
		}
		if len(seen) != 1 || seen[0] != 1 {
			t.Fatalf("flushed elements = %v, want [1]", seen)
		}
	})
}

func TestMaterializeSubSource(t *testing.T) {
	var got []int
	sink := stream.NewSink(func(m *stream.Materializer, up stream.Puller[string]) (stream.NotUsed, error) {
		for {
			s, err := up.Pull()
			if err != nil {
				return stream.NotUsed{}, nil
			}
			sub, _ := stream.Materialize(m, stream.FromSlice([]int{len(s), len(s) * 10}))
			for {
				v, err := sub.Pull()
				if err != nil {
					break
				}
				got = append(got, v)
			}
		}
	})
	if _, err := stream.RunWith(context.Background(), stream.FromSlice([]string{"a", "bb"}), sink); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 10, 2, 20}; len(got) != 4 || got[0] != 1 || got[3] != 20 {
		t.Fatalf("got %v, want %v", got, want)
	}
}
