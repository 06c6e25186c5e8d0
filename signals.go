package streamhttp

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// HandleSignals ties the binding to the process's signals, the way
// BindAndHandle and its siblings do unless ServerSettings.DisableSignals is
// set:
//
//   - SIGTERM drains the binding for ServerSettings.DrainPeriod (none by
//     default; see Drain), then terminates it gracefully: Terminate, with
//     ServerSettings.ShutdownTimeout (default 30 s) as the hard deadline;
//   - SIGINT (Ctrl-C) and SIGQUIT close it at once, as does a second
//     SIGTERM.
//
// While it is in effect these signals no longer stop the process: a program
// ends by returning from main once the binding is done (Wait). The handling
// lasts until the binding ends or stop is called, which restores the
// signals' previous behaviour.
func (b *ServerBinding) HandleSignals() (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt, syscall.SIGQUIT)
	quit := make(chan struct{})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(quit)
		})
	}
	go func() {
		defer stop()
		terminating := false
		for {
			select {
			case sig := <-ch:
				attrs := []any{slog.String("signal", sig.String())}
				if addr := b.LocalAddr(); addr != nil {
					attrs = append(attrs, slog.String("addr", addr.String()))
				}
				if sig == syscall.SIGTERM && !terminating {
					terminating = true
					b.s.Logger.Info("streamhttp: terminating gracefully", append(attrs,
						slog.Duration("drain", b.s.DrainPeriod), slog.Duration("deadline", b.s.ShutdownTimeout))...)
					go func() {
						b.drainFor(context.Background(), b.s.DrainPeriod)
						ctx, cancel := context.WithTimeout(context.Background(), b.s.ShutdownTimeout)
						defer cancel()
						b.Terminate(ctx)
					}()
					continue
				}
				b.s.Logger.Info("streamhttp: closing", attrs...)
				b.closeNow()
			case <-b.done:
				return
			case <-quit:
				return
			}
		}
	}()
	return stop
}
