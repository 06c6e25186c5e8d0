// Package h2 is the HTTP/2 server engine (RFC 9113) behind
// streamhttp.HTTP2ServerLayer: the state of one connection and its
// streams, built on golang.org/x/net/http2's Framer and hpack (not on the
// deprecated http2.Server).
//
// # Overview
//
// [Conn] is the state of one connection: settings, flow-control windows,
// the stream table, the HPACK contexts, the GOAWAY state and a timer. It
// does no I/O: input is pushed in with Feed, output taken with Output,
// requests taken with NextRequest and responses given with Respond. [Layer]
// runs it as a bidi flow with a reader goroutine, a response pump and a
// pump per streamed response body.
//
// Files: conn.go (input, frames, settings, resets, GOAWAY, timers),
// stream.go (streams, request bodies and their windows), request.go (a
// header block to a request), body.go (request bodies as sources),
// respond.go (responses to frames, DATA within the windows), layer.go (the
// bidi flow), park.go (an idle connection's state between runs), config.go
// (limits).
//
// # Concurrency
//
// One mutex guards a connection's state; every locked section is short,
// does no I/O and calls no user code. Waiters (the writer, the handler
// asking for a request, a body reader, a body pump, the reader held back
// by a full output) sleep on one-slot channels that the state changes
// signal.
//
// # Input
//
// The Framer reads only whole frames, and for a header block the HEADERS
// frame with all its CONTINUATION frames: the engine reads each 9-byte
// header itself first, rejects a frame over MaxFrameSize at once, and
// bounds a header block's bytes (twice MaxHeaderListSize) and frames
// (MaxContinuations) before anything is decoded. Frames are read in place
// from the bytes Feed is given (a partial one is kept until the rest
// comes), and DATA frames are parsed by the engine itself, so that their
// payload is copied once, into the stream's buffer.
//
// # Parking and the end
//
// Park ends the run of an idle connection and keeps what the client
// remembers about it (Parked); Config.Resume goes on from there in a new
// run. Shutdown is the graceful GOAWAY; Abort, a terminating server's
// hard deadline, answers every request not yet answered with the timeout
// response (503) and ends the connection.
//
// # Flow control
//
// A request body's DATA is buffered per stream within the stream window;
// WINDOW_UPDATE returns credit only for bytes the handler has pulled, once
// half a window has accumulated. Padding and data nobody will read are
// refunded to the connection window at once. A response body is pulled
// one chunk at a time, only when the previous chunk has been written and
// the stream's window is open; DATA frames are cut to the stream window,
// the connection window and the peer's frame size.
//
// # Limits
//
// See [Config]: concurrent streams (REFUSED_STREAM), header list size
// (431, or PROTOCOL_ERROR past twice the limit), CONTINUATION count, a
// token bucket for resets and empty frames (ENHANCE_YOUR_CALM), unanswered
// requests including reset ones whose handler still runs, the output
// backlog after which input is not read, send stalls (RST_STREAM(CANCEL)),
// idle connections and the preface (GOAWAY, close).
//
// # Errors
//
// Stream errors end one stream with RST_STREAM; connection errors end the
// connection with GOAWAY and the code of RFC 9113 §7; [ConnError] reports
// them. A handler flow that answers a request it was not given fails with
// [ContractError].
package h2
