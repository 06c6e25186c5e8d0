// Package proxyproto parses the header of the PROXY protocol, versions 1
// (text) and 2 (binary), that a load balancer (HAProxy, nginx, Envoy, a
// cloud balancer) sends at the start of a connection to pass on the
// addresses of the client's connection to it.
//
// # Overview
//
// Parse reads a header from the start of a byte slice and says how many
// bytes it took. It does no I/O and keeps no state: the caller decides how
// to get the bytes (the server peeks at its socket, so that it never reads
// past the header) and what to do with a header from a source it does not
// trust.
//
// # Errors
//
// Parse answers each call with exactly one of:
//
//   - a *Header and its length: the header is complete and valid;
//   - ErrNeedMore: the bytes are a strict prefix of a header (every strict
//     prefix of a valid header says so, never a wrong answer); the length
//     is returned too once it is known (a version 2 header after its first
//     16 bytes), so that a caller may read exactly that much;
//   - ErrNotProxy: the bytes do not start with either signature (a plain
//     HTTP request, say);
//   - a *HeaderError: the bytes start with a signature but are not a valid
//     header; it says which version and why.
//
// # Limits
//
// A version 1 header is at most MaxV1Length bytes, by the specification.
// A version 2 header may carry up to 65535 bytes after its fixed part;
// Parse accepts any length and leaves a tighter bound to its caller, which
// knows the length from ErrNeedMore before it reads the bytes.
//
// # Strictness
//
// Version 1: single spaces, "TCP4" with a dotted-quad IPv4 address, "TCP6"
// with an IPv6 address (no zone), decimal ports 0 to 65535 without leading
// zeros, CRLF. "UNKNOWN" takes anything up to the CRLF and carries no
// addresses.
//
// Version 2: version nibble 2, command LOCAL or PROXY, a defined family and
// protocol pair, an address block at least as long as the family needs, and
// type-length-value records (TLVs) that fill the rest exactly. A LOCAL
// header (the balancer's own health check) carries no addresses, whatever
// its block holds.
//
// The specification is "The PROXY protocol, versions 1 & 2" in HAProxy's
// documentation (doc/proxy-protocol.txt).
package proxyproto
