package streamhttp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// readAll answers with the size of the request body, which it reads
// whole; a failure to read it is the handler's failure.
func readAll(ctx context.Context, r *Request) (*Response, error) {
	if _, err := entity.ToStrict(ctx, r.Entity, 1<<20); err != nil {
		return nil, err
	}
	return respond(r).ForRequest(r), nil
}

// TestStalledUpload: a client that stops sending a body the handler is
// reading gets 408 (it stalled: not the server's fault), for every way the
// handler can run.
func TestStalledUpload(t *testing.T) {
	handlers := []struct {
		name string
		flow stream.Flow[*Request, *Response]
	}{
		{"sync", stream.Map(func(r *Request) *Response {
			resp, err := readAll(r.Context(), r)
			if err != nil {
				panic(err)
			}
			return resp
		})},
		{"inline", AsyncHandler(readAll, 1, 1)},
		{"async", AsyncHandler(readAll, 4, 4)},
		{"handler 4", handlerFlow(readAll, 4, 4)},
		{"flow", stream.MapAsync(4, readAll)},
	}
	for _, tr := range transports {
		for _, h := range handlers {
			t.Run(tr.name+"/"+h.name, func(t *testing.T) {
				s := quietSettings()
				s.MinRequestBodyRate, s.RequestBodyGrace, s.PipeliningLimit = 1000, 100*time.Millisecond, 4
				client, done := tr.dial(t, h.flow, s)
				io.WriteString(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
				client.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := readResponse(bufio.NewReader(client))
				if err != nil || !strings.HasPrefix(got, "HTTP/1.1 408 ") {
					t.Fatalf("stalled upload answered %q, %v; want 408", abbrev(got), err)
				}
				client.Close()
				<-done
			})
		}
	}
}

// TestHeldRequestTimesOut: a handler that neither reads the request's
// streamed body nor answers is timed out (RequestTimeout, counted from the
// head while the body is not being read), in every way a handler can run.
func TestHeldRequestTimesOut(t *testing.T) {
	hold := func(ctx context.Context, r *Request) (*Response, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	// readSome reads one piece of the body and then holds.
	readSome := func(ctx context.Context, r *Request) (*Response, error) {
		once := stream.NewSink(func(m *stream.Materializer, up stream.Puller[[]byte]) (stream.NotUsed, error) {
			up.Pull()
			<-ctx.Done()
			up.Cancel(ctx.Err())
			return stream.NotUsed{}, nil
		})
		stream.RunWith(ctx, r.Entity.DataBytes(), once)
		return nil, ctx.Err()
	}
	handlers := []struct {
		name string
		flow stream.Flow[*Request, *Response]
	}{
		{"sync", stream.Map(func(r *Request) *Response { hold(r.Context(), r); return nil })},
		{"inline", AsyncHandler(hold, 1, 1)},
		{"async", AsyncHandler(hold, 4, 4)},
		{"async reads a piece", AsyncHandler(readSome, 4, 4)},
		{"handler 4", handlerFlow(hold, 4, 4)},
	}
	for _, tr := range transports {
		for _, h := range handlers {
			t.Run(tr.name+"/"+h.name, func(t *testing.T) {
				s := quietSettings()
				s.RequestTimeout, s.PipeliningLimit = 200*time.Millisecond, 4
				client, done := tr.dial(t, h.flow, s)
				io.WriteString(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
				client.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := readResponse(bufio.NewReader(client))
				if err != nil || !strings.HasPrefix(got, "HTTP/1.1 503 ") {
					t.Fatalf("held request answered %q, %v; want 503", abbrev(got), err)
				}
				client.Close()
				<-done
			})
		}
	}
}

// rejectMidUpload is a handler that answers 413 part-way through an
// upload while its own goroutine goes on reading the body: it answers once
// that goroutine has the first bytes (first runs there then, if not nil)
// and ready is closed (nil: at once).
func rejectMidUpload(first func(), ready <-chan struct{}) func(context.Context, *Request) (*Response, error) {
	return func(ctx context.Context, r *Request) (*Response, error) {
		got := make(chan struct{})
		go func() {
			once := true
			stream.RunWith(context.Background(), r.Entity.DataBytes(), stream.ForEach(func([]byte) {
				if once {
					once = false
					if first != nil {
						first()
					}
					close(got)
				}
			}))
		}()
		<-got
		if ready != nil {
			<-ready
		}
		return httpcore.Text(httpcore.StatusContentTooLarge, "no\n").ForRequest(r), nil
	}
}

// uploadRejected sends the head of an upload and its first bytes on
// client, and checks that the 413 comes at once and the connection closes
// after it, rather than wait for the body that is not coming.
func uploadRejected(t *testing.T, client net.Conn) {
	t.Helper()
	io.WriteString(client, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(client)
	got, err := readResponse(br)
	if err != nil || !strings.HasPrefix(got, "HTTP/1.1 413 ") {
		t.Fatalf("answered %q, %v; want 413 at once", abbrev(got), err)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the answer: %q, %v; want the connection closed at once", rest, err)
	}
}

// TestEarlyAnswerWhileBodyReadBlocks: a handler that answers part-way
// through an upload (rejecting it) while its own goroutine is still
// blocked reading the body gets its answer written at once, not when the
// body read gives up, and the connection closes.
func TestEarlyAnswerWhileBodyReadBlocks(t *testing.T) {
	for _, tr := range transports {
		for _, parallelism := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/parallelism %d", tr.name, parallelism), func(t *testing.T) {
				s := quietSettings()
				s.PipeliningLimit = 4
				client, done := tr.dial(t, handlerFlow(rejectMidUpload(nil, nil), parallelism, 4), s)
				uploadRejected(t, client)
				client.Close()
				<-done
			})
		}
	}
}

// lateDeadlineConn is the server's end of a pipe whose read deadline, once
// armed, is moved by the reader only after the end of the run has set one
// in the past (and after ServeConn's own, which follows when the run can
// end): the reader looked at the run before, and its deadline lands last.
type lateDeadlineConn struct {
	net.Conn
	armed   atomic.Bool
	waiting chan struct{} // closed when the reader is held back
	ended   chan struct{} // gets a value each time a deadline in the past is set
	hold    sync.Once
}

func (c *lateDeadlineConn) SetReadDeadline(t time.Time) error {
	switch {
	case t.IsZero():
	case t.Before(time.Now()):
		err := c.Conn.SetReadDeadline(t)
		select {
		case c.ended <- struct{}{}:
		default:
		}
		return err
	case c.armed.Load():
		c.hold.Do(func() {
			close(c.waiting)
			select {
			case <-c.ended: // the run's end (its wake-up)
			case <-time.After(5 * time.Second):
				return
			}
			select {
			case <-c.ended: // ServeConn's, after the run
			case <-time.After(100 * time.Millisecond): // the run cannot end
			}
		})
	}
	return c.Conn.SetReadDeadline(t)
}

// TestEarlyAnswerWhileBodyReadMovesItsDeadline is the interleaving
// TestEarlyAnswerWhileBodyReadBlocks meets now and then, made certain: the
// handler's goroutine reading the body has found the run going and moves
// its read deadline; meanwhile the early answer is written and the run
// ends, whose wake-up sets a deadline in the past; the reader's deadline
// comes after it. The reader must not wait for the client then: the
// connection closes at once.
func TestEarlyAnswerWhileBodyReadMovesItsDeadline(t *testing.T) {
	// The flows of a handler function: MapAsync's (whose feed pulls the
	// next request while the handler runs) and the layer's own (asyncCall).
	flows := []struct {
		name        string
		parallelism int
		direct      bool
	}{{"async 1", 1, false}, {"async 4", 4, false}, {"handler 4", 4, true}}
	for _, fl := range flows {
		t.Run(fl.name, func(t *testing.T) {
			client, server := net.Pipe()
			t.Cleanup(func() { client.Close() })
			sc := &lateDeadlineConn{Conn: server, waiting: make(chan struct{}), ended: make(chan struct{}, 1)}
			// The body's next read, in the handler's goroutine, is the one
			// held back; the answer waits until it is.
			arm := func() { sc.armed.Store(true) }
			s := quietSettings()
			s.PipeliningLimit = 4
			// Deadlines far off, the body's the soonest: the body read
			// moves the deadline.
			s.IdleTimeout, s.HeadTimeout = time.Hour, time.Hour
			s.MinRequestBodyRate, s.RequestBodyGrace = 1, time.Minute
			flow := AsyncHandler(rejectMidUpload(arm, sc.waiting), fl.parallelism, 4)
			if fl.direct {
				flow = handlerFlow(rejectMidUpload(arm, sc.waiting), fl.parallelism, 4)
			}
			done := serve(t, sc, flow, s)
			uploadRejected(t, client)
			select {
			case <-sc.waiting:
			default:
				t.Fatal("the body's read did not move its deadline: the interleaving was not made")
			}
			client.Close()
			<-done
		})
	}
}
