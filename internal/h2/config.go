package h2

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/streamhttp/streamhttp/httpcore"
)

// Config holds the limits of one HTTP/2 connection. The zero value of a
// field means its default (see the Default constants); Resolved applies
// them once, so the engine reads plain values.
type Config struct {
	// MaxConcurrentStreams is advertised in SETTINGS_MAX_CONCURRENT_STREAMS:
	// a HEADERS frame that would open one more stream is refused with
	// RST_STREAM(REFUSED_STREAM) (RFC 9113 §5.1.2).
	MaxConcurrentStreams uint32
	// MaxFrameSize is advertised in SETTINGS_MAX_FRAME_SIZE; a longer frame
	// is a connection error FRAME_SIZE_ERROR (RFC 9113 §4.2).
	MaxFrameSize uint32
	// StreamWindow is the receive window of a request body, advertised in
	// SETTINGS_INITIAL_WINDOW_SIZE: at most this many body bytes of a
	// stream are buffered before the handler pulls them. WINDOW_UPDATE
	// frames return credit only for bytes the handler has pulled.
	StreamWindow int32
	// ConnWindow is the connection's receive window: the bound on the
	// request body bytes buffered for all streams together.
	ConnWindow int32
	// MaxHeaderListSize is advertised in SETTINGS_MAX_HEADER_LIST_SIZE; a
	// larger header list is answered 431. A header block more than twice
	// as large (HEADERS plus CONTINUATION) is a connection error.
	MaxHeaderListSize uint32
	// MaxContinuations bounds the CONTINUATION frames of one header block
	// (empty ones cost frames, not bytes: CVE-2023-45288).
	MaxContinuations int
	// FloodBurst and FloodRate are a token bucket shared by stream resets
	// (sent or received: Rapid Reset, CVE-2023-44487, and MadeYouReset,
	// CVE-2025-8671) and by frames that carry nothing (empty DATA without
	// END_STREAM, empty CONTINUATION: CVE-2019-9518). Each costs one token;
	// FloodRate tokens come back per second. An empty bucket ends the
	// connection with GOAWAY(ENHANCE_YOUR_CALM).
	FloodBurst int
	FloodRate  int
	// MaxPendingRequests bounds the requests received and not yet answered
	// (including those of streams the client has reset while their handler
	// runs): past it the connection ends with GOAWAY(ENHANCE_YOUR_CALM).
	// Default 4 x MaxConcurrentStreams.
	MaxPendingRequests int
	// MaxOutputBuffer is how many bytes of control frames and headers may
	// wait for the transport before the connection stops reading input: a
	// peer that floods PING or SETTINGS and reads nothing is held by TCP.
	MaxOutputBuffer int
	// SendTimeout resets a stream whose response waits this long for
	// flow-control credit (a zero-window stall) with RST_STREAM(CANCEL).
	SendTimeout time.Duration
	// IdleTimeout ends a connection without open streams and without
	// incoming frames for this long with GOAWAY(NO_ERROR).
	IdleTimeout time.Duration
	// PrefaceTimeout bounds the time until the client preface and its
	// SETTINGS frame have arrived.
	PrefaceTimeout time.Duration

	// Parser holds the request limits shared with HTTP/1.1: MaxURILength
	// (414), MaxHeaderCount, MaxHeaderNameLength, MaxHeaderValueLength
	// (431), MaxContentLength (413).
	Parser httpcore.ParserSettings
	// ServerHeader is sent as the server field unless empty.
	ServerHeader string
	// Logger receives connection errors.
	Logger *slog.Logger

	// The connection's addresses and TLS state, copied into requests.
	RemoteAddr, LocalAddr net.Addr
	TLS                   *tls.ConnectionState
	// RequestStarted and RequestDone, if set, learn of each request handed
	// to the handler (or answered by the server itself) and of its answer,
	// for statistics. They are called with the connection's state locked:
	// they must return at once.
	RequestStarted, RequestDone func()
	// Context is the parent of the requests' contexts; nil: the run's.
	Context context.Context
}

// Defaults of Config.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultMaxFrameSize         = 16 << 10 // the RFC's initial value
	DefaultStreamWindow         = 256 << 10
	DefaultConnWindow           = 1 << 20
	DefaultMaxHeaderListSize    = 64 << 10
	DefaultMaxContinuations     = 64
	DefaultFloodBurst           = 200
	DefaultFloodRate            = 100
	DefaultMaxOutputBuffer      = 64 << 10
	DefaultSendTimeout          = 30 * time.Second
	DefaultIdleTimeout          = 60 * time.Second
	DefaultPrefaceTimeout       = 10 * time.Second

	// initialWindow is the RFC 9113 §6.9.2 initial window of streams and
	// of the connection, before SETTINGS change it.
	initialWindow = 65535
	maxWindow     = 1<<31 - 1
)

// Resolved returns c with every default applied; negative durations mean
// "none" and become 0.
func (c Config) Resolved() Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	c.MaxFrameSize = min(max(c.MaxFrameSize, 16<<10), 1<<24-1)
	if c.StreamWindow <= 0 {
		c.StreamWindow = DefaultStreamWindow
	}
	// A client may send a full initial window before it has seen our
	// SETTINGS: a smaller window could not be enforced.
	c.StreamWindow = max(c.StreamWindow, initialWindow)
	if c.ConnWindow <= 0 {
		c.ConnWindow = DefaultConnWindow
	}
	c.ConnWindow = max(c.ConnWindow, initialWindow)
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if c.MaxContinuations <= 0 {
		c.MaxContinuations = DefaultMaxContinuations
	}
	if c.FloodBurst <= 0 {
		c.FloodBurst = DefaultFloodBurst
	}
	if c.FloodRate <= 0 {
		c.FloodRate = DefaultFloodRate
	}
	if c.MaxPendingRequests <= 0 {
		c.MaxPendingRequests = 4 * int(c.MaxConcurrentStreams)
	}
	if c.MaxOutputBuffer <= 0 {
		c.MaxOutputBuffer = DefaultMaxOutputBuffer
	}
	dur := func(v, d time.Duration) time.Duration {
		switch {
		case v < 0:
			return 0
		case v == 0:
			return d
		}
		return v
	}
	c.SendTimeout = dur(c.SendTimeout, DefaultSendTimeout)
	c.IdleTimeout = dur(c.IdleTimeout, DefaultIdleTimeout)
	c.PrefaceTimeout = dur(c.PrefaceTimeout, DefaultPrefaceTimeout)
	p := &c.Parser
	if p.MaxURILength <= 0 {
		p.MaxURILength = httpcore.DefaultMaxURILength
	}
	if p.MaxHeaderCount <= 0 {
		p.MaxHeaderCount = httpcore.DefaultMaxHeaderCount
	}
	if p.MaxHeaderNameLength <= 0 {
		p.MaxHeaderNameLength = httpcore.DefaultMaxHeaderNameLength
	}
	if p.MaxHeaderValueLength <= 0 {
		p.MaxHeaderValueLength = httpcore.DefaultMaxHeaderValueLength
	}
	if p.MaxContentLength <= 0 {
		p.MaxContentLength = httpcore.DefaultMaxContentLength
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
