//go:build !linux

package streamhttp

import "net"

// peekPreface is available on Linux only; elsewhere the preface is read
// (and the bytes handed to HTTP/1.1 when it is not one).
func peekPreface(net.Conn) (isH2, ok bool, err error) { return false, false, nil }
