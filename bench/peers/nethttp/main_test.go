package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/streamhttp/streamhttp/bench/peers/internal/routes"
)

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors, through a whole net/http server.
func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(handle))
	defer srv.Close()
	notAllowed := routes.Response{Status: 405, ContentType: routes.TextPlain, Body: "method not allowed\n"}
	cases := routes.Cases(
		routes.Case{Name: "echo without type", Req: routes.Request{Method: "POST", URI: "/echo", Body: "abc"}, Want: routes.Response{Status: 200, ContentType: routes.TextPlain, Body: "abc"}},
		routes.Case{Name: "unknown path", Req: routes.Request{Method: "GET", URI: "/nope"}, Want: routes.Response{Status: 404, ContentType: routes.TextPlain, Body: "404 page not found\n"}},
		routes.Case{Name: "plaintext by POST", Req: routes.Request{Method: "POST", URI: "/plaintext", Body: "x"}, Want: notAllowed},
		routes.Case{Name: "json by POST", Req: routes.Request{Method: "POST", URI: "/json"}, Want: notAllowed},
		routes.Case{Name: "echo by GET", Req: routes.Request{Method: "GET", URI: "/echo"}, Want: notAllowed},
		routes.Case{Name: "sleep by POST", Req: routes.Request{Method: "POST", URI: "/sleep"}, Want: notAllowed},
	)
	// http.Error ends its message with a newline.
	for i := range cases {
		if cases[i].Want.Body == routes.SleepError {
			cases[i].Want.Body += "\n"
		}
	}
	routes.Check(t, cases, func(t *testing.T, r routes.Request) routes.Response {
		req, err := http.NewRequest(r.Method, srv.URL+r.URI, strings.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		if r.ContentType != "" {
			req.Header.Set("Content-Type", r.ContentType)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return routes.Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(body)}
	})
}

// TestReadAll: the echo route's body reader and its limit.
func TestReadAll(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		size, limit int64
		want        string
		wantErr     error
	}{
		{"empty", "", 0, 10, "", nil},
		{"known length", "hello", 5, 10, "hello", nil},
		{"unknown length", "hello", -1, 10, "hello", nil},
		{"at the limit", "0123456789", -1, 10, "0123456789", nil},
		{"past the limit", "0123456789a", -1, 10, "", errTooLarge},
		{"declared past the limit", "", 11, 10, "", errTooLarge},
		{"past the pooled buffer", strings.Repeat("x", 20000), -1, 1 << 20, strings.Repeat("x", 20000), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(strings.NewReader(tt.body), make([]byte, 0, 4), tt.size, tt.limit)
			if err != tt.wantErr {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %d bytes %.20q, want %d bytes %.20q", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

// TestTooLarge: a body past maxBody gets 413.
func TestTooLarge(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/echo", strings.NewReader(strings.Repeat("x", routes.MaxBody+1)))
	handle(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", w.Code)
	}
}

// recorder is an http.ResponseWriter that allocates nothing once its body
// has grown, so that the handler's own allocations can be counted.
type recorder struct {
	h      http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(p []byte) (int, error) { r.body = append(r.body, p...); return len(p), nil }
func (r *recorder) WriteString(s string) (int, error) {
	r.body = append(r.body, s...)
	return len(s), nil
}

// rewindBody is a request body that can be read again.
type rewindBody struct {
	strings.Reader
	s string
}

func (b *rewindBody) Close() error { return nil }

// TestNoAllocs: the benchmarked routes allocate nothing in the handler
// (what net/http allocates around it is not the handler's to spare).
func TestNoAllocs(t *testing.T) {
	routes.CheckNoAllocs(t, func(_ *testing.T, req routes.Request) (func(), func() routes.Response) {
		body := &rewindBody{*strings.NewReader(req.Body), req.Body}
		r := httptest.NewRequest(req.Method, req.URI, body)
		if req.ContentType != "" {
			r.Header.Set("Content-Type", req.ContentType)
		}
		// As net/http's server sets them for a body of known length.
		r.ContentLength = int64(len(req.Body))
		r.Header.Set("Content-Length", strconv.Itoa(len(req.Body)))
		w := &recorder{h: http.Header{}}
		run := func() {
			clear(w.h)
			w.status, w.body = 0, w.body[:0]
			body.Reset(body.s)
			handle(w, r)
		}
		return run, func() routes.Response {
			status := w.status
			if status == 0 {
				status = http.StatusOK
			}
			return routes.Response{Status: status, ContentType: w.h.Get("Content-Type"), Body: string(w.body)}
		}
	})
}
