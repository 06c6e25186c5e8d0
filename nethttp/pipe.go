package nethttp

import (
	"sync"

	"github.com/streamhttp/streamhttp/entity"
	"github.com/streamhttp/streamhttp/stream"
)

// pipe hands the response body from the handler's goroutine (the writer)
// to the connection's goroutine (the entity source the layer pulls), one
// piece at a time:
//
//	handler: Write -> buffer --send--> [one piece in flight] --Pull--> layer -> socket
//	                          <--ack--  (the layer's next Pull)
//
// send blocks until the layer pulls the piece and returns only once the
// layer has pulled again: the layer's output aliases a piece until its next
// pull, so only then may the writer reuse the buffer. A slow client stops
// the layer's pulls (its writes block), which stops the acks, which blocks
// Write: backpressure without memory.
type pipe struct {
	ch   chan piece    // writer -> source; unbuffered
	ack  chan struct{} // source -> writer: the piece sent last is free again
	gone chan struct{} // closed when the source is cancelled or failed
	once sync.Once

	// abort: closed, with abortErr set before, when the writer fails the
	// body; the source fails with abortErr at its next pull, even while a
	// piece is in flight.
	abortCh   chan struct{}
	abortErr  error
	abortOnce sync.Once
}

// piece is one element of the hand-off: data, or the end of the body (with
// trailers, or the error that aborts it).
type piece struct {
	data    []byte
	end     bool
	trailer []entity.Header
	err     error
}

func newPipe() *pipe {
	return &pipe{ch: make(chan piece), ack: make(chan struct{}, 1), gone: make(chan struct{}), abortCh: make(chan struct{})}
}

func (p *pipe) closeGone() { p.once.Do(func() { close(p.gone) }) }

// send hands v to the source and waits until the source is done with it.
// stop is closed when the writer must give up (the request has ended);
// deadline, if not nil, fires at the write deadline. It returns errGone
// when the source will not take it.
func (p *pipe) send(v piece, stop <-chan struct{}, deadline <-chan struct{}) error {
	select {
	case p.ch <- v:
	case <-p.gone:
		return errGone
	case <-stop:
		return errGone
	case <-deadline:
		return errWriteDeadline
	}
	if v.end {
		return nil // the source takes nothing more and acks nothing
	}
	select {
	case <-p.ack:
		return nil
	case <-p.gone:
		return errGone
	case <-stop:
		return errGone
	case <-deadline:
		// The piece is in the layer's hands and may still be written:
		// the response cannot go on, so the caller aborts it.
		return errWriteDeadline
	}
}

// abort ends the body with err, which fails the response: the layer closes
// the connection. It does not wait: a layer blocked writing to a slow
// client learns it at its next pull.
func (p *pipe) abort(err error) {
	p.abortOnce.Do(func() {
		p.abortErr = err
		close(p.abortCh)
	})
}

// pipeSource is the layer's end of a pipe, as the data of a Default or
// CloseDelimited entity or the chunks of a Chunked one.
type pipeSource struct {
	p       *pipe
	m       *stream.Materializer
	pending bool // a piece was returned and not yet acked
	done    bool
}

// next returns the next piece, waiting for the writer. Before it waits it
// lets the connection flush what it has buffered (the head, earlier
// pieces): the writer may be waiting for the client.
func (s *pipeSource) next() (piece, error) {
	if s.done {
		return piece{}, stream.EOS
	}
	if s.pending {
		s.pending = false
		s.p.ack <- struct{}{} // capacity 1, and at most one ack is owed
	}
	var v piece
	select {
	case v = <-s.p.ch:
	case <-s.p.abortCh:
		v = piece{end: true, err: s.p.abortErr}
	default:
		s.m.WillBlock()
		select {
		case v = <-s.p.ch:
		case <-s.p.abortCh:
			v = piece{end: true, err: s.p.abortErr}
		case <-s.m.Done():
			s.done = true
			s.p.closeGone()
			return piece{}, s.m.Cause()
		}
	}
	switch {
	case v.err != nil:
		s.done = true
		s.p.closeGone()
		return piece{}, v.err
	case v.end:
		s.done = true
		s.p.closeGone()
	default:
		s.pending = true
	}
	return v, nil
}

func (s *pipeSource) Cancel(error) {
	s.done = true
	s.p.closeGone()
}

type dataSource struct{ pipeSource }

func (s *dataSource) Pull() ([]byte, error) {
	for {
		v, err := s.next()
		if err != nil {
			return nil, err
		}
		if v.end {
			return nil, stream.EOS // trailers are lost without chunking, as in net/http
		}
		if len(v.data) > 0 {
			return v.data, nil
		}
	}
}

type chunkSource struct{ pipeSource }

func (s *chunkSource) Pull() (entity.ChunkPart, error) {
	for {
		v, err := s.next()
		if err != nil {
			return entity.ChunkPart{}, err
		}
		if v.end {
			if len(v.trailer) == 0 {
				return entity.ChunkPart{}, stream.EOS
			}
			return entity.ChunkPart{Last: true, Trailer: v.trailer}, nil
		}
		if len(v.data) > 0 {
			return entity.ChunkPart{Data: v.data}, nil
		}
	}
}

// dataBytes and chunks are the pipe as sources. A pipe has one reader: the
// layer runs a response's entity once.
func (p *pipe) dataBytes() stream.Source[[]byte] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[[]byte] {
		return &dataSource{pipeSource{p: p, m: m}}
	})
}

func (p *pipe) chunks() stream.Source[entity.ChunkPart] {
	return stream.FromPuller(func(m *stream.Materializer) stream.Puller[entity.ChunkPart] {
		return &chunkSource{pipeSource{p: p, m: m}}
	})
}
