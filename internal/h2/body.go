package h2

import (
	"errors"
	"time"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bodySource is the data of a request body with a content-length.
func (c *Conn) bodySource(s *strm) stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		return &bodyPuller{c: c, s: s, m: m}
	})
}

// chunkSource is the data of a request body without a content-length, as
// chunks; its last part carries the request's trailer fields.
func (c *Conn) chunkSource(s *strm) stream.Source[entity.ChunkPart] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[entity.ChunkPart] {
		return &chunkPuller{b: bodyPuller{c: c, s: s, m: m}}
	})
}

// strictBody makes the body of s, whose request is about to be handed to
// the handler, a Strict entity when it has arrived whole and without
// trailers: the handler reads it at once, as HTTP/1.1 hands over a body
// that came with its head, and an answer made from it needs no body pump.
// The bytes count as consumed (their connection credit returns).
func (c *Conn) strictBody(s *strm) {
	if s.bodyBytes == 0 || s.bodyErr != nil || len(s.trailer) > 0 {
		return
	}
	data := s.body[0]
	if len(s.body) > 1 {
		data = make([]byte, 0, s.bodyBytes)
		for _, p := range s.body {
			data = append(data, p...)
		}
	}
	n := s.bodyBytes
	clear(s.body)
	s.body, s.bodyBytes = nil, 0
	s.expect100 = false
	s.req.Entity = entity.NewStrict(s.req.ContentType, data)
	c.credit(s, int32(n))
}

// bodyPuller hands a stream's DATA to the handler. Each pulled chunk is
// credited back to the client's windows (Conn.credit): the client sends
// at the pace the handler reads, with at most a window buffered.
type bodyPuller struct {
	c    *Conn
	s    *strm
	m    *stream.Materializer
	done error
}

func (b *bodyPuller) Pull() ([]byte, error) {
	c, s := b.c, b.s
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if b.done != nil {
			return nil, b.done
		}
		if s.expect100 {
			// RFC 9110 §10.1.1: the client waits for this before the body.
			s.expect100 = false
			if !s.closed {
				c.henc.WriteField(hpack.HeaderField{Name: ":status", Value: "100"})
				c.writeHeaderBlock(s.id, false)
			}
		}
		if len(s.body) > 0 {
			p := s.body[0]
			s.body[0] = nil
			s.body = s.body[1:]
			s.bodyBytes -= len(p)
			c.credit(s, int32(len(p)))
			return p, nil
		}
		switch {
		case s.bodyErr != nil:
			b.done = s.bodyErr
		case s.remoteClosed:
			b.done = stream.EOS
		case s.closed:
			b.done = ErrClosed
		}
		if b.done != nil {
			return nil, b.done
		}
		if c.cfg.MinBodyRate > 0 {
			s.waitingSince = time.Now()
		}
		c.mu.Unlock()
		b.m.WillBlock()
		select {
		case <-s.bodyWake:
		case <-b.m.Done():
			c.mu.Lock()
			s.stopWaiting()
			if b.done == nil {
				b.done = b.m.Cause()
			}
			continue
		}
		c.mu.Lock()
		s.stopWaiting()
	}
}

// ErrBodyTooSlow is the failure of a request body that arrived slower than
// Config.MinBodyRate.
var ErrBodyTooSlow = errors.New("h2: the request body arrived slower than MinRequestBodyRate")

// stopWaiting ends a wait of the body's reader.
func (s *strm) stopWaiting() {
	if !s.waitingSince.IsZero() {
		s.waited += time.Since(s.waitingSince)
		s.waitingSince = time.Time{}
	}
}

// tooSlow reports whether s's body, which its reader waits for, is behind
// Config.MinBodyRate: the reader has waited longer than BodyGrace plus the
// time the bytes received so far are worth at that rate.
func (c *Conn) tooSlow(s *strm, now time.Time) bool {
	if c.cfg.MinBodyRate <= 0 || s.waitingSince.IsZero() || s.remoteClosed || s.closed {
		return false
	}
	waited := s.waited + now.Sub(s.waitingSince)
	return waited > c.cfg.BodyGrace+time.Duration(s.received*int64(time.Second)/c.cfg.MinBodyRate)
}

// bodyTooSlow ends the body of s, which arrives too slowly: the stream is
// answered 408 (the handler's answer is dropped), or reset when its
// response has begun; the reader fails with ErrBodyTooSlow.
func (c *Conn) bodyTooSlow(s *strm) {
	s.bodyErr = ErrBodyTooSlow
	signal(s.bodyWake)
	if s.answered || s.late {
		c.resetStream(s.id, http2.ErrCodeCancel, false)
		return
	}
	s.late = true
	c.writeResponse(s, httpcore.Text(httpcore.StatusRequestTimeout, "Request Timeout: the request body arrived slower than MinRequestBodyRate\n"))
}

// Cancel drops the rest of the body: DATA still arriving is refunded at
// once, and a complete response resets the stream (NO_ERROR).
func (b *bodyPuller) Cancel(cause error) {
	c, s := b.c, b.s
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.done == nil {
		b.done = stream.ErrCancelled
	}
	if !s.discard {
		s.discard = true
		c.refund(int32(s.bodyBytes))
		s.body, s.bodyBytes = nil, 0
	}
}

type chunkPuller struct {
	b    bodyPuller
	last bool
}

func (p *chunkPuller) Pull() (entity.ChunkPart, error) {
	if p.last {
		return entity.ChunkPart{}, stream.EOS
	}
	data, err := p.b.Pull()
	if err == stream.EOS {
		p.last = true
		p.b.c.mu.Lock()
		tr := p.b.s.trailer
		p.b.c.mu.Unlock()
		return entity.ChunkPart{Last: true, Trailer: tr}, nil
	}
	if err != nil {
		return entity.ChunkPart{}, err
	}
	return entity.ChunkPart{Data: data}, nil
}

func (p *chunkPuller) Cancel(cause error) { p.b.Cancel(cause) }
