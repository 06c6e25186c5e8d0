package httpcore

import (
	"bytes"
	"net/netip"
	"unsafe"
)

// Character classes of RFC 9110 §5.6.2 (token), RFC 9110 §5.5 (field
// values) and RFC 3986 (URIs), as 256-entry tables; and the syntax built
// on them: hosts, schemes and the forms of a request-target.

const (
	cToken = 1 << iota // tchar
	cValue             // field-vchar, SP, HTAB (obs-text included)
	cPath              // pchar and '/' '?' (a request-target after the form prefix), '%' checked separately
	cHost              // unreserved, sub-delims except ',' (host names; '%' is checked separately)
	cHex
	cTarget  // cPath and '[' ']' (an IP-literal in an authority; parseTarget checks where)
	cPlain   // cPath but '%': a target of these needs no further checks in origin-form
	cPlainNQ // cPlain but '?': such a target has no query either
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alpha := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
		digit := '0' <= b && b <= '9'
		unreserved := alpha || digit || b == '-' || b == '.' || b == '_' || b == '~'
		subDelim := b == '!' || b == '$' || b == '&' || b == '\'' || b == '(' || b == ')' ||
			b == '*' || b == '+' || b == ',' || b == ';' || b == '='
		if alpha || digit || b == '!' || b == '#' || b == '$' || b == '%' || b == '&' || b == '\'' ||
			b == '*' || b == '+' || b == '-' || b == '.' || b == '^' || b == '_' || b == '`' || b == '|' || b == '~' {
			t[c] |= cToken
		}
		if b == '\t' || (b >= 0x20 && b != 0x7f) {
			t[c] |= cValue
		}
		if unreserved || subDelim || b == ':' || b == '@' || b == '/' || b == '?' || b == '%' {
			t[c] |= cPath
		}
		if t[c]&cPath != 0 && b != '%' {
			t[c] |= cPlain
			if b != '?' {
				t[c] |= cPlainNQ
			}
		}
		if t[c]&cPath != 0 || b == '[' || b == ']' {
			t[c] |= cTarget
		}
		if unreserved || (subDelim && b != ',') {
			t[c] |= cHost
		}
		if digit || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' {
			t[c] |= cHex
		}
	}
	return t
}()

func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if charClass[c]&cToken == 0 {
			return false
		}
	}
	return true
}

// validPct reports whether every '%' in s starts a pct-encoded triplet.
func validPct(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || charClass[s[i+1]]&cHex == 0 || charClass[s[i+2]]&cHex == 0 {
				return false
			}
			i += 2
		}
	}
	return true
}

// lowerASCII returns c lower-cased.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldBytes compares b with the lower-case ASCII string s.
func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return charClass[c]&cHex != 0 }

func isDigit(c byte) bool { return c-'0' <= 9 }

func unhex(c byte) int64 {
	switch {
	case '0' <= c && c <= '9':
		return int64(c - '0')
	case 'a' <= c && c <= 'f':
		return int64(c-'a') + 10
	}
	return int64(c-'A') + 10
}

// validScheme checks scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s []byte) bool {
	for i, c := range s {
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !isDigit(c) && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return len(s) > 0
}

// validHost checks Host = uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986
// §3.2.2); an empty value is allowed (RFC 9112 §3.2: the target has no
// authority). A comma (a list) is rejected although reg-name allows it: no
// single host is named that way. So is an empty host before a port.
func validHost(v []byte) bool {
	// The common case in one pass: a host name or IPv4 address without
	// pct-encoding, and an optional port. Anything else takes the long way.
	i := 0
	for i < len(v) && charClass[v[i]]&cHost != 0 {
		i++
	}
	if i == len(v) {
		return true
	}
	if i > 0 && v[i] == ':' {
		j := i + 1
		for j < len(v) && isDigit(v[j]) {
			j++
		}
		if j == len(v) {
			return true
		}
	}
	return validHostSlow(v)
}

// validHostSlow is validHost for any value.
func validHostSlow(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	var port []byte
	if v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 0 || !validIPv6(v[1:end]) {
			return false
		}
		if rest := v[end+1:]; len(rest) > 0 {
			if rest[0] != ':' {
				return false
			}
			port = rest[1:]
		}
	} else {
		host := v
		if c := bytes.LastIndexByte(v, ':'); c >= 0 {
			host, port = v[:c], v[c+1:]
		}
		if len(host) == 0 {
			return false
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if charClass[c]&cHost == 0 && c != '%' {
				return false
			}
			if c == '%' { // pct-encoded = "%" HEXDIG HEXDIG
				if i+2 >= len(host) || !isHex(host[i+1]) || !isHex(host[i+2]) {
					return false
				}
				i += 2
			}
		}
	}
	for _, c := range port {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validIPv6 checks the inside of an IP-literal: an IPv6address (RFC 3986
// §3.2.2; IPvFuture and zone identifiers are not accepted).
func validIPv6(s []byte) bool {
	if len(s) < 2 {
		return false
	}
	for _, c := range s {
		if !isHex(c) && c != ':' && c != '.' {
			return false
		}
	}
	// No copy: ParseAddr keeps no reference to an address without a zone.
	a, err := netip.ParseAddr(unsafe.String(&s[0], len(s)))
	return err == nil && a.Is6()
}

// span is a [start, end) range into a request-target; end < 0 means absent.
type span struct{ s, e int }

type targetSpans struct{ scheme, authority, path, query span }

var noSpan = span{-1, -1}

func subString(s string, sp span) string {
	if sp.e < 0 {
		return ""
	}
	return s[sp.s:sp.e]
}

// parseTarget checks a request-target whose characters are all pchar,
// '/', '?', '%', '[' or ']' (RFC 3986; so no fragment, space, control or
// raw byte >= 0x80) against the forms of RFC 9112 §3.2: origin-form,
// absolute-form without userinfo (RFC 9110 §4.2.4), authority-form only
// and always for CONNECT, asterisk-form only for OPTIONS. Brackets may
// only enclose an IP-literal host.
func (p *Parser) parseTarget(t []byte) *ParseError {
	ts := &p.target
	*ts = targetSpans{noSpan, noSpan, noSpan, noSpan}
	if !validPct(t) {
		return badRequest("invalid percent-encoding in the request-target")
	}
	noBrackets := func(s []byte) bool { return bytes.IndexByte(s, '[') < 0 && bytes.IndexByte(s, ']') < 0 }
	switch {
	case p.method == MethodConnect:
		// authority-form = uri-host ":" port, the port required (§3.2.3).
		c := bytes.LastIndexByte(t, ':')
		if c <= 0 || c == len(t)-1 || bytes.IndexByte(t[c:], ']') >= 0 || !validHost(t) {
			return badRequest("CONNECT needs an authority-form request-target (host:port)")
		}
		ts.authority = span{0, len(t)}
		return nil
	case t[0] == '/':
		if !noBrackets(t) {
			return badRequest("invalid character in the request-target")
		}
		ts.path, ts.query = splitQuery(t, 0)
		return nil
	case len(t) == 1 && t[0] == '*':
		if p.method != MethodOptions {
			return badRequest("the asterisk-form request-target is only for OPTIONS")
		}
		ts.path = span{0, 1}
		return nil
	}
	// absolute-form: scheme "://" authority path-abempty [ "?" query ].
	colon := bytes.Index(t, []byte("://"))
	if colon <= 0 || !validScheme(t[:colon]) {
		return badRequest("invalid request-target")
	}
	ts.scheme = span{0, colon}
	as := colon + 3
	ae := as
	for ae < len(t) && t[ae] != '/' && t[ae] != '?' {
		ae++
	}
	auth := t[as:ae]
	if bytes.IndexByte(auth, '@') >= 0 {
		return badRequest("userinfo in the request-target")
	}
	if len(auth) == 0 || !validHost(auth) || !noBrackets(t[ae:]) {
		return badRequest("invalid authority in the request-target")
	}
	ts.authority = span{as, ae}
	ts.path, ts.query = splitQuery(t, ae)
	return nil
}

func splitQuery(t []byte, from int) (path, query span) {
	if q := bytes.IndexByte(t[from:], '?'); q >= 0 {
		return span{from, from + q}, span{from + q + 1, len(t)}
	}
	return span{from, len(t)}, noSpan
}
