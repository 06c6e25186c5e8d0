package streamhttp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/stream/streamtest"
)

// reverseGate lets n handler calls finish in reverse order of arrival: each
// call waits until every later one has finished.
type reverseGate struct {
	done []chan struct{} // by Seq, closed when the call before it may finish
}

func newReverseGate(n int) *reverseGate {
	g := &reverseGate{done: make([]chan struct{}, n+1)}
	for i := range g.done {
		g.done[i] = make(chan struct{})
	}
	close(g.done[n]) // the last call need not wait
	return g
}

// wait blocks the call for request seq (1..n) until the one after it has
// finished, then lets the one before it go.
func (g *reverseGate) wait(ctx context.Context, seq uint64) error {
	select {
	case <-g.done[seq]:
	case <-ctx.Done():
		return ctx.Err()
	}
	close(g.done[seq-1])
	return nil
}

// TestPipelining runs 16 pipelined requests through handlers that complete
// them in reverse order: the responses leave in request order, whether the
// flow emits them in order (MapAsync) or as they complete
// (MapAsyncUnordered, linked with ForRequest).
func TestPipelining(t *testing.T) {
	const depth = 16
	var in, want strings.Builder
	for i := 1; i <= depth; i++ {
		in.WriteString(get(fmt.Sprintf("/%d", i)))
		want.WriteString(ok(fmt.Sprintf("/%d", i)))
	}
	type mapper func(int, func(context.Context, *Request) (*Response, error)) stream.Flow[*Request, *Response]
	cases := []struct {
		name   string
		mapAsy mapper
		tag    bool
	}{
		{"MapAsync tagged", stream.MapAsync[*Request, *Response], true},
		{"MapAsync untagged", stream.MapAsync[*Request, *Response], false},
		{"MapAsyncUnordered tagged", stream.MapAsyncUnordered[*Request, *Response], true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g *reverseGate // one per run
			handler := tc.mapAsy(depth, func(ctx context.Context, r *Request) (*Response, error) {
				if err := g.wait(ctx, r.Seq); err != nil {
					return nil, err
				}
				resp := respond(r)
				if tc.tag {
					resp.ForRequest(r)
				}
				return resp, nil
			})
			for _, chunks := range [][]string{{in.String()}, strings.SplitAfter(in.String(), "\r\n\r\n")} {
				g = newReverseGate(depth)
				got, err := runLayer(t, ServerSettings{PipeliningLimit: depth}, handler, chunks...)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want.String(), got); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// gatedHandler is an asynchronous handler whose calls the test releases one
// by one: each request is announced on arrived and answered (linked with
// ForRequest) when its Seq is sent on release.
type gatedHandler struct {
	arrived chan *Request
	mu      sync.Mutex
	release map[uint64]chan struct{}
}

func newGatedHandler() *gatedHandler {
	return &gatedHandler{arrived: make(chan *Request, 64), release: make(map[uint64]chan struct{})}
}

func (g *gatedHandler) gate(seq uint64) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.release[seq]
	if !ok {
		c = make(chan struct{})
		g.release[seq] = c
	}
	return c
}

func (g *gatedHandler) flow(parallelism int) stream.Flow[*Request, *Response] {
	return stream.MapAsyncUnordered(parallelism, func(ctx context.Context, r *Request) (*Response, error) {
		g.arrived <- r
		select {
		case <-g.gate(r.Seq):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return respond(r).ForRequest(r), nil
	})
}

// expectArrival waits for the next request to reach the handler.
func (g *gatedHandler) expectArrival(t *testing.T) *Request {
	t.Helper()
	select {
	case r := <-g.arrived:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the handler")
		return nil
	}
}

// expectNoArrival checks that no request reaches the handler for a while.
func (g *gatedHandler) expectNoArrival(t *testing.T) {
	t.Helper()
	select {
	case r := <-g.arrived:
		t.Fatalf("request %s reached the handler", r.Target)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestPipeliningGuard checks the pipelining limit: at most limit requests
// are inside the handler; the next head is neither parsed nor read from the
// connection until a response has left.
func TestPipeliningGuard(t *testing.T) {
	for _, limit := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			for _, oneBuffer := range []bool{true, false} {
				g := newGatedHandler()
				p := streamtest.ProbeFlow(t, context.Background(), layerFlow(ServerSettings{PipeliningLimit: limit}, g.flow(16)))
				p.Out.Request(100)
				total := limit + 2
				var all strings.Builder
				for i := 1; i <= total; i++ {
					all.WriteString(get(fmt.Sprintf("/%d", i)))
				}
				if oneBuffer {
					// Every request in one buffer: the guard stops the
					// parser, not the reads.
					p.In.ExpectRequest()
					p.In.SendNext([]byte(all.String()))
				} else {
					// One request per buffer, sent when asked for.
					for i := 1; i <= limit; i++ {
						p.In.ExpectRequest()
						p.In.SendNext([]byte(get(fmt.Sprintf("/%d", i))))
					}
				}
				arrived := map[uint64]bool{}
				for range limit {
					arrived[g.expectArrival(t).Seq] = true
				}
				for i := 1; i <= limit; i++ {
					if !arrived[uint64(i)] {
						t.Fatalf("requests %v reached the handler, want 1 to %d", arrived, limit)
					}
				}
				g.expectNoArrival(t)
				if !oneBuffer {
					p.In.ExpectNoRequest(50 * time.Millisecond)
				}
				// One response frees one slot: exactly one more request.
				close(g.gate(1))
				if got := normalize(p.Out.ExpectNext()); got != ok("/1") {
					t.Fatalf("first response %q", got)
				}
				if !oneBuffer {
					p.In.ExpectRequest()
					p.In.SendNext([]byte(get(fmt.Sprintf("/%d", limit+1))))
				}
				if r := g.expectArrival(t); r.Seq != uint64(limit+1) {
					t.Fatalf("request %d arrived after the first response, want %d", r.Seq, limit+1)
				}
				g.expectNoArrival(t)
				if !oneBuffer {
					p.In.ExpectNoRequest(50 * time.Millisecond)
				}
				p.Run.Cancel(nil)
				p.Wait(t)
			}
		})
	}
}

// protocolFlow is a handler flow made of a Pull function over the request
// puller.
func protocolFlow(pull func(up stream.Puller[*Request]) (*Response, error)) stream.Flow[*Request, *Response] {
	return stream.NewFlow(func(_ *stream.Materializer, up stream.Puller[*Request]) stream.Puller[*Response] {
		return &respPuller{up: up, pull: pull}
	})
}

type respPuller struct {
	up   stream.Puller[*Request]
	pull func(up stream.Puller[*Request]) (*Response, error)
}

func (p *respPuller) Pull() (*Response, error) { return p.pull(p.up) }
func (p *respPuller) Cancel(cause error)       { p.up.Cancel(cause) }

// TestProtocolErrors checks that a handler flow that breaks the contract of
// one response per request fails the connection with a *ProtocolError that
// says what it did, instead of hanging or answering the wrong request.
func TestProtocolErrors(t *testing.T) {
	var answered *Request
	cases := []struct {
		name    string
		limit   int
		flow    stream.Flow[*Request, *Response]
		reason  string
		answers int // responses that leave before the failure
	}{
		{"response for an unknown request", 1, stream.Map(func(r *Request) *Response {
			return respond(r).ForRequest(&Request{Seq: r.Seq + 5})
		}), "response for request 6, which does not exist", 0},
		{"second response for a request", 1, protocolFlow(func(up stream.Puller[*Request]) (*Response, error) {
			if answered != nil {
				return respond(answered).ForRequest(answered), nil
			}
			r, err := up.Pull()
			if err != nil {
				return nil, err
			}
			answered = r
			return respond(r).ForRequest(r), nil
		}), "second response for request 1", 1},
		{"untagged response with nothing outstanding", 1, protocolFlow(func(up stream.Puller[*Request]) (*Response, error) {
			if answered != nil {
				return respond(answered), nil
			}
			r, err := up.Pull()
			if err != nil {
				return nil, err
			}
			answered = r
			return respond(r), nil
		}), "response while no request was unanswered", 1},
		{"nil response", 1, stream.Map(func(r *Request) *Response { return nil }), "nil response", 0},
		{"completes with a request unanswered", 2, protocolFlow(func(up stream.Puller[*Request]) (*Response, error) {
			if _, err := up.Pull(); err != nil {
				return nil, err
			}
			up.Cancel(stream.ErrCancelled)
			return nil, stream.EOS
		}), "completed with 1 request(s) unanswered", 0},
		{"sync flow that drops a request at limit 1", 1, stream.ViaFlow(
			stream.Filter(func(r *Request) bool { return r.URI.Path != "/drop" }), pathHandler),
			"asked for a request while 1 were unanswered", 0},
		{"sync flow that drops requests at limit 2", 2, stream.ViaFlow(
			stream.Filter(func(r *Request) bool { return r.URI.Path != "/drop" }), pathHandler),
			"asked for a request while 2 were unanswered", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			answered = nil
			got, err := runLayer(t, ServerSettings{PipeliningLimit: tc.limit}, tc.flow,
				get("/drop")+get("/drop")+get("/3")+get("/4"))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("run error %v (output %q), want a *ProtocolError", err, got)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", pe.Reason, tc.reason)
			}
			if n := strings.Count(got, "HTTP/1.1 "); n != tc.answers {
				t.Errorf("%d responses left (%q), want %d", n, got, tc.answers)
			}
		})
	}
}

// TestProtocolErrorOnUnansweredAsync checks that an asynchronous flow that
// drops a request and completes fails the connection instead of leaving
// the client waiting.
func TestProtocolErrorOnUnansweredAsync(t *testing.T) {
	handler := stream.ViaFlow(stream.Filter(func(r *Request) bool { return r.URI.Path != "/drop" }),
		stream.MapAsync(4, func(_ context.Context, r *Request) (*Response, error) { return respond(r).ForRequest(r), nil }))
	got, err := runLayer(t, ServerSettings{PipeliningLimit: 4}, handler, get("/a")+get("/drop")+get("/c"))
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "1 request(s) unanswered") {
		t.Fatalf("run error %v, want a *ProtocolError about 1 unanswered request", err)
	}
	if got != ok("/a") {
		t.Errorf("output %q, want only the response to /a", got)
	}
}
