// Package routes holds what the load benchmark's peers share: the bodies
// and limits of the echo example's routes (internal/echohandler of the main
// module, spelled out again because this module does not import that one),
// and the checks their tests run, so that every peer is held to the same
// answers and to the same allocation count.
package routes

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The bodies, content types and limits of the routes.
const (
	Hello     = "Hello, World!"
	HelloJSON = `{"message":"Hello, World!"}`
	Slept     = "slept"
	TextPlain = "text/plain; charset=utf-8"
	JSON      = "application/json"
	MaxSleep  = 60000   // ms, the longest GET /sleep
	MaxBody   = 8 << 20 // bytes, the largest POST /echo body
)

// SleepError is the message of GET /sleep with a bad ms.
var SleepError = fmt.Sprintf("ms must be an integer from 0 to %d", MaxSleep)

// Body4K is the body of the benchmark's POST /echo scenario.
var Body4K = strings.Repeat("0123456789abcdef", 256)

// Sleep waits ms milliseconds, as GET /sleep does, and reports true; or
// until done is closed (the server shuts down), and reports false. Its
// timer is the one allocation of that route.
func Sleep(ms int, done <-chan struct{}) bool {
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// Request is a request of a peer's tests; ContentType and Body may be empty.
type Request struct {
	Method, URI, ContentType, Body string
}

// Response is what the tests compare of an answer.
type Response struct {
	Status      int
	ContentType string
	Body        string
}

// Case is a request and the answer wanted.
type Case struct {
	Name string
	Req  Request
	Want Response
}

// benchmarked are the routes the load scenarios drive at full speed.
var benchmarked = []Case{
	{"plaintext", Request{"GET", "/plaintext", "", ""}, Response{200, TextPlain, Hello}},
	{"json", Request{"GET", "/json", "", ""}, Response{200, JSON, HelloJSON}},
	{"echo", Request{"POST", "/echo", "application/octet-stream", Body4K}, Response{200, "application/octet-stream", Body4K}},
}

// Cases returns the cases every peer answers alike (the benchmarked
// routes, GET /sleep and its bad input), then extra: each server answers
// unknown paths and methods in its own words.
func Cases(extra ...Case) []Case {
	cs := append([]Case(nil), benchmarked...)
	cs = append(cs,
		Case{"sleep", Request{"GET", "/sleep?ms=1", "", ""}, Response{200, TextPlain, Slept}},
		Case{"sleep without ms", Request{"GET", "/sleep", "", ""}, Response{200, TextPlain, Slept}},
		Case{"sleep too long", Request{"GET", "/sleep?ms=60001", "", ""}, Response{400, TextPlain, SleepError}},
		Case{"sleep not a number", Request{"GET", "/sleep?a=b&ms=x", "", ""}, Response{400, TextPlain, SleepError}},
		Case{"sleep negative", Request{"GET", "/sleep?ms=-1", "", ""}, Response{400, TextPlain, SleepError}},
	)
	return append(cs, extra...)
}

// Check runs every case through serve as a subtest and reports the
// differences from the answer wanted.
func Check(t *testing.T, cases []Case, serve func(*testing.T, Request) Response) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if diff := cmp.Diff(c.Want, serve(t, c.Req)); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", c.Req.Method, c.Req.URI, diff)
			}
		})
	}
}

// CheckNoAllocs checks that the benchmarked routes allocate nothing per
// request. prepare makes, for one request, run (what is counted: it serves
// the request again on reused state) and answer (the answer run left, read
// once after a first run to check it). Under the race detector sync.Pool
// drops a share of what is put back on purpose, so pooled buffers are
// allocated again: the count then means nothing and is skipped.
func CheckNoAllocs(t *testing.T, prepare func(*testing.T, Request) (run func(), answer func() Response)) {
	t.Helper()
	if RaceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	for _, c := range benchmarked {
		t.Run(c.Name, func(t *testing.T) {
			run, answer := prepare(t, c.Req)
			run()
			if diff := cmp.Diff(c.Want, answer()); diff != "" {
				t.Fatalf("%s %s (-want +got):\n%s", c.Req.Method, c.Req.URI, diff)
			}
			if n := testing.AllocsPerRun(100, run); n != 0 {
				t.Errorf("%s %s: %.1f allocations per request, want 0", c.Req.Method, c.Req.URI, n)
			}
		})
	}
}
