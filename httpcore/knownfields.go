package httpcore

import (
	"bytes"
	"math"
)

// The header fields the parser acts on while it scans a head: Host,
// Content-Length, Transfer-Encoding, Connection, Content-Type and Expect.

// knownField records the fields that decide framing and connection handling.
func (p *Parser) knownField(name, value []byte, idx int) *ParseError {
	switch len(name) {
	case 4:
		if equalFoldBytes(name, "host") {
			p.hosts++
			if p.hosts > 1 {
				return badRequest("more than one Host header field")
			}
			if !validHost(value) {
				return badRequest("invalid Host header field")
			}
			p.host = idx
		}
	case 6:
		if equalFoldBytes(name, "expect") && p.expect < 0 {
			p.expect = idx // the first, as Headers.Get has it
		}
	case 10:
		if equalFoldBytes(name, "connection") {
			p.connection(value)
		}
	case 12:
		if equalFoldBytes(name, "content-type") {
			if p.ctype >= 0 {
				return badRequest("more than one Content-Type header field")
			}
			p.ctype = idx
		}
	case 14:
		if equalFoldBytes(name, "content-length") {
			return p.contentLength(value)
		}
	case 17:
		if equalFoldBytes(name, "transfer-encoding") {
			return p.transferEncoding(value)
		}
	}
	return nil
}

// contentLength parses Content-Length = 1*DIGIT (RFC 9112 §6.3): anything
// else (a sign, "0x", inner whitespace, a list), an overflow of int64, or a
// second field with another value is a 400.
func (p *Parser) contentLength(v []byte) *ParseError {
	if len(v) == 0 {
		return badRequest("invalid Content-Length")
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return badRequest("invalid Content-Length")
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return badRequest("Content-Length overflows")
		}
		n = n*10 + d
	}
	if p.contentLen >= 0 && p.contentLen != n {
		return badRequest("conflicting Content-Length header fields")
	}
	p.contentLen = n
	return nil
}

// transferEncoding parses a Transfer-Encoding field (RFC 9112 §6.1). The
// field decides where a request ends, so any spelling that another parser
// (a front proxy, a cache) could read differently is a smuggling vector:
// the parser accepts exactly one non-empty element, chunked, whatever the
// number of fields. Empty list elements (",chunked", "chunked,"), which
// RFC 9110 §5.6.1 lets a recipient skip, are a 400, as are an empty value
// and chunked applied twice; net/http rejects all of them too, and a proxy
// that matches the exact token "chunked" would not see chunked framing in
// them. Codings other than chunked are not implemented (501).
func (p *Parser) transferEncoding(v []byte) *ParseError {
	p.te = true
	if len(v) == 0 {
		return badRequest("empty Transfer-Encoding")
	}
	for rest := v; rest != nil; {
		var elem []byte
		elem, rest = nextListElem(rest)
		if len(elem) == 0 {
			return badRequest("empty element in the Transfer-Encoding list")
		}
		if p.chunked {
			if equalFoldBytes(elem, "chunked") {
				return badRequest("chunked applied more than once")
			}
			return badRequest("chunked is not the final transfer coding")
		}
		if !equalFoldBytes(elem, "chunked") {
			if !isToken(elem) {
				return badRequest("invalid Transfer-Encoding")
			}
			return &ParseError{Status: StatusNotImplemented, Reason: "unsupported transfer coding"}
		}
		p.chunked = true
	}
	return nil
}

// nextListElem splits the first element off a comma-separated list
// (RFC 9110 §5.6.1), trimmed of whitespace; rest is nil after the last.
func nextListElem(v []byte) (elem, rest []byte) {
	if c := bytes.IndexByte(v, ','); c >= 0 {
		elem, rest = v[:c], v[c+1:]
	} else {
		elem = v
	}
	for len(elem) > 0 && (elem[0] == ' ' || elem[0] == '\t') {
		elem = elem[1:]
	}
	for len(elem) > 0 && (elem[len(elem)-1] == ' ' || elem[len(elem)-1] == '\t') {
		elem = elem[:len(elem)-1]
	}
	return elem, rest
}

// connection records the options of a Connection field (RFC 9110 §7.6.1).
func (p *Parser) connection(v []byte) {
	for rest := v; rest != nil; {
		var elem []byte
		elem, rest = nextListElem(rest)
		switch {
		case equalFoldBytes(elem, "close"):
			p.connClose = true
		case equalFoldBytes(elem, "keep-alive"):
			p.connKeep = true
		case equalFoldBytes(elem, "upgrade"):
			p.connUpgrade = true
		}
	}
}
