package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// start runs the server on a free port until the test ends.
func start(t *testing.T, s streamhttp.ServerSettings) *streamhttp.ServerBinding {
	t.Helper()
	s.DisableSignals = true
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *streamhttp.ServerBinding, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", 0, s, func(b *streamhttp.ServerBinding) { ready <- b }) }()
	var b *streamhttp.ServerBinding
	select {
	case b = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return b
}

// TestRoutes: the routes over one keep-alive connection, pipelined, and
// /stats counting them.
func TestRoutes(t *testing.T) {
	b := start(t, streamhttp.ServerSettings{PipeliningLimit: 16})
	c, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	reqs := []struct{ req, want string }{
		{"GET /sleep?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n", "slept"},
		{"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", echohandler.Hello},
		{"GET /json HTTP/1.1\r\nHost: x\r\n\r\n", echohandler.HelloJSON},
		{"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "PUT /x bytes=3"},
	}
	var all strings.Builder
	for _, r := range reqs {
		all.WriteString(r.req)
	}
	io.WriteString(c, all.String())
	br := bufio.NewReader(c)
	for _, r := range reqs {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != r.want {
			t.Errorf("%q: got %q, want %q", r.req, body, r.want)
		}
	}
	io.WriteString(c, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var st streamhttp.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.TotalRequests != int64(len(reqs))+1 || st.OpenConnections != 1 || st.BytesIn == 0 {
		t.Errorf("stats %+v: want %d requests over 1 open connection", st, len(reqs)+1)
	}
}

// TestRoutesHTTP2: the same routes over HTTP/2 with prior knowledge, on
// the same port, concurrently over one connection (net/http's client).
func TestRoutesHTTP2(t *testing.T) {
	b := start(t, streamhttp.ServerSettings{})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + b.LocalAddr().String()
	reqs := []struct{ method, path, body, want string }{
		{"GET", "/sleep?ms=100", "", "slept"},
		{"GET", "/plaintext", "", echohandler.Hello},
		{"GET", "/json", "", echohandler.HelloJSON},
		{"POST", "/echo", "hello", "hello"},
		{"PUT", "/x", "abc", "PUT /x bytes=3"},
		{"GET", "/stream?n=3&size=4", "", "012301230123"},
	}
	errs := make(chan error, len(reqs))
	for _, r := range reqs {
		go func() {
			req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || string(body) != r.want {
				errs <- fmt.Errorf("%s %s: got %s %q, want HTTP/2.0 %q", r.method, r.path, resp.Proto, body, r.want)
				return
			}
			errs <- nil
		}()
	}
	for range reqs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestStop: cancelling the context closes open connections and run
// returns; the port is free again.
func TestStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *streamhttp.ServerBinding, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, "127.0.0.1:0", 2, streamhttp.ServerSettings{DisableSignals: true}, func(b *streamhttp.ServerBinding) { ready <- b })
	}()
	b := <-ready
	idle, err := net.Dial("tcp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the idle connection is still open")
	}
	if c, err := net.Dial("tcp", b.LocalAddr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
}

// TestBindError: a taken port is reported.
func TestBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := run(context.Background(), ln.Addr().String(), 0, streamhttp.ServerSettings{DisableSignals: true}, nil); err == nil {
		t.Error("run on a taken port returned nil")
	}
}

// TestOpsRoutes: /health says serving, then draining; /metrics exposes the
// statistics; a PROXY header's source is the client behind a balancer.
func TestOpsRoutes(t *testing.T) {
	var s streamhttp.ServerSettings
	if err := proxySettings(&s.ProxyProtocol, "optional", "127.0.0.0/8, ::1/128"); err != nil {
		t.Fatal(err)
	}
	b := start(t, s)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + b.LocalAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	defer http.DefaultClient.CloseIdleConnections()
	if code, body := get("/health"); code != 200 || body != "serving\n" {
		t.Errorf("/health: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "streamhttp_requests_total{") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	b.Drain()
	if code, body := get("/health"); code != 503 || body != "draining\n" {
		t.Errorf("/health while draining: %d %q", code, body)
	}
	for _, bad := range [][2]string{{"sometimes", ""}, {"off", "10.0.0.0/33"}} {
		if err := proxySettings(&s.ProxyProtocol, bad[0], bad[1]); err == nil {
			t.Errorf("proxySettings(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
