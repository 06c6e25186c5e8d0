package h1

import (
	"context"

	"github.com/streamhttp/streamhttp/httpcore"
)

// WriteInterim writes the interim response (status, fields) to the
// request of the given context and seq now, ahead of its final response
// (streamhttp.WriteInterim). served is false when ctx is not a request's
// of a served connection; written is false, and nothing is written, when
// the request is not the oldest one its connection and its handler have
// not answered.
func WriteInterim(ctx context.Context, seq uint64, status httpcore.Status, fields httpcore.Headers) (served, written bool, err error) {
	c := connOf(ctx)
	if c == nil {
		return false, false, nil
	}
	c.mu.Lock()
	x := c.head()
	direct := c.oob != nil && c.outWaiting && !c.stopped && x != nil && x.seq == seq &&
		x.resp == nil && x.made == nil
	if !direct {
		c.mu.Unlock()
		return true, false, nil
	}
	rc := httpcore.RenderContext{Method: x.method, Proto: x.proto}
	if x.body != nil && x.body.continueQueued {
		// A 100 Continue queued in band would follow this one: say it
		// now, first, as the oldest interim answer.
		c.dequeueContinue(x.body)
		c.mu.Unlock()
		if err := c.oob.WriteOOB([]byte(continueLine)); err != nil {
			return true, true, err
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	p, _ := httpcore.AppendResponseHead(nil, &Response{Status: status, Header: fields}, &rc)
	return true, true, c.oob.WriteOOB(p)
}
