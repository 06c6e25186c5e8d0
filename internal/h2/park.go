package h2

import (
	"bytes"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Parking. An idle connection (no stream open, no request unanswered,
// nothing to write, no response body pump running) may end its run
// without closing: Park ends the connection's state the way a clean end
// does, minus the GOAWAY, and keeps what must outlive the run in a Parked
// value. A new run resumes from it (Config.Resume) when the client sends
// again. What persists is what the client remembers about the connection
// (RFC 9113 §4.3, §6.5, §6.9, §5.1.1): the HPACK decoder with the
// client's dynamic table, the client's settings and whether it
// acknowledged ours, the connection's flow-control windows, the highest
// stream id, plus the request numbering, the flood budget and the idle
// clock. The read and write buffers, the Framer, the stream table, the
// timer and the run's goroutines do not, and neither does our HPACK
// encoder: the first header block after the wake-up starts with a dynamic
// table size update to 0 and back (RFC 7541 §4.2, §6.3), which empties the
// client's copy of our table, so that ours starts empty too. That costs a
// few bytes on the first response and saves the encoder's table and its
// indexes while parked.

// Parked is the state of a parked connection.
type Parked struct {
	dec       *hpack.Decoder
	tableSize uint32 // our encoder's dynamic table size

	peerMaxFrame          uint32
	peerInitWindow        int32
	acked                 bool
	sendWindow            int64
	recvAvail, recvUnsent int32
	maxID                 uint32
	seq                   uint64
	tokens                float64
	tokensAt, lastActive  time.Time
}

// Idle reports whether the connection has nothing under way, so that it
// could be parked (Park checks again).
func (c *Conn) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idle()
}

func (c *Conn) idle() bool {
	return c.settings && !c.goAway && !c.finished && !c.stopRead && !c.handlerDone && !c.noMoreReqs &&
		len(c.streams) == 0 && len(c.bySeq) == 0 && len(c.queue) == 0 && len(c.sending) == 0 &&
		c.pumps == 0 && c.inOff == len(c.in) && len(c.out) == 0
}

// Park ends the run of an idle connection without ending the connection:
// no GOAWAY is written, the input is no longer read, and the layer's
// output and requests end once the output written last has gone. It
// reports false, and changes nothing, when the connection is not idle.
// ParkedState then holds what a new run resumes from.
func (c *Conn) Park() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.idle() {
		return false
	}
	c.parked = &Parked{
		dec: c.fr.ReadMetaHeaders, tableSize: c.henc.MaxDynamicTableSize(),
		peerMaxFrame: c.peerMaxFrame, peerInitWindow: c.peerInitWindow, acked: c.acked,
		sendWindow: c.sendWindow, recvAvail: c.recvAvail, recvUnsent: c.recvUnsent,
		maxID: c.maxID, seq: c.seq, tokens: c.tokens, tokensAt: c.tokensAt, lastActive: c.lastActive,
	}
	// The decoder's last input is the Framer's read buffer: let it go.
	c.parked.dec.Write(nil)
	c.stopRead = true
	c.finish(nil)
	return true
}

// ParkedState returns the state kept by Park, or nil if the connection was
// not parked (or c is nil).
func (c *Conn) ParkedState() *Parked {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parked
}

// LastActive is when the client last sent something on the connection.
func (p *Parked) LastActive() time.Time { return p.lastActive }

// GoAway returns the GOAWAY(NO_ERROR) frame that ends a parked connection
// (its idle timeout, a terminating server), with the last stream id seen.
func (p *Parked) GoAway() []byte {
	var b bytes.Buffer
	http2.NewFramer(&b, nil).WriteGoAway(p.maxID, http2.ErrCodeNo, nil)
	return b.Bytes()
}

// resume takes over the state of a parked connection: nothing is written
// (the SETTINGS and window of the first run stand).
func (c *Conn) resume(p *Parked) {
	c.fr.ReadMetaHeaders = p.dec
	c.hbuf = new(bytes.Buffer)
	c.henc = hpack.NewEncoder(c.hbuf)
	c.henc.SetMaxDynamicTableSize(0) // what the client's copy holds goes
	c.henc.SetMaxDynamicTableSize(p.tableSize)
	c.preface, c.settings = true, true
	c.peerMaxFrame, c.peerInitWindow, c.acked = p.peerMaxFrame, p.peerInitWindow, p.acked
	c.sendWindow, c.recvAvail, c.recvUnsent = p.sendWindow, p.recvAvail, p.recvUnsent
	c.maxID, c.seq = p.maxID, p.seq
	c.tokens, c.tokensAt, c.lastActive = p.tokens, p.tokensAt, p.lastActive
}
