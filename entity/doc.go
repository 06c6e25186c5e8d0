// Package entity holds the bodies of HTTP requests and responses: their
// content type, their length when it is known, and their bytes as a
// [stream.Source]. It knows nothing of connections or of the wire format;
// package httpcore parses and renders entities, and the server streams them.
//
// # Overview
//
// An [Entity] is one of four kinds, chosen by how the length of the body is
// known (RFC 9112 §6):
//
//   - [Strict]: the data is in memory, so the length is known. Requests
//     and responses. Small bodies arrive as Strict entities when they are
//     already in the read buffer.
//   - [Default]: a declared length (Content-Length, RFC 9112 §6.2) and the
//     data as a stream that must amount to exactly that many bytes.
//     Requests and responses.
//   - [Chunked]: the chunked transfer coding (RFC 9112 §7.1): a stream of
//     [ChunkPart] values carrying data, chunk extensions and, on the last
//     chunk, trailer fields. The length is known only at the end. Requests
//     and responses.
//   - [CloseDelimited]: the body ends when the connection closes (RFC 9112
//     §6.3, rule 8). Responses only: a request without a declared length
//     has no body (rule 7), since the client cannot close the connection
//     and still read the response.
//
// Build entities with [NewStrict], [Text], [NewDefault], [NewChunked],
// [ChunkedFromData] and [NewCloseDelimited], or as struct literals; [Empty]
// is the empty entity. The kinds form a closed set: a type switch over the
// four pointer types is exhaustive.
//
//	e := entity.Text("hello")                                  // Content-Length: 5
//	e := entity.ChunkedFromData("text/csv", rows)              // Transfer-Encoding: chunked
//	e := entity.NewDefault("application/octet-stream", n, src) // Content-Length: n, streamed
//
// # Consuming data
//
// [Entity.DataBytes] returns the data as a stream of byte slices, for every
// kind. The data of a streamed request entity comes straight off the
// connection: it can be run only once. The server wraps it with [Once], so that a second run fails with
// [ErrConsumed] instead of reading bytes that belong to the next request.
// A handler that needs the body twice reads it into memory with [ToStrict]
// first; one that does not want it leaves it alone or calls [Discard].
// Response entities built by user code have whatever reuse their sources
// have: a blueprint such as stream.FromSlice can run any number of times.
//
// [TransformData] passes the data through a flow (compression, a checksum)
// and yields a Chunked entity, since the length may change.
//
// # Limits
//
// [WithSizeLimit] caps the data of an entity: a declared length over the
// limit fails as soon as the data is run, without reading it; streamed data
// fails as soon as more than the limit has passed. [ToStrict] takes a limit
// of its own. Both fail with a [*SizeLimitError] carrying the limit and,
// when the entity declared its length, that length (Declared is -1 for
// streamed data). A server applies its request body limit this way and
// answers a SizeLimitError with 413 (Content Too Large, RFC 9110 §15.5.14).
// Limits stack: wrapping an entity again can lower its limit, never raise
// it.
//
// # Errors
//
//   - [ErrConsumed]: a second run of single-use data.
//   - [*SizeLimitError]: the data exceeds a limit.
//   - [*LengthMismatchError]: the data of a Default entity does not amount
//     to its declared length (ToStrict checks it).
//   - Failures of the data stream itself (a connection that breaks while a
//     body arrives, a parse error in chunked framing) pass through unchanged,
//     and a cancelled context yields its cause.
//
// All of them fail the stream that carries the data; when a consumer such
// as ToStrict stops reading because of one of them, it cancels the data
// stream with it, so the producer learns why.
package entity
