package nethttp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/exampletest"
	"github.com/streamhttp/streamhttp/stream"
)

// Requests of the reuse tests. Request i is a GET, a HEAD or a POST with
// a body, with fields of its own (a value of its own length, a key sent
// twice for some); its handler answers in one of several ways by i%6.
func reuseMethod(i int) string { return [...]string{"GET", "POST", "HEAD"}[i%3] }

func reuseBody(i int) string {
	if reuseMethod(i) != "POST" {
		return ""
	}
	return strings.Repeat(strconv.Itoa(i%10), 1+i%300)
}

func reuseRawRequest(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s /r/%d?q=%d&pad=%s HTTP/1.1\r\nHost: h%d\r\nX-Id: %d\r\nX-Pad: %s\r\n", reuseMethod(i), i, i, strings.Repeat("q", i%40), i%7, i, strings.Repeat("p", i%50))
	if i%4 == 0 {
		fmt.Fprintf(&b, "X-Multi: a%d\r\nX-Multi: b%d\r\n", i, i)
	}
	if body := reuseBody(i); body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
		return b.String()
	}
	b.WriteString("\r\n")
	return b.String()
}

// reuseAnswer is the body of the answer to request i.
func reuseAnswer(i int) string {
	switch i % 6 {
	case 0:
		return "" // 204
	case 2:
		return strings.Repeat("L", smallBody+i%200) // longer than the request's own bytes
	}
	return "answer " + strconv.Itoa(i)
}

// checkReuseRequest reports how r differs from request i as sent, its
// context included with ctx (a request's context ends once its response is
// out, which a head may be before ServeHTTP returns).
func checkReuseRequest(r *http.Request, i int, ctx bool) string {
	var diffs []string
	check := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			diffs = append(diffs, fmt.Sprintf("%s %v, want %v", what, got, want))
		}
	}
	check("method", r.Method, reuseMethod(i))
	check("path", r.URL.Path, "/r/"+strconv.Itoa(i))
	check("query", r.URL.RawQuery, fmt.Sprintf("q=%d&pad=%s", i, strings.Repeat("q", i%40)))
	check("host", r.Host, "h"+strconv.Itoa(i%7))
	want := http.Header{"X-Id": {strconv.Itoa(i)}, "X-Pad": {strings.Repeat("p", i%50)}}
	if i%4 == 0 {
		want["X-Multi"] = []string{"a" + strconv.Itoa(i), "b" + strconv.Itoa(i)}
	}
	if body := reuseBody(i); body != "" {
		want["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	check("header", sortedHeader(r.Header), sortedHeader(want))
	if ctx {
		check("context error", r.Context().Err(), nil)
	}
	check("server key", r.Context().Value(http.ServerContextKey) != nil, true)
	return strings.Join(diffs, "; ")
}

func sortedHeader(h http.Header) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, h[k])
	}
	return b.String()
}

// TestReuseRequestsIsClean: with Options.ReuseRequests and
// ServerSettings.ReuseRequests, every request a handler sees is as sent,
// in every field and in its context, and every answer is its own, while
// requests and answers reuse the memory of earlier ones on two connections
// that pipeline. The handlers change their header maps and answer in every
// way: 204, a short or a long body, a body after a Flush, a head that goes
// out (HEAD, 204 after a Flush) while the handler still reads its request,
// and a context waited on, by a goroutine that reads the request after
// ServeHTTP has returned (such a request is never reused).
func TestReuseRequestsIsClean(t *testing.T) {
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism=", parallelism), func(t *testing.T) {
			testReuseRequestsIsClean(t, parallelism)
		})
	}
}

func testReuseRequestsIsClean(t *testing.T, parallelism int) {
	var watchers sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil {
			http.Error(w, "bad path "+r.URL.Path, http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(r.Body)
		if d := checkReuseRequest(r, i, true); d != "" || err != nil || string(body) != reuseBody(i) {
			http.Error(w, fmt.Sprintf("request %d: %s; body %q, %v", i, d, body, err), http.StatusInternalServerError)
			return
		}
		r.Header.Set("X-Added", "by the handler") // must not reach a later request
		w.Header().Set("X-Echo", strconv.Itoa(i))
		switch i % 6 {
		case 0:
			w.WriteHeader(http.StatusNoContent)
		case 1:
			w.(http.Flusher).Flush()
			io.WriteString(w, reuseAnswer(i))
		case 3:
			if r.Method == http.MethodHead {
				break
			}
			done := r.Context().Done() // waited on before ServeHTTP returns
			watchers.Add(1)
			go func() {
				defer watchers.Done()
				<-done
				time.Sleep(time.Millisecond)
				if r.URL.Path != "/r/"+strconv.Itoa(i) || r.Header.Get("X-Id") != strconv.Itoa(i) {
					t.Errorf("request %d, after ServeHTTP returned: %s %v", i, r.URL, r.Header)
				}
			}()
			io.WriteString(w, reuseAnswer(i))
		default:
			io.WriteString(w, reuseAnswer(i))
		}
		if r.Method == http.MethodHead || i%6 == 0 {
			// The head may be out already: what the handler reads now is
			// still its request.
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Microsecond)
			r.Header.Del("X-Added")
			if d := checkReuseRequest(r, i, false); d != "" {
				t.Errorf("request %d, after its head: %s", i, d)
			}
		}
	})
	s := streamhttp.ServerSettings{DisableSignals: true, ReuseRequests: true, PipeliningLimit: 16}
	b, err := streamhttp.BindAndHandleAsync(context.Background(), "127.0.0.1:0", Handler(h, Options{Logger: discardLogger(), ReuseRequests: true}), parallelism, s)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	var wg sync.WaitGroup
	for conn := range 2 {
		wg.Go(func() {
			exampletest.Pipeline(t, b.LocalAddr().String(), conn*1000, 160, 16, reuseRawRequest, readReuseAnswer)
		})
	}
	wg.Wait()
	watchers.Wait()
}

// readReuseAnswer reads the answer to request i and reports how it differs
// from what its handler wrote.
func readReuseAnswer(br *bufio.Reader, i int) string {
	resp, err := http.ReadResponse(br, &http.Request{Method: reuseMethod(i)})
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	want, status := reuseAnswer(i), http.StatusOK
	if i%6 == 0 {
		status = http.StatusNoContent
	}
	if reuseMethod(i) == "HEAD" {
		want = ""
	}
	if resp.StatusCode != status || string(body) != want || resp.Header.Get("X-Echo") != strconv.Itoa(i) || len(resp.Header.Values("X-Echo")) != 1 {
		return fmt.Sprintf("answer %d: %d %v %.60q", i, resp.StatusCode, resp.Header, body)
	}
	return ""
}

// TestReuseRequestsAllocs: keep-alive requests through the adapter with
// reuse on cost one allocation each, the handler's own (the value slice
// of Header().Set), over the server's: against 4 and more without it. A
// few per cent more are the requests whose handler's goroutine had not
// answered after two turns: handle then waits on the request's context,
// whose Done channel costs an allocation and keeps the server from
// reusing that request (see adapter.handle).
func TestReuseRequestsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops objects at random")
	}
	const n = 256
	in := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", n))
	s := streamhttp.ServerSettings{ReuseRequests: true}
	allocs := func(f func() ([]byte, error)) float64 {
		f() // fill the pools
		return testing.AllocsPerRun(10, func() {
			out, err := f()
			if err != nil || bytes.Count(out, []byte("Hello, World!")) != n {
				t.Fatalf("%v: %.200q", err, out)
			}
		})
	}
	replay := func(o Options) func() ([]byte, error) {
		flow := Flow(helloHandler, 1, o)
		return func() ([]byte, error) { return streamhttp.Replay(context.Background(), bytes.NewReader(in), flow, s) }
	}
	hello := httpcore.Text(httpcore.StatusOK, "Hello, World!").Shared()
	native := stream.Map(func(*streamhttp.Request) *streamhttp.Response { return hello })
	base := allocs(func() ([]byte, error) { return streamhttp.Replay(context.Background(), bytes.NewReader(in), native, s) })
	reused := (allocs(replay(Options{ReuseRequests: true})) - base) / n
	fresh := (allocs(replay(Options{})) - base) / n
	t.Logf("allocations per request over the server's: %.2f with reuse, %.2f without", reused, fresh)
	if reused > 1.15 {
		t.Errorf("%.2f allocations per request through the adapter with reuse, want 1 (the handler's)", reused)
	}
	if fresh < 4 {
		t.Errorf("%.2f allocations per request without reuse: the test no longer measures what it should", fresh)
	}
}
