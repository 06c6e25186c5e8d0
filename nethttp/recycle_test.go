package nethttp

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/internal/exampletest"
)

// Writers are recycled: a header field or a body of one response must
// never show up in another, and a request kept after ServeHTTP returns
// (with its URL, header and context) stays as it was, also on a server
// that reuses requests (ServerSettings.ReuseRequests: the adapter keeps
// every request it hands to a handler).
func TestRecycledWriterIsClean(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReuseRequests=%v", reuse), func(t *testing.T) {
			testRecycledWriterIsClean(t, streamhttp.ServerSettings{ReuseRequests: reuse})
		})
	}
}

func testRecycledWriterIsClean(t *testing.T, s streamhttp.ServerSettings) {
	var mu sync.Mutex
	var kept []*http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		kept = append(kept, r)
		mu.Unlock()
		n := r.URL.Query().Get("n")
		if n == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("X-N"+n, n)
		io.WriteString(w, strings.Repeat(n, len(n)))
	})
	base := serve(t, h, s)
	c := client(t)
	for i := range 200 {
		n := fmt.Sprint(i)
		if i%3 == 2 {
			n = ""
		}
		resp, body := exampletest.Get(t, c, base+"/r?n="+n)
		if n == "" {
			if resp.StatusCode != http.StatusNoContent || len(body) != 0 || len(resp.Header) != 2 {
				t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
			}
			continue
		}
		var extra []string
		for k := range resp.Header {
			if k != "X-N"+n && k != "Content-Type" && k != "Content-Length" && k != "Date" && k != "Server" {
				extra = append(extra, k)
			}
		}
		if resp.StatusCode != 200 || body != strings.Repeat(n, len(n)) || resp.Header.Get("X-N"+n) != n || len(extra) > 0 {
			t.Fatalf("request %d: %d %q %v (fields of other responses: %v)", i, resp.StatusCode, body, resp.Header, extra)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range kept {
		want := fmt.Sprint(i)
		if i%3 == 2 {
			want = ""
		}
		if got := r.URL.Query().Get("n"); got != want || r.URL.Path != "/r" || r.Header.Get("User-Agent") == "" {
			t.Fatalf("kept request %d: %v %v", i, r.URL, r.Header)
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("kept request %d: its context is not done", i)
		}
	}
}

// requestURL's shortcut gives what url.ParseRequestURI gives.
func TestRequestURLMatchesNetURL(t *testing.T) {
	targets := []string{
		"/", "/a", "/a/b/c.html", "/a?", "/a??", "/a?b?", "/?x=1&y=2", "/a%20b", "/a b", "/a#f", "/a?q#f",
		"/~user/a-b_c.d", "/$&+,:;=@", "/!'()*", "/a\"b", "/a<b>", "/é", "/a?é", "/a?\x7f", "//host/path",
		"/a/../b", "/a/./b", "/%zz", "/a?%zz", "/a;b", "/a|b", "/a{b}", "/a\\b", "/a^b", "/a`b", "/a[b]",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "/?#%&=+;:@!$'()*,-._~ \"<>[]\\^`{|}aZ09é\x01\x7f"
	for range 5000 {
		b := []byte{'/'}
		for range rng.IntN(12) {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		targets = append(targets, string(b))
	}
	for _, target := range targets {
		r := helloRequest()
		r.Target = target
		var u url.URL
		got, gerr := requestURL(r, &u)
		want, werr := url.ParseRequestURI(target)
		if (gerr == nil) != (werr == nil) || gerr == nil && !reflect.DeepEqual(*got, *want) {
			t.Fatalf("%q: got %#v, %v; url.ParseRequestURI: %#v, %v", target, got, gerr, want, werr)
		}
	}
}

// canonical agrees with textproto.CanonicalMIMEHeaderKey.
func TestCanonicalKey(t *testing.T) {
	keys := []string{"", "Host", "host", "HOST", "Content-Type", "content-type", "X-Forwarded-For", "X-forwarded-for",
		"A", "a", "1", "1a", "1A", "A1b", "-", "A-", "-A", "A--B", "Foo_Bar", "Foo Bar", "ÿ", "Www-Authenticate", "WWW-Authenticate"}
	for _, k := range keys {
		if canonical(k) && textproto.CanonicalMIMEHeaderKey(k) != k {
			t.Errorf("canonical(%q) but CanonicalMIMEHeaderKey gives %q", k, textproto.CanonicalMIMEHeaderKey(k))
		}
	}
	for _, k := range []string{"Host", "Content-Type", "X-Forwarded-For", "A1b", "Www-Authenticate"} {
		if !canonical(k) {
			t.Errorf("canonical(%q) = false", k)
		}
	}
}

// remoteAddrString gives what the address's String gives.
func TestRemoteAddrString(t *testing.T) {
	addrs := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080},
		&net.TCPAddr{IP: net.IP{10, 1, 2, 3}, Port: 1},
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 65535},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::ff00:42:8329"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Port: 65535},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
		&net.TCPAddr{Port: 80},
		&net.UnixAddr{Name: "/tmp/s", Net: "unix"},
	}
	for _, a := range addrs {
		var st request
		if got, want := st.remoteAddrString(a), a.String(); got != want {
			t.Errorf("%#v: %q, want %q", a, got, want)
		}
	}
}

// A ResponseWriter kept past ServeHTTP's return (net/http forbids its use)
// fails there and never reaches the responses of later requests, which
// reuse the writer behind it.
func TestWriterKeptPastReturn(t *testing.T) {
	kept := make(chan http.ResponseWriter, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keep" {
			kept <- w
		}
		io.WriteString(w, r.URL.Path)
	})
	base := serve(t, h, streamhttp.ServerSettings{})
	c := client(t)
	get := func(path string) string {
		t.Helper()
		resp, body := exampletest.Get(t, c, base+path)
		if len(resp.Header.Values("X-Late")) > 0 {
			t.Errorf("%s: a late header reached the response: %v", path, resp.Header)
		}
		return body
	}
	if got := get("/keep"); got != "/keep" {
		t.Fatalf("got %q", got)
	}
	w := <-kept
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			w.Header().Set("X-Late", "1")
			if _, err := w.Write([]byte("late")); err == nil {
				t.Error("a write after ServeHTTP returned succeeded")
				return
			}
			if err := http.NewResponseController(w).Flush(); err == nil {
				t.Error("a flush after ServeHTTP returned succeeded")
				return
			}
			w.WriteHeader(http.StatusTeapot)
		}
	}()
	for i := range 100 {
		path := fmt.Sprintf("/r%d", i)
		if got := get(path); got != path {
			t.Fatalf("got %q, want %q", got, path)
		}
	}
	<-done
	if _, _, err := http.NewResponseController(w).Hijack(); err == nil {
		t.Error("a hijack after ServeHTTP returned succeeded")
	}
}

// TestResponseOutlivesWriter: a short answer's body lives in the request's
// allocation and a longer one in its own, never in the writer's buffer, so
// a response the server has not written yet stays intact while its writer
// serves later requests; a head with no body carries none.
func TestResponseOutlivesWriter(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n < 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat(r.URL.Query().Get("c"), n))
	})
	f := Handler(h, Options{})
	type answer struct {
		resp *streamhttp.Response
		want string
	}
	var answers []answer
	for i, n := range []int{0, 1, smallBody - 1, smallBody, smallBody + 1, commitSize, -1, 5, smallBody} {
		c := string(rune('a' + i))
		r := helloRequest()
		r.Target = fmt.Sprintf("/r?n=%d&c=%s", n, c)
		resp, err := f(r.Context(), r)
		r.CancelContext()
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, answer{resp, strings.Repeat(c, max(n, 0))})
	}
	for i, a := range answers {
		st, ok := a.resp.Entity.(*entity.Strict)
		if !ok {
			t.Fatalf("answer %d: entity %T, want *entity.Strict", i, a.resp.Entity)
		}
		if string(st.Data) != a.want {
			t.Errorf("answer %d: body %q, want %q", i, st.Data, a.want)
		}
		if a.resp.Status == http.StatusNoContent && (st.Data != nil || st.Type != "") {
			t.Errorf("answer %d: 204 with a body %q of type %q", i, st.Data, st.Type)
		}
		if a.resp.Status == 200 && st.Type != "text/plain" {
			t.Errorf("answer %d: type %q", i, st.Type)
		}
	}
}
