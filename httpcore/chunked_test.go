package httpcore

import (
	"bytes"
	"io"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// chunkedHead is the head before every body of the chunked tests.
const chunkedHead = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

var chunkedHeadEv = head(req("POST", "/c", "Host", "a", "Transfer-Encoding", "chunked").chunked(), BodyChunked)

// chunkedCase is a chunked body after chunkedHead and the events after
// the head.
type chunkedCase struct {
	name string
	body string
	s    ParserSettings
	want []evRec
}

func chunkedCases() []chunkedCase {
	return []chunkedCase{{
		name: "§7.1 one chunk",
		body: "5\r\nhello\r\n0\r\n\r\n",
		want: []evRec{chunk("hello", ""), last(""), end()},
	}, {
		name: "§7.1 no chunks",
		body: "0\r\n\r\n",
		want: []evRec{last(""), end()},
	}, {
		name: "§7.1 upper- and lower-case hex",
		body: "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
		want: []evRec{chunk("0123456789", ""), chunk("abcdefghij", ""), last(""), end()},
	}, {
		name: "§7.1 leading zeros and a last chunk of zeros",
		body: "0005\r\nhello\r\n000\r\n\r\n",
		want: []evRec{chunk("hello", ""), last(""), end()},
	}, {
		name: "§7.1 chunk data with CRLF inside",
		body: "4\r\n\r\n\r\n\r\n0\r\n\r\n",
		want: []evRec{chunk("\r\n\r\n", ""), last(""), end()},
	}, {
		name: "§7.1 sixteen hex digits",
		body: "0000000000000003\r\nabc\r\n0\r\n\r\n",
		want: []evRec{chunk("abc", ""), last(""), end()},
	}, {
		name: "§7.1.1 extension: a name",
		body: "5;name\r\nhello\r\n0\r\n\r\n",
		want: []evRec{chunk("hello", "name"), last(""), end()},
	}, {
		name: "§7.1.1 extensions: token and quoted-string values",
		body: "5;a=1;b=\"x \\\"y\\\" ;z\"\r\nhello\r\n0\r\n\r\n",
		want: []evRec{chunk("hello", `a=1;b="x \"y\" ;z"`), last(""), end()},
	}, {
		name: "§7.1.1 extensions with BWS",
		body: "5 ; a = b\t;\tc\r\nhello\r\n0\r\n\r\n",
		want: []evRec{chunk("hello", " a = b\t;\tc"), last(""), end()},
	}, {
		name: "§7.1.1 extension on the last chunk",
		body: "0;done=1\r\n\r\n",
		want: []evRec{last("done=1"), end()},
	}, {
		name: "§7.1.1 extension at the limit",
		body: "1;" + strings.Repeat("e", 255) + "\r\nx\r\n0\r\n\r\n",
		want: []evRec{chunk("x", strings.Repeat("e", 255)), last(""), end()},
	}, {
		name: "§7.1.2 trailer fields",
		body: "5\r\nhello\r\n0\r\nX-Sum: abc\r\nx-two:2 \r\n\r\n",
		want: []evRec{chunk("hello", ""), last("", "X-Sum", "abc", "x-two", "2"), end()},
	}, {
		name: "§7.1.2 trailer section at a custom limit",
		body: "0\r\nX: 1234567890\r\n\r\n",
		s:    ParserSettings{MaxTrailerSize: 17},
		want: []evRec{last("", "X", "1234567890"), end()},
	}, {
		name: "§9.3 a request after a chunked one",
		body: "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
		want: []evRec{chunk("a", ""), last(""), end(), head(req("GET", "/", "Host", "b"), BodyNone)},
	}, {
		name: "§7.1 bad hex digit -> 400",
		body: "g\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 hex digits then junk -> 400",
		body: "5" + marker + "\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 0x prefix -> 400",
		body: "0x5\r\nhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 negative size -> 400",
		body: "-1\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 plus sign -> 400",
		body: "+5\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 leading space -> 400",
		body: " 5\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 trailing space without an extension -> 400",
		body: "5 \r\nhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 empty size line -> 400",
		body: "\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 missing last chunk -> 400",
		body: "3\r\nfoo\r\n\r\n",
		want: []evRec{chunk("foo", ""), failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 seventeen hex digits -> 400",
		body: "00000000000000001\r\na\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1 chunk above MaxChunkSize -> 413",
		body: "100001\r\n",
		want: []evRec{failsInBody(StatusContentTooLarge, "MaxChunkSize")},
	}, {
		name: "§7.1 chunk size overflowing int64 -> 413",
		body: "fffffffffffffffff\r\n",
		want: []evRec{failsInBody(StatusContentTooLarge, "MaxChunkSize")},
	}, {
		name: "§7.1 chunk above a custom MaxChunkSize -> 413",
		body: "5\r\nhello\r\n11\r\n",
		s:    ParserSettings{MaxChunkSize: 16},
		want: []evRec{chunk("hello", ""), failsInBody(StatusContentTooLarge, "MaxChunkSize")},
	}, {
		name: "§7.1 chunk data without CRLF -> 400",
		body: "5\r\nhello" + marker + "\r\n0\r\n\r\n",
		want: []evRec{chunk("hello", ""), failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 semicolon without a name -> 400",
		body: "5;\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 '=' without a value -> 400",
		body: "5;a=\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 two values -> 400",
		body: "5;a=b " + marker + "\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 unbalanced quote -> 400",
		body: "5;a=\"" + marker + "\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 NUL in an extension -> 400",
		body: "5;a=\"\x00\"\r\nhello\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.1 extension too long -> 400 MaxChunkExtLength",
		body: "1;" + strings.Repeat("e", 256) + "\r\nx\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "MaxChunkExtLength")},
	}, {
		name: "§7.1.1 extension too long while arriving -> 400 MaxChunkExtLength",
		body: "1;a=" + strings.Repeat("e", 300),
		want: []evRec{failsInBody(StatusBadRequest, "MaxChunkExtLength")},
	}, {
		name: "§7.1.1 extension above a custom limit -> 400 MaxChunkExtLength",
		body: "5;abcdefgh\r\nhello\r\n",
		s:    ParserSettings{MaxChunkExtLength: 8},
		want: []evRec{failsInBody(StatusBadRequest, "MaxChunkExtLength")},
	}, {
		name: "§2.2 bare LF after the size -> 400",
		body: "5\nhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR after the size -> 400",
		body: "5\rhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF after an extension -> 400",
		body: "5;a\nhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR in an extension -> 400",
		body: "5;a\rb\r\nhello\r\n0\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF after chunk data -> 400",
		body: "5\r\nhello\n0\r\n\r\n",
		want: []evRec{chunk("hello", ""), failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR after chunk data -> 400",
		body: "5\r\nhello\r0\r\n\r\n",
		want: []evRec{chunk("hello", ""), failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF after the last chunk -> 400",
		body: "0\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF in a trailer field -> 400",
		body: "0\r\nX: " + marker + "\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare LF ending the trailer section -> 400",
		body: "0\r\nX: 1\r\n\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§2.2 bare CR ending the trailer section -> 400",
		body: "0\r\n\rX",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.2 trailer obs-fold -> 400",
		body: "0\r\nX: 1\r\n " + marker + "\r\n\r\n",
		want: []evRec{failsInBody(StatusBadRequest, "")},
	}, {
		name: "§7.1.2 trailer section too large -> 431 MaxTrailerSize",
		body: "0\r\nX: 12345678901\r\n\r\n",
		s:    ParserSettings{MaxTrailerSize: 17},
		want: []evRec{failsInBody(StatusRequestHeaderFieldsTooLarge, "MaxTrailerSize")},
	}, {
		name: "§7.1.2 trailer section too large by default -> 431 MaxTrailerSize",
		body: "0\r\n" + strings.Repeat("X-Trailer: "+strings.Repeat("t", 500)+"\r\n", 17) + "\r\n",
		want: []evRec{failsInBody(StatusRequestHeaderFieldsTooLarge, "MaxTrailerSize")},
	}, {
		name: "§7.1.2 too many trailer fields -> 431 MaxHeaderCount",
		body: "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
		s:    ParserSettings{MaxHeaderCount: 2},
		want: []evRec{failsInBody(StatusRequestHeaderFieldsTooLarge, "MaxHeaderCount")},
	}, {
		name: "§7.1.2 trailer value too long -> 431 MaxHeaderValueLength",
		body: "0\r\nX: 12345678901\r\n\r\n",
		s:    ParserSettings{MaxHeaderValueLength: 10},
		want: []evRec{failsInBody(StatusRequestHeaderFieldsTooLarge, "MaxHeaderValueLength")},
	}}
}

func TestChunked(t *testing.T) {
	var cases []wireCase
	for _, c := range chunkedCases() {
		cases = append(cases, wireCase{name: c.name, in: chunkedHead + c.body, s: c.s, want: append([]evRec{chunkedHeadEv}, c.want...)})
	}
	runWireCases(t, cases)
}

// netHTTPRejects are the valid bodies net/http's chunked reader rejects,
// with the reason.
var netHTTPRejects = map[string]string{
	"§7.1.1 extensions with BWS": "it does not allow the BWS before ';' of RFC 9112 §7.1.1",
}

// TestChunkedReference decodes the valid bodies with net/http's chunked
// reader as well: both must give the same data.
func TestChunkedReference(t *testing.T) {
	for _, c := range chunkedCases() {
		if want := c.want[len(c.want)-1]; want.Kind == "Failed" {
			continue
		}
		var ours []byte
		for _, e := range c.want {
			if e.Kind == "ChunkData" {
				ours = append(ours, e.Data...)
			}
			if e.Kind == "LastChunk" {
				break
			}
		}
		theirs, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(c.body)))
		if why, ok := netHTTPRejects[c.name]; ok {
			if err == nil {
				t.Errorf("%s: net/http accepts it now (the table says %s)", c.name, why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: net/http: %v", c.name, err)
			continue
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s: data %q, net/http says %q", c.name, ours, theirs)
		}
	}
}

// TestChunkedExtensionOnFirstPiece: a chunk that arrives in pieces carries
// its extension on the first piece only.
func TestChunkedExtensionOnFirstPiece(t *testing.T) {
	got := feed(t, ParserSettings{}, []byte(chunkedHead+"a;x=1\r\nabc"), []byte("defg"), []byte("hij\r\n3\r\nklm\r\n0\r\n\r\n"))
	want := []evRec{chunkedHeadEv, chunk("abc", "x=1"), chunk("defg", ""), chunk("hij", ""), chunk("klm", ""), last(""), end()}
	if d := cmp.Diff(want, got.events); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestChunkedTrailerOutlivesBuffer: trailer fields and extensions are the
// receiver's, not views of the input.
func TestChunkedTrailerOutlivesBuffer(t *testing.T) {
	p := NewParser(ParserSettings{})
	buf := []byte(chunkedHead + "0;end=1\r\nX-Sum: 42\r\n\r\n")
	ev, n := p.Next(buf)
	if ev.Kind != RequestHead {
		t.Fatalf("got %v", kindNames[ev.Kind])
	}
	ev, _ = p.Next(buf[n:])
	for i := range buf {
		buf[i] = 'X'
	}
	if d := cmp.Diff(last("end=1", "X-Sum", "42"), evRec{Kind: kindNames[ev.Kind], Ext: ev.Extension, Trailer: ev.Trailer}); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
