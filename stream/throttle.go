package stream

import (
	"fmt"
	"time"
)

// Throttle limits the rate of elements to elements per period, with bursts of
// up to burst elements after a quiet time (a token bucket of capacity burst,
// refilled at elements/per; burst < 1 means 1). An element that comes too
// early waits in the stage until its token is there, so upstream is
// backpressured. It panics if elements < 1 or per <= 0.
//
//	in  -- 1 2 3 4 --|           (elements 1 per 10ms, burst 1)
//	      [ throttle(1, 10ms, 1) ]
//	out -- 1 -(10ms)- 2 -(10ms)- 3 -(10ms)- 4 --|
func Throttle[T any](elements int, per time.Duration, burst int) Flow[T, T] {
	if elements < 1 || per <= 0 {
		panic(fmt.Sprintf("stream: Throttle(%d, %v): need elements >= 1 and per > 0", elements, per))
	}
	burst = max(burst, 1)
	interval := per / time.Duration(elements)
	return NewFlow(func(m *Materializer, up Puller[T]) Puller[T] {
		return &throttleStage[T]{m: m, up: up, interval: interval, burst: burst}
	})
}

type throttleStage[T any] struct {
	m        *Materializer
	up       Puller[T]
	interval time.Duration // time to earn one token
	burst    int
	// earliest is the time at which the bucket would be full: the stage has
	// a token when now >= earliest - (burst-1)*interval.
	earliest time.Time
	done     error
}

func (s *throttleStage[T]) Pull() (T, error) {
	var zero T
	if s.done != nil {
		return zero, s.done
	}
	v, err := s.up.Pull()
	if err != nil {
		s.done = err
		return zero, err
	}
	now := time.Now()
	slack := time.Duration(s.burst-1) * s.interval
	if s.earliest.Before(now) {
		s.earliest = now
	}
	if wait := s.earliest.Sub(now) - slack; wait > 0 {
		s.m.WillBlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.m.Done():
			t.Stop()
			s.done = s.m.Cause()
			s.up.Cancel(s.done)
			return zero, s.done
		}
	}
	s.earliest = s.earliest.Add(s.interval)
	return v, nil
}

func (s *throttleStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.up.Cancel(cause)
	}
}
