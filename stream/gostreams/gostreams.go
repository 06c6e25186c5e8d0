package gostreams

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/reugn/go-streams"

	"github.com/streamhttp/streamhttp/stream"
)

// TypeError is the failure of a stream that met an element of the wrong type
// where the untyped go-streams world hands elements to a typed graph (or the
// other way round): the element arrived as an any holding a Got, and the
// typed side needed a Want.
type TypeError struct {
	Want  string // the type the typed side expects, e.g. "int"
	Got   string // the dynamic type of the element, "<nil>" for a nil any
	Value any    // the element itself
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("gostreams: element of type %s, want %s", e.Got, e.Want)
}

// ErrReused is the failure of a second run of a blueprint made by
// [FromSource] or [ToSink]: such a blueprint wraps one running go-streams
// instance, which can serve one run only.
var ErrReused = errors.New("gostreams: the wrapped go-streams instance already served a run")

// errNilFlow is the failure of a [ViaFlow] whose factory returned nil.
var errNilFlow = errors.New("gostreams: ViaFlow factory returned a nil streams.Flow")

// caster turns the elements of the untyped world into T. It is built once per
// stage so the check for an untyped nil costs no reflection per element.
type caster[T any] struct {
	want    string
	nilIsOK bool // T is an interface type, so an untyped nil is T's zero value
}

func newCaster[T any]() caster[T] {
	rt := reflect.TypeFor[T]()
	return caster[T]{want: rt.String(), nilIsOK: rt.Kind() == reflect.Interface}
}

// cast returns v as a T, or a *TypeError when v holds something else.
func (c caster[T]) cast(v any) (T, error) {
	if t, ok := v.(T); ok {
		return t, nil
	}
	var zero T
	if v == nil && c.nilIsOK {
		return zero, nil
	}
	return zero, &TypeError{Want: c.want, Got: fmt.Sprintf("%T", v), Value: v}
}

// chanFlow is a go-streams Flow made of one channel: what is sent to In comes
// out of Out. The adapters hand it to go-streams operators (as the Flow of
// their Via) to receive their output the way go-streams itself would, and
// read the channel on the typed side.
type chanFlow chan any

var _ streams.Flow = chanFlow(nil)

func (c chanFlow) In() chan<- any                  { return c }
func (c chanFlow) Out() <-chan any                 { return c }
func (c chanFlow) Via(f streams.Flow) streams.Flow { go transmit(c, f); return f }
func (c chanFlow) To(s streams.Sink)               { transmit(c, s); s.AwaitCompletion() }

// transmit copies everything from out into in and closes in when out is
// closed, as go-streams operators do in their Via and To.
func transmit(out streams.Outlet, in streams.Inlet) {
	dst := in.In()
	for v := range out.Out() {
		dst <- v
	}
	close(dst)
}

// chanPuller is the typed face of a channel of the untyped world: it receives
// from ch, casts each element to T, completes when ch is closed and wakes when
// its island is cancelled. With drain set, once it ends early (cancelled, or
// failed on a *TypeError) it goes on receiving and dropping elements in a
// goroutine of the run, until ch is closed or the island ends, so that the
// go-streams goroutine sending on ch is not left blocked.
type chanPuller[T any] struct {
	m     *stream.Materializer
	ch    <-chan any
	c     caster[T]
	drain bool
	done  error
}

func newChanPuller[T any](m *stream.Materializer, ch <-chan any, drain bool) *chanPuller[T] {
	return &chanPuller[T]{m: m, ch: ch, c: newCaster[T](), drain: drain}
}

func (p *chanPuller[T]) Pull() (T, error) {
	var zero T
	if p.done != nil {
		return zero, p.done
	}
	if len(p.ch) == 0 {
		p.m.WillBlock() // about to wait: flush what this island has ready
	}
	select {
	case v, ok := <-p.ch:
		if !ok {
			p.done = stream.EOS
			return zero, p.done
		}
		t, err := p.c.cast(v)
		if err != nil {
			p.end(err)
			return zero, err
		}
		return t, nil
	case <-p.m.Done():
		// The island is over: a drain would stop at once, so none is started.
		p.done = p.m.Cause()
		return zero, p.done
	}
}

func (p *chanPuller[T]) Cancel(cause error) {
	if p.done == nil {
		p.end(cause)
	}
}

func (p *chanPuller[T]) end(err error) {
	p.done = err
	if p.drain {
		m, ch := p.m, p.ch
		m.Go(func() { drainUntil(m.Done(), ch) })
	}
}

// drainUntil receives and drops elements of ch until it is closed or stop is.
func drainUntil(stop <-chan struct{}, ch <-chan any) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-stop:
			return
		}
	}
}

// failedPuller fails at once; it stands for a blueprint that cannot run.
type failedPuller[T any] struct{ err error }

func (p failedPuller[T]) Pull() (T, error) { var zero T; return zero, p.err }
func (p failedPuller[T]) Cancel(error)     {}
