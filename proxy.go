package streamhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/streamhttp/streamhttp/internal/proxyproto"
)

// ProxyProtocolMode says whether the connections of a binding start with a
// PROXY protocol header (versions 1 and 2), as a load balancer sends it to
// pass on the client's address.
type ProxyProtocolMode int

const (
	// ProxyProtocolOff reads no header: the zero value.
	ProxyProtocolOff ProxyProtocolMode = iota
	// ProxyProtocolOptional reads a header when a connection from a
	// trusted source starts with one, and serves the connection as it is
	// otherwise (a health check or a client that bypasses the balancer).
	ProxyProtocolOptional
	// ProxyProtocolRequired closes every connection that does not start
	// with a valid header from a trusted source.
	ProxyProtocolRequired
)

// ProxyProtocolSettings configures the PROXY protocol of a binding (see
// ServerSettings.ProxyProtocol).
//
// The header is read when the connection is served, in its own goroutine,
// before a TLS handshake and before the first request, within HeadTimeout.
// The server never reads past the header: it peeks at the socket, so the
// connection is the same *net.TCPConn afterwards, parked and read through
// readiness sets as any other. A valid header with the PROXY command makes
// its source the connection's remote address (Request.RemoteAddr,
// IncomingConnection.RemoteAddr, the log lines); the balancer's address is
// IncomingConnection.ProxiedFrom. A LOCAL header (the balancer's own health
// check) or a v1 UNKNOWN one leaves the connection's addresses as they are.
// A malformed, missing (when required) or too long header, or one from an
// untrusted source when required, closes the connection with a warning in
// the log; the connection's Err says why.
type ProxyProtocolSettings struct {
	// Mode is off, optional or required. Default off.
	Mode ProxyProtocolMode
	// TrustedNetworks are the sources that may send a header: the
	// balancers. A connection from elsewhere is served without reading a
	// header when the mode is optional (a header it sends is then a bad
	// request), and closed when it is required. Connections over Unix
	// sockets are always trusted. Empty: every source is trusted, which is
	// right only where nothing but the balancers can reach the socket.
	TrustedNetworks []netip.Prefix
	// MaxHeaderBytes bounds a version 2 header (a version 1 header is at
	// most 107 bytes). Default 1 KiB (DefaultMaxProxyHeaderBytes); at most
	// 65551, the protocol's own bound.
	MaxHeaderBytes int
}

// DefaultMaxProxyHeaderBytes is the default of
// ProxyProtocolSettings.MaxHeaderBytes: room for the addresses and the
// TLVs balancers add (ALPN, authority, TLS details, cloud endpoint ids).
const DefaultMaxProxyHeaderBytes = 1 << 10

// The ends of a connection whose PROXY protocol header was refused (its
// Err wraps one of them).
var (
	ErrProxyHeaderMalformed = errors.New("streamhttp: malformed PROXY protocol header")
	ErrProxyHeaderMissing   = errors.New("streamhttp: no PROXY protocol header, and ProxyProtocol.Mode requires one")
	ErrProxyHeaderTooLong   = errors.New("streamhttp: PROXY protocol header longer than ProxyProtocol.MaxHeaderBytes")
	ErrProxyHeaderTimeout   = errors.New("streamhttp: the PROXY protocol header did not arrive within HeadTimeout")
	ErrProxyUntrusted       = errors.New("streamhttp: connection from outside ProxyProtocol.TrustedNetworks, and ProxyProtocol.Mode requires a header")
)

func (p ProxyProtocolSettings) resolved() ProxyProtocolSettings {
	if p.MaxHeaderBytes <= 0 {
		p.MaxHeaderBytes = DefaultMaxProxyHeaderBytes
	}
	p.MaxHeaderBytes = min(p.MaxHeaderBytes, proxyproto.V2FixedLength+0xffff)
	return p
}

// trusts reports whether a connection from remote may send a header.
func (p *ProxyProtocolSettings) trusts(remote net.Addr) bool {
	if len(p.TrustedNetworks) == 0 {
		return true
	}
	ta, ok := remote.(*net.TCPAddr)
	if !ok {
		return true // a Unix socket: local processes only
	}
	ap := ta.AddrPort()
	a := ap.Addr().Unmap()
	for _, n := range p.TrustedNetworks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// proxiedConn is a connection that came through a balancer: the header's
// source is its remote address. It keeps the methods of the connection it
// holds that the server uses (the descriptor, for parking and readiness
// sets; CloseWrite; deadlines).
//
// It lasts as long as the connection, parked or not, so it keeps a TCP
// source compactly and makes its net.Addr when asked (once per run).
type proxiedConn struct {
	net.Conn
	tcp   netip.AddrPort // the source, when it is TCP
	other net.Addr       // the source otherwise (UDP, Unix)
}

func newProxiedConn(c net.Conn, source net.Addr) *proxiedConn {
	if ta, ok := source.(*net.TCPAddr); ok && ta.Zone == "" {
		if ap := ta.AddrPort(); ap.IsValid() {
			return &proxiedConn{Conn: c, tcp: ap}
		}
	}
	return &proxiedConn{Conn: c, other: source}
}

func (c *proxiedConn) RemoteAddr() net.Addr {
	if c.other != nil {
		return c.other
	}
	return net.TCPAddrFromAddrPort(c.tcp)
}

// SyscallConn is the held connection's.
func (c *proxiedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite is the held connection's.
func (c *proxiedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// prefixConn serves bytes read ahead before those of its connection: what
// followed the header on a connection the server cannot peek at.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// readProxyHeader reads the PROXY protocol header that starts conn,
// following ps (its mode is not off). It returns the connection to serve:
// conn itself when there was no header to read or the header carries no
// addresses, else conn seen from the header's source. ctx ending (the
// binding closing) or timeout passing stops the read.
func readProxyHeader(ctx context.Context, conn net.Conn, ps *ProxyProtocolSettings, timeout time.Duration) (net.Conn, error) {
	if !ps.trusts(conn.RemoteAddr()) {
		if ps.Mode == ProxyProtocolRequired {
			return nil, ErrProxyUntrusted
		}
		return conn, nil
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	h, served, err := readHeader(conn, ps, deadline)
	if !stop() || err != nil {
		if err == nil {
			err = ctx.Err()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			err = ErrProxyHeaderTimeout
		}
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	if h == nil || h.Command == proxyproto.Local || h.Source == nil {
		return served, nil
	}
	return newProxiedConn(served, h.Source), nil
}

// readHeader reads the header (nil: none) and returns the connection to
// serve the rest of the input from.
func readHeader(conn net.Conn, ps *ProxyProtocolSettings, deadline time.Time) (*proxyproto.Header, net.Conn, error) {
	sc, ok := conn.(syscall.Conn)
	var rc syscall.RawConn
	if ok {
		var err error
		rc, err = sc.SyscallConn()
		ok = err == nil
	}
	if !ok || !canPeek {
		return readHeaderAhead(conn, ps)
	}
	// Peek, and take from the socket only bytes that are the header's:
	// nothing past it is read, so the socket is handed on as it is. The
	// buffer is pooled: the peek's closure would move a local one to the
	// heap for every connection.
	bp := peekBuffers.Get().(*[256]byte)
	defer peekBuffers.Put(bp)
	var (
		buf     = bp[:]
		acc     []byte // header bytes taken so far
		backoff time.Duration
	)
	for {
		m, err := peek(rc, buf)
		if err != nil {
			return nil, nil, err
		}
		if m == 0 {
			if len(acc) == 0 {
				return nil, nil, io.EOF
			}
			return nil, nil, io.ErrUnexpectedEOF
		}
		cand := buf[:m]
		if len(acc) > 0 {
			cand = append(acc[:len(acc):len(acc)], cand...)
		}
		h, n, perr := proxyproto.Parse(cand)
		switch {
		case perr == nil:
			if n > ps.MaxHeaderBytes {
				return nil, nil, ErrProxyHeaderTooLong
			}
			// The read overwrites what the TLVs alias (a pooled buffer):
			// the server uses only the addresses.
			h.TLVs = nil
			_, err := io.ReadFull(conn, buf[:n-len(acc)])
			return h, conn, err
		case errors.Is(perr, proxyproto.ErrNotProxy):
			if ps.Mode == ProxyProtocolRequired || len(acc) > 0 {
				return nil, nil, ErrProxyHeaderMissing
			}
			return nil, conn, nil
		case !errors.Is(perr, proxyproto.ErrNeedMore):
			return nil, nil, fmt.Errorf("%w: %w", ErrProxyHeaderMalformed, perr)
		case n > ps.MaxHeaderBytes:
			return nil, nil, ErrProxyHeaderTooLong
		case n > 0:
			// A v2 header of known length: take exactly that.
			whole := make([]byte, n)
			copy(whole, acc)
			if _, err := io.ReadFull(conn, whole[len(acc):]); err != nil {
				return nil, nil, err
			}
			h, _, perr := proxyproto.Parse(whole)
			if perr != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrProxyHeaderMalformed, perr)
			}
			return h, conn, nil
		case ps.Mode == ProxyProtocolRequired || signatureKnown(cand):
			// Every byte seen is the header's: take them, and wait for
			// more (a peek would see the same bytes again).
			if len(cand) > ps.MaxHeaderBytes {
				return nil, nil, ErrProxyHeaderTooLong
			}
			acc = append(acc, buf[:m]...) // before the read reuses buf
			if _, err := io.ReadFull(conn, buf[:m]); err != nil {
				return nil, nil, err
			}
		default:
			// Optional, and the few bytes in may start a header or a
			// request: they must stay in the socket, which reports them
			// as readable until they are read, so wait on a timer. A
			// balancer writes its header in one piece; this is for
			// clients that write a request's first bytes alone.
			backoff = min(max(2*backoff, time.Millisecond), 50*time.Millisecond)
			if !deadline.IsZero() && time.Now().Add(backoff).After(deadline) {
				return nil, nil, os.ErrDeadlineExceeded
			}
			time.Sleep(backoff)
		}
	}
}

// peekBuffers holds the buffers readHeader peeks into.
var peekBuffers = sync.Pool{New: func() any { return new([256]byte) }}

// signatureKnown reports whether b holds a whole signature, so that the
// bytes are a header's (or a malformed one's), not a request's.
func signatureKnown(b []byte) bool {
	return (len(b) >= 6 && b[0] == 'P') || (len(b) >= 12 && b[0] == '\r')
}

// readHeaderAhead reads the header from a connection that cannot be peeked
// at: what it reads past the header is served first, by a prefixConn.
func readHeaderAhead(conn net.Conn, ps *ProxyProtocolSettings) (*proxyproto.Header, net.Conn, error) {
	buf := make([]byte, 0, 256)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		h, n, perr := proxyproto.Parse(buf)
		switch {
		case perr == nil:
			if n > ps.MaxHeaderBytes {
				return nil, nil, ErrProxyHeaderTooLong
			}
			return h, &prefixConn{Conn: conn, pre: buf[n:]}, nil
		case errors.Is(perr, proxyproto.ErrNotProxy):
			if ps.Mode == ProxyProtocolRequired {
				return nil, nil, ErrProxyHeaderMissing
			}
			return nil, &prefixConn{Conn: conn, pre: buf}, nil
		case !errors.Is(perr, proxyproto.ErrNeedMore):
			return nil, nil, fmt.Errorf("%w: %w", ErrProxyHeaderMalformed, perr)
		case n > ps.MaxHeaderBytes || len(buf) > ps.MaxHeaderBytes:
			return nil, nil, ErrProxyHeaderTooLong
		}
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
	}
}

// logProxyFailure logs the refusal of a connection's header: a warning,
// but for a client that went away or was too slow.
func logProxyFailure(logger *slog.Logger, conn net.Conn, err error) {
	level := slog.LevelWarn
	if errors.Is(err, io.EOF) || errors.Is(err, ErrProxyHeaderTimeout) || errors.Is(err, context.Canceled) ||
		errors.Is(err, net.ErrClosed) { // closed by the binding: evicted, or shutting down
		level = slog.LevelDebug
	}
	logger.Log(context.Background(), level, "streamhttp: closing a connection: PROXY protocol",
		"remote", conn.RemoteAddr().String(), "local", conn.LocalAddr().String(), "err", err)
}
