package httpcore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/entity"
)

// reuseHeads are requests of every size class and body array, and with
// every typed field set or not, so that whatever one leaves in a recycled
// object the next would show.
var reuseHeads = func() []string {
	body := func(n int) string { return strings.Repeat("0123456789abcdef", n/16+1)[:n] }
	heads := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: h2load\r\n\r\n",
		"GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: ignored\r\nAccept: */*\r\nConnection: close\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /old HTTP/1.0\r\n\r\n",
		"GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	}
	for _, n := range []int{1, 20, 100, 1000, 1500, 2048, 3000, 4096, 9000, 20000, 40000, 65536, 70000} {
		heads = append(heads, fmt.Sprintf("POST /echo/%d HTTP/1.1\r\nHost: a\r\nContent-Type: text/x-%d\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n%s", n, n, n, body(n)))
	}
	var many strings.Builder
	many.WriteString("GET /many HTTP/1.1\r\nHost: a\r\n")
	for i := range 20 {
		fmt.Fprintf(&many, "X-F%d: %s\r\n", i, strings.Repeat("v", i*10))
	}
	many.WriteString("\r\n")
	return append(heads, many.String())
}()

// requestView is what a handler can see of a request, to compare.
type requestView struct {
	Method                          Method
	Target                          string
	URI                             URI
	Header                          Headers
	Host, ContentType, Expect       string
	ContentLength                   int64
	Proto                           Protocol
	Chunked, Close, Upgrade         bool
	Seq                             uint64
	EntityType                      string
	Body                            []byte
	ContextErr                      error
	Timeout                         int64
	EntityIsNil, EntityIsStrictView bool
}

func viewOf(r *Request) requestView {
	v := requestView{
		Method: r.Method, Target: r.Target, URI: r.URI, Header: r.Header,
		Host: r.Host, ContentType: r.ContentType, Expect: r.Expect, ContentLength: r.ContentLength,
		Proto: r.Proto, Chunked: r.Chunked, Close: r.Close, Upgrade: r.Upgrade, Seq: r.Seq,
		ContextErr: r.Context().Err(), Timeout: int64(r.Timeout()), EntityIsNil: r.Entity == nil,
	}
	if s, ok := r.Entity.(*entity.Strict); ok {
		v.EntityIsStrictView, v.EntityType, v.Body = true, s.Type, s.Data
	}
	return v
}

// parseHead parses one request head (and a body that comes with it).
func parseHead(t *testing.T, p *Parser, in string) *Request {
	t.Helper()
	ev, _ := p.Next([]byte(in))
	if ev.Kind != RequestHead {
		t.Fatalf("%q: event %v (%v), want a request head", in, ev.Kind, ev.Err)
	}
	return ev.Request
}

// TestRecycledRequestIsClean: requests built in recycled memory, in a
// random order of sizes, are exactly what a parser without reuse builds,
// nothing of an earlier request showing through, whether the handler set
// a timeout on the earlier one or its context was cancelled.
func TestRecycledRequestIsClean(t *testing.T) {
	reuse := NewParser(ParserSettings{ReuseRequests: true})
	for i := range 500 {
		in := reuseHeads[rand.IntN(len(reuseHeads))]
		r := parseHead(t, reuse, in)
		want, got := viewOf(parseHead(t, NewParser(ParserSettings{}), in)), viewOf(r)
		if !bytes.Equal(want.Body, got.Body) {
			t.Fatalf("request %d (%.40q): body %.40q..., want %.40q...", i, in, got.Body, want.Body)
		}
		want.Body, got.Body = nil, nil // compared, at a fraction of cmp's cost
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("request %d (%.40q) differs from a fresh one (-fresh +reused):\n%s", i, in, diff)
		}
		if s, ok := r.Entity.(*entity.Strict); ok && cap(s.Data) != len(s.Data) {
			t.Fatalf("request %d: body capacity %d past its length %d shows earlier bytes", i, cap(s.Data), len(s.Data))
		}
		// What servers and handlers do to a request before it goes back.
		r.Seq = uint64(i + 1)
		r.AttachContext(context.Background())
		if i%2 == 0 {
			r.SetTimeout(3)
		}
		r.CancelContext()
		reuse.resetHead() // a parser moves on to the next head by itself only after a body
		if !RecycleRequest(r) && r.class != 0 {
			t.Fatalf("request %d (%.40q): not recycled", i, in)
		}
	}
}

// TestRecycleRequestLeavesAlone: RecycleRequest takes only requests that
// a parser with reuse built and nobody may still look at.
func TestRecycleRequestLeavesAlone(t *testing.T) {
	const get = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
	const post = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n"
	in := get
	fresh := func(reuse bool) *Request {
		r := parseHead(t, NewParser(ParserSettings{ReuseRequests: reuse}), in)
		r.AttachContext(context.Background())
		return r
	}
	if r := fresh(false); RecycleRequest(r) {
		t.Error("recycled a request of a parser without reuse")
	}
	r := fresh(true)
	r.Keep()
	if RecycleRequest(r) {
		t.Error("recycled a kept request")
	}
	r = fresh(true)
	done := r.Context().Done()
	r.CancelContext()
	<-done
	if RecycleRequest(r) {
		t.Error("recycled a request whose context someone waited on")
	}
	r = fresh(true)
	ctx, cancel := context.WithCancel(r.Context())
	r.CancelContext()
	<-ctx.Done()
	cancel()
	if RecycleRequest(r) {
		t.Error("recycled a request with a context derived from its context")
	}
	in = post + strings.Repeat("b", 5000)
	r = fresh(true)
	r2 := r.WithContext(context.Background())
	r.CancelContext()
	if RecycleRequest(r2) {
		t.Error("recycled a copy made by WithContext")
	}
	if !RecycleRequest(r) {
		t.Fatal("did not recycle a request nobody refers to")
	}
	if RecycleRequest(r) {
		t.Error("recycled a request twice")
	}
}

// TestReusedRequestAllocs: with reuse, a keep-alive GET and a POST whose
// 4 KiB body came with its head cost no allocation once warm.
func TestReusedRequestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	body := strings.Repeat("x", 4096)
	for _, in := range []string{
		"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 4096\r\n\r\n" + body,
	} {
		p := NewParser(ParserSettings{ReuseRequests: true})
		b := []byte(in)
		n := testing.AllocsPerRun(1000, func() {
			ev, _ := p.Next(b)
			p.resetHead()
			ev.Request.AttachContext(context.Background())
			ev.Request.CancelContext()
			RecycleRequest(ev.Request)
		})
		if n != 0 {
			t.Errorf("%.30q: %.1f allocations per request, want 0", in, n)
		}
	}
}

// FuzzReuse: after any request is recycled, any other request built in its
// memory is what a parser without reuse builds from the same bytes.
func FuzzReuse(f *testing.F) {
	for i, h := range reuseHeads {
		f.Add([]byte(h), []byte(reuseHeads[(i+5)%len(reuseHeads)]))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		p := NewParser(ParserSettings{ReuseRequests: true})
		if ev, _ := p.Next(first); ev.Kind == RequestHead {
			ev.Request.AttachContext(context.Background())
			ev.Request.CancelContext()
			RecycleRequest(ev.Request)
		}
		got, _ := NewParser(ParserSettings{ReuseRequests: true}).Next(second)
		want, _ := NewParser(ParserSettings{}).Next(second)
		if got.Kind != want.Kind || got.Body != want.Body || fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
			t.Fatalf("event %v %v %v, want %v %v %v", got.Kind, got.Body, got.Err, want.Kind, want.Body, want.Err)
		}
		if got.Kind != RequestHead {
			return
		}
		g, w := viewOf(got.Request), viewOf(want.Request)
		if !bytes.Equal(g.Body, w.Body) {
			t.Fatalf("body %q, want %q", g.Body, w.Body)
		}
		g.Body, w.Body = nil, nil
		if d := cmp.Diff(w, g); d != "" {
			t.Fatalf("request built in recycled memory differs (-fresh +reused):\n%s", d)
		}
	})
}
