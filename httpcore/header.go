package httpcore

import "github.com/streamhttp/streamhttp/entity"

// Header is one header field with its name and value as sent. Names compare
// case-insensitively (RFC 9110 §5.1).
type Header = entity.Header

// Headers is an ordered list of header fields: the order and spelling of the
// wire are kept, and lookups ignore the case of names.
type Headers []Header

// Get returns the value of the first field named name, or "".
func (h Headers) Get(name string) string {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return ""
}

// Lookup returns the value of the first field named name and whether there is one.
func (h Headers) Lookup(name string) (string, bool) {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return h[i].Value, true
		}
	}
	return "", false
}

// Values returns the values of every field named name, in order.
func (h Headers) Values(name string) []string {
	var vs []string
	for i := range h {
		if equalFold(h[i].Name, name) {
			vs = append(vs, h[i].Value)
		}
	}
	return vs
}

// Has reports whether a field named name is present.
func (h Headers) Has(name string) bool {
	_, ok := h.Lookup(name)
	return ok
}

// Add appends a field.
func (h *Headers) Add(name, value string) { *h = append(*h, Header{Name: name, Value: value}) }

// Set replaces every field named name with one field (appended if absent,
// in place of the first otherwise).
func (h *Headers) Set(name, value string) {
	out := (*h)[:0]
	set := false
	for _, f := range *h {
		if equalFold(f.Name, name) {
			if set {
				continue
			}
			f.Value, set = value, true
		}
		out = append(out, f)
	}
	if !set {
		out = append(out, Header{Name: name, Value: value})
	}
	clear((*h)[len(out):])
	*h = out
}

// Del removes every field named name.
func (h *Headers) Del(name string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !equalFold(f.Name, name) {
			out = append(out, f)
		}
	}
	clear((*h)[len(out):])
	*h = out
}

// equalFold compares ASCII strings case-insensitively; header names are
// tokens, so no Unicode folding applies.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
