//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package streamhttp

import "syscall"

// setReusePort sets SO_REUSEPORT (0x200 on the BSDs).
func setReusePort(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0x200, 1)
}
