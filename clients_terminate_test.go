package streamhttp

// Tests of ServerBinding.Terminate and ServerBinding.Stats over loopback
// sockets, with raw clients and net/http's.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

// gatedHandlerAsync answers "answer to TARGET"; a request for /block waits
// until the test releases it (or, when honourCtx, until its context ends,
// or 10 s as a bound).
type gatedHandlerAsync struct {
	honourCtx bool
	arrived   chan string   // the target of each /block request, as it enters
	answered  chan string   // the target of each other request, once answered
	release   chan struct{} // closed by open
	open      func()
}

// newGatedHandlerAsync returns a gated handler. A test defers its open:
// closing a binding waits for its handlers, and these ignore the binding's
// end unless honourCtx.
func newGatedHandlerAsync(honourCtx bool) *gatedHandlerAsync {
	h := &gatedHandlerAsync{
		honourCtx: honourCtx,
		arrived:   make(chan string, 64),
		answered:  make(chan string, 64),
		release:   make(chan struct{}),
	}
	h.open = sync.OnceFunc(func() { close(h.release) })
	return h
}

func (h *gatedHandlerAsync) serve(ctx context.Context, r *Request) (*Response, error) {
	if r.URI.Path != "/block" {
		h.answered <- r.Target
		return httpcore.Text(httpcore.StatusOK, "answer to "+r.Target), nil
	}
	h.arrived <- r.Target
	var ctxDone <-chan struct{}
	if h.honourCtx {
		ctxDone = ctx.Done()
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-h.release:
	case <-ctxDone:
		return nil, context.Cause(ctx)
	case <-timer.C:
	}
	return httpcore.Text(httpcore.StatusOK, "answer to "+r.Target), nil
}

// expectFrom receives n values from ch within 5 s, in any order, and
// compares them with want.
func expectFrom(t *testing.T, ch <-chan string, what string, want ...string) {
	t.Helper()
	got := make(map[string]bool)
	timeout := time.After(5 * time.Second)
	for range want {
		select {
		case v := <-ch:
			got[v] = true
		case <-timeout:
			t.Fatalf("%s: got %v, want %q", what, got, want)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("%s: got %v, want %q", what, got, want)
		}
	}
}

// rawRequest connects to b, sends requests and returns the connection and
// its reader.
func rawRequest(t *testing.T, b *ServerBinding, requests string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialBinding(t, b)
	if _, err := io.WriteString(c, requests); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// rawResponse is what the tests compare of a response read from a raw
// connection.
type rawResponse struct {
	Status int
	Close  bool
	Body   string
}

func readRaw(t *testing.T, br *bufio.Reader) rawResponse {
	t.Helper()
	resp, body := readFull(t, br)
	return rawResponse{resp.StatusCode, resp.Close, string(body)}
}

// readFull reads a response and its body.
func readFull(t *testing.T, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a response body: %v", err)
	}
	return resp, body
}

// expectRaw reads responses and compares them with want.
func expectRaw(t *testing.T, br *bufio.Reader, want ...rawResponse) {
	t.Helper()
	var got []rawResponse
	for range want {
		got = append(got, readRaw(t, br))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
}

// expectClosedSoon checks that the server closes c within d, then closes
// the client's end (which ends the server's linger).
func expectClosedSoon(t *testing.T, c net.Conn, br *bufio.Reader, d time.Duration) {
	t.Helper()
	start := time.Now()
	expectEOF(t, c, br)
	if took := time.Since(start); took > d {
		t.Errorf("the connection closed after %v, want within %v", took, d)
	}
	c.Close()
}

const getFast = "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"

func getBlock(q string) string { return "GET /block?" + q + " HTTP/1.1\r\nHost: x\r\n\r\n" }

func answer(target string, close bool) rawResponse {
	return rawResponse{http.StatusOK, close, "answer to " + target}
}

// TestClientTerminateGraceful: Terminate stops accepting, closes an idle
// connection at once, lets the requests in flight on several connections
// finish (the last response of each connection saying Connection: close)
// and returns once every connection has ended.
func TestClientTerminateGraceful(t *testing.T) {
	leakcheck.Check(t)
	h := newGatedHandlerAsync(false)
	defer h.open()
	b, _ := bindAsync(t, h.serve, 2, ServerSettings{PipeliningLimit: 2})

	idle, idleBR := rawRequest(t, b, getFast)
	expectRaw(t, idleBR, answer("/fast", false))
	expectFrom(t, h.answered, "answered", "/fast")
	var single []net.Conn
	var singleBR []*bufio.Reader
	for i := range 3 {
		c, br := rawRequest(t, b, getBlock(fmt.Sprint(i)))
		single, singleBR = append(single, c), append(singleBR, br)
	}
	piped, pipedBR := rawRequest(t, b, getBlock("p1")+getBlock("p2"))
	expectFrom(t, h.arrived, "blocked requests", "/block?0", "/block?1", "/block?2", "/block?p1", "/block?p2")

	terminated := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		terminated <- b.Terminate(ctx)
	}()
	expectClosedSoon(t, idle, idleBR, 2*time.Second)
	// The listener closed before the idle connection did.
	if c, err := net.DialTimeout("tcp", b.LocalAddr().String(), time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted while terminating")
	}
	select {
	case err := <-terminated:
		t.Fatalf("Terminate returned (%v) with requests in flight", err)
	case <-b.Done():
		t.Fatal("the binding ended with requests in flight")
	default:
	}

	h.open()
	for i, br := range singleBR {
		expectRaw(t, br, answer(fmt.Sprintf("/block?%d", i), true))
		expectClosedSoon(t, single[i], br, 2*time.Second)
	}
	expectRaw(t, pipedBR, answer("/block?p1", false), answer("/block?p2", true))
	expectClosedSoon(t, piped, pipedBR, 2*time.Second)

	select {
	case err := <-terminated:
		if err != nil {
			t.Errorf("Terminate: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Terminate did not return")
	}
	select {
	case <-b.Done():
	default:
		t.Error("Terminate returned nil before the binding was done")
	}
}

// TestClientTerminateIdle: a binding with only idle connections
// terminates at once; a net/http client then finds nobody listening.
func TestClientTerminateIdle(t *testing.T) {
	leakcheck.Check(t)
	b, base := bindSync(t, clientRoute, ServerSettings{})
	client := newHTTPClient(t, 4)
	for i := range 3 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/%d", base, i), nil)
		if code, _ := fetch(t, client, req); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := b.Terminate(ctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Terminate took %v with idle connections only", d)
	}
	select {
	case <-b.Done():
	default:
		t.Error("Terminate returned nil before the binding was done")
	}
	if resp, err := client.Get(base + "/after"); err == nil {
		resp.Body.Close()
		t.Errorf("a request after Terminate was answered: %s", resp.Status)
	}
}

// TestClientTerminateDeadline: the requests still unanswered at Terminate's
// deadline get 503 then, the answers already made for the requests behind
// them go with it, and the connection closes; the 503s count as request
// timeouts.
func TestClientTerminateDeadline(t *testing.T) {
	leakcheck.Check(t)
	const deadline = 300 * time.Millisecond
	unavailable := rawResponse{http.StatusServiceUnavailable, true, "Service Unavailable: the server did not answer in time\n"}
	cases := []struct {
		name      string
		honourCtx bool
		requests  string
		blocked   []string // the targets that block
		answered  []string // the targets answered before the deadline
		want      []rawResponse
	}{
		{"handler honours its context", true, getBlock("a"), []string{"/block?a"}, nil,
			[]rawResponse{unavailable}},
		{"handler ignores its context", false, getBlock("a"), []string{"/block?a"}, nil,
			[]rawResponse{unavailable}},
		{"answered request behind", false, getBlock("a") + getFast, []string{"/block?a"}, []string{"/fast"},
			[]rawResponse{{http.StatusServiceUnavailable, false, unavailable.Body}, answer("/fast", true)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newGatedHandlerAsync(tc.honourCtx)
			defer h.open()
			s := quietSettings()
			s.PipeliningLimit = 2
			b, _ := bindAsync(t, h.serve, 2, s)
			c, br := rawRequest(t, b, tc.requests)
			expectFrom(t, h.arrived, "blocked requests", tc.blocked...)
			expectFrom(t, h.answered, "answered requests", tc.answered...)

			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			terminated := make(chan error, 1)
			go func() { terminated <- b.Terminate(ctx) }()
			expectRaw(t, br, tc.want...)
			if d := time.Since(start); d < deadline {
				t.Errorf("the 503 came after %v, before the deadline %v", d, deadline)
			}
			expectClosedSoon(t, c, br, 2*time.Second)
			if got := b.Stats().RequestTimeouts; got != int64(len(tc.blocked)) {
				t.Errorf("Stats().RequestTimeouts = %d, want %d", got, len(tc.blocked))
			}
			select {
			case err := <-terminated:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Terminate: %v, want the deadline's error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Terminate did not return")
			}
			if tc.honourCtx {
				// The handler returned when its context ended, so nothing
				// of the binding is left once Terminate returns.
				select {
				case <-b.Done():
				default:
					t.Error("Terminate returned before the binding was done, with a handler that honours its context")
				}
			}
			h.open()
			select {
			case <-b.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the binding did not end once the handler returned")
			}
		})
	}
}

// TestClientStats: the binding counts requests, connections and bytes;
// ResetStats zeroes the totals and keeps the open counts; request timeouts
// are counted; PublishExpvar publishes the same figures.
func TestClientStats(t *testing.T) {
	leakcheck.Check(t)
	t.Run("counts and reset", func(t *testing.T) {
		b, base := bindSync(t, clientRoute, ServerSettings{})
		client := newHTTPClient(t, 1)
		for i := range 4 {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/%d", base, i), nil)
			fetch(t, client, req)
		}
		// A second connection while the client's stays open: three
		// pipelined requests, the last closing it.
		rawIn := "GET /r1 HTTP/1.1\r\nHost: x\r\n\r\n" + "GET /r2 HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /r3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		c, _ := rawRequest(t, b, rawIn)
		rawOut, err := io.ReadAll(c)
		if err != nil || strings.Count(string(rawOut), "HTTP/1.1 200 OK") != 3 {
			t.Fatalf("the raw connection read %q, %v", rawOut, err)
		}
		c.Close()
		st := b.Stats()
		if st.TotalRequests != 7 || st.TotalConnections != 2 || st.MaxOpenConnections != 2 ||
			st.OpenRequests != 0 || st.MaxOpenRequests < 1 || st.RequestTimeouts != 0 {
			t.Errorf("Stats() = %+v; want 7 requests, 2 connections (2 at once), 0 open requests, no timeouts", st)
		}
		if st.BytesIn <= int64(len(rawIn)) || st.BytesOut <= int64(len(rawOut)) {
			t.Errorf("Stats() bytes in %d, out %d; want more than the raw connection's %d and %d",
				st.BytesIn, st.BytesOut, len(rawIn), len(rawOut))
		}
		if st.Uptime <= 0 {
			t.Errorf("Stats().Uptime = %v", st.Uptime)
		}

		// Once the raw connection has ended, only the client's is open.
		waitUntil(t, "the raw connection ends", func() bool { return b.Stats().OpenConnections == 1 })
		before := time.Now()
		b.ResetStats()
		got := b.Stats()
		if got.Uptime > time.Since(before) {
			t.Errorf("Uptime %v after ResetStats, want it restarted", got.Uptime)
		}
		got.Uptime = 0
		want := Stats{OpenConnections: 1, MaxOpenConnections: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Stats() after ResetStats (-want +got):\n%s", diff)
		}
		req, _ := http.NewRequest("GET", base+"/after", nil)
		fetch(t, client, req)
		if got := b.Stats(); got.TotalRequests != 1 || got.TotalConnections != 0 {
			t.Errorf("after one more request on the open connection: %+v; want 1 request, 0 new connections", got)
		}
	})

	t.Run("open requests", func(t *testing.T) {
		h := newGatedHandlerAsync(false)
		defer h.open()
		b, _ := bindAsync(t, h.serve, 1, ServerSettings{})
		var conns []net.Conn
		var brs []*bufio.Reader
		for i := range 3 {
			c, br := rawRequest(t, b, getBlock(fmt.Sprint(i)))
			conns, brs = append(conns, c), append(brs, br)
		}
		expectFrom(t, h.arrived, "blocked requests", "/block?0", "/block?1", "/block?2")
		if st := b.Stats(); st.OpenRequests != 3 || st.MaxOpenRequests != 3 || st.OpenConnections != 3 {
			t.Errorf("Stats() = %+v with 3 requests blocked on 3 connections", st)
		}
		h.open()
		for i, br := range brs {
			expectRaw(t, br, answer(fmt.Sprintf("/block?%d", i), false))
		}
		if st := b.Stats(); st.OpenRequests != 0 || st.MaxOpenRequests != 3 || st.TotalRequests != 3 {
			t.Errorf("Stats() = %+v once answered; want 0 open requests (3 at most), 3 in all", st)
		}
		for _, c := range conns {
			c.Close()
		}
	})

	t.Run("request timeouts", func(t *testing.T) {
		h := newGatedHandlerAsync(false)
		defer h.open()
		s := quietSettings()
		s.RequestTimeout = 100 * time.Millisecond
		b, _ := bindAsync(t, h.serve, 1, s)
		for i := range 2 {
			c, br := rawRequest(t, b, getBlock(fmt.Sprint(i)))
			if r := readRaw(t, br); r.Status != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", r.Status)
			}
			expectClosedSoon(t, c, br, 2*time.Second)
		}
		if st := b.Stats(); st.RequestTimeouts != 2 || st.TotalRequests != 2 {
			t.Errorf("Stats() = %+v; want 2 request timeouts of 2 requests", st)
		}
		b.ResetStats()
		if st := b.Stats(); st.RequestTimeouts != 0 {
			t.Errorf("RequestTimeouts = %d after ResetStats", st.RequestTimeouts)
		}
	})

	t.Run("expvar", func(t *testing.T) {
		b, _ := bindSync(t, clientRoute, ServerSettings{})
		c, _ := rawRequest(t, b, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		io.ReadAll(c)
		name := fmt.Sprintf("streamhttp_clients_test_%d", expvarSeq.Add(1))
		b.PublishExpvar(name)
		v := expvar.Get(name)
		if v == nil {
			t.Fatalf("expvar %s not published", name)
		}
		var got Stats
		if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
			t.Fatalf("expvar %s = %s: %v", name, v.String(), err)
		}
		if got.TotalRequests != 1 || got.TotalConnections != 1 || got.BytesOut == 0 {
			t.Errorf("expvar %s = %s; want 1 request on 1 connection", name, v.String())
		}
	})
}

// expvarSeq names the expvar variables: expvar.Publish takes a name once
// per process, and tests may run several times (-count).
var expvarSeq atomic.Int64

// waitUntil polls cond (every few milliseconds, for up to 5 s) for what a
// test cannot be told by a channel, such as the server's end of a
// connection.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting until %s: timed out", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
