package nethttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/internal/exampletest"
)

// Over HTTP/2 (h2c with prior knowledge, net/http's client): the request's
// protocol, a streamed request body echoed in full duplex, a flushed
// first piece that arrives before the handler ends, and trailers; 1xx
// responses are not sent and Hijack fails (differences the package doc
// lists).
func TestHTTP2ThroughAdapter(t *testing.T) {
	release := make(chan struct{})
	hijackErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proto":
			io.WriteString(w, r.Proto)
		case "/echo":
			http.NewResponseController(w).EnableFullDuplex()
			w.Header().Set("Trailer", "X-Sum")
			n, _ := io.Copy(w, r.Body)
			w.Header().Set("X-Sum", strings.Repeat("n", int(n%7)))
		case "/flush":
			io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, " second")
		case "/early":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		case "/hijack":
			_, _, err := http.NewResponseController(w).Hijack()
			hijackErr <- err
		}
	})
	base := serve(t, h, streamhttp.ServerSettings{})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	resp, body := exampletest.Get(t, c, base+"/proto")
	if resp.ProtoMajor != 2 || body != "HTTP/2.0" {
		t.Fatalf("/proto: %s %q", resp.Proto, body)
	}

	payload := bytes.Repeat([]byte("0123456789"), 100_000)
	resp, err := c.Post(base+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, payload) || resp.Trailer.Get("X-Sum") != strings.Repeat("n", len(payload)%7) {
		t.Fatalf("/echo: %v, %d bytes, trailer %v", err, len(got), resp.Trailer)
	}

	resp, err = c.Get(base + "/flush")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	first := make([]byte, len("first"))
	_, err = io.ReadFull(resp.Body, first)
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(first)+string(rest) != "first second" {
		t.Fatalf("/flush: %v %q %q", err, first, rest)
	}

	var early []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { early = append(early, code); return nil }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base+"/early", nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if len(early) != 0 {
		// A difference the package doc lists: update it.
		t.Errorf("1xx responses over HTTP/2: %v; the package doc says none is sent", early)
	}

	resp, _ = exampletest.Get(t, c, base+"/hijack")
	if err := <-hijackErr; err == nil {
		t.Errorf("Hijack over HTTP/2 succeeded (status %d)", resp.StatusCode)
	}
}
