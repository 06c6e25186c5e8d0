package httpcore

import "bytes"

// The chunked transfer coding (RFC 9112 §7.1), strictly:
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	chunk-size   = 1*HEXDIG
//	last-chunk   = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
// No sign, no "0x", no whitespace after the size unless an extension
// follows, CRLF only (a bare LF or CR is an
// error). Like the head, a chunk-size line is scanned once, resuming where
// the previous call stopped, and each error is decided at the byte that
// makes the line invalid (the extension grammar at the end of the line).

// maxChunkDigits bounds the digits of a chunk size, leading zeros included:
// the buffer a caller keeps for an incomplete line stays bounded.
const maxChunkDigits = 16

// parseChunkSize scans a chunk-size line, which starts at in[0], from
// p.pos. It returns the bytes consumed when the line is complete (0: need
// more) and moves the parser to the chunk's data or, for the last chunk, to
// its trailer section.
func (p *Parser) parseChunkSize(in []byte) (int, *ParseError) {
	i := p.pos
	if p.phase == phSize {
		for ; i < len(in) && isHex(in[i]); i++ {
			if i == maxChunkDigits {
				return 0, badRequest("invalid chunk size (too many digits)")
			}
			// remaining holds the size so far: it is 0 at the start of the line.
			p.remaining = p.remaining<<4 | unhex(in[i])
			if p.remaining > int64(p.s.MaxChunkSize) {
				return 0, limitError(StatusContentTooLarge, "a chunk size", "MaxChunkSize", int64(p.s.MaxChunkSize))
			}
		}
		if i == len(in) {
			p.pos = i
			return 0, nil
		}
		switch c := in[i]; {
		case i == 0:
			return 0, badRequest("invalid chunk size")
		case c == ';' || c == ' ' || c == '\t':
			p.phase, p.extStart = phExt, i
		case c != '\r' && c != '\n':
			return 0, badRequest("invalid chunk size")
		}
	}
	if p.phase == phExt {
		lim := p.extStart + p.s.MaxChunkExtLength
		for ; i < len(in) && charClass[in[i]]&cValue != 0; i++ {
			if i >= lim {
				return 0, limitError(StatusBadRequest, "a chunk extension", "MaxChunkExtLength", int64(p.s.MaxChunkExtLength))
			}
		}
		if i == len(in) {
			p.pos = i
			return 0, nil
		}
	}
	switch {
	case in[i] == '\n':
		return 0, errBareLF()
	case in[i] != '\r':
		return 0, badRequest("invalid character in a chunk extension")
	case i+1 == len(in):
		p.pos = i
		return 0, nil
	case in[i+1] != '\n':
		return 0, errBareCR()
	}
	var ext []byte
	if p.phase == phExt {
		ext = in[p.extStart:i]
		if !validChunkExt(ext) {
			return 0, badRequest("invalid chunk extension")
		}
		ext = ext[bytes.IndexByte(ext, ';')+1:]
	}
	p.chunkExt, p.extOut = string(ext), false
	if p.remaining == 0 {
		p.state, p.phase, p.pos = stTrailer, phLineStart, 0
		p.fields = p.fields[:0]
	} else {
		p.state = stChunkData
	}
	return i + 2, nil
}

// validChunkExt checks chunk-ext as it follows a chunk size (RFC 9112
// §7.1.1), with at least one extension:
//
//	chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
func validChunkExt(s []byte) bool { return chunkExtSyntax(s, true) }

// chunkExtSyntax checks chunk-ext syntax in s; when semicolon is false, s is
// what follows the first ';' (as the parser reports an extension) and its
// first extension starts without one.
func chunkExtSyntax[S ~string | ~[]byte](s S, semicolon bool) bool {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		start := i
		for i < len(s) && charClass[s[i]]&cToken != 0 {
			i++
		}
		return i > start
	}
	for n := 0; ; n++ {
		ws()
		if i == len(s) {
			return n > 0
		}
		if semicolon || n > 0 {
			if s[i] != ';' {
				return false
			}
			i++
			ws()
		}
		if !token() {
			return false
		}
		ws()
		if i == len(s) || s[i] != '=' {
			continue
		}
		i++
		ws()
		if i < len(s) && s[i] == '"' {
			if !skipQuoted(s, &i) {
				return false
			}
		} else if !token() {
			return false
		}
	}
}

// skipQuoted moves *i past the quoted-string that starts at s[*i] (RFC 9110
// §5.6.4) and reports whether there is a valid one.
func skipQuoted[S ~string | ~[]byte](s S, i *int) bool {
	for j := *i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			*i = j + 1
			return true
		case c == '\\':
			j++
			if j == len(s) || charClass[s[j]]&cValue == 0 {
				return false
			}
		case charClass[c]&cValue == 0:
			return false
		}
	}
	return false
}

// parseTrailer parses the trailer section after the last chunk (it starts
// at in[0]): header fields up to an empty line, bounded by MaxTrailerSize
// and MaxHeaderCount.
func (p *Parser) parseTrailer(in []byte) (Event, int) {
	end, err := p.scanFields(in, true)
	if err != nil {
		return p.failBody(err)
	}
	if end == 0 {
		return Event{Kind: NeedMore}, 0
	}
	ev := Event{Kind: LastChunk, Extension: p.chunkExt}
	if len(p.fields) > 0 {
		// One copy of the whole section backs every trailer string.
		section := string(in[:end])
		ev.Trailer = make([]Header, len(p.fields))
		for k, f := range p.fields {
			ev.Trailer[k] = Header{Name: section[f.ns:f.ne], Value: section[f.vs:f.ve]}
		}
	}
	p.fields = p.fields[:0]
	p.pos = 0
	p.state = stEnd
	return ev, end
}
