//go:build linux

package streamhttp

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/streamhttp/streamhttp/stream"
)

// flakyListener fails its first Accept calls with errs, one each, then
// accepts for real.
type flakyListener struct {
	net.Listener
	errs  []error
	calls atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if n := int(l.calls.Add(1)); n <= len(l.errs) {
		return nil, l.errs[n-1]
	}
	return l.Listener.Accept()
}

// serveListener serves hello on ln through BindListener and a sink that
// handles every connection, until ctx ends; it returns the run.
func serveListener(ctx context.Context, ln net.Listener) *stream.Running[*ServerBinding, stream.NotUsed] {
	sink := stream.ForEach(func(c *IncomingConnection) { c.HandleWithSyncHandler(hello) })
	return stream.To(BindListener(ln, ServerSettings{DisableSignals: true}), sink).Start(ctx)
}

// TestAcceptTemporaryErrorsRecover: out of file descriptors (and the like)
// is waited out with a backoff; the next connection is served.
func TestAcceptTemporaryErrorsRecover(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner, errs: []error{
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)},
		&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	run := serveListener(ctx, ln)
	start := time.Now()
	if got := httpGet(t, "http://"+inner.Addr().String()+"/"); got != "200 OK Hello, World!" {
		t.Errorf("got %q", got)
	}
	if n := ln.calls.Load(); n < 4 {
		t.Errorf("%d Accept calls, want the 3 failures retried", n)
	}
	if d := time.Since(start); d < minAcceptBackoff {
		t.Errorf("served after %v: no backoff", d)
	}
	cancel()
	if _, err := run.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	run.Materialized().Wait()
}

// TestAcceptFatalErrorFailsSource: an accept error that will not pass
// fails the connection source with that error and closes the listener.
func TestAcceptFatalErrorFailsSource(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("accept: the listener broke")
	ln := &flakyListener{Listener: inner, errs: []error{boom}}
	run := serveListener(context.Background(), ln)
	if _, err := run.Wait(); !errors.Is(err, boom) {
		t.Errorf("run error %v, want %v", err, boom)
	}
	b := run.Materialized()
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the binding did not end")
	}
	if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
}

// TestBindConfigSocketOptions: a ListenConfig's Control hook sets socket
// options: two bindings share a port with SO_REUSEPORT.
func TestBindConfigSocketOptions(t *testing.T) {
	lc := &net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := func() stream.Sink[*IncomingConnection, stream.NotUsed] {
		return stream.ForEach(func(c *IncomingConnection) { c.HandleWithSyncHandler(hello) })
	}
	first := stream.To(BindConfig(lc, "tcp", "127.0.0.1:0", ServerSettings{}), sink()).Start(ctx)
	b1 := first.Materialized()
	if b1.Err() != nil {
		t.Fatal(b1.Err())
	}
	second := stream.To(BindConfig(lc, "tcp", b1.LocalAddr().String(), ServerSettings{}), sink()).Start(ctx)
	b2 := second.Materialized()
	if b2.Err() != nil {
		t.Fatalf("the second binding of a SO_REUSEPORT port: %v", b2.Err())
	}
	if got := httpGet(t, "http://"+b1.LocalAddr().String()+"/"); got != "200 OK Hello, World!" {
		t.Errorf("got %q", got)
	}
	cancel()
	first.Wait()
	second.Wait()
	b1.Wait()
	b2.Wait()
}

// TestBindBadAddress: an address that cannot be bound fails the run, and
// the binding says why.
func TestBindBadAddress(t *testing.T) {
	for _, addr := range []string{"256.0.0.1:0", "127.0.0.1:99999", "not an address"} {
		run := stream.To(Bind(addr, ServerSettings{}), stream.Ignore[*IncomingConnection]()).Start(context.Background())
		_, err := run.Wait()
		if err == nil {
			t.Errorf("%q: the run succeeded", addr)
			continue
		}
		if b := run.Materialized(); b.Err() == nil || b.LocalAddr() != nil {
			t.Errorf("%q: binding Err %v, LocalAddr %v", addr, b.Err(), b.LocalAddr())
		}
	}
}
