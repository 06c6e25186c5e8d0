package nethttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
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
