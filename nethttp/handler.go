package nethttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// DefaultMaxDrainBytes is how much of an unread request body a handler
// that starts its response without full duplex has read and discarded for
// it before the head goes out (net/http's figure).
const DefaultMaxDrainBytes = 256 << 10

// Options tune [Handler] and [Flow]. The zero value is the default.
type Options struct {
	// Server is the value of http.ServerContextKey in the requests'
	// contexts, for handlers that look at it; nil means a zero
	// http.Server shared by the adapter's requests (streamhttp serves them,
	// so none of its fields is acted on).
	Server *http.Server
	// Logger receives panics of handlers that have started their
	// response and net/http's misuse warnings (a superfluous WriteHeader);
	// nil means slog.Default().
	Logger *slog.Logger
	// MaxDrainBytes: see DefaultMaxDrainBytes; 0 means that, negative
	// means never drain.
	MaxDrainBytes int64
	// MaxIdleWorkers is how many of the goroutines that ran handlers wait
	// for the next requests (see DefaultMaxIdleWorkers); 0 means that,
	// negative means none: a goroutine per request.
	MaxIdleWorkers int
	// WorkerIdleTimeout is how long such a goroutine waits before it
	// ends, at least (at most 1.5 times it, and 2 ms at the least; see
	// DefaultWorkerIdleTimeout); 0 or less means that.
	WorkerIdleTimeout time.Duration
	// ReuseRequests is a promise the handler makes: it keeps nothing of a
	// request after ServeHTTP returns (not the *http.Request, its URL,
	// Header, Body or context, nor a string of them, nor the
	// ResponseWriter), and nothing it started looks at them afterwards.
	// Most handlers and middleware keep that promise; one that answers
	// while a goroutine of its own still runs with the request, as
	// http.TimeoutHandler does on a timeout, breaks it. A handler that
	// breaks it sees another request's data, and a ResponseWriter used
	// after the return may write into another request's response or
	// crash, rather than fail as it does without reuse.
	//
	// In return the adapter reuses the memory of a request, once its
	// response is written over HTTP/1.1, for a later one: the http.Request
	// with its URL, header map and context, and the response. It also
	// stops keeping the streamhttp requests it is given, so that a server
	// that reuses requests (ServerSettings.ReuseRequests) reuses them too,
	// and a keep-alive request through the adapter costs no allocation of
	// the adapter's nor of the server's.
	//
	// What the adapter cannot vouch for it does not reuse: a request whose
	// context anyone waited on before ServeHTTP returned (Done, or a
	// context derived from it: a goroutine that waits so may look at the
	// request afterwards), an upgrade or CONNECT request (it may be
	// hijacked), and, as far as the streamhttp request goes, one whose
	// response head went out before ServeHTTP returned (Flush, or more than
	// the commit buffer). A goroutine the handler starts to wait on the
	// context is handed its Done channel, or a derived context, made before
	// ServeHTTP returns: one that asks r.Context() for it itself may run
	// too late, once the request is another's. Default false: every
	// request has memory of its own for as long as anything refers to it.
	ReuseRequests bool
}

// adapter runs one http.Handler for streamhttp.
type adapter struct {
	h        http.Handler
	srv      *http.Server
	logger   *slog.Logger
	maxDrain int64
	reuse    bool // Options.ReuseRequests
	workers  workers
}

// Handler returns h as a streamhttp handler function, for
// BindAndHandleAsync or HandleWithAsyncHandler. Each request runs h in a
// goroutine other than the caller's (a kept one: see
// Options.MaxIdleWorkers); the function returns the response as soon as
// its head is decided (see the package doc), and the body streams from the
// handler's writes after that.
func Handler(h http.Handler, o Options) func(context.Context, *streamhttp.Request) (*streamhttp.Response, error) {
	return newAdapter(h, o).handle
}

func newAdapter(h http.Handler, o Options) *adapter {
	a := &adapter{h: h, srv: o.Server, logger: o.Logger, maxDrain: o.MaxDrainBytes, reuse: o.ReuseRequests}
	if a.srv == nil {
		a.srv = new(http.Server)
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	switch {
	case a.maxDrain == 0:
		a.maxDrain = DefaultMaxDrainBytes
	case a.maxDrain < 0:
		a.maxDrain = 0
	}
	a.workers.max, a.workers.timeout = o.MaxIdleWorkers, o.WorkerIdleTimeout
	if a.workers.max == 0 {
		a.workers.max = DefaultMaxIdleWorkers
	}
	if a.workers.timeout <= 0 {
		a.workers.timeout = DefaultWorkerIdleTimeout
	}
	return a
}

// Flow returns h as a handler flow that runs up to parallelism requests of
// a connection at once (0 means 1), for BindAndHandle or HandleWith.
func Flow(h http.Handler, parallelism int, o Options) stream.Flow[*streamhttp.Request, *streamhttp.Response] {
	return streamhttp.AsyncHandler(Handler(h, o), parallelism, 1)
}

func (a *adapter) logf(format string, args ...any) {
	a.logger.Warn(fmt.Sprintf(format, args...))
}

// handle starts the handler for r and waits for its head.
func (a *adapter) handle(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
	parent := ctx
	hijackable := r.Upgrade || r.Method == httpcore.MethodConnect
	if hijackable {
		// It may be hijacked: its context must outlive the connection's
		// serving, so it hangs on ctx only until then (unlink).
		parent = context.WithoutCancel(ctx)
	}
	st := newRequest(a.reuse && !hijackable)
	// The handler's context: a child of ctx that ServeHTTP's return
	// cancels (st.ctx).
	st.ctx.init(parent, a.srv, r.LocalAddr)
	hr, err := st.newHTTPRequest(&st.ctx, r, !st.recycled())
	if err != nil {
		st.ctx.cancel()
		return httpcore.Text(httpcore.StatusBadRequest, "Bad Request: "+err.Error()+"\n").ForRequest(r), nil
	}
	w := newWriter(a, r, ctx, st)
	st.rw = handlerWriter{w: w, gen: w.gen}
	if parent != ctx {
		w.unlink = context.AfterFunc(ctx, st.ctx.cancel)
	}
	if e := r.Entity; e != nil && !e.IsKnownEmpty() {
		w.body = &bodyReader{ent: e, trailer: declaredTrailer(hr.Header)}
		hr.Body = w.body
		hr.Trailer = w.body.trailer
	}
	commit := w.commit
	a.dispatch(w)
	// From here on the writer is the handler's goroutine's, but for
	// commit, until release.
	defer w.release()
	// A quick handler has its answer by the time it has had a turn: then
	// ctx's Done channel, which costs allocations, is never made.
	for range 2 {
		select {
		case res := <-commit:
			return res.resp, res.err
		default:
		}
		runtime.Gosched()
	}
	select {
	case res := <-commit:
		return res.resp, res.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// serve runs the handler and ends its response. A streamed request body
// is pulled inside a run of its own, in this goroutine (bodyReader).
func (a *adapter) serve(w *responseWriter, hr *http.Request) {
	cancel := w.st.ctx.cancel
	defer cancel()
	defer w.release()
	var pv any
	if w.body != nil {
		if _, strict := w.body.ent.(*entity.Strict); !strict {
			stream.RunWith(hr.Context(), stream.Empty[struct{}](), stream.NewSink(func(m *stream.Materializer, up stream.Puller[struct{}]) (stream.NotUsed, error) {
				up.Pull() // EOS: the run exists only to own the body's stream
				w.body.mu.Lock()
				w.body.m = m
				w.body.mu.Unlock()
				pv = a.call(w, hr)
				w.body.finish()
				return stream.NotUsed{}, nil
			}))
		} else {
			pv = a.call(w, hr)
		}
	} else {
		pv = a.call(w, hr)
	}
	if pv == nil {
		w.finish()
		return
	}
	a.panicked(w, pv)
}

// call runs the handler and returns the value it panicked with.
func (a *adapter) call(w *responseWriter, hr *http.Request) (pv any) {
	defer func() { pv = recover() }()
	a.h.ServeHTTP(&w.st.rw, hr)
	return nil
}

// panicked deals with a handler's panic: http.ErrAbortHandler aborts the
// response quietly; any other panic is logged with its stack. Before the
// head, the layer answers 500 and closes (net/http closes with no
// answer); after it, the body is cut short and the connection closes.
func (a *adapter) panicked(w *responseWriter, pv any) {
	pe := stream.NewPanicError(pv)
	w.mu.Lock()
	committed := w.committed
	w.mu.Unlock()
	if !committed {
		w.mu.Lock()
		w.returned = true
		w.mu.Unlock()
		if pv == http.ErrAbortHandler {
			w.commit <- result{err: errNoResponse}
			return
		}
		// The layer logs it with its stack and answers 500.
		w.commit <- result{err: pe}
		return
	}
	if pv != http.ErrAbortHandler {
		a.logger.Error("nethttp: handler panicked", "panic", pe.Value, "stack", string(pe.Stack))
		w.abortResponse(pe)
		return
	}
	w.abortResponse(errAborted)
}

// result is what a handler's goroutine hands to the layer: the response
// head, or the failure that replaces it.
type result struct {
	resp *streamhttp.Response
	err  error
}

// serverCtx adds net/http's server context keys to a request's context
// (handlerCtx's base), and passes AfterFunc on so that context.WithCancel
// over it needs no goroutine.
type serverCtx struct {
	context.Context
	srv   *http.Server
	local net.Addr
}

func (c *serverCtx) Value(key any) any {
	switch key {
	case http.ServerContextKey:
		return c.srv
	case http.LocalAddrContextKey:
		if c.local == nil {
			return nil
		}
		return c.local
	}
	return c.Context.Value(key)
}

func (c *serverCtx) AfterFunc(f func()) func() bool {
	if a, ok := c.Context.(interface{ AfterFunc(func()) func() bool }); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(c.Context, f)
}

var errNoResponse = errors.New("nethttp: the handler aborted before its response (http.ErrAbortHandler)")
