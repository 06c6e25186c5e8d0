package nethttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/exampletest"
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
					wg.Go(func() { exampletest.Pipeline(t, addr, conn*10000, 300, 1, ctypeRequest, readCtype) })
				}
				wg.Wait()
			})
		}
	}
}

// readCtype reads the answer to ctypeRequest(i) and reports how it differs
// from one that carries its request's Content-Type.
func readCtype(br *bufio.Reader, i int) string {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	body, err := io.ReadAll(resp.Body)
	if want := fmt.Sprintf("type/%05d", i); err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok" || resp.Header.Get("Content-Type") != want {
		return fmt.Sprintf("answer %d: %d %v %q %v, want Content-Type %s", i, resp.StatusCode, resp.Header, body, err, want)
	}
	return ""
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
		ch := w.(interface{ CloseNotify() <-chan bool }).CloseNotify() // http.CloseNotifier
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
		if i := reuseID(r); i%6 == 0 {
			w.WriteHeader(http.StatusNoContent) // as readReuseAnswer expects
		} else {
			io.WriteString(w, reuseAnswer(i))
		}
	})
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism=", parallelism), func(t *testing.T) {
			addr := bindReuse(t, Handler(h, Options{Logger: discardLogger(), ReuseRequests: true}), parallelism)
			var wg sync.WaitGroup
			for conn := range 2 {
				wg.Go(func() { exampletest.Pipeline(t, addr, conn*1000+1, 160, 16, reuseGetRequest, readReuseGet) })
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
func readReuseGet(br *bufio.Reader, i int) string { return readReuseAnswer(br, 3*i) }

// Requests of TestReuseMixed: request i is of kind i%mixedKinds, with
// fields of its own (lengths vary with i, so that recycled memory holds
// other bytes where this request's were).
const mixedKinds = 7

func mixedBody(i int) string {
	switch i % mixedKinds {
	case 0:
		return strings.Repeat(strconv.Itoa(i%10), 20+i%150) // strict, in the request's object
	case 5:
		return strings.Repeat(string(rune('a'+i%26)), 3000+i%500) // a body array
	case 6:
		return strings.Repeat(string(rune('A'+i%26)), 70000+i%100) // larger than the arrays
	}
	return ""
}

func mixedRequest(i int) string {
	var b strings.Builder
	method := "GET"
	if mixedBody(i) != "" {
		method = "POST"
	}
	fmt.Fprintf(&b, "%s /m/%d?k=%s HTTP/1.1\r\nHost: m%d\r\nX-Id: %d\r\nX-Pad: %s\r\n", method, i, strings.Repeat("k", i%30), i%5, i, strings.Repeat("p", i%60))
	switch i % mixedKinds {
	case 3:
		fmt.Fprintf(&b, "If-None-Match: \"e%d\"\r\n", i)
	case 5:
		b.WriteString("Expect: 100-continue\r\n")
	}
	if body := mixedBody(i); body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	} else {
		b.WriteString("\r\n")
	}
	return b.String()
}

// mixedFields is the number of keys in the header map of request i (Host
// is not among them).
func mixedFields(i int) int {
	n := 2 // X-Id, X-Pad
	switch i % mixedKinds {
	case 3, 5:
		n++ // If-None-Match, Expect
	}
	if mixedBody(i) != "" {
		n++ // Content-Length
	}
	return n
}

// checkMixed reports how the target and fields of a request differ from
// request i's as sent.
func checkMixed(target, host, id, pad string, i int) string {
	var diffs []string
	if want := fmt.Sprintf("/m/%d?k=%s", i, strings.Repeat("k", i%30)); target != want {
		diffs = append(diffs, fmt.Sprintf("target %q, want %q", target, want))
	}
	if host != "m"+strconv.Itoa(i%5) || id != strconv.Itoa(i) || pad != strings.Repeat("p", i%60) {
		diffs = append(diffs, fmt.Sprintf("host %q, X-Id %q, X-Pad %q", host, id, pad))
	}
	return strings.Join(diffs, "; ")
}

// mixedAnswer is the body of the answer to request i: derived from the
// request as the handler read it.
func mixedAnswer(i int) string {
	switch i % mixedKinds {
	case 1:
		return strings.Repeat(fmt.Sprintf("<%d>", i), 5000/len(fmt.Sprintf("<%d>", i))+1) // over the commit buffer
	case 3:
		return "" // 304
	case 0, 5, 6:
		body := mixedBody(i)
		return fmt.Sprintf("%d:%d:%s", i, len(body), body[len(body)-10:])
	}
	return fmt.Sprintf("answer %d %s", i, strings.Repeat("p", i%60))
}

// TestReuseMixed: with request reuse in the server and in the adapter,
// every answer is its request's own and every handler sees its request as
// sent, before and after its head is out, over pipelined connections that
// reuse each other's memory: bodies that came with the head (in the
// request's object, in a body array, larger), 100-continue, an answer over
// the commit buffer, a chunked answer with trailers echoing the request, a
// 304, and a streamhttp handler mounted inside (ToHTTP).
func TestReuseMixed(t *testing.T) {
	inner := ToHTTP(func(_ context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URI.Path, "/m/"))
		if d := checkMixed(r.Target, r.Host, r.Header.Get("X-Id"), r.Header.Get("X-Pad"), i); d != "" {
			return httpcore.Text(httpcore.StatusInternalServerError, "inner: "+d), nil
		}
		return httpcore.Text(httpcore.StatusOK, fmt.Sprintf("answer %d %s", i, r.Header.Get("X-Pad"))), nil
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/m/"))
		check := func(when string) bool {
			d := checkMixed(r.RequestURI, r.Host, r.Header.Get("X-Id"), r.Header.Get("X-Pad"), i)
			keys := len(r.Header)
			if _, ok := r.Header["User-Agent"]; ok && r.ProtoMajor == 2 {
				keys-- // net/http's client adds it
			}
			if want := mixedFields(i); keys != want {
				d = strings.TrimPrefix(d+fmt.Sprintf("; %d header keys, want %d: %v", len(r.Header), want, r.Header), "; ")
			}
			if d != "" {
				t.Errorf("request %d, %s: %s", i, when, d)
			}
			return d == ""
		}
		if err != nil || !check("at first") {
			http.Error(w, "bad request", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Echo", r.Header.Get("X-Id"))
		switch i % mixedKinds {
		case 0, 5, 6:
			body, err := io.ReadAll(r.Body)
			if err != nil || string(body) != mixedBody(i) {
				t.Errorf("request %d: body of %d bytes, %v", i, len(body), err)
			}
			fmt.Fprintf(w, "%d:%d:%s", i, len(body), body[max(len(body)-10, 0):])
		case 1:
			piece := fmt.Sprintf("<%d>", i)
			for range 5000/len(piece) + 1 {
				io.WriteString(w, piece)
			}
			time.Sleep(50 * time.Microsecond) // the head and most of the body are out
			check("after its head")
		case 2:
			w.Header().Set("Trailer", "X-Tail")
			io.WriteString(w, mixedAnswer(i))
			w.Header().Set("X-Tail", r.Header.Get("X-Id")+r.Header.Get("X-Pad"))
		case 3:
			w.Header().Set("Etag", strings.Trim(r.Header.Get("If-None-Match"), `"`))
			w.WriteHeader(http.StatusNotModified)
		case 4:
			inner.ServeHTTP(w, r)
			check("after the mounted handler")
		}
	})
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism=", parallelism), func(t *testing.T) {
			addr := bindReuse(t, Handler(h, Options{Logger: discardLogger(), ReuseRequests: true}), parallelism)
			var wg sync.WaitGroup
			for conn := range 2 {
				wg.Go(func() { exampletest.Pipeline(t, addr, conn*1000, 140, 16, mixedRequest, readMixed) })
			}
			// HTTP/2 streams of one connection meanwhile: the server never
			// reuses their requests nor calls OnWritten, and the adapter's
			// request objects they take from the pool stay theirs.
			tr := &http.Transport{Protocols: new(http.Protocols), DisableCompression: true}
			tr.Protocols.SetUnencryptedHTTP2(true)
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			for g := range 4 {
				wg.Go(func() {
					for i := 2000 + g; i < 2140; i += 4 {
						if d := mixedHTTP2(c, addr, i); d != "" {
							t.Error(d)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// mixedHTTP2 sends request i of mixedRequest over HTTP/2 (kind 5, which
// expects 100 Continue, as kind 0) and checks its answer.
func mixedHTTP2(c *http.Client, addr string, i int) string {
	if i%mixedKinds == 5 {
		i++
	}
	var body io.Reader
	method := http.MethodGet
	if b := mixedBody(i); b != "" {
		body, method = strings.NewReader(b), http.MethodPost
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://%s/m/%d?k=%s", addr, i, strings.Repeat("k", i%30)), body)
	if err != nil {
		return err.Error()
	}
	req.Host = "m" + strconv.Itoa(i%5)
	req.Header.Set("X-Id", strconv.Itoa(i))
	req.Header.Set("X-Pad", strings.Repeat("p", i%60))
	if i%mixedKinds == 3 {
		req.Header.Set("If-None-Match", fmt.Sprintf(`"e%d"`, i))
	}
	resp, err := c.Do(req)
	if err == nil {
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			return fmt.Sprintf("answer %d over %s", i, resp.Proto)
		}
	}
	return checkMixedAnswer(resp, err, i)
}

// readMixed reads the answer to mixedRequest(i) and reports how it differs
// from what its handler wrote.
func readMixed(br *bufio.Reader, i int) string {
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusContinue && i%mixedKinds == 5 {
		resp, err = http.ReadResponse(br, nil)
	}
	return checkMixedAnswer(resp, err, i)
}

// checkMixedAnswer reads resp, the answer to request i of mixedRequest
// (or the error that came instead), and reports how it differs from what
// its handler wrote.
func checkMixedAnswer(resp *http.Response, err error, i int) string {
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return fmt.Sprintf("answer %d: %v", i, err)
	}
	status, echo := http.StatusOK, strconv.Itoa(i)
	var diffs []string
	switch i % mixedKinds {
	case 2:
		if got, want := resp.Trailer.Get("X-Tail"), strconv.Itoa(i)+strings.Repeat("p", i%60); got != want {
			diffs = append(diffs, fmt.Sprintf("trailer %q, want %q", got, want))
		}
	case 3:
		status = http.StatusNotModified
		if got := resp.Header.Get("Etag"); got != "e"+strconv.Itoa(i) {
			diffs = append(diffs, fmt.Sprintf("Etag %q", got))
		}
	}
	if resp.StatusCode != status || string(body) != mixedAnswer(i) || resp.Header.Get("X-Echo") != echo {
		diffs = append(diffs, fmt.Sprintf("%d %v %.80q", resp.StatusCode, resp.Header, body))
	}
	if len(diffs) > 0 {
		return fmt.Sprintf("answer %d: %s", i, strings.Join(diffs, "; "))
	}
	return ""
}
