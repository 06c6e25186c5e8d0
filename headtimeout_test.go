package streamhttp

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// TestHeadTimeout: a client that sends its request head slower than
// HeadTimeout (slowloris) gets 408 and the connection closes, even while
// bytes keep trickling in; a client whose head arrives in time is served.
func TestHeadTimeout(t *testing.T) {
	const head = 200 * time.Millisecond
	handler := stream.Map(respond)

	for _, tr := range transports {
		t.Run(tr.name+"/trickling head", func(t *testing.T) {
			c, done := tr.dial(t, handler, ServerSettings{HeadTimeout: head, IdleTimeout: time.Minute})
			start := time.Now()
			io.WriteString(c, "GET /slow HTTP/1.1\r\n")
			// Keep bytes moving, so the idle timeout never applies.
			trickled := make(chan struct{})
			defer func() { c.Close(); <-trickled }()
			go func() {
				defer close(trickled)
				for i := 0; i < 20; i++ {
					if _, err := io.WriteString(c, "X-Slow: a\r\n"); err != nil {
						return
					}
					time.Sleep(head / 4)
				}
			}()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(bufio.NewReader(c))
			if err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("reading: %v", err)
			}
			if !strings.HasPrefix(string(got), "HTTP/1.1 408 Request Timeout\r\n") || !strings.Contains(string(got), "Connection: close\r\n") {
				t.Fatalf("got %q, want a 408 that closes", abbrev(string(got)))
			}
			if d := time.Since(start); d < head || d > head+1500*time.Millisecond {
				t.Errorf("408 after %v, want about %v", d, head)
			}
			c.Close()
			<-done
		})

		t.Run(tr.name+"/head in time", func(t *testing.T) {
			c, done := tr.dial(t, handler, ServerSettings{HeadTimeout: head})
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /a HTTP/1.1\r\n")
			time.Sleep(head / 2)
			io.WriteString(c, "Host: x\r\n\r\n")
			expectResponse(t, br, ok("/a"))
			// The timeout runs per head: a second request gets its own.
			io.WriteString(c, "GET /b HTTP/1.1\r\n")
			time.Sleep(head / 2)
			io.WriteString(c, "Host: x\r\n\r\n")
			expectResponse(t, br, ok("/b"))
			c.Close()
			if err := <-done; err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		})
	}
}
