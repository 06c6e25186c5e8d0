// Package httpcore is the HTTP/1.1 message layer of streamhttp: the model
// ([Request], [Response], [Headers], [Method], [Status]), a streaming request
// [Parser] and a response renderer. It does no I/O and starts no goroutines:
// bytes in, events out; messages in, bytes out. Sockets, timeouts and
// connection management belong to the server layer in the root package.
//
// # Overview
//
// A connection feeds its input to a [Parser] with [Parser.Next], which
// returns one [Event] at a time: a request head as soon as it is complete
// (with its body already attached as an [entity.Strict] when the whole body
// was in the input), then the body's data or chunks, then the end of the
// message. Several pipelined requests in one buffer come out one after the
// other; any split of the input gives the same events.
//
// Responses are rendered with the Append functions (AppendResponseHead,
// AppendChunk, AppendLastChunk, AppendResponse) into a caller's buffer: the
// renderer decides Content-Length, chunked or close-delimited framing from
// the entity and the request, and whether the connection must close.
//
// # Strictness
//
// The parser is the first line of defence against request smuggling, so it
// follows RFC 9112 to the letter where leniency is a known attack vector:
// CRLF only (a bare LF or CR is a 400, in the head and in chunked framing);
// Transfer-Encoding together with Content-Length is a 400; chunked must be
// the final transfer coding; chunk-size lines are hex digits only; obsolete
// line folding is rejected (RFC 9112 §5.2 lets a server reject it, and
// replacing it invites disagreement with other parsers); a request-target
// may contain only the characters of RFC 3986, and neither a fragment nor
// userinfo; HTTP/1.1 requests need exactly one valid Host.
//
// # Transfer-Encoding
//
// A request is chunked only when its Transfer-Encoding fields hold exactly
// one non-empty element, chunked (any case, whitespace around it allowed):
// the set net/http accepts, so neither can frame a request the other reads
// differently. Everything else is refused before a body byte is read, each
// with its own reason:
//
//	Transfer-Encoding: ,chunked          400 empty element in the Transfer-Encoding list
//	Transfer-Encoding: chunked,          400 empty element in the Transfer-Encoding list
//	Transfer-Encoding:                   400 empty Transfer-Encoding
//	Transfer-Encoding: chunked, chunked  400 chunked applied more than once (also in two fields)
//	Transfer-Encoding: chunked, gzip     400 chunked is not the final transfer coding
//	Transfer-Encoding: chunked;q=1       400 invalid Transfer-Encoding (parameters, quotes, spaces)
//	Transfer-Encoding: gzip, chunked     501 unsupported transfer coding
//
// RFC 9110 §5.6.1 lets a recipient skip empty list elements; the parser
// refuses them instead, because a front proxy that matches the exact token
// "chunked" would frame ",chunked" by Content-Length or by the connection's
// end while the server framed it as chunked. Transfer-Encoding in an
// HTTP/1.0 request is a 400 (net/http ignores the field there).
//
// # Limits
//
// Every limit is a field of [ParserSettings] whose zero value means the
// default: URI 2 KiB (414), method 16 bytes (400), header name 64 bytes,
// value 8 KiB, 64 fields, a whole head 64 KiB and a trailer section of
// 8 KiB (431), declared body 8 MiB (413), chunk 1 MiB and chunk extensions
// 256 bytes. The size of a head is checked as its bytes arrive, so a head
// that never ends costs at most the limit. A [ParseError] names the setting
// to raise, and its text never echoes request bytes.
//
// # Request line
//
// A request line is judged whole: its syntax as the bytes arrive, then its
// version (505 for a major version other than 1, whatever the method and
// target: the HTTP/2 connection preface, "PRI * HTTP/2.0", gets 505), then
// its method (501 unless standard or registered), then the form of its
// target. For an absolute-form target the request's Host is the target's
// authority and its empty path is "/" (RFC 9112 §3.2.2); the Host field is
// still required in HTTP/1.1 and validated.
//
// # Memory
//
// Everything a handler receives is safe to keep: the parser copies what a
// request keeps of its head (the target and the field lines, not the
// request line's other parts nor the line ends), and a body that is already
// complete, into memory the [Request] owns, and every string of the
// request points into that copy. Small heads and up to a dozen header
// fields live inside the Request itself, so parsing a typical request costs
// one or two allocations; a body that does not fit there with the head
// gets memory of its own, of its size. Event.Data, the bytes of a
// streamed body, aliases the caller's input and is valid until the caller
// reuses that buffer.
//
// A server whose handlers keep nothing of a request past its response may
// reuse that memory: with [ParserSettings].ReuseRequests the parser builds
// requests in the memory of those given back with [RecycleRequest] (a body
// that came with its head too, up to 64 KiB), and a request costs no
// allocation. RecycleRequest refuses what someone may still look at: a
// request kept with [Request.Keep], one whose context someone waited on,
// copies, and requests of parsers without reuse. The pools are in reuse.go.
//
// # Request contexts
//
// A server gives each request a context with [Request.AttachContext]: a
// child of the connection's context that [Request.CancelContext] ends when
// the response is done. It is built into the Request and allocates nothing
// until a handler asks for its Done channel, so handlers that never look at
// their context cost the server nothing for it.
//
// # Errors
//
// A request the parser rejects yields a Failed event with a [*ParseError]:
// the status to answer with (400, 413, 414, 431, 501, 505) and a reason. A
// failure inside a body that is already being delivered has InBody set: the
// request has been dispatched, and the error fails its entity stream. In
// both cases the connection must close after answering, because the framing
// of anything that follows can no longer be trusted.
package httpcore
