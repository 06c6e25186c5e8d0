package nethttp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/streamhttp/streamhttp"
)

// hijackHandler answers an upgrade by hijacking: with ownHead it writes the
// 101 itself (as gorilla/websocket does), otherwise it sets it with
// WriteHeader(101) first (as coder/websocket does). Then it upper-cases
// lines until the client closes. notes gets what the handler observed.
func hijackHandler(ownHead bool, notes chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ownHead {
			w.Header().Set("Upgrade", "upper")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			notes <- "hijack: " + err.Error()
			return
		}
		defer conn.Close()
		_, werr := w.Write([]byte("x"))
		_, _, herr := w.(http.Hijacker).Hijack()
		notes <- fmt.Sprintf("write after: %v; second hijack: %v; buffered %d",
			errors.Is(werr, http.ErrHijacked), errors.Is(herr, http.ErrHijacked), brw.Reader.Buffered())
		if ownHead {
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: upper\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
		}
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				break
			}
			brw.WriteString(strings.ToUpper(line))
			brw.Flush()
		}
		select {
		case <-r.Context().Done():
			notes <- "context ended before the handler returned"
		default:
			notes <- "context alive"
		}
	})
}

func TestHijack(t *testing.T) {
	for _, ownHead := range []bool{true, false} {
		t.Run(fmt.Sprintf("ownHead=%v", ownHead), func(t *testing.T) {
			notes := make(chan string, 4)
			url := serve(t, hijackHandler(ownHead, notes), streamhttp.ServerSettings{})
			conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: upper\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "upper" {
				t.Fatalf("head %d %v", resp.StatusCode, resp.Header)
			}
			var got []string
			for _, s := range []string{"one\n", "two\n"} {
				io.WriteString(conn, s)
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line)
			}
			conn.(*net.TCPConn).CloseWrite()
			got = append(got, <-notes, <-notes)
			want := []string{"ONE\n", "TWO\n", "write after: true; second hijack: true; buffered 0", "context alive"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Bytes sent right behind the upgrade request are in the hijacked reader.
func TestHijackBufferedBytes(t *testing.T) {
	got := make(chan string, 1)
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		b := make([]byte, brw.Reader.Buffered())
		io.ReadFull(brw, b)
		got <- string(b)
	}), streamhttp.ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nearly bytes")
	if s := <-got; s != "early bytes" {
		t.Errorf("buffered %q", s)
	}
}

// Hijacking a plain request is refused with an error; the response goes on.
func TestHijackPlainRequest(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, err := w.(http.Hijacker).Hijack()
		io.WriteString(w, fmt.Sprint(errors.Is(err, errHijackRequest)))
	}), streamhttp.ServerSettings{})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, []byte("true")) {
		t.Errorf("%q", b)
	}
}

// WriteHeader(101) without Hijack is answered 500, and the connection closes.
func TestSwitchingWithoutHijack(t *testing.T) {
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusSwitchingProtocols)
	}), streamhttp.ServerSettings{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 || !resp.Close {
		t.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
	}
}
