package streamhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestRegressionConnect2xxEndsHTTP: a 2xx answer to CONNECT would start a
// tunnel, which the server does not run: the connection ends after it, and
// the bytes behind it are not taken as requests.
func TestRegressionConnect2xxEndsHTTP(t *testing.T) {
	b := serveSync(t, hello, ServerSettings{})
	c, r := dialSend(t, b.LocalAddr(), "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	resp, err := http.ReadResponse(r, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if rest, _ := io.ReadAll(r); len(rest) > 0 {
		t.Errorf("after the CONNECT answer: %q, want the connection's end", rest)
	}
}

// TestRegressionStatsOpenRequests: requests still unanswered when their
// connection ends leave the open-request count.
func TestRegressionStatsOpenRequests(t *testing.T) {
	b := serveSync(t, func(r *Request) *Response {
		resp := hello(r)
		if r.URI.Path == "/close" {
			resp.Header.Add("Connection", "close")
		}
		return resp
	}, ServerSettings{PipeliningLimit: 4})
	for range 3 {
		c, r := dialSend(t, b.LocalAddr(), "GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
		io.ReadAll(r)
		c.Close()
	}
	waitStats(t, b, "every connection to end", func(s Stats) bool { return s.OpenConnections == 0 })
	if st := b.Stats(); st.OpenRequests != 0 {
		t.Errorf("open requests %d after every connection ended: %+v", st.OpenRequests, st)
	}
}

// TestRegressionEmptyLinesDoNotHoldTheConnection: empty lines before a
// request start the head timeout, so a client sending only CRLFs is cut.
func TestRegressionEmptyLinesDoNotHoldTheConnection(t *testing.T) {
	b := serveSync(t, hello, ServerSettings{HeadTimeout: 300 * time.Millisecond, IdleTimeout: 5 * time.Second})
	c, r := dialSend(t, b.LocalAddr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	defer c.Close()
	readBody(t, r)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := io.WriteString(c, "\r\n"); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	io.ReadAll(r) // a 408, then the end
	close(stop)
	<-done
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the connection lasted %v on empty lines, want about the head timeout", waited)
	}
}

// TestRegressionSilentConnectionCut: a connection that sends nothing is
// closed after HeadTimeout, without an answer, rather than hold a slot for
// the idle timeout.
func TestRegressionSilentConnectionCut(t *testing.T) {
	b := serveSync(t, hello, ServerSettings{HeadTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second})
	c, r := dialSend(t, b.LocalAddr(), "")
	defer c.Close()
	start := time.Now()
	if rest, _ := io.ReadAll(r); len(rest) > 0 {
		t.Errorf("a silent connection got %q, want nothing", rest)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("closed after %v, want about the head timeout", waited)
	}
}

// TestRegressionAsyncPanicKeepsEarlierAnswers: with a concurrent handler, a
// request whose handler panics (or fails) is answered 500 and closes the
// connection, and the requests before it still get their answers.
func TestRegressionAsyncPanicKeepsEarlierAnswers(t *testing.T) {
	for _, mode := range []string{"panic", "error"} {
		t.Run(mode, func(t *testing.T) {
			f := func(ctx context.Context, r *Request) (*Response, error) {
				switch r.URI.Path {
				case "/bad":
					if mode == "panic" {
						panic("on purpose")
					}
					return nil, errors.New("on purpose")
				case "/slow":
					time.Sleep(20 * time.Millisecond) // still running when /bad fails
				}
				return hello(r), nil
			}
			s := quietSettings()
			s.DisableSignals, s.PipeliningLimit = true, 4
			b, err := BindAndHandleAsync(context.Background(), "127.0.0.1:0", f, 4, s)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			c, r := dialSend(t, b.LocalAddr(), "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
			defer c.Close()
			var got []string
			for {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					break
				}
				io.Copy(io.Discard, resp.Body)
				got = append(got, fmt.Sprintf("%d close=%v", resp.StatusCode, resp.Close))
			}
			if want := []string{"200 close=false", "500 close=true"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("responses %v, want %v", got, want)
			}
		})
	}
}
