package stream

import "fmt"

// Concat emits all elements of the first source, then of the second, and so
// on. It is fused: no goroutine. Every source is materialized when the graph
// is; the ones not yet reached are cancelled if the stream ends early, and
// the ones already built are cancelled when building a later one panics.
//
//	a: -- 1 -- 2 --|   b: -- 3 --|
//	Concat(a, b):  -- 1 -- 2 -- 3 --|
func Concat[T any](sources ...Source[T]) Source[T] {
	return FromPuller(func(m *Materializer) Puller[T] {
		ps := make([]Puller[T], len(sources))
		normal := false
		defer releaseAllOnFailure(&normal, ps)
		for i, src := range sources {
			ps[i], _ = src.build(m)
		}
		normal = true
		return &concatStage[T]{ps: ps}
	})
}

type concatStage[T any] struct {
	ps   []Puller[T] // the sources not yet finished, current first
	done error
}

func (s *concatStage[T]) Pull() (T, error) {
	var zero T
	for s.done == nil {
		if len(s.ps) == 0 {
			s.done = EOS
			break
		}
		v, err := s.ps[0].Pull()
		if err == nil {
			return v, nil
		}
		s.ps = s.ps[1:]
		if err != EOS {
			s.done = err
			s.cancelRest(err)
		}
	}
	return zero, s.done
}

func (s *concatStage[T]) cancelRest(cause error) {
	for _, p := range s.ps {
		p.Cancel(cause)
	}
	s.ps = nil
}

func (s *concatStage[T]) Cancel(cause error) {
	if s.done == nil {
		s.done = cause
		s.cancelRest(cause)
	}
}

// DefaultMergeBuffer is the size of the buffer that merged sources share.
const DefaultMergeBuffer = 16

// Merge emits the elements of all sources as they arrive, each source running
// in its own goroutine. It completes when all have completed and fails (and
// cancels the others) as soon as one fails. The sources share a buffer of
// [DefaultMergeBuffer] elements: at most 16 elements downstream has not
// taken are held, plus one per source waiting for room. When building one
// source panics, the sources already built are cancelled.
//
//	a: -- 1 ------ 3 --|   b: ---- 2 ------ 4 --|
//	Merge(a, b):  -- 1 -- 2 -- 3 -- 4 --|
func Merge[T any](sources ...Source[T]) Source[T] {
	return FromPuller(func(m *Materializer) Puller[T] {
		island, cancel := m.Island()
		q := newQueue[T](DefaultMergeBuffer, Backpressure, len(sources))
		ps := make([]Puller[T], len(sources))
		normal := false
		defer releaseAllOnFailure(&normal, ps)
		for i, src := range sources {
			ps[i], _ = src.build(island)
		}
		normal = true
		return &mergeStage[T]{m: m, island: island, cancelIsland: cancel, q: q, ps: ps}
	})
}

type mergeStage[T any] struct {
	m            *Materializer
	island       *Materializer
	cancelIsland func(error)
	q            *queue[T]
	ps           []Puller[T] // handed to their goroutines on the first pull
	started      bool
}

func (s *mergeStage[T]) Pull() (T, error) {
	if !s.started {
		s.started = true
		if len(s.ps) == 0 {
			s.q.end(EOS)
		}
		for _, p := range s.ps {
			s.island.Go(func() { pump(s.island, p, s.q) })
		}
		s.ps = nil
	}
	v, err := s.q.take(s.m, 0, "")
	if err != nil && err != EOS {
		s.cancelIsland(err)
	}
	return v, err
}

func (s *mergeStage[T]) Cancel(cause error) {
	if s.q.done != nil {
		return
	}
	if !s.started {
		s.q.done = cause
		for _, p := range s.ps {
			p.Cancel(cause)
		}
		return
	}
	s.q.cancel(cause)
	s.cancelIsland(cause)
}

// pump moves the elements of p into q until either ends; it runs in p's own
// goroutine. A failure (or panic) of p ends q and cancels the island at once,
// so the others stop with that failure even if downstream is not pulling.
func pump[T any](island *Materializer, p Puller[T], q *queue[T]) {
	normal := false
	defer func() {
		if err := abnormal(recover(), normal); err != nil {
			p.Cancel(err)
			q.end(err)
			island.Cancel(err)
		}
	}()
	pumpLoop(island, p, q)
	normal = true
}

func pumpLoop[T any](island *Materializer, p Puller[T], q *queue[T]) {
	for {
		v, err := p.Pull()
		if err != nil {
			q.end(err)
			if err != EOS {
				island.Cancel(err)
			}
			return
		}
		if err := q.put(island, v); err != nil {
			p.Cancel(err)
			return
		}
	}
}

// FlatMapMerge turns every element into a source with f and emits the
// elements of up to breadth of those sources at once, as they arrive. It
// completes when upstream and every substream have completed; any failure
// fails the stream and cancels the rest. It panics if breadth < 1.
//
//	in  -- a ------- b --|       f(a): -- a1 -- a2 --|   f(b): -- b1 --|
//	      [ flatMapMerge(2, f) ]
//	out -- a1 -- a2 - b1 --|     (interleaving depends on timing)
func FlatMapMerge[I, O any](breadth int, f func(I) Source[O]) Flow[I, O] {
	if breadth < 1 {
		panic(fmt.Sprintf("stream: FlatMapMerge breadth %d < 1", breadth))
	}
	return Flow[I, O]{unordered: breadth > 1, build: func(m *Materializer, upB func(*Materializer) Puller[I]) Puller[O] {
		island, cancel := m.Island()
		return &flatMapMergeStage[I, O]{
			mergeStage: mergeStage[O]{m: m, island: island, cancelIsland: cancel,
				q: newQueue[O](DefaultMergeBuffer, Backpressure, 1)},
			up: upB(island), f: f, slots: make(chan struct{}, breadth),
		}
	}}
}

type flatMapMergeStage[I, O any] struct {
	mergeStage[O]
	up    Puller[I] // owned by the feeder once started
	f     func(I) Source[O]
	slots chan struct{}
}

func (s *flatMapMergeStage[I, O]) Pull() (O, error) {
	if !s.started {
		s.started = true
		s.island.Go(s.feed)
	}
	return s.mergeStage.Pull()
}

func (s *flatMapMergeStage[I, O]) Cancel(cause error) {
	if s.q.done != nil {
		return
	}
	if !s.started {
		s.started = true
		s.q.done = cause
		s.up.Cancel(cause)
		return
	}
	s.mergeStage.Cancel(cause)
}

// feed pulls upstream and starts a pump per substream, breadth at a time.
func (s *flatMapMergeStage[I, O]) feed() {
	normal := false
	defer func() {
		if err := abnormal(recover(), normal); err != nil {
			s.up.Cancel(err)
			s.q.end(err)
			s.island.Cancel(err)
		}
	}()
	s.feedLoop()
	normal = true
}

func (s *flatMapMergeStage[I, O]) feedLoop() {
	ctx := s.island.Context()
	for {
		if ctx.Err() != nil {
			s.up.Cancel(s.island.Cause())
			return
		}
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			s.up.Cancel(s.island.Cause())
			return
		}
		v, err := s.up.Pull()
		if err != nil {
			s.q.end(err) // the feeder's own share of the producer count
			if err != EOS {
				s.island.Cancel(err) // stop the substreams now
			}
			return
		}
		p, _ := s.f(v).build(s.island)
		s.q.addProducer()
		s.island.Go(func() {
			defer func() { <-s.slots }()
			pump(s.island, p, s.q)
		})
	}
}
