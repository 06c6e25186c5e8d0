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

// Reader reads from a socket with raw system calls (see rawRead), as
// net.Conn's Read would: it waits until there is something to read, under
// the connection's read deadline, and reports the end of the input as
// io.EOF. Its errors read like net.Conn's. It is not safe for concurrent
// use.
type Reader struct{ rawSocket }

// Writer writes to a socket with raw system calls (see rawWrite), as
// net.Conn's Write would: all of p, waiting while the socket's buffer is
// full, under the connection's write deadline. Its errors read like
// net.Conn's. It is not safe for concurrent use.
type Writer struct{ rawSocket }

// Socket is the Reader and the Writer of one socket. It is meant to be
// held by value, in the structure of the connection it serves.
type Socket struct {
	Reader Reader
	Writer Writer
}

// Init makes s the Reader and the Writer of c, a TCP connection.
func (s *Socket) Init(c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	local, peer := c.LocalAddr(), c.RemoteAddr()
	s.Reader.init(rc, local, peer, false)
	s.Writer.init(rc, local, peer, true)
	return nil
}

// rawSocket is what Reader and Writer share: the socket, its addresses
// for the errors, and the call in progress.
type rawSocket struct {
	rc          syscall.RawConn
	local, peer net.Addr
	writes      bool // a Writer's

	// The call in progress, for fn (allocated once).
	p   []byte
	n   int
	err syscall.Errno
	fn  func(uintptr) bool
}

func (s *rawSocket) init(rc syscall.RawConn, local, peer net.Addr, writes bool) {
	s.rc, s.local, s.peer, s.writes, s.fn = rc, local, peer, writes, s.move
}

// call reads into p (or writes it) through fn, and returns how much fn
// moved and the error, as net.Conn reports it.
func (s *rawSocket) call(op string, p []byte) (int, error) {
	s.p, s.n, s.err = p, 0, 0
	var err error
	if s.writes {
		err = s.rc.Write(s.fn)
	} else {
		err = s.rc.Read(s.fn)
	}
	n, errno := s.n, s.err
	s.p = nil
	switch {
	case errno != 0:
		err = os.NewSyscallError(op, errno)
	case err == nil:
		return n, nil
	default:
		// The connection's own error (its deadline, its close): reported
		// for a raw call, unwrapped here to read as a plain one's.
		if oe := (*net.OpError)(nil); errors.As(err, &oe) {
			err = oe.Err
		}
	}
	return n, &net.OpError{Op: op, Net: "tcp", Source: s.local, Addr: s.peer, Err: err}
}

// Read reads into p.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.call("read", p)
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes p, and returns how much of it was written and, when not
// all, why.
func (w *Writer) Write(p []byte) (int, error) { return w.call("write", p) }

// move is fn: it reads into p once, or writes all of p, as far as the
// socket lets it without waiting. It returns false to wait until the
// socket is ready (within its deadline), and is called again then.
func (s *rawSocket) move(fd uintptr) bool {
	for {
		var n int
		var errno syscall.Errno
		if s.writes {
			n, errno = rawWrite(fd, s.p[s.n:])
		} else {
			n, errno = rawRead(fd, s.p)
		}
		switch errno {
		case 0:
			s.n += n
			if !s.writes || s.n == len(s.p) {
				return true
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.err = errno
			return true
		}
	}
}
