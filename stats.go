package streamhttp

import (
	"expvar"
	"github.com/streamhttp/streamhttp/internal/h1"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a binding's statistics (ServerBinding.Stats).
// Totals and maxima count from the binding's start or its last ResetStats;
// the open counts are the current ones.
type Stats struct {
	Uptime time.Duration `json:"uptime_ns"` // since the socket was bound

	TotalRequests   int64 `json:"total_requests"`    // requests handed to handlers
	OpenRequests    int64 `json:"open_requests"`     // handed out, response not yet written
	MaxOpenRequests int64 `json:"max_open_requests"` // the most open at once

	TotalConnections   int64 `json:"total_connections"` // connections served
	OpenConnections    int64 `json:"open_connections"`
	MaxOpenConnections int64 `json:"max_open_connections"`
	ParkedConnections  int64 `json:"parked_connections"` // open, idle and parked (see ServerSettings.ParkIdleAfter)

	RequestTimeouts int64 `json:"request_timeouts"` // requests answered 503 by the request timeout
	SlowBodies      int64 `json:"slow_bodies"`      // request bodies cut with 408 for MinRequestBodyRate
	BytesIn         int64 `json:"bytes_in"`         // read from connections
	BytesOut        int64 `json:"bytes_out"`        // written to connections

	Draining bool `json:"draining"` // see ServerBinding.Drain
}

// serverStats is the live form of Stats. The layer updates the request
// counts with atomic operations; bytes are added per read and per write.
// The counters that every request, read and write moves are in shards
// (statShard): a connection updates its own shard, so that connections
// served on different processors do not contend for one cache line.
type serverStats struct {
	start atomic.Int64 // unix nanoseconds

	openRequests, maxOpenRequests                         atomic.Int64
	totalConnections, openConnections, maxOpenConnections atomic.Int64
	requestTimeouts, slowBodies                           atomic.Int64

	nextShard atomic.Uint32 // the shard of the next connection
	shards    [statShards]statShard
}

// statShards is how many shards the busiest counters are split into.
const statShards = 8

// statShard is a share of the busiest counters, alone in its cache lines.
type statShard struct {
	totalRequests, bytesIn, bytesOut atomic.Int64
	_                                [128 - 3*8]byte
}

// shard returns the shard of a connection about to be served: each in
// turn.
func (s *serverStats) shard() *statShard {
	return &s.shards[s.nextShard.Add(1)%statShards]
}

// sum adds up one counter over the shards.
func (s *serverStats) sum(counter func(*statShard) *atomic.Int64) int64 {
	var n int64
	for i := range s.shards {
		n += counter(&s.shards[i]).Load()
	}
	return n
}

func newServerStats() *serverStats {
	s := new(serverStats)
	s.start.Store(time.Now().UnixNano())
	return s
}

// raise lifts maxv to at least v.
func raise(maxv *atomic.Int64, v int64) {
	for {
		m := maxv.Load()
		if v <= m || maxv.CompareAndSwap(m, v) {
			return
		}
	}
}

func (s *serverStats) requestStarted(sh *statShard) {
	sh.totalRequests.Add(1)
	if n := s.openRequests.Add(1); n > s.maxOpenRequests.Load() {
		raise(&s.maxOpenRequests, n)
	}
}

func (s *serverStats) requestDone() { s.openRequests.Add(-1) }

// connStats is a connection's view of the statistics: the binding's, and
// the connection's shard of them.
type connStats struct {
	s  *serverStats
	sh *statShard
}

// The statistics as the HTTP/1.1 engine updates them (h1.Stats).
var _ h1.Stats = (*connStats)(nil)

func (c *connStats) RequestStarted()          { c.s.requestStarted(c.sh) }
func (c *connStats) RequestDone()             { c.s.requestDone() }
func (c *connStats) RequestsTimedOut(n int64) { c.s.requestTimeouts.Add(n) }
func (c *connStats) SlowBody()                { c.s.slowBodies.Add(1) }

func (s *serverStats) connOpened() {
	s.totalConnections.Add(1)
	if n := s.openConnections.Add(1); n > s.maxOpenConnections.Load() {
		raise(&s.maxOpenConnections, n)
	}
}

func (s *serverStats) connClosed() { s.openConnections.Add(-1) }

func (s *serverStats) snapshot() Stats {
	return Stats{
		Uptime:             time.Duration(time.Now().UnixNano() - s.start.Load()),
		TotalRequests:      s.sum(func(sh *statShard) *atomic.Int64 { return &sh.totalRequests }),
		OpenRequests:       s.openRequests.Load(),
		MaxOpenRequests:    s.maxOpenRequests.Load(),
		TotalConnections:   s.totalConnections.Load(),
		OpenConnections:    s.openConnections.Load(),
		MaxOpenConnections: s.maxOpenConnections.Load(),
		RequestTimeouts:    s.requestTimeouts.Load(),
		SlowBodies:         s.slowBodies.Load(),
		BytesIn:            s.sum(func(sh *statShard) *atomic.Int64 { return &sh.bytesIn }),
		BytesOut:           s.sum(func(sh *statShard) *atomic.Int64 { return &sh.bytesOut }),
	}
}

// reset zeroes the totals and restarts the uptime; the maxima restart from
// the current open counts.
func (s *serverStats) reset() {
	s.start.Store(time.Now().UnixNano())
	for i := range s.shards {
		sh := &s.shards[i]
		sh.totalRequests.Store(0)
		sh.bytesIn.Store(0)
		sh.bytesOut.Store(0)
	}
	s.totalConnections.Store(0)
	s.requestTimeouts.Store(0)
	s.slowBodies.Store(0)
	s.maxOpenRequests.Store(s.openRequests.Load())
	s.maxOpenConnections.Store(s.openConnections.Load())
}

// Stats returns a snapshot of the binding's statistics.
func (b *ServerBinding) Stats() Stats {
	st := b.stats.snapshot()
	st.Draining = b.Draining()
	b.mu.Lock()
	if b.poller != nil {
		st.ParkedConnections = int64(b.poller.Len())
	}
	b.mu.Unlock()
	return st
}

// ResetStats zeroes the totals (requests, connections, timeouts, bytes),
// restarts the uptime, and lowers the maxima to the current open counts.
func (b *ServerBinding) ResetStats() { b.stats.reset() }

// PublishExpvar publishes the binding's statistics as the expvar variable
// name (served by expvar's handler at /debug/vars, in a net/http server),
// computed afresh on each read. Like expvar.Publish it panics when name is
// taken.
func (b *ServerBinding) PublishExpvar(name string) {
	expvar.Publish(name, expvar.Func(func() any { return b.Stats() }))
}
