package h2

import (
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"golang.org/x/net/http2"
)

// strm is one request and its response (RFC 9113 §5.1). Guarded by its
// connection's mu.
type strm struct {
	id  uint32
	seq uint64
	req *httpcore.Request

	remoteClosed bool   // END_STREAM received: half-closed (remote)
	localClosed  bool   // END_STREAM sent: half-closed (local)
	closed       bool   // both, or reset: gone from the stream table
	handed       bool   // the request was taken by the handler
	head         bool   // a HEAD request: the response has no body
	late         bool   // answered by the request timeout: the handler's answer is dropped
	readyTick    uint64 // Conn.ticks when the handler had the whole request (valid once handed and remoteClosed)
	answered     bool   // its response has arrived

	// The request body: chunks received and not yet pulled, its state,
	// and the flow-control bookkeeping (RFC 9113 §6.9).
	body       [][]byte
	bodyBytes  int
	bodyErr    error
	discard    bool  // nobody reads the body: DATA is refunded at once
	declLen    int64 // content-length, -1 if none
	received   int64
	trailer    []entity.Header
	recvAvail  int32 // bytes the client may still send
	recvUnsent int32 // credit earned and not yet returned
	expect100  bool  // send 100 Continue on the first pull of the body
	bodyWake   chan struct{}
	// The body's pace (Config.MinBodyRate): since when the handler waits
	// for body bytes (zero: it does not), and how long it waited before.
	waitingSince time.Time
	waited       time.Duration

	// The response: window, the chunk waiting for it, the end.
	sendWindow int64
	pending    []byte
	pendEnd    bool            // the body's source has ended
	trailers   []entity.Header // sent after the body, if any
	sent       int64           // body bytes sent
	sendLen    int64           // the declared length, -1 if none
	stalledAt  time.Time       // since when pending data waits for a window
	lingerAt   time.Time       // when the response completed before the request body
	sendWake   chan struct{}   // wakes the body pump: window or room
}

// handleHeaders opens a stream, or takes a request's trailers.
func (c *Conn) handleHeaders(f *http2.MetaHeadersFrame) {
	id := f.StreamID
	if id%2 == 0 {
		c.connError(http2.ErrCodeProtocol, "HEADERS on an even stream id")
		return
	}
	if s := c.streams[id]; s != nil {
		c.handleTrailers(s, f)
		return
	}
	if id <= c.maxID {
		c.connError(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
		return
	}
	c.maxID = id
	if f.HasPriority() && f.Priority.StreamDep == id {
		c.resetStream(id, http2.ErrCodeProtocol, true) // RFC 9113 §5.3.1
		return
	}
	if c.goAway {
		return // above the GOAWAY's last stream id: ignored, the client retries
	}
	if len(c.streams) >= int(c.cfg.MaxConcurrentStreams) {
		c.resetStream(id, http2.ErrCodeRefusedStream, true)
		return
	}
	if len(c.bySeq) >= c.cfg.MaxPendingRequests {
		// Streams the client reset keep their slot while their handler
		// runs (Rapid Reset): past the bound the client is abusive.
		c.connError(http2.ErrCodeEnhanceYourCalm, "too many unanswered requests (MaxPendingRequests)")
		return
	}
	s := &strm{
		id:         id,
		declLen:    -1,
		sendLen:    -1,
		recvAvail:  c.cfg.StreamWindow,
		sendWindow: int64(c.peerInitWindow),
		bodyWake:   make(chan struct{}, 1),
		sendWake:   make(chan struct{}, 1),
	}
	c.streams[id] = s
	s.remoteClosed = f.StreamEnded()
	req, status, ok := c.buildRequest(s, f)
	if !ok {
		c.resetStream(id, http2.ErrCodeProtocol, true) // malformed (RFC 9113 §8.1.1)
		return
	}
	s.seq = c.newRequestSeq()
	req.Seq = s.seq
	s.req = req
	c.bySeq[s.seq] = s
	if status != 0 {
		// A limit: the server answers, the handler never sees it.
		s.handed = true
		c.handed = append(c.handed, s)
		if c.cfg.RequestStarted != nil {
			c.cfg.RequestStarted()
		}
		c.respond(s, httpcore.Text(status, status.Reason()+"\n"))
		return
	}
	c.queue = append(c.queue, s)
	signal(c.reqWake)
}

// handleTrailers takes the HEADERS that end a request body.
func (c *Conn) handleTrailers(s *strm, f *http2.MetaHeadersFrame) {
	switch {
	case s.remoteClosed:
		c.resetStream(s.id, http2.ErrCodeStreamClosed, true)
		return
	case !f.StreamEnded() || len(f.PseudoFields()) > 0 || f.Truncated:
		// RFC 9113 §8.1: trailers end the stream and carry no pseudo-header.
		c.resetStream(s.id, http2.ErrCodeProtocol, true)
		return
	}
	for _, hf := range f.RegularFields() {
		s.trailer = append(s.trailer, entity.Header{Name: hf.Name, Value: hf.Value})
	}
	c.endBody(s)
}

// endBody records END_STREAM on a request body.
func (c *Conn) endBody(s *strm) {
	if s.declLen >= 0 && s.received != s.declLen {
		c.resetStream(s.id, http2.ErrCodeProtocol, true) // RFC 9113 §8.1.1
		return
	}
	s.remoteClosed = true
	s.readyTick = c.ticks
	signal(s.bodyWake)
	if s.localClosed {
		c.closeStream(s, nil)
	}
}

// readData handles a DATA frame read in place (payload is valid during
// Feed only), without the Framer's copy, with the Framer's checks (RFC
// 9113 §6.1).
func (c *Conn) readData(id uint32, flags http2.Flags, payload []byte) {
	if id == 0 {
		c.connError(http2.ErrCodeProtocol, "DATA frame with stream ID 0")
		return
	}
	data := payload
	if flags.Has(http2.FlagDataPadded) {
		if len(payload) == 0 || int(payload[0]) >= len(payload) {
			c.connError(http2.ErrCodeProtocol, "pad size larger than data payload")
			return
		}
		data = payload[1 : len(payload)-int(payload[0])]
	}
	c.handleData(id, int32(len(payload)), data, flags.Has(http2.FlagDataEndStream))
}

// handleData takes a DATA frame of n bytes on stream id (data: its
// payload without padding; end: END_STREAM). data is valid during the
// call only.
func (c *Conn) handleData(id uint32, n int32, data []byte, end bool) {
	if n > c.recvAvail {
		c.connError(http2.ErrCodeFlowControl, "DATA beyond the connection window")
		return
	}
	c.recvAvail -= n
	s := c.streams[id]
	if s == nil || s.remoteClosed {
		c.refund(n)
		switch {
		case id > c.maxID:
			c.connError(http2.ErrCodeProtocol, "DATA on an idle stream")
		case s == nil && c.goAway && id > c.goAwayID:
			// A stream our GOAWAY ignored: the client learns it from the
			// GOAWAY, not from a reset per frame.
		default:
			c.resetStream(id, http2.ErrCodeStreamClosed, true)
		}
		return
	}
	if n > s.recvAvail {
		c.refund(n)
		c.resetStream(id, http2.ErrCodeFlowControl, true)
		return
	}
	s.recvAvail -= n
	if pad := n - int32(len(data)); pad > 0 {
		c.credit(s, pad) // padding is nobody's to consume
	}
	if len(data) == 0 && !end && !c.charge() {
		return
	}
	s.received += int64(len(data))
	if s.declLen >= 0 && s.received > s.declLen {
		c.refund(int32(len(data)))
		c.resetStream(id, http2.ErrCodeProtocol, true) // RFC 9113 §8.1.1
		return
	}
	if s.received > c.cfg.Parser.MaxContentLength {
		c.refund(int32(len(data)))
		s.bodyErr = &entity.SizeLimitError{Limit: c.cfg.Parser.MaxContentLength, Declared: -1}
		c.resetStream(id, http2.ErrCodeCancel, false)
		return
	}
	if len(data) > 0 {
		if s.discard {
			// Nobody reads it: the connection's credit comes back, the
			// stream's does not.
			c.refund(int32(len(data)))
			if s.localClosed && s.recvAvail <= 0 && !end {
				c.fr.WriteRSTStream(s.id, http2.ErrCodeNo)
				c.closeStream(s, ErrClosed)
				return
			}
		} else {
			s.body = append(s.body, append([]byte(nil), data...))
			s.bodyBytes += len(data)
		}
	}
	if end {
		c.endBody(s)
		return
	}
	signal(s.bodyWake)
}

// credit returns n consumed bytes to the client's windows, in
// WINDOW_UPDATE frames once half a window has accumulated: credit follows
// the handler's demand, never runs ahead of it.
func (c *Conn) credit(s *strm, n int32) {
	if n <= 0 {
		return
	}
	c.refund(n)
	if s == nil || s.remoteClosed || s.closed {
		return
	}
	s.recvUnsent += n
	if s.recvUnsent >= c.cfg.StreamWindow/2 {
		c.fr.WriteWindowUpdate(s.id, uint32(s.recvUnsent))
		s.recvAvail += s.recvUnsent
		s.recvUnsent = 0
		signal(c.outWake)
	}
}

// refund returns n bytes to the connection window only (data that no
// stream keeps: padding, frames of closed streams, discarded bodies).
func (c *Conn) refund(n int32) {
	c.recvUnsent += n
	if c.recvUnsent >= c.cfg.ConnWindow/2 && !c.goAway {
		c.fr.WriteWindowUpdate(0, uint32(c.recvUnsent))
		c.recvAvail += c.recvUnsent
		c.recvUnsent = 0
		signal(c.outWake)
	}
}

// closeStream takes s out of the stream table: its request body ends
// with cause (nil: complete), its response is dropped unless complete,
// and a request not yet taken by the handler is forgotten.
func (c *Conn) closeStream(s *strm, cause error) {
	if s.closed {
		return
	}
	s.closed = true
	delete(c.streams, s.id)
	if cause != nil && s.bodyErr == nil && !s.remoteClosed {
		s.bodyErr = cause
	}
	c.refund(int32(s.bodyBytes))
	s.body, s.bodyBytes = nil, 0
	s.pending = nil
	signal(s.bodyWake)
	signal(s.sendWake)
	if s.req != nil && !s.handed {
		// Still queued: the handler never sees it.
		for i, q := range c.queue {
			if q == s {
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				break
			}
		}
		delete(c.bySeq, s.seq)
	}
	if s.req != nil && (s.answered || cause != nil) {
		s.req.CancelContext()
	}
	c.checkDone()
}

// localClose records END_STREAM sent on s.
func (c *Conn) localClose(s *strm) {
	s.localClosed = true
	s.stalledAt = time.Time{}
	if s.remoteClosed {
		c.closeStream(s, nil)
		return
	}
	// A complete response before the whole request (RFC 9113 §8.1): the
	// rest of the body is read and dropped, still checked against its
	// content-length, for as long as the stream's window lets the client
	// send without new credit (at most bodyLinger); then RST_STREAM(NO_ERROR).
	s.discard = true
	c.refund(int32(s.bodyBytes))
	s.body, s.bodyBytes = nil, 0
	s.lingerAt = time.Now()
	if s.recvAvail <= 0 {
		c.fr.WriteRSTStream(s.id, http2.ErrCodeNo)
		c.closeStream(s, ErrClosed)
	}
}

// bodyLinger bounds how long a stream whose response is complete waits
// for the end of its request body.
const bodyLinger = time.Second
