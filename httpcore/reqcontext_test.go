package httpcore

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamhttp/streamhttp/entity"
)

var errParent = errors.New("the connection ended")

type ctxKey struct{}

// Steps of TestRequestContext.
const (
	stDone   = "done"   // call Done and keep the channel
	stCancel = "cancel" // CancelContext
	stParent = "parent" // cancel the parent with errParent (a "deadline" parent: let it expire)
)

func TestRequestContext(t *testing.T) {
	for _, c := range []struct {
		name   string
		parent string // "cancel": WithCancelCause; "background"; "deadline": expires in a minute; "ended": cancelled before AttachContext
		steps  []string

		wantErr, wantCause error // nil: live, Done open
	}{
		{name: "live", parent: "cancel"},
		{name: "live, Done made", parent: "cancel", steps: []string{stDone}},
		{name: "cancelled, Done never asked for", parent: "cancel", steps: []string{stCancel},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "Done closed by CancelContext", parent: "cancel", steps: []string{stDone, stCancel},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "Done after CancelContext", parent: "cancel", steps: []string{stCancel, stDone},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "CancelContext twice", parent: "cancel", steps: []string{stDone, stCancel, stCancel},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "Done closed by the parent", parent: "cancel", steps: []string{stDone, stParent},
			wantErr: context.Canceled, wantCause: errParent},
		{name: "parent ended, Done never asked for", parent: "cancel", steps: []string{stParent},
			wantErr: context.Canceled, wantCause: errParent},
		{name: "parent ended first, then CancelContext", parent: "cancel", steps: []string{stParent, stCancel},
			wantErr: context.Canceled, wantCause: errParent},
		{name: "parent ended first with Done, then CancelContext", parent: "cancel", steps: []string{stDone, stParent, stCancel},
			wantErr: context.Canceled, wantCause: errParent},
		{name: "CancelContext first, then the parent", parent: "cancel", steps: []string{stCancel, stParent},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "CancelContext first with Done, then the parent", parent: "cancel", steps: []string{stDone, stCancel, stParent},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "parent never cancelled", parent: "background", steps: []string{stDone}},
		{name: "parent never cancelled, CancelContext", parent: "background", steps: []string{stDone, stCancel},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "deadline passes", parent: "deadline", steps: []string{stDone, stParent},
			wantErr: context.DeadlineExceeded, wantCause: context.DeadlineExceeded},
		{name: "deadline passes, then CancelContext", parent: "deadline", steps: []string{stParent, stCancel},
			wantErr: context.DeadlineExceeded, wantCause: context.DeadlineExceeded},
		{name: "CancelContext, then the deadline passes", parent: "deadline", steps: []string{stDone, stCancel, stParent},
			wantErr: context.Canceled, wantCause: context.Canceled},
		{name: "parent ended before AttachContext", parent: "ended",
			wantErr: context.Canceled, wantCause: errParent},
		{name: "parent ended before AttachContext, Done", parent: "ended", steps: []string{stDone},
			wantErr: context.Canceled, wantCause: errParent},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var parent context.Context
				end := func() {}
				switch c.parent {
				case "cancel", "ended":
					ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
					defer cancel(nil)
					parent, end = ctx, func() { cancel(errParent) }
				case "background":
					parent = context.WithValue(context.Background(), ctxKey{}, "v")
				case "deadline":
					ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "v"), time.Minute)
					defer cancel()
					parent, end = ctx, func() { time.Sleep(time.Minute) }
				}
				if c.parent == "ended" {
					end()
				}
				r := new(Request)
				r.AttachContext(parent)
				ctx := r.Context()
				var dones []<-chan struct{}
				for _, s := range c.steps {
					switch s {
					case stDone:
						dones = append(dones, ctx.Done())
					case stCancel:
						r.CancelContext()
					case stParent:
						end()
					}
					synctest.Wait() // AfterFunc's goroutines, if any, have run
				}
				// Done first: a channel made now must agree with Err too.
				dones = append(dones, ctx.Done())
				for i, d := range dones {
					if d == nil {
						t.Fatalf("Done #%d is nil", i)
					}
					select {
					case <-d:
						if c.wantErr == nil {
							t.Errorf("Done #%d is closed, want open", i)
						}
					default:
						if c.wantErr != nil {
							t.Errorf("Done #%d is open, want closed", i)
						}
					}
				}
				if err := ctx.Err(); err != c.wantErr {
					t.Errorf("Err() = %v, want %v", err, c.wantErr)
				}
				if err := context.Cause(ctx); err != c.wantCause {
					t.Errorf("Cause() = %v, want %v", err, c.wantCause)
				}
				if v := ctx.Value(ctxKey{}); v != "v" {
					t.Errorf("Value = %v, want the parent's", v)
				}
				pd, pok := parent.Deadline()
				if d, ok := ctx.Deadline(); d != pd || ok != pok {
					t.Errorf("Deadline() = %v, %v; want the parent's %v, %v", d, ok, pd, pok)
				}
			})
		})
	}
}

// TestRequestContextUnattached covers requests whose context was set, or
// never given.
func TestRequestContextUnattached(t *testing.T) {
	var r Request
	if ctx := r.Context(); ctx != context.Background() {
		t.Errorf("zero Request: Context() = %v, want context.Background()", ctx)
	}
	r.CancelContext() // no-op

	set, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.SetContext(set)
	if ctx := r.Context(); ctx != set {
		t.Errorf("after SetContext: Context() = %v, want the context set", ctx)
	}
	r.CancelContext()
	if err := set.Err(); err != nil {
		t.Errorf("CancelContext reached a context that SetContext set: %v", err)
	}

	// SetContext replacing an attached context ends it.
	r.AttachContext(set)
	attached := r.Context()
	done := attached.Done()
	r.SetContext(context.Background())
	select {
	case <-done:
	default:
		t.Error("the attached context replaced by SetContext is live")
	}
	if r.Context() != context.Background() {
		t.Errorf("Context() = %v after SetContext(Background)", r.Context())
	}
}

// countingParent is a cancelable parent that counts the AfterFunc
// registrations made on it and undone (package context uses its AfterFunc
// method).
type countingParent struct {
	context.Context
	registered, stopped atomic.Int32
}

// Value hides the embedded cancelCtx, which package context would
// register with directly.
func (p *countingParent) Value(any) any { return nil }

func (p *countingParent) AfterFunc(f func()) func() bool {
	p.registered.Add(1)
	stop := context.AfterFunc(p.Context, f)
	return func() bool {
		p.stopped.Add(1)
		return stop()
	}
}

func TestRequestContextRegistration(t *testing.T) {
	for _, c := range []struct {
		name           string
		done           bool // call Done before CancelContext
		neverCancelled bool // the parent's Done is nil
		wantRegistered int32
	}{
		{name: "Done never called: no registration", done: false, wantRegistered: 0},
		{name: "Done called: registered, then released", done: true, wantRegistered: 1},
		{name: "a parent that is never cancelled: no registration", done: true, neverCancelled: true, wantRegistered: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &countingParent{Context: base}
			if c.neverCancelled {
				p.Context = context.Background()
			}
			r := new(Request)
			r.AttachContext(p)
			if c.done {
				r.Context().Done()
			}
			r.CancelContext()
			if got := p.registered.Load(); got != c.wantRegistered {
				t.Errorf("registered %d times, want %d", got, c.wantRegistered)
			}
			if got := p.stopped.Load(); got != c.wantRegistered {
				t.Errorf("CancelContext released %d registrations, want %d", got, c.wantRegistered)
			}
		})
	}
}

func TestRequestContextAfterFunc(t *testing.T) {
	for _, c := range []struct {
		name     string
		before   bool   // register after CancelContext rather than before
		stop     bool   // call stop before the end
		end      string // stCancel or stParent
		wantRuns int32
		wantStop bool // what stop returns
	}{
		{name: "runs on CancelContext", end: stCancel, wantRuns: 1},
		{name: "runs on the parent's end", end: stParent, wantRuns: 1},
		{name: "stopped before CancelContext", stop: true, end: stCancel, wantRuns: 0, wantStop: true},
		{name: "registered after CancelContext runs at once", before: true, end: stCancel, wantRuns: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				r := new(Request)
				r.AttachContext(parent)
				end := func() {
					if c.end == stCancel {
						r.CancelContext()
					} else {
						cancel(errParent)
					}
				}
				if c.before {
					end()
				}
				var runs atomic.Int32
				stop := context.AfterFunc(r.Context(), func() { runs.Add(1) })
				if c.stop {
					if got := stop(); got != c.wantStop {
						t.Errorf("stop() = %v, want %v", got, c.wantStop)
					}
				}
				if !c.before {
					end()
				}
				synctest.Wait()
				if got := runs.Load(); got != c.wantRuns {
					t.Errorf("f ran %d times, want %d", got, c.wantRuns)
				}
				if stop() {
					t.Error("stop() after the end = true, want false")
				}
			})
		})
	}
}

// TestRequestContextChildren: contexts derived from a request's context
// end with it, and with their own cause.
func TestRequestContextChildren(t *testing.T) {
	for _, c := range []struct {
		name      string
		end       string // stCancel, stParent, or "" (the child is cancelled by itself)
		wantCause error  // of the child
		wantReq   error  // the request context's Err afterwards
	}{
		{name: "CancelContext", end: stCancel, wantCause: context.Canceled, wantReq: context.Canceled},
		{name: "the parent's end", end: stParent, wantCause: errParent, wantReq: context.Canceled},
		{name: "the child alone", end: "", wantCause: context.Canceled, wantReq: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				parent, cancelParent := context.WithCancelCause(context.Background())
				defer cancelParent(nil)
				r := new(Request)
				r.AttachContext(parent)
				child, cancelChild := context.WithTimeout(r.Context(), time.Hour)
				defer cancelChild()
				switch c.end {
				case stCancel:
					r.CancelContext()
				case stParent:
					cancelParent(errParent)
				default:
					cancelChild()
				}
				synctest.Wait()
				if err := context.Cause(child); err != c.wantCause {
					t.Errorf("Cause(child) = %v, want %v", err, c.wantCause)
				}
				if err := r.Context().Err(); err != c.wantReq {
					t.Errorf("the request context's Err() = %v, want %v", err, c.wantReq)
				}
			})
		})
	}
}

// TestRequestContextConcurrent races every method of the context against
// CancelContext and the parent's end (run it with -race).
func TestRequestContextConcurrent(t *testing.T) {
	for i := range 200 {
		parent, cancel := context.WithCancelCause(context.Background())
		r := new(Request)
		r.AttachContext(parent)
		ctx := r.Context()
		var wg sync.WaitGroup
		dones := make([]<-chan struct{}, 4)
		var runs atomic.Int32
		for g := range dones {
			wg.Go(func() {
				dones[g] = ctx.Done()
				_ = ctx.Err()
				_ = ctx.Value(ctxKey{})
				_ = context.Cause(ctx)
				context.AfterFunc(ctx, func() { runs.Add(1) })
			})
		}
		wg.Go(r.CancelContext)
		wg.Go(r.CancelContext)
		if i%2 == 0 {
			wg.Go(func() { cancel(errParent) })
		}
		wg.Wait()
		for g, d := range dones {
			select {
			case <-d:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: Done #%d never closed", i, g)
			}
		}
		if ctx.Err() == nil {
			t.Fatalf("round %d: Err() = nil after CancelContext", i)
		}
		cancel(nil)
		for runs.Load() != int32(len(dones)) {
			// AfterFunc's functions run in goroutines of their own; wait
			// for them so that none outlives the test.
			time.Sleep(time.Millisecond)
		}
	}
}

// TestRequestContextAllocs: a server that attaches and cancels a context,
// for a handler that never waits on it, allocates nothing.
func TestRequestContextAllocs(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancel(nil)
	p := NewParser(ParserSettings{})
	ev, _ := p.Next([]byte(plaintextGET))
	r := ev.Request
	if r == nil {
		t.Fatalf("no request: %+v", ev)
	}
	allocs := testing.AllocsPerRun(100, func() {
		r.AttachContext(parent)
		ctx := r.Context()
		if ctx.Err() != nil || ctx.Value(ctxKey{}) != "v" {
			t.Fatal("the context is wrong")
		}
		r.CancelContext()
		if ctx.Err() != context.Canceled {
			t.Fatal("the context is not cancelled")
		}
	})
	if allocs != 0 {
		t.Errorf("AttachContext, Context, Err, Value and CancelContext: %v allocations, want 0", allocs)
	}
}

// BenchmarkRequestContext is a server's part: attach, cancel.
func BenchmarkRequestContext(b *testing.B) {
	parent, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	reqs := make([]Request, 256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &reqs[i%len(reqs)]
		r.AttachContext(parent)
		r.CancelContext()
		i++
	}
}

// TestWithContextCopiesEveryField fills every exported field of a Request
// and checks that WithContext copies it: a field added to Request and not
// to WithContext fails here.
func TestWithContextCopiesEveryField(t *testing.T) {
	r := new(Request)
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() {
			fill(t, f.Name, v.Field(i))
		}
	}
	r.strict = entity.Strict{Type: "text/plain", Data: []byte("body")}
	r.Entity = &r.strict
	r.SetTimeout(time.Second)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.AttachContext(parent)

	ctx := context.WithValue(context.Background(), ctxKey{}, "copy")
	r2 := r.WithContext(ctx)
	// Everything but the context, unexported fields included; the Strict
	// entities compare by content.
	orig, cp := *r, *r2
	orig.ctx, orig.attached, cp.ctx, cp.attached = reqContext{}, false, reqContext{}, false
	if d := cmp.Diff(orig, cp, cmp.Exporter(func(reflect.Type) bool { return true })); d != "" {
		t.Errorf("WithContext's copy differs (-r +copy):\n%s", d)
	}
	if r2.Entity == r.Entity {
		t.Error("the copy's Strict entity is the original's")
	}
	if r2.Context() != ctx {
		t.Errorf("the copy's Context() = %v, want the context given", r2.Context())
	}
	r.CancelContext()
	if err := r2.Context().Err(); err != nil {
		t.Errorf("CancelContext of the original reached the copy's unrelated context: %v", err)
	}
	r2.CancelContext() // not attached: a no-op
	if err := ctx.Err(); err != nil {
		t.Errorf("the copy's CancelContext cancelled %v", err)
	}

	// A copy whose context derives from the original's ends with it.
	r3 := new(Request)
	r3.AttachContext(parent)
	r4 := r3.WithContext(context.WithValue(r3.Context(), ctxKey{}, "derived"))
	r3.CancelContext()
	if err := r4.Context().Err(); err != context.Canceled {
		t.Errorf("a copy with a derived context: Err() = %v after the original's CancelContext, want context.Canceled", err)
	}
}

// fill sets v, the field named name, to a value other than its zero value.
func fill(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(name)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(name)))
	case reflect.Uint8, reflect.Uint64:
		v.SetUint(uint64(len(name)))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, name, s.Index(0))
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, name+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		v.Set(p)
	case reflect.Interface:
		switch v.Type() {
		case reflect.TypeFor[entity.Entity]():
			v.Set(reflect.ValueOf(entity.Empty))
		default:
			// net.Addr and the like: any implementation will do.
			a := reflect.ValueOf(&fakeAddr{name})
			if !a.Type().Implements(v.Type()) {
				t.Fatalf("fill: no value for field %s of type %v (teach fill about it)", name, v.Type())
			}
			v.Set(a)
		}
	default:
		t.Fatalf("fill: no value for field %s of kind %v (teach fill about it)", name, v.Kind())
	}
}

type fakeAddr struct{ s string }

func (a *fakeAddr) Network() string { return "fake" }
func (a *fakeAddr) String() string  { return a.s }
