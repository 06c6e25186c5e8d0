package nethttp

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// callAll runs n requests through f at once, their handlers held until all
// of them have started, and returns when all are answered.
func callAll(t *testing.T, a *adapter, n int, started *sync.WaitGroup, release chan struct{}) {
	t.Helper()
	var done sync.WaitGroup
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			r := helloRequest()
			defer r.CancelContext()
			if resp, err := a.handle(r.Context(), r); err != nil || resp.Status != 200 {
				t.Error(resp, err)
			}
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
}

// The goroutines that ran handlers wait for more, at most MaxIdleWorkers
// of them, each at most WorkerIdleTimeout; with a negative MaxIdleWorkers
// none waits.
func TestIdleWorkers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		timeout  time.Duration
		wantIdle int // -1: not checked (they may have left already)
	}{
		{"default", 0, 0, 8},
		{"max 3", 3, 0, 3},
		{"none", -1, 0, 0},
		{"timeout", 0, 50 * time.Millisecond, -1},
		{"tiny timeout", 0, time.Nanosecond, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var started sync.WaitGroup
			started.Add(8)
			release := make(chan struct{})
			var calls atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= 8 {
					started.Done()
				}
				<-release
				w.Write([]byte("ok"))
			})
			a := newAdapter(h, Options{MaxIdleWorkers: tc.max, WorkerIdleTimeout: tc.timeout})
			callAll(t, a, 8, &started, release)
			deadline := time.Now().Add(5 * time.Second)
			for tc.wantIdle >= 0 && a.workers.idleCount() != tc.wantIdle && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := a.workers.idleCount(); tc.wantIdle >= 0 && got != tc.wantIdle {
				t.Fatalf("%d idle workers, want %d", got, tc.wantIdle)
			}
			wantTimeout := tc.timeout
			if wantTimeout == 0 {
				wantTimeout = DefaultWorkerIdleTimeout
			}
			if tc.wantIdle > 0 {
				// A request now takes an idle worker, which comes back.
				r := helloRequest()
				if resp, err := a.handle(r.Context(), r); err != nil || resp.Status != 200 {
					t.Fatal(resp, err)
				}
				r.CancelContext()
			}
			// All of them leave within their timeout.
			start := time.Now()
			for a.workers.idleCount() > 0 && time.Since(start) < wantTimeout+5*time.Second {
				time.Sleep(time.Millisecond)
			}
			// At most 1.5 timeouts, and slack for a busy machine; a
			// short timeout, before the default one would end them.
			limit := wantTimeout*3/2 + 2*time.Second
			if tc.timeout > 0 {
				limit = DefaultWorkerIdleTimeout
			}
			if n, took := a.workers.idleCount(), time.Since(start); n > 0 || took >= limit {
				t.Fatalf("%d idle workers after %v (timeout %v)", n, took, wantTimeout)
			}
		})
	}
}
