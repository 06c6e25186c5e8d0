package nethttp

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// mount serves h under /s/ of a ServeMux next to a plain handler.
func mount(t *testing.T, h http.Handler) string {
	mux := http.NewServeMux()
	mux.Handle("/s/", h)
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestToHTTPFields(t *testing.T) {
	type seen struct {
		Method      httpcore.Method
		Target      string
		URI         httpcore.URI
		Host, Hdr   string
		ContentType string
		Body        string
		Remote      bool
		Local       bool
	}
	got := make(chan seen, 1)
	url := mount(t, ToHTTP(func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		s, err := entity.ToStrict(ctx, r.Entity, 1<<20)
		if err != nil {
			return nil, err
		}
		got <- seen{r.Method, r.Target, r.URI, r.Host, r.Header.Get("X-A"), r.ContentType, string(s.Data), r.RemoteAddr != nil, r.LocalAddr != nil}
		resp := httpcore.Text(201, "made")
		resp.Header.Add("X-B", "c")
		return resp, nil
	}))
	resp, err := client(t).Post(url+"/s/x?q=1", "text/csv", strings.NewReader("a,b"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := seen{"POST", "/s/x?q=1", httpcore.URI{Path: "/s/x", RawQuery: "q=1"}, strings.TrimPrefix(url, "http://"), "", "text/csv", "a,b", true, true}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	gotResp := []any{resp.StatusCode, resp.Header.Get("X-B"), resp.Header.Get("Content-Type"), resp.ContentLength, string(b)}
	wantResp := []any{201, "c", "text/plain; charset=utf-8", int64(4), "made"}
	if diff := cmp.Diff(wantResp, gotResp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	resp, err = client(t).Get(url + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain" {
		t.Errorf("the other route: %q", b)
	}
}

// An echo flow streams both ways: each line comes back before the client
// sends the next.
func TestToHTTPStreamsBothWays(t *testing.T) {
	echo := func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		upper := stream.Via(r.Entity.DataBytes(), stream.Map(func(p []byte) []byte { return []byte(strings.ToUpper(string(p))) }))
		return httpcore.NewResponse(200, entity.ChunkedFromData("text/plain", upper)), nil
	}
	url := mount(t, FlowToHTTP(stream.MapAsync(1, echo)))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", url+"/s/echo", pr)
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, s := range []string{"a\n", "bc\n", "def\n"} {
		pw.Write([]byte(s))
		line, err := br.ReadString('\n')
		if err != nil || line != strings.ToUpper(s) {
			t.Fatalf("got %q, %v", line, err)
		}
	}
	pw.Close()
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("rest %q", rest)
	}
}

// The client leaving ends the streamhttp request's context.
func TestToHTTPContextCancelled(t *testing.T) {
	done := make(chan struct{})
	url := mount(t, ToHTTP(func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		src := stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] { return &waitCtx{m: m, ctx: ctx, done: done} })
		return httpcore.NewResponse(200, entity.ChunkedFromData("text/plain", src)), nil
	}))
	resp, err := client(t).Get(url + "/s/")
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the context was alive 1 s after the client left")
	}
}

// waitCtx emits one line, then waits for its context.
type waitCtx struct {
	m    *stream.Materializer
	ctx  context.Context
	done chan struct{}
	sent bool
}

func (s *waitCtx) Pull() ([]byte, error) {
	if !s.sent {
		s.sent = true
		return []byte("first\n"), nil
	}
	s.m.WillBlock() // a well-behaved source that waits: the line goes out
	select {
	case <-s.ctx.Done():
		close(s.done)
		return nil, s.ctx.Err()
	case <-s.m.Done():
		// The run ends with the request's context (it derives from it):
		// either may be seen first.
		if s.ctx.Err() != nil {
			close(s.done)
		}
		return nil, s.m.Cause()
	}
}

func (s *waitCtx) Cancel(error) {}

// Trailers of a chunked entity arrive as net/http trailers.
func TestToHTTPTrailers(t *testing.T) {
	url := mount(t, ToHTTP(func(ctx context.Context, r *streamhttp.Request) (*streamhttp.Response, error) {
		parts := stream.FromSlice([]entity.ChunkPart{{Data: []byte("x")}, {Last: true, Trailer: []entity.Header{{Name: "X-Sum", Value: "1"}}}})
		return httpcore.NewResponse(200, entity.NewChunked("text/plain", parts)), nil
	}))
	resp, err := client(t).Get(url + "/s/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "x" || resp.Trailer.Get("X-Sum") != "1" {
		t.Errorf("body %q trailer %v", b, resp.Trailer)
	}
}
