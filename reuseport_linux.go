package streamhttp

import "syscall"

// setReusePort sets SO_REUSEPORT (15 on Linux, where package syscall does
// not name it).
func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf, 1)
}
