package httpcore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/streamhttp/streamhttp/entity"
)

// ErrInvalidRequest is the failure of [AppendRequest] for a request that
// cannot be sent as valid HTTP/1.1; the error wrapping it says which part
// is at fault, without quoting it.
var ErrInvalidRequest = errors.New("httpcore: invalid request")

// AppendRequest appends r as a client sends it (RFC 9112 §3): request line,
// header section and, for a Strict entity, the body. It serves tests, the
// replay of captured requests and clients; a server never needs it. On
// failure dst is returned unchanged with an error wrapping
// [ErrInvalidRequest]: a method that is not a token, a request-target with
// a byte that RFC 3986 does not allow in one (space, control, non-ASCII,
// '#', a bracket outside the host), a field with an invalid name or value, or the chunked coding on
// HTTP/1.0.
//
// The request line is r.Method ("" means GET), r.Target ("" means "/") and
// r.Proto. Fields are r.Header in order, except Content-Length and
// Transfer-Encoding, which the body decides; when r.Header has no Host a
// Host field comes first (RFC 9110 §7.2) with r.Host, else
// r.URI.Authority, else (HTTP/1.1 only) an empty value (RFC 9112 §3.2).
// When r.Header has no Content-Type, the entity's is added. The typed
// views Close, Expect and Upgrade are not rendered: r.Header carries them.
//
// Body (RFC 9112 §6): a Strict entity is sent with Content-Length, or
// chunk-encoded when r.Chunked is set on HTTP/1.1; an empty one gets
// "Content-Length: 0" only for POST, PUT and PATCH, whose content has a
// meaning (RFC 9110 §8.6). A streamed entity gets its head only: a Default
// entity Content-Length, any other Transfer-Encoding: chunked, and the
// caller appends the body (through [AppendChunk] and [AppendLastChunk] for
// chunked). With no entity, the typed fields decide: r.Chunked gives
// Transfer-Encoding: chunked, a positive r.ContentLength a Content-Length;
// the body is the caller's.
func AppendRequest(dst []byte, r *Request) ([]byte, error) {
	start := len(dst)
	fail := func(format string, args ...any) ([]byte, error) {
		return dst[:start], fmt.Errorf("%w: "+format, append([]any{ErrInvalidRequest}, args...)...)
	}
	method := r.Method
	if method == "" {
		method = MethodGet
	}
	if !tokenString(string(method)) {
		return fail("the method is not a token")
	}
	target := r.Target
	if target == "" {
		target = "/"
	}
	// Brackets only enclose an IP-literal host (RFC 3986 §3.2.2): in the
	// authority of the absolute-form or the authority-form.
	hostEnd := 0
	if target[0] != '/' {
		hostEnd = len(target)
		if i := strings.Index(target, "://"); i >= 0 {
			if j := strings.IndexAny(target[i+3:], "/?"); j >= 0 {
				hostEnd = i + 3 + j
			}
		}
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; charClass[c]&cPath == 0 && ((c != '[' && c != ']') || i >= hostEnd) {
			return fail("invalid character in the request-target at byte %d", i)
		}
	}
	proto11 := r.Proto != HTTP10
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	if proto11 {
		dst = append(dst, " HTTP/1.1\r\n"...)
	} else {
		dst = append(dst, " HTTP/1.0\r\n"...)
	}

	if !r.Header.Has("Host") {
		host := r.Host
		if host == "" {
			host = r.URI.Authority
		}
		if host != "" || proto11 {
			if !fieldValue(host) {
				return fail("invalid Host")
			}
			dst = appendField(dst, "Host", host)
		}
	}
	hasType := false
	for i := range r.Header {
		h := &r.Header[i]
		if !tokenString(h.Name) {
			return fail("header field %d: invalid name", i)
		}
		if !fieldValue(h.Value) {
			return fail("header field %d: invalid value", i)
		}
		switch len(h.Name) {
		case 12:
			hasType = hasType || equalFold(h.Name, "content-type")
		case 14:
			if equalFold(h.Name, "content-length") {
				continue
			}
		case 17:
			if equalFold(h.Name, "transfer-encoding") {
				continue
			}
		}
		dst = appendField(dst, h.Name, h.Value)
	}

	var strict *entity.Strict
	length, chunked := int64(-1), false
	switch e := r.Entity.(type) {
	case nil:
		if r.Chunked {
			chunked = true
		} else {
			length = max(r.ContentLength, 0)
		}
	case *entity.Strict:
		strict, length = e, int64(len(e.Data))
		chunked = r.Chunked && proto11
	default:
		if length = e.ContentLength(); length < 0 {
			chunked = true
		}
	}
	if !hasType && r.Entity != nil {
		if ct := r.Entity.ContentType(); ct != "" {
			if !fieldValue(ct) {
				return fail("invalid Content-Type")
			}
			dst = appendField(dst, "Content-Type", ct)
		}
	}
	switch {
	case chunked:
		if !proto11 {
			// RFC 9112 §6.1: HTTP/1.0 has no transfer codings.
			return fail("the chunked coding needs HTTP/1.1")
		}
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case length > 0 || length == 0 && (method == MethodPost || method == MethodPut || method == MethodPatch):
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, length, 10)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, '\r', '\n')
	if strict != nil {
		if chunked {
			dst = AppendChunk(dst, strict.Data, "")
			dst = AppendLastChunk(dst, "", nil)
		} else {
			dst = append(dst, strict.Data...)
		}
	}
	return dst, nil
}
