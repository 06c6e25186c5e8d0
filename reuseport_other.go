//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package streamhttp

import "errors"

func setReusePort(uintptr) error { return errors.ErrUnsupported }
