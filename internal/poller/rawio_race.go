//go:build linux && race

package poller

import "syscall"

// Under the race detector, reads and writes are the syscall package's:
// it tells the detector that a write happens before any later read, so
// that what a handler did before its response was written is seen to
// happen before what a client does once it has read it (in a test of the
// same process). Raw system calls would hide that order.

// rawRead reads into p from the non-blocking descriptor fd.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}

// rawWrite writes p to the non-blocking descriptor fd.
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}
