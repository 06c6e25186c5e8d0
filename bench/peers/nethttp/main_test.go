package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type result struct {
	Status int
	Type   string
	Body   string
}

// TestRoutes: the routes of examples/echo that the benchmark drives, and
// their errors, through a whole net/http server.
func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(handle))
	defer srv.Close()
	body4k := strings.Repeat("0123456789abcdef", 256)
	tests := []struct {
		name, method, uri, ct, body string
		want                        result
	}{
		{"plaintext", "GET", "/plaintext", "", "", result{200, "text/plain; charset=utf-8", hello}},
		{"json", "GET", "/json", "", "", result{200, "application/json", helloJSON}},
		{"echo", "POST", "/echo", "application/octet-stream", body4k, result{200, "application/octet-stream", body4k}},
		{"echo without type", "POST", "/echo", "", "abc", result{200, "text/plain; charset=utf-8", "abc"}},
		{"sleep", "GET", "/sleep?ms=1", "", "", result{200, "text/plain; charset=utf-8", "slept"}},
		{"sleep without ms", "GET", "/sleep?x=1", "", "", result{200, "text/plain; charset=utf-8", "slept"}},
		{"sleep too long", "GET", "/sleep?ms=60001", "", "", result{400, "text/plain; charset=utf-8", "ms must be an integer from 0 to 60000\n"}},
		{"sleep not a number", "GET", "/sleep?a=b&ms=x", "", "", result{400, "text/plain; charset=utf-8", "ms must be an integer from 0 to 60000\n"}},
		{"unknown path", "GET", "/nope", "", "", result{404, "text/plain; charset=utf-8", "404 page not found\n"}},
		{"wrong method", "POST", "/plaintext", "", "x", result{405, "text/plain; charset=utf-8", "method not allowed\n"}},
		{"echo by GET", "GET", "/echo", "", "", result{405, "text/plain; charset=utf-8", "method not allowed\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.uri, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			got := result{resp.StatusCode, resp.Header.Get("Content-Type"), string(body)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.uri, diff)
			}
		})
	}
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
	r := httptest.NewRequest("POST", "/echo", strings.NewReader(strings.Repeat("x", maxBody+1)))
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
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	body4k := strings.Repeat("0123456789abcdef", 256)
	tests := []struct{ method, uri, ct, body string }{
		{"GET", "/plaintext", "", ""},
		{"GET", "/json", "", ""},
		{"POST", "/echo", "application/octet-stream", body4k},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			body := &rewindBody{*strings.NewReader(tt.body), tt.body}
			r := httptest.NewRequest(tt.method, tt.uri, body)
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			// As net/http's server sets them for a body of known length.
			r.ContentLength = int64(len(tt.body))
			r.Header.Set("Content-Length", strconv.Itoa(len(tt.body)))
			w := &recorder{h: http.Header{}}
			run := func() {
				clear(w.h)
				w.status, w.body = 0, w.body[:0]
				body.Reset(body.s)
				handle(w, r)
			}
			run()
			if w.status != 0 || tt.body != "" && string(w.body) != tt.body {
				t.Fatalf("status %d, body %.20q", w.status, w.body)
			}
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Errorf("%s %s: %.1f allocations per request, want 0", tt.method, tt.uri, n)
			}
		})
	}
}
