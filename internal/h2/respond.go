package h2

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// ContractError is the failure of a handler flow that answered a request
// it was not given, or answered one twice.
type ContractError struct{ Reason string }

func (e *ContractError) Error() string { return "h2: handler flow broke its contract: " + e.Reason }

// NextRequest returns the next request for the handler, or ok false once
// no request will come (the connection is going away). It does not block:
// wait on RequestWake and try again.
func (c *Conn) NextRequest() (req *httpcore.Request, more bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 {
		s := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		s.handed = true
		c.handed = append(c.handed, s)
		if c.cfg.RequestStarted != nil {
			c.cfg.RequestStarted()
		}
		if s.remoteClosed {
			s.readyTick = c.ticks
			c.strictBody(s)
		}
		return s.req, true
	}
	return nil, !(c.finished || c.goAway || c.inputDone || c.noMoreReqs)
}

// HandlerBusy reports whether the handler holds requests it has not
// answered yet.
func (c *Conn) HandlerBusy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bySeq) > len(c.queue)
}

// HasRequest reports whether a request waits for the handler.
func (c *Conn) HasRequest() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0
}

// RequestWake is signalled when a request was queued or no more will come.
func (c *Conn) RequestWake() <-chan struct{} { return c.reqWake }

// NoMoreRequests records that the handler flow wants no further request:
// the connection goes away once the requests it has are answered, and the
// queued ones are refused (RST_STREAM(REFUSED_STREAM), which a client may
// retry).
func (c *Conn) NoMoreRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noMoreReqs = true
	for len(c.queue) > 0 {
		c.resetStream(c.queue[0].id, http2.ErrCodeRefusedStream, false)
	}
	c.shutdown()
}

// HandlerEnded records the end of the handler flow: err is nil (or
// stream.EOS) for a normal end. Requests it never answered are reset.
func (c *Conn) HandlerEnded(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlerDone = true
	if c.finished {
		return // the end of the run ends the handler too
	}
	if err != nil && err != stream.EOS {
		level := slog.LevelWarn
		if c.cfg.Context.Err() != nil {
			level = slog.LevelDebug // the server closed the connection: the flow was cancelled
		}
		c.cfg.Logger.Log(c.cfg.Context, level, "h2: the handler flow failed", "err", err)
		c.connError(http2.ErrCodeInternal, "handler flow failed")
		if c.err == nil || !errors.Is(err, stream.ErrCancelled) {
			c.err = err
		}
		return
	}
	for _, s := range c.bySeq {
		if s.handed && !s.answered {
			s.answered = true
			if c.cfg.RequestDone != nil {
				c.cfg.RequestDone()
			}
			delete(c.bySeq, s.seq)
			if !s.closed {
				c.resetStream(s.id, http2.ErrCodeInternal, false)
			}
		}
	}
	c.shutdown()
}

// Respond takes a response from the handler flow: it answers the request
// with the same Seq, or the oldest unanswered one when Seq is 0.
func (c *Conn) Respond(resp *httpcore.Response) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s *strm
	if resp.Seq != 0 {
		s = c.bySeq[resp.Seq]
		if s == nil || !s.handed {
			err := &ContractError{Reason: fmt.Sprintf("a response for request %d, which is not waiting for one", resp.Seq)}
			c.failContract(err)
			return err
		}
	} else {
		for len(c.handed) > 0 && c.handed[0].answered {
			c.handed[0] = nil
			c.handed = c.handed[1:]
		}
		if len(c.handed) == 0 {
			err := &ContractError{Reason: "a response without a request"}
			c.failContract(err)
			return err
		}
		s = c.handed[0]
	}
	c.respond(s, resp)
	return nil
}

func (c *Conn) failContract(err error) {
	c.connError(http2.ErrCodeInternal, err.Error())
	c.err = err
}

// respond starts writing resp on s.
func (c *Conn) respond(s *strm, resp *httpcore.Response) {
	s.answered = true
	if c.cfg.RequestDone != nil {
		c.cfg.RequestDone()
	}
	delete(c.bySeq, s.seq)
	if len(c.handed) > 0 && c.handed[0] == s {
		c.handed[0] = nil
		c.handed = c.handed[1:]
	} else if len(c.handed) > 2*len(c.bySeq)+16 {
		// Answers out of order behind one that does not come: drop the
		// answered ones, so that the list stays as short as the unanswered.
		c.handed = slices.DeleteFunc(c.handed, func(h *strm) bool { return h.answered })
	}
	defer c.checkDone()
	if s.closed || s.late {
		// Reset meanwhile, or answered 503 by the request timeout: the
		// handler's answer is dropped.
		s.req.CancelContext()
		return
	}
	c.writeResponse(s, resp)
}

// writeResponse starts writing resp on s.
func (c *Conn) writeResponse(s *strm, resp *httpcore.Response) {
	e := resp.Entity
	if e == nil {
		e = entity.Empty
	}
	status := resp.Status
	noBody := s.head || status == httpcore.StatusNoContent || status == httpcore.StatusNotModified
	c.encodeResponseHead(resp, e, status)
	if noBody || e.IsKnownEmpty() {
		c.writeHeaderBlock(s.id, true)
		c.localClose(s)
		return
	}
	c.writeHeaderBlock(s.id, false)
	c.sending = append(c.sending, s)
	s.sendLen = e.ContentLength()
	if st, ok := e.(*entity.Strict); ok {
		s.pending, s.pendEnd = st.Data, true
		signal(c.outWake)
		return
	}
	c.pumps++
	c.goBody(func(m *stream.Materializer) {
		defer c.pumpDone()
		c.pumpBody(m, s, e)
	})
}

// encodeResponseHead HPACK-encodes the response's fields into hbuf.
// Names are lowercased (RFC 9113 §8.2.1); connection-specific fields are
// dropped (§8.2.2); the server frames the body itself.
func (c *Conn) encodeResponseHead(resp *httpcore.Response, e entity.Entity, status httpcore.Status) {
	enc := c.henc
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(int(status))})
	hasDate, hasServer := false, false
	ct := e.ContentType()
	for _, h := range resp.Header {
		name := strings.ToLower(h.Name)
		switch {
		case connectionSpecific[name] || name == "content-length" || name == "te":
			continue
		case name == "content-type" && ct != "":
			continue
		case name == "date":
			hasDate = true
		case name == "server":
			hasServer = true
		}
		if !httpcore.ValidFieldValue(h.Value) || name == "" || name[0] == ':' {
			continue
		}
		enc.WriteField(hpack.HeaderField{Name: name, Value: h.Value})
	}
	if ct != "" {
		enc.WriteField(hpack.HeaderField{Name: "content-type", Value: ct})
	}
	if n := e.ContentLength(); n >= 0 && status != httpcore.StatusNoContent && status != httpcore.StatusNotModified {
		enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.FormatInt(n, 10)})
	}
	if !hasDate {
		var buf [32]byte
		enc.WriteField(hpack.HeaderField{Name: "date", Value: string(httpcore.AppendDate(buf[:0]))})
	}
	if !hasServer && c.cfg.ServerHeader != "" {
		enc.WriteField(hpack.HeaderField{Name: "server", Value: c.cfg.ServerHeader})
	}
}

// writeHeaderBlock writes the block in hbuf as HEADERS and CONTINUATION
// frames of at most the peer's frame size, back to back.
func (c *Conn) writeHeaderBlock(id uint32, end bool) {
	block := c.hbuf.Bytes()
	first := true
	for first || len(block) > 0 {
		n := min(len(block), int(c.peerMaxFrame))
		frag := block[:n]
		block = block[n:]
		if first {
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			first = false
		} else {
			c.fr.WriteContinuation(id, len(block) == 0, frag)
		}
	}
	c.hbuf.Reset()
	signal(c.outWake)
}

// errBodyLength is the failure of a response body that does not match
// its declared length.
var errBodyLength = errors.New("h2: the response body does not match its content-length")

// pumpBody pulls a streamed response body, one chunk at a time and only
// while the stream's window is open and its previous chunk has been
// written: the source runs at the pace the client reads.
func (c *Conn) pumpBody(m *stream.Materializer, s *strm, e entity.Entity) {
	var next func() ([]byte, []entity.Header, bool, error)
	var cancel func(error)
	if ch, ok := e.(*entity.Chunked); ok {
		p, _ := stream.Materialize(m, ch.Chunks)
		cancel = p.Cancel
		next = func() ([]byte, []entity.Header, bool, error) {
			part, err := p.Pull()
			return part.Data, part.Trailer, part.Last, err
		}
	} else {
		p, _ := stream.Materialize(m, e.DataBytes())
		cancel = p.Cancel
		next = func() ([]byte, []entity.Header, bool, error) {
			data, err := p.Pull()
			return data, nil, false, err
		}
	}
	for {
		c.mu.Lock()
		for !s.closed && (len(s.pending) > 0 || s.sendWindow <= 0) {
			c.mu.Unlock()
			select {
			case <-s.sendWake:
			case <-m.Done():
				cancel(m.Cause())
				return
			}
			c.mu.Lock()
		}
		closed := s.closed
		c.mu.Unlock()
		if closed {
			cancel(ErrClosed)
			return
		}
		data, trailer, last, err := next()
		c.mu.Lock()
		switch {
		case s.closed:
			c.mu.Unlock()
			if err == nil {
				cancel(ErrClosed)
			}
			return
		case err == stream.EOS || err == nil && last:
			if s.sendLen >= 0 && s.sent+int64(len(data)) != s.sendLen {
				c.resetStream(s.id, http2.ErrCodeInternal, false)
			} else {
				s.pending, s.trailers, s.pendEnd = data, trailer, true
				s.sent += int64(len(data))
				signal(c.outWake)
			}
			c.mu.Unlock()
			if err == nil {
				cancel(stream.ErrCancelled)
			}
			return
		case err != nil:
			c.cfg.Logger.Warn("h2: a response body failed", "stream", s.id, "err", err)
			c.resetStream(s.id, http2.ErrCodeInternal, false)
			c.mu.Unlock()
			return
		}
		s.sent += int64(len(data))
		if s.sendLen >= 0 && s.sent > s.sendLen {
			c.cfg.Logger.Warn("h2: a response body failed", "stream", s.id, "err", errBodyLength)
			c.resetStream(s.id, http2.ErrCodeInternal, false)
			c.mu.Unlock()
			cancel(errBodyLength)
			return
		}
		s.pending = data
		signal(c.outWake)
		c.mu.Unlock()
	}
}

// pumpDone records the end of a response body pump.
func (c *Conn) pumpDone() {
	c.mu.Lock()
	c.pumps--
	c.mu.Unlock()
}

// maxBatch bounds the DATA one Output call writes, so that the transport
// writes in steps while the next ones are prepared.
const maxBatch = 64 << 10

// Output returns the bytes to write next, writing DATA frames as the
// windows allow; nil when there is nothing now. done reports that the
// connection has ended and p is its last output. p is valid until the
// next call.
func (c *Conn) Output() (p []byte, done bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeData()
	p = c.out
	c.out, c.spare = c.spare[:0], p
	if len(p) > 0 {
		signal(c.readWake)
	}
	return p, c.finished
}

// appendData writes a DATA frame (RFC 9113 §6.1) straight into the output,
// without the Framer's copy: the data is copied once, into out.
func (c *Conn) appendData(id uint32, end bool, data []byte) {
	var flags http2.Flags
	if end {
		flags = http2.FlagDataEndStream
	}
	n := len(data)
	c.out = append(c.out, byte(n>>16), byte(n>>8), byte(n), byte(http2.FrameData), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	c.out = append(c.out, data...)
}

// outBuffers recycles output buffers between connections and runs: a
// parked connection that wakes, or a new one, does not grow its own again.
var outBuffers sync.Pool

// getOutBuffer returns an empty buffer from outBuffers, or nil.
func getOutBuffer() []byte {
	if b, ok := outBuffers.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

// ReleaseBuffers gives the output buffers back for other connections once
// the run has ended and the transport holds no output any more. What is
// written after (nothing should be) goes to fresh buffers.
func (c *Conn) ReleaseBuffers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range []*[]byte{&c.out, &c.spare} {
		if cap(*b) > 0 && cap(*b) <= maxPooledOutput {
			p := (*b)[:0]
			outBuffers.Put(&p)
		}
		*b = nil
	}
}

// maxPooledOutput bounds the buffers kept in outBuffers.
const maxPooledOutput = 256 << 10

// OutputWake is signalled when Output may have something.
func (c *Conn) OutputWake() <-chan struct{} { return c.outWake }

// writeData writes DATA for the streams whose response has data and
// window, round robin, up to maxBatch bytes.
func (c *Conn) writeData() {
	if c.finished || len(c.sending) == 0 {
		return
	}
	var now time.Time
	live := c.sending[:0]
	for _, s := range c.sending {
		for len(s.pending) > 0 && s.sendWindow > 0 && c.sendWindow > 0 && len(c.out) < maxBatch {
			n := min(int64(len(s.pending)), s.sendWindow, c.sendWindow, int64(c.peerMaxFrame))
			end := int(n) == len(s.pending) && s.pendEnd && len(s.trailers) == 0
			c.appendData(s.id, end, s.pending[:n])
			s.pending = s.pending[n:]
			s.sendWindow -= n
			c.sendWindow -= n
			s.stalledAt = time.Time{}
			if end {
				c.localClose(s)
			}
		}
		if !s.closed && len(s.pending) == 0 {
			if s.pendEnd {
				if len(s.trailers) > 0 {
					for _, t := range s.trailers {
						c.henc.WriteField(hpack.HeaderField{Name: strings.ToLower(t.Name), Value: t.Value})
					}
					c.writeHeaderBlock(s.id, true)
				} else {
					c.appendData(s.id, true, nil)
				}
				c.localClose(s)
			} else {
				s.pending = nil
				signal(s.sendWake)
			}
		}
		if s.closed || s.localClosed {
			continue
		}
		if len(s.pending) > 0 && (s.sendWindow <= 0 || c.sendWindow <= 0) && s.stalledAt.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			s.stalledAt = now
		}
		live = append(live, s)
	}
	clear(c.sending[len(live):])
	c.sending = live
	if len(live) > 1 {
		// The next call starts with the next stream.
		first := live[0]
		copy(live, live[1:])
		live[len(live)-1] = first
	}
}
