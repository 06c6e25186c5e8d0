package streamhttp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/exampletest"
)

// reuseBody is the body of request i of the reuse tests: sizes that fit the
// request's object, that need a body array, and none.
func reuseBody(i int) string {
	n := []int{0, 10, 300, 3000, 5000, 0, 17000}[i%7]
	return strings.Repeat(strconv.Itoa(i%10), n)
}

// reuseRequest is request i: a GET or a POST whose body comes with its
// head, with fields of its own.
func reuseRequest(i int) string {
	body := reuseBody(i)
	if body == "" {
		return fmt.Sprintf("GET /r/%d?q=%d HTTP/1.1\r\nHost: x\r\nX-Id: %d\r\n\r\n", i, i, i)
	}
	return fmt.Sprintf("POST /r/%d HTTP/1.1\r\nHost: x\r\nX-Id: %d\r\nContent-Type: text/x-%d\r\nContent-Length: %d\r\n\r\n%s", i, i, i, len(body), body)
}

// checkReused is the handler of the reuse tests: it checks that its
// request is request i as sent (answering 500 with what differs when not)
// and echoes its id and body from the request's own memory.
func checkReused(r *Request) *Response {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URI.Path, "/r/"))
	if err != nil {
		return httpcore.Text(httpcore.StatusInternalServerError, "bad target "+r.Target)
	}
	var body []byte
	if r.Entity != nil {
		// A body that came with its head is strict already; a larger one
		// may come in pieces.
		s, err := entity.ToStrict(r.Context(), r.Entity, 1<<20)
		if err != nil {
			return httpcore.Text(httpcore.StatusInternalServerError, fmt.Sprintf("request %d: %v", i, err))
		}
		body = s.Data
	}
	id := r.Header.Get("X-Id")
	switch {
	case id != strconv.Itoa(i), len(r.Header) != 2+min(len(body), 1)*2:
		return httpcore.Text(httpcore.StatusInternalServerError, fmt.Sprintf("request %d: header %v", i, r.Header))
	case string(body) != reuseBody(i):
		return httpcore.Text(httpcore.StatusInternalServerError, fmt.Sprintf("request %d: body of %d bytes %.20q", i, len(body), body))
	case len(body) == 0 && r.URI.RawQuery != "q="+id:
		return httpcore.Text(httpcore.StatusInternalServerError, fmt.Sprintf("request %d: query %q", i, r.URI.RawQuery))
	}
	resp := httpcore.Bytes(httpcore.StatusOK, r.ContentType, body)
	resp.Header.Add("X-Id", id) // the request's memory too, until the response is written
	return resp
}

// readReused reads the answer to request i and reports how it differs
// from the echo checkReused makes ("" when it does not).
func readReused(br *bufio.Reader, i int) string {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Sprintf("response %d: %v", i, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Sprintf("response %d: %v", i, err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Id") != strconv.Itoa(i) || string(body) != reuseBody(i) {
		return fmt.Sprintf("response %d: %s, X-Id %q, body of %d bytes %.40q", i, resp.Status, resp.Header.Get("X-Id"), len(body), body)
	}
	return ""
}

// TestReuseRequestsServing: with ServerSettings.ReuseRequests, pipelined
// requests of every size on two connections at once, answered inline and
// concurrently (out of order), each reach the handler exactly as sent, and
// the answers, made from the requests' memory, arrive intact, while that
// memory goes from request to request and from connection to connection.
func TestReuseRequestsServing(t *testing.T) {
	for _, parallelism := range []int{1, 4, 16} {
		t.Run(fmt.Sprint(parallelism), func(t *testing.T) {
			f := func(ctx context.Context, r *Request) (*Response, error) {
				if strings.HasSuffix(r.URI.Path, "3") {
					time.Sleep(time.Millisecond) // answered after requests behind it
				}
				return checkReused(r), nil
			}
			s := quietSettings()
			s.DisableSignals, s.ReuseRequests, s.PipeliningLimit = true, true, 16
			b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, parallelism, s)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			var wg sync.WaitGroup
			for conn := range 2 {
				wg.Go(func() { exampletest.Pipeline(t, b.LocalAddr().String(), conn*1000, 128, 16, reuseRequest, readReused) })
			}
			wg.Wait()
		})
	}
}

// TestReuseRequestsKeepsWhatItMust: with ServerSettings.ReuseRequests, the
// requests the server cannot vouch for keep their memory while other
// requests reuse memory on another connection: one the handler kept
// (Request.Keep), one answered by the server's timeout while its handler
// still runs, one whose context a goroutine waited on, and the access log's
// record of every request.
func TestReuseRequestsKeepsWhatItMust(t *testing.T) {
	var mu sync.Mutex
	var kept []*Request
	var logged []string
	release := make(chan struct{})
	late := make(chan string, 1)
	watched := make(chan string, 1)
	f := func(ctx context.Context, r *Request) (*Response, error) {
		switch r.URI.Path {
		case "/keep":
			r.Keep()
			mu.Lock()
			kept = append(kept, r)
			mu.Unlock()
		case "/slow":
			time.Sleep(50 * time.Millisecond) // the next request times out behind it
		case "/late":
			r.SetTimeout(10 * time.Millisecond)
			<-release // long after the server's 503
			late <- r.Target + " " + r.Header.Get("X-Id")
		case "/watched":
			done := r.Context().Done()
			go func() {
				<-done // the response is written
				<-release
				watched <- r.Target + " " + r.Header.Get("X-Id")
			}()
		default:
			return checkReused(r), nil
		}
		return httpcore.Text(httpcore.StatusOK, "ok"), nil
	}
	s := quietSettings()
	s.DisableSignals, s.ReuseRequests, s.PipeliningLimit = true, true, 16
	s.AccessLog = func(rec AccessRecord) {
		mu.Lock()
		logged = append(logged, rec.Target)
		mu.Unlock()
	}
	b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, 4, s)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock() // before Close, which waits for the handlers

	// The 503 of the late request is written in band, after the answer to
	// the slow one before it: the exchange ends as any other does, while
	// its handler still runs.
	c, br := dialSend(t, b.LocalAddr(), get("/slow")+"GET /late?x HTTP/1.1\r\nHost: x\r\nX-Id: late\r\n\r\n")
	defer c.Close()
	for _, want := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		if got := readRaw(t, br); got.Status != want {
			t.Fatalf("the slow and the late request: %+v; want status %d", got, want)
		}
	}
	c2, br2 := dialSend(t, b.LocalAddr(), "")
	defer c2.Close()
	var in bytes.Buffer
	for i := range 8 {
		fmt.Fprintf(&in, "GET /keep?%d HTTP/1.1\r\nHost: x\r\nX-Id: %d\r\n\r\n", i, i)
	}
	in.WriteString("GET /watched?w HTTP/1.1\r\nHost: x\r\nX-Id: watched\r\n\r\n")
	if _, err := c2.Write(in.Bytes()); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if got := readRaw(t, br2); got.Status != 200 {
			t.Fatalf("response %d: %+v", i, got)
		}
	}
	// Many requests of every size reuse memory meanwhile.
	exampletest.Pipeline(t, b.LocalAddr().String(), 0, 128, 16, reuseRequest, readReused)
	unblock()
	if got := <-late; got != "/late?x late" {
		t.Errorf("the timed-out request's handler sees %q, want %q", got, "/late?x late")
	}
	if got := <-watched; got != "/watched?w watched" {
		t.Errorf("the watched request seen after its response: %q, want %q", got, "/watched?w watched")
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{} // handled concurrently: kept in any order
	for _, r := range kept {
		id := r.Header.Get("X-Id")
		if r.Target != "/keep?"+id || len(r.Header) != 2 || seen[id] {
			t.Errorf("kept request: %q %v", r.Target, r.Header)
		}
		seen[id] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d kept requests, want 8", len(seen))
	}
	for i, target := range logged[len(logged)-128:] {
		if want := fmt.Sprintf("/r/%d", i); !strings.HasPrefix(target, want+"?") && target != want {
			t.Fatalf("access log record %d: target %q, want %s", i, target, want)
		}
	}
}
