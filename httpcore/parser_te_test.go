package httpcore

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// teCase is a request whose Transfer-Encoding fields are fields, each sent
// as "Transfer-Encoding: <field>"; want is nil when the request is accepted.
type teCase struct {
	name   string
	fields []string
	want   *evRec
}

func teFailure(status Status, reason string) *evRec {
	e := failsWith(status, reason)
	return &e
}

var teCases = []teCase{
	{name: "chunked", fields: []string{"chunked"}},
	{name: "Chunked", fields: []string{"Chunked"}},
	{name: "CHUNKED", fields: []string{"CHUNKED"}},
	{name: "whitespace around chunked", fields: []string{" \tchunked\t "}},

	{name: "empty element before chunked", fields: []string{",chunked"},
		want: teFailure(StatusBadRequest, "empty element in the Transfer-Encoding list")},
	{name: "empty element after chunked", fields: []string{"chunked,"},
		want: teFailure(StatusBadRequest, "empty element in the Transfer-Encoding list")},
	{name: "empty elements around chunked", fields: []string{", CHUNKED ,"},
		want: teFailure(StatusBadRequest, "empty element in the Transfer-Encoding list")},
	{name: "only commas", fields: []string{" , "},
		want: teFailure(StatusBadRequest, "empty element in the Transfer-Encoding list")},
	{name: "empty value", fields: []string{""},
		want: teFailure(StatusBadRequest, "empty Transfer-Encoding")},
	{name: "whitespace value", fields: []string{" \t "},
		want: teFailure(StatusBadRequest, "empty Transfer-Encoding")},
	{name: "an empty field before chunked", fields: []string{"", "chunked"},
		want: teFailure(StatusBadRequest, "empty Transfer-Encoding")},
	{name: "chunked, chunked", fields: []string{"chunked, chunked"},
		want: teFailure(StatusBadRequest, "chunked applied more than once")},
	{name: "chunked in two fields", fields: []string{"chunked", "Chunked"},
		want: teFailure(StatusBadRequest, "chunked applied more than once")},
	{name: "chunked, gzip", fields: []string{"chunked, gzip"},
		want: teFailure(StatusBadRequest, "chunked is not the final transfer coding")},
	{name: "chunked then a gzip field", fields: []string{"chunked", "gzip"},
		want: teFailure(StatusBadRequest, "chunked is not the final transfer coding")},
	{name: "parameters", fields: []string{"chunked;q=1"},
		want: teFailure(StatusBadRequest, "invalid Transfer-Encoding")},
	{name: "quoted", fields: []string{`"chunked"`},
		want: teFailure(StatusBadRequest, "invalid Transfer-Encoding")},
	{name: "inner space", fields: []string{"chunked x"},
		want: teFailure(StatusBadRequest, "invalid Transfer-Encoding")},
	{name: "Kelvin sign", fields: []string{"chun\u212aed"},
		want: teFailure(StatusBadRequest, "invalid Transfer-Encoding")},
	{name: "gzip, chunked", fields: []string{"gzip, chunked"},
		want: teFailure(StatusNotImplemented, "unsupported transfer coding")},
	{name: "gzip then a chunked field", fields: []string{"gzip", "chunked"},
		want: teFailure(StatusNotImplemented, "unsupported transfer coding")},
	{name: "identity", fields: []string{"identity"},
		want: teFailure(StatusNotImplemented, "unsupported transfer coding")},
	{name: "chunk", fields: []string{"chunk"},
		want: teFailure(StatusNotImplemented, "unsupported transfer coding")},
}

// teRequest is the wire form of c: a chunked POST with a 3-byte body.
func teRequest(c teCase) string {
	var b strings.Builder
	b.WriteString("POST /p HTTP/1.1\r\nHost: a\r\n")
	for _, f := range c.fields {
		b.WriteString("Transfer-Encoding: " + f + "\r\n")
	}
	b.WriteString("\r\n3\r\nabc\r\n0\r\n\r\n")
	return b.String()
}

// TestParserTransferEncoding: exactly one non-empty element, chunked, is
// accepted; every other spelling gets its own precise error, whole, split
// at every point and byte by byte.
func TestParserTransferEncoding(t *testing.T) {
	var cases []wireCase
	for _, c := range teCases {
		in := teRequest(c)
		var want []evRec
		if c.want != nil {
			want = []evRec{*c.want}
		} else {
			kv := []string{"Host", "a"}
			for _, f := range c.fields {
				kv = append(kv, "Transfer-Encoding", strings.Trim(f, " \t"))
			}
			want = []evRec{head(req("POST", "/p", kv...).chunked(), BodyChunked), chunk("abc", ""), last(""), end()}
		}
		cases = append(cases, wireCase{name: c.name, in: in, want: want})
	}
	runWireCases(t, cases)
}

// TestParserTransferEncodingAgreesWithNetHTTP: every case is accepted by
// the parser exactly when net/http accepts it, so a net/http peer in front
// of or behind the server never disagrees about where a request ends.
func TestParserTransferEncodingAgreesWithNetHTTP(t *testing.T) {
	for _, c := range teCases {
		t.Run(c.name, func(t *testing.T) {
			in := teRequest(c)
			ev, _ := NewParser(ParserSettings{}).Next([]byte(in))
			ours := ev.Kind == RequestHead
			theirs := false
			if r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(in))); err == nil {
				body, err := io.ReadAll(r.Body)
				theirs = err == nil && string(body) == "abc"
			}
			if ours != theirs {
				t.Errorf("%q: parser accepts %v, net/http accepts %v", in, ours, theirs)
			}
			if ours != (c.want == nil) {
				t.Errorf("%q: parser accepts %v, the case says %v", in, ours, c.want == nil)
			}
		})
	}
}
