package streamhttp

import (
	"context"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/stream"
)

// The root's side of the HTTP/1.1 engine (package internal/h1): the
// public layer, the engine's view of the settings, and the flow of a
// handler function joined to it. ServeConn (serveconn.go) drives it.

// ServerLayer returns the HTTP/1.1 server side of one connection as a bidi
// flow: bytes in, requests out to the handler; responses in, bytes out. It
// does no I/O of its own, so it runs the same over TCP, TLS, an in-memory
// pipe or a replayed capture. Join a handler to it with bidi.JoinLeft to
// get the bytes-to-bytes flow of a connection (ServeConn does that). Each
// materialization serves a connection of its own.
//
//		           +-----------------------------------------------------+
//		*Response  | reorder --> request timeout --> 100-continue --> render | []byte
//		  ~> I1    |                                                     |  O1 ~>
//		*Request   | guard <---- request timeout <---- parse <---------- | []byte
//		  <~ O2    |                  (one owner of the close decision)  |  <~ I2
//		           +-----------------------------------------------------+
//
//	  - parse: requests go out as soon as their head is complete; a streamed
//	    body is read from the connection as the handler pulls it.
//	  - guard: at most PipeliningLimit requests are inside the handler; the
//	    next one is not parsed (nor read from the socket) before a slot frees,
//	    or before the previous request's body has been read.
//	  - request timeout: a request not answered within RequestTimeout of its
//	    body's end (or of its head, while a handler neither reads the body
//	    nor answers) gets a 503 and the connection closes.
//	  - reorder: responses linked to their request (Response.Seq, set by
//	    Response.ForRequest or by HandleWithAsyncHandler) may arrive in any
//	    order; they leave in request order. A response with Seq 0 answers the
//	    oldest unanswered request, unless the handler flow may reorder
//	    (stream.Flow.Unordered): then it must be linked.
//	  - 100-continue: sent on the handler's first demand for the body.
//	  - render: framing, keep-alive or close, Date and Server headers.
//
// The bytes the layer emits are valid until its next pull: a consumer that
// keeps them must copy them.
//
// The layer writes only when it is pulled, and while it waits for the
// handler it cannot be: on its own it sends a 100 Continue or the 503 of a
// timed-out request before the next response that it can write, not while
// the handler blocks. ServeConn gives it a way to write them at once.
// Likewise, a panic in a synchronous handler (fused with the layer) unwinds
// to the sink of the run: ServeConn's recovers it and the layer answers
// 500; another sink fails the run with the *stream.PanicError.
func ServerLayer(s ServerSettings) bidi.Flow[*Response, []byte, []byte, *Request] {
	s = s.resolved()
	return h1.NewLayer(s.engine)
}

// ProtocolError is the failure of a connection whose handler flow broke the
// contract of one response per request.
type ProtocolError = bidi.ProtocolError

// engineConfig is the HTTP/1.1 engine's view of s, which resolved has
// resolved: made once, by resolved, and shared by every connection served
// with s (see h1.Config for why it is a struct of its own).
func engineConfig(s *ServerSettings) *h1.Config {
	cfg := &h1.Config{
		Parser:           s.Parser,
		HeadTimeout:      s.HeadTimeout,
		RequestTimeout:   s.RequestTimeout,
		PipeliningLimit:  s.PipeliningLimit,
		MaxDrainBytes:    s.MaxDrainBytes,
		DisableKeepAlive: s.DisableKeepAlive,
		ServerHeader:     s.ServerHeader,
		TransparentHEAD:  s.TransparentHEAD,
		TimeoutResponse:  s.TimeoutResponse,
		Logger:           s.Logger,
	}
	if f := s.AccessLog; f != nil {
		cfg.AccessLog = func(r h1.AccessRecord) { f(AccessRecord(r)) }
	}
	return cfg
}

// handlerFlow is the flow of a handler function of the given parallelism
// (0 means limit) joined to the layer directly: the inline path for a
// parallelism of 1, h1.HandlerFlow above it. (AsyncHandler is the flow
// for composing; it hands every request of a concurrent handler to a
// goroutine.)
func handlerFlow(f func(context.Context, *Request) (*Response, error), parallelism, limit int) stream.Flow[*Request, *Response] {
	if parallelism <= 0 {
		parallelism = max(limit, 1)
	}
	if parallelism == 1 {
		return AsyncHandler(f, 1, limit)
	}
	return h1.HandlerFlow(f, parallelism, AsyncHandler(f, parallelism, limit))
}
