package httpcore

import (
	"strconv"
	"unsafe"

	"github.com/streamhttp/streamhttp/entity"
)

// The response renderer: bytes out for a [Response], no I/O and no
// goroutines. It appends to a caller's buffer, so a connection renders
// pipelined responses into one buffer and writes them at once.
//
// A head is laid out as in RFC 9112 §2.1 and §4:
//
//	status-line              HTTP/1.1 200 OK
//	user fields, in order    (minus the managed ones, minus invalid ones)
//	Server                   RenderContext.Server, unless the user sent one
//	Date                     the cached IMF-fixdate, unless the user sent one
//	Connection               when the close decision needs saying
//	Transfer-Encoding        chunked, when the body is chunk-encoded
//	Content-Type             from the entity
//	Content-Length           from a Strict or Default entity
//	CRLF
//
// No byte of a user field can break out of its line: a field whose name is
// not a token or whose value holds a CR, LF, NUL or other control (HTAB
// aside) is dropped (RFC 9110 §5.1, §5.5; RFC 9112 §5), so no response can
// be split.

// RenderContext is what the renderer needs to know about the request a
// response answers and about the connection. The zero value answers an
// HTTP/1.1 GET that did not ask to close.
type RenderContext struct {
	// Method is the request's method ("" means GET). A response to HEAD
	// never carries body bytes; a 2xx response to CONNECT neither.
	Method Method
	// Proto is the request's protocol. An HTTP/1.0 client gets no chunked
	// coding (a body of unknown length is close-delimited instead) and its
	// connection persists only when it asked for keep-alive.
	Proto Protocol
	// CloseRequested is set when the request asked to close the connection
	// after the response (Request.Close: "Connection: close", or HTTP/1.0
	// without keep-alive).
	CloseRequested bool
	// ForceClose is set when the server closes the connection after this
	// response whatever the headers say: an error response, a response sent
	// before the request body was read, shutdown.
	ForceClose bool
	// Server is the value of the Server field to add unless the response
	// carries its own; "" adds none. ServerChecked says the caller has made
	// sure it is a valid field value (ValidFieldValue), which spares the
	// check on every response.
	Server        string
	ServerChecked bool
	// Date, when not empty, is the IMF-fixdate to send in the Date field;
	// empty means the current time (AppendDate). A connection rendering a
	// burst of pipelined responses reads the clock once for all of them.
	Date []byte
	// Warn, if not nil, is called with the name of each field of the
	// response that the renderer drops. The name is the user's and may hold
	// any byte: quote it when logging it.
	Warn func(name string)
}

// commonType reports whether ct is one of the content types responses carry
// most, known to be valid field values: a comparison is cheaper than a scan.
func commonType(ct string) bool {
	switch ct {
	case "text/plain; charset=utf-8", "application/json", "application/octet-stream",
		"text/html; charset=utf-8", "text/plain":
		return true
	}
	return false
}

// ValidFieldValue reports whether v can be sent as a field value: no CR, LF,
// NUL or other control character but HTAB (RFC 9110 §5.5).
func ValidFieldValue(v string) bool { return fieldValue(v) }

func (rc *RenderContext) warn(name string) {
	if rc.Warn != nil {
		rc.Warn(name)
	}
}

// Framing is how the body of a rendered response follows its head.
type Framing uint8

const (
	// FramingNone: no body bytes follow the head. A streamed entity's data
	// must be cancelled, not written.
	FramingNone Framing = iota
	// FramingLength: exactly HeadInfo.ContentLength raw bytes follow.
	FramingLength
	// FramingChunked: the body follows in the chunked coding: each piece of
	// data through [AppendChunk], then one [AppendLastChunk].
	FramingChunked
	// FramingClose: raw bytes follow until the connection closes
	// (RFC 9112 §6.3, item 8); HeadInfo.Close is set.
	FramingClose
)

var framingNames = [...]string{"none", "length", "chunked", "close"}

// String returns the framing's name ("chunked").
func (f Framing) String() string {
	if int(f) < len(framingNames) {
		return framingNames[f]
	}
	return "Framing(" + strconv.Itoa(int(f)) + ")"
}

// HeadInfo is what the caller of [AppendResponseHead] must do after the
// head: how to send the body and whether to close the connection.
type HeadInfo struct {
	Framing Framing
	// ContentLength is the number of body bytes to follow when Framing is
	// FramingLength, else 0. A Default entity whose data stream amounts to
	// more or fewer bytes must fail the response (and close).
	ContentLength int64
	// Close is set when the connection must close once this response has
	// been written.
	Close bool
}

// Status lines of the statuses this package names, by code and protocol.
var statusLines = func() (t [2][600]string) {
	for s, reason := range reasons {
		if s < 600 {
			t[0][s] = "HTTP/1.1 " + strconv.Itoa(int(s)) + " " + reason + "\r\n"
			t[1][s] = "HTTP/1.0 " + strconv.Itoa(int(s)) + " " + reason + "\r\n"
		}
	}
	return t
}()

// appendStatusLine appends status-line = HTTP-version SP status-code SP
// [ reason-phrase ] CRLF (RFC 9112 §4). A code without a reason phrase
// keeps the SP before the empty phrase.
func appendStatusLine(dst []byte, p Protocol, s Status) []byte {
	i := 0
	if p == HTTP10 {
		i = 1
	}
	if s < 600 {
		if l := statusLines[i][s]; l != "" {
			return append(dst, l...)
		}
	}
	if i == 1 {
		dst = append(dst, "HTTP/1.0 "...)
	} else {
		dst = append(dst, "HTTP/1.1 "...)
	}
	return append(dst, byte('0'+s/100), byte('0'+s/10%10), byte('0'+s%10), ' ', '\r', '\n')
}

// Fields of a response that the renderer manages.
const (
	fieldOther uint8 = iota
	fieldDate
	fieldServer
	fieldConnection
	fieldFraming // Content-Length, Content-Type, Transfer-Encoding
)

func managedField(name string) uint8 {
	switch len(name) {
	case 4:
		if equalFold(name, "date") {
			return fieldDate
		}
	case 6:
		if equalFold(name, "server") {
			return fieldServer
		}
	case 10:
		if equalFold(name, "connection") {
			return fieldConnection
		}
	case 12:
		if equalFold(name, "content-type") {
			return fieldFraming
		}
	case 14:
		if equalFold(name, "content-length") {
			return fieldFraming
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return fieldFraming
		}
	}
	return fieldOther
}

// tokenString reports whether s is a token (RFC 9110 §5.6.2), the syntax of
// a field name (RFC 9110 §5.1).
func tokenString(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cToken == 0 {
			return false
		}
	}
	return true
}

// fieldValue reports whether s may be sent as a field value: VCHAR, SP,
// HTAB and obs-text only (RFC 9110 §5.5). CR, LF and NUL, which would end
// or corrupt the field line, are excluded with every other control.
func fieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cValue == 0 {
			return false
		}
	}
	return true
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// connOptions are the options of a user's Connection fields that the
// renderer acts on (RFC 9110 §7.6.1).
type connOptions struct {
	seen, close, keepAlive, upgrade, other bool
}

func (o *connOptions) add(v string) {
	o.seen = true
	for rest := unsafe.Slice(unsafe.StringData(v), len(v)); rest != nil; {
		var elem []byte
		elem, rest = nextListElem(rest)
		switch {
		case len(elem) == 0:
		case equalFoldBytes(elem, "close"):
			o.close = true
		case equalFoldBytes(elem, "keep-alive"):
			o.keepAlive = true
		case equalFoldBytes(elem, "upgrade"):
			o.upgrade = true
		default:
			o.other = true
		}
	}
}

// AppendResponseHead appends the head of r, the response to the request
// rc describes, to dst and returns the extended buffer and how the body
// must follow. It never writes body bytes; see [AppendResponse].
//
// Status: an invalid code (not 100 to 999) is rendered as 500. The version
// is r.Proto's: HTTP/1.0 or else HTTP/1.1.
//
// Fields: the user's fields are rendered in order, except:
//   - a field with an invalid name or value is dropped (Warn);
//   - Content-Length, Content-Type and Transfer-Encoding are dropped (Warn):
//     the entity decides them;
//   - Connection is never rendered as given: its close, keep-alive and
//     upgrade options are acted on (below); one with other options is
//     reported to Warn;
//   - Date and Server are kept, and replace the defaults.
//
// Body (RFC 9112 §6.3): no body for a HEAD request (RFC 9110 §9.3.2), which
// still gets the Content-Length of a non-empty entity of known length; no
// body and no Content-Length for 1xx, 204 and 304 (RFC 9110 §6.4.1) and for
// a 2xx to CONNECT (RFC 9110 §9.3.6); otherwise a Strict entity and a Default
// one of known length get Content-Length (RFC 9110 §8.6), a Chunked entity
// (or a streamed one of unknown length) gets Transfer-Encoding: chunked
// when request and response are HTTP/1.1 (RFC 9112 §6.1, §7.1) and is
// close-delimited otherwise, and a CloseDelimited entity is close-delimited
// (RFC 9112 §6.3, item 8). A HEAD response to HTTP/1.1 names the chunked
// coding a GET would get; it never forces a close. Content-Type comes from
// the entity, except for 1xx, 204 and a 2xx to CONNECT, which have no
// content.
//
// Connection (RFC 9112 §9.3, §9.6; the decision table of Pekko HTTP's
// renderer, with a client's close honoured unconditionally): the
// connection closes after the response when rc.ForceClose or
// rc.CloseRequested is set, when the user's Connection lists close, when
// the body is close-delimited, or when an HTTP/1.0 response answers an
// HTTP/1.1 request and the user's Connection does not list keep-alive (an
// HTTP/1.1 client need not honour HTTP/1.0 keep-alive). "Connection: close"
// or "Connection: keep-alive" is rendered whenever the peer could not
// infer the decision from the versions and its own request; a user's
// upgrade option is rendered too (RFC 9110 §7.8). A 1xx response is
// interim: it decides nothing about the connection. (Sending one to an
// HTTP/1.0 client is the caller's to avoid: RFC 9110 §15.2.)
func AppendResponseHead(dst []byte, r *Response, rc *RenderContext) ([]byte, HeadInfo) {
	dst, info, _ := appendResponseHead(dst, r, rc)
	return dst, info
}

// AppendResponse appends the whole of r when its entity is Strict (or nil):
// head and body in one buffer. For a streamed entity it appends the head
// only, like [AppendResponseHead]. complete reports whether nothing is left
// to write; when it is false the caller writes the entity's data as
// info.Framing says. When it is true for a streamed entity (a HEAD
// response, say) the caller must cancel the entity's data stream.
func AppendResponse(dst []byte, r *Response, rc *RenderContext) (out []byte, info HeadInfo, complete bool) {
	dst, info, strict := appendResponseHead(dst, r, rc)
	if strict != nil {
		if info.Framing == FramingLength {
			dst = append(dst, strict.Data...)
		}
		return dst, info, true
	}
	return dst, info, info.Framing == FramingNone
}

func appendResponseHead(dst []byte, r *Response, rc *RenderContext) ([]byte, HeadInfo, *entity.Strict) {
	status := r.Status
	if !status.Valid() {
		status = StatusInternalServerError
	}
	respProto, reqProto := HTTP11, HTTP11
	if r.Proto == HTTP10 {
		respProto = HTTP10
	}
	if rc.Proto == HTTP10 {
		reqProto = HTTP10
	}
	head := rc.Method == MethodHead
	interim := status < 200
	connect2xx := rc.Method == MethodConnect && status >= 200 && status < 300
	// RFC 9112 §6.3 items 1 and 2: these responses end with their head.
	noContent := interim || status == StatusNoContent || status == StatusNotModified || connect2xx

	dst = appendStatusLine(dst, respProto, status)

	var hasDate, hasServer bool
	var conn connOptions
	for i := range r.Header {
		h := &r.Header[i]
		if !tokenString(h.Name) || !fieldValue(h.Value) {
			rc.warn(h.Name)
			continue
		}
		switch managedField(h.Name) {
		case fieldDate:
			hasDate = true
		case fieldServer:
			hasServer = true
		case fieldConnection:
			conn.add(h.Value)
			if conn.other {
				conn.other = false
				rc.warn(h.Name)
			}
			continue
		case fieldFraming:
			rc.warn(h.Name)
			continue
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	if !hasServer && rc.Server != "" {
		if rc.ServerChecked || fieldValue(rc.Server) {
			dst = appendField(dst, "Server", rc.Server)
		} else {
			rc.warn("Server")
		}
	}
	if !hasDate {
		dst = append(dst, "Date: "...)
		if len(rc.Date) > 0 {
			dst = append(dst, rc.Date...)
		} else {
			dst = AppendDate(dst)
		}
		dst = append(dst, '\r', '\n')
	}

	// The framing a GET would get, then what this response sends.
	ent := r.Entity
	if ent == nil {
		ent = entity.Empty
	}
	var strict *entity.Strict
	length := int64(-1)
	closeDelimited := false
	switch e := ent.(type) {
	case *entity.Strict:
		strict, length = e, int64(len(e.Data))
	case *entity.CloseDelimited:
		closeDelimited = true
	case *entity.Chunked:
	default: // Default, and any other entity of known or unknown length
		length = e.ContentLength()
	}
	chunkedOK := reqProto == HTTP11 && respProto == HTTP11
	var info HeadInfo
	var sendLength, sendChunked bool
	switch {
	case noContent:
	case length >= 0:
		// RFC 9110 §9.3.2: a HEAD response should carry the fields a GET
		// would; the length of a non-empty entity is known, so it is sent.
		// An empty entity answering HEAD may just be "no body", so a
		// Content-Length: 0 that could contradict GET is not.
		sendLength = !head || length > 0
		if !head && length > 0 {
			info.Framing, info.ContentLength = FramingLength, length
		}
	case !closeDelimited && chunkedOK:
		sendChunked = true
		if !head {
			info.Framing = FramingChunked
		}
	case !head:
		info.Framing = FramingClose
	}

	if !interim {
		closing := rc.ForceClose || rc.CloseRequested || conn.close || info.Framing == FramingClose
		if respProto == HTTP10 && !closing {
			if conn.seen {
				closing = !conn.keepAlive
			} else {
				closing = reqProto == HTTP11
			}
		}
		info.Close = closing
	}
	// Say the decision when the peer's default would differ: HTTP/1.1
	// persists unless told, HTTP/1.0 closes unless told (RFC 9112 §9.3).
	sayConn := !interim && (respProto == HTTP10 && !info.Close || respProto == HTTP11 && info.Close ||
		info.Close != rc.CloseRequested || respProto != reqProto)
	if sayConn || conn.upgrade {
		dst = append(dst, "Connection: "...)
		switch {
		case sayConn && info.Close:
			dst = append(dst, "close"...)
		case sayConn:
			dst = append(dst, "keep-alive"...)
		}
		if conn.upgrade {
			if sayConn {
				dst = append(dst, ',', ' ')
			}
			dst = append(dst, "upgrade"...)
		}
		dst = append(dst, '\r', '\n')
	}

	if sendChunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if ct := ent.ContentType(); ct != "" && !interim && status != StatusNoContent && !connect2xx {
		if commonType(ct) || fieldValue(ct) {
			dst = appendField(dst, "Content-Type", ct)
		} else {
			rc.warn("Content-Type")
		}
	}
	if sendLength {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, '\r', '\n')
	return dst, info, strict
}

// AppendChunk appends one chunk of the chunked coding (RFC 9112 §7.1):
// the size in hex, the extension ext (without its leading ';') if it is
// valid chunk-ext syntax (RFC 9112 §7.1.1), CRLF, the data and CRLF. An
// invalid extension, which could smuggle a CR or LF into the framing, is
// dropped. Empty data appends nothing: a zero-size chunk would end the body.
func AppendChunk(dst []byte, data []byte, ext string) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(data), ext)
	dst = append(dst, data...)
	return append(dst, '\r', '\n')
}

// AppendChunkHeader appends the line that opens a chunk of size bytes
// (size > 0), with its extension as in [AppendChunk]: the chunk's data and
// a CRLF must follow. A writer that sends large chunks uses it to send the
// data without copying it.
func AppendChunkHeader(dst []byte, size int, ext string) []byte {
	dst = strconv.AppendInt(dst, int64(size), 16)
	dst = appendChunkExt(dst, ext)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk of the chunked coding with its
// extension (dropped if invalid, as in [AppendChunk]) and trailer section
// (RFC 9112 §7.1.2). A trailer field is dropped when its name is not a
// token, its value holds a control character, or it is one that a trailer
// must not carry because it frames, routes or manages the message
// (Content-Length, Transfer-Encoding, Host, Connection; RFC 9110 §6.5.1).
func AppendLastChunk(dst []byte, ext string, trailer []Header) []byte {
	dst = append(dst, '0')
	dst = appendChunkExt(dst, ext)
	dst = append(dst, '\r', '\n')
	for i := range trailer {
		h := &trailer[i]
		if !tokenString(h.Name) || !fieldValue(h.Value) || forbiddenTrailer(h.Name) {
			continue
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	return append(dst, '\r', '\n')
}

func forbiddenTrailer(name string) bool {
	switch len(name) {
	case 4:
		return equalFold(name, "host")
	case 10:
		return equalFold(name, "connection")
	case 14:
		return equalFold(name, "content-length")
	case 17:
		return equalFold(name, "transfer-encoding")
	}
	return false
}

func appendChunkExt(dst []byte, ext string) []byte {
	if !validExtension(ext) {
		return dst
	}
	dst = append(dst, ';')
	return append(dst, ext...)
}

// validExtension reports whether ";" + ext is chunk-ext syntax
// (RFC 9112 §7.1.1):
//
//	chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
//
// ext is a chunk's extension as the parser reports it: what follows the
// first ';'.
func validExtension(ext string) bool {
	if ext == "" || ext[len(ext)-1] == ' ' || ext[len(ext)-1] == '\t' {
		return false // BWS only comes before ';' or '='
	}
	return chunkExtSyntax(ext, false)
}
