//go:build unix

package streamhttp

import (
	"errors"
	"syscall"
)

const canPeek = true

// peek reads what is in the socket's receive queue without taking it,
// waiting (within the read deadline) while it is empty.
func peek(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var err error
	rerr := rc.Read(func(fd uintptr) bool {
		for {
			n, _, err = syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK)
			if !errors.Is(err, syscall.EINTR) {
				return !errors.Is(err, syscall.EAGAIN)
			}
		}
	})
	if rerr != nil {
		return 0, rerr
	}
	return n, err
}
