package httpcore

import (
	"sync/atomic"
	"time"
)

// imfFixdate is the layout of an IMF-fixdate (RFC 9110 §5.6.7) for
// time.Time.AppendFormat on a UTC time.
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"

// The Date cache. Reading the wall clock (time.Now) costs about half of
// rendering a small response, so the hot path reads only the monotonic
// clock (time.Since on a time with a monotonic reading) and compares it
// with the span of the second the cached text was formatted for.

// dateEntry is the Date text of one second of wall-clock time. The second
// is the span [from, until) of time since clockBase.
type dateEntry struct {
	from, until time.Duration
	b           []byte // never modified once published
}

// clockBase anchors the spans of dateEntry.
var clockBase = time.Now()

// dateCache holds the latest entry. Connections share it: a caller that
// finds it stale formats the current second and publishes it; callers that
// race both publish equal entries, which is harmless.
var dateCache atomic.Pointer[dateEntry]

// timeNow is the wall clock; tests replace it to render a fixed Date. A
// time without a monotonic reading (a fixed one) yields a span that the
// monotonic clock never falls in: every call then formats it afresh.
var timeNow = time.Now

// AppendDate appends the current time as an IMF-fixdate (RFC 9110 §5.6.7),
// e.g. "Sun, 06 Nov 1994 08:49:37 GMT", the value of the Date field a
// server sends (RFC 9110 §6.6.1). The text is formatted once per second
// and shared; AppendDate is safe for concurrent use and allocates only
// when it formats a new second.
func AppendDate(dst []byte) []byte {
	since := time.Since(clockBase)
	d := dateCache.Load()
	if d == nil || since < d.from || since >= d.until {
		d = refreshDate()
	}
	return append(dst, d.b...)
}

// refreshDate formats the current second and publishes it.
func refreshDate() *dateEntry {
	t := timeNow()
	from := t.Sub(clockBase) - time.Duration(t.Nanosecond())
	d := &dateEntry{
		from:  from,
		until: from + time.Second,
		b:     t.UTC().AppendFormat(make([]byte, 0, len(imfFixdate)), imfFixdate),
	}
	dateCache.Store(d)
	return d
}
