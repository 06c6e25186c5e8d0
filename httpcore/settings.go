package httpcore

// ParserSettings are the limits and options of the request parser. The zero
// value means the defaults documented on each field; a negative limit is
// invalid and also means the default.
type ParserSettings struct {
	// MaxURILength bounds the request-target; longer gets 414. Default 2048.
	MaxURILength int
	// MaxMethodLength bounds a method token; longer gets 400. Default 16.
	MaxMethodLength int
	// MaxHeaderNameLength bounds a field name; longer gets 431. Default 64.
	MaxHeaderNameLength int
	// MaxHeaderValueLength bounds a field value, without the whitespace
	// around it (of which a line may carry 64 bytes beyond the name and
	// value limits); longer gets 431. Default 8192.
	MaxHeaderValueLength int
	// MaxHeaderCount bounds the number of fields in a head (and in a trailer
	// section); more gets 431. Default 64.
	MaxHeaderCount int
	// MaxHeadSize bounds a whole request head: the request line, every
	// field line and the CRLFs, the empty line ending the head included
	// (not the empty lines a client may send before a request line). It is
	// enforced as the bytes arrive: a head gets 431 as soon as it passes
	// the limit, whether or not it ever ends; a request line that alone
	// passes it gets 414 (400 while still in the method). Default 64 KiB.
	MaxHeadSize int
	// MaxContentLength bounds a declared Content-Length; larger gets 413.
	// Streamed chunked bodies are bounded by the same limit as they arrive
	// (the server layer enforces it). Default 8 MiB.
	MaxContentLength int64
	// MaxChunkSize bounds one chunk of a chunked body. Default 1 MiB.
	MaxChunkSize int
	// MaxChunkExtLength bounds the extensions of one chunk: the bytes
	// after the chunk size on its line. Longer gets 400. Default 256.
	MaxChunkExtLength int
	// MaxTrailerSize bounds the bytes of a trailer section, line ends
	// included; more gets 431. Default 8192.
	MaxTrailerSize int
	// CustomMethods are the methods accepted besides the standard ones;
	// any other method gets 501 (RFC 9110 §9.1).
	CustomMethods []Method
	// ReuseRequests makes the parser build requests in the memory of
	// requests given back with RecycleRequest, and mark those it builds
	// so that RecycleRequest takes them. A server sets it when its
	// handlers promise not to keep requests (ServerSettings.ReuseRequests
	// in package streamhttp, which sets this field). Default false: every
	// request has memory of its own for as long as anyone refers to it.
	ReuseRequests bool
}

// Defaults of ParserSettings.
const (
	DefaultMaxURILength         = 2048
	DefaultMaxMethodLength      = 16
	DefaultMaxHeaderNameLength  = 64
	DefaultMaxHeaderValueLength = 8192
	DefaultMaxHeaderCount       = 64
	DefaultMaxHeadSize          = 64 << 10
	DefaultMaxContentLength     = 8 << 20
	DefaultMaxChunkSize         = 1 << 20
	DefaultMaxChunkExtLength    = 256
	DefaultMaxTrailerSize       = 8192
)

func orDefault[T int | int64](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// withDefaults returns s with every unset limit replaced by its default.
func (s ParserSettings) withDefaults() ParserSettings {
	s.MaxURILength = orDefault(s.MaxURILength, DefaultMaxURILength)
	s.MaxMethodLength = orDefault(s.MaxMethodLength, DefaultMaxMethodLength)
	s.MaxHeaderNameLength = orDefault(s.MaxHeaderNameLength, DefaultMaxHeaderNameLength)
	s.MaxHeaderValueLength = orDefault(s.MaxHeaderValueLength, DefaultMaxHeaderValueLength)
	s.MaxHeaderCount = orDefault(s.MaxHeaderCount, DefaultMaxHeaderCount)
	s.MaxHeadSize = orDefault(s.MaxHeadSize, DefaultMaxHeadSize)
	s.MaxContentLength = orDefault(s.MaxContentLength, DefaultMaxContentLength)
	s.MaxChunkSize = orDefault(s.MaxChunkSize, DefaultMaxChunkSize)
	s.MaxChunkExtLength = orDefault(s.MaxChunkExtLength, DefaultMaxChunkExtLength)
	s.MaxTrailerSize = orDefault(s.MaxTrailerSize, DefaultMaxTrailerSize)
	return s
}
