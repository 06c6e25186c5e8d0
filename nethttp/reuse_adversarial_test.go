package nethttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
)

// bindReuse serves f with request reuse on (ServerSettings.ReuseRequests)
// on a loopback port and returns its address; the cleanup closes the
// binding.
func bindReuse(t *testing.T, f func(context.Context, *streamhttp.Request) (*streamhttp.Response, error), parallelism int) string {
	t.Helper()
	s := streamhttp.ServerSettings{DisableSignals: true, ReuseRequests: true, PipeliningLimit: 16}
	b, err := streamhttp.BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, parallelism, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("closing the binding: %v", err)
		}
	})
	return b.LocalAddr().String()
}

// ctypeRequest is request i of the Content-Type tests: keep-alive
// requests whose Content-Type values differ but have one length, so that
// a recycled request holds request i+1's value where request i's was.
func ctypeRequest(i int) string {
	return fmt.Sprintf("GET /c HTTP/1.1\r\nHost: x\r\nContent-Type: type/%05d\r\n\r\n", i)
}

// TestReuseEchoedContentType: a handler that answers with its request's
// Content-Type (a string in the request's memory, which the server reuses
// once the answer is out) gets it on the wire, response after response on
// one connection, through the adapter and natively. A server that kept the
// string past the response (the head cache of strict answers) would find
// the next request's value there and send the last answer's head again.
func TestReuseEchoedContentType(t *testing.T) {
	adapted := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.WriteString(w, "ok")
	}), Options{Logger: discardLogger(), ReuseRequests: true})
	native := func(_ context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		return httpcore.Bytes(httpcore.StatusOK, r.ContentType, []byte("ok")), nil
	}
	for _, tc := range []struct {
		name string
		f    func(context.Context, *streamhttp.Request) (*streamhttp.Response, error)
	}{{"adapter", adapted}, {"native", native}} {
		for _, parallelism := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/parallelism=%d", tc.name, parallelism), func(t *testing.T) {
				addr := bindReuse(t, tc.f, parallelism)
				var wg sync.WaitGroup
				for conn := range 2 {
					wg.Go(func() { echoContentTypes(t, addr, conn*10000, 300) })
				}
				wg.Wait()
			})
		}
	}
}

// echoContentTypes sends requests first to first+n-1 one after the other on
// one connection and checks that each answer carries its request's
// Content-Type.
func echoContentTypes(t *testing.T, addr string, first, n int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for i := first; i < first+n; i++ {
		if _, err := io.WriteString(c, ctypeRequest(i)); err != nil {
			t.Error(err)
			return
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("answer %d: %v", i, err)
			return
		}
		body, err := io.ReadAll(resp.Body)
		if want := fmt.Sprintf("type/%05d", i); err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" || resp.Header.Get("Content-Type") != want {
			t.Errorf("answer %d: %d %v %q %v, want Content-Type %s", i, resp.StatusCode, resp.Header, body, err, want)
			return
		}
	}
}

// pipelineAnswers sends requests first to first+n-1, made by raw, in
// batches of 16 pipelined requests on one connection, and reads each
// answer with check.
func pipelineAnswers(t *testing.T, addr string, first, n int, raw func(int) string, check func(*bufio.Reader, int) string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	for batch := first; batch < first+n; batch += 16 {
		var in strings.Builder
		end := min(batch+16, first+n)
		for i := batch; i < end; i++ {
			in.WriteString(raw(i))
		}
		if _, err := io.WriteString(c, in.String()); err != nil {
			t.Error(err)
			return
		}
		for i := batch; i < end; i++ {
			if d := check(br, i); d != "" {
				t.Error(d)
				return
			}
		}
	}
}

// TestReuseCloseNotify: CloseNotify's channel gets its value once the
// request's context ends, ServeHTTP's return included, and its goroutine
// waits on that context whenever it runs: a request whose handler asked
// for it is not reused under the goroutine (which the race detector, or a
// nil context, would report).
func TestReuseCloseNotify(t *testing.T) {
	var notified sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := checkReuseRequest(r, reuseID(r), true); d != "" {
			http.Error(w, d, http.StatusInternalServerError)
			return
		}
		ch := w.(http.CloseNotifier).CloseNotify()
		notified.Add(1)
		go func() {
			defer notified.Done()
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Error("CloseNotify's channel got no value after ServeHTTP returned")
			}
		}()
		w.Header().Set("X-Echo", r.Header.Get("X-Id"))
		io.WriteString(w, reuseAnswer(reuseID(r)))
	})
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism=", parallelism), func(t *testing.T) {
			addr := bindReuse(t, Handler(h, Options{Logger: discardLogger(), ReuseRequests: true}), parallelism)
			var wg sync.WaitGroup
			for conn := range 2 {
				wg.Go(func() { pipelineAnswers(t, addr, conn*1000+1, 160, reuseGetRequest, readReuseGet) })
			}
			wg.Wait()
			notified.Wait()
		})
	}
}

// reuseID is the number of request r of reuseGetRequest (-1 when it is not
// one).
func reuseID(r *http.Request) int {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
	if err != nil {
		return -1
	}
	return i
}

// reuseGetRequest is the i-th GET of reuseRawRequest (whose GETs are the
// multiples of 3).
func reuseGetRequest(i int) string { return reuseRawRequest(3 * i) }

// readReuseGet reads the answer to reuseGetRequest(i).
func readReuseGet(br *bufio.Reader, i int) string { return readReuseAnswerOK(br, 3*i) }

// readReuseAnswerOK reads an answer to request i of reuseRawRequest that
// its handler wrote with status 200, body reuseAnswer(i) and X-Echo i.
func readReuseAnswerOK(br *bufio.Reader, i int) string {
	resp, err := http.ReadResponse(br, &http.Request{Method: reuseMethod(i)})
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != reuseAnswer(i) || resp.Header.Get("X-Echo") != strconv.Itoa(i) {
		return fmt.Sprintf("answer %d: %d %v %.80q", i, resp.StatusCode, resp.Header, body)
	}
	return ""
}
