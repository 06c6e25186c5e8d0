package h2

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// event is one frame the server sent, copied out of the client's Framer.
type event struct {
	Type     http2.FrameType
	Stream   uint32
	End      bool          // END_STREAM
	Ack      bool          // SETTINGS or PING ACK
	Code     http2.ErrCode // RST_STREAM, GOAWAY
	LastID   uint32        // GOAWAY
	Incr     uint32        // WINDOW_UPDATE
	Data     []byte        // DATA, PING
	Fields   []hpack.HeaderField
	Settings []http2.Setting
}

func (e event) field(name string) string {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// client drives a server connection (the layer joined with a handler,
// over net.Pipe) with x/net's Framer, as an HTTP/2 client would.
type client struct {
	t      *testing.T
	conn   net.Conn
	fr     *http2.Framer
	hbuf   bytes.Buffer
	enc    *hpack.Encoder
	events chan event
	srv    *Conn
	run    *stream.Running[stream.NotUsed, int64]
	rerr   chan error

	started chan *Conn
	reading bool          // the read goroutine runs
	waitFor time.Duration // overrides waitLimit
}

type handlerFlow = stream.Flow[*httpcore.Request, *httpcore.Response]

// newClient starts a server with cfg and handler on one end of a pipe and
// returns a client on the other end. The client has sent its preface and
// an empty SETTINGS frame (plus settings), and taken the server's SETTINGS;
// the test reads on from the frame after them.
func newClient(t *testing.T, cfg Config, handler handlerFlow, settings ...http2.Setting) *client {
	t.Helper()
	c := startServer(t, cfg, handler)
	c.reading = true
	go c.read()
	c.handshake(settings...)
	return c
}

// startServer starts a server with cfg and handler on one end of a pipe
// and returns a client on the other end that has sent nothing yet and
// does not read.
func startServer(t *testing.T, cfg Config, handler handlerFlow) *client {
	t.Helper()
	srvConn, cliConn := net.Pipe()
	started := make(chan *Conn, 1)
	layer := Layer(cfg, func(c *Conn) { started <- c })
	// The source closes the pipe when the run ends, as a server closes
	// its connection.
	src := stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		context.AfterFunc(m.Context(), func() { srvConn.Close() })
		p, _ := stream.Materialize(m, stream.FromReader(srvConn, 16<<10))
		return p
	})
	run := stream.To(stream.Via(src, bidi.JoinLeft(handler, layer)), stream.ToWriter(srvConn)).Start(context.Background())
	c := &client{t: t, conn: cliConn, events: make(chan event, 100000), rerr: make(chan error, 1), run: run, started: started}
	c.fr = http2.NewFramer(cliConn, nil)
	c.fr.AllowIllegalWrites = true
	c.enc = hpack.NewEncoder(&c.hbuf)
	t.Cleanup(func() {
		cliConn.Close()
		srvConn.Close()
		if c.reading {
			<-c.rerr
		}
		run.Wait()
	})
	return c
}

// handshake sends the preface and SETTINGS and takes the server's.
func (c *client) handshake(settings ...http2.Setting) {
	t := c.t
	t.Helper()
	io.WriteString(c.conn, http2.ClientPreface)
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	c.srv = <-c.started
	e := c.next()
	if e.Type != http2.FrameSettings || e.Ack {
		t.Fatalf("first frame %+v, want SETTINGS", e)
	}
	c.fr.WriteSettingsAck()
}

// read turns the server's frames into events until the connection ends.
func (c *client) read() {
	fr := http2.NewFramer(nil, c.conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	defer close(c.events)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			c.rerr <- err
			return
		}
		e := event{Type: f.Header().Type, Stream: f.Header().StreamID}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			e.Ack = f.IsAck()
			f.ForeachSetting(func(s http2.Setting) error { e.Settings = append(e.Settings, s); return nil })
		case *http2.MetaHeadersFrame:
			e.End, e.Fields = f.StreamEnded(), f.Fields
		case *http2.DataFrame:
			e.End, e.Data = f.StreamEnded(), append([]byte(nil), f.Data()...)
		case *http2.RSTStreamFrame:
			e.Code = f.ErrCode
		case *http2.GoAwayFrame:
			e.Code, e.LastID = f.ErrCode, f.LastStreamID
		case *http2.WindowUpdateFrame:
			e.Incr = f.Increment
		case *http2.PingFrame:
			e.Ack, e.Data = f.IsAck(), append([]byte(nil), f.Data[:]...)
		}
		c.events <- e
	}
}

// waitLimit is how long the client waits for a frame; a test on a fake
// clock (synctest) sets a longer wait.
const waitLimit = 10 * time.Second

func (c *client) wait() time.Duration {
	if c.waitFor > 0 {
		return c.waitFor
	}
	return waitLimit
}

// next returns the server's next frame.
func (c *client) next() event {
	c.t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			c.t.Fatal("the connection ended")
		}
		return e
	case <-time.After(c.wait()):
		c.t.Fatal("no frame from the server")
	}
	return event{}
}

// until returns the first frame that match accepts, skipping others.
func (c *client) until(what string, match func(event) bool) event {
	c.t.Helper()
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				c.t.Fatalf("the connection ended before %s", what)
			}
			if match(e) {
				return e
			}
		case <-time.After(c.wait()):
			c.t.Fatalf("no %s from the server", what)
		}
	}
}

func (c *client) goAway() event {
	c.t.Helper()
	return c.until("GOAWAY", func(e event) bool { return e.Type == http2.FrameGoAway })
}

func (c *client) reset(id uint32) event {
	c.t.Helper()
	return c.until("RST_STREAM", func(e event) bool { return e.Type == http2.FrameRSTStream && e.Stream == id })
}

// response collects the response of stream id: its head and body.
func (c *client) response(id uint32) (head event, body []byte) {
	c.t.Helper()
	head = c.until("HEADERS", func(e event) bool { return e.Type == http2.FrameHeaders && e.Stream == id })
	end := head.End
	for !end {
		e := c.until("DATA", func(e event) bool {
			return (e.Type == http2.FrameData || e.Type == http2.FrameHeaders || e.Type == http2.FrameRSTStream) && e.Stream == id
		})
		if e.Type == http2.FrameRSTStream {
			c.t.Fatalf("stream %d reset: %v", id, e.Code)
		}
		body = append(body, e.Data...)
		end = e.End
	}
	return head, body
}

// closed waits for the server to end the connection.
func (c *client) closed() {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return
			}
		case <-time.After(c.wait()):
			c.t.Fatal("the connection did not end")
		}
	}
}

// block encodes header fields, given as name, value pairs.
func (c *client) block(kv ...string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), c.hbuf.Bytes()...)
}

// get opens stream id with a GET request for path.
func (c *client) get(id uint32, path string, extra ...string) {
	c.headers(id, true, append([]string{":method", "GET", ":scheme", "http", ":path", path, ":authority", "example.com"}, extra...)...)
}

func (c *client) headers(id uint32, end bool, kv ...string) {
	c.t.Helper()
	if err := c.tryHeaders(id, end, kv...); err != nil {
		c.t.Fatal(err)
	}
}

// tryHeaders is headers for a client that expects the server to close
// the connection at some point.
func (c *client) tryHeaders(id uint32, end bool, kv ...string) error {
	return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block(kv...), EndStream: end, EndHeaders: true})
}

// request is a GET for path on stream id, as name, value pairs.
func request(path string) []string {
	return []string{":method", "GET", ":scheme", "http", ":path", path, ":authority", "example.com"}
}

func (c *client) write(f func(*http2.Framer) error) {
	c.t.Helper()
	if err := f(c.fr); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		c.t.Fatal(err)
	}
}

func mapHandler(f func(*httpcore.Request) *httpcore.Response) handlerFlow { return stream.Map(f) }

func okHandler() handlerFlow {
	return mapHandler(func(r *httpcore.Request) *httpcore.Response {
		return httpcore.Text(httpcore.StatusOK, string(r.Method)+" "+r.Target)
	})
}
