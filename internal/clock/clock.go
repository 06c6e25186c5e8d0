// Package clock is the connections' clock: when bytes last moved, read
// and write deadlines, when a request head began, how long a handler ran.
// These are read on every read, write and request, so they come from the
// monotonic clock alone: time.Now reads the wall clock too, which costs as
// much again. A reading is unix nanoseconds all the same (the wall time of
// the process's start plus the monotonic time since), so that readings
// compare with each other and a step of the wall clock moves none of the
// deadlines made from them. Every timestamp of a connection that another
// is compared with is a reading of this clock.
package clock

import "time"

var (
	base     = time.Now()
	baseUnix = base.UnixNano()
)

// Now returns the current time in unix nanoseconds, as the monotonic clock
// counts it from the process's start.
func Now() int64 { return baseUnix + int64(time.Since(base)) }

// Time returns the time of the reading unixNano, with its monotonic
// reading: a deadline made from it is measured on the monotonic clock.
func Time(unixNano int64) time.Time { return base.Add(time.Duration(unixNano - baseUnix)) }
