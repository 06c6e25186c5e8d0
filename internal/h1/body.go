package h1

import (
	"errors"
	"sync/atomic"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/httpcore"
	"github.com/streamhttp/streamhttp/stream"
)

// body is a request body that streams from the connection as the handler
// pulls it. Its flags are written with both conn.inMu and conn.mu held, so
// either lock is enough to read them; answered is a channel.
type body struct {
	c       *conn
	x       *exchange
	chunked bool

	started      bool // the handler pulled (demand: 100 Continue goes out then)
	finished     bool // the parser reached the end of the body
	cancelled    bool // the handler cancelled the body
	needContinue bool
	continueSent bool // decided: sent, or queued to go in band
	// continueQueued: the 100 Continue waits to go in band (conn.mu only).
	continueQueued bool
	// continueDropped: the final response came first (conn.mu only).
	continueDropped bool
	discarded       bool // drained after the response: the data is gone
	read            int64
	err             error
	readerM         *stream.Materializer // the pulling stage's, during a pull
	answered        chan struct{}        // closed when the request's response is out
	finishedCh      chan struct{}        // closed when the parser reaches the end of the body

	// For the request timeout (see timeout.go): the connection's timer
	// tick when the handler last took body bytes (or the head came), and
	// whether a pull is under way.
	progress atomic.Uint64
	pulling  atomic.Int32
}

// nextEvent returns the next piece of the body: data (a copy the caller
// owns), or for chunked bodies the last chunk's metadata; stream.EOS at the
// end. It reads from the connection as needed. Called with c.inMu held.
func (b *body) nextEvent() ([]byte, *entity.ChunkPart, error) {
	b.c.mustHoldInput()
	c := b.c
	if b.err != nil {
		return nil, nil, b.err
	}
	if b.discarded {
		return nil, nil, errDiscarded
	}
	if b.finished {
		return nil, nil, stream.EOS
	}
	if c.writeDone.Load() {
		// The connection has written its last response: nothing more is
		// read from it.
		return nil, nil, b.fail(errLayerDone)
	}
	for {
		ev, n := c.parser.Next(c.input())
		switch ev.Kind {
		case httpcore.BodyData, httpcore.ChunkData:
			data := append([]byte(nil), ev.Data...)
			c.consume(n)
			b.read += int64(len(data))
			b.progress.Store(c.tick.Load())
			if b.chunked && b.read > c.maxBody {
				// The parser bounds declared lengths; a chunked body is
				// bounded here, as it arrives.
				return nil, nil, b.fail(&entity.SizeLimitError{Limit: c.maxBody, Declared: -1})
			}
			if ev.Kind == httpcore.ChunkData && ev.Extension != "" {
				return data, &entity.ChunkPart{Data: data, Extension: ev.Extension}, nil
			}
			return data, nil, nil
		case httpcore.LastChunk:
			c.consume(n)
			return nil, &entity.ChunkPart{Last: true, Extension: ev.Extension, Trailer: ev.Trailer}, nil
		case httpcore.MessageEnd:
			c.consume(n)
			b.finish()
			return nil, nil, stream.EOS
		case httpcore.Failed:
			return nil, nil, b.fail(ev.Err)
		case httpcore.NeedMore:
			c.consume(n)
			if b.readerM != nil {
				// The reader may run in another island than the connection's
				// source: flush what its island has ready before waiting.
				b.readerM.WillBlock()
			}
			more, err := c.fill()
			if errors.Is(err, errBodyTooSlow) {
				b.tooSlow()
			}
			if err != nil {
				return nil, nil, b.fail(err)
			}
			if !more {
				return nil, nil, b.fail(errTruncated)
			}
		default:
			return nil, nil, b.fail(c.protocolError("parser event %d inside a body", ev.Kind))
		}
	}
}

// tooSlow answers a request whose body arrived too slowly with 408 in
// place of the handler's answer, and closes the connection after it.
// Called with c.inMu held.
func (b *body) tooSlow() {
	b.c.mustHoldInput()
	c := b.c
	c.mu.Lock()
	var p []byte
	if b.x.resp == nil && b.x.made == nil {
		p = c.answerLate(b.x, bodyTooSlowResponse())
	}
	c.mu.Unlock()
	if c.stats != nil {
		c.stats.SlowBody()
	}
	c.debug("streamhttp: request body too slow", "seq", b.x.seq)
	if p != nil {
		c.oob.Abort(p)
	}
}

// fail ends the body with err; the connection cannot go on after it.
// Called with c.inMu held.
func (b *body) fail(err error) error {
	b.c.mustHoldInput()
	b.c.mu.Lock()
	b.err = err
	b.c.beginClose(closeBodyFailed)
	b.c.mu.Unlock()
	b.released()
	return err
}

// finish records the end of the body. Called with c.inMu held.
func (b *body) finish() {
	b.c.mustHoldInput()
	b.c.mu.Lock()
	b.finished = true
	b.c.setReady(b.x)
	b.c.mu.Unlock()
	close(b.finishedCh)
	b.released()
}

// ended reports whether the body needs no more input. Called with c.inMu
// held.
func (b *body) ended() bool { return b.finished || b.err != nil }

// released lets go of the input once the body has ended if the inbound
// side is done with it too. Called with c.inMu held.
func (b *body) released() {
	b.c.mustHoldInput()
	if b.c.inDone.Load() {
		b.c.dropInput(stream.ErrCancelled)
	}
}

func (b *body) cancel(cause error) {
	b.c.inMu.Lock()
	defer b.c.inMu.Unlock()
	if b.finished || b.err != nil || b.cancelled {
		return
	}
	// A handler that cancels its request body closes the connection: the
	// rest of the body is never read.
	b.c.mu.Lock()
	b.cancelled = true
	b.err = cause
	b.c.beginClose(closeBodyCancelled)
	b.c.mu.Unlock()
	b.released()
}

// dataPuller is the data stream of a Content-Length or chunked body.
type dataPuller struct {
	b *body
	m *stream.Materializer
}

// enterPull begins a pull of the body's reader, run by m: it holds the
// input lock until exitPull (deferred right after, before pullStart).
func (b *body) enterPull(m *stream.Materializer) {
	b.c.inMu.Lock()
	b.readerM = m
	b.pulling.Add(1)
}

// exitPull ends the pull that enterPull began.
func (b *body) exitPull() {
	b.readerM = nil
	b.pulling.Add(-1)
	b.c.inMu.Unlock()
}

func (p *dataPuller) Pull() ([]byte, error) {
	b := p.b
	b.enterPull(p.m)
	defer b.exitPull()
	b.pullStart()
	for {
		data, _, err := b.nextEvent()
		if err != nil || len(data) > 0 {
			return data, err
		}
	}
}

func (p *dataPuller) Cancel(cause error) { p.b.cancel(cause) }

// chunkPuller is the chunk stream of a chunked body.
type chunkPuller struct {
	b *body
	m *stream.Materializer
}

func (p *chunkPuller) Pull() (entity.ChunkPart, error) {
	b := p.b
	b.enterPull(p.m)
	defer b.exitPull()
	b.pullStart()
	for {
		data, part, err := b.nextEvent()
		switch {
		case err != nil:
			return entity.ChunkPart{}, err
		case part != nil:
			return *part, nil
		case len(data) > 0:
			return entity.ChunkPart{Data: data}, nil
		}
	}
}

func (p *chunkPuller) Cancel(cause error) { p.b.cancel(cause) }
