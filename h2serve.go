package streamhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/streamhttp/streamhttp/bidi"
	"github.com/streamhttp/streamhttp/internal/clock"
	"github.com/streamhttp/streamhttp/internal/h1"
	"github.com/streamhttp/streamhttp/internal/h2"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
)

// The choice between HTTP/1.1 and HTTP/2 on a served connection (RFC 9113
// §3.2, §3.3): ALPN "h2" on TLS; on a plain connection, the client preface
// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (prior knowledge). The preface is
// compared as bytes arrive: the first byte that differs means HTTP/1.1;
// 24 matching bytes mean HTTP/2. A short first read decides nothing. On a
// TCP socket (Linux) the bytes are peeked at, not read, so HTTP/1.1 reads
// its connection untouched; elsewhere (a pipe) the bytes read so far go to
// the HTTP/1.1 layer first.

// h2Goaway is how long a connection that has sent its GOAWAY keeps reading
// (and discarding) before it closes, so that a TCP reset does not destroy
// the GOAWAY before the client has read it.
const h2Goaway = time.Second

// h2LastWrite bounds the writes of a connection whose server stops at once
// (Close, Terminate's hard deadline): its last frames go out if the client
// reads them, and a client that does not read holds nothing up.
const h2LastWrite = 100 * time.Millisecond

// dispatchH2 reports whether the connection is to be served as HTTP/2, and
// for a plain one the bytes read while deciding (in a pooled read buffer,
// for the HTTP/1.1 layer to read first). err ends the connection (nothing
// arrived within HeadTimeout, or ctx ended).
func dispatchH2(ctx context.Context, rwc io.ReadWriteCloser, s *ServerSettings, o *connOpts) (isH2 bool, rbuf *[]byte, n int, err error) {
	if !o.lastIO.IsZero() {
		return o.h2 != nil, nil, 0, nil // a parked connection wakes: it speaks as before
	}
	if s.HTTP2.Disable {
		return false, nil, 0, nil
	}
	if s.HTTP2.Only {
		return true, nil, 0, nil
	}
	if tc, ok := rwc.(*tls.Conn); ok {
		return tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS, nil, 0, nil
	}
	nc, ok := rwc.(net.Conn)
	if !ok {
		return false, nil, 0, nil
	}
	// A client that sends nothing is closed as HTTP/1.1 would close it.
	if wait := firstByteTimeout(s); wait > 0 {
		nc.SetReadDeadline(time.Now().Add(wait))
	}
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		if stop() {
			nc.SetReadDeadline(time.Time{})
		}
	}()
	if h2, ok, err := peekPreface(nc); ok {
		return h2, nil, 0, err
	}
	rbuf = readBuffers.Get().(*[]byte)
	b := *rbuf
	const preface = http2.ClientPreface
	for n < len(preface) {
		k, rerr := nc.Read(b[n:])
		n += k
		if string(b[:min(n, len(preface))]) != preface[:min(n, len(preface))] {
			return false, rbuf, n, nil
		}
		if rerr != nil {
			if n > 0 && !errors.Is(rerr, os.ErrDeadlineExceeded) {
				return false, rbuf, n, nil // a prefix of the preface: HTTP/1.1's to answer
			}
			readBuffers.Put(rbuf)
			return false, nil, 0, rerr
		}
	}
	return true, rbuf, n, nil
}

// firstByteTimeout is how long a new connection may stay silent: the
// earlier of HeadTimeout and IdleTimeout (0: none).
func firstByteTimeout(s *ServerSettings) time.Duration {
	d := s.HeadTimeout
	if t := s.IdleTimeout; t > 0 && (d <= 0 || t < d) {
		d = t
	}
	return d
}

// serveH2 serves HTTP/2 on rwc; rbuf (a pooled read buffer, or nil)
// holds n bytes already read: the preface, and whatever followed it.
func serveH2(ctx context.Context, rwc io.ReadWriteCloser, rbuf *[]byte, n int, handler stream.Flow[*Request, *Response], s *ServerSettings, o *connOpts) error {
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	info := infoOf(rwc)
	cfg := h2Config(s)
	cfg.RemoteAddr, cfg.LocalAddr, cfg.TLS = info.Remote, info.Local, info.TLS
	cfg.Context = cctx
	cfg.Resume, o.h2 = o.h2, nil
	// A binding's connection earns its MaxConnections slot with its first
	// request, as an HTTP/1.1 one does with its first head.
	cfg.FirstRequest = o.earnSlot
	// The binding reaches the connection through a connIO, as for
	// HTTP/1.1: Terminate drains (GOAWAY) or expires it.
	// Idle for ParkIdleAfter, the binding's sweeper nudges the reader,
	// which parks the connection (h2Reader).
	cio := newConnIO(rwc, s, o, cancel)
	if cs := &cio.stats; cs.s != nil {
		cfg.RequestStarted, cfg.RequestDone = cs.RequestStarted, cs.RequestDone
	}
	cio.hooks = &h1.Hooks{Ctx: cctx, Info: info, Stop: cancel}
	if !o.lastIO.IsZero() && cio.dl != nil {
		// Woken: the end of the run that parked it set the deadline.
		cio.dl.SetReadDeadline(time.Time{})
	}
	started := func(c *h2.Conn) {
		cio.h2.Store(c)
		if cio.hooks.Draining.Load() {
			c.Shutdown()
		}
	}
	if o.track != nil {
		o.track(cio)
		defer o.track(nil)
	}
	// The server stopping at once ends a write that blocks, too (the sink
	// bounds the writes that follow).
	if wd, ok := rwc.(interface{ SetWriteDeadline(time.Time) error }); ok {
		defer context.AfterFunc(ctx, func() { wd.SetWriteDeadline(time.Now().Add(h2LastWrite)) })()
	}
	flow := bidi.JoinLeft(handler, h2.Layer(cfg, started))
	src := h2Source(cio, rbuf, n)
	_, err := stream.RunWith(cctx, stream.Via(src, flow), h2Sink(cio))
	c := cio.h2.Load()
	if p := c.ParkedState(); p != nil {
		if err == nil && !cio.hooks.Draining.Load() {
			// Idle: the connection stays open, without this run.
			o.parked, o.lastIO, o.h2 = true, clock.Time(cio.lastIO.Load()), p
			return nil
		}
		// Parked as the server began to terminate: say so before closing.
		goAwayParked(rwc, p)
	}
	closeH2(ctx, rwc, s, o.lingering)
	if c != nil && err == nil {
		var ce *h2.ConnError
		if cerr := c.Err(); cerr != nil && !errors.As(cerr, &ce) {
			err = cerr
		}
	}
	if errors.Is(err, errDrained) {
		err = nil
	}
	return err
}

// h2Source reads the connection: the n bytes in rbuf first, then chunks
// of that pooled buffer, each valid until the next pull (the layer copies
// what it keeps).
func h2Source(cio *connIO, rbuf *[]byte, n int) stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		r := &h2Reader{cio: cio, m: m, buf: rbuf, pre: n}
		// A read blocked when the run ends must return.
		r.stop = context.AfterFunc(m.Context(), func() {
			if cio.dl != nil {
				cio.dl.SetReadDeadline(time.Unix(1, 0))
			} else {
				cio.rwc.Close()
			}
		})
		return r
	})
}

type h2Reader struct {
	cio  *connIO
	m    *stream.Materializer
	buf  *[]byte
	pre  int // bytes in buf read before the run
	stop func() bool
	done error
}

func (r *h2Reader) Pull() ([]byte, error) {
	if r.done != nil {
		return nil, r.done
	}
	c := r.cio
	if n := r.pre; n > 0 {
		r.pre = 0
		if sh := c.stats.sh; sh != nil {
			sh.bytesIn.Add(int64(n))
		}
		return (*r.buf)[:n], nil
	}
	if r.buf == nil {
		r.buf = readBuffers.Get().(*[]byte)
	}
	for {
		n, err := c.rwc.Read(*r.buf)
		if n > 0 {
			if sh := c.stats.sh; sh != nil {
				sh.bytesIn.Add(int64(n))
			}
			c.touch()
			return (*r.buf)[:n], nil
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && r.m.Context().Err() == nil {
			// A nudge from the binding's sweeper: park when idle (the
			// connection's state then ends the run), read on otherwise.
			if h := c.h2.Load(); c.parkAfter > 0 && c.idleFor() >= c.parkAfter && h != nil && h.Park() {
				c.parked = true
				r.release()
				r.done = stream.EOS
				return nil, r.done
			}
			c.dl.SetReadDeadline(time.Time{})
			if r.m.Context().Err() == nil {
				continue
			}
			// The run ended meanwhile: its deadline may have been cleared.
		}
		r.release()
		if err == io.EOF || errors.Is(err, os.ErrDeadlineExceeded) {
			r.done = stream.EOS
		} else {
			r.done = err
		}
		return nil, r.done
	}
}

func (r *h2Reader) release() {
	r.stop()
	if r.buf != nil {
		readBuffers.Put(r.buf)
		r.buf = nil
	}
}

func (r *h2Reader) Cancel(error) {
	if r.done == nil {
		r.done = stream.ErrCancelled
		r.release()
	}
}

// h2Sink writes the layer's output; a write that takes longer than
// WriteTimeout fails (a client that reads nothing).
func h2Sink(cio *connIO) stream.Sink[[]byte, stream.NotUsed] {
	dl, _ := cio.rwc.(interface{ SetWriteDeadline(time.Time) error })
	s, stats := cio.s, cio.stats.sh
	return stream.NewSink(func(m *stream.Materializer, up stream.Puller[[]byte]) (stream.NotUsed, error) {
		for {
			p, err := up.Pull()
			if err == stream.EOS {
				return stream.NotUsed{}, nil
			}
			if err != nil {
				return stream.NotUsed{}, err
			}
			if dl != nil && s.WriteTimeout > 0 {
				dl.SetWriteDeadline(time.Now().Add(s.WriteTimeout))
			}
			if dl != nil && m.Context().Err() != nil {
				// The server stops (Close, Terminate's hard deadline): the
				// last frames get a moment, not WriteTimeout. Checked after
				// the line above, which may have undone serveH2's bound.
				dl.SetWriteDeadline(time.Now().Add(h2LastWrite))
			}
			n, err := cio.rwc.Write(p)
			if stats != nil {
				stats.bytesOut.Add(int64(n))
			}
			cio.touch()
			if err != nil {
				up.Cancel(err)
				return stream.NotUsed{}, err
			}
		}
	})
}

// goAwayParked writes the GOAWAY of a parked connection that is closed
// (idle timeout, a terminating server): the write is small and the
// client idle, so it does not wait.
func goAwayParked(rwc io.Writer, p *h2.Parked) {
	if dl, ok := rwc.(interface{ SetWriteDeadline(time.Time) error }); ok {
		dl.SetWriteDeadline(time.Now().Add(h2Goaway))
	}
	rwc.Write(p.GoAway())
}

// closeH2 closes the connection after its GOAWAY: the write side first,
// then reading and discarding for up to h2Goaway (and MaxLingerBytes);
// lingering, if set, learns that the connection serves no more.
func closeH2(ctx context.Context, rwc io.ReadWriteCloser, s *ServerSettings, lingering func()) {
	cw, ok := rwc.(interface{ CloseWrite() error })
	dl, ok2 := rwc.(interface{ SetReadDeadline(time.Time) error })
	if ok && ok2 && ctx.Err() == nil && cw.CloseWrite() == nil {
		if lingering != nil {
			lingering() // no longer counts against MaxConnections
		}
		dl.SetReadDeadline(time.Now().Add(h2Goaway))
		var discard [2048]byte
		for read := int64(0); read <= s.MaxLingerBytes; {
			n, err := rwc.Read(discard[:])
			read += int64(n)
			if err != nil {
				break
			}
		}
	}
	rwc.Close()
}
