package httpcore

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
)

// testDate is the Date that fixDate makes the renderer send.
const testDate = "Sun, 06 Nov 1994 08:49:37 GMT"

// fixDate makes AppendDate return testDate until the test ends.
func fixDate(t testing.TB) {
	t.Helper()
	old := timeNow
	timeNow = func() time.Time { return time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC) }
	dateCache.Store(nil)
	t.Cleanup(func() {
		timeNow = old
		dateCache.Store(nil)
	})
}

func strict(ct, body string) *entity.Strict { return &entity.Strict{Type: ct, Data: []byte(body)} }

// Streamed entities: the renderer never touches their data.
var (
	default5  = &entity.Default{Type: "application/octet-stream", Length: 5}
	default0  = &entity.Default{Length: 0}
	defaultUn = &entity.Default{Type: "text/plain", Length: -1}
	chunked   = &entity.Chunked{Type: "text/plain"}
	closeDel  = &entity.CloseDelimited{Type: "text/plain"}
)

const (
	srv  = "Server: streamhttp\r\n"
	date = "Date: " + testDate + "\r\n"
	dflt = srv + date // the default fields, in their place after user fields
)

type renderCase struct {
	name     string
	resp     *Response
	rc       RenderContext // Server "streamhttp" unless noServer
	noServer bool
	want     string
	info     HeadInfo
	complete bool
	warns    []string
}

func (c *renderCase) run(t *testing.T) {
	fixDate(t)
	rc := c.rc
	if !c.noServer && rc.Server == "" {
		rc.Server = "streamhttp"
	}
	var warns []string
	rc.Warn = func(name string) { warns = append(warns, name) }
	prefix := []byte("previous response|")
	got, info, complete := AppendResponse(bytes.Clone(prefix), c.resp, &rc)
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendResponse lost the buffer's contents: %q", got)
	}
	if d := cmp.Diff(c.want, string(got[len(prefix):])); d != "" {
		t.Errorf("wire bytes (-want +got):\n%s", d)
	}
	if info != c.info || complete != c.complete {
		t.Errorf("info, complete = %+v, %v; want %+v, %v", info, complete, c.info, c.complete)
	}
	if d := cmp.Diff(c.warns, warns); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	// The head alone is the same bytes up to the body.
	warns = nil
	head, hinfo := AppendResponseHead(nil, c.resp, &rc)
	if !strings.HasPrefix(c.want, string(head)) || !bytes.HasSuffix(head, []byte("\r\n\r\n")) || hinfo != c.info {
		t.Errorf("AppendResponseHead = %q, %+v; want a prefix of the response and %+v", head, hinfo, c.info)
	}
}

func TestAppendResponseStatusLine(t *testing.T) {
	for _, c := range []renderCase{{
		name: "200 with a strict entity (RFC 9112 §4)",
		resp: &Response{Status: StatusOK, Entity: strict("text/plain", "Hello, World!")},
		want: "HTTP/1.1 200 OK\r\n" + dflt + "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
		info: HeadInfo{Framing: FramingLength, ContentLength: 13}, complete: true,
	}, {
		name:     "404 with its reason phrase",
		resp:     &Response{Status: StatusNotFound},
		want:     "HTTP/1.1 404 Not Found\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name:     "unknown code keeps the SP before an empty reason (RFC 9112 §4)",
		resp:     &Response{Status: 599},
		want:     "HTTP/1.1 599 \r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name:     "999 is the largest code",
		resp:     &Response{Status: 999},
		want:     "HTTP/1.1 999 \r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name: "code below 100 renders 500",
		resp: &Response{Status: 42, Entity: strict("", "x")},
		want: "HTTP/1.1 500 Internal Server Error\r\n" + dflt + "Content-Length: 1\r\n\r\nx",
		info: HeadInfo{Framing: FramingLength, ContentLength: 1}, complete: true,
	}, {
		name:     "code above 999 renders 500",
		resp:     &Response{Status: 1000},
		want:     "HTTP/1.1 500 Internal Server Error\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name:     "HTTP/1.0 response keeps an HTTP/1.0 client's keep-alive",
		resp:     &Response{Status: StatusOK, Proto: HTTP10},
		rc:       RenderContext{Proto: HTTP10},
		want:     "HTTP/1.0 200 OK\r\n" + dflt + "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name: "HTTP/1.0 status line for an unnamed code",
		resp: &Response{Status: 299, Proto: HTTP10},
		rc:   RenderContext{Proto: HTTP10, CloseRequested: true},
		want: "HTTP/1.0 299 \r\n" + dflt + "Content-Length: 0\r\n\r\n",
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "no Server when the context has none",
		resp: &Response{Status: StatusNoContent}, noServer: true,
		want:     "HTTP/1.1 204 No Content\r\n" + date + "\r\n",
		complete: true,
	}} {
		t.Run(c.name, c.run)
	}
}

func TestAppendResponseUserFields(t *testing.T) {
	for _, c := range []renderCase{{
		name:     "user fields in order before the defaults",
		resp:     &Response{Status: StatusOK, Header: Headers{{Name: "X-B", Value: "2"}, {Name: "x-a", Value: "1"}, {Name: "Cache-Control", Value: "no-store"}, {Name: "X-B", Value: "3"}}},
		want:     "HTTP/1.1 200 OK\r\nX-B: 2\r\nx-a: 1\r\nCache-Control: no-store\r\nX-B: 3\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name: "framing fields are the entity's: the user's are dropped with a warning",
		resp: &Response{Status: StatusOK, Entity: strict("text/html", "<p>"), Header: Headers{
			{Name: "Content-Length", Value: "99"}, {Name: "X", Value: "1"}, {Name: "content-type", Value: "text/plain"}, {Name: "TRANSFER-ENCODING", Value: "chunked"}}},
		want:     "HTTP/1.1 200 OK\r\nX: 1\r\n" + dflt + "Content-Type: text/html\r\nContent-Length: 3\r\n\r\n<p>",
		info:     HeadInfo{Framing: FramingLength, ContentLength: 3},
		complete: true,
		warns:    []string{"Content-Length", "content-type", "TRANSFER-ENCODING"},
	}, {
		name:     "a user Date and Server replace the defaults",
		resp:     &Response{Status: StatusOK, Header: Headers{{Name: "server", Value: "mine/1.0"}, {Name: "Date", Value: "Mon, 07 Nov 1994 00:00:00 GMT"}}},
		want:     "HTTP/1.1 200 OK\r\nserver: mine/1.0\r\nDate: Mon, 07 Nov 1994 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n",
		complete: true,
	}, {
		name:     "an invalid user Date is dropped and the default sent",
		resp:     &Response{Status: StatusOK, Header: Headers{{Name: "Date", Value: "today\r\nX-Injected: 1"}}},
		want:     "HTTP/1.1 200 OK\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true, warns: []string{"Date"},
	}, {
		name:     "an invalid Server setting is not sent",
		resp:     &Response{Status: StatusOK},
		rc:       RenderContext{Server: "evil\r\nSet-Cookie: a=b"},
		want:     "HTTP/1.1 200 OK\r\n" + date + "Content-Length: 0\r\n\r\n",
		complete: true, warns: []string{"Server"},
	}, {
		name:     "an entity content type with a CR LF is not sent",
		resp:     &Response{Status: StatusOK, Entity: strict("text/plain\r\nSet-Cookie: a=b", "")},
		want:     "HTTP/1.1 200 OK\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true, warns: []string{"Content-Type"},
	}, {
		name: "response splitting: CR, LF, NUL and controls in names and values never reach the wire",
		resp: &Response{Status: StatusOK, Header: Headers{
			{Name: "X-A", Value: "ok"},
			{Name: "X-Split", Value: "a\r\nSet-Cookie: evil=1"},
			{Name: "X-LF", Value: "a\nb"},
			{Name: "X-CR", Value: "a\rb"},
			{Name: "X-NUL", Value: "a\x00b"},
			{Name: "X-DEL", Value: "a\x7fb"},
			{Name: "X-Esc", Value: "a\x1bb"},
			{Name: "X-Name\r\nSet-Cookie", Value: "evil=1"},
			{Name: "X Space", Value: "v"},
			{Name: "X-Colon:", Value: "v"},
			{Name: "", Value: "no name"},
			{Name: "Naïve", Value: "v"},
			{Name: "X-Tab", Value: "a\tb"},
			{Name: "X-Obs", Value: "caf\xc3\xa9"},
			{Name: "X-Empty", Value: ""},
		}},
		want:     "HTTP/1.1 200 OK\r\nX-A: ok\r\nX-Tab: a\tb\r\nX-Obs: caf\xc3\xa9\r\nX-Empty: \r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true,
		warns: []string{"X-Split", "X-LF", "X-CR", "X-NUL", "X-DEL", "X-Esc", "X-Name\r\nSet-Cookie",
			"X Space", "X-Colon:", "", "Naïve"},
	}, {
		name:     "an invalid Connection field is dropped",
		resp:     &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "close\r\nX: y"}}},
		want:     "HTTP/1.1 200 OK\r\n" + dflt + "Content-Length: 0\r\n\r\n",
		complete: true, warns: []string{"Connection"},
	}} {
		t.Run(c.name, c.run)
	}
}

// TestAppendResponseConnection is the close decision (RFC 9112 §9.3, §9.6).
func TestAppendResponseConnection(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\n"
	const ok10 = "HTTP/1.0 200 OK\r\n"
	const cl0 = "Content-Length: 0\r\n\r\n"
	for _, c := range []renderCase{{
		name: "HTTP/1.1 persists by default: nothing to say",
		resp: &Response{Status: StatusOK},
		want: ok + dflt + cl0, complete: true,
	}, {
		name: "the client asked to close (RFC 9112 §9.6)",
		resp: &Response{Status: StatusOK},
		rc:   RenderContext{CloseRequested: true},
		want: ok + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "the client asked to close: a user keep-alive does not override it",
		resp: &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "keep-alive"}}},
		rc:   RenderContext{CloseRequested: true},
		want: ok + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "the server forces a close",
		resp: &Response{Status: StatusBadRequest},
		rc:   RenderContext{ForceClose: true},
		want: "HTTP/1.1 400 Bad Request\r\n" + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "a user Connection: close closes, and is said once",
		resp: &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "Close"}}},
		want: ok + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "a user keep-alive on HTTP/1.1 is the default: not rendered",
		resp: &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "keep-alive"}}},
		want: ok + dflt + cl0, complete: true,
	}, {
		name: "a user Connection with other options is dropped with a warning",
		resp: &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "X-Private, close"}}},
		want: ok + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true, warns: []string{"Connection"},
	}, {
		name: "HTTP/1.0 client with keep-alive (RFC 9112 §9.3)",
		resp: &Response{Status: StatusOK},
		rc:   RenderContext{Proto: HTTP10},
		want: ok + dflt + "Connection: keep-alive\r\n" + cl0, complete: true,
	}, {
		name: "HTTP/1.0 client without keep-alive",
		resp: &Response{Status: StatusOK},
		rc:   RenderContext{Proto: HTTP10, CloseRequested: true},
		want: ok + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "HTTP/1.0 response to HTTP/1.0 without keep-alive: closing is the default",
		resp: &Response{Status: StatusOK, Proto: HTTP10},
		rc:   RenderContext{Proto: HTTP10, CloseRequested: true},
		want: ok10 + dflt + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "HTTP/1.0 response to an HTTP/1.1 client closes",
		resp: &Response{Status: StatusOK, Proto: HTTP10},
		want: ok10 + dflt + "Connection: close\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "HTTP/1.0 response to an HTTP/1.1 client persists with a user keep-alive",
		resp: &Response{Status: StatusOK, Proto: HTTP10, Header: Headers{{Name: "Connection", Value: "Keep-Alive"}}},
		want: ok10 + dflt + "Connection: keep-alive\r\n" + cl0, complete: true,
	}, {
		name: "HTTP/1.0 response with a user Connection lacking keep-alive closes",
		resp: &Response{Status: StatusOK, Proto: HTTP10, Header: Headers{{Name: "Connection", Value: "upgrade"}}},
		rc:   RenderContext{Proto: HTTP10},
		want: ok10 + dflt + "Connection: close, upgrade\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name:     "101 carries the user's upgrade option (RFC 9110 §7.8)",
		resp:     &Response{Status: StatusSwitchingProtocols, Header: Headers{{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"}}},
		want:     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" + dflt + "Connection: upgrade\r\n\r\n",
		complete: true,
	}, {
		name: "upgrade next to a close",
		resp: &Response{Status: StatusOK, Header: Headers{{Name: "Connection", Value: "upgrade"}}},
		rc:   RenderContext{CloseRequested: true},
		want: ok + dflt + "Connection: close, upgrade\r\n" + cl0,
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "a 1xx decides nothing about the connection",
		resp: &Response{Status: StatusContinue},
		rc:   RenderContext{CloseRequested: true, ForceClose: true},
		want: "HTTP/1.1 100 Continue\r\n" + dflt + "\r\n", complete: true,
	}} {
		t.Run(c.name, c.run)
	}
}

// TestAppendResponseBody is the message length of a response (RFC 9112 §6.3).
func TestAppendResponseBody(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\n"
	const tp = "Content-Type: text/plain\r\n"
	for _, c := range []renderCase{{
		name: "nil entity is empty",
		resp: &Response{Status: StatusOK},
		want: ok + dflt + "Content-Length: 0\r\n\r\n", complete: true,
	}, {
		name: "Default entity: Content-Length, the body is the caller's",
		resp: &Response{Status: StatusOK, Entity: default5},
		want: ok + dflt + "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n",
		info: HeadInfo{Framing: FramingLength, ContentLength: 5},
	}, {
		name: "empty Default entity: nothing follows",
		resp: &Response{Status: StatusOK, Entity: default0},
		want: ok + dflt + "Content-Length: 0\r\n\r\n", complete: true,
	}, {
		name: "Default entity of unknown length is chunked for HTTP/1.1",
		resp: &Response{Status: StatusOK, Entity: defaultUn},
		want: ok + dflt + "Transfer-Encoding: chunked\r\n" + tp + "\r\n",
		info: HeadInfo{Framing: FramingChunked},
	}, {
		name: "Chunked entity to HTTP/1.1 (RFC 9112 §7.1)",
		resp: &Response{Status: StatusOK, Entity: chunked},
		want: ok + dflt + "Transfer-Encoding: chunked\r\n" + tp + "\r\n",
		info: HeadInfo{Framing: FramingChunked},
	}, {
		name: "Chunked entity to HTTP/1.0 is close-delimited (RFC 9112 §6.1)",
		resp: &Response{Status: StatusOK, Entity: chunked},
		rc:   RenderContext{Proto: HTTP10},
		want: ok + dflt + "Connection: close\r\n" + tp + "\r\n",
		info: HeadInfo{Framing: FramingClose, Close: true},
	}, {
		name: "Chunked entity in an HTTP/1.0 response is close-delimited",
		resp: &Response{Status: StatusOK, Proto: HTTP10, Entity: chunked, Header: Headers{{Name: "Connection", Value: "keep-alive"}}},
		want: "HTTP/1.0 200 OK\r\n" + dflt + "Connection: close\r\n" + tp + "\r\n",
		info: HeadInfo{Framing: FramingClose, Close: true},
	}, {
		name: "CloseDelimited entity closes (RFC 9112 §6.3 item 8)",
		resp: &Response{Status: StatusOK, Entity: closeDel},
		want: ok + dflt + "Connection: close\r\n" + tp + "\r\n",
		info: HeadInfo{Framing: FramingClose, Close: true},
	}, {
		name: "CloseDelimited entity to an HTTP/1.0 client without keep-alive",
		resp: &Response{Status: StatusOK, Proto: HTTP10, Entity: closeDel},
		rc:   RenderContext{Proto: HTTP10, CloseRequested: true},
		want: "HTTP/1.0 200 OK\r\n" + dflt + tp + "\r\n",
		info: HeadInfo{Framing: FramingClose, Close: true},
	}, {
		name: "205 has content of length 0",
		resp: &Response{Status: StatusResetContent},
		want: "HTTP/1.1 205 Reset Content\r\n" + dflt + "Content-Length: 0\r\n\r\n", complete: true,
	}} {
		t.Run(c.name, c.run)
	}
}

// TestAppendResponseNoContent: responses that end with their head
// (RFC 9112 §6.3 items 1, 2; RFC 9110 §6.4.1, §9.3.2, §9.3.6).
func TestAppendResponseNoContent(t *testing.T) {
	const tp = "Content-Type: text/plain\r\n"
	head := RenderContext{Method: MethodHead}
	for _, c := range []renderCase{{
		name: "HEAD with a Strict entity: the fields of a GET, no body (RFC 9110 §9.3.2)",
		resp: &Response{Status: StatusOK, Entity: strict("text/plain", "hello")},
		rc:   head,
		want: "HTTP/1.1 200 OK\r\n" + dflt + tp + "Content-Length: 5\r\n\r\n", complete: true,
	}, {
		name: "HEAD with an empty entity: no Content-Length that could contradict a GET",
		resp: &Response{Status: StatusOK, Entity: strict("text/plain", "")},
		rc:   head,
		want: "HTTP/1.1 200 OK\r\n" + dflt + tp + "\r\n", complete: true,
	}, {
		name: "HEAD with a Default entity",
		resp: &Response{Status: StatusOK, Entity: default5},
		rc:   head,
		want: "HTTP/1.1 200 OK\r\n" + dflt + "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n", complete: true,
	}, {
		name: "HEAD with a Chunked entity names the coding a GET would get",
		resp: &Response{Status: StatusOK, Entity: chunked},
		rc:   head,
		want: "HTTP/1.1 200 OK\r\n" + dflt + "Transfer-Encoding: chunked\r\n" + tp + "\r\n", complete: true,
	}, {
		name: "HEAD with a Chunked entity from an HTTP/1.0 client keeps the connection",
		resp: &Response{Status: StatusOK, Entity: chunked},
		rc:   RenderContext{Method: MethodHead, Proto: HTTP10},
		want: "HTTP/1.1 200 OK\r\n" + dflt + "Connection: keep-alive\r\n" + tp + "\r\n", complete: true,
	}, {
		name: "HEAD with a CloseDelimited entity does not close",
		resp: &Response{Status: StatusOK, Entity: closeDel},
		rc:   head,
		want: "HTTP/1.1 200 OK\r\n" + dflt + tp + "\r\n", complete: true,
	}, {
		name: "HEAD honours the client's close",
		resp: &Response{Status: StatusOK, Entity: strict("", "abc")},
		rc:   RenderContext{Method: MethodHead, CloseRequested: true},
		want: "HTTP/1.1 200 OK\r\n" + dflt + "Connection: close\r\nContent-Length: 3\r\n\r\n",
		info: HeadInfo{Close: true}, complete: true,
	}, {
		name: "204 drops the body, its length and its type",
		resp: &Response{Status: StatusNoContent, Entity: strict("text/plain", "hello")},
		want: "HTTP/1.1 204 No Content\r\n" + dflt + "\r\n", complete: true,
	}, {
		name: "204 with a Chunked entity: no Transfer-Encoding (RFC 9112 §6.1)",
		resp: &Response{Status: StatusNoContent, Entity: chunked},
		want: "HTTP/1.1 204 No Content\r\n" + dflt + "\r\n", complete: true,
	}, {
		name: "304 keeps the type a 200 would have, without a length",
		resp: &Response{Status: StatusNotModified, Entity: strict("text/plain", "hello"), Header: Headers{{Name: "ETag", Value: `"x"`}}},
		want: "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n" + dflt + tp + "\r\n", complete: true,
	}, {
		name: "304 with a CloseDelimited entity does not close",
		resp: &Response{Status: StatusNotModified, Entity: closeDel},
		want: "HTTP/1.1 304 Not Modified\r\n" + dflt + tp + "\r\n", complete: true,
	}, {
		name: "103 Early Hints carries fields only",
		resp: &Response{Status: 103, Entity: strict("text/plain", "x"), Header: Headers{{Name: "Link", Value: "</s.css>; rel=preload"}}},
		want: "HTTP/1.1 103 \r\nLink: </s.css>; rel=preload\r\n" + dflt + "\r\n", complete: true,
	}, {
		name: "2xx to CONNECT: a tunnel, no content (RFC 9110 §9.3.6)",
		resp: &Response{Status: StatusOK, Entity: strict("text/plain", "hello")},
		rc:   RenderContext{Method: MethodConnect},
		want: "HTTP/1.1 200 OK\r\n" + dflt + "\r\n", complete: true,
	}, {
		name: "2xx to CONNECT with a Chunked entity",
		resp: &Response{Status: StatusOK, Entity: chunked},
		rc:   RenderContext{Method: MethodConnect},
		want: "HTTP/1.1 200 OK\r\n" + dflt + "\r\n", complete: true,
	}, {
		name: "non-2xx to CONNECT has content",
		resp: &Response{Status: StatusBadGateway, Entity: strict("text/plain", "no")},
		rc:   RenderContext{Method: MethodConnect},
		want: "HTTP/1.1 502 Bad Gateway\r\n" + dflt + tp + "Content-Length: 2\r\n\r\nno",
		info: HeadInfo{Framing: FramingLength, ContentLength: 2}, complete: true,
	}} {
		t.Run(c.name, c.run)
	}
}

func TestAppendChunk(t *testing.T) {
	for _, c := range []struct {
		name, data, ext, want string
	}{
		{"plain", "hello", "", "5\r\nhello\r\n"},
		{"size in hex", strings.Repeat("x", 26), "", "1a\r\n" + strings.Repeat("x", 26) + "\r\n"},
		{"empty data appends nothing: it would end the body", "", "a=b", ""},
		{"extension", "hi", "a=b", "2;a=b\r\nhi\r\n"},
		{"extension list with BWS", "hi", " a = b ; c", "2; a = b ; c\r\nhi\r\n"},
		{"quoted extension value", "hi", `n="a \"q\"; b"`, "2;n=\"a \\\"q\\\"; b\"\r\nhi\r\n"},
		{"CR LF in an extension is dropped", "hi", "a=b\r\n0\r\n\r\nGET / HTTP/1.1", "2\r\nhi\r\n"},
		{"LF in a quoted value is dropped", "hi", "a=\"x\ny\"", "2\r\nhi\r\n"},
		{"unterminated quote is dropped", "hi", `a="x`, "2\r\nhi\r\n"},
		{"space inside a token is dropped", "hi", "a b", "2\r\nhi\r\n"},
		{"empty name is dropped", "hi", "=b", "2\r\nhi\r\n"},
		{"empty element is dropped", "hi", "a;;b", "2\r\nhi\r\n"},
		{"leading ';' (double) is dropped", "hi", ";a", "2\r\nhi\r\n"},
		{"empty value is dropped", "hi", "a=", "2\r\nhi\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := AppendChunk([]byte("x"), []byte(c.data), c.ext)
			if d := cmp.Diff("x"+c.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestAppendLastChunk(t *testing.T) {
	for _, c := range []struct {
		name    string
		ext     string
		trailer []Header
		want    string
	}{
		{"bare", "", nil, "0\r\n\r\n"},
		{"extension", "end", nil, "0;end\r\n\r\n"},
		{"invalid extension is dropped", "a\r\nX: y", nil, "0\r\n\r\n"},
		{"trailer fields in order", "", []Header{{Name: "Expires", Value: "0"}, {Name: "X-Checksum", Value: "abc"}}, "0\r\nExpires: 0\r\nX-Checksum: abc\r\n\r\n"},
		{"splitting attempts and framing fields are dropped (RFC 9110 §6.5.1)", "", []Header{
			{Name: "X-A", Value: "1"},
			{Name: "X-Bad", Value: "v\r\n\r\nHTTP/1.1 200 OK"},
			{Name: "X-Bad\r\nName", Value: "v"},
			{Name: "X-NUL", Value: "\x00"},
			{Name: "", Value: "v"},
			{Name: "Content-Length", Value: "5"},
			{Name: "transfer-encoding", Value: "chunked"},
			{Name: "Host", Value: "evil"},
			{Name: "Connection", Value: "close"},
			{Name: "X-B", Value: "2"},
		}, "0\r\nX-A: 1\r\nX-B: 2\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := AppendLastChunk([]byte("x"), c.ext, c.trailer)
			if d := cmp.Diff("x"+c.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestValidExtensionMatchesParser: the parser accepts every extension the
// renderer sends, and the renderer sends every extension the parser
// accepts except those ending in whitespace (BWS that no ';' or '='
// follows: the renderer is strict in what it sends).
func TestValidExtensionMatchesParser(t *testing.T) {
	exts := []string{"", "a", "a=b", " a", "a ", "a\t", "a=b ", "a=\"\"", `a="\"`, `a="\\"`, "a=b;c=d", "a = b", "a;", ";", "a;b",
		"a=b c", "a\t=\tb", "a=\"x\ty\"", "a=\"\x7f\"", "a=\"\xff\"", "a=\xff", "\xff", "a=b;", "a=b ;c", "a=\"x\" ;c",
		"a=\"x\"c", "a=\"x\\\"", "a==b", "a=;b", "(a)", "a=(b)", "a\r", "a\n", "a=\"\r\"", "a=\"\\\r\""}
	for _, ext := range exts {
		renderer, parser := validExtension(ext), validChunkExt([]byte(";"+ext))
		trailingWS := ext != "" && (ext[len(ext)-1] == ' ' || ext[len(ext)-1] == '\t')
		if renderer && !parser || !renderer && parser && !trailingWS {
			t.Errorf("validExtension(%q) = %v, the parser says %v", ext, renderer, parser)
		}
	}
}

func TestFramingString(t *testing.T) {
	got := []string{FramingNone.String(), FramingLength.String(), FramingChunked.String(), FramingClose.String(), Framing(9).String()}
	want := []string{"none", "length", "chunked", "close", "Framing(9)"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestAppendResponseAllocs: rendering a response allocates nothing once
// the Date of the second has been formatted (time stands still in the
// bubble).
func TestAppendResponseAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &Response{Status: StatusOK, Header: Headers{{Name: "X-Request-Id", Value: "42"}}, Entity: strict("text/plain", "Hello, World!")}
		rc := &RenderContext{Server: "streamhttp", Proto: HTTP10}
		buf := make([]byte, 0, 1024)
		if n := testing.AllocsPerRun(100, func() { buf, _, _ = AppendResponse(buf[:0], r, rc) }); n != 0 {
			t.Errorf("AppendResponse: %v allocations, want 0", n)
		}
		if n := testing.AllocsPerRun(100, func() {
			buf = AppendChunk(buf[:0], []byte("data"), "a=b")
			buf = AppendLastChunk(buf, "", []Header{{Name: "X", Value: "y"}})
		}); n != 0 {
			t.Errorf("AppendChunk, AppendLastChunk: %v allocations, want 0", n)
		}
		req := &Request{Method: MethodPost, Target: "/x", Host: "h", Header: Headers{{Name: "Accept", Value: "*/*"}},
			Entity: strict("text/plain", "body"), Chunked: true}
		if n := testing.AllocsPerRun(100, func() { buf, _ = AppendRequest(buf[:0], req) }); n != 0 {
			t.Errorf("AppendRequest: %v allocations, want 0", n)
		}
	})
}

// checkRenderGolden compares got with testdata/golden/<name>.golden, or
// rewrites the file with -update.
func checkRenderGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-golden +got):\n%s", path, d)
	}
}

// TestRenderGolden renders whole exchanges, bodies included, as a
// connection would, and compares them with golden files.
func TestRenderGolden(t *testing.T) {
	fixDate(t)
	rc := &RenderContext{Server: "streamhttp"}

	t.Run("render_text", func(t *testing.T) {
		buf, _, _ := AppendResponse(nil, Text(StatusOK, "Hello, World!\n"), rc)
		checkRenderGolden(t, t.Name()[len("TestRenderGolden/"):], buf)
	})
	t.Run("render_chunked", func(t *testing.T) {
		r := &Response{Status: StatusOK, Header: Headers{{Name: "Trailer", Value: "X-Checksum"}}, Entity: &entity.Chunked{Type: "text/csv"}}
		buf, info := AppendResponseHead(nil, r, rc)
		if info.Framing != FramingChunked {
			t.Fatalf("framing %v", info.Framing)
		}
		buf = AppendChunk(buf, []byte("id,name\n"), "")
		buf = AppendChunk(buf, []byte("1,alice\n2,bob\n"), `part="rows"`)
		buf = AppendLastChunk(buf, "", []Header{{Name: "X-Checksum", Value: "c0ffee"}})
		checkRenderGolden(t, t.Name()[len("TestRenderGolden/"):], buf)
	})
	t.Run("render_pipelined", func(t *testing.T) {
		// Three pipelined answers in one buffer: HEAD, 304, and a close.
		buf, _, _ := AppendResponse(nil, Bytes(StatusOK, "application/json", []byte(`{"ok":true}`)), &RenderContext{Method: MethodHead, Server: "streamhttp"})
		buf, _, _ = AppendResponse(buf, &Response{Status: StatusNotModified, Header: Headers{{Name: "ETag", Value: `"v1"`}}}, rc)
		buf, _, _ = AppendResponse(buf, Text(StatusServiceUnavailable, "try later"), &RenderContext{ForceClose: true, Server: "streamhttp"})
		checkRenderGolden(t, t.Name()[len("TestRenderGolden/"):], buf)
	})
	t.Run("render_http10", func(t *testing.T) {
		r := &Response{Status: StatusOK, Entity: &entity.Chunked{Type: "text/plain"}}
		buf, info := AppendResponseHead(nil, r, &RenderContext{Proto: HTTP10, Server: "streamhttp"})
		if info.Framing != FramingClose || !info.Close {
			t.Fatalf("info %+v", info)
		}
		buf = append(buf, "raw data until close"...)
		checkRenderGolden(t, t.Name()[len("TestRenderGolden/"):], buf)
	})
	t.Run("render_request", func(t *testing.T) {
		req := &Request{Method: MethodPost, Target: "/upload?x=1", Host: "example.com",
			Header: Headers{{Name: "User-Agent", Value: "streamhttp-test"}, {Name: "Accept", Value: "*/*"}},
			Entity: &entity.Strict{Type: "application/x-www-form-urlencoded", Data: []byte("a=1&b=2")}}
		buf, err := AppendRequest(nil, req)
		if err != nil {
			t.Fatal(err)
		}
		checkRenderGolden(t, t.Name()[len("TestRenderGolden/"):], buf)
	})
}

// BenchmarkRenderResponse renders a 200 text/plain response with a 13-byte
// body, Date and Server into a reused buffer, as a connection does.
func BenchmarkRenderResponse(b *testing.B) {
	r := &Response{Status: StatusOK, Entity: &entity.Strict{Type: "text/plain", Data: []byte("Hello, World!")}}
	rc := &RenderContext{Server: "streamhttp"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = AppendResponse(buf[:0], r, rc)
	}
	b.SetBytes(int64(len(buf)))
}
