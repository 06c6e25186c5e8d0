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
	// The limits, as streamhttp.HTTP2Settings documents them (with
	// PrefaceTimeout from its HeadTimeout and IdleTimeout from its
	// IdleTimeout).
	MaxConcurrentStreams uint32
	MaxFrameSize         uint32
	StreamWindow         int32
	ConnWindow           int32
	MaxHeaderListSize    uint32
	MaxContinuations     int
	FloodBurst           int
	FloodRate            int
	MaxPendingRequests   int
	MaxOutputBuffer      int
	SendTimeout          time.Duration
	IdleTimeout          time.Duration
	PrefaceTimeout       time.Duration
	// RequestTimeout and TimeoutResponse are ServerSettings': a request
	// the handler has had in full for this long is answered 503 (or
	// TimeoutResponse) on its stream; the connection goes on.
	RequestTimeout  time.Duration
	TimeoutResponse func(*httpcore.Request) *httpcore.Response
	// MinBodyRate and BodyGrace are ServerSettings' MinRequestBodyRate
	// and RequestBodyGrace: once BodyGrace has passed, a request body that
	// the handler waits for must have arrived at MinBodyRate bytes per
	// second of that waiting, or the stream is answered 408 (RST_STREAM
	// (CANCEL) when its response has begun) and the body fails with
	// ErrBodyTooSlow. Only the time the handler spends waiting for body
	// bytes counts. 0: no limit.
	MinBodyRate int64
	BodyGrace   time.Duration

	// FirstRequest, if set, is called once, by the handler's side, before
	// the connection's first request is handed out (a binding's connection
	// earns its slot there, and may wait for one); an error ends the
	// connection with GOAWAY, the request unanswered.
	FirstRequest func(context.Context) error
	// HalfClose makes the end of the input a half-close: the requests
	// received in full are still answered (a replayed capture). Otherwise
	// it ends the connection at once, as a client that has gone.
	HalfClose bool

	// Parser holds the request limits shared with HTTP/1.1: MaxURILength
	// (414), MaxHeaderCount, MaxHeaderNameLength, MaxHeaderValueLength
	// (431), MaxContentLength (413).
	Parser httpcore.ParserSettings
	// TransparentHEAD hands HEAD requests to the handler as GET; the
	// response's head is sent without its body either way.
	TransparentHEAD bool
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
	// Resume, if set, is the state of a parked connection (Conn.Park) that
	// this run goes on serving: the client's preface and SETTINGS came in
	// an earlier run.
	Resume *Parked
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
