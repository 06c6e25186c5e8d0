package streamhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/stream"
)

// connInfo is what the layer knows of the connection it serves.
type connInfo struct {
	remote, local net.Addr
	tls           *tls.ConnectionState
}

func (i connInfo) attrs() []any {
	if i.remote == nil {
		return nil
	}
	return []any{slog.String("remote", i.remote.String())}
}

func infoOf(rwc io.ReadWriteCloser) connInfo {
	var info connInfo
	if nc, ok := rwc.(net.Conn); ok {
		info.remote, info.local = nc.RemoteAddr(), nc.LocalAddr()
	}
	if tc, ok := rwc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		info.tls = &st
	}
	return info
}

// readBufferSize is the size of a connection's read buffer.
const readBufferSize = 4 << 10

// flushThreshold is how much response data is buffered before a write even
// when the connection is not about to wait.
const flushThreshold = 64 << 10

// ServeConn serves HTTP/1.1 on rwc (a net.Conn, a *tls.Conn, one end of a
// net.Pipe, ...) with handler until the connection is done: the client
// closed it, a response closed it, ctx was cancelled, or it failed. It
// closes rwc before it returns. The error is nil for an orderly end.
//
// Responses are collected in one write buffer and written when the
// connection is about to wait (for input, or for the handler) or the buffer
// is full, so pipelined responses leave in one write.
func ServeConn(ctx context.Context, rwc io.ReadWriteCloser, handler stream.Flow[*Request, *Response], s ServerSettings) error {
	s = s.resolved()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cio := &connIO{rwc: rwc, s: &s}
	cio.dl, _ = rwc.(interface{ SetReadDeadline(time.Time) error })
	hooks := &connHooks{ctx: cctx, info: infoOf(rwc), oob: cio}
	runCtx := context.WithValue(cctx, connKey{}, hooks)
	flow := bidi.JoinLeft(handler, ServerLayer(s))
	_, err := stream.RunWith(runCtx, stream.Via(cio.source(), flow), cio.sink())
	cio.close()
	if errors.Is(err, errIdle) {
		err = nil // an idle connection closing is the normal end
	}
	return err
}

var errIdle = errors.New("streamhttp: idle timeout")

// connIO is the byte side of a served connection: a source of input chunks
// and a sink that buffers output.
type connIO struct {
	rwc io.ReadWriteCloser
	s   *ServerSettings
	dl  interface{ SetReadDeadline(time.Time) error }

	mu       sync.Mutex // guards w, wbuf and closed
	wbuf     []byte
	closed   bool
	lastIO   time.Time
	werr     error
	rbuf     []byte
	deadline time.Time
}

// source reads chunks; each is valid until the next pull.
func (c *connIO) source() stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		// A run that ends (or is cancelled) must not stay blocked in Read.
		stop := context.AfterFunc(m.Context(), func() {
			if c.dl != nil {
				c.dl.SetReadDeadline(time.Unix(1, 0))
			} else {
				c.rwc.Close()
			}
		})
		return &connReader{c: c, m: m, stop: stop}
	})
}

type connReader struct {
	c    *connIO
	m    *stream.Materializer
	stop func() bool
	done error
}

func (r *connReader) Pull() ([]byte, error) {
	if r.done != nil {
		return nil, r.done
	}
	c := r.c
	if c.rbuf == nil {
		c.rbuf = make([]byte, readBufferSize)
	}
	// About to wait for the client: flush what is ready for it first.
	r.m.WillBlock()
	for {
		if r.m.Stopped() {
			r.done = r.m.Cause()
			return nil, r.done
		}
		if c.s.IdleTimeout > 0 && c.dl != nil {
			now := time.Now()
			// Moving the deadline is a timer operation: do it at most about
			// once a second.
			if d := now.Add(c.s.IdleTimeout); d.Sub(c.deadline) > time.Second {
				c.deadline = d
				c.dl.SetReadDeadline(d)
			}
		}
		n, err := c.rwc.Read(c.rbuf)
		if n > 0 {
			c.touch()
			return c.rbuf[:n], nil
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !r.m.Stopped():
			if c.idleFor() < c.s.IdleTimeout {
				c.deadline = time.Time{}
				continue // output moved recently: not idle
			}
			r.done = errIdle
		case err == io.EOF || r.m.Stopped():
			r.done = stream.EOS
		default:
			r.done = err
		}
		return nil, r.done
	}
}

func (r *connReader) Cancel(error) {
	if r.done == nil {
		r.done = stream.ErrCancelled
	}
	r.stop()
}

func (c *connIO) touch() {
	c.mu.Lock()
	c.lastIO = time.Now()
	c.mu.Unlock()
}

func (c *connIO) idleFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Since(c.lastIO)
}

// sink buffers the layer's output and writes it when the island is about
// to wait, when the buffer is full, and at the end.
func (c *connIO) sink() stream.Sink[[]byte, stream.NotUsed] {
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[[]byte]) (stream.NotUsed, error) {
		m.OnBlock(func() { c.flush() })
		for {
			p, err := up.Pull()
			if err == stream.EOS {
				return stream.NotUsed{}, c.flush()
			}
			if err != nil {
				c.flush()
				return stream.NotUsed{}, err
			}
			c.mu.Lock()
			c.wbuf = append(c.wbuf, p...)
			full := len(c.wbuf) >= flushThreshold
			c.mu.Unlock()
			if full {
				if err := c.flush(); err != nil {
					up.Cancel(err)
					return stream.NotUsed{}, err
				}
			}
		}
	})
}

// flush writes the buffered output.
func (c *connIO) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(nil)
}

func (c *connIO) writeLocked(extra []byte) error {
	if c.werr != nil {
		return c.werr
	}
	if len(extra) > 0 {
		c.wbuf = append(c.wbuf, extra...)
	}
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.rwc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	c.lastIO = time.Now()
	if err != nil {
		c.werr = err
	}
	return err
}

// writeOOB writes p after whatever is buffered, now.
func (c *connIO) writeOOB(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(p)
}

// abort writes p and closes the connection after lingering.
func (c *connIO) abort(p []byte) {
	c.mu.Lock()
	c.writeLocked(p)
	c.mu.Unlock()
	c.close()
}

// close flushes, then closes gracefully: the write side first, then reading
// and discarding what the client still sends for up to LingerTimeout, so
// that it reads the last response before it sees a reset.
func (c *connIO) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.writeLocked(nil)
	c.mu.Unlock()
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.rwc.(closeWriter); ok && c.werr == nil && c.dl != nil && c.s.LingerTimeout > 0 {
		if cw.CloseWrite() == nil {
			c.dl.SetReadDeadline(time.Now().Add(c.s.LingerTimeout))
			var discard [512]byte
			for {
				if _, err := c.rwc.Read(discard[:]); err != nil {
					break
				}
			}
		}
	}
	c.rwc.Close()
}
