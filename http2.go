package streamhttp

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/internal/h2"
	"github.com/streamhttp/streamhttp/stream"
)

// HTTP2Settings configures HTTP/2 (RFC 9113). The zero value means the
// documented defaults; so does a zero field. The request limits shared
// with HTTP/1.1 (ServerSettings.Parser: URI length, header sizes and
// count, body size; RequestTimeout; MinRequestBodyRate, per stream) apply
// to HTTP/2 requests too.
type HTTP2Settings struct {
	// Disable serves HTTP/1.1 only: TLS bindings offer no "h2" in ALPN and
	// a cleartext client preface is answered as HTTP/1.1 would.
	Disable bool
	// Only serves HTTP/2 alone (an h2-only port): a plain connection must
	// start with the client preface, anything else is a connection error
	// (RFC 9113 §3.4), and TLS bindings offer only "h2".
	Only bool
	// MaxConcurrentStreams is advertised in SETTINGS_MAX_CONCURRENT_STREAMS;
	// a stream over it is refused (RST_STREAM(REFUSED_STREAM)). Default 250.
	MaxConcurrentStreams uint32
	// MaxFrameSize is advertised in SETTINGS_MAX_FRAME_SIZE; a longer frame
	// ends the connection with FRAME_SIZE_ERROR. Default 16 KiB.
	MaxFrameSize uint32
	// StreamWindow is the flow-control window of a request body: at most
	// this many bytes of one body are buffered before the handler pulls
	// them; credit (WINDOW_UPDATE) is returned only for pulled bytes.
	// Default 256 KiB, at least 65535.
	StreamWindow int32
	// ConnWindow bounds the request body bytes buffered for all streams of
	// a connection together. Default 1 MiB, at least 65535.
	ConnWindow int32
	// MaxHeaderListSize is advertised in SETTINGS_MAX_HEADER_LIST_SIZE; a
	// larger request head is answered 431, and a header block over twice
	// that ends the connection. Default Parser.MaxHeadSize (64 KiB).
	MaxHeaderListSize uint32
	// MaxContinuations bounds the CONTINUATION frames of one header block
	// (CVE-2023-45288). Default 64.
	MaxContinuations int
	// FloodBurst and FloodRate are the budget of stream resets (received,
	// or provoked by the client's errors: Rapid Reset, MadeYouReset) and of
	// frames carrying nothing: FloodBurst at once, FloodRate more per
	// second. Past it the connection ends with GOAWAY(ENHANCE_YOUR_CALM).
	// Defaults 200 and 100.
	FloodBurst, FloodRate int
	// MaxPendingRequests bounds the requests received and not answered,
	// including those of streams reset while their handler runs. Default
	// 4 x MaxConcurrentStreams.
	MaxPendingRequests int
	// MaxOutputBuffer is how many bytes of frames may wait for the
	// transport before the connection stops reading: a client that sends
	// PINGs or SETTINGS and reads nothing is held back by TCP. Default
	// 64 KiB.
	MaxOutputBuffer int
	// SendTimeout resets (RST_STREAM(CANCEL)) a stream whose response has
	// waited this long for flow-control credit: a client that stops
	// reading. Default 30 s; negative: none.
	SendTimeout time.Duration
}

// h2Config is the engine's configuration for s (resolved).
func h2Config(s *ServerSettings) h2.Config {
	h := s.HTTP2
	cfg := h2.Config{
		MaxConcurrentStreams: h.MaxConcurrentStreams,
		MaxFrameSize:         h.MaxFrameSize,
		StreamWindow:         h.StreamWindow,
		ConnWindow:           h.ConnWindow,
		MaxHeaderListSize:    h.MaxHeaderListSize,
		MaxContinuations:     h.MaxContinuations,
		FloodBurst:           h.FloodBurst,
		FloodRate:            h.FloodRate,
		MaxPendingRequests:   h.MaxPendingRequests,
		MaxOutputBuffer:      h.MaxOutputBuffer,
		SendTimeout:          h.SendTimeout,
		IdleTimeout:          s.IdleTimeout,
		PrefaceTimeout:       s.HeadTimeout,
		RequestTimeout:       s.RequestTimeout,
		TimeoutResponse:      s.TimeoutResponse,
		MinBodyRate:          s.MinRequestBodyRate,
		BodyGrace:            s.RequestBodyGrace,
		Parser:               s.Parser,
		ServerHeader:         s.ServerHeader,
		TransparentHEAD:      s.TransparentHEAD,
		Logger:               s.Logger,
	}
	if cfg.MaxHeaderListSize == 0 {
		cfg.MaxHeaderListSize = uint32(s.Parser.MaxHeadSize)
	}
	if s.IdleTimeout == 0 {
		cfg.IdleTimeout = -1
	}
	if s.HeadTimeout == 0 {
		cfg.PrefaceTimeout = -1
	}
	if s.RequestTimeout == 0 {
		cfg.RequestTimeout = -1
	}
	return cfg
}

// HTTP2ServerLayer returns the HTTP/2 server side of one connection as a
// bidi flow, the counterpart of ServerLayer: bytes in (from the client
// preface on), requests out to the handler; responses in, bytes out. It
// does no I/O of its own, so it runs over TCP, TLS, a pipe or a replayed
// capture. Join a handler to it with bidi.JoinLeft.
//
// Each stream is a request, numbered (Request.Seq) in the order the
// streams opened. Responses are linked to their request by Seq (as
// Response.ForRequest and HandleWithAsyncHandler do) and may come in any
// order: each goes to its stream at once. A response with Seq 0 answers
// the oldest unanswered request, so a plain stream.Map handler works too.
//
// Flow control is the backpressure: a request body is credited back to the
// client (WINDOW_UPDATE) only as the handler pulls it, beyond the first
// StreamWindow bytes; a response body is pulled from its source only while
// the client's window for it is open.
//
// Unlike the HTTP/1.1 layer, this one runs goroutines of the run: a reader
// that keeps pulling the input while the handler works (so PING, SETTINGS
// and WINDOW_UPDATE are answered), a pump pulling responses from the
// handler, and one per streamed response body. Settings and limits:
// ServerSettings.HTTP2.
func HTTP2ServerLayer(s ServerSettings) bidi.Flow[*Response, []byte, []byte, *Request] {
	s = s.resolved()
	return h2.Layer(h2Config(&s), nil)
}

// ServeHTTP2Conn serves HTTP/2 on rwc with handler: the client must start
// with the preface (prior knowledge, or TLS with ALPN "h2" negotiated).
// It returns when the connection has ended, and closes rwc. Bindings
// choose between HTTP/1.1 and HTTP/2 on their own (see ServerSettings.HTTP2);
// this is for connections known to speak HTTP/2, such as an h2-only port.
func ServeHTTP2Conn(ctx context.Context, rwc io.ReadWriteCloser, handler stream.Flow[*Request, *Response], s ServerSettings) error {
	s = s.resolved()
	return serveH2(ctx, rwc, nil, 0, handler, &s, &connOpts{})
}

// ReplayHTTP2 is Replay for HTTP/2: it runs the bytes a client sent on one
// connection (from the client preface on) through HTTP2ServerLayer joined
// with handler and returns what the server wrote. The end of input is a
// half-close: requests received in full are answered before the layer
// ends. HTTP/2 output does not compare byte for byte with a capture (HPACK
// encodes the Date field and stream interleaving follows timing): compare
// the decoded responses.
func ReplayHTTP2(ctx context.Context, input io.Reader, handler stream.Flow[*Request, *Response], s ServerSettings) ([]byte, error) {
	s = s.resolved()
	cfg := h2Config(&s)
	cfg.HalfClose = true
	var out bytes.Buffer // ToWriter copies each piece: the layer's output is valid only until its next pull
	flow := bidi.JoinLeft(handler, h2.Layer(cfg, nil))
	_, err := stream.RunWith(ctx, stream.Via(stream.FromReader(input, readBufferSize), flow), stream.ToWriter(&out))
	return out.Bytes(), err
}
