// Package poller parks idle network connections without a goroutine: a
// connection waits in the kernel's readiness list (epoll on Linux) until it
// has something to read, and only then does a goroutine serve it again.
//
// A goroutine blocked in Read holds its stack (at least 2 KiB, usually
// 8 KiB once a request has been served) and whatever buffers its caller
// keeps. A server with many idle keep-alive connections pays that per
// connection; a parked connection costs the server little more than its
// file descriptor.
//
// Ready is the other half: for connections that are being served, it
// tells when one has become readable, so that a server reads only then
// rather than reading at once after each answer and finding nothing.
//
// On systems without support, New and NewReady return ErrUnsupported and
// callers keep their connections in goroutines and read plainly.
package poller

import (
	"errors"
	"syscall"
)

// ErrUnsupported is returned by New where parking is not implemented.
var ErrUnsupported = errors.New("poller: parking connections is not supported on this system")

// ErrAgain is Sub.Read's answer when the connection had nothing to read
// after all (the bytes it was marked for were read meanwhile).
var ErrAgain = errors.New("poller: nothing to read")

// ErrClosed is returned by Park on a closed Poller and by Add on a closed
// Ready set.
var ErrClosed = errors.New("poller: closed")

// errParked is Park's answer for a Waiter that is parked already.
var errParked = errors.New("poller: the waiter is parked already")

// Parked is what Park parks: a connection, and what it does once it is
// readable.
type Parked interface {
	Conn
	// Wake is called in a goroutine of its own when the connection has
	// become readable.
	Wake()
}

// Conn is what a parked connection must offer: its raw file descriptor
// (net.TCPConn, net.UnixConn and os.File have it).
type Conn = syscall.Conn
