package streamhttp

import "time"

// The connection's clock. When bytes last moved (connIO.lastIO) is taken
// on every read and every write, so it is read from the monotonic clock
// alone: time.Now reads the wall clock too, which costs as much again.
// The readings are unix nanoseconds all the same, the wall time of the
// process's start plus the monotonic time since, so that a step of the
// wall clock does not move a connection's idle time.

var (
	clockBase     = time.Now()
	clockBaseUnix = clockBase.UnixNano()
)

// nowNano returns the current time in unix nanoseconds, as the monotonic
// clock counts it from the process's start.
func nowNano() int64 { return clockBaseUnix + int64(time.Since(clockBase)) }

// timeAt returns the time of a nowNano reading, with its monotonic reading:
// a deadline made from it is measured on the monotonic clock.
func timeAt(unixNano int64) time.Time { return clockBase.Add(time.Duration(unixNano - clockBaseUnix)) }
