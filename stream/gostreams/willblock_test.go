package gostreams_test

import (
	"context"
	"testing"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/gostreams"
)

// TestViaFlowTellsWhenItWaits: a stage that waits for a go-streams
// operator calls Materializer.WillBlock first, so that what the island has
// ready leaves (a server writes the responses it buffered). Without it, the
// OnBlock hook below would never run while the flow waits for input.
func TestViaFlowTellsWhenItWaits(t *testing.T) {
	in := make(chan int)
	got := make(chan int)
	blocked := make(chan struct{}, 16)
	upper := gostreams.ViaFlow[int, int](func() streams.Flow {
		return flow.NewMap(func(i int) int { return i * 10 }, 1)
	})
	sink := stream.NewSink(func(m *stream.Materializer, up stream.Puller[int]) (stream.NotUsed, error) {
		m.OnBlock(func() {
			select {
			case blocked <- struct{}{}:
			default:
			}
		})
		for {
			v, err := up.Pull()
			if err == stream.EOS {
				return stream.NotUsed{}, nil
			}
			if err != nil {
				return stream.NotUsed{}, err
			}
			got <- v
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run := stream.To(stream.Via(stream.FromChannel(in), upper), sink).Start(ctx)
	for i := 1; i <= 3; i++ {
		// Nothing is coming: the stage must say so before it waits.
		select {
		case <-blocked:
		case <-ctx.Done():
			t.Fatalf("element %d: the stage waited without WillBlock", i)
		}
		in <- i
		if v := <-got; v != i*10 {
			t.Fatalf("got %d, want %d", v, i*10)
		}
	}
	close(in)
	if _, err := run.Wait(); err != nil {
		t.Fatal(err)
	}
}
