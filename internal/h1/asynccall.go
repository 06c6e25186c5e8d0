package h1

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/stream"
)

// asyncCall is AsyncHandler's stage when it is joined to the layer
// directly (HandleWithAsyncHandler, BindAndHandleAsync): it runs the
// handler function for up to parallelism requests of the connection at
// once, and inline, in the connection's goroutine, when a request is alone.
//
// A keep-alive client sends its next request only once it has its answer:
// its requests are always alone, and run exactly as on the inline path (no
// goroutine, no hand-off, no channel per request). Requests that arrive
// together (pipelined) are handed to goroutines of their own, up to
// parallelism, and their answers are linked to them (ForRequest), so they
// may complete in any order; the layer puts them back in request order.
// While the handler is quick (its last call took at most 1 ms), pipelined
// requests run inline too, one after the other: a goroutine per request
// would cost more than the call. The first call that is not quick sends
// the next ones back to goroutines. So the parallelism is what a handler
// that takes its time gets; a handler that blocks until another request of
// the same connection arrives in it must take its time to begin with.
//
// Ownership: Pull, Cancel and the fields not under mu belong to the
// goroutine that pulls; mu guards ready and waiting, which the handlers'
// goroutines append to and read. While no handler runs in a goroutine
// (outstanding is 0), a request costs no lock.
//
// Reading ahead: while handlers run, the stage takes further requests only
// when the layer holds a complete head already (it never waits for the
// socket then, which would hold back the answers of the running handlers:
// they are returned as they complete). Requests that come later are read
// once the running ones are answered.
type asyncCall struct {
	up          stream.Puller[*Request]
	c           *conn
	m           *stream.Materializer
	f           func(context.Context, *Request) (*Response, error)
	parallelism int

	mu      sync.Mutex
	ready   []*Response // answers of handlers that ran in goroutines
	waiting bool        // Pull waits on wake
	wake    chan struct{}

	// outstanding is how many requests were handed to goroutines and their
	// answers not yet taken from ready (owned by Pull): the handlers
	// running are outstanding less len(ready).
	outstanding int
	upErr       error // the input's end (owned by Pull)
	yielded     bool  // Pull has let the handlers run once before it waits
	// fast: the last handler call took at most quick; pipelined requests
	// then run inline, one after the other. Each run (connection, or run
	// after a parking) learns it anew: a handler quick for one request may
	// block for another, until requests behind it arrive.
	fast atomic.Bool
	done error
	wg   sync.WaitGroup
}

// HandlerFlow is the flow of a handler function of the given parallelism
// (at least 2) joined to the layer directly: asyncCall above it. Joined to
// another layer (the HTTP/2 dispatch, which takes answers in any order
// itself), it is composable, the flow for composing (AsyncHandler), which
// hands every request of a concurrent handler to a goroutine.
func HandlerFlow(f func(context.Context, *Request) (*Response, error), parallelism int, composable stream.Flow[*Request, *Response]) stream.Flow[*Request, *Response] {
	return stream.NewFlow(func(m *stream.Materializer, up stream.Puller[*Request]) stream.Puller[*Response] {
		in, ok := up.(*inbound)
		if !ok {
			src := stream.FromPuller(func(*stream.Materializer) stream.Puller[*Request] { return up })
			p, _ := stream.Materialize(m, stream.Via(src, composable))
			return p
		}
		return newAsyncCall(m, in, f, parallelism)
	})
}

func newAsyncCall(m *stream.Materializer, in *inbound, f func(context.Context, *Request) (*Response, error), parallelism int) *asyncCall {
	// The layer lets at most PipeliningLimit requests into the flow.
	parallelism = min(parallelism, in.c.s.PipeliningLimit)
	return &asyncCall{up: in, c: in.c, m: m, f: f, parallelism: parallelism, wake: make(chan struct{}, 1)}
}

func (s *asyncCall) Pull() (*Response, error) {
	if s.done != nil {
		return nil, s.done
	}
	for {
		running := 0
		if s.outstanding > 0 {
			s.mu.Lock()
			if n := len(s.ready); n > 0 {
				resp := s.ready[0]
				copy(s.ready, s.ready[1:])
				s.ready[n-1] = nil
				s.ready = s.ready[:n-1]
				s.mu.Unlock()
				s.outstanding--
				return resp, nil
			}
			s.mu.Unlock()
			running = s.outstanding
		}
		// While handlers run, another request is taken only when it is in
		// already (never wait for the socket with answers on their way) and
		// the handler is not quick (a quick one drains first, then runs
		// inline: an inline call must never hold back running handlers'
		// answers for long).
		if s.upErr == nil && running < s.parallelism && (running == 0 || !s.fast.Load() && s.c.slotsFree() > 0 && s.headBuffered()) {
			r, err := s.up.Pull()
			if err != nil {
				s.upErr = err
				continue
			}
			if running == 0 && (s.fast.Load() || !s.headBuffered()) {
				// Alone, or the handler has been quick: answer it here.
				// Nothing runs beside it, so its answer is the answer to
				// the oldest request without an answer, which is how the
				// layer links an answer that is not linked: a shared
				// response goes as it is, not as a linked copy.
				return s.timedAnswer(r, false), nil
			}
			s.start(r)
			continue
		}
		if running == 0 {
			// The input has ended and every answer is out.
			s.done = s.upErr
			return nil, s.upErr
		}
		// Wait for a running handler's answer. Let the handlers run first:
		// answers that are ready by then go out together, in one write,
		// rather than each flushed by a wait of its own.
		if !s.yielded {
			s.yielded = true
			runtime.Gosched()
			continue
		}
		s.yielded = false
		s.mu.Lock()
		if len(s.ready) > 0 {
			s.mu.Unlock()
			continue
		}
		s.waiting = true
		s.mu.Unlock()
		s.m.WillBlock()
		select {
		case <-s.wake:
		case <-s.m.Done():
			s.done = s.m.Cause()
			return nil, s.done
		}
	}
}

// slotsFree is how many more requests the layer's pipelining guard lets
// into the flow: answers not yet written count, those of handlers that
// have returned included, so taking a request never waits for a slot.
func (c *conn) slotsFree() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s.PipeliningLimit - c.pending.Held()
}

// headBuffered reports whether the layer holds a complete request head
// that it has not parsed yet, so that taking the next request does not
// wait for the client.
func (s *asyncCall) headBuffered() bool {
	c := s.c
	if !c.inMu.TryLock() {
		return false // a handler reads a request body
	}
	defer c.inMu.Unlock()
	return c.body == nil && bytes.Contains(c.input(), []byte("\r\n\r\n"))
}

// quick is how long a handler call may take for the next pipelined
// request to run inline rather than concurrently: a handler that answers
// this fast gains nothing from a goroutine of its own, and a goroutine per
// request costs more than the call.
const quick = time.Millisecond

// timedAnswer is answer, timed: the stage runs pipelined requests inline
// while the handler is quick (fast), and concurrently once a call was not.
func (s *asyncCall) timedAnswer(r *Request, link bool) *Response {
	start := clock.Now()
	resp := s.answer(r, link)
	s.fast.Store(time.Duration(clock.Now()-start) <= quick)
	return resp
}

// answer runs the handler for r and returns its answer, linked to r when
// link is set (answers that may complete out of order must be).
func (s *asyncCall) answer(r *Request, link bool) *Response {
	resp, err := CallHandler(s.f, r)
	if err != nil {
		// The request's own failure: answered 500, the connection closes
		// after it, and the requests before it keep their answers.
		resp = FailedAnswer(r, err)
	}
	if resp != nil && link {
		resp = resp.ForRequest(r) // a copy when resp is shared
	}
	return resp
}

// start runs the handler for r in a goroutine of its own.
func (s *asyncCall) start(r *Request) {
	s.outstanding++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		resp := s.timedAnswer(r, true)
		s.mu.Lock()
		s.ready = append(s.ready, resp) // nil too: the layer reports it

		wake := s.waiting
		s.waiting = false
		s.mu.Unlock()
		if wake {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}()
}

// Cancel cancels the input; handlers still running learn it through their
// request's context (the layer cancels it), and Cancel waits for them, so
// that none outlives the connection's run.
func (s *asyncCall) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
	}
	if s.upErr == nil {
		s.upErr = cause
		s.up.Cancel(cause)
	}
	s.wg.Wait()
}

// CallHandler calls f, turning a panic into a *stream.PanicError.
func CallHandler(f func(context.Context, *Request) (*Response, error), r *Request) (resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, stream.NewPanicError(v)
		}
	}()
	return f(r.Context(), r)
}

// FailedAnswer logs the failure of r's handler (a panic with its stack) on
// its connection's logger and returns the answer that closes the
// connection after it.
func FailedAnswer(r *Request, err error) *Response {
	logHandlerFailureOf(r.Context(), r.Seq, err)
	resp := failureResponse(err)
	resp.Header.Add("Connection", "close")
	return resp
}
