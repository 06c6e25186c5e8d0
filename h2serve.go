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

// dispatchH2 reports whether the connection is to be served as HTTP/2, and
// for a plain one the bytes read while deciding (in a pooled read buffer,
// for the HTTP/1.1 layer to read first). err ends the connection (nothing
// arrived within HeadTimeout, or ctx ended).
func dispatchH2(ctx context.Context, rwc io.ReadWriteCloser, s *ServerSettings, o *connOpts) (isH2 bool, rbuf *[]byte, n int, err error) {
	if s.HTTP2.Disable || !o.lastIO.IsZero() {
		return false, nil, 0, nil // a parked connection wakes: it speaks HTTP/1.1
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
	if st := o.stats; st != nil {
		cfg.RequestStarted, cfg.RequestDone = st.requestStarted, st.requestDone
	}
	// A binding's connection earns its MaxConnections slot with its first
	// request, as an HTTP/1.1 one does with its first head.
	cfg.FirstRequest = o.earnSlot
	// The binding reaches the connection through a connIO, as for
	// HTTP/1.1: Terminate drains (GOAWAY) or expires it.
	cio := &connIO{rwc: rwc, s: s, cancel: cancel, stats: o.stats}
	cio.hooks = &h1.Hooks{Ctx: cctx, Info: info, Stop: cancel}
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
	flow := bidi.JoinLeft(handler, h2.Layer(cfg, started))
	src := h2Source(rwc, rbuf, n, o.stats)
	_, err := stream.RunWith(cctx, stream.Via(src, flow), h2Sink(rwc, s, o.stats))
	closeH2(ctx, rwc, s, o.lingering)
	if c := cio.h2.Load(); c != nil && err == nil {
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
func h2Source(rwc io.ReadWriteCloser, rbuf *[]byte, n int, stats *serverStats) stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		r := &h2Reader{rwc: rwc, buf: rbuf, pre: n, stats: stats}
		// A read blocked when the run ends must return.
		r.stop = context.AfterFunc(m.Context(), func() {
			if dl, ok := rwc.(interface{ SetReadDeadline(time.Time) error }); ok {
				dl.SetReadDeadline(time.Unix(1, 0))
			} else {
				rwc.Close()
			}
		})
		return r
	})
}

type h2Reader struct {
	rwc   io.ReadWriteCloser
	buf   *[]byte
	pre   int          // bytes in buf read before the run
	stats *serverStats // nil outside a binding
	stop  func() bool
	done  error
}

func (r *h2Reader) Pull() ([]byte, error) {
	if r.done != nil {
		return nil, r.done
	}
	if n := r.pre; n > 0 {
		r.pre = 0
		if r.stats != nil {
			r.stats.bytesIn.Add(int64(n))
		}
		return (*r.buf)[:n], nil
	}
	if r.buf == nil {
		r.buf = readBuffers.Get().(*[]byte)
	}
	for {
		n, err := r.rwc.Read(*r.buf)
		if n > 0 {
			if r.stats != nil {
				r.stats.bytesIn.Add(int64(n))
			}
			return (*r.buf)[:n], nil
		}
		if err != nil {
			r.release()
			if err == io.EOF || errors.Is(err, os.ErrDeadlineExceeded) {
				r.done = stream.EOS
			} else {
				r.done = err
			}
			return nil, r.done
		}
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
func h2Sink(rwc io.ReadWriteCloser, s *ServerSettings, stats *serverStats) stream.Sink[[]byte, stream.NotUsed] {
	dl, _ := rwc.(interface{ SetWriteDeadline(time.Time) error })
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
			n, err := rwc.Write(p)
			if stats != nil {
				stats.bytesOut.Add(int64(n))
			}
			if err != nil {
				up.Cancel(err)
				return stream.NotUsed{}, err
			}
		}
	})
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
