package streamhttp

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// peekPreface reports whether the bytes waiting on a TCP connection begin
// with the HTTP/2 client preface, without consuming them (MSG_PEEK): the
// HTTP/1.1 layer then reads the connection exactly as if nobody had looked.
// ok is false when the connection cannot be peeked at (not a socket). The
// read deadline bounds the wait. A partial preface (a client that sends
// "PRI" and pauses) is peeked again every millisecond until it is whole or
// differs.
func peekPreface(nc net.Conn) (isH2, ok bool, err error) {
	sc, isSock := nc.(syscall.Conn)
	if !isSock {
		return false, false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false, nil
	}
	const preface = http2.ClientPreface
	var buf [len(preface)]byte
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
			return rerr != syscall.EAGAIN
		})
		switch {
		case err != nil:
			return false, true, err // the deadline, or the connection closed
		case rerr != nil || n <= 0:
			return false, true, nil // an error or the end: HTTP/1.1's reader sees it
		case string(buf[:n]) != preface[:n]:
			return false, true, nil
		case n == len(buf):
			return true, true, nil
		}
		time.Sleep(time.Millisecond)
	}
}
