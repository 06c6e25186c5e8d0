//go:build !unix

package streamhttp

import "syscall"

const canPeek = false

func peek(syscall.RawConn, []byte) (int, error) { return 0, syscall.EINVAL }
