package nethttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

// newTestCtx returns a handler context over a cancellable parent that
// carries a value of its own.
func newTestCtx(t *testing.T) (*handlerCtx, context.CancelCauseFunc, *http.Server, net.Addr) {
	t.Helper()
	parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	t.Cleanup(func() { cancelParent(nil) })
	srv, local := new(http.Server), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}
	c := new(handlerCtx)
	c.init(parent, srv, local)
	return c, cancelParent, srv, local
}

func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// TestHandlerCtxCancel: the context ends with Canceled at ServeHTTP's
// return (cancel), whether Done was asked for before, after, or never, and
// context.Cause agrees; the values stay.
func TestHandlerCtxCancel(t *testing.T) {
	for _, tc := range []struct {
		name              string
		doneBefore, after bool
	}{{"never", false, false}, {"Done first", true, false}, {"cancel first", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, srv, local := newTestCtx(t)
			if tc.doneBefore && isDone(c) {
				t.Fatal("done before cancel")
			}
			if err := c.Err(); err != nil {
				t.Fatalf("Err before cancel = %v", err)
			}
			c.cancel()
			c.cancel() // idempotent
			if err := c.Err(); err != context.Canceled {
				t.Errorf("Err = %v, want Canceled", err)
			}
			if err := context.Cause(c); err != context.Canceled {
				t.Errorf("Cause = %v, want Canceled", err)
			}
			if tc.doneBefore || tc.after {
				if !isDone(c) {
					t.Error("Done not closed after cancel")
				}
			}
			if c.Value(ctxKey{}) != "v" || c.Value(http.ServerContextKey) != srv || c.Value(http.LocalAddrContextKey) != local {
				t.Error("values lost")
			}
		})
	}
}

// TestHandlerCtxParentEnds: the parent's end (the connection's) ends the
// context with the parent's error and cause, whether Done was asked for
// before or not; a later cancel changes nothing.
func TestHandlerCtxParentEnds(t *testing.T) {
	for _, doneBefore := range []bool{false, true} {
		c, cancelParent, _, _ := newTestCtx(t)
		var done <-chan struct{}
		if doneBefore {
			done = c.Done()
		}
		cause := errors.New("client left")
		cancelParent(cause)
		if !doneBefore {
			if err := c.Err(); err != context.Canceled {
				t.Errorf("Err = %v, want Canceled (the parent's)", err)
			}
			done = c.Done()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("doneBefore=%v: Done not closed when the parent ended", doneBefore)
		}
		c.cancel()
		if err := context.Cause(c); err != cause {
			t.Errorf("doneBefore=%v: Cause = %v, want %v", doneBefore, err, cause)
		}
	}
}

// TestHandlerCtxChildren: a child context (what middleware makes) ends
// with the handler's context, made before or after the first Done.
func TestHandlerCtxChildren(t *testing.T) {
	c, _, _, _ := newTestCtx(t)
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(c, time.Hour)
	defer cancelTimed()
	stopped := make(chan struct{})
	context.AfterFunc(c, func() { close(stopped) })
	if isDone(child) || isDone(timed) {
		t.Fatal("child done before cancel")
	}
	c.cancel()
	for _, ctx := range []context.Context{child, timed} {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("child not cancelled with its parent")
		}
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc not run")
	}
	late, cancelLate := context.WithCancel(c)
	defer cancelLate()
	if !isDone(late) || late.Err() != context.Canceled {
		t.Errorf("child made after cancel: Err = %v", late.Err())
	}
}

// TestHandlerCtxConcurrent: Done, Err and cancel from several goroutines
// at once (go test -race) agree: every Done channel is the same and is
// closed once cancel has run.
func TestHandlerCtxConcurrent(t *testing.T) {
	for range 50 {
		c, _, _, _ := newTestCtx(t)
		var wg sync.WaitGroup
		chans := make([]<-chan struct{}, 4)
		for i := range chans {
			wg.Go(func() {
				chans[i] = c.Done()
				_ = c.Err()
			})
		}
		wg.Go(c.cancel)
		wg.Wait()
		for _, ch := range chans {
			if ch != chans[0] {
				t.Fatal("Done returned different channels")
			}
		}
		select {
		case <-chans[0]:
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after cancel")
		}
		if c.Err() != context.Canceled {
			t.Fatalf("Err = %v", c.Err())
		}
	}
}

// TestHandlerCtxAllocs: a request whose handler never waits on its
// context costs no allocation for it.
func TestHandlerCtxAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := new(handlerCtx)
	n := testing.AllocsPerRun(100, func() {
		*c = handlerCtx{}
		c.init(parent, nil, nil)
		_ = c.Value(http.ServerContextKey)
		_ = c.Err()
		c.cancel()
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}
