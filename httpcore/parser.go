package httpcore

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
)

// EventKind says what a parser [Event] carries.
type EventKind uint8

const (
	// NeedMore: the input holds no complete event; call Next again with the
	// unconsumed bytes followed by more input.
	NeedMore EventKind = iota
	// RequestHead: a request head is complete (Event.Request). When
	// Event.Body is BodyNone the request is whole (its Entity is set, Strict
	// or empty); otherwise body events follow, ending with MessageEnd.
	RequestHead
	// BodyData: bytes of a Content-Length body (Event.Data).
	BodyData
	// ChunkData: bytes of a chunk (Event.Data); Event.Extension is set on the
	// first piece of a chunk whose data arrives in several pieces.
	ChunkData
	// LastChunk: the last chunk with its extension and trailer fields.
	LastChunk
	// MessageEnd: the body of the current request is complete.
	MessageEnd
	// Failed: the input is not a valid request (Event.Err). The parser stays
	// failed: the connection must answer Event.Err.Status and close.
	Failed
)

// BodyKind is how the body of a request arrives.
type BodyKind uint8

const (
	BodyNone    BodyKind = iota // no body events follow: Request.Entity is complete
	BodyLength                  // BodyData events for Request.ContentLength bytes
	BodyChunked                 // ChunkData and LastChunk events
)

// Event is one step of the parse. Data aliases the input passed to Next and
// is valid only until the caller modifies that buffer; everything else (the
// Request, Extension, Trailer) is owned by the event's receiver.
type Event struct {
	Kind      EventKind
	Request   *Request
	Body      BodyKind
	Data      []byte
	Extension string
	Trailer   []Header
	Err       *ParseError
}

// Parser is a resumable HTTP/1.1 request parser (RFC 9112): bytes in,
// events out, no I/O and no goroutines. It handles any split of the input
// and several pipelined requests per buffer. The caller keeps the bytes
// that Next did not consume and passes them again, followed by new input.
//
// The head is scanned byte by byte in one pass that resumes where the
// previous call stopped, and every error is decided at the byte that makes
// the input invalid (what needs the whole request line, at its end; a head
// past MaxHeadSize, at its first byte beyond): so any split of the input
// gives the same events, and a prefix of a valid request never gets an
// error.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	s       ParserSettings
	maxLine int // the longest field line: name, colon, value and 64 bytes of whitespace

	state  uint8
	failed *ParseError

	// Scan state of a head, trailer section or chunk-size line, as offsets
	// into the caller's unconsumed input (stable across calls: nothing of
	// these is consumed before it is complete).
	phase  uint8 // what the next byte belongs to (ph* constants)
	pos    int   // next byte to scan
	ls     int   // start of the current field line
	colon  int   // its colon
	vs, ve int   // its value so far: ve is after the last non-blank byte
	tStart int   // request-target span
	tEnd   int
	plain  bool // the target so far has only cPlain characters (and the method is known)
	noQ    bool // and no '?'
	// lineCheck: the request line needs checkRequestLine at its end (an
	// unsupported method, or a target other than a plain origin-form one).
	lineCheck bool
	method    Method
	proto     Protocol
	target    targetSpans
	fields    []field

	// Typed header state of the current head.
	host        int // index into fields of the Host field, -1 if none
	hosts       int
	contentLen  int64 // -1 if none
	chunked     bool
	te          bool // a Transfer-Encoding field was seen
	ctype       int  // index of Content-Type, -1
	expect      int  // index of Expect, -1
	connClose   bool
	connKeep    bool
	connUpgrade bool

	// Body state.
	remaining int64  // bytes left in a Content-Length body or the current chunk (the size so far on a chunk-size line)
	extStart  int    // where a chunk-size line's extension starts
	chunkExt  string // extension of the chunk whose first piece is not out yet
	extOut    bool   // the current chunk's extension has been emitted
}

// field is a header field as offsets into the input.
type field struct{ ns, ne, vs, ve int32 }

const (
	stHead uint8 = iota
	stBody
	stChunkSize
	stChunkData
	stChunkCRLF
	stTrailer
	stEnd
	stFailed
)

// Scan phases: where in a line the next byte belongs.
const (
	phLead      uint8 = iota // empty lines before a request line
	phMethod                 // request line: method
	phTarget                 // request-target
	phVersion                // HTTP-version
	phLineStart              // start of a field line or of the empty line ending the section
	phName                   // field name
	phOWS                    // whitespace after the colon
	phValue                  // field value
	phSize                   // chunk-size line: the size
	phExt                    // its extensions
)

// NewParser returns a parser with the given settings (the zero value means
// the defaults).
func NewParser(s ParserSettings) *Parser {
	p := &Parser{s: s.withDefaults()}
	p.maxLine = p.s.MaxHeaderNameLength + 1 + p.s.MaxHeaderValueLength + 64
	p.resetHead()
	return p
}

func (p *Parser) resetHead() {
	p.state, p.phase = stHead, phLead
	p.pos = 0
	p.fields = p.fields[:0]
	p.host, p.hosts, p.contentLen, p.ctype, p.expect = -1, 0, -1, -1, -1
	p.chunked, p.te, p.connClose, p.connKeep, p.connUpgrade = false, false, false, false, false
	p.method, p.remaining = "", 0
}

// fail puts the parser in its failed state.
func (p *Parser) fail(e *ParseError) (Event, int) {
	p.failed, p.state = e, stFailed
	return Event{Kind: Failed, Err: e}, 0
}

func (p *Parser) failBody(e *ParseError) (Event, int) {
	e.InBody = true
	return p.fail(e)
}

// Next parses the next event from in, which must start with the bytes the
// previous call did not consume, and returns it with the number of bytes of
// in it consumed. A NeedMore event may consume bytes too (skipped framing).
func (p *Parser) Next(in []byte) (Event, int) {
	consumed := 0
	for {
		switch p.state {
		case stHead:
			if p.phase == phLead {
				n, err := p.skipEmptyLines(in)
				if err != nil {
					return p.fail(err)
				}
				in, consumed = in[n:], consumed+n
				if p.phase == phLead {
					return Event{Kind: NeedMore}, consumed
				}
			}
			r, body, n, err := p.parseHead(in)
			switch {
			case err != nil:
				ev, _ := p.fail(err)
				return ev, consumed
			case r == nil:
				return Event{Kind: NeedMore}, consumed
			}
			return Event{Kind: RequestHead, Request: r, Body: body}, consumed + n
		case stBody:
			if len(in) == 0 {
				return Event{Kind: NeedMore}, consumed
			}
			n := int(min(p.remaining, int64(len(in))))
			p.remaining -= int64(n)
			if p.remaining == 0 {
				p.state = stEnd
			}
			return Event{Kind: BodyData, Data: in[:n:n]}, consumed + n
		case stChunkSize:
			n, err := p.parseChunkSize(in)
			if err != nil {
				return p.failBody(err)
			}
			if n == 0 {
				return Event{Kind: NeedMore}, consumed
			}
			in, consumed = in[n:], consumed+n
		case stChunkData:
			if len(in) == 0 {
				return Event{Kind: NeedMore}, consumed
			}
			n := int(min(p.remaining, int64(len(in))))
			p.remaining -= int64(n)
			ev := Event{Kind: ChunkData, Data: in[:n:n]}
			if !p.extOut {
				ev.Extension, p.extOut = p.chunkExt, true
			}
			if p.remaining == 0 {
				p.state = stChunkCRLF
			}
			return ev, consumed + n
		case stChunkCRLF:
			if len(in) < 2 {
				if len(in) == 1 && in[0] != '\r' {
					return p.failBody(badRequest("chunk data is not followed by CRLF"))
				}
				return Event{Kind: NeedMore}, consumed
			}
			if in[0] != '\r' || in[1] != '\n' {
				return p.failBody(badRequest("chunk data is not followed by CRLF"))
			}
			in, consumed = in[2:], consumed+2
			p.state, p.phase, p.pos = stChunkSize, phSize, 0
		case stTrailer:
			ev, n := p.parseTrailer(in)
			return ev, consumed + n
		case stEnd:
			p.resetHead()
			return Event{Kind: MessageEnd}, consumed
		default:
			return Event{Kind: Failed, Err: p.failed}, consumed
		}
	}
}

// skipEmptyLines consumes the empty lines a client may send before a
// request line (RFC 9112 §2.2) and moves to the method at its first byte.
func (p *Parser) skipEmptyLines(in []byte) (int, *ParseError) {
	i := 0
	for i < len(in) {
		switch in[i] {
		case '\r':
			if i+1 == len(in) {
				return i, nil
			}
			if in[i+1] != '\n' {
				return 0, errBareCR()
			}
			i += 2
		case '\n':
			return 0, errBareLF()
		case 0x16:
			return 0, badRequest("a TLS handshake on a plain HTTP connection (perhaps an HTTPS request sent to an HTTP port?)")
		default:
			p.phase = phMethod
			return i, nil
		}
	}
	return i, nil
}

// errBareCR and errBareLF return the errors of a line ending other than CRLF
// (RFC 9112 §2.2): a new one each time, as failBody marks it.
func errBareCR() *ParseError { return badRequest("bare CR (not followed by LF)") }
func errBareLF() *ParseError { return badRequest("bare LF (not preceded by CR)") }

// parseHead scans the head, which starts at in[0], and returns the
// request with the bytes it took once the head is complete, nil while more
// input is needed, or the error that fails the parser. (Not an Event: a
// result that fits in registers is not copied on the way out.)
//
// The head is scanned no further than its first MaxHeadSize bytes, as if
// the input ended there: a head still incomplete there has passed the
// limit, however much more input there is. Since that is what a split of
// the input at MaxHeadSize gives, every split still gives the same events,
// and an error within the first MaxHeadSize bytes comes first.
func (p *Parser) parseHead(in []byte) (*Request, BodyKind, int, *ParseError) {
	scan := in
	if len(scan) > p.s.MaxHeadSize {
		scan = scan[:p.s.MaxHeadSize]
	}
	if p.phase < phLineStart {
		done, err := p.scanRequestLine(scan)
		if done && p.lineCheck {
			err = p.checkRequestLine(scan)
		}
		if err != nil || !done {
			if err == nil && len(in) > len(scan) {
				err = p.headTooLarge()
			}
			return nil, 0, 0, err
		}
	}
	end, err := p.scanFields(scan, false)
	if err != nil || end == 0 {
		if err == nil && len(in) > len(scan) {
			err = p.headTooLarge()
		}
		return nil, 0, 0, err
	}
	return p.finishHead(in, end)
}

// scanRequestLine scans method SP request-target SP HTTP-version CRLF
// (RFC 9112 §3) from p.pos and reports whether the line is complete.
func (p *Parser) scanRequestLine(in []byte) (bool, *ParseError) {
	i := p.pos
	for {
		switch p.phase {
		case phMethod:
			if i == 0 && len(in) >= 4 && binary.LittleEndian.Uint32(in) == getSP && p.s.MaxMethodLength >= 3 {
				// The most common method, at once.
				p.method = MethodGet
				p.tStart, i, p.phase, p.plain, p.noQ = 4, 4, phTarget, true, true
				continue
			}
			j := i
			for j < len(in) && charClass[in[j]]&cToken != 0 {
				j++
			}
			if j > p.s.MaxMethodLength {
				return false, limitError(StatusBadRequest, "the method", "MaxMethodLength", int64(p.s.MaxMethodLength))
			}
			if j == len(in) {
				p.pos = j
				return false, nil
			}
			if c := in[j]; c != ' ' || j == 0 {
				if c == '\r' || c == '\n' {
					return false, badRequest("malformed request line")
				}
				return false, badRequest("the method is not a token")
			}
			// An unsupported method leaves p.method empty and the target
			// off the fast path: it gets 501 at the end of the line.
			known := p.setMethod(in[:j])
			p.tStart, i, p.phase, p.plain, p.noQ = j+1, j+1, phTarget, known, true
		case phTarget:
			j := i
			all := uint8(cPlain | cPlainNQ)
			for j < len(in) {
				cl := charClass[in[j]]
				if cl&cTarget == 0 {
					break
				}
				all &= cl
				j++
			}
			p.plain = p.plain && all&cPlain != 0
			p.noQ = p.noQ && all&cPlainNQ != 0
			if j-p.tStart > p.s.MaxURILength {
				return false, limitError(StatusURITooLong, "the request-target", "MaxURILength", int64(p.s.MaxURILength))
			}
			if j == len(in) {
				p.pos = j
				return false, nil
			}
			if c := in[j]; c != ' ' {
				if c == '\r' || c == '\n' {
					return false, badRequest("malformed request line")
				}
				return false, badRequest("invalid character in the request-target")
			}
			if j == p.tStart {
				return false, badRequest("empty request-target")
			}
			if t := in[p.tStart:j]; p.plain && t[0] == '/' && p.method != MethodConnect {
				// The common origin-form target: nothing more to check.
				p.target.scheme, p.target.authority = noSpan, noSpan
				if p.noQ {
					p.target.path, p.target.query = span{0, len(t)}, noSpan
				} else {
					p.target.path, p.target.query = splitQuery(t, 0)
				}
				p.lineCheck = false
			} else {
				p.lineCheck = true // after the version: see checkRequestLine
			}
			p.tEnd, i, p.phase = j, j+1, phVersion
		case phVersion:
			// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3):
			// HTTP/1.0 and HTTP/1.1 as they are, a higher 1.x minor as
			// HTTP/1.1, other majors 505.
			vs := p.tEnd + 1
			if i == vs && len(in)-i >= 10 && in[i+8] == '\r' && in[i+9] == '\n' {
				// The whole line end at once, when it is one of the two.
				switch binary.LittleEndian.Uint64(in[i:]) {
				case http11:
					p.proto, p.pos, p.phase = HTTP11, i+10, phLineStart
					return true, nil
				case http10:
					p.proto, p.pos, p.phase = HTTP10, i+10, phLineStart
					return true, nil
				}
			}
			for ; i < len(in); i++ {
				c, k := in[i], i-vs
				switch {
				case k < 5:
					if c != "HTTP/"[k] {
						return false, errBadVersion()
					}
				case k == 5:
					if !isDigit(c) {
						return false, errBadVersion()
					}
					if c != '1' {
						return false, p.errVersion(in, c)
					}
				case k == 6:
					if c != '.' {
						return false, errBadVersion()
					}
				case k == 7:
					if !isDigit(c) {
						return false, errBadVersion()
					}
					p.proto = HTTP11
					if c == '0' {
						p.proto = HTTP10
					}
				default:
					switch {
					case c == '\n':
						return false, errBareLF()
					case c != '\r':
						return false, errBadVersion()
					case i+1 == len(in):
						p.pos = i
						return false, nil
					case in[i+1] != '\n':
						return false, errBareCR()
					}
					p.pos, p.phase = i+2, phLineStart
					return true, nil
				}
			}
			p.pos = i
			return false, nil
		}
	}
}

// Little-endian words of "GET " and the two versions, for the fast paths
// of the request line.
var (
	getSP  = binary.LittleEndian.Uint32([]byte("GET "))
	http11 = binary.LittleEndian.Uint64([]byte("HTTP/1.1"))
	http10 = binary.LittleEndian.Uint64([]byte("HTTP/1.0"))
)

func errBadVersion() *ParseError { return badRequest("malformed HTTP version") }

// errVersion is the 505 of a request line whose HTTP-version has the major
// digit c, other than 1 (RFC 9110 §15.6.6), decided before the method and
// the target's form are: the HTTP/2 connection preface that a client with
// prior knowledge sends (PRI * HTTP/2.0, RFC 9113 §3.4) gets it too.
func (p *Parser) errVersion(in []byte, c byte) *ParseError {
	if c == '2' && string(in[:p.tEnd+1]) == "PRI * " {
		return &ParseError{Status: StatusHTTPVersionNotSupported,
			Reason: "an HTTP/2 connection preface: only HTTP/1.0 and HTTP/1.1 are supported on this connection"}
	}
	return &ParseError{Status: StatusHTTPVersionNotSupported, Reason: "only HTTP/1.0 and HTTP/1.1 are supported on this connection"}
}

// setMethod resolves the method token to a standard method or a registered
// custom one and reports whether there is one; p.method stays empty for any
// other, which checkRequestLine answers with 501 (RFC 9110 §9.1).
func (p *Parser) setMethod(m []byte) bool {
	if meth, ok := standardMethod(m); ok {
		p.method = meth
		return true
	}
	for _, c := range p.s.CustomMethods {
		if string(c) == string(m) {
			p.method = c
			return true
		}
	}
	return false
}

// checkRequestLine makes the checks of a request line that wait for its
// end, so that a request for another major version gets 505 whatever its
// method and target: an unsupported method gets 501 (RFC 9110 §9.1), and a
// target other than a plain origin-form one is checked against the method
// (parseTarget). The syntax of the line, the target's characters included,
// is checked as the bytes arrive.
func (p *Parser) checkRequestLine(in []byte) *ParseError {
	if p.method == "" {
		return &ParseError{Status: StatusNotImplemented, Reason: "unsupported method (register it in ParserSettings.CustomMethods)"}
	}
	return p.parseTarget(in[p.tStart:p.tEnd])
}

// headTooLarge is the error of a head that has passed MaxHeadSize: 431, or
// 414 while its request line has not ended (400 while in the method, as
// for a method beyond its own limit).
func (p *Parser) headTooLarge() *ParseError {
	lim := int64(p.s.MaxHeadSize)
	switch p.phase {
	case phMethod:
		return limitError(StatusBadRequest, "the method", "MaxHeadSize", lim)
	case phTarget, phVersion:
		return limitError(StatusURITooLong, "the request line", "MaxHeadSize", lim)
	}
	return limitError(StatusRequestHeaderFieldsTooLarge, "the request head", "MaxHeadSize", lim)
}

// scanFields scans field lines (RFC 9112 §5) from p.pos up to and including
// the empty line that ends the section, and returns the offset after that
// line, or 0 when more input is needed. Obsolete line folding is rejected
// (RFC 9112 §5.2 allows it), as is whitespace before the colon (§5.1) and a
// CTL other than HTAB in a value (RFC 9110 §5.5).
//
// A value is bounded by MaxHeaderValueLength, and the whole line by the
// name and value limits plus 64 bytes of whitespace around the value; both
// are reported as the value limit. In a trailer section (trailer set) the
// section, counted at the end of each line, is bounded by MaxTrailerSize.
func (p *Parser) scanFields(in []byte, trailer bool) (int, *ParseError) {
	// The line state lives in locals while scanning and goes back to p
	// when more input is needed.
	i, ph, ls, colon, vs, ve := p.pos, p.phase, p.ls, p.colon, p.vs, p.ve
	for {
		switch ph {
		case phLineStart:
			if i == len(in) {
				goto more
			}
			switch in[i] {
			case '\r':
				if i+1 == len(in) {
					goto more
				}
				if in[i+1] != '\n' {
					return 0, errBareCR()
				}
				if trailer && i+2 > p.s.MaxTrailerSize {
					return 0, p.trailerTooLarge()
				}
				return i + 2, nil
			case '\n':
				return 0, errBareLF()
			case ' ', '\t':
				return 0, badRequest("obsolete line folding or whitespace before a header field")
			}
			ls, ph = i, phName
		case phName:
			for i < len(in) && charClass[in[i]]&cToken != 0 {
				i++
			}
			if i-ls > p.s.MaxHeaderNameLength {
				return 0, limitError(StatusRequestHeaderFieldsTooLarge, "a header field name", "MaxHeaderNameLength", int64(p.s.MaxHeaderNameLength))
			}
			if i == len(in) {
				goto more
			}
			if c := in[i]; c != ':' || i == ls {
				if c == '\r' || c == '\n' {
					return 0, badRequest("header field without a colon")
				}
				// Also whitespace between the name and the colon (§5.1).
				return 0, badRequest("invalid header field name")
			}
			colon, ph = i, phOWS
			i++
		case phOWS:
			for i < len(in) && (in[i] == ' ' || in[i] == '\t') {
				i++
			}
			if i-ls > p.maxLine {
				return 0, p.valueTooLong()
			}
			if i == len(in) {
				goto more
			}
			vs, ve, ph = i, i, phValue
		case phValue:
			j := scanValue(in, i)
			// ve: after the last non-blank byte; the bytes from ve to i
			// are blank, so only the new ones need a look.
			for k := j; k > i; k-- {
				if c := in[k-1]; c != ' ' && c != '\t' {
					ve = k
					break
				}
			}
			i = j
			// Both limits give the same error, so which one a split
			// meets first makes no difference.
			if ve-vs > p.s.MaxHeaderValueLength || i-ls > p.maxLine {
				return 0, p.valueTooLong()
			}
			switch {
			case i == len(in):
				goto more
			case in[i] == '\n':
				return 0, errBareLF()
			case in[i] != '\r':
				return 0, badRequest("invalid character in a header field value")
			case i+1 == len(in):
				goto more
			case in[i+1] != '\n':
				return 0, errBareCR()
			}
			if len(p.fields) >= p.s.MaxHeaderCount {
				return 0, limitError(StatusRequestHeaderFieldsTooLarge, "the number of header fields", "MaxHeaderCount", int64(p.s.MaxHeaderCount))
			}
			p.fields = append(p.fields, field{int32(ls), int32(colon), int32(vs), int32(ve)})
			i, ph = i+2, phLineStart
			if trailer {
				if i > p.s.MaxTrailerSize {
					return 0, p.trailerTooLarge()
				}
			} else if err := p.knownField(in[ls:colon], in[vs:ve], len(p.fields)-1); err != nil {
				return 0, err
			}
		}
	}
more:
	p.pos, p.phase, p.ls, p.colon, p.vs, p.ve = i, ph, ls, colon, vs, ve
	return 0, nil
}

// scanValue returns the index of the first byte at or after i that cannot be
// in a field value (CR, LF, NUL, other controls but HTAB, DEL). It checks
// eight bytes at a time while none of them is a control character.
func scanValue(in []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(in) {
		x := binary.LittleEndian.Uint64(in[i:])
		ctl := (x - 0x20*ones) &^ x & highs // some byte < 0x20
		d := x ^ 0x7f*ones
		del := (d - ones) &^ d & highs // some byte == 0x7f
		if m := ctl | del; m != 0 {
			// The lowest flagged byte is exact (a borrow only spreads
			// upwards): skip to it. It may be an HTAB, which the loop
			// below takes.
			i += bits.TrailingZeros64(m) >> 3
			break
		}
		i += 8
	}
	for i < len(in) && charClass[in[i]]&cValue != 0 {
		i++
	}
	return i
}

func (p *Parser) valueTooLong() *ParseError {
	return limitError(StatusRequestHeaderFieldsTooLarge, "a header field value", "MaxHeaderValueLength", int64(p.s.MaxHeaderValueLength))
}

func (p *Parser) trailerTooLarge() *ParseError {
	return limitError(StatusRequestHeaderFieldsTooLarge, "the trailer section", "MaxTrailerSize", int64(p.s.MaxTrailerSize))
}

// finishHead builds the request once the empty line ending at headEnd
// has been seen; the head starts at in[0].
func (p *Parser) finishHead(in []byte, headEnd int) (*Request, BodyKind, int, *ParseError) {
	if p.proto == HTTP11 && p.hosts == 0 {
		return nil, 0, 0, badRequest("missing Host header field")
	}
	if p.te {
		if p.contentLen >= 0 {
			// RFC 9112 §6.3: a smuggling vector; reject and close.
			return nil, 0, 0, badRequest("both Transfer-Encoding and Content-Length")
		}
		if p.proto == HTTP10 {
			return nil, 0, 0, badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if !p.chunked {
			return nil, 0, 0, badRequest("chunked is not the final transfer coding")
		}
	}
	if p.contentLen > p.s.MaxContentLength {
		return nil, 0, 0, limitError(StatusContentTooLarge, "the declared Content-Length", "MaxContentLength", p.s.MaxContentLength)
	}
	body, strictLen := BodyNone, 0
	switch {
	case p.chunked:
		body = BodyChunked
	case p.contentLen > 0 && int64(len(in)-headEnd) >= p.contentLen:
		strictLen = int(p.contentLen)
	case p.contentLen > 0:
		body = BodyLength
	}

	// Copy what the request keeps of the head, its target and its field
	// lines but their line ends, one after the other (and a body that is
	// already here, after them), into memory the request owns; every string
	// of the request points into it. The rest of the head (the method, a
	// constant; the version; the line ends) is not copied. A body that
	// does not fit the request's object with the rest gets memory of its
	// own, of its size: not the next size class up of both together, which
	// the collector would pay for.
	kept := p.tEnd - p.tStart
	for _, f := range p.fields {
		kept += int(f.ve - f.ns)
	}
	r, hdr, buf := newRequest(len(p.fields), kept, strictLen, p.s.ReuseRequests)
	if buf == nil {
		buf = make([]byte, kept+strictLen)
	}
	var data []byte
	switch {
	case strictLen == 0:
	case len(buf) == kept+strictLen:
		data = buf[kept:len(buf):len(buf)]
		copy(data, in[headEnd:headEnd+strictLen])
	case r.class != 0:
		data = r.takeBody(strictLen)
		copy(data, in[headEnd:headEnd+strictLen])
	default:
		data = append([]byte(nil), in[headEnd:headEnd+strictLen]...) // not zeroed before the copy, unlike make
	}

	// Field by field, and only what is not zero: each store of a pointer
	// into the heap object costs a write barrier while the collector runs,
	// and a struct assignment a bulk one.
	r.Method = p.method // a constant or a registered custom method: never the input's memory
	// Neither a target nor a field name is ever empty.
	w := copy(buf, in[p.tStart:p.tEnd]) // where the next string goes in buf
	r.Target = unsafe.String(&buf[0], w)
	uri := &p.target
	if uri.scheme.e >= 0 {
		r.URI.Scheme = subString(r.Target, uri.scheme)
	}
	if uri.authority.e >= 0 {
		r.URI.Authority = subString(r.Target, uri.authority)
	}
	if uri.path.e > uri.path.s {
		r.URI.Path = subString(r.Target, uri.path)
	} else if uri.scheme.e >= 0 {
		// An absolute-form target with an empty path: for an origin
		// server that path is "/" (RFC 9110 §4.2.3, RFC 9112 §3.2.2).
		r.URI.Path = "/"
	}
	if uri.query.e >= 0 {
		r.URI.RawQuery = subString(r.Target, uri.query)
	}
	r.Proto = p.proto
	r.Header = hdr
	for i, f := range p.fields {
		h := &r.Header[i]
		// The field line but its end, in one copy: the colon and the
		// whitespace around the value come along.
		k := copy(buf[w:], in[f.ns:f.ve])
		line := unsafe.String(&buf[w], k)
		w += k
		h.Name = line[:f.ne-f.ns]
		if f.vs < f.ve {
			h.Value = line[f.vs-f.ns:]
		}
	}
	if uri.scheme.e >= 0 {
		// An absolute-form target names the host: the Host field, still
		// required and validated, is ignored (RFC 9112 §3.2.2).
		r.Host = r.URI.Authority
	} else if p.host >= 0 {
		r.Host = r.Header[p.host].Value
	}
	if p.ctype >= 0 {
		r.ContentType = r.Header[p.ctype].Value
	}
	if p.expect >= 0 {
		r.Expect = r.Header[p.expect].Value
	}
	r.ContentLength = p.contentLen
	r.Chunked = p.chunked
	r.Upgrade = p.connUpgrade
	r.Close = p.connClose || (p.proto == HTTP10 && !p.connKeep)

	switch {
	case strictLen > 0:
		r.strict.Type, r.strict.Data = r.ContentType, data
		r.Entity = &r.strict
	case body == BodyNone:
		if r.ContentType == "" {
			r.Entity = entity.Empty
		} else {
			r.strict.Type = r.ContentType
			r.Entity = &r.strict
		}
	}

	switch body {
	case BodyNone:
		p.resetHead()
	case BodyLength:
		p.state, p.remaining = stBody, p.contentLen
	case BodyChunked:
		p.state, p.phase, p.pos, p.remaining = stChunkSize, phSize, 0, 0
	}
	return r, body, headEnd + strictLen, nil
}
