package httpcore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
)

// The harness of the parser tests: it runs a Parser over an input fed in
// pieces, as a connection does, records the events in comparable form,
// checks that every split agrees, and renders events for golden files.

// evRec is one parser event in comparable form (NeedMore is never recorded).
type evRec struct {
	Kind    string
	Req     *reqRec
	Body    string   // RequestHead: none, length or chunked
	Data    string   // BodyData, ChunkData
	Ext     string   // ChunkData, LastChunk
	Trailer []Header // LastChunk
	Err     *errRec  // Failed
}

// reqRec is the Request of a RequestHead event.
type reqRec struct {
	Method        string
	Target        string
	URI           URI
	Proto         Protocol
	Header        []Header
	Host          string
	ContentLength int64
	Chunked       bool
	ContentType   string
	Expect        string
	Close         bool
	Upgrade       bool
	Entity        string // "empty" (entity.Empty), "strict", or "" (nil: the body streams)
	EntityType    string // the strict entity's content type
	Data          string // the strict entity's data
}

// errRec is the ParseError of a Failed event.
type errRec struct {
	Status  Status
	Setting string
	InBody  bool
	Reason  string
}

var kindNames = [...]string{NeedMore: "NeedMore", RequestHead: "RequestHead", BodyData: "BodyData",
	ChunkData: "ChunkData", LastChunk: "LastChunk", MessageEnd: "MessageEnd", Failed: "Failed"}

var bodyNames = [...]string{BodyNone: "none", BodyLength: "length", BodyChunked: "chunked"}

// recordReq reads a request into a reqRec. The harness calls it only after
// it has overwritten every input buffer, so a string that still pointed
// into the input would show up as garbage.
func recordReq(r *Request) *reqRec {
	rec := &reqRec{
		Method: string(r.Method), Target: r.Target, URI: r.URI, Proto: r.Proto,
		Header: append([]Header(nil), r.Header...), Host: r.Host, ContentLength: r.ContentLength,
		Chunked: r.Chunked, ContentType: r.ContentType, Expect: r.Expect, Close: r.Close, Upgrade: r.Upgrade,
	}
	switch e := r.Entity.(type) {
	case nil:
	case *entity.Strict:
		if r.Entity == entity.Empty {
			rec.Entity = "empty"
		} else {
			rec.Entity, rec.EntityType, rec.Data = "strict", e.Type, string(e.Data)
		}
	default:
		rec.Entity = fmt.Sprintf("%T", e)
	}
	return rec
}

// scribble is what the emulated connection writes over consumed input.
const scribble = 0xEE

// runResult is the outcome of feeding an input to a parser.
type runResult struct {
	events []evRec
	failed bool
}

// feed runs a new parser over the pieces, emulating a connection's read
// buffer: the unconsumed bytes move to the front of one reused buffer, the
// next piece is appended, and the freed bytes are overwritten, so any
// event field that still aliased the input after the next call would be
// caught. Event.Data is copied at once, as the API allows only that.
func feed(t testing.TB, s ParserSettings, pieces ...[]byte) runResult {
	t.Helper()
	total := 0
	for _, pc := range pieces {
		total += len(pc)
	}
	p := NewParser(s)
	backing := make([]byte, total)
	buf := backing[:0]
	type pending struct {
		rec evRec
		req *Request
	}
	var evs []pending
	failed := false
	steps := 0
feedLoop:
	for _, pc := range pieces {
		buf = append(buf, pc...)
		for {
			if steps++; steps > 4*total+1000 {
				t.Fatalf("the parser makes no progress: %d events on %d bytes", len(evs), total)
			}
			ev, n := p.Next(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("Next consumed %d of %d bytes", n, len(buf))
			}
			rec := evRec{Kind: kindNames[ev.Kind], Ext: ev.Extension}
			switch ev.Kind {
			case RequestHead:
				rec.Body = bodyNames[ev.Body]
			case BodyData, ChunkData:
				if len(ev.Data) == 0 {
					t.Fatalf("%s event with no data", rec.Kind)
				}
				rec.Data = string(ev.Data)
			case LastChunk:
				rec.Trailer = ev.Trailer
			case Failed:
				if ev.Err == nil {
					t.Fatal("Failed event without an error")
				}
				rec.Err = &errRec{Status: ev.Err.Status, Setting: ev.Err.Setting, InBody: ev.Err.InBody, Reason: ev.Err.Reason}
			}
			if ev.Kind != NeedMore {
				evs = append(evs, pending{rec, ev.Request})
			}
			// Consume: move the rest to the front and overwrite the freed tail.
			k := copy(buf, buf[n:])
			for i := k; i < len(buf); i++ {
				buf[i] = scribble
			}
			buf = buf[:k]
			switch ev.Kind {
			case NeedMore:
				continue feedLoop
			case Failed:
				failed = true
				// The parser stays failed, with the same error.
				if again, _ := p.Next(buf); again.Kind != Failed || again.Err != ev.Err {
					t.Fatalf("after Failed, Next returned %v", kindNames[again.Kind])
				}
				break feedLoop
			}
		}
	}
	for i := range backing {
		backing[i] = scribble
	}
	res := runResult{failed: failed}
	for _, e := range evs {
		if e.req != nil {
			e.rec.Req = recordReq(e.req)
		}
		res.events = append(res.events, e.rec)
	}
	return res
}

// normalize makes event lists of different splits comparable: a request
// whose body came whole with its head (a strict entity) becomes a head with
// a streamed body, one BodyData and MessageEnd, as it is when the body
// arrives later; consecutive BodyData merge, and so do consecutive
// ChunkData of one chunk (a piece that carries no extension continues the
// previous one, so chunks without extensions merge too, alike in every
// split).
func normalize(evs []evRec) []evRec {
	var out []evRec
	for _, e := range evs {
		switch {
		case e.Kind == "RequestHead" && e.Body == "none" && e.Req != nil && e.Req.Entity == "strict" && e.Req.Data != "":
			r := *e.Req
			data := r.Data
			r.Entity, r.EntityType, r.Data = "", "", ""
			e.Req, e.Body = &r, "length"
			out = append(out, e, evRec{Kind: "BodyData", Data: data}, evRec{Kind: "MessageEnd"})
			continue
		case len(out) > 0 && e.Kind == "BodyData" && out[len(out)-1].Kind == "BodyData",
			len(out) > 0 && e.Kind == "ChunkData" && e.Ext == "" && out[len(out)-1].Kind == "ChunkData":
			out[len(out)-1].Data += e.Data
			continue
		}
		out = append(out, e)
	}
	return out
}

// splits returns the ways checkSplits feeds an input: split in two at
// every position, and byte by byte.
func splits(in []byte) map[string][][]byte {
	m := map[string][][]byte{}
	for i := 1; i < len(in); i++ {
		m[fmt.Sprintf("split at %d", i)] = [][]byte{in[:i], in[i:]}
	}
	var bytewise [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
	}
	m["byte by byte"] = bytewise
	return m
}

// checkSplits requires the events of every split of in to equal, after
// normalization, the events of in fed whole (whole), and, when the whole
// input is valid, every strict prefix of in to yield only complete events
// consistent with whole, then NeedMore: never Failed.
func checkSplits(t *testing.T, s ParserSettings, in []byte, whole runResult) {
	t.Helper()
	want := normalize(whole.events)
	for name, pieces := range splits(in) {
		got := feed(t, s, pieces...)
		if d := cmp.Diff(want, normalize(got.events)); d != "" {
			t.Fatalf("%s: events differ from the whole input (-whole +split):\n%s", name, d)
		}
	}
	if whole.failed {
		return
	}
	for k := 0; k < len(in); k++ {
		got := feed(t, s, in[:k])
		if got.failed {
			t.Fatalf("prefix of %d bytes: %+v", k, got.events[len(got.events)-1].Err)
		}
		if err := prefixOf(normalize(got.events), want); err != nil {
			t.Fatalf("prefix of %d bytes: %v", k, err)
		}
	}
}

// prefixOf reports whether the events of a prefix of an input agree with
// the events of the whole input: equal, except that the last may be a data
// event with a prefix of the data.
func prefixOf(got, want []evRec) error {
	if len(got) > len(want) {
		return fmt.Errorf("%d events, the whole input has %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if i == len(got)-1 && (g.Kind == "BodyData" || g.Kind == "ChunkData") && strings.HasPrefix(w.Data, g.Data) {
			g.Data = w.Data
		}
		if d := cmp.Diff(w, g); d != "" {
			return fmt.Errorf("event %d differs (-whole +prefix):\n%s", i, d)
		}
	}
	return nil
}

func TestHarnessCatchesAliasing(t *testing.T) {
	// The harness must notice a string that aliases the input: a Request
	// built by hand over the input buffer reads back as scribble.
	in := []byte("GET /x HTTP/1.1\r\n")
	r := &Request{Target: unsafe.String(&in[4], 2)}
	for i := range in {
		in[i] = scribble
	}
	if got := recordReq(r).Target; got == "/x" {
		t.Fatal("overwriting the buffer did not change an aliasing string")
	}
}

func TestNormalize(t *testing.T) {
	strictHead := evRec{Kind: "RequestHead", Body: "none", Req: &reqRec{Method: "POST", Entity: "strict", EntityType: "t", Data: "abc"}}
	streamed := evRec{Kind: "RequestHead", Body: "length", Req: &reqRec{Method: "POST"}}
	got := normalize([]evRec{strictHead, {Kind: "ChunkData", Data: "a", Ext: "x"}, {Kind: "ChunkData", Data: "b"},
		{Kind: "ChunkData", Data: "c", Ext: "y"}, {Kind: "BodyData", Data: "d"}, {Kind: "BodyData", Data: "e"}})
	want := []evRec{streamed, {Kind: "BodyData", Data: "abc"}, {Kind: "MessageEnd"}, {Kind: "ChunkData", Data: "ab", Ext: "x"},
		{Kind: "ChunkData", Data: "c", Ext: "y"}, {Kind: "BodyData", Data: "de"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestParserGolden renders the events of representative requests as text
// and compares them with testdata/golden/parse_*.golden (rewrite them with
// go test -run TestParserGolden -update).
func TestParserGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		s    ParserSettings
	}{
		{"browser_get", string(browserGET), ParserSettings{}},
		{"form_post", "POST /login HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
			"Content-Length: 27\r\nExpect: 100-continue\r\n\r\nuser=ada&pass=correct+horse", ParserSettings{}},
		{"streamed_body", "PUT /files/report.csv HTTP/1.1\r\nHost: files.example\r\nContent-Type: text/csv\r\n" +
			"Content-Length: 64\r\n\r\nid,name\n1,ada\n", ParserSettings{}},
		{"chunked_upload", "POST /upload HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
			"7;part=1\r\nid,name\r\ne;part=\"two, quoted\"\r\n1,ada\n2,grace\n\r\n0;done\r\nX-Checksum: c0ffee\r\n\r\n", ParserSettings{}},
		{"pipelined", "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" +
			"\r\nDELETE /c?force=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", ParserSettings{}},
		{"http10_keep_alive", "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\nUser-Agent: ancient/1.0\r\n\r\n" +
			"GET /older HTTP/1.0\r\n\r\n", ParserSettings{}},
		{"connect", "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\nProxy-Authorization: Basic YTpi\r\n\r\n", ParserSettings{}},
		{"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: [2001:db8::7]:8443\r\n\r\n", ParserSettings{}},
		{"proxy_absolute_form", "GET http://origin.example/p/a%20th?q=1 HTTP/1.1\r\nHost: origin.example\r\n\r\n", ParserSettings{}},
		{"absolute_form_empty_path", "GET http://origin.example:8080?q=1 HTTP/1.1\r\nHost: proxy.example\r\n\r\n", ParserSettings{}},
		{"http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ParserSettings{}},
		{"websocket_upgrade", "GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", ParserSettings{}},
		{"custom_method", "PURGE /cache/item HTTP/1.1\r\nHost: cdn.example\r\n\r\n", ParserSettings{CustomMethods: []Method{"PURGE"}}},
		{"error_smuggling", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ParserSettings{}},
		{"error_in_body", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0x10\r\n", ParserSettings{}},
		{"error_limit", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 40) + "\r\n\r\n", ParserSettings{MaxHeaderValueLength: 32}},
		{"error_head_size", "GET / HTTP/1.1\r\nHost: h\r\nCookie: " + strings.Repeat("c", 40) + "\r\nX-Trace: " + strings.Repeat("t", 40) + "\r\n\r\n",
			ParserSettings{MaxHeadSize: 100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			whole := feed(t, c.s, []byte(c.in))
			checkParseGolden(t, "parse_"+c.name, dumpEvents(c.in, whole.events))
			checkSplits(t, c.s, []byte(c.in), whole)
		})
	}
}

// checkParseGolden compares got with testdata/golden/<name>.golden, or
// rewrites the file with -update.
func checkParseGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestParserGolden -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-golden +got):\n%s", path, d)
	}
}

// dumpEvents renders an input and its events readably, one field a line.
func dumpEvents(in string, evs []evRec) string {
	var b strings.Builder
	b.WriteString("# input\n")
	for _, line := range strings.SplitAfter(in, "\n") {
		if line != "" {
			fmt.Fprintf(&b, "%q\n", line)
		}
	}
	b.WriteString("# events\n")
	for _, e := range evs {
		switch e.Kind {
		case "RequestHead":
			r := e.Req
			fmt.Fprintf(&b, "RequestHead body=%s\n", e.Body)
			fmt.Fprintf(&b, "  Method: %q\n  Target: %q\n", r.Method, r.Target)
			fmt.Fprintf(&b, "  URI: scheme=%q authority=%q path=%q query=%q\n", r.URI.Scheme, r.URI.Authority, r.URI.Path, r.URI.RawQuery)
			fmt.Fprintf(&b, "  Proto: %s\n", r.Proto)
			for _, h := range r.Header {
				fmt.Fprintf(&b, "  Header: %q: %q\n", h.Name, h.Value)
			}
			fmt.Fprintf(&b, "  Host: %q\n  ContentLength: %d\n  Chunked: %t\n  ContentType: %q\n  Expect: %q\n  Close: %t\n  Upgrade: %t\n",
				r.Host, r.ContentLength, r.Chunked, r.ContentType, r.Expect, r.Close, r.Upgrade)
			switch r.Entity {
			case "":
				b.WriteString("  Entity: streamed\n")
			case "strict":
				fmt.Fprintf(&b, "  Entity: strict type=%q data=%q\n", r.EntityType, r.Data)
			default:
				fmt.Fprintf(&b, "  Entity: %s\n", r.Entity)
			}
		case "BodyData":
			fmt.Fprintf(&b, "BodyData %q\n", e.Data)
		case "ChunkData":
			fmt.Fprintf(&b, "ChunkData %q ext=%q\n", e.Data, e.Ext)
		case "LastChunk":
			fmt.Fprintf(&b, "LastChunk ext=%q\n", e.Ext)
			for _, h := range e.Trailer {
				fmt.Fprintf(&b, "  Trailer: %q: %q\n", h.Name, h.Value)
			}
		case "Failed":
			fmt.Fprintf(&b, "Failed %s setting=%q inBody=%t\n  reason: %s\n", e.Err.Status, e.Err.Setting, e.Err.InBody, e.Err.Reason)
		default:
			b.WriteString(e.Kind + "\n")
		}
	}
	return b.String()
}
