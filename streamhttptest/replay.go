package streamhttptest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/streamhttptest/pcap"
)

// Handler is a request handler flow, as the server runs it.
type Handler = stream.Flow[*streamhttp.Request, *streamhttp.Response]

// CheckReplay replays requests, the bytes a client sent on one connection,
// through the server layer with handler and settings s, and fails t (with
// Errorf: the test goes on) when the output differs from want after
// NormalizeDate, or when the replay fails.
func CheckReplay(t testing.TB, handler Handler, s streamhttp.ServerSettings, requests, want []byte) {
	t.Helper()
	if msg := replayDiff(t.Context(), handler, s, requests, want); msg != "" {
		t.Error(msg)
	}
}

// ReplayFiles is CheckReplay with the request stream read from reqPath and
// the expected response stream from respPath. A file that cannot be read
// fails t at once.
func ReplayFiles(t testing.TB, handler Handler, s streamhttp.ServerSettings, reqPath, respPath string) {
	t.Helper()
	requests, err := os.ReadFile(reqPath)
	if err != nil {
		t.Fatalf("reading the request stream: %v", err)
	}
	want, err := os.ReadFile(respPath)
	if err != nil {
		t.Fatalf("reading the response stream: %v", err)
	}
	if msg := replayDiff(t.Context(), handler, s, requests, want); msg != "" {
		t.Errorf("%s against %s: %s", reqPath, respPath, msg)
	}
}

// ReplayPcap replays every TCP connection of the capture at pcapPath: what
// the client sent goes through the server layer with handler and settings
// s, and what the server wrote in the capture is the expected output. The
// server of each connection is the end that received its SYN (see
// pcap.ReadStreams). t fails at once when the file cannot be read
// or holds no connection, and with Errorf for each connection that replays
// differently.
func ReplayPcap(t testing.TB, handler Handler, s streamhttp.ServerSettings, pcapPath string) {
	t.Helper()
	f, err := os.Open(pcapPath)
	if err != nil {
		t.Fatalf("opening the capture: %v", err)
	}
	defer f.Close()
	streams, err := pcap.ReadStreams(f, 0)
	if err != nil {
		t.Fatalf("reading %s: %v", pcapPath, err)
	}
	if len(streams) == 0 {
		t.Fatalf("%s holds no TCP connection", pcapPath)
	}
	for i, st := range streams {
		if msg := replayDiff(t.Context(), handler, s, st.ClientToServer, st.ServerToClient); msg != "" {
			t.Errorf("%s, connection %d (%v to %v): %s", pcapPath, i+1, st.Client, st.Server, msg)
		}
	}
}

// replayDiff replays requests and returns what is wrong with the output, ""
// when nothing is.
func replayDiff(ctx context.Context, handler Handler, s streamhttp.ServerSettings, requests, want []byte) string {
	got, err := streamhttp.Replay(ctx, bytes.NewReader(requests), handler, s)
	var msg strings.Builder
	if err != nil {
		fmt.Fprintf(&msg, "the replay failed: %v\n", err)
	}
	if diff := cmp.Diff(lines(NormalizeDate(want)), lines(NormalizeDate(got))); diff != "" {
		fmt.Fprintf(&msg, "the responses differ (-want +got):\n%s", diff)
	}
	return msg.String()
}

// lines splits a stream into lines that keep their line ends, so that a
// diff shows a missing CR.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.SplitAfter(string(b), "\n")
}

// DatePlaceholder is the value NormalizeDate puts in every Date field.
const DatePlaceholder = "Thu, 01 Jan 1970 00:00:00 GMT"

// dateField matches a Date field line with an IMF-fixdate value (RFC 9110
// §5.6.7), the form a server sends; the field name is case-insensitive.
var dateField = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?im)^(date:[ \t]*)(?:mon|tue|wed|thu|fri|sat|sun), [0-9]{2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT`)
})

// NormalizeDate returns a copy of b, a stream of HTTP messages, in which
// the value of every Date field is DatePlaceholder, so that the output of a
// replay compares with a capture made at another time. It works on lines:
// a line of a body that looks like a Date field (it starts "Date: " and an
// IMF-fixdate follows) is normalized too. b is not modified.
func NormalizeDate(b []byte) []byte {
	return dateField().ReplaceAll(b, []byte("${1}"+DatePlaceholder))
}
