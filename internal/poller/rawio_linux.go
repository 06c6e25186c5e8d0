//go:build linux

package poller

import (
	"errors"
	"io"
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
	if errno == 0 && err == nil {
		return n, nil
	}
	return n, opError("write", w.local, w.peer, errno, err)
}

// opError is the error of a failed read or write, as net.Conn reports it:
// the system call's (errno), or the connection's own (err: its deadline,
// its close), which a raw read or write reports as such.
func opError(op string, local, peer net.Addr, errno syscall.Errno, err error) error {
	if errno != 0 {
		err = os.NewSyscallError(op, errno)
	} else if oe := (*net.OpError)(nil); errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: local, Addr: peer, Err: err}
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

// Reader reads from a socket with raw system calls (see rawRead), as
// net.Conn's Read would: it waits until there is something to read, under
// the connection's read deadline, and reports the end of the input as
// io.EOF. Its errors read like net.Conn's. It is not safe for concurrent
// use.
type Reader struct {
	rc          syscall.RawConn
	local, peer net.Addr

	// The read in progress, for fn (allocated once).
	p   []byte
	n   int
	err syscall.Errno
	fn  func(uintptr) bool
}

// NewReader returns a Reader for c, a TCP connection.
func NewReader(c *net.TCPConn) (*Reader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &Reader{rc: rc, local: c.LocalAddr(), peer: c.RemoteAddr()}
	r.fn = r.read
	return r, nil
}

// Read reads into p.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, 0
	err := r.rc.Read(r.fn)
	n, errno := r.n, r.err
	r.p = nil
	switch {
	case errno != 0 || err != nil:
		return 0, opError("read", r.local, r.peer, errno, err)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r *Reader) read(fd uintptr) bool {
	for {
		n, errno := rawRead(fd, r.p)
		switch errno {
		case 0:
			r.n = n
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until the socket is readable, within the deadline
		default:
			r.err = errno
			return true
		}
	}
}
