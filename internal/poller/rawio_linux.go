//go:build linux

package poller

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// System calls on a non-blocking socket.
//
// A read or a write on a non-blocking socket returns at once (EAGAIN when
// it would have to wait), so it is made as a raw system call: the runtime's
// bookkeeping around a system call that may block (handing the processor
// over, taking it back), which net.Conn pays on every Read and Write, is
// not needed. The connection's descriptor is still reached through its
// syscall.RawConn, which keeps it from being closed under the call and
// applies its deadlines to the waits. (Under the race detector they are
// plain system calls, whose annotations order a write before the peer's
// read: see rawio_race.go.)

// Writer writes to a socket with raw system calls (see rawWrite), as
// net.Conn's Write would: all of p, waiting while the socket's buffer is
// full, under the connection's write deadline. Its errors read like
// net.Conn's. It is not safe for concurrent use.
type Writer struct {
	rc          syscall.RawConn
	local, peer net.Addr

	// The write in progress, for fn (allocated once).
	p   []byte
	n   int
	err syscall.Errno
	fn  func(uintptr) bool
}

// NewWriter returns a Writer for c, a TCP connection.
func NewWriter(c *net.TCPConn) (*Writer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &Writer{rc: rc, local: c.LocalAddr(), peer: c.RemoteAddr()}
	w.fn = w.write
	return w, nil
}

// Write writes p, and returns how much of it was written and, when not
// all, why.
func (w *Writer) Write(p []byte) (int, error) {
	w.p, w.n, w.err = p, 0, 0
	err := w.rc.Write(w.fn)
	n, errno := w.n, w.err
	w.p = nil
	switch {
	case errno != 0:
		err = os.NewSyscallError("write", errno)
	case err == nil:
		return n, nil
	default:
		// The connection's own error (its deadline, its close): reported
		// for a raw write, unwrapped here to read as a plain write's.
		if oe := (*net.OpError)(nil); errors.As(err, &oe) {
			err = oe.Err
		}
	}
	return n, &net.OpError{Op: "write", Net: "tcp", Source: w.local, Addr: w.peer, Err: err}
}

func (w *Writer) write(fd uintptr) bool {
	for w.n < len(w.p) {
		n, errno := rawWrite(fd, w.p[w.n:])
		switch errno {
		case 0:
			w.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until the socket is writable, within the deadline
		default:
			w.err = errno
			return true
		}
	}
	return true
}
