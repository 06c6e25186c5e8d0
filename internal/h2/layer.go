package h2

import (
	"runtime"
	"sync"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// Layer returns the server side of one HTTP/2 connection as a bidi flow:
// bytes in (starting with the client preface), requests out to the
// handler; responses in, bytes out. It does no I/O of its own.
//
//	           +-----------------------------------------------------+
//	*Response  | response pump --> Conn: streams, windows, HPACK ----> | []byte
//	  ~> I1    |  (goroutine)        |  (Output: frames, DATA as     |  O1 ~>
//	           |                     |   the windows allow)          |
//	*Request   | NextRequest <------ Conn <------- reader <----------| []byte
//	  <~ O2    |                         (Feed)   (goroutine)        |  <~ I2
//	           +-----------------------------------------------------+
//
// Unlike HTTP/1.1, the two directions are not one pull line: frames must
// be read while the handler is busy (WINDOW_UPDATE, RST_STREAM, PING) and
// written while no response is ready. So the layer runs two goroutines of
// the run: a reader that pulls the input and feeds the connection (it
// stops pulling while MaxOutputBuffer bytes wait for the transport), and a
// pump that pulls responses from the handler. Streamed response bodies
// get a goroutine each, which pulls the body only when the stream's window
// is open. cfg.Started, if set, gets the connection's state first.
func Layer(cfg Config, started func(*Conn)) bidi.Flow[*httpcore.Response, []byte, []byte, *httpcore.Request] {
	cfg = cfg.Resolved()
	return bidi.FromFunc(func() (stream.Flow[*httpcore.Response, []byte], stream.Flow[[]byte, *httpcore.Request]) {
		sh := &shared{cfg: cfg, started: started, cw: make(chan struct{})}
		top := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[*httpcore.Response]) stream.Puller[[]byte] {
			return &outPuller{sh: sh, m: m, up: up}
		})
		bottom := stream.NewFlow(func(m *stream.Materializer, up stream.Puller[[]byte]) stream.Puller[*httpcore.Request] {
			sh.inM, sh.in = m, up
			return &reqPuller{sh: sh, m: m}
		})
		return top, bottom
	})
}

// shared is what the two directions of one run share: the connection,
// made when the output is first pulled.
type shared struct {
	cfg     Config
	started func(*Conn)
	inM     *stream.Materializer
	in      stream.Puller[[]byte]

	once sync.Once
	c    *Conn
	cw   chan struct{} // closed once c is set
}

func (sh *shared) conn(m *stream.Materializer, up stream.Puller[*httpcore.Response]) *Conn {
	sh.once.Do(func() {
		cfg := sh.cfg
		if cfg.Context == nil {
			cfg.Context = m.Context()
		}
		c := NewConn(cfg)
		c.goBody = func(f func(*stream.Materializer)) { m.Go(func() { f(m) }) }
		sh.c = c
		if sh.started != nil {
			sh.started(c)
		}
		close(sh.waitCh())
		inM, in := sh.inM, sh.in
		inM.Go(func() { readLoop(c, inM, in) })
		m.Go(func() { pumpLoop(c, m, up) })
	})
	return sh.c
}

func (sh *shared) waitCh() chan struct{} { return sh.cw }

// readLoop feeds the input to c until either ends.
func readLoop(c *Conn, m *stream.Materializer, in stream.Puller[[]byte]) {
	for {
		for c.Backlogged() {
			select {
			case <-c.ReadWake():
			case <-m.Done():
				in.Cancel(m.Cause())
				c.InputEnded(m.Cause())
				return
			}
		}
		if !c.Reading() {
			in.Cancel(stream.ErrCancelled)
			c.InputEnded(nil)
			return
		}
		p, err := in.Pull()
		if err != nil {
			if err == stream.EOS {
				err = nil
			}
			c.InputEnded(err)
			return
		}
		c.Feed(p)
	}
}

// pumpLoop hands the handler's responses to c until the handler ends.
func pumpLoop(c *Conn, m *stream.Materializer, up stream.Puller[*httpcore.Response]) {
	for {
		resp, err := up.Pull()
		if err != nil {
			c.HandlerEnded(err)
			return
		}
		if resp == nil {
			continue
		}
		if c.Respond(resp) != nil {
			up.Cancel(stream.ErrCancelled)
			return
		}
	}
}

// outPuller is the layer's output: the connection's frames.
type outPuller struct {
	sh      *shared
	m       *stream.Materializer
	up      stream.Puller[*httpcore.Response]
	done    error
	yielded bool // since the last output
}

func (o *outPuller) Pull() ([]byte, error) {
	if o.done != nil {
		return nil, o.done
	}
	c := o.sh.conn(o.m, o.up)
	for {
		if !o.yielded && c.HandlerBusy() {
			// The handler has requests in hand: let its goroutines run
			// first, once, so that the answers ready by then leave in one
			// write with this one rather than one write each.
			o.yielded = true
			runtime.Gosched()
		}
		p, finished := c.Output()
		if len(p) > 0 {
			o.yielded = false
			return p, nil
		}
		if finished {
			// The transport has written what came before (it pulled
			// again): the buffers can serve another connection.
			c.ReleaseBuffers()
			o.done = stream.EOS
			if err := c.Err(); err != nil {
				if _, ok := err.(*ContractError); ok {
					o.done = err
				}
			}
			return nil, o.done
		}
		o.m.WillBlock()
		select {
		case <-c.OutputWake():
		case <-o.m.Done():
			// The run ends (the server closes, or its hard deadline): the
			// last frames (the 503s and GOAWAY of Abort) still go out, as
			// far as the transport takes them at once.
			o.done = o.m.Cause()
			c.Abort()
			if p, _ := c.Output(); len(p) > 0 {
				return p, nil
			}
			return nil, o.done
		}
	}
}

// Cancel ends the connection: the transport is gone.
func (o *outPuller) Cancel(cause error) {
	if o.done == nil {
		o.done = cause
	}
	select {
	case <-o.sh.waitCh():
		o.sh.c.Abort()
	default:
	}
}

// reqPuller hands requests to the handler flow.
type reqPuller struct {
	sh    *shared
	m     *stream.Materializer
	done  error
	first bool // FirstRequest has been called
}

func (r *reqPuller) Pull() (*httpcore.Request, error) {
	if r.done != nil {
		return nil, r.done
	}
	select {
	case <-r.sh.waitCh():
	case <-r.m.Done():
		r.done = r.m.Cause()
		return nil, r.done
	}
	c := r.sh.c
	for {
		if f := r.sh.cfg.FirstRequest; f != nil && !r.first && c.HasRequest() {
			// Before the first request leaves, outside the connection's lock.
			r.first = true
			if err := f(r.m.Context()); err != nil {
				c.Abort()
				r.done = stream.EOS
				return nil, r.done
			}
		}
		req, more := c.NextRequest()
		if req != nil {
			return req, nil
		}
		if !more {
			r.done = stream.EOS
			return nil, r.done
		}
		r.m.WillBlock()
		select {
		case <-c.RequestWake():
		case <-r.m.Done():
			r.done = r.m.Cause()
			return nil, r.done
		}
	}
}

func (r *reqPuller) Cancel(cause error) {
	if r.done == nil {
		r.done = cause
		select {
		case <-r.sh.waitCh():
			r.sh.c.NoMoreRequests()
		default:
		}
	}
}
