package h1

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// serveBytes runs the layer with no driver over the input chunks, joined
// with handler, and returns what it wrote, piece by piece.
func serveBytes(t *testing.T, handler func(*Request) *Response, chunks ...string) [][]byte {
	t.Helper()
	cfg := &Config{PipeliningLimit: 16, MaxDrainBytes: 1 << 20, Logger: slog.Default()}
	cfg.Parser.MaxContentLength = 1 << 20
	in := make([][]byte, len(chunks))
	for i, c := range chunks {
		in[i] = []byte(c)
	}
	flow := bidi.JoinLeft(stream.Map(handler), NewLayer(cfg))
	// The layer's output is valid until its next pull: keep copies.
	keep := stream.Map(func(p []byte) []byte { return bytes.Clone(p) })
	out, err := stream.RunWith(context.Background(), stream.Via(stream.Via(stream.FromSlice(in), flow), keep), stream.Collect[[]byte]())
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	return out
}

// TestLargeStrictBody: a strict body larger than copyBody leaves in a piece
// of its own, the caller's memory as it is, right after its head; a smaller
// one leaves with its head. The bytes on the wire are the same either way,
// pipelined responses stay in order, and a HEAD response carries no body.
func TestLargeStrictBody(t *testing.T) {
	large := strings.Repeat("0123456789abcdef", copyBody/16+1)
	small := strings.Repeat("s", copyBody)
	handler := func(r *Request) *Response {
		if r.URI.Path == "/small" {
			return httpcore.Bytes(httpcore.StatusOK, "text/plain", []byte(small))
		}
		return httpcore.Bytes(httpcore.StatusOK, "text/plain", []byte(large))
	}
	req := func(method, path string) string {
		return method + " " + path + " HTTP/1.1\r\nHost: a\r\n\r\n"
	}
	out := serveBytes(t, handler, req("GET", "/large")+req("GET", "/small")+req("HEAD", "/large")+req("GET", "/large"))

	var want [][]byte
	head := func(n int) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + itoa(n) + "\r\n\r\n"
	}
	want = append(want, []byte(head(len(large))), []byte(large))
	want = append(want, []byte(head(len(small))+small))
	want = append(want, []byte(head(len(large))))
	want = append(want, []byte(head(len(large))), []byte(large))
	// Date varies: compare without it.
	for i := range out {
		out[i] = dropDate(out[i])
	}
	if len(out) != len(want) {
		t.Fatalf("%d pieces, want %d:\n%q", len(out), len(want), out)
	}
	for i := range want {
		if !bytes.Equal(out[i], want[i]) {
			t.Errorf("piece %d:\n got %.120q\nwant %.120q", i, out[i], want[i])
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// dropDate removes the Date field line from a response head.
func dropDate(p []byte) []byte {
	i := bytes.Index(p, []byte("\r\nDate: "))
	if i < 0 {
		return p
	}
	j := bytes.Index(p[i+2:], []byte("\r\n"))
	return append(p[:i:i], p[i+2+j:]...)
}
