package streamhttp

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// gate is a handler whose requests wait, each, until the test opens their
// gate: the test decides when each answer may be made.
type gate struct{ open [10]chan struct{} }

func newGate() *gate {
	g := &gate{}
	for i := range g.open {
		g.open[i] = make(chan struct{})
	}
	return g
}

// answer waits for the gate of request n (its path, "/0" ... "/9").
func (g *gate) answer(r *Request) *Response {
	var n int
	fmt.Sscanf(r.URI.Path, "/%d", &n)
	<-g.open[n]
	return respond(r)
}

// TestFlushBehindSlowHandler: pipelined requests whose handler takes its
// time get each answer as it is made, not all of them once the last is
// done. The gate of request n+1 opens only once the client has read the
// answer to request n, so a writer that holds answers back deadlocks (and
// the test times out) instead of passing slowly. Run for every way a
// handler can be fused with the connection: a synchronous flow, the inline
// path of an asynchronous handler, and a concurrent one.
func TestFlushBehindSlowHandler(t *testing.T) {
	handlers := []struct {
		name  string
		flow  func(g *gate) stream.Flow[*Request, *Response]
		limit int
	}{
		{"sync", func(g *gate) stream.Flow[*Request, *Response] { return stream.Map(g.answer) }, 1},
		{"sync limit 10", func(g *gate) stream.Flow[*Request, *Response] { return stream.Map(g.answer) }, 10},
		{"async 1", func(g *gate) stream.Flow[*Request, *Response] { return AsyncHandler(asyncOf(g.answer), 1, 1) }, 1},
		{"async 4", func(g *gate) stream.Flow[*Request, *Response] { return AsyncHandler(asyncOf(g.answer), 4, 4) }, 4},
		{"handler 4", func(g *gate) stream.Flow[*Request, *Response] { return handlerFlow(asyncOf(g.answer), 4, 4) }, 4},
	}
	for _, tr := range transports {
		for _, h := range handlers {
			t.Run(tr.name+"/"+h.name, func(t *testing.T) {
				g := newGate()
				client, done := tr.dial(t, h.flow(g), ServerSettings{PipeliningLimit: h.limit})
				var in strings.Builder
				for i := range 10 {
					in.WriteString(get(fmt.Sprintf("/%d", i)))
				}
				go io.WriteString(client, in.String())
				br := bufio.NewReader(client)
				client.SetReadDeadline(time.Now().Add(10 * time.Second))
				for i := range 10 {
					close(g.open[i])
					expectResponse(t, br, ok(fmt.Sprintf("/%d", i)))
				}
				client.Close()
				<-done
			})
		}
	}
}

// TestFlushStreamedBody: a response body that comes from a source which
// blocks without telling the stream (a reader over a pipe, an iterator
// that waits) goes out piece by piece as it comes: the head and the first
// piece arrive while the source is still blocked.
func TestFlushStreamedBody(t *testing.T) {
	sources := []struct {
		name string
		body func(pieces <-chan string) stream.Source[[]byte]
	}{
		{"reader", func(pieces <-chan string) stream.Source[[]byte] {
			pr, pw := io.Pipe()
			go func() {
				for p := range pieces {
					io.WriteString(pw, p)
				}
				pw.Close()
			}()
			return stream.FromReader(pr, 512)
		}},
		{"seq", func(pieces <-chan string) stream.Source[[]byte] {
			return stream.FromSeq(func(yield func([]byte) bool) {
				for p := range pieces {
					if !yield([]byte(p)) {
						return
					}
				}
			})
		}},
	}
	for _, tr := range transports {
		for _, src := range sources {
			t.Run(tr.name+"/"+src.name, func(t *testing.T) {
				pieces := make(chan string)
				handler := stream.Map(func(r *Request) *Response {
					return httpcore.NewResponse(httpcore.StatusOK, entity.ChunkedFromData("text/plain", src.body(pieces)))
				})
				client, done := tr.dial(t, handler, ServerSettings{})
				io.WriteString(client, get("/"))
				br := bufio.NewReader(client)
				client.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("reading the head: %v", err)
					}
					if line == "\r\n" {
						break
					}
				}
				for i := range 3 {
					piece := fmt.Sprintf("event %d\n", i)
					pieces <- piece
					readExactly(t, br, fmt.Sprintf("%x\r\n%s\r\n", len(piece), piece))
				}
				close(pieces)
				readExactly(t, br, "0\r\n\r\n")
				client.Close()
				<-done
			})
		}
	}
}
