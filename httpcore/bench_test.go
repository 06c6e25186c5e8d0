package httpcore

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// browserGET is a typical browser request: about 500 bytes, 10 header fields.
var browserGET = []byte("GET /docs/getting-started/index.html?lang=en&theme=dark HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://www.example.com/docs/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"\r\n")

// BenchmarkParseRequest parses browserGET with a reused Parser, as a
// connection does for each request.
func BenchmarkParseRequest(b *testing.B) {
	p := NewParser(ParserSettings{})
	b.ReportAllocs()
	b.SetBytes(int64(len(browserGET)))
	for b.Loop() {
		ev, n := p.Next(browserGET)
		if ev.Kind != RequestHead || n != len(browserGET) || len(ev.Request.Header) != 10 {
			b.Fatalf("got %v after %d bytes", ev.Kind, n)
		}
	}
}

// BenchmarkNetHTTPReadRequest is net/http's http.ReadRequest on the same bytes.
func BenchmarkNetHTTPReadRequest(b *testing.B) {
	r := bytes.NewReader(browserGET)
	br := bufio.NewReader(r)
	b.ReportAllocs()
	b.SetBytes(int64(len(browserGET)))
	for b.Loop() {
		r.Reset(browserGET)
		br.Reset(r)
		req, err := http.ReadRequest(br)
		if err != nil || len(req.Header) != 9 {
			b.Fatal(err)
		}
	}
}

// plaintextGET is the request of the TechEmpower-style plaintext benchmark
// as a load generator like wrk sends it: one header field.
const plaintextGET = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// BenchmarkParsePipelined parses 16 pipelined plaintextGET per buffer, as
// the server layer's pipelined benchmark feeds them, and reports the cost
// per request.
func BenchmarkParsePipelined(b *testing.B) {
	const perBuffer = 16
	buf := []byte(strings.Repeat(plaintextGET, perBuffer))
	p := NewParser(ParserSettings{})
	b.ReportAllocs()
	b.SetBytes(int64(len(plaintextGET)))
	n := 0
	for b.Loop() {
		in := buf
		for range perBuffer {
			ev, k := p.Next(in)
			if ev.Kind != RequestHead || k != len(plaintextGET) {
				b.Fatalf("got %v after %d bytes", ev.Kind, k)
			}
			in = in[k:]
		}
		n += perBuffer
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/req")
}
