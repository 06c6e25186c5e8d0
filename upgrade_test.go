package streamhttp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// upperFlow is a byte protocol for the tests: every byte upper-cased.
var upperFlow = stream.Map(func(p []byte) []byte { return bytes.ToUpper(p) })

func upgradeHandler(r *Request) *Response {
	switch r.URI.Path {
	case "/upper":
		return UpgradeFlow("upper", httpcore.Headers{{Name: "X-Proto", Value: "1"}}, upperFlow)
	case "/raw":
		return Hijack(func(ctx context.Context, conn net.Conn, buffered []byte) {
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n")
			conn.Write(bytes.ToUpper(buffered))
			io.Copy(conn, readerFunc(func(p []byte) (int, error) {
				n, err := conn.Read(p)
				copy(p, bytes.ToUpper(p[:n]))
				return n, err
			}))
		})
	}
	return httpcore.Text(200, "plain")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestUpgrade: the 101 head goes out, then the connection speaks the new
// protocol; bytes the client sent along with the request (before the
// 101) reach the new protocol first; the request before it on the same
// connection is answered as HTTP.
func TestUpgrade(t *testing.T) {
	for _, path := range []string{"/upper", "/raw"} {
		t.Run(path, func(t *testing.T) {
			for _, limit := range []int{1, 8, -8} {
				var base string
				if limit > 0 {
					_, base = bindSync(t, upgradeHandler, ServerSettings{PipeliningLimit: limit})
				} else {
					// Concurrent handlers: the inbound side runs ahead but
					// for the upgrade request's barrier.
					_, base = bindAsync(t, func(_ context.Context, r *Request) (*Response, error) { return upgradeHandler(r), nil }, 8, ServerSettings{PipeliningLimit: -limit})
				}
				conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(conn)
				io.WriteString(conn, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				// The request and early bytes of the new protocol in one write.
				io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: upper\r\n\r\nearly ")
				resp, err = http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 101 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				io.WriteString(conn, "late\n")
				line, err := br.ReadString('\n')
				if err != nil || line != "EARLY LATE\n" {
					t.Errorf("limit %d: got %q, %v", limit, line, err)
				}
			}
		})
	}
}

// TestUpgradeRefused: a 101 for a request that did not ask to upgrade is
// answered 500, and the connection closes.
func TestUpgradeRefused(t *testing.T) {
	_, base := bindSync(t, upgradeHandler, ServerSettings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /upper HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{500, true}, []any{resp.StatusCode, resp.Close}); diff != "" {
		t.Error(diff)
	}
}

// TestUpgradeStatsAndClose: the switched connection leaves the binding's
// books, and the binding's Close ends an UpgradeFlow.
func TestUpgradeLeavesBinding(t *testing.T) {
	b, base := bindSync(t, upgradeHandler, ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /upper HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: upper\r\n\r\n")
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatal(resp, err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if open, _ := b.OpenConnections(); open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the switched connection still counts as open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(conn, "still here\n")
	if line, err := br.ReadString('\n'); err != nil || line != "STILL HERE\n" {
		t.Fatalf("%q %v", line, err)
	}
}
