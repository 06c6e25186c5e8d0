package streamhttp

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/streamhttp/streamhttp/stream"
)

// listenConfig is the ListenConfig that Bind and the BindAndHandle
// functions bind with: ServerSettings.ListenConfig or a plain one with
// TCPKeepAlive, with SO_REUSEPORT set when ReusePort asks for it.
func (s *ServerSettings) listenConfig() *net.ListenConfig {
	var lc net.ListenConfig
	if s.ListenConfig != nil {
		lc = *s.ListenConfig
	} else {
		lc.KeepAlive = s.TCPKeepAlive
	}
	return withReusePort(&lc, s.ReusePort)
}

// withReusePort returns lc, with a Control hook that sets SO_REUSEPORT
// before lc's own when on.
func withReusePort(lc *net.ListenConfig, on bool) *net.ListenConfig {
	if !on {
		return lc
	}
	c := *lc
	inner := c.Control
	c.Control = func(network, address string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
			return err
		}
		if serr != nil {
			return &net.OpError{Op: "listen", Net: network, Err: errors.Join(errReusePort, serr)}
		}
		if inner != nil {
			return inner(network, address, rc)
		}
		return nil
	}
	return &c
}

var errReusePort = errors.New("streamhttp: setting SO_REUSEPORT (ServerSettings.ReusePort)")

// ServeListener is [BindAndHandle] over a listener the caller opened (a
// socket passed by systemd or by a parent process, a Unix socket, an
// in-memory listener): the same connection limit, parking and signal
// handling. The binding takes the listener over and closes it when it
// ends.
func ServeListener(ctx context.Context, ln net.Listener, handler stream.Flow[*Request, *Response], s ServerSettings) (*ServerBinding, error) {
	return serveOwnListener(ctx, ln, handler, false, s)
}

// ServeListenerSync is [BindAndHandleSync] over a listener the caller
// opened; see [ServeListener].
func ServeListenerSync(ctx context.Context, ln net.Listener, f func(*Request) *Response, s ServerSettings) (*ServerBinding, error) {
	return serveOwnListener(ctx, ln, stream.Map(f), true, s)
}

// ServeListenerAsync is [BindAndHandleAsync] over a listener the caller
// opened; see [ServeListener].
func ServeListenerAsync(ctx context.Context, ln net.Listener, f func(context.Context, *Request) (*Response, error), parallelism int, s ServerSettings) (*ServerBinding, error) {
	limit := s.resolved().PipeliningLimit
	return serveOwnListener(ctx, ln, AsyncHandler(f, parallelism, limit), true, s)
}

func serveOwnListener(ctx context.Context, ln net.Listener, handler stream.Flow[*Request, *Response], park bool, s ServerSettings) (*ServerBinding, error) {
	rs := s.resolved()
	return handleAll(ctx, BindListener(ln, s), &rs, func(c *IncomingConnection) { c.handle(handler, park) })
}
