package stream

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// ErrCancelled is the cause of a plain cancellation: the downstream needs no
// more elements (Pekko's NoMoreElementsNeeded). Stages that stop early (Take,
// Head, a cancelling sink) cancel their upstream with it.
var ErrCancelled = errors.New("stream: cancelled: no more elements needed")

// ErrEmpty is the failure of [Head] on a stream that completed without an element.
var ErrEmpty = errors.New("stream: completed without an element")

// ErrGoexit is the failure of a stage whose user code called
// runtime.Goexit (t.FailNow in a test does): the goroutine ends without
// returning, and the stage fails instead of hanging or inventing a value.
var ErrGoexit = errors.New("stream: user code called runtime.Goexit")

// ErrUnexpectedEOS is the failure of a stage whose user function returned
// [EOS] as its error (a MapAsync function, for one): EOS is a stage's
// completion signal, and a function that returns it would otherwise end the
// stream silently with elements missing.
var ErrUnexpectedEOS = errors.New("stream: user function returned stream.EOS as its error")

// PanicError is the failure that a panic in user code becomes. It carries the
// panic value and the stack of the goroutine that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// NewPanicError makes the failure for a recovered panic value, with the
// current goroutine's stack: call it in the deferred function that recovered.
// A value that already is a *PanicError is returned as it is.
func NewPanicError(v any) *PanicError { return newPanicError(v) }

func newPanicError(v any) *PanicError {
	if pe, ok := v.(*PanicError); ok {
		return pe
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}

func (e *PanicError) Error() string { return fmt.Sprintf("stream: panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// TimeoutError is the failure of a stage whose time limit ran out.
type TimeoutError struct {
	Op    string        // the stage, e.g. "idle timeout"
	Limit time.Duration // the limit that ran out
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("stream: %s: no element within %v", e.Op, e.Limit)
}

// Timeout reports true, as net.Error does for timeouts.
func (e *TimeoutError) Timeout() bool { return true }

// abnormal turns what a deferred function sees after user code stopped
// early into the failure it is: a recovered panic value, or a Goexit (the
// code did not return, normal is false, and there was nothing to recover).
// It returns nil when the code returned normally. Call it as
// abnormal(recover(), normal) in the deferred function itself.
func abnormal(v any, normal bool) error {
	if v != nil {
		return newPanicError(v)
	}
	if !normal {
		return ErrGoexit
	}
	return nil
}

// isCancel reports whether a cancellation cause is a plain "no more elements
// needed" rather than a failure.
func isCancel(cause error) bool { return cause == nil || errors.Is(cause, ErrCancelled) }

// errStop is returned by a drive callback that wants no more elements.
var errStop = errors.New("stream: stop")

// drive pulls up until it ends, calling each for every element; it is the
// loop of every sink. It checks the island's context between elements so a
// cancelled run stops even if nothing blocks, converts panics (of each, or
// of any fused upstream stage) into a [*PanicError], and leaves up either
// terminated or cancelled.
func drive[T any](m *Materializer, up Puller[T], each func(T) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
			up.Cancel(err)
		}
	}()
	for {
		if m.Stopped() {
			cause := m.Cause()
			up.Cancel(cause)
			return cause
		}
		v, err := up.Pull()
		if err != nil {
			if err == EOS {
				return nil
			}
			return err
		}
		if err := each(v); err != nil {
			if err == errStop {
				up.Cancel(ErrCancelled)
				return nil
			}
			up.Cancel(err)
			return err
		}
	}
}
