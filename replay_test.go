package streamhttp_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/internal/echohandler"
	"github.com/streamhttp/streamhttp/stream"
	"github.com/streamhttp/streamhttp/streamhttptest"
	"github.com/streamhttp/streamhttp/streamhttptest/pcap"
)

var update = flag.Bool("update", false, "rewrite testdata/captures/NAME.req and NAME.resp from NAME.pcap")

const capturesDir = "testdata/captures"

// echoSettings are the settings the echo example served the captures with
// (its default flags: -parallelism 1, -pipelining-limit 16).
var echoSettings = streamhttp.ServerSettings{PipeliningLimit: 16}

// wantCaptures are the captures scripts/capture.sh records; any other pcap
// put in the directory is replayed too.
var wantCaptures = []string{"curl-echo-chunked", "curl-http10", "curl-plaintext", "go-keepalive", "h2load-pipelined"}

// captureNames lists the pcaps of the captures directory, without extension.
func captureNames(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".pcap"))
	}
	for _, w := range wantCaptures {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+w+" ") {
			t.Errorf("capture %s.pcap is missing from %s (scripts/capture.sh records it)", w, capturesDir)
		}
	}
	return names
}

// TestReplayCaptures replays every capture through the server layer with
// the echo handler, both as the pcap and as the raw stream pair split from
// it: the output must be what the live server wrote, byte for byte but for
// the Date fields. With -update it first rewrites the stream pairs.
func TestReplayCaptures(t *testing.T) {
	for _, name := range captureNames(t) {
		base := filepath.Join(capturesDir, name)
		if *update {
			splitCapture(t, base)
		}
		t.Run(name, func(t *testing.T) {
			t.Run("raw", func(t *testing.T) {
				streamhttptest.ReplayFiles(t, echohandler.Handler(1), echoSettings, base+".req", base+".resp")
			})
			t.Run("pcap", func(t *testing.T) {
				streamhttptest.ReplayPcap(t, echohandler.Handler(1), echoSettings, base+".pcap")
			})
			// The handler's parallelism must not change a byte.
			t.Run("parallelism 4", func(t *testing.T) {
				streamhttptest.ReplayFiles(t, echohandler.Handler(4), echoSettings, base+".req", base+".resp")
			})
		})
	}
}

// splitCapture writes the one connection of base.pcap as base.req and
// base.resp.
func splitCapture(t *testing.T, base string) {
	t.Helper()
	f, err := os.Open(base + ".pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	streams, err := pcap.ReadStreams(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 1 {
		t.Fatalf("%s.pcap holds %d connections; a capture holds one", base, len(streams))
	}
	if err := os.WriteFile(base+".req", streams[0].ClientToServer, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".resp", streams[0].ServerToClient, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadStreamsCaptures: each pcap holds one connection, and its two
// directions are the stream pair saved beside it.
func TestReadStreamsCaptures(t *testing.T) {
	for _, name := range captureNames(t) {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(capturesDir, name)
			f, err := os.Open(base + ".pcap")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			streams, err := pcap.ReadStreams(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(streams) != 1 {
				t.Fatalf("%d connections, want 1", len(streams))
			}
			st := streams[0]
			if st.Client.Addr() != st.Server.Addr() || !st.Server.Addr().IsLoopback() {
				t.Errorf("connection %v to %v: want both ends on one loopback address", st.Client, st.Server)
			}
			for _, pair := range []struct {
				ext string
				got []byte
			}{{".req", st.ClientToServer}, {".resp", st.ServerToClient}} {
				want, err := os.ReadFile(base + pair.ext)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(pair.got, want) {
					t.Errorf("%s: the pcap gives %d bytes that differ from the %d of the file (run go test -run TestReplayCaptures -update)", pair.ext, len(pair.got), len(want))
				}
			}
			if !bytes.HasPrefix(st.ServerToClient, []byte("HTTP/1.1 ")) {
				t.Errorf("the server's stream starts %q", st.ServerToClient[:min(20, len(st.ServerToClient))])
			}
		})
	}
}

// hello is a synchronous handler that answers every request alike.
var hello = stream.Map(func(*streamhttp.Request) *streamhttp.Response {
	return httpcore.Text(httpcore.StatusOK, "Hello, World!")
})

const (
	helloReq  = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	helloResp = "HTTP/1.1 200 OK\r\nServer: streamhttp\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"
)

func TestReplay(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"nothing", "", ""},
		{"one request", helloReq, helloResp},
		{"pipelined", strings.Repeat(helloReq, 3), strings.Repeat(helloResp, 3)},
		// More than one read of input and many pulls of output: the output
		// must be copied out of the layer's buffer.
		{"many", strings.Repeat(helloReq, 500), strings.Repeat(helloResp, 500)},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n" + helloReq,
			strings.Replace(helloResp, "\r\nContent-Type", "\r\nConnection: close\r\nContent-Type", 1)},
		{"nothing after a close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + helloReq,
			strings.Replace(helloResp, "\r\nContent-Type", "\r\nConnection: close\r\nContent-Type", 1)},
		{"cut in a head", helloReq + "GET / HT",
			helloResp + "HTTP/1.1 400 Bad Request\r\nServer: streamhttp\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n" +
				"Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 67\r\n\r\n" +
				"Bad Request: the connection closed in the middle of a request head\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := streamhttp.Replay(context.Background(), strings.NewReader(tt.in), hello, streamhttp.ServerSettings{PipeliningLimit: 4})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(streamhttptest.NormalizeDate(got))); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReplayFailure: a handler flow that breaks its contract (it drops the
// second request) fails the replay, and the output so far comes with the
// error.
func TestReplayFailure(t *testing.T) {
	handler := stream.ViaFlow(stream.Filter(func(r *streamhttp.Request) bool { return r.Seq == 1 }), hello)
	got, err := streamhttp.Replay(context.Background(), strings.NewReader(helloReq+helloReq), handler, streamhttp.ServerSettings{PipeliningLimit: 2})
	var pe *streamhttp.ProtocolError
	if !errors.As(err, &pe) {
		t.Errorf("error %v, want a *ProtocolError", err)
	}
	if string(streamhttptest.NormalizeDate(got)) != helloResp {
		t.Errorf("output %q, want the first response", got)
	}
}

func TestReplayCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := streamhttp.Replay(ctx, strings.NewReader(helloReq), hello, streamhttp.ServerSettings{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestNormalizeDate(t *testing.T) {
	const p = streamhttptest.DatePlaceholder
	tests := []struct{ name, in, want string }{
		{"head", "HTTP/1.1 200 OK\r\nDate: Sat, 21 Nov 2026 09:31:01 GMT\r\n\r\n",
			"HTTP/1.1 200 OK\r\nDate: " + p + "\r\n\r\n"},
		{"every response", "A\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nB\r\nDate: Mon, 07 Nov 1994 08:49:37 GMT\r\n",
			"A\r\nDate: " + p + "\r\n\r\nB\r\nDate: " + p + "\r\n"},
		{"any case and spacing", "x\r\ndate:Tue, 15 Nov 1994 12:45:26 GMT\r\nDATE: \tWed, 16 Nov 1994 12:45:26 GMT\r\n",
			"x\r\ndate:" + p + "\r\nDATE: \t" + p + "\r\n"},
		{"first line", "Date: Thu, 17 Nov 1994 12:45:26 GMT", "Date: " + p},
		{"not a fixdate", "x\r\nDate: Sunday, 06-Nov-94 08:49:37 GMT\r\n", "x\r\nDate: Sunday, 06-Nov-94 08:49:37 GMT\r\n"},
		{"not at a line start", "x\r\nX-Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "x\r\nX-Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := streamhttptest.NormalizeDate(in)
			if string(got) != tt.want {
				t.Errorf("NormalizeDate(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if string(in) != tt.in {
				t.Errorf("the input was modified: %q", in)
			}
		})
	}
}
